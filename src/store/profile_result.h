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
  char weights[8];        // "bf16" or "fp8": the linear layers' format (engine/weight_format.h)
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
  int ablation;           // 0: none; 1: attention skipped; 2: the MLP (gate_up, swiglu, down) skipped
  int head_fit;           // 1: the attention-head fit ran
  int sequence;           // 1: the layer's stages were also measured by sequence replay (prefill and decode)
  uint64_t seed;          // weights and offsets
  char prompt_source[32]; // "text" (--prompt), "built-in text", "token ids" (no tokenizer)
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

// One phase window: `units` executions of the phase back to back.
typedef struct {
  lj_phase phase;
  int repeat;                    // 0 .. repeats - 1
  int64_t units;
  int64_t tokens_per_unit;       // prompt tokens (tokenize, prefill), generated tokens (decode, detokenize)
  lj_window_result w;            // energy by counter and by samples, flags
  double host_s;                 // host time inside the window (timing-only runs: the only figure)
} lj_phase_window;

// One phase over its repeats, per unit.
typedef struct {
  lj_phase phase;
  int n;                         // windows (0: phase not measured)
  int64_t tokens_per_unit;
  lj_mean_ci time_s;
  lj_mean_ci gross_j, dynamic_j; // counter; samples for a window < 2 counter periods (LJ_WINDOW_SAMPLE_ENERGY)
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
  LJ_METHOD_COUNT
} lj_profile_method;
const char *lj_profile_method_name(lj_profile_method m);  // "isolation", "sequence"
// The name of the prefill "context" method of stores written before it was removed: the
// store reader skips its rows and says so in the notes.
#define LJ_METHOD_LEGACY_CONTEXT_NAME "context"

// One replay trial with what it belongs to.
typedef struct {
  lj_stage_key key;              // sequence: the last stage of the replayed prefix (t.calls = prefixes run)
  int trial;
  int groups;                    // attention KV groups active (head fit); 0 = all
  lj_profile_method method;
  double gap_s;                  // idle gaps inside the window (replay duty < 1): t's counter and
                                 // sample energies exclude idle_w x gap_s, its duration excludes gap_s
  lj_replay_trial t;
} lj_profile_trial;

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

typedef struct {
  lj_profile_plan plan;
  lj_profile_conditions cond;
  int complete;                  // 0: cut short (Ctrl-C, error): what is here was measured

  lj_phase_window *windows;
  size_t n_windows;
  lj_phase_summary phases[LJ_PHASE_COUNT];

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

  lj_ablation ablation;
  int ablation_valid;
  lj_head_fit head_fit;
  int head_fit_valid;
  int64_t head_fit_kv;           // KV length the head fit was replayed at

  lj_profile_overhead overhead[2];
  int n_overhead;

  char notes[2048];              // what the run could not do, one sentence each
} lj_profile_result;

// The closure of phase p by method m.
const lj_closure *lj_profile_closure_of(const lj_profile_result *r, lj_phase p, lj_profile_method m);

void lj_profile_result_init(lj_profile_result *r);
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
// The method whose estimates the report's stage shares of phase p use: sequence where its
// closure was computed, else isolation.
lj_profile_method lj_profile_reported_method(const lj_profile_result *r, lj_phase p);
// The share of s in its phase: calls_per_unit x its mean per call over the sum of the same over
// every estimate of the reported method (lj_profile_stage_in_method), so that the shares of one
// phase sum to 1 with one denominator; NAN for an estimate outside that method or a zero sum.
double lj_profile_stage_share(const lj_profile_result *r, const lj_profile_stage *s, int dynamic);

// Stage groups of the report: norms, attention (qkv, rope, attn, o_proj), mlp (gate_up, swiglu,
// down), embed, lm_head, sample.
typedef enum {
  LJ_GROUP_EMBED = 0,
  LJ_GROUP_NORMS,
  LJ_GROUP_ATTENTION,
  LJ_GROUP_MLP,
  LJ_GROUP_LM_HEAD,
  LJ_GROUP_SAMPLE,
  LJ_GROUP_COUNT
} lj_stage_group;
lj_stage_group lj_stage_group_of(lj_stage s);
const char *lj_stage_group_name(lj_stage_group g);
