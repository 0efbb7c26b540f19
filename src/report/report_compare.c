// The compare page: several runs' page data in one document ({"runs": [...]},
// and {"study": {...}} for a study file) and the same page script, which draws
// them side by side (and a study's points and sweep charts).
#include <stdlib.h>

#include "common/error.h"
#include "report/report_page.h"

int lj_report_compare_html(FILE *f, const lj_report_run *runs, size_t n) {
  return lj_report_compare_html_study(f, runs, n, NULL);
}

int lj_report_compare_html_study(FILE *f, const lj_report_run *runs, size_t n, json_t *study) {
  json_t *all = json_object(), *list = json_array();
  if (!all || !list) return LJ_FAIL(LJ_ENOMEM, "compare: out of memory");
  json_object_set_new(all, "runs", list);
  if (study) json_object_set(all, "study", study);
  for (size_t i = 0; i < n; i++) {
    json_t *d = lj_report_page_data(&runs[i]);
    if (!d) {
      json_decref(all);
      return LJ_FAIL(LJ_ENOMEM, "compare: out of memory");
    }
    json_object_del(d, "heatmap");  // per-run detail the compare page does not draw
    json_object_del(d, "layers");
    json_object_del(d, "windows");
    json_array_append_new(list, d);
  }
  char *text = json_dumps(all, JSON_COMPACT | JSON_REAL_PRECISION(10));
  json_decref(all);
  if (!text) return LJ_FAIL(LJ_ENOMEM, "compare: out of memory");
  char title[64];
  if (study) snprintf(title, sizeof title, "llamajoule: a study of %zu points", n);
  else snprintf(title, sizeof title, "llamajoule: %zu runs compared", n);
  int rc = lj_report_page_begin(f, title);
  if (rc == 0) {
    fputs("<script type=\"application/json\" id=\"lj-data\">", f);
    lj_report_write_script_json(f, text);
    fputs("</script>\n", f);
  }
  free(text);
  return rc < 0 ? rc : lj_report_page_end(f, "compare");
}
