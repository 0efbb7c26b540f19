// Megatron-style tensor-parallel sharding plan (model/tp_shard.h).
#include "model/tp_shard.h"

#include "common/error.h"

const char *lj_tp_weight_name(lj_tp_weight w) {
  static const char *const names[LJ_TP_WEIGHT_COUNT] = {
      "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
      "input_layernorm", "post_attention_layernorm", "embed_tokens", "norm", "lm_head"};
  return (unsigned)w < LJ_TP_WEIGHT_COUNT ? names[w] : "?";
}

void lj_tp_weight_shape(const lj_model_config *c, lj_tp_weight w, int64_t *rows, int64_t *cols) {
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim, v = c->vocab_size;
  int64_t r = d, k = 0;
  switch (w) {
    case LJ_TP_WQ: r = q, k = d; break;
    case LJ_TP_WK:
    case LJ_TP_WV: r = kv, k = d; break;
    case LJ_TP_WO: r = d, k = q; break;
    case LJ_TP_W_GATE:
    case LJ_TP_W_UP: r = h, k = d; break;
    case LJ_TP_W_DOWN: r = d, k = h; break;
    case LJ_TP_EMBED:
    case LJ_TP_LM_HEAD: r = v, k = d; break;
    default: break;  // the norms: (dim)
  }
  *rows = r;
  *cols = k;
}

int lj_tp_check(const lj_model_config *c, int degree, const char *origin) {
  if (degree < 1) return LJ_FAIL(LJ_EINVAL, "%s: tensor-parallel degree %d must be at least 1", origin, degree);
  struct { const char *field; int value; const char *why; } parts[] = {
      {"num_attention_heads", c->n_heads, "each rank holds whole query heads"},
      {"num_key_value_heads", c->n_kv_heads, "each rank holds whole KV heads and their query heads"},
      {"intermediate_size", c->hidden_dim, "each rank holds an equal share of the MLP's rows"},
  };
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (parts[i].value % degree != 0)
      return LJ_FAIL(LJ_EINVAL, "%s: field '%s' = %d is not a multiple of the tensor-parallel degree %d (%s)", origin,
                     parts[i].field, parts[i].value, degree, parts[i].why);
  return LJ_OK;
}

lj_tp_slice lj_tp_shard(const lj_model_config *c, int degree, int rank, lj_tp_weight w) {
  int64_t rows, cols;
  lj_tp_weight_shape(c, w, &rows, &cols);
  int64_t q = lj_q_dim(c) / degree, kv = lj_kv_dim(c) / degree, h = c->hidden_dim / degree;
  switch (w) {
    case LJ_TP_WQ: return (lj_tp_slice){LJ_TP_ROWS, rank * q, (rank + 1) * q};
    case LJ_TP_WK:
    case LJ_TP_WV: return (lj_tp_slice){LJ_TP_ROWS, rank * kv, (rank + 1) * kv};
    case LJ_TP_WO: return (lj_tp_slice){LJ_TP_COLS, rank * q, (rank + 1) * q};
    case LJ_TP_W_GATE:
    case LJ_TP_W_UP: return (lj_tp_slice){LJ_TP_ROWS, rank * h, (rank + 1) * h};
    case LJ_TP_W_DOWN: return (lj_tp_slice){LJ_TP_COLS, rank * h, (rank + 1) * h};
    default: return (lj_tp_slice){LJ_TP_REPLICATED, 0, rows};
  }
}

void lj_tp_rank_config(const lj_model_config *c, int degree, lj_model_config *out) {
  *out = *c;
  out->n_heads = c->n_heads / degree;
  out->n_kv_heads = c->n_kv_heads / degree;
  out->hidden_dim = c->hidden_dim / degree;
}

void lj_tp_rank_bytes_compute(const lj_model_config *c, int degree, int fp8_linear, lj_tp_rank_bytes *out) {
  *out = (lj_tp_rank_bytes){0};
  for (int w = 0; w < LJ_TP_WEIGHT_COUNT; w++) {
    if (w == LJ_TP_LM_HEAD && c->tie_embeddings) continue;  // the embedding's bytes
    int64_t rows, cols;
    lj_tp_weight_shape(c, (lj_tp_weight)w, &rows, &cols);
    lj_tp_slice s = lj_tp_shard(c, degree, 0, (lj_tp_weight)w);
    int per_layer = w < LJ_TP_EMBED;
    int64_t n = per_layer ? c->n_layers : 1;
    if (s.split == LJ_TP_REPLICATED) {
      out->replicated += n * rows * (cols ? cols : 1) * 2;
      continue;
    }
    int64_t held_rows = s.split == LJ_TP_ROWS ? s.end - s.begin : rows;
    int64_t held_cols = s.split == LJ_TP_COLS ? s.end - s.begin : cols;
    out->sharded += n * (held_rows * held_cols * (fp8_linear ? 1 : 2) + (fp8_linear ? held_rows * 4 : 0));
  }
  out->weights = out->replicated + out->sharded;
  out->kv_per_token = 2ll * c->n_layers * (lj_kv_dim(c) / degree) * 2;
}
