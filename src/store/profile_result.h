// What `llamajoule profile` measured: the plan it followed, the conditions of
// the GPU, every phase window, every isolation-replay trial and estimate, the
// closures, the in-situ timeline, the ablation, the attention-head fit and the
// measurement overhead. One struct, owned by the store: filled by the runner
// (profile/profile_run.h), written and read back by the store
// (store/store_profile.c, store/store_read_profile.c), shown by the report
// (report/report.h).
//
// Units as in store/attribution_records.h: J, W, s, CLOCK_MONOTONIC ns for *_ns. "per unit"
// means per execution of a phase: one load, one tokenization of the prompts,
// one prefill of the batch, one generation of gen_len tokens per sequence (the
// decode phase), one detokenization of the generated text. Undefined values
// are NAN (n = 0 in a lj_mean_ci: not measured).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/stage.h"
#include "common/stats.h"
#include "llamajoule/meter.h"
#include "model/config.h"
#include "store/attribution_records.h"

#define LJ_PROFILE_MAX_KV 8  // decode KV lengths replayed at most

typedef struct {
  char model[512];        // the --model argument (preset name or checkpoint directory)
  char model_name[64];    // the config's name ("llama-3.2-1b", or the directory's base name)
  int weights_random;     // 1: preset with random weights generated on the device
  lj_model_config config;
  char engine[8];         // "cuda" or "cpu"
  char weights[16];       // "bf16", "fp8" (per-row scales) or "fp8-tensor": the linear layers' format
                          // (lj_weights_label, engine/weight_format.h)
  char fusion[16];        // "none", "production" or "norm-once": the CUDA engine's execution mode (stored in the
                          // engine column as "cuda+production"; "" in stores from before it: none)
  char gemv[16];          // "defaults" (the per-shape settings) or the bf16 configuration of every decode GEMV
                          // ("r4u2"; --gemv-config); "" in records from before schema 21: defaults
  int timing_only;        // 1: no energy (CPU engine, or no power source): times only
  int device;             // CUDA device index
  int batch, prompt_len, gen_len;
  int repeats;            // phase windows per phase
  int trials;             // replay trials per stage estimate
  double replay_seconds;  // minimum length of one replay trial
  double phase_seconds;   // minimum length of one phase window (short phases are repeated)
  double level;           // confidence level of every interval (0.95)
  int layers_replayed;    // decoder layers each per-layer replay cycles through (all of them)
  int n_decode_kv;        // decode KV lengths replayed (kv_past of the step), increasing
  int64_t decode_kv[LJ_PROFILE_MAX_KV];
  double replay_duty;     // fraction of each replay trial the stage runs (1: back to back; < 1: bursts
                          // of ~2 ms with idle gaps, keeping the mean power near the real run's)
  int ablation;           // 0: none; 1: attention skipped; 2: the MLP (gate_up, swiglu, down) skipped;
                          // 3: both, in prefill and decode
  int head_fit;           // 1: the attention-head fit ran
  int sequence;           // 1: the layer's stages were also measured by sequence replay (prefill and decode)
  int shapley;            // 1: leave-one-out and permuted-order replays of the layer (Shapley split)
  int64_t known_answer_bytes;  // calibration copy of the known-answer check (0: not run)
  uint64_t seed;          // weights and offsets
  char prompt_source[32]; // "text" (--prompt), "built-in text", "token ids" (no tokenizer)
  int tp_degree;          // tensor-parallel degree: GPUs the model is split over (0 or 1: one GPU)
} lj_profile_plan;

// The GPU as found, over the whole run (from the sampler's readings).
typedef struct {
  lj_device_info device;
  double idle_w;                 // baseline subtracted for "dynamic" energies
  char idle_method[64];          // "measured 5 s before the run (counter)" ...
  double idle_sd_w;
  double temperature_min_c, temperature_max_c;
  double sm_clock_min_mhz, sm_clock_max_mhz;
  double mem_clock_min_mhz, mem_clock_max_mhz;
  double power_limit_w;
  uint64_t throttle_seen;        // OR of every throttle-reason mask read (NVML clocks-event reasons)
  char throttle_text[256];       // the same, named ("sw_power_cap,hw_slowdown", "none")
  int64_t n_samples;             // samples the sampler delivered
  uint64_t buffer_gaps;          // driver-buffer overruns
  double sampler_cpu_percent;    // % of one core
  char cuda_driver[32];          // "13.0" (cudaDriverGetVersion)
  int64_t begin_wall_ns, end_wall_ns;
} lj_profile_conditions;

