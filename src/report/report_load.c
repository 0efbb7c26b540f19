// Loading one profiled run for the reports: the store opened strictly
// read-only, the run chosen and checked, its profile and samples read back.
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "report/report_run.h"

static int pick_run(lj_store *st, const char *path, int64_t run_id, lj_run_record *out) {
  if (run_id <= 0) {
    int found = lj_store_latest_run(st, "profile", &run_id);
    if (found < 0) return found;
    if (found == 0) return LJ_FAIL(LJ_EINVAL, "store '%s' holds no profile run (llamajoule profile -o FILE makes one)", path);
  }
  int64_t newest = 0;
  int any = lj_store_latest_run(st, NULL, &newest);
  if (any < 0) return any;
  if (any == 0 || run_id > newest || lj_store_get_run(st, run_id, out) < 0)
    return LJ_FAIL(LJ_EINVAL, "store '%s' has no run %lld (its runs are 1..%lld)", path, (long long)run_id,
                   (long long)newest);
  if (strcmp(out->kind, "profile"))
    return LJ_FAIL(LJ_EINVAL, "store '%s': run %lld is a '%s' run, not a profile", path, (long long)run_id, out->kind);
  return 0;
}

int lj_report_load(const char *path, int64_t run_id, lj_report_run *out) {
  memset(out, 0, sizeof *out);
  lj_profile_result_init(&out->prof);
  lj_trace_init(&out->trace);
  snprintf(out->path, sizeof out->path, "%s", path);
  lj_store *st = NULL;
  LJ_TRY(lj_store_open_untouched(path, &st));
  int rc = pick_run(st, path, run_id, &out->run);
  if (rc == 0) rc = lj_store_read_profile(st, out->run.id, &out->prof);
  // A run without devices (the CPU engine's) has no samples: not an error.
  if (rc == 0 && lj_store_load_trace(st, out->run.id, &out->trace) < 0) {
    lj_trace_free(&out->trace);
    lj_trace_init(&out->trace);
    lj_clear_error();
  }
  lj_store_close(st);
  if (rc < 0) {
    lj_report_run_free(out);
    return rc;
  }
  lj_report_missing(out, out->missing, sizeof out->missing);
  return 0;
}

void lj_report_run_free(lj_report_run *r) {
  lj_profile_result_free(&r->prof);
  lj_trace_free(&r->trace);
}

static void add(char *buf, size_t cap, const char *phrase) {
  size_t used = strlen(buf);
  snprintf(buf + used, cap - used, "%s%s", used ? "; " : "", phrase);
}

void lj_report_missing(const lj_report_run *r, char *buf, size_t cap) {
  const lj_profile_result *p = &r->prof;
  buf[0] = '\0';
  if (r->run.status != LJ_RUN_COMPLETE || !p->complete) {
    char s[160];
    snprintf(s, sizeof s, "the run is %s: it stopped before the end, so what follows is what was measured until then",
             r->run.status == LJ_RUN_COMPLETE ? "incomplete" : lj_run_status_name(r->run.status));
    add(buf, cap, s);
  }
  if (p->plan.timing_only) add(buf, cap, "no energy was measured (timing only): every figure is a time");
  if (p->phases[LJ_PHASE_PREFILL].n == 0) add(buf, cap, "no prefill window");
  if (p->phases[LJ_PHASE_DECODE].n == 0) add(buf, cap, "no decode window");
  // A study point without --stages has no replays by design (trials 0): nothing is missing.
  if (p->n_stages == 0 && p->plan.trials > 0) add(buf, cap, "no stage estimates");
  if (!p->plan.timing_only && r->trace.n_samples == 0) add(buf, cap, "no power samples stored");
}
