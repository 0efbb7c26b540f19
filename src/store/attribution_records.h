// The records of the attribution methods as a run keeps them (docs/attribution.md
// says how each is measured): what the profiler fills, the store writes and
// reads back, and the reports show. Plain structs of numbers, no pointers.
// Energies in J, powers in W, times in s unless a name ends in _ns
// (CLOCK_MONOTONIC ns); "gross" includes the idle power, "dynamic" = gross -
// idle_w x time. Undefined values are NAN.
#pragma once
#include <stdint.h>

#include "common/stage.h"
#include "common/stats.h"

// Per-stage estimates over windows shorter than this take their energy from the driver's power
// samples (~20 ms apart) rather than the energy counter: the counter updates every ~100 ms and a
// read returns its last update, so a short window's or a small difference's counter figure is
// quantised (docs/attribution.md §1b). The run records which source each estimate used.
#define LJ_SAMPLE_WINDOW_MAX_S 10.0

// Analytic work of one stage call (src/profile/stage_cost.h computes it).
typedef struct {
  int64_t flops;            // multiply and add count as one each
  int64_t weight_bytes;     // model parameters read (EMBED: only the gathered rows)
  int64_t act_read_bytes;   // activations read (incl. token ids, residual, logits)
  int64_t act_write_bytes;  // activations written (incl. logits, sampled ids)
  int64_t kv_read_bytes;    // KV cache read
  int64_t kv_write_bytes;   // KV cache written
  int64_t bytes;            // the sum of the five above (the device's memory, HBM)
  double flops_per_byte;    // arithmetic intensity: flops / bytes
  // Sent plus received over the link between GPUs (NVLink) by one rank: the all-reduce stages'
  // traffic, apart from the HBM bytes above (0 for every other stage). Schema 13 has no column
  // for it: the store reader derives it from the stored adds (lj_stage_cost_link_bytes_of).
  int64_t link_bytes;
} lj_stage_cost;

// The link bytes of an all-reduce stage from its adds: a ring all-reduce of bf16 elements sends
// and receives 2 (N-1)/N elements of 2 bytes each per element of the sum, and adds (N-1)/N of them,
// so link bytes = 2 x 2 x 2 x adds. 0 for every other stage.
static inline int64_t lj_stage_cost_link_bytes_of(lj_stage s, int64_t adds) {
  return lj_stage_is_allreduce(s) ? 8 * adds : 0;
}

// What one measured stage figure is about.
typedef struct {
  lj_phase phase;
  lj_stage stage;
  int layer;       // decoder layer, -1 for stages outside the layers (or a sum over layers)
  int64_t kv_len;  // KV positions when the stage ran (decode is replayed at several)
} lj_stage_key;

// One trial: a stage replayed back to back inside one meter window.
typedef struct {
  double counter_energy_j;  // window energy by the energy counter
  double sample_energy_j;   // window energy by integrating the driver's power samples (NAN: unknown)
  double duration_s;        // window length, less gap_s
  double gap_s;             // idle gaps inside the window (replay duty < 1): the counter and sample
                            // energies exclude idle_w x gap_s, duration_s excludes gap_s
  int64_t calls;            // stage calls completed inside the window
  double temperature_c;     // mean GPU temperature over the window (NAN: unknown)
  double idle_w;            // idle baseline subtracted for the dynamic energy
  int64_t start_offset_ns;  // the randomised delay before the trial (recorded, not used)
  uint32_t window_flags;    // LJ_WINDOW_* of the meter window
} lj_replay_trial;

// The conditions one replay trial's window ran under (the sampler's readings inside it): clocks,
// throttle reasons, temperature, power against the cap.
typedef struct {
  int trial;                 // index of the trial in the run's trials (replay_trials, in order)
  double sm_clock_min_mhz, sm_clock_max_mhz;
  double mem_clock_min_mhz, mem_clock_max_mhz;
  double temperature_c;      // mean of the temperature readings inside (NAN: none)
  double power_w;            // mean power over the window (its sample integral / duration)
  double power_limit_w;      // the enforced limit (the latest reading)
  int64_t throttle_mask;     // OR of the throttle-reason masks read inside
  int at_cap;                // power-cap or power-brake reason seen, or power >= 98% of the limit
} lj_trial_conditions;

