// Attribution of measured energy to stages: isolation replay, composition
// closure, in-situ timeline, ablation and the attention-head fit
// (docs/attribution.md: formulas, assumptions, how errors are reported).
//
// The records these fill belong to the run (store/attribution_records.h).
// Energies are joules, powers watts, times seconds unless a name ends in _ns
// (CLOCK_MONOTONIC nanoseconds, the meter's axis).
// "gross" includes the idle power; "dynamic" = gross - idle_w x time.
// Relative errors are in percent (`_pct`). Undefined values are NAN.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/stage.h"
#include "common/stats.h"
#include "llamajoule/meter.h"
#include "profile/stage_cost.h"
#include "store/attribution_records.h"

// ---------------------------------------------------------------- energy source

// 1 when a trial's samples may stand for its energy: its window (duration_s + gap_s: the wall
// length, idle gaps included) shorter than LJ_SAMPLE_WINDOW_MAX_S, with
// a sample integral, no samples lost inside, no boundary outside the samples.
int lj_trial_samples_usable(const lj_replay_trial *t);
// LJ_WINDOW_SAMPLE_ENERGY when from_samples, plus LJ_WINDOW_SOURCES_DISAGREE when `other` (the
// source not used) lies outside [lo, hi], the estimate's interval (an unknown one flags nothing).
uint32_t lj_energy_source_flags(int from_samples, double lo, double hi, double other);

// ---------------------------------------------------------------- isolation replay

// Fills a trial from a meter window result (counter and sample energies, duration, flags).
void lj_replay_trial_from_window(const lj_window_result *w, int64_t calls, double temperature_c, double idle_w,
                                 lj_replay_trial *out);

// A duty-cycled trial's idle gaps (gap_s at idle_w) are neither the stage's time nor its energy:
// taken off both (nothing when gap_s is 0).
void lj_replay_trial_take_gaps(lj_replay_trial *t);

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

// measured_*: the phase's mean energy per unit over its windows. A mean of one window
// (no spread known) counts as exact: the error's interval is then the prediction's alone.
int lj_closure_compute(lj_phase phase, const lj_closure_term *terms, size_t n, const lj_mean_ci *measured_gross,
                       const lj_mean_ci *measured_dynamic, double level, lj_closure *out);

// ---------------------------------------------------------------- in-situ timeline

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

void lj_stage_efficiency_compute(const lj_mean_ci *per_call_j, const lj_stage_cost *cost, lj_stage_efficiency *out);

// ---------------------------------------------------------------- ablation

int lj_ablation_compute(lj_stage stage, int64_t calls, const double *full_j, size_t n_full, const double *ablated_j,
                        size_t n_ablated, const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out);
// The same from n bracketed pairs (bracket.h: bracket_j the mean of the full windows around each
// ablated one): saved = mean of bracket - ablated, Student's interval on n - 1 degrees of freedom;
// full_j and ablated_j are the brackets' and the ablated windows' means (n each).
int lj_ablation_paired(lj_stage stage, int64_t calls, const double *bracket_j, const double *ablated_j, size_t n,
                       const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out);
// The rest of an ablation once out->calls and out->saved_j are set (by Welch or from paired
// windows: the ablations and the layer skips): the saving per call, the replay's calls x per call, the agreement and
// the ratio saved / replay (delta method).
int lj_ablation_against_replay(const lj_mean_ci *replay_per_call_j, double level, lj_ablation *out);

// ---------------------------------------------------------------- attention heads

// One trial of the grid: its point (an index into the points) and its value per call.
typedef struct {
  int point;
  double y;
} lj_head_grid_obs;
// The fit over the trials of the points of `batch` (0: every batch): multiple regression on
// (1, groups, kv_bytes), the lack-of-fit test, and where it holds one query head's cost at the
// smallest and largest cell. Fewer than 4 trials, or a design that cannot separate the three
// coefficients (one group count, or one KV length at one batch), is LJ_EINVAL saying so; trials
// with a non-finite value are left out. `quantity` names the values' unit ("dynamic_j", "time_s").
int lj_head_grid_fit_compute(const lj_head_grid_point *pts, size_t n_pts, const lj_head_grid_obs *obs, size_t n,
                             int batch, int heads_per_group, double level, const char *quantity,
                             lj_head_grid_fit *out);
