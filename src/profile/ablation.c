// Ablation: the energy a run saves when one stage is skipped, against the
// replay's estimate of that stage: from independent sets of runs (Welch) or
// from bracketed pairs (bracket.h).
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "profile/attribution.h"
#include "profile/bracket.h"

int lj_ablation_compute(lj_stage stage, int64_t calls, const double *full_j, size_t n_full, const double *ablated_j,
                        size_t n_ablated, const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out) {
  memset(out, 0, sizeof *out);
  if (calls <= 0)
    return LJ_FAIL(LJ_EINVAL, "ablation of %s: %lld calls of the stage, expected > 0", lj_stage_name(stage),
                   (long long)calls);
  if (n_full == 0 || n_ablated == 0)
    return LJ_FAIL(LJ_EINVAL, "ablation of %s: %zu full and %zu ablated runs, expected >= 1 each",
                   lj_stage_name(stage), n_full, n_ablated);
  out->stage = stage;
  out->calls = calls;
  LJ_TRY(lj_stats_mean_ci(full_j, n_full, level, &out->full_j));
  LJ_TRY(lj_stats_mean_ci(ablated_j, n_ablated, level, &out->ablated_j));
  LJ_TRY(lj_stats_difference(&out->full_j, &out->ablated_j, level, &out->saved_j));
  return lj_ablation_against_replay(replay_per_call_j, level, out);
}

int lj_ablation_paired(lj_stage stage, int64_t calls, const double *bracket_j, const double *ablated_j, size_t n,
                       const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out) {
  memset(out, 0, sizeof *out);
  out->counter_saved_j = NAN;  // the caller sets it where the counter was read too
  if (calls <= 0)
    return LJ_FAIL(LJ_EINVAL, "ablation of %s: %lld calls of the stage, expected > 0", lj_stage_name(stage),
                   (long long)calls);
  if (n == 0)
    return LJ_FAIL(LJ_EINVAL, "ablation of %s: no ablated window between two full ones", lj_stage_name(stage));
  out->stage = stage;
  out->calls = calls;
  LJ_TRY(lj_bracket_saving(bracket_j, ablated_j, n, level, out));
  return lj_ablation_against_replay(replay_per_call_j, level, out);
}

int lj_ablation_against_replay(const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out) {
  double c = (double)out->calls;
  lj_interval_from_se(out->saved_j.estimate / c, out->saved_j.se / c, out->saved_j.df, level, &out->saved_per_call_j);
  LJ_TRY(lj_stats_linear_combination(&c, replay_per_call_j, 1, level, &out->replay_j));
  out->agreement_pct = out->replay_j.estimate != 0
                           ? (out->saved_j.estimate - out->replay_j.estimate) / out->replay_j.estimate * 100
                           : NAN;
  // the ratio of the two intervals (delta method), each seen as a mean with its se and df
  lj_mean_ci saved = {.n = 2, .mean = out->saved_j.estimate, .sem = out->saved_j.se, .df = out->saved_j.df};
  lj_mean_ci replay = {.n = 2, .mean = out->replay_j.estimate, .sem = out->replay_j.se, .df = out->replay_j.df};
  if (replay.mean != 0) LJ_TRY(lj_stats_ratio(&saved, &replay, level, &out->ratio));
  else out->ratio.estimate = out->ratio.lo = out->ratio.hi = out->ratio.se = NAN;
  return LJ_OK;
}
