// The layer-skip check's arithmetic (docs/attribution.md §2f): every window with one layer a no-op
// sits between two full windows (bracket.c: the schedule and the paired saving), against the layer's
// replay estimate, with the head's change for the last layer.
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "common/verdict.h"
#include "profile/analyze_layers.h"
#include "profile/bracket.h"

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
  LJ_TRY(lj_bracket_saving(bracket_j, skipped_j, n, level, a));  // paired: Student t over the pairs
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
