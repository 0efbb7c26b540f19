// The CUDA engine: bf16 Llama 3.x inference (fp32 accumulation) with a KV
// cache for a batch of sequences of different lengths, prefill then decode,
// CUDA graphs for the decode step, and every stage callable on its own.
// Plain C API, usable from C11. Without a CUDA build every call returns
// LJ_ENODEV ("built without CUDA").
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/stage.h"
#include "engine/cuda/attn_decode_variant.h"
#include "engine/cuda/attn_prefill_variant.h"
#include "engine/cuda/fp8_gemv_variant.h"
#include "engine/cuda/gemv_config.h"
#include "engine/weight_format.h"
#include "model/config.h"
#include "model/dtype.h"

typedef struct lj_cuda_engine lj_cuda_engine;

typedef struct {
  int device;           // CUDA device index
  int max_batch;        // sequences (cache slots 0 .. max_batch - 1)
  int max_ctx;          // positions per sequence (prompt + generated)
  int max_tokens;       // tokens per forward call (a longer prefill is done in chunks); 0: 2048
  int use_gemv;         // 1 (default): own GEMV for forward calls of <= 8 tokens; 0: cuBLASLt only
  int print_plan;       // print the memory plan to stderr before allocating
  int weights;          // lj_weight_format: LJ_WEIGHTS_BF16 (default) or LJ_WEIGHTS_FP8 (the linear
                        // layers as E4M3 with per-output-row scales, quantised on load; decode by the
                        // FP8 GEMV, prefill by cuBLASLt FP8 GEMMs; the fused mode runs unfused)
  int fp8_scale;        // with FP8 weights, lj_fp8_scale_mode: LJ_FP8_SCALE_ROW (default) or _TENSOR (one
                        // scale per matrix, stored in every row's slot: the same kernels read it)
} lj_cuda_options;

void lj_cuda_options_default(lj_cuda_options *o);

// The CUDA version the driver supports ("13.0"); "" without a driver or a CUDA build.
void lj_cuda_driver_version(char *buf, int cap);
// Number of usable CUDA devices; 0 without a driver, a GPU or a CUDA build.
int lj_cuda_device_count(void);  // device 0, batch 1, ctx 2048, gemv on

// One host tensor in HF layout (matrices (out, in) row-major); F32, F16 or BF16 (bit
// patterns), each converted to bf16 on the device, or with FP8 weights quantised to E4M3 per
// row on the device (linear layers); F8_E4M3 linear layers with scales load as they are.
typedef struct {
  const void *data;
  lj_dtype dtype;
  const float *scale;  // F8_E4M3 (linear layers only, with opt.weights FP8): one scale per row
} lj_cuda_host_tensor;

typedef struct {
  lj_cuda_host_tensor attn_norm;      // (dim)
  lj_cuda_host_tensor wq;             // (n_heads * head_dim, dim)
  lj_cuda_host_tensor wk, wv;         // (n_kv_heads * head_dim, dim)
  lj_cuda_host_tensor wo;             // (dim, n_heads * head_dim)
  lj_cuda_host_tensor ffn_norm;       // (dim)
  lj_cuda_host_tensor w_gate, w_up;   // (hidden_dim, dim)
  lj_cuda_host_tensor w_down;         // (dim, hidden_dim)
} lj_cuda_host_layer;

typedef struct {
  lj_cuda_host_tensor embed;          // (vocab, dim)
  lj_cuda_host_tensor final_norm;     // (dim)
  lj_cuda_host_tensor lm_head;        // (vocab, dim); data NULL when tied to embed
  const lj_cuda_host_layer *layers;   // (n_layers)
} lj_cuda_host_weights;

// Creation: checks the config, prints/checks the memory plan (refusing what does
// not fit, naming the largest batch that would), allocates, uploads or fills.
int lj_cuda_engine_create(lj_cuda_engine **out, const lj_model_config *cfg,
                          const lj_cuda_host_weights *w, const lj_cuda_options *opt);
// Random weights generated on the device (model/random_init.h, rounded to bf16).
int lj_cuda_engine_create_random(lj_cuda_engine **out, const lj_model_config *cfg, uint64_t seed,
                                 const lj_cuda_options *opt);