// Idle power against temperature (docs/attribution.md §1c): the curve fitted over the
// start-of-run idle (cool) and a cool-down after the measurements (warm), with the context open.
typedef struct {
  double cooldown_s;                 // length of the cool-down (0: none measured)
  double cool_start_c, cool_end_c;   // mean temperature of its first and last second
  lj_idle_curve fit;                 // fit.usable: dynamic energies use idle at each window's temperature
} lj_profile_idle_curve;

// One phase window: `units` executions of the phase back to back.
typedef struct {
  lj_phase phase;
  int repeat;                    // 0 .. repeats - 1
  int64_t units;
  int64_t tokens_per_unit;       // prompt tokens (tokenize, prefill), generated tokens (decode, detokenize)
  lj_window_result w;            // energy by counter and by samples, flags
  double host_s;                 // host time inside the window (timing-only runs: the only figure)
  double temperature_c;          // mean GPU temperature inside (NAN: unknown; not stored: the budget uses it)
} lj_phase_window;

// One phase over its repeats, per unit.
typedef struct {
  lj_phase phase;
  int n;                         // windows (0: phase not measured)
  int64_t tokens_per_unit;
  lj_mean_ci time_s;
  lj_mean_ci gross_j, dynamic_j; // samples where window_flags has LJ_WINDOW_SAMPLE_ENERGY, else the counter
  lj_mean_ci sample_gross_j;     // driver buffer
  double gross_j_per_token, dynamic_j_per_token;
  double tokens_per_gross_j, tokens_per_dynamic_j;
  uint32_t window_flags;         // OR over the windows
} lj_phase_summary;

// How a stage's per-call energy was obtained.
typedef enum {
  LJ_METHOD_ISOLATION = 0,  // the stage alone, cycling all layers, back to back (or in bursts)
  LJ_METHOD_SEQUENCE = 1,   // the layer's stages from the first up to this one, in the run's order,
                            // cycling all layers back to back; per call = that prefix minus the one before
  LJ_METHOD_COUNT,          // the methods above have a closure each; those below do not
  LJ_METHOD_LOO = LJ_METHOD_COUNT,  // trials: the whole layer in the run's order without key.stage
                            // (LJ_STAGE_NONE, "none": nothing left out, the whole layer)
  LJ_METHOD_ORDER,          // trials: the whole layer in another legal order (variant: which order)
  LJ_METHOD_KNOWN,          // trials of the known-answer check (variant: lj_known_variant)
  LJ_METHOD_SHAPLEY,        // estimates: (isolation + (whole layer - layer without the stage)) / 2
  LJ_METHOD_LAYER,          // trials: one whole decoder layer (key.layer) replayed alone (--per-layer);
                            // key.stage lm_head: the final norm + LM head on the last layer's input
                            // (variant 1) or on their own (variant 0), for that layer's skip check
  LJ_METHOD_LAYER_STAGE,    // trials: one stage (key.stage) of one layer (key.layer) alone (--per-layer)
  LJ_METHOD_HEAD_GRID,      // trials: decode attention alone on its own K and V at (batch, kv_len, groups)
                            // (--head-fit; trial: its place in the grid's randomised order)
  LJ_METHOD_SHAPLEY_LAYER,  // estimates: the Shapley value of the layer's own game fitted to every
                            // window of the rounds (shapley_layer.h)
  LJ_METHOD_ALL_COUNT
} lj_profile_method;
// "isolation", "sequence", "loo", "order", "known_answer", "shapley", "layer", "layer_stage", "head_grid",
// "shapley_layer"
const char *lj_profile_method_name(lj_profile_method m);
// The plan's execution mode and GEMV setting, an empty field (a record from before it) read as what
// ran then: "none" and "defaults".
const char *lj_plan_fusion(const lj_profile_plan *p);
const char *lj_plan_gemv(const lj_profile_plan *p);
// The name of the prefill "context" method of stores written before it was removed: the
// store reader skips its rows and says so in the notes.
#define LJ_METHOD_LEGACY_CONTEXT_NAME "context"

