// `llamajoule sweep`: a study of many profile points (model x batch x prompt
// length x generated length) in one store, each point one profile run with
// its parts switched off (phase windows only) unless --stages asks for the
// per-stage attribution there. The points, their options, the check that a
// point fits the GPU, the time estimate and the running of one point; the
// loop, progress and signals are the command's (src/cli/cmd_sweep.c).
#pragma once
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "profile/profile_run.h"
#include "store/store_study.h"

#define LJ_SWEEP_MAX_VALUES 64

// "1,4,16": integers in [lo, hi], each once; LJ_EINVAL naming `opt` otherwise.
int lj_sweep_parse_ints(const char *opt, const char *s, int lo, int hi, int *out, int cap, int *n);
// "a,b": names, none empty, each once, each shorter than 512 bytes.
int lj_sweep_parse_names(const char *opt, const char *s, char (*out)[512], int cap, int *n);

// The study's points, in the order they run: model, then prompt length, then
// generated length, then batch (so each model's batch curve fills first).
// *out is malloc'd; each point pending, stages off.
int lj_sweep_points_make(char (*models)[512], int n_models, const int *batches, int n_batches, const int *prompts,
                         int n_prompts, const int *gens, int n_gens, lj_study_point **out, size_t *n);

// --stages: "all", "none", or points MODEL:BATCH:PROMPT[:GEN], comma-separated
// (without GEN: every generated length). Sets points[i].stages; a named point
// that is not in the study is refused (LJ_EINVAL naming it).
int lj_sweep_parse_stages(const char *spec, lj_study_point *points, size_t n);

typedef struct {
  const char *engine;    // "cuda" or "cpu": what runs
  int repeats;           // phase windows per phase (3)
  double phase_seconds;  // minimum window length (2)
  double idle_seconds;   // idle measured before each point (2)
  uint64_t seed;
  int device, threads;
  int weights;           // lj_weight_format of the CUDA engine (bf16)
  int fp8_scale;         // with FP8 weights, lj_fp8_scale_mode (per row)
  int gemv;              // the CUDA engine's decode GEMVs (engine/cuda/gemv_choice.h; 0: the per-shape defaults)
} lj_sweep_settings;

void lj_sweep_settings_default(lj_sweep_settings *s);

// The study's identity: engine, settings and points (stages included) as one
// string. A re-run with equal arguments resumes the study; --max-seconds is not part of it.
void lj_sweep_arguments(const lj_sweep_settings *s, const lj_study_point *p, size_t n, char *buf, size_t cap);

// The profile options of one point: phase windows only (no replay trials, no
// timeline, ablation, head fit, overhead or sequence replay; one decode KV
// length), or with p->stages the per-stage attribution (isolation replay at
// 3 KV lengths and sequence replay, 3 trials, and the in-situ timeline).
void lj_sweep_point_options(const lj_sweep_settings *s, const lj_study_point *p, lj_profile_options *o);

// Does the point fit a GPU with `free_bytes` free? The CUDA memory plan as the
// profile loads the model (batch B, context P + G + 1, B x P tokens per
// forward call). 1 fits; 0 does not, with the reason and its numbers in `reason`.
int lj_sweep_point_fits(const lj_model_config *c, int weights, const lj_study_point *p, int64_t free_bytes, char *reason,
                        size_t cap);

// Every point runs but the done ones (skipped points are checked again: the GPU may differ).
int lj_sweep_point_pending(const lj_study_point *p);

// Seconds one point should take before it runs: idle, load, warm-up, the phase
// windows (each at least phase_seconds, or one unit; prefill and decode after a
// 0.2 s pre-roll), the stage attribution when on, and about 3 s of setup and
// storing. Units are timed by a rough roofline (GPU: 400 TFLOP/s, 2.5 TB/s;
// CPU: 10 GFLOP/s). `tokenizer`: tokenize and detokenize windows run.
double lj_sweep_estimate_s(const lj_model_config *c, const lj_profile_options *o, int on_gpu, int tokenizer);

// Measured / estimated seconds over the points that ran (1 when none did): the
// estimates scaled by it predict the next points on this machine.
double lj_sweep_calibration(const lj_study_point *p, size_t n);

// Whether a point predicted to take `predicted_s` may start after `elapsed_s`
// within a budget of `max_seconds` (<= 0: no budget).
int lj_sweep_budget_allows(double elapsed_s, double predicted_s, double max_seconds);

// Runs point `p` as one profile run in `st` (kind "profile", the sweep's
// command line with the point appended): writes the point incomplete with its
// run first, then done, incomplete (interrupted) or failed with the reason.
// Returns 0, LJ_EINTERRUPTED, or the failure (the point and run then say so;
// a failure of the store itself is returned too).
int lj_sweep_run_point(lj_store *st, int64_t study_id, size_t index, lj_study_point *p, const lj_profile_options *o,
                       int on_gpu, const char *command_line, lj_profile_result *r);