// The same for rank `rank` of tensor-parallel degree `degree` (model/tp_shard.h): the rank's layer
// shape (lj_tp_rank_config of cfg), its slices of the whole model's random tensors with the values
// they have there, the replicated tensors whole; no host copy. Degree 1: the call above.
int lj_cuda_engine_create_random_rank(lj_cuda_engine **out, const lj_model_config *cfg, int degree, int rank,
                                      uint64_t seed, const lj_cuda_options *opt);
void lj_cuda_engine_free(lj_cuda_engine *e);

// Forgets every sequence (lengths back to 0).
void lj_cuda_reset(lj_cuda_engine *e);
// Cached length of slot s.
int lj_cuda_seq_len(const lj_cuda_engine *e, int s);

// Prefill: for s < n_seqs, appends n_tokens[s] tokens (tokens packed one
// sequence after the other) to slot s, starting at its cached length. Leaves
// the logits of each sequence's last token (n_seqs rows).
int lj_cuda_prefill(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens);
// The same as one forward call of lj_cuda_prefill (all prompts within max_tokens),
// replayed from a CUDA graph captured on first use for these shapes, so that ~150
// kernel launches cost one graph launch (batch-1 prefill is launch-bound otherwise).
int lj_cuda_prefill_graphed(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens);
// Launches the prefill graph that the last lj_cuda_prefill_graphed call used, n times back to
// back, without touching the cached lengths (each launch redoes the same prefill; for
// whole-phase replays). LJ_EINVAL when there is none (or the skip mask changed since).
int lj_cuda_prefill_graph_launch(lj_cuda_engine *e, int n);
// One decode step: token tokens[s] appended to slot s for s < n_seqs. Leaves n_seqs logits rows.
int lj_cuda_decode(lj_cuda_engine *e, int n_seqs, const int *tokens);
// One forward call in the shape of the shared generate loop (engine/generate.h):
// token i of slot seq[i] at position pos[i]; logits of the rows logit_rows copied to
// `logits` (n_logits, vocab) host. Two shapes are accepted: decode (one token per
// slot, distinct slots, logit_rows = 0 .. n - 1) and prefill (the tokens of slots
// 0 .. k - 1 in order, each at consecutive positions, one logits row per slot).
// Anything else: LJ_EUNSUPPORTED. logits NULL: the rows stay on the device only (for
// lj_cuda_sample_tokens).
int lj_cuda_forward_batch(lj_cuda_engine *e, const int32_t *tokens, const int32_t *seq, const int32_t *pos,
                          int n, const int32_t *logit_rows, int n_logits, float *logits);

// Copies the last call's logits, (n_rows, vocab) fp32, to host memory.
int lj_cuda_get_logits(lj_cuda_engine *e, float *out, int n_rows);

typedef struct {
  float temperature;  // <= 0: greedy
  float top_p;        // >= 1: no nucleus cut
  uint64_t seed;
  int top_k;          // 0: off; else the k most likely tokens before top_p (HF's order)
} lj_cuda_sampling;

// Samples one token per row of the current logits (n_rows), on the GPU. With
// out_tokens, a row of NaN or infinite logits is LJ_EINVAL naming the row.
int lj_cuda_sample_tokens(lj_cuda_engine *e, int n_rows, const lj_cuda_sampling *s, int *out_tokens);

// Generation after a prefill of slots 0 .. n_seqs - 1: samples n_steps tokens per
// sequence (the first from the prefill's logits), feeding each back. Decode steps
// run as one CUDA graph replay each (captured on first use for this n_seqs and
// sampling). out_tokens: (n_steps, n_seqs) host, may be NULL. NaN or infinite
// logits at any step are LJ_EINVAL naming the step and sequence.
int lj_cuda_generate(lj_cuda_engine *e, int n_seqs, int n_steps, const lj_cuda_sampling *s,
                     int *out_tokens);
// Continues the last lj_cuda_generate for n_more steps (same sequences, sampling, graph and
// random stream: the tokens equal those of one longer call). out_tokens: (n_more, n_seqs) host.
int lj_cuda_generate_more(lj_cuda_engine *e, int n_seqs, int n_more, int *out_tokens);

// ---- stage by stage (profiler and ablation)
// A forward call's batch: device arrays, owned by the engine, filled by
// lj_cuda_prepare_batch. seq/pos/kv_len per token; q_start/q_len/ctx_start/last_row per sequence.
typedef struct {
  int n_tokens, n_seqs, decode;  // decode: one token per sequence
  int max_q_len;
  const int *tokens, *seq, *pos, *kv_len;
  const int *q_start, *q_len, *ctx_start, *last_row;
} lj_cuda_batch;