// The stage orders of LJ_METHOD_ORDER trials (variant 1 ..), and the run's own (variant 0).
// With captured inputs every order is computable: each stage reads buffers that hold real
// activations of its shape, whatever ran before it.
// A layer at tensor-parallel degree 1 runs LJ_LAYER_STAGES stages (attn_norm .. down, no all-reduce);
// above 1 it runs LJ_LAYER_STAGES_TP (attn_allreduce after o_proj, mlp_allreduce after down).
#define LJ_LAYER_STAGES 9
#define LJ_LAYER_STAGES_TP 11
#define LJ_LAYER_ORDERS 3
// Windows of the whole layer in the run's order per round of the Shapley rounds (leave-one-out of no
// stage, variants 0 ..): the additive check weighs it (n - 2) / 2 = 3.5 times, and one 0.2 s window's
// spread (~3%) set its interval (docs/attribution.md §2d).
#define LJ_LAYER_WHOLE_REPEATS 5
// Stage k (0 .. LJ_LAYER_STAGES - 1) of order `variant` at degree 1; "run", "reversed", "interleaved".
lj_stage lj_layer_order_stage(int variant, int k);
// The same at tensor-parallel degree `degree` (k < lj_layer_stages(degree)): the orders with the
// all-reduce stages where they run, and without them at degree 1 (lj_layer_order_stage).
lj_stage lj_layer_order_stage_tp(int variant, int k, int degree);
int lj_layer_stages(int degree);
const char *lj_layer_order_name(int variant);

// Known-answer trials (method LJ_METHOD_KNOWN): key.stage says what ran (LJ_STAGE_NONE: the
// calibration copy alone; LJ_STAGE_O_PROJ: the layer's prefix attn_norm .. o_proj; LJ_STAGE_DOWN:
// the whole layer), variant how.
typedef enum {
  LJ_KNOWN_WITHOUT = 0,     // the prefix or layer without the calibration copy
  LJ_KNOWN_WITH = 1,        // the same with the copy after o_proj
  LJ_KNOWN_ALONE_LONG = 2,  // the copy alone, back to back, in long windows: the known answer
  LJ_KNOWN_ALONE = 3,       // the copy alone at the isolation replay's settings: its estimate
} lj_known_variant;

// One replay trial with what it belongs to.
typedef struct {
  lj_stage_key key;              // sequence: the last stage of the replayed prefix (t.calls = prefixes run)
  int trial;
  int groups;                    // attention KV groups active (head fit); 0 = all
  int batch;                     // sequences of the call (head grid: the point's); 0 = the run's batch
  lj_profile_method method;
  int variant;                   // order: lj_layer_order_name's index; known answer: lj_known_variant
  lj_replay_trial t;
} lj_profile_trial;
// 1 for a window of the whole layer in the Shapley rounds (leave-one-out of no stage): one of the
// round's LJ_LAYER_WHOLE_REPEATS, whatever its variant; a round's figure is their mean.
static inline int lj_trial_whole_layer(const lj_profile_trial *t) {
  return t->method == LJ_METHOD_LOO && t->key.stage == LJ_STAGE_NONE;
}

// One replayed stage: estimate, analytic work, efficiency and its calls per unit of the phase.
// Sequence estimates: the mean over trial rounds of (prefix to this stage - prefix to the one
// before), per layer; sd, cv and n describe those paired differences.
typedef struct {
  lj_profile_method method;
  lj_replay_estimate est;        // est.key: phase, stage, layer -1 (mean over the layers cycled), kv_len
  lj_stage_cost cost;            // per call
  lj_stage_efficiency eff;       // dynamic per-call energy over cost
  double calls_per_unit;         // calls this estimate stands for in one unit of its phase
  double share_dynamic;          // lj_profile_stage_share: of the reported method's sum; NAN outside it
  double share_gross;
} lj_profile_stage;

