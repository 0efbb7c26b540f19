// The Shapley split of a decoder layer among its stages, from three independent
// measurements per layer call: each stage alone (isolation), the whole layer,
// and the layer with one stage left out, round by round (docs/attribution.md §2d).
//
// Assumption: the layer's energy over any subset S of its stages is
// v(S) = sum_{i in S} a_i + sum_{i<j in S} b_ij (interactions at most pairwise).
// Then isolation_i = a_i, full - LOO_i = a_i + sum_j b_ij, and the Shapley value
// phi_i = a_i + sum_j b_ij / 2 = (isolation_i + (full - LOO_i)) / 2 exactly;
// sum phi_i = full. The check: a k-th order term c (k stages together) leaves
// isolation alone, adds c to k leave-one-out marginals and c to the whole, so
// sum phi - full = (k/2 - 1) c, which the residual shows. The interaction
// energy full - sum isolation (= sum b_ij) is reported as its own row.
#pragma once
#include "common/stats.h"
#include "store/profile_result.h"

#define LJ_SHAPLEY_TARGET_PCT 5.0  // the residual's whole interval within +-5% of the layer

// iso (n): each stage's isolation estimate (per call); full (rounds): the whole layer per round;
// loo (n x rounds, row i = stage i left out): NAN where that round lacks it (a round is used when
// it has the whole layer and every leave-one-out). phi (n) receives the Shapley values, marginal
// (n, may be NULL) full - LOO_i. out's check fields are filled (phase, kv_len, orders left to the
// caller). LJ_EINVAL for fewer than 2 complete rounds or a stage without an isolation estimate.
int lj_shapley_compute(const lj_mean_ci *iso, int n, const double *full, const double *loo, int rounds,
                       double level, lj_interval *phi, lj_interval *marginal, lj_shapley_check *out);

// Largest |order's mean - full| / full x 100 over the orders (n_orders means).
double lj_shapley_order_spread_pct(const double *order_mean, int n_orders, double full_mean);