// One window of the ablations' bracketed schedule (docs/attribution.md §5), kept so that a check
// can be examined after the run: each skipped window sits between the full windows seq - 1 and
// seq + 1 of its phase (F A F M F ...); pair numbers those of each group in the order they ran.
typedef struct {
  lj_phase phase;
  int seq;                   // its place in the phase's schedule, from 0 (a full window)
  char group[8];             // what was skipped: "full" (nothing), "attn" or "mlp"
  int round;                 // the round it ran in (a full window: that of the window before it)
  int pair;                  // a skipped window: its pair's number within its group; a full one -1
  int64_t units;             // units of the phase inside the window
  double duration_s;
  double counter_j;          // dynamic J per unit by the energy counter (NAN: no reading)
  double sample_j;           // the same by the power samples (NAN: they cannot stand for the window)
  double idle_w;             // the idle subtracted, at the window's temperature
  double mean_power_w, peak_power_w;  // gross, by the power samples
  double temperature_start_c, temperature_end_c;  // the first and last reading inside (NAN: none)
  double sm_clock_min_mhz, sm_clock_max_mhz;
  double power_limit_w;
  int64_t throttle_mask;     // OR of the throttle reasons read inside
  int at_cap;                // a power-cap reason seen, or mean power >= 98% of the limit
  uint32_t flags;            // LJ_WINDOW_* of the window (LJ_WINDOW_POWER_CAP when at_cap)
} lj_ablation_window;

// Per-call energy of one stage over its trials. The estimate (gross_j, dynamic_j) is the
// samples' figure when window_flags holds LJ_WINDOW_SAMPLE_ENERGY (every trial shorter than
// LJ_SAMPLE_WINDOW_MAX_S, with samples), else the counter's; both stay beside it, and
// LJ_WINDOW_SOURCES_DISAGREE says the other one lies outside the estimate's interval.
typedef struct {
  lj_stage_key key;
  int n_trials;
  lj_mean_ci gross_j;           // the estimate: energy / calls, over trials
  lj_mean_ci dynamic_j;         // (energy - idle x duration) / calls
  lj_mean_ci counter_gross_j;   // by the energy counter
  lj_mean_ci counter_dynamic_j;
  lj_mean_ci sample_gross_j;    // by the driver's power samples (n = 0 when no trial has them)
  lj_mean_ci sample_dynamic_j;
  lj_mean_ci time_per_call_s;   // duration / calls: the replayed time per call
  double insitu_time_per_call_s;  // from the in-situ timeline (NAN: unknown)
  double time_ratio;            // replayed / in-situ time per call (1: the replay ran like the real run)
  double counter_vs_sample_pct; // (gross - sample_gross) / sample_gross x 100
  double temperature_min_c, temperature_max_c;  // over the trials (NAN: unknown)
  uint32_t window_flags;        // OR of the trials' window flags
} lj_replay_estimate;

typedef struct {
  lj_phase phase;
  int n_terms;
  double measured_gross_j;        // the phase window (its summary's source: samples under 10 s)
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
  lj_timeline_stage stage[LJ_PHASE_COUNT][LJ_STAGE_ALL_COUNT];
} lj_timeline_result;

// J/FLOP and J/byte of a stage: its per-call energy (gross or dynamic, with
// interval) over the analytic work of one call. NAN where the work is 0.
typedef struct {
  double j_per_flop, j_per_flop_lo, j_per_flop_hi;
  double j_per_byte, j_per_byte_lo, j_per_byte_hi;
  double flops_per_j;
  double bytes_per_j;
} lj_stage_efficiency;

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
  // LJ_WINDOW_SAMPLE_ENERGY: full_j .. ratio from the power samples (windows < LJ_SAMPLE_WINDOW_MAX_S);
  // LJ_WINDOW_SOURCES_DISAGREE: counter_saved_j outside saved_j's interval (or the reverse)
  uint32_t flags;
  double counter_saved_j;    // full - ablated by the energy counter (NAN: not measured)
} lj_ablation;