// Measurement overhead: the same decode work with and without instrumentation.
typedef struct {
  char what[64];                 // "sampler" (the meter's threads), "timeline" (per-stage CUDA events)
  int n;                         // pairs
  lj_mean_ci off_s, on_s;        // seconds per decode step
  double overhead_pct;           // (on - off) / off x 100
  lj_interval overhead_pct_ci;
} lj_profile_overhead;

// The Shapley split of one phase's decoder layer and its checks (docs/attribution.md §2d), per
// layer call, dynamic energy. With at most pairwise interactions between the layer's stages
// (v(S) = sum a_i + sum b_ij over S), phi_i = (isolation_i + (full - LOO_i)) / 2 exactly, and
// sum phi_i = full. A k-th order interaction c among k stages adds (k/2 - 1) c to the residual.
typedef struct {
  lj_phase phase;
  int64_t kv_len;
  int n_rounds;                  // rounds of (whole layer, every leave-one-out, the other orders)
  int n_stages;                  // stages with a Shapley value (LJ_LAYER_STAGES when complete)
  lj_mean_ci full_j;             // the whole layer, over rounds
  lj_interval sum_isolation_j;   // sum of the isolation estimates
  lj_interval sum_marginal_j;    // sum of (full - LOO_i), paired by round
  lj_interval sum_shapley_j;     // sum of phi_i
  lj_interval interaction_j;     // full - sum of isolation: the pairwise interactions (its own row)
  lj_interval residual_j;        // sum phi - full: 0 with pairwise interactions only
  double residual_pct, residual_lo_pct, residual_hi_pct;  // of full
  double isolation_gap_pct;      // (sum isolation - full) / full x 100
  double marginal_gap_pct;       // (sum marginal - full) / full x 100
  int n_orders;                  // other orders measured
  double order_spread_pct;       // largest |order's mean - full| / full x 100 over them
  int pass;                      // the residual's whole interval within +-5% (the verdict PASS;
                                 // INCONCLUSIVE: only the point within; MISS: the point outside); with
                                 // an uncertainty budget, the residual +- its total (docs/attribution.md §3b)
  // Energy source (docs/attribution.md §1b): the figures above are the power samples' where
  // every window they come from is short (flags LJ_WINDOW_SAMPLE_ENERGY), else the counter's;
  // the counter's whole layer and residual beside them (NAN: not measured);
  // LJ_WINDOW_SOURCES_DISAGREE: the counter's residual outside residual_j's interval.
  double counter_full_j, counter_residual_pct;
  uint32_t flags;
  // The layer's own game (shapley_layer.h, docs/attribution.md §2d): v(S) = sum a_i + J x (GEMM->GEMM
  // junctions of S's cycle), fitted round by round to every window of the rounds (the whole layer,
  // the prefixes, the leave-one-out replays, the orders), from the same source as the figures above;
  // its Shapley values are the shapley_layer rows. layer_windows 0: not made.
  int layer_windows;
  lj_interval layer_junction_j;  // J per GEMM->GEMM junction (estimate NAN: no window tells it apart)
  double layer_residual_pct, layer_residual_lo_pct, layer_residual_hi_pct;  // sum phi (other windows' fit) - whole, %
  char layer_worst[32];          // the window whose deleted residual reaches farthest from 0 ("": none judged)
  double layer_worst_pct, layer_worst_lo_pct, layer_worst_hi_pct;  // its deleted residual (predicted - measured), %
  char layer_verdict[16];        // PASS: every window's whole interval within +-5%; MISS: one wholly outside
} lj_shapley_check;

