// The layer-skip check's schedule and arithmetic (docs/attribution.md §2f): every window with one
// layer a no-op sits between two full windows, and its saving is the mean of those two less it, a
// paired difference that removes any drift linear over the three windows (the card warming, its
// leakage). The pairs of one layer are independent when no two of its windows share a full window,
// which the schedule ensures: the skipped layers' order changes from round to round and a round
// never starts with the layer the round before ended with.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/verdict.h"
#include "profile/analyze_layers.h"

size_t lj_layer_skip_schedule(int rounds, int n_slots, int *slot, size_t cap) {
  size_t n = 0;
  if (cap < 1 || n_slots < 1) return 0;
  slot[n++] = 0;
  // round r: the slots rotated by r, reversed in odd rounds, so a round never starts with the slot
  // the one before ended with (n_slots > 1); over 2 n_slots rounds each slot takes each place
  // equally often when n_slots is odd (the 3 of the default)
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < n_slots && n + 2 <= cap; i++) {
      int j = r % 2 ? n_slots - 1 - i : i;
      slot[n++] = 1 + (r + j) % n_slots;
      slot[n++] = 0;
    }
  return n;
}

size_t lj_layer_skip_pairs(const int *slot, const double *j, size_t n, int k, double *bracket_j, double *skipped_j) {
  size_t m = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    if (slot[i] != k || slot[i - 1] != 0 || slot[i + 1] != 0) continue;
    if (!isfinite(j[i - 1]) || !isfinite(j[i]) || !isfinite(j[i + 1])) continue;
    bracket_j[m] = 0.5 * (j[i - 1] + j[i + 1]);
    skipped_j[m++] = j[i];
  }
  return m;
}

int lj_layer_skip_compute(lj_phase ph, int layer, int last_layer, int64_t calls_per_unit, const double *bracket_j,
                          const double *skipped_j, size_t n, const lj_mean_ci *replay_per_call_j,
                          const lj_interval *head_change_j, double level, lj_layer_skip *out) {
  memset(out, 0, sizeof *out);
  out->phase = ph;
  out->layer = layer;
  out->head_change_j.estimate = out->head_change_j.se = out->head_change_j.df = NAN;
  out->head_change_j.lo = out->head_change_j.hi = NAN, out->head_change_j.level = level;
  lj_ablation *a = &out->a;
  a->stage = LJ_STAGE_ATTN_NORM;  // the layer's first stage names it in the record
  a->calls = calls_per_unit;
  a->counter_saved_j = NAN;       // the caller sets it where the counter was read too
  if (calls_per_unit <= 0)
    return LJ_FAIL(LJ_EINVAL, "layer skip of %s layer %d: %lld calls of the layer per unit, expected > 0",
                   lj_phase_name(ph), layer, (long long)calls_per_unit);
  if (n == 0)
    return LJ_FAIL(LJ_EINVAL, "layer skip of %s layer %d: no skipped window between two full ones", lj_phase_name(ph),
                   layer);
  double *d = malloc(sizeof *d * n);
  if (!d) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  for (size_t i = 0; i < n; i++) d[i] = bracket_j[i] - skipped_j[i];
  lj_mean_ci saved;
  int rc = lj_stats_mean_ci(d, n, level, &saved);
  free(d);
  LJ_TRY(rc);
  LJ_TRY(lj_stats_mean_ci(bracket_j, n, level, &a->full_j));
  LJ_TRY(lj_stats_mean_ci(skipped_j, n, level, &a->ablated_j));
  // the paired interval: Student t with n - 1 degrees of freedom (NAN bounds for one pair)
  a->saved_j.estimate = saved.mean, a->saved_j.se = saved.sem, a->saved_j.df = saved.df;
  a->saved_j.level = level, a->saved_j.lo = saved.lo, a->saved_j.hi = saved.hi;
  // The last layer's estimate: its replay plus the head's change per unit, spread over its calls.
  lj_mean_ci estimate = *replay_per_call_j;
  int with_head = last_layer && head_change_j && isfinite(head_change_j->estimate);
  if (with_head) {
    out->head_change_j = *head_change_j;
    double c = (double)calls_per_unit, coef[2] = {1, 1};
    lj_mean_ci m[2] = {*replay_per_call_j, {.n = 2, .mean = head_change_j->estimate / c,
                                            .sem = head_change_j->se / c, .df = head_change_j->df}};
    lj_interval sum;
    LJ_TRY(lj_stats_linear_combination(coef, m, 2, level, &sum));
    estimate = (lj_mean_ci){.n = 2, .mean = sum.estimate, .sem = sum.se, .df = sum.df, .level = level};
  }
  LJ_TRY(lj_ablation_against_replay(&estimate, level, a));
  // PASS only on the whole interval; the last layer only with the head's change in its estimate
  lj_verdict v = lj_interval_verdict(a->agreement_pct, (a->ratio.lo - 1) * 100, (a->ratio.hi - 1) * 100,
                                     LJ_LAYER_SKIP_TARGET_PCT);
  out->pass = (!last_layer || with_head) && v == LJ_VERDICT_PASS;
  return 0;
}
