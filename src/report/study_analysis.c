// The study's lines, best batch under the latency bound and knee (study_analysis.h).
#include "report/study_analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/config.h"

// Per doubling of the batch: batches 16 -> 64 are two doublings, so a ratio r there is r^(1/2) per doubling.
static double per_doubling(double ratio, int b0, int b1) { return pow(ratio, 1.0 / log2((double)b1 / b0)); }

int lj_study_knee(const int *batch, const double *j, const double *step_ms, size_t n, double *fall_pct,
                  double *growth_pct) {
  for (size_t i = 0; i + 1 < n; i++) {
    double fall = (1 - per_doubling(j[i + 1] / j[i], batch[i], batch[i + 1])) * 100;
    double growth = (per_doubling(step_ms[i + 1] / step_ms[i], batch[i], batch[i + 1]) - 1) * 100;
    if (fall < LJ_STUDY_KNEE_FALL_PCT || growth > LJ_STUDY_KNEE_GROWTH_PCT) {
      *fall_pct = fall, *growth_pct = growth;
      return (int)i;
    }
  }
  return -1;
}

int lj_study_best_under(const double *j, const double *step_ms, size_t n, double bound_ms) {
  int best = -1;
  for (size_t i = 0; i < n; i++)
    if (step_ms[i] <= bound_ms && isfinite(j[i]) && (best < 0 || j[i] < j[best])) best = (int)i;
  return best;
}

static lj_study_line *line_of(lj_study_analysis *a, const lj_report_run *r) {
  const lj_profile_plan *p = &r->prof.plan;
  const char *weights = p->weights[0] ? p->weights : "bf16";  // stores from before FP8 ran bf16
  for (size_t i = 0; i < a->n_lines; i++) {
    lj_study_line *l = &a->lines[i];
    if (!strcmp(l->file, r->path) && !strcmp(l->model, p->model_name) && !strcmp(l->weights, weights) &&
        l->prompt_len == p->prompt_len && l->gen_len == p->gen_len)
      return l;
  }
  lj_study_line *l = &a->lines[a->n_lines++];
  memset(l, 0, sizeof *l);
  l->file = r->path;
  snprintf(l->model, sizeof l->model, "%s", p->model_name);
  snprintf(l->weights, sizeof l->weights, "%s", weights);
  l->prompt_len = p->prompt_len, l->gen_len = p->gen_len;
  l->params_b = p->config.n_layers > 0 ? (double)lj_config_n_params(&p->config) / 1e9 : NAN;
  l->fastest = -1;
  return l;
}

static void add_point(lj_study_line *l, const lj_report_run *r) {
  const lj_profile_result *pr = &r->prof;
  const lj_phase_summary *d = &pr->phases[LJ_PHASE_DECODE], *pf = &pr->phases[LJ_PHASE_PREFILL];
  int b = pr->plan.batch;
  if (l->n >= LJ_STUDY_MAX_BATCHES || d->n == 0 || d->tokens_per_unit <= 0 || b <= 0) return;
  size_t at = 0;
  while (at < l->n && l->pt[at].batch < b) at++;
  if (at < l->n && l->pt[at].batch == b) return;  // one point per batch: the first
  memmove(&l->pt[at + 1], &l->pt[at], (l->n - at) * sizeof l->pt[0]);
  l->n++;
  lj_study_line_point *q = &l->pt[at];
  q->batch = b, q->run = r;
  q->j_per_token = d->dynamic_j_per_token;
  q->gross_j_per_token = d->gross_j_per_token;
  q->step_ms = d->time_s.mean / ((double)d->tokens_per_unit / b) * 1e3;
  q->prefill_j_per_token = pf->n ? pf->dynamic_j_per_token : NAN;
  if (!l->gpu[0]) snprintf(l->gpu, sizeof l->gpu, "%s", pr->cond.device.name);
}

static void analyze_line(lj_study_line *l, double bound_ms) {
  int b[LJ_STUDY_MAX_BATCHES];
  double j[LJ_STUDY_MAX_BATCHES], t[LJ_STUDY_MAX_BATCHES];
  size_t n = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (l->fastest < 0 || l->pt[i].step_ms < l->pt[l->fastest].step_ms) l->fastest = (int)i;
    if (!isfinite(l->pt[i].j_per_token) || !(l->pt[i].j_per_token > 0) || !(l->pt[i].step_ms > 0)) continue;
    b[n] = l->pt[i].batch, j[n] = l->pt[i].j_per_token, t[n] = l->pt[i].step_ms, n++;
  }
  int best = lj_study_best_under(j, t, n, bound_ms);
  l->best_batch = best < 0 ? 0 : b[best];
  int k = lj_study_knee(b, j, t, n, &l->knee_fall_pct, &l->knee_growth_pct);
  if (k >= 0) {
    l->knee_batch = b[k], l->knee_next = b[k + 1];
    l->knee_by_fall = l->knee_fall_pct < LJ_STUDY_KNEE_FALL_PCT;
    l->knee_by_growth = l->knee_growth_pct > LJ_STUDY_KNEE_GROWTH_PCT;
  }
}

int lj_study_analyze(const lj_report_study *s, double latency_ms, lj_study_analysis *out) {
  memset(out, 0, sizeof *out);
  out->latency_ms = latency_ms;
  out->lines = calloc(s->n_runs ? s->n_runs : 1, sizeof *out->lines);
  if (!out->lines) return LJ_FAIL(LJ_ENOMEM, "study: out of memory");
  for (size_t i = 0; i < s->n_runs; i++) add_point(line_of(out, &s->runs[i]), &s->runs[i]);
  for (size_t i = 0; i < out->n_lines; i++) {
    analyze_line(&out->lines[i], latency_ms);
    out->several_files |= strcmp(out->lines[i].file, out->lines[0].file) != 0;
  }
  return 0;
}

void lj_study_line_name(const lj_study_analysis *a, const lj_study_line *l, char *buf, size_t cap) {
  const char *slash = strrchr(l->file, '/'), *weights = strcmp(l->weights, "bf16") ? l->weights : "";
  snprintf(buf, cap, "%s%s%s (prompt %d, gen %d)%s%s", l->model, weights[0] ? " " : "", weights, l->prompt_len,
           l->gen_len, a->several_files ? " in " : "", a->several_files ? (slash ? slash + 1 : l->file) : "");
}

void lj_study_analysis_free(lj_study_analysis *a) {
  free(a->lines);
  memset(a, 0, sizeof *a);
}