// The activations a stage reads and writes (device pointers; bf16 unless noted).
// Each stage's inputs and outputs (n = n_tokens, S = n_seqs):
//   EMBED       tokens -> x (n, dim)
//   ATTN_NORM   x, delta (layer > 0: previous DOWN output) -> x (+= delta), xn (n, dim)
//   QKV         xn -> qkv (n, q_dim + 2 kv_dim)
//   ROPE        qkv (q rotated in place) -> KV cache of the layer (k rotated, v)
//   ATTN        qkv, KV cache -> attn (n, q_dim)
//   O_PROJ      attn -> delta (n, dim)
//   FFN_NORM    x, delta -> x (+= delta), xn
//   GATE_UP     xn -> gu (n, 2 hidden)   (FP8 prefill with the fold: unscaled sums, scales kept)
//   SWIGLU      gu -> h (n, hidden)      (FP8 prefill with the fold: scales gu first; h's codes too)
//   DOWN        h -> delta (n, dim)      (FP8 prefill with the fold: h's codes from SWIGLU)
//   FINAL_NORM  x, delta at each sequence's last row -> xf (S, dim)
//   LM_HEAD     xf -> logits (S, vocab) fp32
//   SAMPLE      logits -> next (S) int
// x_in, qkv_in: what the norms and ROPE read when not NULL (NULL: x and qkv, in place); a replay on
// recorded inputs (lj_cuda_stage_inputs) points them at a record so that no call changes its input.
typedef struct {
  void *x, *xn, *qkv, *attn, *delta, *gu, *h, *xf;
  float *logits;
  int *next;
  const void *x_in, *qkv_in;
} lj_cuda_acts;

// The engine's own activation buffers (a profiler may copy them and pass its own).
lj_cuda_acts lj_cuda_engine_acts(const lj_cuda_engine *e);
// Uploads a batch description; after it, lj_cuda_run_stage can run any stage on it.
// positions start at each slot's cached length; n_tokens[s] new tokens for slot s.
int lj_cuda_prepare_batch(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens,
                          lj_cuda_batch *out);
// Runs one stage of one layer (layer -1 for EMBED, FINAL_NORM, LM_HEAD, SAMPLE) on the
// engine's stream, inside an NVTX range named after the stage. Skipped stages do nothing.
// Composite stages (lj_stage_is_composite) run their fused kernel whatever the fusion
// mode (or attention variant), on batches of 1 .. 8 tokens (LJ_EUNSUPPORTED beyond;
// ROPE_ATTN: decode calls, any batch).
int lj_cuda_run_stage(lj_cuda_engine *e, lj_stage stage, int layer, const lj_cuda_batch *b,
                      const lj_cuda_acts *a);
// Switches the own GEMV for small batches on or off (benchmarks compare both).
void lj_cuda_set_use_gemv(lj_cuda_engine *e, int on);

