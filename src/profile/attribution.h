// Attribution of measured energy to stages: isolation replay, composition
// closure, in-situ timeline, ablation and the attention-head fit
// (docs/attribution.md: formulas, assumptions, how errors are reported).
//
// Every result is a plain struct of numbers (no pointers) so that a store can
// write it field by field. Energies are joules, powers watts, times seconds
// unless a name ends in _ns (CLOCK_MONOTONIC nanoseconds, the meter's axis).
// "gross" includes the idle power; "dynamic" = gross - idle_w x time.
// Relative errors are in percent (`_pct`). Undefined values are NAN.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "engine/stage.h"
#include "llamajoule/meter.h"
#include "profile/stage_cost.h"
#include "profile/stats.h"

// What one measured stage figure is about.
typedef struct {
  lj_phase phase;
  lj_stage stage;
  int layer;       // decoder layer, -1 for stages outside the layers (or a sum over layers)
  int64_t kv_len;  // KV positions when the stage ran (decode is replayed at several)
} lj_stage_key;

// ---------------------------------------------------------------- isolation replay

// One trial: a stage replayed back to back inside one meter window.
typedef struct {
  double counter_energy_j;  // window energy by the energy counter
  double sample_energy_j;   // window energy by integrating the driver's power samples (NAN: unknown)
  double duration_s;        // window length
  int64_t calls;            // stage calls completed inside the window
  double temperature_c;     // mean GPU temperature over the window (NAN: unknown)
  double idle_w;            // idle baseline subtracted for the dynamic energy
  int64_t start_offset_ns;  // the randomised delay before the trial (recorded, not used)
  uint32_t window_flags;    // LJ_WINDOW_* of the meter window
} lj_replay_trial;

// Fills a trial from a meter window result (counter and sample energies, duration, flags).
void lj_replay_trial_from_window(const lj_window_result *w, int64_t calls, double temperature_c, double idle_w,
                                 lj_replay_trial *out);

// Per-call energy of one stage over its trials.
typedef struct {
  lj_stage_key key;
  int n_trials;
  lj_mean_ci gross_j;           // counter_energy / calls, over trials
  lj_mean_ci dynamic_j;         // (counter_energy - idle x duration) / calls
  lj_mean_ci sample_gross_j;    // the same from the driver buffer (n = 0 when no trial has it)
  lj_mean_ci sample_dynamic_j;
  lj_mean_ci time_per_call_s;   // duration / calls: the replayed time per call
  double insitu_time_per_call_s;  // from the in-situ timeline (NAN: unknown)
  double time_ratio;            // replayed / in-situ time per call (1: the replay ran like the real run)
  double counter_vs_sample_pct; // (gross - sample_gross) / sample_gross x 100
  double temperature_min_c, temperature_max_c;  // over the trials (NAN: unknown)
  uint32_t window_flags;        // OR of the trials' window flags
} lj_replay_estimate;

// n >= 1 trials, each with calls > 0 and duration > 0 (else LJ_EINVAL naming the trial).
int lj_replay_estimate_compute(const lj_replay_trial *trials, size_t n, double insitu_time_per_call_s,
                               double level, lj_replay_estimate *out);

// ---------------------------------------------------------------- closure

// One independent per-call estimate and the calls it stands for in the phase.
// Where one estimate stands for several layers (representative layers), give
// one term with the summed calls: the terms are assumed independent. Calls
// may be fractional: decode steps spread over the KV lengths a stage was
// replayed at (lj_kv_weights).
typedef struct {
  lj_stage_key key;
  double calls;
  lj_mean_ci gross_j;    // per call
  lj_mean_ci dynamic_j;  // per call
} lj_closure_term;

void lj_closure_term_from_estimate(const lj_replay_estimate *e, double calls, lj_closure_term *out);

// Decode is replayed at a few KV lengths (replayed_kv, m, strictly increasing)
// and runs at many (step_kv, n_steps). Each step's calls (calls_per_step) are
// split between the two replayed lengths around its own, linearly (exact when
// per-call energy is linear in the KV length); steps outside the replayed
// range go to the nearest one and are counted in *n_outside. weight (m)
// receives the calls each replayed length stands for; they sum to
// n_steps x calls_per_step.
int lj_kv_weights(const int64_t *replayed_kv, size_t m, const int64_t *step_kv, size_t n_steps, double calls_per_step,
                  double *weight, size_t *n_outside);

typedef struct {
  lj_phase phase;
  int n_terms;
  double measured_gross_j;        // the phase window (energy counter)
  double measured_dynamic_j;
  lj_interval predicted_gross_j;  // sum over terms of calls x per-call energy, with its interval
  lj_interval predicted_dynamic_j;
  double error_gross_pct;         // (predicted - measured) / measured x 100
  // The interval of predicted / measured - 1 (delta method, Welch-Satterthwaite ν): the
  // prediction's spread and the measured windows' spread together.
  double error_gross_lo_pct, error_gross_hi_pct;
  double error_dynamic_pct;
  double error_dynamic_lo_pct, error_dynamic_hi_pct;
} lj_closure;