// The known-answer check of one method in one phase: the calibration copy's energy per call
// as the method attributes it, against the copy alone in long windows.
typedef struct {
  lj_phase phase;
  lj_profile_method method;      // isolation, sequence, shapley
  int64_t bytes;                 // copied per call
  lj_mean_ci truth_j;            // dynamic J per call, alone in long windows
  lj_interval estimate_j;        // dynamic J per call by the method
  double error_pct, error_lo_pct, error_hi_pct;  // (estimate - truth) / truth x 100
  int reliable;                  // |error_pct| <= 10
  // Energy source, as lj_shapley_check's: the truth and the estimate each from the samples
  // where their windows are short (flags: the estimate's); the counter's figures beside;
  // LJ_WINDOW_SOURCES_DISAGREE: the counter's estimate outside estimate_j's interval.
  double counter_truth_j, counter_estimate_j;
  uint32_t flags;
} lj_known_answer;

// An ablation of one phase against one method's estimate of the skipped stages.
typedef struct {
  lj_phase phase;
  lj_profile_method method;
  lj_ablation a;                 // a.stage: ATTN (attention skipped) or GATE_UP (the MLP skipped)
} lj_ablation_check;

#define LJ_PROFILE_MAX_CHECKS 16

// One decoder layer replayed alone, its stages in the run's order on its own weights
// (docs/attribution.md §2f): per call of that layer, over trials interleaved across the layers.
// The energy source follows §1b (flags: LJ_WINDOW_SAMPLE_ENERGY where every trial took the
// samples). The agreement test across the layers of the phase: t = (this layer - the mean of
// the others) / the se of the variance pooled over the layers, against the Bonferroni critical
// value t_{1 - (1 - level) / (2 L), df}, or the difference's whole interval within +-5%.
typedef struct {
  lj_phase phase;
  int layer;
  int64_t kv_len;
  int n_trials;
  lj_mean_ci dynamic_j, gross_j;  // per call of the layer
  lj_mean_ci time_s;              // per call
  int rank;                       // 1: the dearest dynamic energy of its phase
  double t;                       // the agreement statistic (NAN: unknown)
  double critical;                // its Bonferroni critical value
  int agrees;                     // |t| <= critical (an unknown t agrees)
  uint32_t flags;
} lj_layer_estimate;

// One stage of one decoder layer replayed alone on that layer's own input and weights, the weights
// of a matrix stage rotated over copies so that they stream from HBM (docs/attribution.md §2f): per
// call, over its trials (one by default: no interval). insitu_time_s: the timeline's time per call
// of that stage of that layer (NAN: no timeline); time_ratio = time_s / insitu_time_s.
typedef struct {
  lj_phase phase;
  int layer;
  lj_stage stage;
  int64_t kv_len;
  int n_trials;
  lj_mean_ci dynamic_j, gross_j;  // per call
  lj_mean_ci time_s;              // per call
  double insitu_time_s, time_ratio;
  uint32_t flags;
} lj_layer_stage_estimate;
// A cell replayed this much faster than the timeline's same stage of the same layer ran too fast to
// be the run's work (weights from the L2, another kernel): the report says so.
#define LJ_LAYER_STAGE_LOW_RATIO 0.8

// One layer skipped in the real run (the residual passes through) against its replay
// estimate: a.calls = the layer's calls per phase unit, a.replay_j = calls x the estimate.
// The saving is paired (docs/attribution.md §2f): a.full_j the mean of the two full windows around
// each skipped one, a.ablated_j the skipped ones, a.saved_j the mean of the pairs' differences.
typedef struct {
  lj_phase phase;
  int layer;
  lj_ablation a;
  int pass;                       // the agreement's whole interval ((a.ratio - 1) x 100) within
                                  // +-LJ_LAYER_SKIP_TARGET_PCT (the verdict PASS; MISS: the whole interval
                                  // outside; INCONCLUSIVE: across); the last layer only with head_change_j
  lj_interval head_change_j;      // the last layer: per unit, the final norm + LM head on that layer's input
                                  // less on their own (a.replay_j includes it); NAN: not measured
} lj_layer_skip;
#define LJ_LAYER_SKIP_TARGET_PCT 10.0
#define LJ_PROFILE_MAX_LAYER_SKIPS 16

