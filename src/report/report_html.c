// The HTML report: one self-contained page. Everything it needs is inside it
// (ECharts, the page script, the data), and its Content-Security-Policy
// forbids every request, so it opens offline and cannot call out even if a
// string from the run file tried to. Strings from the run reach the page
// only as escaped JSON (or escaped HTML in the title) and the script shows
// them as text, never as markup.
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "report/report_assets.h"
#include "report/report_page.h"

#define LJ_PAGE_CSP \
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:"

int lj_report_write_html_text(FILE *f, const char *s) {
  for (; *s; s++) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9)) {  // as in the JSON: no raw separators
      fputs(u[2] == 0xA8 ? "&#x2028;" : "&#x2029;", f);
      s += 2;
      continue;
    }
    switch (*s) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&#39;", f); break;
      default: fputc(*s, f);
    }
  }
  return 0;
}

int lj_report_write_script_json(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '<') fputs("\\u003c", f);
    else if (*p == '>') fputs("\\u003e", f);
    else if (*p == '&') fputs("\\u0026", f);
    else if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
      fputs(p[2] == 0xA8 ? "\\u2028" : "\\u2029", f);  // line separators end a JS string literal
      p += 2;
    } else fputc(*p, f);
  }
  return 0;
}

// A built-in script inside <script>: "</script" would end the element early and "<!--" would
// change how the parser reads it. Neither occurs in ECharts 6 or the page script; escaped in
// case a later version has one (inside a JS string "<\/" reads as "</").
static void write_script(FILE *f, const char *js) {
  for (const char *p = js; *p; p++) {
    if (!strncasecmp(p, "</script", 8)) fputs("<\\/", f), p++;
    else if (!strncmp(p, "<!--", 4)) fputs("<\\!", f), p++;
    else fputc(*p, f);
  }
}

int lj_report_page_begin(FILE *f, const char *title) {
  if (!*lj_asset_echarts_js)
    return LJ_FAIL(LJ_EUNSUPPORTED,
                   "this llamajoule was built without Apache ECharts, which the HTML report inlines: run "
                   "'npm ci' in the source tree and rebuild (--format csv, json or perfetto work without it)");
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", f);
  fputs("<meta http-equiv=\"Content-Security-Policy\" content=\"" LJ_PAGE_CSP "\">\n", f);
  fputs("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
  lj_report_write_html_text(f, title);
  fprintf(f, "</title>\n<!-- made by llamajoule; charts: Apache ECharts %s (Apache-2.0), inlined -->\n<style>\n",
          lj_asset_echarts_version());
  fputs(lj_asset_report_css, f);
  fputs("</style>\n</head>\n<body>\n<div id=\"lj-root\"></div>\n<pre id=\"lj-status\" hidden></pre>\n", f);
  return 0;
}

int lj_report_page_end(FILE *f, const char *page_kind) {
  fputs("<script>\n", f);
  write_script(f, lj_asset_echarts_js);
  fprintf(f, "\n</script>\n<script>\nwindow.LJ_PAGE = \"%s\";\n", page_kind);
  write_script(f, lj_asset_report_js);
  fputs("\n</script>\n</body>\n</html>\n", f);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "report: writing the page failed") : 0;
}

int lj_report_html(FILE *f, const lj_report_run *r) {
  char title[256];
  snprintf(title, sizeof title, "llamajoule: %s on %s, run %lld", r->prof.plan.model_name,
           r->prof.cond.device.name[0] ? r->prof.cond.device.name : r->prof.plan.engine, (long long)r->run.id);
  json_t *data = lj_report_page_data(r);
  if (!data) return LJ_FAIL(LJ_ENOMEM, "report: out of memory building the page's data");
  char *text = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(10));
  json_decref(data);
  if (!text) return LJ_FAIL(LJ_ENOMEM, "report: out of memory writing the page's data");
  int rc = lj_report_page_begin(f, title);
  if (rc == 0) {
    fputs("<script type=\"application/json\" id=\"lj-data\">", f);
    lj_report_write_script_json(f, text);
    fputs("</script>\n<script type=\"application/json\" id=\"lj-series\">", f);
    rc = lj_report_write_series(f, r);
    fputs("</script>\n", f);
  }
  free(text);
  return rc < 0 ? rc : lj_report_page_end(f, "report");
}
