// The bracketed schedule and its paired saving (bracket.h), shared by the layer-skip check (§2f) and
// the ablations (§5). The saving of a window is the mean of the full windows before and after it less
// it: a paired difference that removes any drift linear over the three windows (the card warming,
// its leakage). The pairs of one slot are independent when no two of its windows share a full
// window, which the schedule ensures.
#include "profile/bracket.h"

#include <math.h>
#include <stdlib.h>

#include "common/error.h"

size_t lj_bracket_schedule(int rounds, int n_slots, int *slot, size_t cap) {
  size_t n = 0;
  if (cap < 1 || n_slots < 1) return 0;
  slot[n++] = 0;
  // round r: the slots rotated by r, reversed in odd rounds, so a round never starts with the slot
  // the one before ended with (n_slots > 1); over 2 n_slots rounds each slot takes each place
  // equally often when n_slots is odd (the 3 of the layer skips; with 2 the order stays 1, 2, which
  // the pairs do not need). One slot gets a second full window between rounds (F S F F S F ...):
  // otherwise each pair's right full window would be the next pair's left one, and the pairs,
  // correlated, would give too narrow an interval.
  for (int r = 0; r < rounds; r++) {
    if (n_slots == 1 && r > 0 && n + 1 <= cap) slot[n++] = 0;
    for (int i = 0; i < n_slots && n + 2 <= cap; i++) {
      int j = r % 2 ? n_slots - 1 - i : i;
      slot[n++] = 1 + (r + j) % n_slots;
      slot[n++] = 0;
    }
  }
  return n;
}

int lj_bracket_round(const int *slot, size_t i, int n_slots, int *closes) {
  size_t seen = 0;
  for (size_t k = 0; k <= i; k++) seen += slot[k] != 0;
  *closes = !slot[i] && i > 0 && slot[i - 1] && n_slots > 0 && seen % (size_t)n_slots == 0;
  return seen && n_slots > 0 ? (int)((seen - 1) / (size_t)n_slots) : 0;
}

size_t lj_bracket_pairs(const int *slot, const double *j, size_t n, int k, double *bracket_j, double *skipped_j) {
  size_t m = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    if (slot[i] != k || slot[i - 1] != 0 || slot[i + 1] != 0) continue;
    if (!isfinite(j[i - 1]) || !isfinite(j[i]) || !isfinite(j[i + 1])) continue;
    bracket_j[m] = 0.5 * (j[i - 1] + j[i + 1]);
    skipped_j[m++] = j[i];
  }
  return m;
}

int lj_bracket_saving(const double *bracket_j, const double *skipped_j, size_t n, double level, lj_ablation *out) {
  double *d = malloc(sizeof *d * (n ? n : 1));
  if (!d) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  for (size_t i = 0; i < n; i++) d[i] = bracket_j[i] - skipped_j[i];
  lj_mean_ci saved;
  int rc = lj_stats_mean_ci(d, n, level, &saved);
  free(d);
  LJ_TRY(rc);
  LJ_TRY(lj_stats_mean_ci(bracket_j, n, level, &out->full_j));
  LJ_TRY(lj_stats_mean_ci(skipped_j, n, level, &out->ablated_j));
  out->saved_j.estimate = saved.mean, out->saved_j.se = saved.sem, out->saved_j.df = saved.df;
  out->saved_j.level = level, out->saved_j.lo = saved.lo, out->saved_j.hi = saved.hi;
  return 0;
}
