// The GPU profile's shared state and the pieces every measurement method of
// the GPU runner uses: units of work (one load, tokenization, prefill,
// generation, detokenization), the pre-roll before a window, timed windows,
// the trial bookkeeping. The runner (profile_gpu.c) schedules the methods;
// each method lives in its own gpu_*.c file and says what it measures and
// which check can prove it wrong.
#pragma once
#include <stdint.h>

#include "common/error.h"
#include "common/progress.h"
#include "profile/budget.h"
#include "profile/part_times.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/cuda_generate.h"
#include "profile/profile_analyze.h"
#include "profile/profile_meter.h"
#include "profile/profile_prompt.h"
#include "profile/profile_run.h"

typedef struct {
  const lj_profile_options *o;
  lj_profile_result *r;
  lj_profile_meter m;
  lj_cuda_engine *e;
  // Tensor parallelism (profile_gpu_tp.c): the ranks (e stays NULL), their backend, rank 0's last
  // logits (batch x vocab, host) and each sequence's next token.
  lj_cuda_tp *tp;
  int tp_backend;
  float *tp_logits;
  int32_t *tp_next;
  int32_t *tp_work;          // (5 x batch) the decode unit's arrays
  lj_profile_prompt prompt;
  const char *ckpt_dir;      // NULL for a preset
  int *n_tokens;             // (batch) prompt_len each
  int *prompt_lens;          // (batch) prompt_len each, for rewinds
  int32_t *gen_steps;        // (gen_len, batch) as lj_cuda_generate writes them
  int32_t *gen_ids;          // (batch, gen_len) for detokenize
  int *window_handles;       // parallel to r->windows
  int *trial_handles;        // parallel to r->trials
  // ablation windows: [phase: 0 prefill, 1 decode][in the order they ran], abl_kind LJ_ABLATE_*
  int abl_handles[2][LJ_ABL_MAX_WINDOWS];
  int64_t abl_units[2][LJ_ABL_MAX_WINDOWS];
  int abl_kind[2][LJ_ABL_MAX_WINDOWS];
  int n_abl[2];
  // layer-skip windows: [phase][in the order they ran], slot 0 full, 1.. raw.skip_layer[slot] skipped
  int skip_handles[2][LJ_SKIP_MAX_WINDOWS];
  int64_t skip_units[2][LJ_SKIP_MAX_WINDOWS];
  int skip_slot[2][LJ_SKIP_MAX_WINDOWS];
  int n_skip[2];
  lj_profile_raw raw;
  lj_progress progress;
  int64_t done;
  uint64_t rng;
  int store_warned;          // a window write failed (warned once)
  // The current state's recorded stage inputs (lj_gpu_record_stage_inputs), set on e; noted once.
  lj_cuda_stage_inputs *stage_in;
  int stage_in_noted;
  lj_part_times parts;  // wall time of each part of the run, noted at its end
} gpu_run;

int lj_gpu_interrupted(const gpu_run *g);
// The run's host arrays (n_tokens, prompt_lens, gen_steps, gen_ids; gpu_units.c), and their free
// with the tensor-parallel ones and the window and trial handles.
int lj_gpu_run_alloc(gpu_run *g);
void lj_gpu_run_free(gpu_run *g);
// 1 when the engine runs its fused mode (--fusion production): decode runs composite stages; the
// methods whose replays list the layer's simple stages run on prefill only (docs/attribution.md).
static inline int lj_gpu_fused(const gpu_run *g) { return g->o->fusion != LJ_FUSION_NONE; }
#define STOP_IF_INTERRUPTED(g) \
  do { if (lj_gpu_interrupted(g)) return LJ_FAIL(LJ_EINTERRUPTED, "profile: interrupted"); } while (0)

void lj_gpu_step_done(gpu_run *g);
// The run's conditions made readable at its end: throttle reasons named, an empty range NAN (profile_gpu.c).
void lj_gpu_finish_conditions(lj_profile_result *r);
// Uniform in [0, 1) from the run's seed (trial offsets).
double lj_gpu_uniform01(gpu_run *g);

// ---------------------------------------------------------------- units of work (gpu_units.c)

typedef int (*gpu_unit_fn)(gpu_run *g);
int lj_gpu_unit_load(gpu_run *g);
int lj_gpu_unit_tokenize(gpu_run *g);
int lj_gpu_unit_prefill(gpu_run *g);
int lj_gpu_unit_decode(gpu_run *g);     // one generation from the prompt's cache (synchronises)
int lj_gpu_unit_detokenize(gpu_run *g);
void lj_gpu_keep_generated(gpu_run *g);  // gen_steps -> gen_ids
// The same units on the tensor-parallel ranks (gpu_tp_units.c), eager: every rank runs every stage,
// the all-reduce stages join them; each unit ends with every rank's stream synchronised.
int lj_gpu_tp_unit_load(gpu_run *g);
int lj_gpu_tp_unit_prefill(gpu_run *g);   // the prompts from an empty cache; keeps each one's next token
int lj_gpu_tp_unit_decode(gpu_run *g);    // gen_len tokens from the prompt's cache (greedy, host argmax)
// lj_gpu_prefill_state and lj_gpu_decode_state_at on the ranks (every rank's batch kept by
// lj_cuda_tp_prepare_batch; b is rank 0's, g->e).
int lj_gpu_tp_prefill_state(gpu_run *g, lj_cuda_batch *b);
int lj_gpu_tp_decode_state_at(gpu_run *g, int64_t kv, lj_cuda_batch *b);

