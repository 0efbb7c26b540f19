// The CUDA engine's state, shared by the files that implement its parts
// (cuda_engine.cu: creation, stages, generation; stage_marks.cu: in-situ
// timestamps; stage_replay.cu: isolation replay). Not a public header.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/cuda/tp_comm.h"

typedef __nv_bfloat16 bf16;

// One linear layer's weights: bf16 (w), or FP8 E4M3 codes (q) with one scale per output row.
typedef struct {
  bf16 *w;
  uint8_t *q;
  float *scale;
} linear_dev;

typedef struct {
  bf16 *attn_norm, *ffn_norm;
  linear_dev wqkv, wo, wgu, wdown;
  bf16 *k_cache, *v_cache;
} layer_dev;

struct lj_cuda_engine {
  lj_model_config cfg;
  lj_cuda_options opt;
  int q_dim, kv_dim, qkv_dim, n_sms;
  cudaStream_t stream;
  lj_gemm_lt *gemm;
  uint32_t skip_mask;
  int skip_layer_plus1;  // 0: every layer runs; L + 1: layer L is a no-op in the forward pass

  void *weight_mem, *kv_mem, *act_mem;
  size_t act_bytes, kv_layer_bytes;  // act_mem's size; one layer's K (or V) cache
  layer_dev *layers;  // (n_layers)
  bf16 *embed, *final_norm, *lm_head;
  float *inv_freq;    // (head_dim / 2)

  lj_cuda_acts acts;
  float *attn_scratch;
  size_t attn_scratch_bytes;
  uint8_t *act_q;    // FP8 prefill: one GEMM's input quantised per token (max_tokens x widest input)
  float *act_scale;  // (max_tokens)
  float *gu_scale;   // (max_tokens) FP8 prefill with the fold: gate|up's per-token scales, which the
                     // SwiGLU stage reads (act_scale is rewritten by every linear call)
  uint8_t *h_q;      // (max_tokens x hidden) FP8 prefill with the fold: h quantised by SwiGLU for down
  float *h_scale;    // (max_tokens)
  unsigned *h_amax;  // (max_tokens) the split SwiGLU quantisation's row amax (swiglu.h)
  uint8_t *xn_q;     // (max_tokens x dim) FP8 prefill, fold NORMS: the norms' output quantised (qkv's
                     // and gate_up's input)
  float *xn_scale;   // (max_tokens) attn_norm's per-token scales (ffn_norm writes gu_scale)
  float *o_scale;    // (max_tokens) fold O_PROJ: o_proj's input scales, which ffn_norm reads
  // batch state (device)
  int *d_tokens, *d_seq, *d_pos, *d_kv_len;                 // (max_tokens)
  int *d_q_start, *d_q_len, *d_ctx_start, *d_last_row;     // (max_batch)
  int *d_step, *d_history;                                  // (1), (max_ctx, max_batch)
  int *h_len;  // cached length per slot (host)
  int last_rows;  // logits rows of the last forward call

  // decode graph, captured for one (n_seqs, sampling)
  cudaGraphExec_t graph;
  int graph_n_seqs;
  lj_cuda_sampling graph_sampling;
  int gen_rows;   // token-history rows written by the last lj_cuda_generate (+ _more); 0: none

  // prefill graph, captured for one (tokens, sequences, longest prompt)
  cudaGraphExec_t prefill_graph;
  int prefill_graph_tokens, prefill_graph_seqs, prefill_graph_max_q;

