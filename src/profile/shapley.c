// Shapley values of the layer's stages with at most pairwise interactions
// (shapley.h states the assumption and what a higher-order term does).
#include "profile/shapley.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "common/verdict.h"


static void interval_of_mean(const lj_mean_ci *m, lj_interval *out) {
  lj_interval_from_se(m->mean, m->sem, m->df, m->level, out);
}

int lj_shapley_compute(const lj_mean_ci *iso, int n, const double *full, const double *loo, int rounds,
                       double level, lj_interval *phi, lj_interval *marginal, lj_shapley_check *out) {
  if (n < 1 || n > LJ_STAGE_COUNT || rounds < 1)
    return LJ_FAIL(LJ_EINVAL, "Shapley split: %d stages and %d rounds, expected 1 .. %d stages", n, rounds,
                   LJ_STAGE_COUNT);
  for (int i = 0; i < n; i++)
    if (iso[i].n < 1 || !isfinite(iso[i].mean))
      return LJ_FAIL(LJ_EINVAL, "Shapley split: stage %d has no isolation estimate", i);
  // The rounds with the whole layer and every leave-one-out.
  double fr[128], marg[LJ_STAGE_COUNT][128], sum_marg[128], resid[128];
  int k = 0;
  for (int r = 0; r < rounds && k < 128; r++) {
    int ok = isfinite(full[r]);
    for (int i = 0; ok && i < n; i++) ok = isfinite(loo[(size_t)i * rounds + r]);
    if (!ok) continue;
    fr[k] = full[r];
    sum_marg[k] = 0;
    double sum_loo = 0;
    for (int i = 0; i < n; i++) {
      double l = loo[(size_t)i * rounds + r];
      marg[i][k] = full[r] - l;
      sum_marg[k] += marg[i][k];
      sum_loo += l;
    }
    // sum phi - full = (sum iso + n full - sum LOO) / 2 - full: this round's LOO part
    resid[k] = ((n - 2) * full[r] - sum_loo) / 2;
    k++;
  }
  if (k < 2) return LJ_FAIL(LJ_EINVAL, "Shapley split: %d complete rounds (whole layer and every stage left out), need 2", k);
  memset(out, 0, sizeof *out);
  out->n_rounds = k, out->n_stages = n;
  LJ_TRY(lj_stats_mean_ci(fr, (size_t)k, level, &out->full_j));
  lj_mean_ci m[LJ_STAGE_COUNT + 1];
  double coef[LJ_STAGE_COUNT + 1];
  for (int i = 0; i < n; i++) {
    LJ_TRY(lj_stats_mean_ci(marg[i], (size_t)k, level, &m[0]));
    if (marginal) interval_of_mean(&m[0], &marginal[i]);
    m[1] = iso[i];
    coef[0] = coef[1] = 0.5;
    LJ_TRY(lj_stats_linear_combination(coef, m, 2, level, &phi[i]));
  }
  // sum of isolation; the interaction full - sum isolation
  for (int i = 0; i < n; i++) m[i] = iso[i], coef[i] = 1;
  LJ_TRY(lj_stats_linear_combination(coef, m, (size_t)n, level, &out->sum_isolation_j));
  for (int i = 0; i < n; i++) coef[i] = -1;
  m[n] = out->full_j, coef[n] = 1;
  LJ_TRY(lj_stats_linear_combination(coef, m, (size_t)n + 1, level, &out->interaction_j));
  // sum of the marginals (paired by round); the sum of the Shapley values
  lj_mean_ci sm;
  LJ_TRY(lj_stats_mean_ci(sum_marg, (size_t)k, level, &sm));
  interval_of_mean(&sm, &out->sum_marginal_j);
  for (int i = 0; i < n; i++) coef[i] = 0.5;
  m[n] = sm, coef[n] = 0.5;
  LJ_TRY(lj_stats_linear_combination(coef, m, (size_t)n + 1, level, &out->sum_shapley_j));
  // the residual sum phi - full, with the rounds' LOO part and the isolation part independent
  LJ_TRY(lj_stats_mean_ci(resid, (size_t)k, level, &m[n]));
  coef[n] = 1;
  LJ_TRY(lj_stats_linear_combination(coef, m, (size_t)n + 1, level, &out->residual_j));
  double f = out->full_j.mean;
  out->residual_pct = out->residual_j.estimate / f * 100;
  out->residual_lo_pct = out->residual_j.lo / f * 100;
  out->residual_hi_pct = out->residual_j.hi / f * 100;
  out->isolation_gap_pct = (out->sum_isolation_j.estimate - f) / f * 100;
  out->marginal_gap_pct = (out->sum_marginal_j.estimate - f) / f * 100;
  out->order_spread_pct = NAN;
  out->pass = f > 0 && lj_interval_verdict(out->residual_pct, out->residual_lo_pct, out->residual_hi_pct,
                                           LJ_SHAPLEY_TARGET_PCT) == LJ_VERDICT_PASS;
  return 0;
}

double lj_shapley_order_spread_pct(const double *order_mean, int n_orders, double full_mean) {
  double worst = NAN;
  for (int i = 0; i < n_orders; i++) {
    if (!isfinite(order_mean[i]) || !(full_mean != 0)) continue;
    double d = fabs(order_mean[i] - full_mean) / fabs(full_mean) * 100;
    if (!(worst >= d)) worst = d;
  }
  return worst;
}
