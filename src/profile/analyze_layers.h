// Per-layer estimates and their checks (docs/attribution.md §2f).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "profile/profile_analyze.h"
#include "store/profile_result.h"

// Ranks the n estimates of one phase by dynamic energy (1: dearest) and tests their agreement:
// t = (layer - mean of the other layers) / Welch se, against t_{1 - (1 - level) / (2n), df}
// (Bonferroni over the n layers). An estimate of one trial (no spread) has an unknown t and agrees.
int lj_layer_agreement_compute(lj_layer_estimate *l, size_t n, double level);

// A layer skipped in the real run: full_j and skipped_j are dynamic energies of one phase unit
// (repeats), replay_per_call_j the layer's estimate, calls_per_unit its calls in one unit (prefill:
// 1, decode: the generated tokens). pass: the whole interval of the agreement (a.ratio - 1) within
// +-LJ_LAYER_SKIP_TARGET_PCT (the report's verdict: INCONCLUSIVE where only the point is within).
int lj_layer_skip_compute(lj_phase ph, int layer, int64_t calls_per_unit, const double *full_j, size_t n_full,
                          const double *skipped_j, size_t n_skipped, const lj_mean_ci *replay_per_call_j,
                          double level, lj_layer_skip *out);

// Fills r->layers from the "layer" trials, every phase, r->layer_stages from the "layer_stage"
// trials (with the timeline's time of that stage of that layer for the time ratio), and
// r->layer_skips from raw's skip windows (raw may be NULL: none) for each skipped layer with an
// estimate (replaces what was there).
int lj_analyze_layers(lj_profile_result *r, const lj_profile_raw *raw);
