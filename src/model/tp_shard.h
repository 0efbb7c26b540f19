// Tensor-parallel sharding plan (Megatron style): for a configuration and a degree N, which
// rows or columns of each weight rank r (0 <= r < N) holds. Pure arithmetic on the config;
// the engines build their ranks' weights from it (docs/tensor-parallel.md).
//
//   q_proj, k_proj, v_proj  output rows, by heads: rank r holds KV heads
//                           [r*n_kv/N, (r+1)*n_kv/N) and the query heads that read them,
//                           [r*n_heads/N, (r+1)*n_heads/N) (the GQA groups stay whole)
//   o_proj                  input columns of the same query heads
//   gate_proj, up_proj      output rows [r*hidden/N, (r+1)*hidden/N)
//   down_proj               input columns of the same rows
//   embed, norms, lm_head   replicated: every rank holds them whole
//
// So each rank's attention and MLP need no communication inside them; o_proj and down_proj
// each leave a partial sum of the residual update, summed by one all-reduce per block.
// Replicated: the embedding is a gather of a few rows and the norms are vectors (splitting
// them saves nothing worth a collective); the LM head keeps every rank's logits whole, so
// sampling needs no collective. It could be split by vocabulary rows later (an all-gather of
// the logits or a distributed argmax), which saves (N-1)/N of its bytes on each rank.
#pragma once
#include <stdint.h>

#include "model/config.h"

typedef enum {
  LJ_TP_WQ = 0,
  LJ_TP_WK,
  LJ_TP_WV,
  LJ_TP_WO,
  LJ_TP_W_GATE,
  LJ_TP_W_UP,
  LJ_TP_W_DOWN,
  LJ_TP_ATTN_NORM,
  LJ_TP_FFN_NORM,
  LJ_TP_EMBED,
  LJ_TP_FINAL_NORM,
  LJ_TP_LM_HEAD,
  LJ_TP_WEIGHT_COUNT
} lj_tp_weight;

typedef enum { LJ_TP_REPLICATED = 0, LJ_TP_ROWS, LJ_TP_COLS } lj_tp_split;

// What a rank holds of one weight in HF layout (out_features, in_features): rows or columns
// [begin, end); replicated: the whole tensor (rows [0, rows)).
typedef struct {
  lj_tp_split split;
  int64_t begin, end;
} lj_tp_slice;

// HF name of the weight within its layer or model ("q_proj", "embed_tokens", ...).
const char *lj_tp_weight_name(lj_tp_weight w);
// The weight's full shape (rows, cols); cols = 0 for vectors (the norms).
void lj_tp_weight_shape(const lj_model_config *c, lj_tp_weight w, int64_t *rows, int64_t *cols);

// 0 when the degree splits this model: degree >= 1 and it divides num_attention_heads,
// num_key_value_heads and intermediate_size. Else LJ_EINVAL naming `origin` and the field.
int lj_tp_check(const lj_model_config *c, int degree, const char *origin);

// Rank r's slice of weight w (the degree must pass lj_tp_check).
lj_tp_slice lj_tp_shard(const lj_model_config *c, int degree, int rank, lj_tp_weight w);

// The shape of one rank's layer: n_heads, n_kv_heads and hidden_dim divided by the degree;
// dim, head_dim, vocabulary and the rest unchanged. Its attention is GQA with the same groups.
void lj_tp_rank_config(const lj_model_config *c, int degree, lj_model_config *out);

// Bytes one rank holds (every rank holds the same). Weights bf16 (2 bytes); fp8_linear:
// the linear layers at 1 byte plus one fp32 scale per output row the rank holds (a
// column-split matrix keeps all its rows, so its row scales are replicated).
typedef struct {
  int64_t replicated;    // embed, lm_head (unless tied), norms: the same on every rank
  int64_t sharded;       // this rank's share of the linear layers of all layers
  int64_t weights;       // replicated + sharded
  int64_t kv_per_token;  // KV cache per position of one sequence, bf16: 2 x layers x kv_dim/N x 2
} lj_tp_rank_bytes;
void lj_tp_rank_bytes_compute(const lj_model_config *c, int degree, int fp8_linear, lj_tp_rank_bytes *out);
