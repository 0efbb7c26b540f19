#include "profile/stage_cost.h"

#include <string.h>

#include "common/error.h"

void lj_stage_shape_default(lj_stage_shape *s) {
  memset(s, 0, sizeof *s);
  s->batch = 1;
  s->n_tokens = 1;
  s->weight_bytes = 2;
  s->act_bytes = 2;
  s->logit_bytes = 4;
  s->token_bytes = 4;
  s->tp_degree = 1;
}

static int check_shape(const lj_model_config *c, const lj_stage_shape *sh) {
  if (sh->batch < 1) return LJ_FAIL(LJ_EINVAL, "stage cost: batch %d, expected >= 1", sh->batch);
  if (sh->n_tokens < 1) return LJ_FAIL(LJ_EINVAL, "stage cost: n_tokens %d, expected >= 1", sh->n_tokens);
  if (sh->kv_past < 0) return LJ_FAIL(LJ_EINVAL, "stage cost: kv_past %lld, expected >= 0", (long long)sh->kv_past);
  if (c->max_seq_len > 0 && sh->kv_past + sh->n_tokens > c->max_seq_len)
    return LJ_FAIL(LJ_EINVAL, "stage cost: kv_past %lld + n_tokens %d exceeds the model's max_seq_len %d",
                   (long long)sh->kv_past, sh->n_tokens, c->max_seq_len);
  if (sh->weight_bytes < 1 || sh->act_bytes < 1 || sh->logit_bytes < 1 || sh->token_bytes < 1)
    return LJ_FAIL(LJ_EINVAL, "stage cost: element sizes must be >= 1 byte (weight %d, act %d, logit %d, token %d)",
                   sh->weight_bytes, sh->act_bytes, sh->logit_bytes, sh->token_bytes);
  if (sh->tp_degree < 1)
    return LJ_FAIL(LJ_EINVAL, "stage cost: tensor-parallel degree %d, expected >= 1", sh->tp_degree);
  if (c->dim < 1 || c->hidden_dim < 1 || c->n_heads < 1 || c->n_kv_heads < 1 || c->head_dim < 1 || c->vocab_size < 1)
    return LJ_FAIL(LJ_EINVAL, "stage cost: model '%s' has a zero dimension", c->name);
  return LJ_OK;
}

// Residual add fused with RMSNorm over `rows` rows: x += delta (1 per element,
// when `delta`), sum of squares (2), scale by 1/rms and the weight (2); reads x
// (and delta), writes x back and the normed output.
static void add_rmsnorm(int64_t rows, int64_t dim, int delta, int64_t wb, int64_t ab, lj_stage_cost *o) {
  o->flops = (delta ? 5 : 4) * rows * dim;
  o->weight_bytes = dim * wb;
  o->act_read_bytes = (delta ? 2 : 1) * rows * dim * ab;
  o->act_write_bytes = 2 * rows * dim * ab;
}

// (rows, k) x (k, n) GEMM.
static void gemm(int64_t rows, int64_t k, int64_t n, int64_t wb, int64_t ab, lj_stage_cost *o) {
  o->flops = 2 * rows * k * n;
  o->weight_bytes = k * n * wb;
  o->act_read_bytes = rows * k * ab;
  o->act_write_bytes = rows * n * ab;
}

static int composite(const lj_model_config *c, lj_stage s, int layer, const lj_stage_shape *sh, lj_stage_cost *o);