// Attention energy per call with 1..n_kv_heads KV groups active: energy = fixed + per_group x groups.
typedef struct {
  lj_ols_fit fit;            // a = fixed, b = per group, with standard errors and intervals
  double fixed_j;
  double per_group_j;
  double per_head_j;         // per_group_j / (n_heads / n_kv_heads): one query head
  double all_groups_j;       // fitted energy with every group active
  double fixed_share;        // fixed_j / all_groups_j
  // LJ_WINDOW_SAMPLE_ENERGY: fitted on the power samples' per-call energies (trials <
  // LJ_SAMPLE_WINDOW_MAX_S); LJ_WINDOW_SOURCES_DISAGREE: the counter's per-group energy outside
  // the fit's interval of it (or the reverse)
  uint32_t flags;
  double counter_fixed_j, counter_per_group_j, counter_r2;  // the same fit on the counter (NAN: none)
} lj_head_fit;

// The attention-head grid (docs/attribution.md "Attention heads"): decode attention replayed alone
// on K and V of its own, `batch` sequences of kv_len cached positions, the first `groups` KV groups
// (and their query heads) active; replicate trials in one randomised order across every point.
#define LJ_HEAD_GRID_SKIP_TEXT 192
typedef struct {
  int batch;
  int64_t kv_len;
  int groups;
  int64_t kv_bytes;          // K and V read per call: batch x groups x kv_len x head_dim x 2 (K, V) x element
  int64_t need_bytes;        // memory one copy of that K and V needs (device bf16; the CPU engine's fp32)
  int n_trials;              // trials measured (0: skipped, or not reached)
  lj_mean_ci dynamic_j;      // per call over its trials (the samples' where the fit took them; n 0: no energy)
  lj_mean_ci time_s;         // per call
  double fitted;             // the all-batch fit at this point, in its quantity's unit (NAN: no fit)
  char skipped[LJ_HEAD_GRID_SKIP_TEXT];  // why it was not measured, with the memory arithmetic ("": measured)
} lj_head_grid_point;

// One fit of the grid: y per call = fixed + per_group x groups + per_byte x kv_bytes, by OLS over every
// trial of the points of `batch` (0: of every batch), with the lack-of-fit F test from the replicates.
// The values are in the unit of `quantity`: "dynamic_j" (J per call) or "time_s" (s per call).
#define LJ_HEAD_GRID_ALPHA 0.05  // the fit holds while the lack-of-fit p-value is >= this
typedef struct {
  char quantity[16];
  int batch;                 // 0: every batch in one fit; else that batch's points alone
  int n_obs, n_points;       // trials and distinct points fitted
  lj_interval fixed;         // per call
  lj_interval per_group;     // per KV group active, beyond its bytes
  lj_interval per_byte;      // per byte of K and V read
  double r2, resid_sd;
  double lof_f, lof_df_lack, lof_df_pure, lof_p;  // lack of fit (NAN: not testable)
  int holds;                 // 1: lof_p >= LJ_HEAD_GRID_ALPHA; 0: the linear model is rejected; -1: not testable
  // One query head per call, (per_group + per_byte x its group's bytes) / (n_heads / n_kv_heads), at
  // the smallest and the largest (batch, kv) the fit covers; NAN unless holds is 1.
  int small_batch, large_batch;
  int64_t small_kv, large_kv;
  lj_interval per_head_small, per_head_large;
  // Energy fits: LJ_WINDOW_SAMPLE_ENERGY where every trial took the power samples; the same fit
  // on the counter's figures beside (NAN: none); LJ_WINDOW_SOURCES_DISAGREE: its per-byte cost
  // outside per_byte's interval.
  uint32_t flags;
  double counter_per_byte, counter_lof_p;
} lj_head_grid_fit;