// The uncertainty budget of one estimate or check (docs/attribution.md §3b): 95% half-widths
// (at plan.level) of the independent terms, in J of value_j, and their sum in quadrature. Each
// term says its basis: "measured" (from this run's spread or fit), "bound" (derived from a
// stated period or assumption) or "not measured" (kept out of the total and of every verdict).
typedef struct {
  char kind[16];                 // "phase", "j_per_token", "stage", "layer", "closure", "shapley",
                                 // "known_answer", "ablation"
  lj_phase phase;
  lj_profile_method method;      // stage, closure, known answer, ablation: the method (else isolation)
  lj_stage stage;                // stage: its stage; ablation: the skipped group's first; else LJ_STAGE_NONE
  int layer;                     // layer estimates: the layer; else -1
  int64_t kv_len;                // stage estimates: the KV length replayed; else 0
  double value_j;                // the estimate (per call, per unit, per token); a check: what it
                                 // tests (predicted - measured, the residual, estimate - truth, saved - replay)
  double reference_j;            // what the percentages are of: the estimate, or the check's reference
  double trial_j, idle_j, edge_j, card_j;  // half-widths (NAN: not measured)
  char trial_basis[16], idle_basis[16], edge_basis[16], card_basis[16];
  double source_j;               // phase, J/token: |mean of counter - samples| over the windows (schema 20)
  char source_basis[16];         // "" (a file before schema 20) reads as not measured
  double total_j;                // the measured and bound terms in quadrature
} lj_budget;
#define LJ_BUDGET_MEASURED "measured"
#define LJ_BUDGET_BOUND "bound"
#define LJ_BUDGET_NOT_MEASURED "not measured"

#define LJ_PROFILE_MAX_RANKS 8  // tensor-parallel degrees 1, 2, 4, 8 (docs/tensor-parallel.md)

// What one rank's GPU saw of a tensor-parallel run (docs/tensor-parallel.md §4): every replay trial
// runs all ranks together, and each GPU's own meter reads the same window; its idle baseline is
// its own. The rank's stage estimates (isolation, Shapley) and Shapley checks are made from its
// trials alone, so that the additive check holds (or not) on each GPU.
typedef struct {
  double idle_w, idle_sd_w;      // the GPU's idle baseline (NAN: not measured)
  lj_profile_trial *trials;      // trial i of the run (same order, n_trials) as this GPU read it; NULL: none
  size_t n_trials;
  lj_profile_stage *stages;      // the rank's isolation and Shapley estimates (NULL: none)
  size_t n_stages;
  lj_shapley_check shapley[LJ_PHASE_COUNT];  // n_rounds 0: not computed
  lj_budget *budgets;            // the uncertainty budgets of its estimates and checks (its checks' verdicts)
  size_t n_budgets;
  // Its GPU's coolest and hottest readings (its idle's included) and its mean over each phase's
  // windows: what its leakage term in the budgets takes (NAN: unknown; not stored, as the windows'
  // temperatures are not).
  double temperature_min_c, temperature_max_c, phase_temperature_c[LJ_PHASE_COUNT];
  // Its GPU's idle against temperature, fitted from its own samples of the start-of-run idle and of
  // the cool-down every GPU idled through at once (schema 22); where usable its windows and trials
  // subtract idle at its own temperature, else its flat idle_w.
  lj_profile_idle_curve idle_curve;
  int idle_curve_valid;          // 1: a cool-down was measured on its GPU
} lj_profile_rank;