int lj_stage_cost_compute(const lj_model_config *c, lj_stage s, int layer, const lj_stage_shape *sh,
                          lj_stage_cost *o) {
  memset(o, 0, sizeof *o);
  LJ_TRY(check_shape(c, sh));
  if ((unsigned)s < LJ_STAGE_COUNT && lj_stage_is_per_layer(s) && (layer < 0 || layer >= c->n_layers))
    return LJ_FAIL(LJ_EINVAL, "stage cost: %s needs a layer in [0, %d), got %d", lj_stage_name(s), c->n_layers, layer);
  const int64_t B = sh->batch, T = sh->n_tokens, P = sh->kv_past, N = B * T;
  const int64_t D = c->dim, H = c->hidden_dim, V = c->vocab_size, hd = c->head_dim;
  const int64_t Q = lj_q_dim(c), KV = lj_kv_dim(c);
  const int64_t wb = sh->weight_bytes, ab = sh->act_bytes, lb = sh->logit_bytes, tb = sh->token_bytes;
  const int64_t R = sh->logits_all_tokens ? N : B;  // rows that reach the final norm and LM head
  if (lj_stage_is_composite(s)) return composite(c, s, layer, sh, o);
  switch (s) {
    case LJ_STAGE_EMBED:  // gather N rows of the (V, D) table
      o->weight_bytes = N * D * wb;
      o->act_read_bytes = N * tb;
      o->act_write_bytes = N * D * ab;
      break;
    case LJ_STAGE_ATTN_NORM:  // layer 0 has no previous DOWN output to add
      add_rmsnorm(N, D, layer > 0, wb, ab, o);
      break;
    case LJ_STAGE_FFN_NORM:
      add_rmsnorm(N, D, 1, wb, ab, o);
      break;
    case LJ_STAGE_QKV:  // (N, D) x (D, Q + 2 KV)
      gemm(N, D, Q + 2 * KV, wb, ab, o);
      break;
    case LJ_STAGE_ROPE:  // rotate pairs of q and k (6 flops per pair = 3 per element); k, v to the cache
      o->flops = 3 * N * (Q + KV);
      o->act_read_bytes = N * (Q + 2 * KV) * ab;
      o->act_write_bytes = N * Q * ab;
      o->kv_write_bytes = N * 2 * KV * ab;
      break;
    case LJ_STAGE_ATTN: {
      // keys attended per sequence: query i (0..T-1) sees P + i + 1 positions
      int64_t scores = T * P + T * (T + 1) / 2;
      // per (head, score): q.k (2 hd), p.v (2 hd), scale, max, exp(x - max), sum (4 + 1);
      // per (head, query): the final division of hd outputs
      o->flops = B * c->n_heads * (scores * (4 * hd + 5) + T * hd);
      o->act_read_bytes = N * Q * ab;
      o->kv_read_bytes = B * (P + T) * 2 * KV * ab;  // each cached k and v once (GQA heads share them)
      o->act_write_bytes = N * Q * ab;
      break;
    }
    case LJ_STAGE_O_PROJ:  // (N, Q) x (Q, D) -> delta
      gemm(N, Q, D, wb, ab, o);
      break;
    case LJ_STAGE_GATE_UP:  // (N, D) x (D, 2 H)
      gemm(N, D, 2 * H, wb, ab, o);
      break;
    case LJ_STAGE_SWIGLU:  // silu(g) * u = g / (1 + exp(-g)) * u: neg, exp, add, div, mul
      o->flops = 5 * N * H;
      o->act_read_bytes = N * 2 * H * ab;
      o->act_write_bytes = N * H * ab;
      break;
    case LJ_STAGE_DOWN:  // (N, H) x (H, D) -> delta
      gemm(N, H, D, wb, ab, o);
      break;
    case LJ_STAGE_ATTN_ALLREDUCE:  // ring all-reduce of delta (N, D) per rank; nothing at degree 1
    case LJ_STAGE_MLP_ALLREDUCE: {
      const int64_t G = sh->tp_degree;
      o->flops = (G - 1) * N * D / G;
      o->link_bytes = 2 * (2 * (G - 1) * N * D * ab / G);  // sent + received
      break;
    }
    case LJ_STAGE_FINAL_NORM:  // the last DOWN's delta added on the rows that reach the LM head
      add_rmsnorm(R, D, 1, wb, ab, o);
      break;
    case LJ_STAGE_LM_HEAD:  // (R, D) x (D, V), logits written in their own type
      gemm(R, D, V, wb, ab, o);
      o->act_write_bytes = R * V * lb;
      break;
    case LJ_STAGE_SAMPLE:  // greedy: one comparison per logit, one id per row
      o->flops = R * V;
      o->act_read_bytes = R * V * lb;
      o->act_write_bytes = R * tb;
      break;
    default:
      return LJ_FAIL(LJ_EINVAL, "stage cost: unknown stage id %d", (int)s);
  }
  o->bytes = o->weight_bytes + o->act_read_bytes + o->act_write_bytes + o->kv_read_bytes + o->kv_write_bytes;
  o->flops_per_byte = o->bytes > 0 ? (double)o->flops / (double)o->bytes : 0;
  return LJ_OK;
}

// to += one (bytes summed, flops per byte left to the caller).
static void add_cost(lj_stage_cost *to, const lj_stage_cost *one) {
  to->flops += one->flops;
  to->weight_bytes += one->weight_bytes;
  to->act_read_bytes += one->act_read_bytes;
  to->act_write_bytes += one->act_write_bytes;
  to->kv_read_bytes += one->kv_read_bytes;
  to->kv_write_bytes += one->kv_write_bytes;
  to->bytes += one->bytes;
  to->link_bytes += one->link_bytes;
}

// A composite stage (fused mode) does its parts' work: their sum. The intermediates it keeps on chip
// (xn, gu) are counted as its parts move them, so its bytes are an upper bound of the fused kernel's.
static int composite(const lj_model_config *c, lj_stage s, int layer, const lj_stage_shape *sh, lj_stage_cost *o) {
  lj_stage first, last;
  lj_stage_parts(s, &first, &last);
  for (int p = (int)first; p <= (int)last; p++) {
    if (!lj_stage_runs_at_degree((lj_stage)p, 1)) continue;  // a composite's span holds no all-reduce
    lj_stage_cost one;
    LJ_TRY(lj_stage_cost_compute(c, (lj_stage)p, layer, sh, &one));
    add_cost(o, &one);
  }
  o->flops_per_byte = o->bytes > 0 ? (double)o->flops / (double)o->bytes : 0;
  return LJ_OK;
}

int lj_stage_cost_forward(const lj_model_config *c, const lj_stage_shape *sh, lj_stage_cost *out) {
  memset(out, 0, sizeof *out);
  for (int s = 0; s < LJ_STAGE_COUNT; s++) {
    int per_layer = lj_stage_is_per_layer((lj_stage)s);
    for (int l = per_layer ? 0 : -1; l < (per_layer ? c->n_layers : 0); l++) {
      lj_stage_cost one;
      LJ_TRY(lj_stage_cost_compute(c, (lj_stage)s, l, sh, &one));
      add_cost(out, &one);
    }
  }
  out->flops_per_byte = out->bytes > 0 ? (double)out->flops / (double)out->bytes : 0;
  return LJ_OK;
}