// Seconds of the same work run just before a GPU window opens. The energy counter
// updates every ~100 ms and a read returns its last update, so a window's begin
// reading counts up to 100 ms of what ran before it and its end reading misses up to
// 100 ms of its own work. After idle that bias is -(busy - idle power) x 50 ms a
// window (about -4% of a 1 s prefill window); after an update period of the same work
// the two ends cancel on average. The phase windows, the measured whole every method
// is closed against, keep two periods: a margin that costs ~1 s a profile.
#define LJ_GPU_PREROLL_S 0.2

// Units for at least `seconds` (at least one), outside any window.
int lj_gpu_preroll_units(gpu_run *g, gpu_unit_fn fn, double seconds);

// ---------------------------------------------------------------- windows (gpu_phase_windows.c)

// Units back to back in one window until it is at least phase_seconds long, after
// `preroll_s` of the same units (0: none).
int lj_gpu_timed_window(gpu_run *g, const char *name, gpu_unit_fn fn, int max_units, double preroll_s, int *handle,
                        int64_t *units, double *host_s);
int lj_gpu_phase_window(gpu_run *g, lj_phase ph, int repeat, int64_t tokens_per_unit, gpu_unit_fn fn,
                        int max_units);
// A warm-up unit of each (cuBLASLt plans, the decode graph, the generated ids for detokenize), then
// --repeats rounds of tokenize, prefill, decode and detokenize windows, interleaved so that drift
// spreads over the phases; prefill and decode are the engine's units (one GPU's, or the ranks').
int lj_gpu_phase_rounds(gpu_run *g, gpu_unit_fn prefill, gpu_unit_fn decode);
// One window of a bracketed schedule (bracket.h: the layer skips, the ablations), with the engine
// as the caller set it: one unit outside the window (it captures the graph of those settings), then
// a timed window after the short pre-roll, so >= 0.1 s of the window's own work precedes it (its
// energy is the samples').
int lj_gpu_bracket_window(gpu_run *g, int pi, const char *name, int *handle, int64_t *units);

// ---------------------------------------------------------------- replays (gpu_replay_span.c)

// A trial whose window (handle h) is read once the sampler stops.
int lj_gpu_keep_trial(gpu_run *g, int h, const lj_profile_trial *tr);
// Replays the stages first .. last on batch b, n_trials windows numbered from trial0.
int lj_gpu_replay_span(gpu_run *g, lj_phase ph, lj_stage first, lj_stage last, int64_t kv, const lj_cuda_batch *b,
                       int groups, lj_profile_method method, int trial0, int n_trials, double seconds, double duty);
// What a replay runs per call and how its trials are filed: the stages first .. last in the
// run's order, or (order != NULL) the listed stages in that order (lj_cuda_replay_create_order);
// the trials get key.stage = key_stage and variant; name (NULL: the span's) names windows.
typedef struct {
  lj_stage first, last;
  const lj_stage *order;
  int n;
  lj_stage key_stage;
  int variant;
  const char *name;
  int one_layer;  // 0: cycle all layers; L + 1: layer L alone (lj_cuda_replay_create_layer, key.layer L)
  // With one_layer: the layers' captured inputs; order set: the whole layer on its own input
  // (lj_cuda_replay_create_layer_input); order NULL: stage key_stage of that layer alone
  // (lj_cuda_replay_create_layer_stage).
  const lj_cuda_layer_inputs *in;
  int short_preroll;  // 1: LJ_GPU_SHORT_PREROLL_S + up to one sample period (trials read from the samples)
  int head;           // with in: 1 + a captured slot, the final norm and LM head on it (0: none)
  int grid_batch;     // > 0: decode attention alone on K and V of its own, this many sequences at the replay's
                      // kv and groups (lj_cuda_replay_create_attn_grid; the attention-head grid); b unused
} lj_gpu_replay_what;
// The pre-roll of short trials whose energy is the power samples' (§1b): the counter's 100 ms grid
// does not matter to them; enough for the power to settle to the replay's level (the ~20 ms
// samples see it), plus a random part of one sample period.
#define LJ_GPU_SHORT_PREROLL_S 0.1
#define LJ_GPU_SAMPLE_PERIOD_S LJ_BUDGET_SAMPLE_PERIOD_S
#define LJ_GPU_COUNTER_PERIOD_S LJ_BUDGET_COUNTER_PERIOD_S
// The pre-roll of every other replay trial (their energy too is the samples' where they are whole):
// one counter update period by the clock plus a random part of one period, so that the counter
// beside them (and an estimate that falls back to it) has its begin read's last update inside the
// pre-roll, on the same work, and its start offsets random over its grid. That holds where an update
// covers the power up to its own time; one that reported power sensed tens of ms earlier would leak
// the work before the pre-roll into the window (scripts/analysis/counter_lag.py fits that lag from
// a store: half a period, no delay, on the H100 profiles). Was 0.2 s (two
// periods), ~0.1 s more a trial: ~60 s of a default 1B profile.
#define LJ_GPU_REPLAY_PREROLL_S LJ_GPU_COUNTER_PERIOD_S
int lj_gpu_replay_run(gpu_run *g, lj_phase ph, const lj_gpu_replay_what *w, int64_t kv, const lj_cuda_batch *b,
                      int groups, lj_profile_method method, int trial0, int n_trials, double seconds, double duty);