  lj_cuda_sampling stage_sampling;  // what the SAMPLE stage uses outside lj_cuda_generate (greedy)
  int attn_groups;                  // decode attention over the first g KV groups only; 0 = all
  int fusion;                       // lj_cuda_fusion_mode
  int fp8_gemv;                     // lj_fp8_gemv_variant: the FP8 GEMV kernel of decode
  int fp8_fold;                     // FP8 prefill: the passes folded into their neighbours (lj_cuda_set_fp8_fold)
  int attn_prefill;                 // lj_attn_prefill_variant: the attention kernel of prefill
  int swiglu_quant;                 // LJ_SWIGLU_QUANT_*: the kernel of SwiGLU + down's quantisation
  int attn_decode;                  // lj_attn_decode_variant: the attention kernel(s) of decode
  int attn_splits;                  // decode attention splits per (token, kv head); 0: the rule
  int attn_split_cap;               // the most splits the attention scratch holds (the rule at batch 1)
  int gemv_cfg[LJ_GEMV_CLASS_COUNT];      // bf16 GEMV configuration per shape class (gemv_config.h)
  int fp8_pipe_cfg[LJ_GEMV_CLASS_COUNT];  // FP8 pipe GEMV configuration per shape class
  unsigned *d_attn_counters;        // device, 0 between launches: the one-kernel decode attention's
                                    // block counters (max_batch x n_kv_heads)
  int *d_fuse_counter;              // device, 0 between launches: the fused kernels' block counter
  int *d_norm_counter;              // device, 0 between launches: o_proj+ffn_norm's block counter
  float *norm_rstd;                 // device, max_tokens: o_proj+ffn_norm's rstd per token (norm once)
  int tp_degree;                    // the tensor-parallel degree of a rank engine; 0: the engine alone

  // Known-answer calibration (calibration.cu): while calib_bytes > 0, forward() runs a copy of
  // calib_bytes from layer l's source block to its destination block after each layer's o_proj.
  int64_t calib_bytes;
  int64_t spacer_ns;  // the spacer's idle time (spacer.cu; replays only, 0: none)
  void *calib_mem;  // (n_layers, 2, calib_bytes): a block per layer, so the copies stream from HBM

  // Held outputs (held_outputs.cu): per layer, attention's output and down's delta of a full run
  // (held_tokens rows each), read in place of a skipped producer's stale buffer.
  void *held_mem;
  int held_tokens;
  int hold_record;  // while set, every ATTN and DOWN call copies its output into its layer's record

  // In-situ timestamps (stage_marks.cu): when marks_on, a one-thread kernel writes
  // %globaltimer before the first stage of a forward call and after every stage,
  // into d_marks[(step + base) * marks_stride + k].
  int marks_on;
  unsigned long long *d_marks;      // (marks_cap_steps, marks_stride)
  int marks_cap_steps, marks_stride;
  int mark_k;                       // next mark index within the current forward call
  lj_stage *mark_stage;             // (marks_stride) stage ending at mark k (k >= 1)
  int *mark_layer;                  // (marks_stride)
  const int *mark_step_ptr;         // device: the step the marks of this call belong to
  int *d_mark_step;                 // device int the host sets for prefill calls
  int marks_prefill_n, marks_decode_n;  // marks of one prefill call / one decode step
  int64_t mark_offset_ns;           // host CLOCK_MONOTONIC - GPU globaltimer
  double mark_offset_uncertainty_ns;

  // Replays on recorded inputs (stage_inputs.cu): while set, a replay without captured layer inputs
  // runs each recorded stage on its record (lj_cuda_stage_inputs_acts).
  const lj_cuda_stage_inputs *stage_in;

  // Tensor parallelism: this engine is rank group_rank of group_degree in `group` (0 and NULL: alone).
  int group_degree, group_rank;
  const struct lj_cuda_group *group;
};

// stage_marks.cu: called by the engine around stages while marks are on.
int lj_cuda_mark_begin(lj_cuda_engine *e);
int lj_cuda_mark_after(lj_cuda_engine *e, lj_stage st, int layer);
void lj_cuda_marks_release(lj_cuda_engine *e);
// spacer.cu: the spacer (nothing while spacer_ns is 0).
int lj_cuda_spacer_run(lj_cuda_engine *e);
// calibration.cu: the calibration copy of one layer (nothing while calib_bytes is 0).
int lj_cuda_calibration_run(lj_cuda_engine *e, int layer);
// stage_inputs.cu: 1 and *a the acts stage st of `layer` (-1: FINAL_NORM) reads in a replay of
// batch b, its inputs the records; 0 where it runs on the live buffers (no records set, another
// batch, a stage not recorded: composites, embed, LM head, sample, the all-reduces).
int lj_cuda_stage_inputs_acts(const lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_batch *b,
                              lj_cuda_acts *a);