// Execution modes. NONE: one kernel per simple stage. PRODUCTION: forward calls that the
// own GEMV serves (<= 8 tokens, use_gemv on; decode) run the composite stages instead
// of their parts: ATTN_NORM_QKV ("attn_norm+qkv": the residual add and RMSNorm folded
// into the QKV GEMV) and FFN_NORM_GATE_UP_SWIGLU ("ffn_norm+gate_up+swiglu": the same
// in the gate|up GEMV, SwiGLU in its epilogue). Larger calls (prefill, cuBLASLt) stay
// unfused. A composite whose parts are skipped (skip mask)
// runs as its parts. Composite inputs and outputs:
//   ATTN_NORM_QKV            x, delta (layer > 0) -> x (+= delta), qkv    (xn not written)
//   FFN_NORM_GATE_UP_SWIGLU  x, delta -> x (+= delta), h                  (xn, gu not written)
// NORM_ONCE (v9, norm_once.h): the attention side as PRODUCTION (ATTN_NORM_QKV); the FFN norm done
// once per token instead of in every gate|up block: O_PROJ_FFN_NORM ("o_proj+ffn_norm": o_proj's
// GEMV, the residual add in its epilogue, its last block the sum of squares) and GATE_UP_SWIGLU
// ("gate_up+swiglu": the norm applied to x chunk by chunk in the gate|up GEMV, SwiGLU in its
// epilogue). One GPU only (the composite would swallow the all-reduce after o_proj).
//   O_PROJ_FFN_NORM  attn, x -> delta, x (+= delta), the norm's rstd per token   (xn not written)
//   GATE_UP_SWIGLU   x, rstd -> h                                             (xn, gu not written)
typedef enum { LJ_FUSION_NONE = 0, LJ_FUSION_PRODUCTION = 1, LJ_FUSION_NORM_ONCE = 2 } lj_cuda_fusion_mode;
// Forward calls of at most this many tokens run fused in the fused modes (LJ_GEMV_MAX_N: the
// fused kernels are GEMVs); larger calls (prefill) run one kernel per stage in either mode.
#define LJ_CUDA_FUSED_MAX_TOKENS 8
// Default LJ_FUSION_NONE. Captured graphs are dropped. LJ_EINVAL for an unknown mode;
// LJ_EUNSUPPORTED for NORM_ONCE on a tensor-parallel rank of degree > 1.
int lj_cuda_set_fusion(lj_cuda_engine *e, int mode);
int lj_cuda_fusion(const lj_cuda_engine *e);
// The stage the forward pass runs at simple stage `st` of a layer for batch b: the composite
// starting there when the fused mode applies, or ROPE_ATTN at ROPE for decode calls with the
// one_rope attention variant (a composite then covers st .. its last part, lj_stage_parts), else
// st itself; never a composite whose parts the skip mask holds. LJ_STAGE_NONE for a stage that
// does not run: the all-reduce stages on one GPU (lj_stage_runs_at_degree).
lj_stage lj_cuda_stage_at(const lj_cuda_engine *e, const lj_cuda_batch *b, lj_stage st);
// The FP8 GEMV kernel of forward calls of <= 8 tokens with FP8 weights (lj_fp8_gemv_variant,
// default LJ_FP8_GEMV_DEFAULT); all compute the same product (fp32 sums in different orders).
// Captured graphs are dropped. LJ_EINVAL for an unknown variant.
int lj_cuda_set_fp8_gemv(lj_cuda_engine *e, int variant);
int lj_cuda_fp8_gemv(const lj_cuda_engine *e);
// FP8 prefill (> 8 tokens): which passes around the FP8 GEMMs are folded into the kernels next to
// them, cumulative levels (docs/engine-cuda.md, FP8 prefill); the same bits at every level
// (lj_cuda_swiglu_fp8, lj_cuda_swiglu_quant, lj_cuda_rmsnorm_fp8). Captured graphs are dropped.
//  OFF    every FP8 GEMM quantises its input and scales its output itself;
//  SWIGLU SWIGLU also quantises h per token for DOWN's GEMM (DOWN reads those, not h), and where
//         gate|up's plan takes cuBLASLt's fallback GATE_UP writes gu unscaled and SWIGLU scales it;
//  NORMS  + ATTN_NORM and FFN_NORM write the per-token E4M3 codes of their output for QKV's and
//         GATE_UP's GEMMs (and not the bf16 output, which nothing else reads);
//  O_PROJ + where o_proj's plan takes the fallback, O_PROJ writes its unscaled sums to delta and
//         FFN_NORM scales them before the residual add (ALL). Down's delta stays scaled.
// Levels outside [OFF, ALL] are clamped.
// The default is all of them: bit for bit the same logits, measured 3.7% faster than SWIGLU on an
// H100 (8B prefill of 2048 tokens, 2026-12-07).
enum { LJ_CUDA_FP8_FOLD_OFF = 0, LJ_CUDA_FP8_FOLD_SWIGLU = 1, LJ_CUDA_FP8_FOLD_NORMS = 2,
       LJ_CUDA_FP8_FOLD_O_PROJ = 3, LJ_CUDA_FP8_FOLD_ALL = LJ_CUDA_FP8_FOLD_O_PROJ,
       LJ_CUDA_FP8_FOLD_DEFAULT = LJ_CUDA_FP8_FOLD_ALL };