// measured_*: the phase's mean energy per unit over its windows. A mean of one window
// (no spread known) counts as exact: the error's interval is then the prediction's alone.
int lj_closure_compute(lj_phase phase, const lj_closure_term *terms, size_t n, const lj_mean_ci *measured_gross,
                       const lj_mean_ci *measured_dynamic, double level, lj_closure *out);

// ---------------------------------------------------------------- in-situ timeline

// One stage call bracketed in the real run (CUDA events mapped onto the host monotonic axis).
typedef struct {
  int64_t begin_ns, end_ns;
  lj_phase phase;
  lj_stage stage;
  int layer;  // -1 outside the layers
} lj_stage_interval;

typedef struct {
  int64_t calls;
  double time_s;
  double energy_j;       // gross: integral of the interpolated power over the stage's intervals
  double dynamic_j;
  double share_gross;    // energy_j / the phase's span energy (0.25 = 25%)
  double share_dynamic;  // dynamic_j / the phase's span dynamic energy
} lj_timeline_stage;

typedef struct {
  int n_intervals;
  int64_t begin_ns, end_ns;  // first begin, last end of the phase's intervals
  double span_s;
  double energy_j;           // integral over the span
  double dynamic_j;
  double attributed_j;       // sum over the intervals
  double attributed_dynamic_j;
  double gap_s;              // span time covered by no interval
  double gap_j;              // energy of those gaps: unattributed
  double gap_dynamic_j;
  double overlap_s;          // time covered by more than one interval (counted in each)
} lj_timeline_phase;

typedef struct {
  int device;
  double idle_w;
  int n_samples;             // power samples used
  uint32_t flags;            // LJ_WINDOW_NO_SAMPLES, LJ_WINDOW_EXTRAPOLATED (intervals outside the samples)
  lj_timeline_phase phase[LJ_PHASE_COUNT];
  lj_timeline_stage stage[LJ_PHASE_COUNT][LJ_STAGE_COUNT];
} lj_timeline_result;

// Integrates the power samples of `device` (reading `reading`, normally
// LJ_READING_POWER_SAMPLE; piecewise linear between samples, held at the
// ends) over every interval. `interval_energy_j` (n) receives each
// interval's gross energy; it may be NULL. Intervals may come in any order.
int lj_timeline_attribute(const lj_stage_interval *iv, size_t n, const lj_sample *samples, size_t n_samples,
                          int device, lj_reading reading, double idle_w, double *interval_energy_j,
                          lj_timeline_result *out);

// Per-layer sums of one phase from the per-interval energies of
// lj_timeline_attribute: layer_energy_j and layer_time_s (n_layers each) are
// filled; intervals outside the layers (layer -1) are left out; a layer index
// >= n_layers is LJ_EINVAL.
int lj_timeline_layers(const lj_stage_interval *iv, size_t n, const double *interval_energy_j, lj_phase phase,
                       int n_layers, double *layer_energy_j, double *layer_time_s);

// ---------------------------------------------------------------- energy per unit of work

// J/FLOP and J/byte of a stage: its per-call energy (gross or dynamic, with
// interval) over the analytic work of one call. NAN where the work is 0.
typedef struct {
  double j_per_flop, j_per_flop_lo, j_per_flop_hi;
  double j_per_byte, j_per_byte_lo, j_per_byte_hi;
  double flops_per_j;
  double bytes_per_j;
} lj_stage_efficiency;

void lj_stage_efficiency_compute(const lj_mean_ci *per_call_j, const lj_stage_cost *cost, lj_stage_efficiency *out);

// ---------------------------------------------------------------- ablation

typedef struct {
  lj_stage stage;            // the stage skipped in the ablated runs
  int64_t calls;             // its calls in one full run
  lj_mean_ci full_j;         // energy of one full run, over repeats (dynamic energies recommended)
  lj_mean_ci ablated_j;      // energy of one run without the stage
  lj_interval saved_j;       // full - ablated (Welch)
  lj_interval saved_per_call_j;
  lj_interval replay_j;      // calls x the replay's per-call energy
  double agreement_pct;      // (saved - replay) / replay x 100
  lj_interval ratio;         // saved / replay
} lj_ablation;

int lj_ablation_compute(lj_stage stage, int64_t calls, const double *full_j, size_t n_full, const double *ablated_j,
                        size_t n_ablated, const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out);

// ---------------------------------------------------------------- attention heads

// Attention energy per call with 1..n_kv_heads KV groups active: energy = fixed + per_group x groups.
typedef struct {
  lj_ols_fit fit;            // a = fixed, b = per group, with standard errors and intervals
  double fixed_j;
  double per_group_j;
  double per_head_j;         // per_group_j / (n_heads / n_kv_heads): one query head
  double all_groups_j;       // fitted energy with every group active
  double fixed_share;        // fixed_j / all_groups_j
} lj_head_fit;

// groups[i] active groups (1..n_kv_heads) and the per-call energy measured
// with them; several points per group count are fine (trials).
int lj_head_fit_compute(const int *groups, const double *energy_j, size_t n, int n_heads, int n_kv_heads,
                        double level, lj_head_fit *out);
