// Study files in the reports (report_study.h).
#include "report/report_study.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "report/report_page.h"
#include "report/study_analysis.h"

int lj_report_study_load(const char *path, lj_report_study *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->path, sizeof out->path, "%s", path);
  out->latency_ms = LJ_STUDY_LATENCY_MS;
  lj_store *st = NULL;
  LJ_TRY(lj_store_open_untouched(path, &st));
  int found = lj_store_study_read(st, &out->study, &out->points, &out->n_points);
  lj_store_close(st);
  if (found <= 0) return found;
  out->runs = calloc(out->n_points ? out->n_points : 1, sizeof *out->runs);
  if (!out->runs) {
    lj_report_study_free(out);
    return LJ_FAIL(LJ_ENOMEM, "study '%s': out of memory", path);
  }
  for (size_t i = 0; i < out->n_points; i++) {
    if (out->points[i].status != LJ_POINT_DONE) continue;
    int rc = lj_report_load(path, out->points[i].run_id, &out->runs[out->n_runs]);
    if (rc < 0) {
      lj_fail_context(rc, "study '%s', point %zu", path, i + 1);
      lj_report_study_free(out);
      return rc;
    }
    out->n_runs++;
  }
  return 1;
}

void lj_report_study_free(lj_report_study *s) {
  for (size_t i = 0; i < s->n_runs; i++) lj_report_run_free(&s->runs[i]);
  free(s->runs);
  free(s->points);
  memset(s, 0, sizeof *s);
}

int lj_report_study_merge(lj_report_study *into, lj_report_study *from) {
  lj_study_point *pts = realloc(into->points, (into->n_points + from->n_points + 1) * sizeof *pts);
  if (pts) into->points = pts;
  lj_report_run *runs = pts ? realloc(into->runs, (into->n_runs + from->n_runs + 1) * sizeof *runs) : NULL;
  if (!runs) return LJ_FAIL(LJ_ENOMEM, "study '%s': out of memory", from->path);
  into->runs = runs;
  memcpy(into->points + into->n_points, from->points, from->n_points * sizeof *pts);
  memcpy(into->runs + into->n_runs, from->runs, from->n_runs * sizeof *runs);
  into->n_points += from->n_points, into->n_runs += from->n_runs;
  from->n_runs = 0;  // moved
  lj_report_study_free(from);
  return 0;
}

// The analysis of the done points, as JSON; NULL when out of memory.
static json_t *analysis_json(const lj_report_study *s) {
  lj_study_analysis a;
  if (lj_study_analyze(s, s->latency_ms, &a) < 0) return NULL;
  json_t *j = lj_study_analysis_json(s, &a);
  lj_study_analysis_free(&a);
  return j;
}

int lj_report_study_parse_latency(const char *arg, double *ms) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || end == arg || *end || !(v > 0) || v > 1e6)
    return LJ_FAIL(LJ_EINVAL, "--latency-ms '%s': expected milliseconds per decode step, more than 0", arg);
  *ms = v;
  return 0;
}

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

json_t *lj_report_study_json(const lj_report_study *s) {
  json_t *o = json_object(), *pts = json_array();
  if (!o || !pts) {
    json_decref(o);
    json_decref(pts);
    return NULL;
  }
  json_object_set_new(o, "name", json_string(s->study.name));
  json_object_set_new(o, "arguments", json_string(s->study.arguments));
  json_object_set_new(o, "engine", json_string(s->study.engine));
  json_object_set_new(o, "command_line", json_string(s->study.command_line));
  json_object_set_new(o, "file", json_string(s->path));
  json_object_set_new(o, "points", pts);
  json_t *an = analysis_json(s);
  if (!an || json_object_set_new(o, "analysis", an) < 0) {
    json_decref(o);
    return NULL;
  }
  for (size_t i = 0; i < s->n_points; i++) {
    const lj_study_point *p = &s->points[i];
    json_t *q = json_pack("{s:I, s:s, s:i, s:i, s:i, s:b, s:s, s:s, s:o, s:i, s:o, s:o}", "point", (json_int_t)(i + 1),
                          "model", p->model, "batch", p->batch, "prompt_len", p->prompt_len, "gen_len", p->gen_len,
                          "stages", p->stages, "status", lj_point_status_name(p->status), "reason", p->reason,
                          "run_id", p->run_id > 0 ? json_integer(p->run_id) : json_null(), "attempts", p->attempts,
                          "seconds", num(p->seconds), "estimate_s", num(p->estimate_s));
    if (!q || json_array_append_new(pts, q) < 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

// The done point's run, or NULL.
static const lj_report_run *run_of(const lj_report_study *s, const lj_study_point *p) {
  for (size_t i = 0; i < s->n_runs; i++)
    if (s->runs[i].run.id == p->run_id) return &s->runs[i];
  return NULL;
}

int lj_report_study_text(FILE *f, const lj_report_study *s) {
  fprintf(f, "study '%s' (%s engine): %zu points\n  %s\n\n", s->study.name, s->study.engine, s->n_points,
          s->study.arguments);
  fprintf(f, "%5s  %-24s %6s %7s %5s  %-10s %5s %9s  %-16s %-16s\n", "point", "model", "batch", "prompt", "gen",
          "status", "run", "time", "prefill", "decode");
  for (size_t i = 0; i < s->n_points; i++) {
    const lj_study_point *p = &s->points[i];
    const lj_report_run *r = run_of(s, p);
    char cells[2][32] = {"-", "-"}, secs[32] = "-", run[24] = "-";
    if (isfinite(p->seconds)) snprintf(secs, sizeof secs, "%.1f s", p->seconds);
    if (p->run_id > 0) snprintf(run, sizeof run, "%lld", (long long)p->run_id);
    for (int k = 0; r && k < 2; k++) {
      const lj_phase_summary *ph = &r->prof.phases[k ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL];
      if (ph->n == 0 || ph->tokens_per_unit <= 0) continue;
      if (isfinite(ph->dynamic_j_per_token))
        snprintf(cells[k], sizeof cells[k], "%.4g J/token", ph->dynamic_j_per_token);
      else
        snprintf(cells[k], sizeof cells[k], "%.4g ms/token", ph->time_s.mean / (double)ph->tokens_per_unit * 1e3);
    }
    fprintf(f, "%5zu  %-24s %6d %7d %5d  %-10s %5s %9s  %-16s %-16s%s%s\n", i + 1, p->model, p->batch,
            p->prompt_len, p->gen_len, lj_point_status_name(p->status), run, secs, cells[0], cells[1],
            p->reason[0] ? "  " : "", p->reason);
  }
  lj_study_analysis a;
  LJ_TRY(lj_study_analyze(s, s->latency_ms, &a));
  int rc = lj_study_analysis_text(f, s, &a);
  lj_study_analysis_free(&a);
  if (rc < 0) return rc;
  return ferror(f) ? LJ_FAIL(LJ_EIO, "study: writing the text failed") : 0;
}

int lj_report_study_html(FILE *f, const lj_report_study *s) {
  json_t *j = lj_report_study_json(s);
  if (!j) return LJ_FAIL(LJ_ENOMEM, "study: out of memory");
  int rc = lj_report_compare_html_study(f, s->runs, s->n_runs, j);
  json_decref(j);
  return rc;
}