void lj_cuda_set_fp8_fold(lj_cuda_engine *e, int level);
int lj_cuda_fp8_fold(const lj_cuda_engine *e);
// Tests: FP8 GEMMs take cuBLASLt's fallback whatever it offers (lj_gemm_lt_set_fp8_scalar_only).
void lj_cuda_set_fp8_scalar_only(lj_cuda_engine *e, int on);
// The prefill attention kernel (lj_attn_prefill_variant, default LJ_ATTN_PREFILL_DEFAULT); the
// mma variants run head_dim 64 and 128 and wmma otherwise (lj_attn_prefill_runs). All compute
// the same attention (fp32 sums in different orders). Captured graphs are dropped. LJ_EINVAL for
// an unknown variant.
int lj_cuda_set_attn_prefill(lj_cuda_engine *e, int variant);
int lj_cuda_attn_prefill(const lj_cuda_engine *e);
// The kernel of FP8 prefill's SwiGLU with down's activation quantisation (LJ_SWIGLU_QUANT_*, swiglu.h;
// default LJ_SWIGLU_QUANT_DEFAULT): every variant gives the same bits. Captured graphs are dropped.
int lj_cuda_set_swiglu_quant(lj_cuda_engine *e, int variant);
int lj_cuda_swiglu_quant_variant(const lj_cuda_engine *e);
// The decode attention kernel(s) (lj_attn_decode_variant, default LJ_ATTN_DECODE_DEFAULT): split
// (rope, attention, combine: three launches), one (rope, then one attention kernel that combines
// in its last block), one_rope (decode calls run the composite ROPE_ATTN, "rope+attn": one kernel
// for both). All give the same bits. Captured graphs are dropped. LJ_EINVAL for an unknown variant.
//   ROPE_ATTN   qkv, KV cache -> KV cache (k rotated, v appended), attn   (q is not rotated in qkv)
int lj_cuda_set_attn_decode(lj_cuda_engine *e, int variant);
int lj_cuda_attn_decode(const lj_cuda_engine *e);
// Decode attention splits per (token, KV head): 0 (default) the rule that fills the GPU
// (lj_attn_decode_splits), n > 0 n splits (at least what shared memory needs); 1 runs no combine
// kernel. Other split counts change the fp32 sums' order. Captured graphs are dropped. LJ_EINVAL
// above the rule's count at batch 1 (the scratch is sized for it).
int lj_cuda_set_attn_splits(lj_cuda_engine *e, int splits);
int lj_cuda_attn_splits(const lj_cuda_engine *e);
// The decode GEMVs' configurations per shape class (lj_gemv_class, LJ_GEMV_CLASS_COUNT entries;
// gemv_config.h): bf16 (rows per block, chunks in flight) and the FP8 pipe variant's (rows, passes
// ahead); NULL keeps that table. Every configuration gives the same bits. Captured graphs are
// dropped. LJ_EINVAL (nothing changed) for an unknown configuration.
int lj_cuda_set_gemv_configs(lj_cuda_engine *e, const int *bf16_cfg, const int *fp8_pipe_cfg);
void lj_cuda_gemv_configs(const lj_cuda_engine *e, int *bf16_cfg, int *fp8_pipe_cfg);
// "none" / "production"; NULL for an unknown mode. Parses back with lj_cuda_fusion_parse
// (-1 for an unknown name).
const char *lj_cuda_fusion_name(int mode);
int lj_cuda_fusion_parse(const char *name);
// Known-answer calibration: from now on every forward pass copies `bytes` (device to device,
// memory bound) after each layer's o_proj, from a source block of that layer to its destination
// block (one pair per layer, so the copies stream from HBM like the weights). It changes no
// activation: the run computes what it computes without it. 0 turns it off (and frees the
// blocks). Captured graphs are dropped. LJ_EINVAL for a negative size.
int lj_cuda_set_calibration(lj_cuda_engine *e, int64_t bytes);
// The calibration copy as a replayable stage id: accepted by lj_cuda_replay_create_order only.
#define LJ_CUDA_CALIBRATION ((lj_stage)LJ_STAGE_ALL_COUNT)
// The spacer as a replayable stage id (lj_cuda_replay_create_order only): one warp idling `ns`
// on the global timer, no memory traffic; set before the replay is created (its graph keeps the
// time). An experiment's tool: a stage's time without its work (spacer.cu). LJ_EINVAL outside
// 0 .. 1 s.
#define LJ_CUDA_SPACER ((lj_stage)(LJ_STAGE_ALL_COUNT + 1))
int lj_cuda_set_spacer(lj_cuda_engine *e, int64_t ns);
// Bit (1u << stage) set: that stage is skipped everywhere (ablation runs).
void lj_cuda_set_skip_mask(lj_cuda_engine *e, uint32_t mask);
// Held outputs for ablations (held_outputs.cu): room for one forward call of n_tokens tokens
// (0 frees it). While recording (lj_cuda_set_hold_record 1), every attention and down call also
// copies its output into its layer's record; afterwards, with attention or down skipped by the
// skip mask, o_proj reads the layer's recorded attention output and the next norm the recorded
// delta, so the stages after a skipped group compute on the full run's data (prefill: bit for
// bit). Captured graphs are dropped. LJ_EINVAL outside [0, max_tokens] or recording with none
// allocated; LJ_ENOMEM when the device has no room.
int lj_cuda_hold_outputs(lj_cuda_engine *e, int n_tokens);
int lj_cuda_set_hold_record(lj_cuda_engine *e, int on);
// Layer `layer` a no-op in every forward pass (prefill, decode) from now on: the residual
// passes through it (the next layer's attn_norm, or the final norm, adds the delta the layer
// before it left; skipping layer 0, layer 1 adds none); -1 runs every layer again. The
// layer-skip check of the per-layer estimates. Captured graphs are dropped. LJ_EINVAL outside.
int lj_cuda_set_skip_layer(lj_cuda_engine *e, int layer);
// The engine's stream (cudaStream_t as void *), for events and graph capture.
void *lj_cuda_engine_stream(const lj_cuda_engine *e);
int lj_cuda_synchronize(lj_cuda_engine *e);

