// The fp32 CPU reference forward pass: the stages of common/stage.h run on a
// ragged batch (tokens of several sequences, each at its own positions) with
// a KV cache per sequence slot. Prefill and decode are the same call: decode
// is a batch of one token per sequence. Tensor parallelism can be emulated:
// N ranks, each with its share of every layer, run one after the other.
#pragma once
#include <stdint.h>

#include "engine/kv_cache.h"
#include "common/stage.h"
#include "model/weights.h"

typedef struct {
  const int32_t *tokens;      // (n) token ids
  const int32_t *seq;         // (n) sequence slot of each token
  const int32_t *pos;         // (n) position of each token in its sequence
  int n;
  const int32_t *logit_rows;  // (n_logits) indices into the batch whose logits are wanted
  int n_logits;
} lj_batch;

// Called around every stage (is_end 0, then 1); layer -1 outside the decoder layers.
typedef void (*lj_stage_hook)(void *ctx, lj_stage stage, int layer, int is_end);

typedef struct lj_cpu_engine lj_cpu_engine;

// max_seqs sequence slots of up to max_ctx positions each; n_threads workers.
int lj_cpu_engine_create(const lj_weights *w, int max_seqs, int max_ctx, int n_threads, lj_cpu_engine **out);
// The same with tensor parallelism emulated at `degree` ranks (model/tp_shard.h): each rank
// holds its heads and MLP rows, and every layer's o_proj and down_proj outputs are summed
// over the ranks in rank order (the all-reduce, in the stages attn_allreduce and mlp_allreduce,
// which also add the sum to the residual stream). Degree 1 is lj_cpu_engine_create: one rank
// holding the whole model, the same arithmetic and stages as before the all-reduce stages
// existed (none of them runs). A degree that does not split the model
// fails naming the field (lj_tp_check).
int lj_cpu_engine_create_tp(const lj_weights *w, int max_seqs, int max_ctx, int n_threads, int degree,
                            lj_cpu_engine **out);
void lj_cpu_engine_free(lj_cpu_engine *e);

// Runs the batch and writes logits (n_logits, vocab). The tokens of one
// sequence must be contiguous, at consecutive positions starting at or below
// the sequence's cached length (positions from there on are overwritten).
int lj_cpu_forward(lj_cpu_engine *e, const lj_batch *b, float *logits /* (n_logits, vocab) */);

void lj_cpu_engine_reset_seq(lj_cpu_engine *e, int seq);
const lj_kv_cache *lj_cpu_engine_kv(const lj_cpu_engine *e);  // rank 0's (the whole cache at degree 1)
int lj_cpu_engine_tp_degree(const lj_cpu_engine *e);
void lj_cpu_engine_set_hook(lj_cpu_engine *e, lj_stage_hook hook, void *ctx);
// Nanoseconds spent per stage since creation (LJ_STAGE_COUNT entries).
const int64_t *lj_cpu_engine_stage_ns(const lj_cpu_engine *e);
