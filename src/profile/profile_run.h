// Running a profile: the options of `llamajoule profile` and the two runners,
// the GPU one (energy by every method of docs/attribution.md) and the CPU
// one (timing only: no power source can see a CPU's energy here).
#pragma once
#include <signal.h>
#include <stdint.h>

#include "store/profile_result.h"
#include "store/store.h"

typedef struct {
  const char *model;        // preset or checkpoint directory
  const char *prompt;       // text, or NULL: the built-in text
  const char *tokenizer;    // tokenizer.json, or NULL: the checkpoint's, then the installed one
  int batch;                // sequences (1)
  int prompt_len;           // prompt tokens per sequence (128); the text is cut or repeated to it
  int gen_len;              // generated tokens per sequence (128)
  int repeats;              // phase windows per phase (3)
  int trials;               // replay trials per stage (3)
  int device;               // CUDA device (0)
  double replay_seconds;    // per trial (2.0)
  double replay_duty;       // fraction of a trial the stage runs (0.5; 1.0: back to back)
  double phase_seconds;     // minimum per phase window (1.0)
  double idle_seconds;      // idle measurement before the run (5.0); 0 with idle_w given
  double idle_w;            // NAN: measure
  double cooldown_seconds;  // idle after the measurements, for the idle curve (6.0; 0: none)
  double level;             // 0.95
  int n_decode_kv;          // decode KV lengths at which attention is replayed (3)
  int ablation;             // 0 none, 1 attention, 2 the MLP, 3 both (default), in prefill and decode
  int ablation_rounds;      // rounds of the ablation windows (4; --quick 3; docs/cli.md)
#define LJ_PROFILE_MAX_ABLATION_ROUNDS 32  // LJ_PROFILE_MAX_PAIRS (profile_analyze.h) sizes the windows' arrays
  int head_fit, timeline, overhead;  // 1 = run (default; head_fit: off, --head-fit)
  // The attention-head grid (--head-fit; docs/attribution.md "Attention heads"): its KV lengths,
  // batches and active KV-group counts (n 0: the defaults, lj_head_grid_defaults), replicate trials
  // per point and the length of one trial.
#define LJ_HEAD_GRID_MAX_VALUES 16
  int head_kv[LJ_HEAD_GRID_MAX_VALUES], n_head_kv;
  int head_batch[LJ_HEAD_GRID_MAX_VALUES], n_head_batch;
  int head_groups[LJ_HEAD_GRID_MAX_VALUES], n_head_groups;
  int head_reps;            // trials per point (2)
  double head_trial_s;      // seconds of one trial (0.3)
  int sequence;             // 1: the layer's stages also measured by sequence replay, prefill and decode (default 1)
  int shapley;              // 1: leave-one-out and permuted-order replays of the layer: the Shapley split (default 1)
  int per_layer;            // 1: each decoder layer replayed alone, prefill and decode (--per-layer; default 0)
  int layer_stages;         // with per_layer, 1: also each stage of each layer alone (default 1; --no-layer-stages)
  int skip_rounds;          // with per_layer: rounds of the layer-skip windows (10; --quick 4; docs/cli.md)
#define LJ_PROFILE_MAX_SKIP_ROUNDS 32  // LJ_PROFILE_MAX_PAIRS (profile_analyze.h) sizes the windows' arrays
  int known_answer_mb;      // MiB of the known-answer calibration copy; 0: no known-answer check (default)
#define LJ_KNOWN_ANSWER_AUTO (-1)  // --known-answer without a size: lj_known_answer_mb of the model
  int threads;              // CPU engine threads (0 = all)
  int tp_degree;            // tensor-parallel ranks (1; docs/tensor-parallel.md)
  int tp_backend;           // lj_tp_backend of the GPU's ranks: nccl (default, rank r on GPU r) or loopback (one GPU)
  uint64_t seed;
  int weights;              // lj_weight_format of the CUDA engine (bf16)
  int fp8_scale;            // with FP8 weights, lj_fp8_scale_mode (per row); quantised on load, both engines
  int fusion;               // lj_cuda_fusion_mode of the CUDA engine (LJ_FUSION_NONE; production: fused decode)
  int gemv;                 // the CUDA engine's decode GEMVs: LJ_GEMV_CHOICE_DEFAULTS (0) or one bf16 configuration
                            // on every shape class (engine/cuda/gemv_choice.h; --gemv-config)
  int progress;             // progress on stderr (when a terminal)
  lj_store *store;          // samples streamed here when not NULL
  int64_t run_id;
  volatile sig_atomic_t *interrupted;  // set by a signal handler: stop and keep what was measured
} lj_profile_options;

void lj_profile_options_default(lj_profile_options *o);
// `profile --quick`: a first look at 1B within ~90 s on an H100 (docs/cli.md): 2 repeats of 1 s
// phase windows, 3 replay trials of 0.3 s (their energies from the power samples), decode
// attention at 2 KV lengths, a 2 s idle measurement; no sequence replay, Shapley rounds, ablation,
// head fit or overhead pairs. The intervals come out wider. Options given with it override these.
void lj_profile_options_quick(lj_profile_options *o);

// Each returns 0, or a negative lj_status; the result holds whatever was measured
// before a failure or an interruption (r->complete = 0 then).
int lj_profile_run_gpu(const lj_profile_options *o, lj_profile_result *r);
int lj_profile_run_cpu(const lj_profile_options *o, lj_profile_result *r);
// The GPU profile of a tensor-parallel group (profile_gpu_tp.c): phase windows on every rank's GPU.
int lj_profile_run_gpu_tp(const lj_profile_options *o, lj_profile_result *r);
// LJ_EUNSUPPORTED naming the option for a method the tensor-parallel GPU profile does not have yet
// (--per-layer, --head-fit, --known-answer, --fusion production), LJ_EINVAL for --device with nccl.
int lj_profile_gpu_tp_check(const lj_profile_options *o);

// Adds a closed phase window to the result and writes it to o->store (when
// set) in its own transaction. A failed write is warned about once (*warned)
// and does not stop the run: the profile stored at the end holds the window.
int lj_profile_keep_window(const lj_profile_options *o, lj_profile_result *r, const lj_phase_window *w, int *warned);
// Writes the plan to o->store (when set) as the run starts, so that a run killed before its end
// reads back (report) with the windows it kept. A failed write is warned about and does not stop
// the run: the profile stored at the end holds the plan.
void lj_profile_keep_plan(const lj_profile_options *o, const lj_profile_result *r);