// ---- profiling: isolation replay, in-situ marks, state control
// Sets the slots' cached lengths back (or forward) to len[s] for s < n_seqs; the
// K/V already written there stay. The last call's logits rows become n_seqs, so a
// lj_cuda_generate can follow: a decode phase can be run again from the prompt
// without a new prefill (its tokens then follow from the last logits; the work is the same).
int lj_cuda_rewind(lj_cuda_engine *e, int n_seqs, const int *len);
// Sampling used by the SAMPLE stage in lj_cuda_run_stage (default: greedy).
void lj_cuda_set_stage_sampling(lj_cuda_engine *e, const lj_cuda_sampling *s);
// Decode attention over the first `groups` KV-head groups only (their query heads
// with them), 0 = all: the attention-head fit replays 1..n_kv_heads groups.
int lj_cuda_set_attn_groups(lj_cuda_engine *e, int groups);

// A stage captured `calls` times back to back in one CUDA graph; per-layer stages
// cycle through the layers (call i runs layer i % n_layers), so the weights and the
// KV cache stream from HBM as in the real run instead of staying in L2.
typedef struct lj_cuda_replay lj_cuda_replay;
int lj_cuda_replay_create(lj_cuda_engine *e, lj_stage stage, const lj_cuda_batch *b, int calls,
                          lj_cuda_replay **out);
// The same for a span of a decoder layer's stages in the run's order: call i runs
// first .. last of layer i % n_layers, each stage on what the one before it wrote
// (the sequence replay; first == last is lj_cuda_replay_create). first and last are simple
// stages; in fused mode the span runs what the forward pass runs (a composite whose parts
// all lie in the span replaces them). A single composite stage replays on its own.
int lj_cuda_replay_create_span(lj_cuda_engine *e, lj_stage first, lj_stage last, const lj_cuda_batch *b, int calls,
                               lj_cuda_replay **out);
// The same for any list of the layer's simple stages in any order (each at most once), and
// LJ_CUDA_CALIBRATION (the calibration copy, lj_cuda_set_calibration first): call i runs
// order[0 .. n-1] on layer i % n_layers, each stage on whatever its input buffers hold (the
// captured activations of the run's state; in the run's order, what the stage before wrote).
// The leave-one-out replay is the run's order without one stage; a permuted order bounds how
// much the layer's energy depends on the order of its stages. Simple stages only (no fusion).
int lj_cuda_replay_create_order(lj_cuda_engine *e, const lj_stage *order, int n, const lj_cuda_batch *b, int calls,
                                lj_cuda_replay **out);