typedef struct {
  lj_profile_plan plan;
  lj_profile_conditions cond;
  int complete;                  // 0: cut short (Ctrl-C, error): what is here was measured

  lj_phase_window *windows;
  size_t n_windows;
  lj_phase_summary phases[LJ_PHASE_COUNT];  // tp_degree > 1: the sum over the ranks
  // tp_degree > 1: each rank's (GPU's) own phase summaries, rank r on device index r (n 0: not measured)
  lj_phase_summary rank_phases[LJ_PROFILE_MAX_RANKS][LJ_PHASE_COUNT];
  int n_ranks;                   // ranks with phase summaries (0: none apart from the sum)
  lj_profile_rank ranks[LJ_PROFILE_MAX_RANKS];  // tp_degree > 1: each rank's idle, trials and Shapley split

  lj_profile_trial *trials;
  size_t n_trials;
  lj_profile_stage *stages;
  size_t n_stages;

  lj_closure closure[LJ_PHASE_COUNT];  // isolation estimates: prefill and decode (n_terms 0: not computed)
  lj_closure closure_sequence[LJ_PHASE_COUNT]; // sequence estimates (prefill, decode; n_terms 0: not computed)

  lj_stage_interval *intervals;  // the in-situ timeline's stage intervals
  double *interval_energy_j;     // (n_intervals) gross energy of each
  int *interval_step;            // (n_intervals) decode step (0 = prefill)
  size_t n_intervals;
  lj_timeline_result timeline;
  int timeline_valid;
  double *layer_energy_j[LJ_PHASE_COUNT];  // (n_layers) timeline sums per layer; NULL: none
  double *layer_time_s[LJ_PHASE_COUNT];
  double stamp_cost_s;           // time one in-situ timestamp adds to a stage interval (subtracted
                                 // from the in-situ times per call; NAN: unknown)

  lj_ablation ablation;          // decode, isolation, the group plan.ablation names (MLP for both)
  int ablation_valid;
  lj_ablation_check ablation_checks[LJ_PROFILE_MAX_CHECKS];  // prefill and decode x group x method
  int n_ablation_checks;
  lj_shapley_check shapley[LJ_PHASE_COUNT];  // n_rounds 0: not computed
  lj_known_answer known[LJ_PROFILE_MAX_CHECKS];
  int n_known;
  lj_head_fit head_fit;
  int head_fit_valid;
  int64_t head_fit_kv;           // KV length the head fit was replayed at (stores before schema 13;
                                 // the grid below replaced it)
  lj_head_grid_point *head_points;  // the attention-head grid's points, skipped ones too (schema 13; NULL: none)
  size_t n_head_points;
  lj_head_grid_fit *head_fits;   // its fits: all batches and each batch, energy and time (NULL: none)
  size_t n_head_fits;

  lj_profile_overhead overhead[2];
  int n_overhead;

  lj_profile_idle_curve idle_curve;  // idle against temperature
  int idle_curve_valid;              // 1: a cool-down was measured (schema 10)
  lj_trial_conditions *trial_conds;  // per replay trial whose window had readings (NULL: none)
  size_t n_trial_conds;
  lj_ablation_window *abl_windows;   // the ablations' windows, per phase in the order they ran (schema 16)
  size_t n_abl_windows;
  lj_layer_estimate *layers;     // per phase and layer, phases in order (--per-layer; NULL: none)
  size_t n_layers;
  lj_layer_skip layer_skips[LJ_PROFILE_MAX_LAYER_SKIPS];
  int n_layer_skips;
  lj_layer_stage_estimate *layer_stages;  // per phase, layer and stage (--per-layer; NULL: none)
  size_t n_layer_stages;
  lj_budget *budgets;            // the uncertainty budget of each estimate and check (schema 12; NULL: none)
  size_t n_budgets;

  char notes[2048];              // what the run could not do, one sentence each
} lj_profile_result;

// The closure of phase p by method m (Shapley: the sequence closure, the whole layer's, to which
// its values add up when its additive check passes).
const lj_closure *lj_profile_closure_of(const lj_profile_result *r, lj_phase p, lj_profile_method m);

