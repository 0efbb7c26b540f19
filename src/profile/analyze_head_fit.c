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
  double *y = malloc(sizeof(double) * n);
  if (!g || !y) {
    free(g);
    free(y);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  size_t k = 0;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->groups <= 0 || !(t->t.calls > 0) || !isfinite(t->t.counter_energy_j)) continue;
    g[k] = t->groups;
    y[k++] = (t->t.counter_energy_j - t->t.idle_w * t->t.duration_s) / (double)t->t.calls;
    r->head_fit_kv = t->key.kv_len;
  }
  int rc = k >= 3 ? lj_head_fit_compute(g, y, k, r->plan.config.n_heads, r->plan.config.n_kv_heads, r->plan.level,
                                        &r->head_fit)
                  : 0;
  if (rc == 0 && k >= 3) r->head_fit_valid = 1;
  free(g);
  free(y);
  return rc;
}

