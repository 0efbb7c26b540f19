// From what a profile measured to what it reports: phase summaries, replay
// estimates with their analytic work and in-situ times, calls per unit,
// closures, the in-situ timeline, the ablation, the attention-head fit and the
// overhead. No GPU needed: the tests feed it a synthetic run.
#pragma once
#include <stddef.h>

#include "llamajoule/meter.h"
#include "profile/attribution.h"
#include "store/profile_result.h"

#define LJ_PROFILE_MAX_PAIRS 32

// The units of an ablation: the full run, without attention (the attn stage), without the MLP
// (gate_up, swiglu, down).
enum { LJ_ABLATE_FULL = 0, LJ_ABLATE_NO_ATTN, LJ_ABLATE_NO_MLP, LJ_ABLATE_COUNT };

// Raw figures of the measurements that are not windows of r.
typedef struct {
  double full_j[LJ_PROFILE_MAX_PAIRS], ablated_j[LJ_PROFILE_MAX_PAIRS];  // dynamic J per decode unit (counter)
  int n_full, n_ablated;
  // The same from the power samples, for windows whose samples can stand for them
  // (lj_trial_samples_usable); used only when every window of both sets has them.
  double full_sample_j[LJ_PROFILE_MAX_PAIRS], ablated_sample_j[LJ_PROFILE_MAX_PAIRS];
  int n_full_sample, n_ablated_sample;
  // Ablations of both phases (docs/attribution.md §5): per phase [0 prefill, 1 decode], the windows in
  // the order they ran (F A F M F ...; the pairs need the order, bracket.h): abl_kind LJ_ABLATE_*,
  // dynamic J per unit by the counter and (as above) by the samples, NAN where that source has none.
#define LJ_ABL_MAX_WINDOWS (1 + 2 * LJ_PROFILE_MAX_PAIRS * (LJ_ABLATE_COUNT - 1))
  int abl_kind[2][LJ_ABL_MAX_WINDOWS];
  double abl_j[2][LJ_ABL_MAX_WINDOWS];
  double abl_sample_j[2][LJ_ABL_MAX_WINDOWS];
  int n_abl[2];
  // Layer skips (--per-layer): per phase, the windows in the order they ran (F S F S F ...; the pairs
  // need the order): slot 0 full, 1..: layer skip_layer[slot] a no-op; dynamic J per unit by the
  // counter and (as above) by the samples, NAN where that source has none.
#define LJ_SKIP_SLOTS 4
#define LJ_SKIP_MAX_WINDOWS (1 + 2 * LJ_PROFILE_MAX_PAIRS * (LJ_SKIP_SLOTS - 1))
  int skip_layer[LJ_SKIP_SLOTS];
  int skip_slot[2][LJ_SKIP_MAX_WINDOWS];
  double skip_j[2][LJ_SKIP_MAX_WINDOWS];
  double skip_sample_j[2][LJ_SKIP_MAX_WINDOWS];
  int n_skip[2];
  double sampler_off_s[LJ_PROFILE_MAX_PAIRS], sampler_on_s[LJ_PROFILE_MAX_PAIRS];  // s per decode step
  int n_sampler_off, n_sampler_on;
  double marks_off_s[LJ_PROFILE_MAX_PAIRS], marks_on_s[LJ_PROFILE_MAX_PAIRS];
  int n_marks_off, n_marks_on;
} lj_profile_raw;

// r: plan, windows (with results), trials, intervals filled. power: the driver's
// power samples of `device` for the timeline (may be empty). Fills every derived
// part of r. Parts without data stay invalid (their *_valid = 0, n = 0).
int lj_profile_analyze(lj_profile_result *r, const lj_profile_raw *raw, const lj_sample *power, size_t n_power,
                       int device);

// Calls per unit of one replayed stage (decode attention: share of the steps
// near each replayed KV length, lj_kv_weights). kv_index: index of key.kv_len
// in plan.decode_kv (decode only).
double lj_profile_calls_per_unit(const lj_profile_plan *p, lj_phase phase, lj_stage stage, int kv_index);

// Fills phases[] from the windows (per unit: window energy / units).
int lj_profile_summarize_phases(lj_profile_result *r);
// Which source each phase's windows give it (docs/attribution.md §1): 1 the driver's power samples
// (every window's whole and under LJ_SAMPLE_WINDOW_MAX_S; any window under 0.2 s), 0 the counter.
void lj_phase_sources(const lj_profile_plan *plan, const lj_phase_window *windows, size_t n_windows,
                      int source[LJ_PHASE_COUNT]);
// Phase p's paired per-window differences counter - samples, gross per unit, over the windows that
// have both (at most cap into d): their count. The flag below and the budget's source term read them.
size_t lj_phase_source_differences(const lj_phase_window *windows, size_t n_windows, int p, double *d, size_t cap);
// The same for any set of windows (a tensor-parallel rank's: the run's windows as one GPU saw
// them) into out[LJ_PHASE_COUNT], each phase from `source` (NULL: lj_phase_sources of these
// windows; a rank takes the sum's, so that the GPUs' rows add up to it). The windows of a phase
// from the samples hold LJ_WINDOW_SAMPLE_ENERGY (others lose it); a phase whose paired counter -
// samples differences exclude 0 at the plan's level gets LJ_WINDOW_SOURCES_DISAGREE.
int lj_phase_summaries_of(const lj_profile_plan *plan, lj_phase_window *windows, size_t n_windows, const int *source,
                          lj_phase_summary *out);