// The same with every call on `layer` alone (0 .. n_layers - 1): the per-layer replay. One layer's
// weights (1B: 122 MB in bf16) exceed an H100's 50 MB L2, so they still stream from HBM.
int lj_cuda_replay_create_layer(lj_cuda_engine *e, const lj_stage *order, int n, int layer, const lj_cuda_batch *b,
                                int calls, lj_cuda_replay **out);
// Every stage's inputs in one forward call (stage_inputs.cu): for each layer and each of its nine
// stages (and the final norm) the buffers the stage read, recorded by one forward call of b on the
// live buffers. While set on the engine (lj_cuda_set_stage_inputs), the replays created without
// captured layer inputs run each of those stages on its record and write buffers that no stage
// reads, so that every call of any set of stages, in any order, computes on the run's bytes.
// bf16 weights, fusion none, a decode attention without RoPE fused, no marks, skips or tensor
// parallelism (LJ_EUNSUPPORTED otherwise); LJ_ENOMEM over max_bytes (> 0) or without the device
// memory (lj_cuda_stage_inputs_bytes; 1B, 128 tokens: 11 MiB a layer); any other error is the
// recording forward call's.
typedef struct lj_cuda_stage_inputs lj_cuda_stage_inputs;
int64_t lj_cuda_stage_inputs_bytes(const lj_cuda_engine *e, int n_tokens);
int lj_cuda_stage_inputs_capture(lj_cuda_engine *e, const lj_cuda_batch *b, int64_t max_bytes,
                                 lj_cuda_stage_inputs **out);
// NULL: replays on the live buffers again. Set it before creating the replays it is for; a replay
// graph keeps the addresses it was captured with, so free the records only after its replays.
void lj_cuda_set_stage_inputs(lj_cuda_engine *e, const lj_cuda_stage_inputs *in);
int lj_cuda_stage_inputs_tokens(const lj_cuda_stage_inputs *in);
void lj_cuda_stage_inputs_free(lj_cuda_stage_inputs *in);

// Each decoder layer's own input in one forward call (layer_inputs.cu): the residual x and the
// delta the layer before it left, as layer L's attn_norm finds them (slot L; layer 0 does not read
// its delta), and slot n_layers as the final norm finds them. 2 x (n_layers + 1) x n_tokens x dim
// bf16 (lj_cuda_layer_inputs_bytes: 1B, 128 tokens: 1 MiB a layer).
typedef struct lj_cuda_layer_inputs lj_cuda_layer_inputs;
int64_t lj_cuda_layer_inputs_bytes(const lj_model_config *c, int n_tokens);
// Runs one forward call of batch b stage by stage (embed, then every layer's simple stages, as the
// unfused forward pass runs them), copying each layer's input before the layer runs. The cached
// lengths do not move; the K/V it writes are the same call's. Refused (LJ_EINVAL) with marks on, a
// skip mask or a skipped layer, and when it needs more than max_bytes (> 0) of device memory.
int lj_cuda_layer_inputs_capture(lj_cuda_engine *e, const lj_cuda_batch *b, int64_t max_bytes,
                                 lj_cuda_layer_inputs **out);
// Enqueues copies of slot `layer` (0 .. n_layers) into the engine's x and delta (also inside a graph capture).
int lj_cuda_layer_inputs_restore(lj_cuda_engine *e, const lj_cuda_layer_inputs *in, int layer);
// Host copies of slot `layer`'s x and delta (bf16 bit patterns, n_tokens x dim each; either may be NULL).
int lj_cuda_layer_inputs_read(const lj_cuda_layer_inputs *in, int layer, uint16_t *x, uint16_t *delta);
int lj_cuda_layer_inputs_tokens(const lj_cuda_layer_inputs *in);
void lj_cuda_layer_inputs_free(lj_cuda_layer_inputs *in);
// Layer `layer` alone (lj_cuda_replay_create_layer), every call first restoring that layer's
// captured input, so that every call computes what the layer computed in the run: one call leaves in
// x and delta what slot layer + 1 holds. The restore copies 2 x n_tokens x dim bf16 per call.
int lj_cuda_replay_create_layer_input(lj_cuda_engine *e, const lj_stage *order, int n, int layer,
                                      const lj_cuda_layer_inputs *in, const lj_cuda_batch *b, int calls,
                                      lj_cuda_replay **out);
