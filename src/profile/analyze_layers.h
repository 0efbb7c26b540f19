// Per-layer estimates and their checks (docs/attribution.md §2f).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "profile/profile_analyze.h"
#include "store/profile_result.h"

// Ranks the n estimates of one phase by dynamic energy (1: dearest) and tests their agreement:
// t = (layer - mean of the other layers) / se from the variance pooled over all layers (the null:
// the same computation, so the same spread), against t_{1 - (1 - level) / (2n), sum of n_j - 1}
// (Bonferroni over the n layers). A layer agrees when |t| is within it, or when the difference's
// whole interval at that level lies within +-LJ_LAYER_AGREE_PCT of the others' mean (equal within
// the band, if not equal). Without any spread (one trial each) t is unknown and all agree.
#define LJ_LAYER_AGREE_PCT 5.0
int lj_layer_agreement_compute(lj_layer_estimate *l, size_t n, double level);

// A layer skipped in the real run, from its n pairs (bracket.h): saved = the mean of bracket - skipped with
// Student's interval on n - 1 degrees of freedom (paired: linear drift cancels), against
// calls_per_unit x replay_per_call_j, the layer's estimate (calls per unit: prefill 1, decode the
// generated tokens - 1), plus for the last layer head_change_j (per unit; NULL or NAN: not
// measured), what its skip changes in the final norm and the LM head. pass: the whole interval of
// the agreement (a.ratio - 1) within +-LJ_LAYER_SKIP_TARGET_PCT (common/verdict.h), and for the
// last layer only with the head's change in the estimate.
int lj_layer_skip_compute(lj_phase ph, int layer, int last_layer, int64_t calls_per_unit, const double *bracket_j,
                          const double *skipped_j, size_t n, const lj_mean_ci *replay_per_call_j,
                          const lj_interval *head_change_j, double level, lj_layer_skip *out);

// Fills r->layers from the "layer" trials, every phase, r->layer_stages from the "layer_stage"
// trials (with the timeline's time of that stage of that layer for the time ratio), and
// r->layer_skips from raw's skip windows (raw may be NULL: none) for each skipped layer with an
// estimate (replaces what was there).
int lj_analyze_layers(lj_profile_result *r, const lj_profile_raw *raw);