void lj_cuda_calibration_release(lj_cuda_engine *e);
// held_outputs.cu: the record after ATTN and DOWN while recording; what o_proj reads as attention's
// output and what a norm reads as layer `layer`'s delta (the record where that producer is skipped).
int lj_cuda_hold_after(lj_cuda_engine *e, lj_stage st, int layer, int n_tokens, const lj_cuda_acts *a);
const void *lj_cuda_attn_in(const lj_cuda_engine *e, int layer, const lj_cuda_acts *a);
// LJ_EINVAL when a forward call of n_tokens would read records of fewer rows.
int lj_cuda_hold_check(const lj_cuda_engine *e, int n_tokens);
const void *lj_cuda_delta_in(const lj_cuda_engine *e, int layer, const lj_cuda_acts *a);
void lj_cuda_hold_release(lj_cuda_engine *e);
// stage_replay.cu: what one call of a replay runs: the stages first .. last as the forward pass
// runs them, or (order != NULL) the listed stages in that order, on layer i % n_layers for call i
// (layer -1) or on `layer`; with `in`, each call first restores that layer's captured input; with
// `shadow`, call i reads shadow[i % n_shadow] as the layer's weights (copies of one layer's, so that
// they stream from HBM: layer_stage_replay.cu).
typedef struct {
  lj_stage first, last;
  const lj_stage *order;
  int n;
  int layer;
  const lj_cuda_layer_inputs *in;
  const layer_dev *shadow;
  int n_shadow;
} lj_cuda_replay_what;
// One eager round, then `calls` calls captured in one graph. `owned` (device memory the graph reads,
// may be NULL) is freed with the replay, or here on failure; copies: what lj_cuda_replay_weight_copies says.
int lj_cuda_replay_capture(lj_cuda_engine *e, const lj_cuda_replay_what *w, const lj_cuda_batch *b, int calls,
                           const char *name, void *owned, int copies, lj_cuda_replay **out);
// stage_replay.cu: a replay of a graph captured elsewhere (attn_grid_replay.cu); it takes exec and
// `owned` (freed with it; on failure here too).
int lj_cuda_replay_adopt(lj_cuda_engine *e, cudaGraphExec_t exec, int calls, void *owned, int copies,
                         lj_cuda_replay **out);
// cuda_engine.cu: the decode graph depends on these settings; drop it when they change.
void lj_cuda_drop_graph(lj_cuda_engine *e);



// Tensor parallelism (tp_engine.cu): a group's all-reduce of every rank's delta (n_tokens x dim
// bf16, in place). Each rank's run of the stages attn_allreduce and mlp_allreduce calls
// allreduce_rank with its rank; the group enqueues the collective for every rank once the last of
// them has arrived (NCCL's one-thread group call needs them all), so the ranks may come in any order.
#define LJ_CUDA_MAX_RANKS LJ_TP_MAX_RANKS
typedef struct lj_cuda_group {
  int (*allreduce_rank)(void *ctx, int rank, int n_tokens);
  void *ctx;
} lj_cuda_group;
// Makes e rank `rank` of a group of `degree` (lj_cuda_stage_at then runs the all-reduce stages at
// degree > 1). A lone engine is degree 1 with no group.
void lj_cuda_engine_join_group(lj_cuda_engine *e, const lj_cuda_group *g, int degree, int rank);
// lj_cuda_forward_batch over n_ranks engines of one group (the ranks' batches, cached lengths and
// stages kept in step); the logits are rank 0's. n_ranks 1: the engine alone.
int lj_cuda_forward_group(lj_cuda_engine *const *es, int n_ranks, const int32_t *tokens,
                          const int32_t *seq, const int32_t *pos, int n, const int32_t *logit_rows, int n_logits,
                          float *logits);