// A replay made ready for trials (its graph captured and timed), so that trials of several
// replays can be interleaved: prepare each, run trials of them in any order, release each.
typedef struct {
  lj_gpu_replay_what w;
  lj_stage order[LJ_STAGE_COUNT + 1];  // the engine's most: every stage and the calibration copy
  char name[48];
  lj_phase ph;
  int64_t kv;
  int groups;
  lj_profile_method method;
  lj_cuda_replay *rp;
  lj_cuda_tp_replay *trp;  // tensor parallelism: the ranks' replay (rp NULL)
  int calls, launches, burst;
  double per_launch, seconds, duty;
  int64_t gap_ns;
} lj_gpu_replay_prep;
int lj_gpu_replay_prepare(gpu_run *g, lj_phase ph, const lj_gpu_replay_what *w, int64_t kv, const lj_cuda_batch *b,
                          int groups, lj_profile_method method, double seconds, double duty, lj_gpu_replay_prep *p);
// One pre-rolled trial of p, numbered k.
int lj_gpu_replay_trial(gpu_run *g, lj_gpu_replay_prep *p, int k);
void lj_gpu_replay_release(lj_gpu_replay_prep *p);
// `rounds` rounds over the n prepared replays p, each round every replay once (trial = the
// round) in a new random order from the run's seed; per_round_done: one progress step a round.
int lj_gpu_replay_rounds(gpu_run *g, lj_gpu_replay_prep *p, int n, int rounds, int per_round_done);
// Every stage's inputs of the state b describes recorded and set on the engine, so that the replays
// created next run on the run's bytes (lj_cuda_stage_inputs); where they cannot (fused modes, FP8,
// tensor parallelism, too little memory) the replays run on the live buffers and a note says why.
int lj_gpu_record_stage_inputs(gpu_run *g, const lj_cuda_batch *b);
void lj_gpu_drop_stage_inputs(gpu_run *g);
// A real prefill (its activations stay in the buffers), then b set up as that prefill's batch.
int lj_gpu_prefill_state(gpu_run *g, lj_cuda_batch *b);
// The engine brought to `kv` cached positions by a real prefill and generation;
// b then describes the next decode step.
int lj_gpu_decode_state_at(gpu_run *g, int64_t kv, lj_cuda_batch *b);

// ---------------------------------------------------------------- the methods

int lj_gpu_run_timeline(gpu_run *g);                     // gpu_timeline.c
int lj_gpu_replay_stage(gpu_run *g, lj_phase ph, lj_stage st, int64_t kv, const lj_cuda_batch *b, int groups,
                        int n_trials, double seconds);   // gpu_isolation.c
int lj_gpu_replay_prefill(gpu_run *g);                   // gpu_isolation.c
int lj_gpu_replay_decode(gpu_run *g);                    // gpu_isolation.c (sequence rounds at its middle KV)
int lj_gpu_sequence_prefill(gpu_run *g);                 // gpu_sequence.c (with the Shapley rounds)
// gpu_loo.c: rounds of the layer's sequence prefixes, the whole layer, the layer without each
// stage and in the other orders (what the Shapley split and the sequence method need).
int lj_gpu_layer_rounds(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b);
int lj_gpu_known_answer(gpu_run *g);                     // gpu_known_answer.c
int lj_gpu_layers(gpu_run *g);                           // gpu_layers.c (--per-layer)
int lj_gpu_layer_skips(gpu_run *g);                      // gpu_layer_skip.c (--per-layer)
// gpu_layer_stages.c (--per-layer): each stage of each layer alone on that layer's captured input.
int lj_gpu_layer_stages(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_cuda_layer_inputs *in);
int lj_gpu_head_fit_replay(gpu_run *g);                  // gpu_head_fit.c (the attention-head grid)
// The grid's trials before skips (the progress line's count).
int lj_gpu_head_grid_trials(const lj_profile_options *o, const lj_model_config *c);
int lj_gpu_run_ablation(gpu_run *g);                     // gpu_ablation.c
int lj_gpu_run_overhead(gpu_run *g);                     // gpu_overhead.c