void lj_profile_result_init(lj_profile_result *r);
// The tensor-parallel rank of the run's own figures (the main arrays): 0 at degree 1, -1 (the sum
// over the ranks) above. The store keys the per-rank tables by it (schema 14, tp_rank).
int lj_profile_main_rank(const lj_profile_plan *p);
void lj_profile_result_free(lj_profile_result *r);
// Appends (the arrays grow); LJ_ENOMEM on failure.
int lj_profile_add_window(lj_profile_result *r, const lj_phase_window *w);
int lj_profile_add_trial(lj_profile_result *r, const lj_profile_trial *t);
// A stage given with n = 0 counter figures and without LJ_WINDOW_SAMPLE_ENERGY is the counter's:
// its estimate is copied into counter_gross_j and counter_dynamic_j.
int lj_profile_add_stage(lj_profile_result *r, const lj_profile_stage *s);
int lj_profile_add_interval(lj_profile_result *r, const lj_stage_interval *iv, int step);
// Appends a sentence to notes.
void lj_profile_note(lj_profile_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// 1 when s is one of the estimates method m's closure sums: its own, and for the
// sequence method the isolation estimates of the stages they did not measure (in a phase they measured).
int lj_profile_stage_in_method(const lj_profile_result *r, const lj_profile_stage *s, lj_profile_method m);
// The method whose estimates the report's stage shares of phase p use: Shapley where its
// additive check passed, else sequence where its closure was computed, else isolation.
lj_profile_method lj_profile_reported_method(const lj_profile_result *r, lj_phase p);
// The share of s in its phase: calls_per_unit x its mean per call over the sum of the same over
// every estimate of the reported method (lj_profile_stage_in_method), so that the shares of one
// phase sum to 1 with one denominator; NAN for an estimate outside that method or a zero sum.
double lj_profile_stage_share(const lj_profile_result *r, const lj_profile_stage *s, int dynamic);

// The agreement verdict of phase p's per-layer estimates: 1 PASS (every layer agrees), 0 MISS,
// -1 none measured; *worst (may be NULL) gets the layer with the largest |t| (-1: none).
int lj_profile_layer_agreement(const lj_profile_result *r, lj_phase p, int *worst);
int lj_profile_add_layer(lj_profile_result *r, const lj_layer_estimate *l);
int lj_profile_add_layer_stage(lj_profile_result *r, const lj_layer_stage_estimate *l);
int lj_profile_add_trial_conditions(lj_profile_result *r, const lj_trial_conditions *c);
int lj_profile_add_ablation_window(lj_profile_result *r, const lj_ablation_window *w);
int lj_profile_add_budget(lj_profile_result *r, const lj_budget *b);
int lj_profile_add_head_point(lj_profile_result *r, const lj_head_grid_point *p);
int lj_profile_add_head_fit(lj_profile_result *r, const lj_head_grid_fit *f);
// The budget of (kind, phase, method, stage) (stage LJ_STAGE_NONE: any); NULL: none stored.
const lj_budget *lj_profile_budget_of(const lj_profile_result *r, const char *kind, lj_phase p, lj_profile_method m,
                                      lj_stage s);
// The same among n budgets (a tensor-parallel rank's own: lj_profile_rank.budgets).
const lj_budget *lj_budget_find(const lj_budget *b, size_t n, const char *kind, lj_phase p, lj_profile_method m,
                                lj_stage s);
// total_j / |reference_j| x 100 (NAN: no budget, or no reference).
double lj_budget_total_pct(const lj_budget *b);
// Whether a term of this basis counts: "measured" or "bound" (not "not measured", nor the empty
// text a column added after the file was written reads as).
int lj_budget_basis_counted(const char *basis);

// Stage groups of the report: norms, attention (qkv, rope, attn, o_proj), mlp (gate_up, swiglu,
// down), communication (attn_allreduce, mlp_allreduce: tensor parallelism only), embed, lm_head,
// sample. The fused mode's composites: attn_norm+qkv and rope+attn are attention,
// ffn_norm+gate_up+swiglu is mlp (the norm they fold in goes with them). A group without
// estimates is not shown, so a degree-1 run has no communication row.
typedef enum {
  LJ_GROUP_EMBED = 0,
  LJ_GROUP_NORMS,
  LJ_GROUP_ATTENTION,
  LJ_GROUP_MLP,
  LJ_GROUP_COMM,
  LJ_GROUP_LM_HEAD,
  LJ_GROUP_SAMPLE,
  LJ_GROUP_COUNT
} lj_stage_group;
lj_stage_group lj_stage_group_of(lj_stage s);
const char *lj_stage_group_name(lj_stage_group g);
