// The attention-head fit: decode attention's per-call dynamic energy with
// 1 .. n_kv_heads KV groups active, fitted as fixed + per group x groups
// (lj_head_fit_compute, OLS). What proves it wrong: the fit's r2 and residual
// sd, and its all-groups value against the isolation estimate of attention.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

int lj_analyze_head_fit(lj_profile_result *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_trials; i++) n += r->trials[i].groups > 0;
  if (n < 3) return 0;
  int *g = malloc(sizeof(int) * n);
  double *y = malloc(sizeof(double) * 2 * n), *ys = y ? y + n : NULL;
  if (!g || !y) {
    free(g);
    free(y);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  // Per-call dynamic energy of each point by the counter (y) and by the samples (ys).
  size_t k = 0;
  int samples = 1;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->groups <= 0 || !(t->t.calls > 0) || !isfinite(t->t.counter_energy_j)) continue;
    double idle_j = t->t.idle_w * t->t.duration_s, c = (double)t->t.calls;
    g[k] = t->groups;
    samples &= lj_trial_samples_usable(&t->t);
    ys[k] = (t->t.sample_energy_j - idle_j) / c;
    y[k++] = (t->t.counter_energy_j - idle_j) / c;
    r->head_fit_kv = t->key.kv_len;
  }
  int rc = 0, nh = r->plan.config.n_heads, nkv = r->plan.config.n_kv_heads;
  lj_head_fit counter, sample;
  if (k >= 3) rc = lj_head_fit_compute(g, y, k, nh, nkv, r->plan.level, &counter);
  if (rc == 0 && k >= 3 && samples) rc = lj_head_fit_compute(g, ys, k, nh, nkv, r->plan.level, &sample);
  if (rc == 0 && k >= 3) {
    // the samples' fit where every point's window is short; the counter's beside it
    r->head_fit = samples ? sample : counter;
    const lj_ols_fit *f = &r->head_fit.fit;
    r->head_fit.flags = lj_energy_source_flags(samples, f->b_lo, f->b_hi, samples ? counter.per_group_j : NAN);
    r->head_fit.counter_fixed_j = counter.fixed_j;
    r->head_fit.counter_per_group_j = counter.per_group_j;
    r->head_fit.counter_r2 = counter.fit.r2;
    r->head_fit_valid = 1;
  }
  free(g);
  free(y);
  return rc;
}
