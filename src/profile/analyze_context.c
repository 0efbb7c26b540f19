// Context estimates (docs/attribution.md §2b): per prefill stage, (mean
// amplified unit - mean plain unit) / extra calls, for dynamic and gross energy
// and time, with Welch's interval over the two sets of windows. What proves
// them wrong: the context closure against the measured prefill.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

// Per-unit figures of the context trials of one stage (LJ_STAGE_COUNT: the plain unit).
typedef struct {
  double dyn[16], gross[16], time[16];
  int n, copies;
} context_side;

static void context_side_of(const lj_profile_result *r, lj_stage st, context_side *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < r->n_trials && out->n < 16; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != LJ_METHOD_CONTEXT || t->key.stage != st || t->units <= 0 || !isfinite(t->t.counter_energy_j) ||
        !(t->t.duration_s > 0))
      continue;
    double u = (double)t->units;
    out->gross[out->n] = t->t.counter_energy_j / u;
    out->dyn[out->n] = (t->t.counter_energy_j - t->t.idle_w * t->t.duration_s) / u;
    out->time[out->n] = t->t.duration_s / u;
    out->copies = t->copies;
    out->n++;
  }
}

// (amplified - plain) / extra calls as a mean with its Welch se and df.
static int context_difference(const double *amp, int na, const double *plain, int np, double per, double level,
                              lj_mean_ci *out) {
  lj_mean_ci a, b;
  LJ_TRY(lj_stats_mean_ci(amp, (size_t)na, level, &a));
  LJ_TRY(lj_stats_mean_ci(plain, (size_t)np, level, &b));
  lj_interval d;
  LJ_TRY(lj_stats_difference(&a, &b, level, &d));
  memset(out, 0, sizeof *out);
  out->n = na < np ? na : np;
  out->mean = d.estimate / per, out->sem = d.se / per, out->df = d.df, out->level = level;
  out->lo = d.lo / per, out->hi = d.hi / per, out->half_width = (d.hi - d.lo) / 2 / per;
  out->stddev = out->sem * sqrt((double)out->n);
  out->cv = out->mean != 0 ? out->stddev / fabs(out->mean) : NAN;
  return 0;
}

// Context estimates of the prefill's stages: each amplified stage against the plain unit.
int lj_analyze_context(lj_profile_result *r) {
  const lj_profile_plan *p = &r->plan;
  context_side plain;
  context_side_of(r, LJ_STAGE_COUNT, &plain);
  if (plain.n < 2) return 0;
  for (int st = 0; st < LJ_STAGE_COUNT; st++) {
    context_side amp;
    context_side_of(r, (lj_stage)st, &amp);
    if (amp.n < 2 || amp.copies < 1) continue;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    s.method = LJ_METHOD_CONTEXT, s.copies = amp.copies;
    s.calls_per_unit = lj_profile_calls_per_unit(p, LJ_PHASE_PREFILL, (lj_stage)st, 0);
    double per = s.calls_per_unit * amp.copies;  // extra calls per unit
    lj_replay_estimate *e = &s.est;
    e->key.phase = LJ_PHASE_PREFILL, e->key.stage = (lj_stage)st, e->key.layer = -1, e->key.kv_len = 0;
    e->n_trials = amp.n < plain.n ? amp.n : plain.n;
    LJ_TRY(context_difference(amp.dyn, amp.n, plain.dyn, plain.n, per, p->level, &e->dynamic_j));
    LJ_TRY(context_difference(amp.gross, amp.n, plain.gross, plain.n, per, p->level, &e->gross_j));
    LJ_TRY(context_difference(amp.time, amp.n, plain.time, plain.n, per, p->level, &e->time_per_call_s));
    LJ_TRY(lj_analyze_add_derived_stage(r, &s));
  }
  return 0;
}

