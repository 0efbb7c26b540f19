// Measurement overhead: decode step times with and without the sampler, and
// with and without the timeline's stamps, as a ratio with its interval; and one
// stamp's cost, taken off the in-situ times per call. What proves the
// measurement disturbed the run: an overhead interval above its target.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

static int overhead_entry(lj_profile_result *r, const char *what, const double *off, int n_off, const double *on,
                          int n_on) {
  if (n_off < 1 || n_on < 1 || r->n_overhead >= 2) return 0;
  lj_profile_overhead *o = &r->overhead[r->n_overhead];
  memset(o, 0, sizeof *o);
  snprintf(o->what, sizeof o->what, "%s", what);
  o->n = n_off < n_on ? n_off : n_on;
  LJ_TRY(lj_stats_mean_ci(off, (size_t)n_off, r->plan.level, &o->off_s));
  LJ_TRY(lj_stats_mean_ci(on, (size_t)n_on, r->plan.level, &o->on_s));
  o->overhead_pct = (o->on_s.mean - o->off_s.mean) / o->off_s.mean * 100;
  if (n_off >= 2 && n_on >= 2) {
    lj_interval ratio;
    LJ_TRY(lj_stats_ratio(&o->on_s, &o->off_s, r->plan.level, &ratio));
    lj_interval_from_se((ratio.estimate - 1) * 100, ratio.se * 100, ratio.df, r->plan.level, &o->overhead_pct_ci);
  } else {
    o->overhead_pct_ci.estimate = o->overhead_pct;
    o->overhead_pct_ci.se = o->overhead_pct_ci.lo = o->overhead_pct_ci.hi = o->overhead_pct_ci.df = NAN;
  }
  r->n_overhead++;
  return 0;
}

// One stamp's cost: the decode step's time with marks minus without, over the
// stamps of a step (one before the first stage, one after each of the 9 L + 4 stages).
void lj_analyze_stamp_cost(lj_profile_result *r, const lj_profile_raw *raw) {
  r->stamp_cost_s = NAN;
  if (!raw || raw->n_marks_on < 1 || raw->n_marks_off < 1) return;
  double on = lj_stats_mean(raw->marks_on_s, (size_t)raw->n_marks_on);
  double off = lj_stats_mean(raw->marks_off_s, (size_t)raw->n_marks_off);
  // per decode step; a unit of gen_len tokens has gen_len - 1 marked steps
  double per_step = (on - off) * r->plan.gen_len / (r->plan.gen_len - 1);
  double stamps = (double)LJ_LAYER_STAGES * r->plan.config.n_layers + 5;
  if (per_step > 0) r->stamp_cost_s = per_step / stamps;
}

int lj_analyze_overheads(lj_profile_result *r, const lj_profile_raw *raw) {
  LJ_TRY(overhead_entry(r, "sampler", raw->sampler_off_s, raw->n_sampler_off, raw->sampler_on_s, raw->n_sampler_on));
  return overhead_entry(r, "timeline", raw->marks_off_s, raw->n_marks_off, raw->marks_on_s, raw->n_marks_on);
}