// One simple stage of the layer on `layer` alone, on that layer's own input: slot `layer` restored
// and the layer's stages before `st` run once, then `calls` calls of st captured. A matrix stage
// (qkv, o_proj, gate_up, down) rotates over copies of the layer's weights of that stage, at least
// twice the L2 in all (at most n_layers copies; lj_cuda_replay_weight_copies), so that they stream
// from HBM as in the run rather than from the L2; the copies are freed with the replay. A stage that
// updates its input in place (the norms' residual add, RoPE) drifts from call to call, as in the
// isolation replay.
int lj_cuda_replay_create_layer_stage(lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_layer_inputs *in,
                                      const lj_cuda_batch *b, int calls, lj_cuda_replay **out);
// The final norm and the LM head, every call first restoring captured slot `slot` (0 .. n_layers):
// slot n_layers is their input in the run, slot n_layers - 1 their input when the last layer is a
// no-op (lj_cuda_set_skip_layer): the pair the final norm then adds. The difference of the two is
// what skipping the last layer changes in the head (the layer-skip check's last layer).
int lj_cuda_replay_create_head_input(lj_cuda_engine *e, int slot, const lj_cuda_layer_inputs *in,
                                     const lj_cuda_batch *b, int calls, lj_cuda_replay **out);
// Decode attention alone on K and V of its own (attn_grid_replay.cu; the attention-head grid):
// `batch` sequences of kv_len random cached positions, the first `groups` KV groups (1 .. n_kv_heads)
// active, one query per sequence, `calls` calls in one graph rotating over copies of the K and V
// (lj_cuda_replay_weight_copies: as many as make twice the L2, fewer where memory is short).
// LJ_ENOMEM saying the bytes when one copy does not fit the free device memory (less 256 MiB).
int lj_cuda_replay_create_attn_grid(lj_cuda_engine *e, int batch, int kv_len, int groups, int calls,
                                    lj_cuda_replay **out);
// Copies of the weights a replay rotates over (1: the layer's own weights only).
int lj_cuda_replay_weight_copies(const lj_cuda_replay *r);
// Enqueues n launches of the graph (asynchronous; lj_cuda_synchronize waits).
int lj_cuda_replay_launch(lj_cuda_replay *r, int n);
int lj_cuda_replay_calls(const lj_cuda_replay *r);
void lj_cuda_replay_free(lj_cuda_replay *r);

// In-situ stage intervals: while enabled, a one-thread kernel writes the GPU's
// %globaltimer before each forward call's first stage and after every stage (the
// decode graph is captured again with them). Prefill calls are stored under
// `step` set with lj_cuda_marks_set_step; decode steps of lj_cuda_generate under
// their step number (1 .. n_steps - 1). Costs about one small kernel per stage:
// lj_cuda_generate runs measurably slower while marks are on.
int lj_cuda_marks_enable(lj_cuda_engine *e, int max_steps);
void lj_cuda_marks_disable(lj_cuda_engine *e);
int lj_cuda_marks_set_step(lj_cuda_engine *e, int step);
typedef struct {
  lj_stage stage;
  int layer;                // -1 outside the layers
  int64_t begin_ns, end_ns; // host CLOCK_MONOTONIC
} lj_cuda_mark_interval;
// The stage intervals of `step` (decode = 1: a decode step's stages, 0: a prefill
// call's), after the work has finished. *n receives the count (<= cap).
int lj_cuda_marks_read(lj_cuda_engine *e, int step, int decode, lj_cuda_mark_interval *out, int cap, int *n);
// Half the width of the host/GPU clock alignment (ns).
double lj_cuda_marks_alignment_ns(const lj_cuda_engine *e);

// ---- benchmarks and tests
// Marks slots 0 .. n_seqs - 1 as holding `len` positions whose K/V are random
// (filled on the device), so decode can be timed at a long context without a prefill.
int lj_cuda_fake_context(lj_cuda_engine *e, int n_seqs, int len, uint64_t seed);
// Bytes of weights read by one forward call's matrices (all layers + lm_head) and norms;
// with FP8 weights the linear layers count 1 byte per weight plus their fp32 row scales.
int64_t lj_cuda_weight_bytes(const lj_cuda_engine *e);
// The engine's lj_weight_format.
int lj_cuda_weight_format(const lj_cuda_engine *e);

#ifdef __cplusplus
}
#endif
