#include "engine/cpu/cpu_engine.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/cpu/thread_pool.h"
#include "model/fp8_quant.h"
#include "model/tp_shard.h"
#include "model/tp_weights.h"

// One tensor-parallel rank (model/tp_shard.h): its slices of the layers, its KV heads' cache
// and its activations. Degree 1: one rank holding the whole model (the same tensors).
typedef struct {
  lj_tp_rank_weights w;
  lj_kv_cache kv;   // its KV heads only: kv_dim / degree per position
  float *q;         // (cap, q_dim / degree)
  float *k, *v;     // (cap, kv_dim / degree)
  float *att;       // (cap, q_dim / degree) attention output of its heads
  float *gate, *up; // (cap, hidden_dim / degree)
  float *part;      // (cap, dim) its partial o_proj / down output (rank 0 writes proj itself)
} cpu_rank;

struct lj_cpu_engine {
  const lj_weights *w;
  lj_thread_pool *pool;
  int degree;       // tensor-parallel ranks emulated one after the other
  cpu_rank *ranks;  // (degree)
  float *inv_freq;  // (head_dim/2)
  // activations, grown to the largest batch seen
  int cap;          // tokens
  float *x;         // (cap, dim) residual stream
  float *xn;        // (cap, dim) normed input of a block (every rank reads it whole)
  float *proj;      // (cap, dim) o_proj / down output, all ranks' partial sums reduced
  float *rows;      // (cap, dim) final-normed rows whose logits are wanted
  float *xq;        // (cap, widest input) quantised input of an FP8 linear layer (FP8 weights only)
  lj_stage_hook hook;
  void *hook_ctx;
  int64_t stage_ns[LJ_STAGE_COUNT];
  int64_t stage_t0;
};

static void stage_begin(lj_cpu_engine *e, lj_stage s, int layer) {
  if (e->hook) e->hook(e->hook_ctx, s, layer, 0);
  e->stage_t0 = lj_mono_ns();
}

static void stage_end(lj_cpu_engine *e, lj_stage s, int layer) {
  e->stage_ns[s] += lj_mono_ns() - e->stage_t0;
  if (e->hook) e->hook(e->hook_ctx, s, layer, 1);
}

static void free_activations(lj_cpu_engine *e) {
  float **bufs[] = {&e->x, &e->xn, &e->proj, &e->rows, &e->xq};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    free(*bufs[i]);
    *bufs[i] = NULL;
  }
  for (int r = 0; e->ranks && r < e->degree; r++) {
    cpu_rank *R = &e->ranks[r];
    float **own[] = {&R->q, &R->k, &R->v, &R->att, &R->gate, &R->up, &R->part};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
      free(*own[i]);
      *own[i] = NULL;
    }
  }
  e->cap = 0;
}

static int max3(int a, int b, int c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

// 1 when a buffer of tokens x width floats cannot be had (width 0: none wanted).
static int alloc_failed(float **p, size_t tokens, size_t width) {
  if (!width) return 0;
  *p = malloc(tokens * width * sizeof(float));
  return !*p;
}

static int grow_activations(lj_cpu_engine *e, int n) {
  if (n <= e->cap) return LJ_OK;
  const lj_model_config *c = &e->w->config;
  free_activations(e);
  size_t t = (size_t)n;
  // FP8 weights: the widest input of a linear layer (dim, q_dim for o_proj, hidden for down)
  size_t xq = lj_weights_is_fp8(e->w) ? (size_t)max3(c->dim, lj_q_dim(c), c->hidden_dim) : 0;
  int failed = alloc_failed(&e->x, t, (size_t)c->dim) | alloc_failed(&e->xn, t, (size_t)c->dim) |
               alloc_failed(&e->proj, t, (size_t)c->dim) | alloc_failed(&e->rows, t, (size_t)c->dim) |
               alloc_failed(&e->xq, t, xq);
  for (int r = 0; r < e->degree; r++) {
    cpu_rank *R = &e->ranks[r];
    const lj_model_config *rw = &R->w.config;  // the rank's widths
    failed |= alloc_failed(&R->q, t, (size_t)lj_q_dim(rw)) | alloc_failed(&R->k, t, (size_t)lj_kv_dim(rw)) |
              alloc_failed(&R->v, t, (size_t)lj_kv_dim(rw)) | alloc_failed(&R->att, t, (size_t)lj_q_dim(rw)) |
              alloc_failed(&R->gate, t, (size_t)rw->hidden_dim) | alloc_failed(&R->up, t, (size_t)rw->hidden_dim) |
              alloc_failed(&R->part, t, r ? (size_t)c->dim : 0);
  }
  if (failed) {
    free_activations(e);
    return LJ_FAIL(LJ_ENOMEM, "CPU engine: cannot allocate activations for %d tokens", n);
  }
  e->cap = n;
  return LJ_OK;
}

int lj_cpu_engine_create(const lj_weights *w, int max_seqs, int max_ctx, int n_threads, lj_cpu_engine **out) {
  return lj_cpu_engine_create_tp(w, max_seqs, max_ctx, n_threads, 1, out);
}

int lj_cpu_engine_create_tp(const lj_weights *w, int max_seqs, int max_ctx, int n_threads, int degree,
                            lj_cpu_engine **out) {
  *out = NULL;
  const lj_model_config *c = &w->config;
  LJ_TRY(lj_tp_check(c, degree, c->name));
  lj_cpu_engine *e = calloc(1, sizeof *e);
  if (!e) return LJ_FAIL(LJ_ENOMEM, "CPU engine: out of memory");
  e->w = w;
  e->inv_freq = malloc((size_t)(c->head_dim / 2) * sizeof *e->inv_freq);
  e->ranks = calloc((size_t)degree, sizeof *e->ranks);
  int rc = e->inv_freq && e->ranks ? LJ_OK : LJ_FAIL(LJ_ENOMEM, "CPU engine: out of memory");
  if (rc == LJ_OK) e->degree = degree;
  for (int r = 0; rc == LJ_OK && r < degree; r++) {
    cpu_rank *R = &e->ranks[r];
    rc = lj_tp_rank_weights_build(w, degree, r, &R->w);
    if (rc == LJ_OK) rc = lj_kv_cache_build(&R->kv, c->n_layers, max_seqs, max_ctx, lj_kv_dim(&R->w.config));
  }
  if (rc == LJ_OK) rc = lj_thread_pool_create(n_threads, &e->pool);
  if (rc < 0) {
    lj_cpu_engine_free(e);
    return rc;
  }
  lj_rope_inv_freq(c, e->inv_freq);
  *out = e;
  return LJ_OK;
}

void lj_cpu_engine_free(lj_cpu_engine *e) {
  if (!e) return;
  free_activations(e);
  for (int r = 0; e->ranks && r < e->degree; r++) {
    lj_kv_cache_free(&e->ranks[r].kv);
    lj_tp_rank_weights_free(&e->ranks[r].w);
  }
  free(e->ranks);
  lj_thread_pool_free(e->pool);
  free(e->inv_freq);
  free(e);
}

void lj_cpu_engine_reset_seq(lj_cpu_engine *e, int seq) {
  for (int r = 0; r < e->degree; r++) lj_kv_cache_reset(&e->ranks[r].kv, seq);
}
const lj_kv_cache *lj_cpu_engine_kv(const lj_cpu_engine *e) { return &e->ranks[0].kv; }
int lj_cpu_engine_tp_degree(const lj_cpu_engine *e) { return e->degree; }
void lj_cpu_engine_set_hook(lj_cpu_engine *e, lj_stage_hook hook, void *ctx) {
  e->hook = hook;
  e->hook_ctx = ctx;
}
const int64_t *lj_cpu_engine_stage_ns(const lj_cpu_engine *e) { return e->stage_ns; }

// Sequences must be contiguous runs at consecutive positions that continue (or rewind) the cache.
static int check_batch(const lj_cpu_engine *e, const lj_batch *b) {
  const lj_kv_cache *kv = &e->ranks[0].kv;  // every rank's cache has the same slots and lengths
  if (b->n < 1) return LJ_FAIL(LJ_EINVAL, "empty batch");
  for (int t = 0; t < b->n; t++) {
    int s = b->seq[t], p = b->pos[t];
    if (s < 0 || s >= kv->max_seqs)
      return LJ_FAIL(LJ_EINVAL, "batch token %d: sequence slot %d outside [0, %d)", t, s, kv->max_seqs);
    if (p < 0 || p >= kv->max_ctx)
      return LJ_FAIL(LJ_EINVAL, "batch token %d: position %d outside the context of %d", t, p, kv->max_ctx);
    int starts_run = t == 0 || b->seq[t - 1] != s;
    if (starts_run) {
      if (p > kv->len[s])
        return LJ_FAIL(LJ_EINVAL, "batch token %d: position %d skips past the %d cached positions of sequence %d", t,
                       p, kv->len[s], s);
      for (int u = 0; u < t; u++)
        if (b->seq[u] == s) return LJ_FAIL(LJ_EINVAL, "batch: the tokens of sequence %d are not contiguous", s);
    } else if (p != b->pos[t - 1] + 1) {
      return LJ_FAIL(LJ_EINVAL, "batch token %d: position %d does not follow %d", t, p, b->pos[t - 1]);
    }
  }
  if (b->n_logits < 0 || b->n_logits > b->n)
    return LJ_FAIL(LJ_EINVAL, "batch: %d logit rows for %d tokens", b->n_logits, b->n);
  for (int i = 0; i < b->n_logits; i++)
    if (b->logit_rows[i] < 0 || b->logit_rows[i] >= b->n)
      return LJ_FAIL(LJ_EINVAL, "batch: logit row %d outside the %d tokens", b->logit_rows[i], b->n);
  return LJ_OK;
}

// Writes this layer's keys/values of every token into the rank's cache (its KV heads), then
// runs attention of its query heads per sequence (a run of the batch).
static void attention_block(lj_cpu_engine *e, cpu_rank *R, const lj_batch *b, int layer) {
  const lj_model_config *c = &R->w.config;
  const int kv_dim = lj_kv_dim(c), q_dim = lj_q_dim(c);
  for (int t = 0; t < b->n; t++) {
    float *kc = lj_kv_cache_k(&R->kv, layer, b->seq[t]) + (size_t)b->pos[t] * (size_t)kv_dim;
    float *vc = lj_kv_cache_v(&R->kv, layer, b->seq[t]) + (size_t)b->pos[t] * (size_t)kv_dim;
    memcpy(kc, R->k + (size_t)t * (size_t)kv_dim, (size_t)kv_dim * sizeof(float));
    memcpy(vc, R->v + (size_t)t * (size_t)kv_dim, (size_t)kv_dim * sizeof(float));
  }
  for (int t0 = 0; t0 < b->n;) {
    int t1 = t0 + 1;
    while (t1 < b->n && b->seq[t1] == b->seq[t0]) t1++;
    lj_cpu_attention(R->q + (size_t)t0 * (size_t)q_dim, lj_kv_cache_k(&R->kv, layer, b->seq[t0]),
                     lj_kv_cache_v(&R->kv, layer, b->seq[t0]), b->pos + t0, t1 - t0, c->n_heads, c->n_kv_heads,
                     c->head_dim, R->att + (size_t)t0 * (size_t)q_dim, e->pool);
    t0 = t1;
  }
}

// The input of a linear layer: with FP8 weights, calls of more than LJ_FP8_W8A16_MAX_TOKENS tokens
// quantise it per token (the GPU's FP8 GEMM path, same rule and threshold); otherwise as it is.
static const float *linear_input(lj_cpu_engine *e, const float *x, const lj_tensor *w, int n) {
  if (w->dtype != LJ_DTYPE_F8_E4M3 || n <= LJ_FP8_W8A16_MAX_TOKENS) return x;
  lj_cpu_fp8_quantize_act(x, n, (int)w->shape[1], e->xq);
  return e->xq;
}

// The rank's partial output of a column-split projection (o_proj, down_proj): rank 0 writes
// proj, the others their own buffer, summed into proj by reduce_and_add.
static float *partial_out(lj_cpu_engine *e, int r) { return r ? e->ranks[r].part : e->proj; }

// Ends the projection's stage `proj_st` (o_proj, down) of layer l and adds its output to the
// residual stream. Degree > 1: in the all-reduce stage `ar` the ranks' partial sums are added in
// rank order (0 + 1 + 2 ...), so that every rank would hold the same proj, and then the residual
// (every rank would add it). Degree 1: nothing to reduce, no all-reduce stage; the residual add
// stays in the projection's stage, as before the all-reduce stages existed.
static void reduce_and_add(lj_cpu_engine *e, lj_stage proj_st, lj_stage ar, int l, int n) {
  const int64_t len = (int64_t)n * e->w->config.dim;
  lj_stage st = proj_st;
  if (e->degree > 1) {
    stage_end(e, proj_st, l);
    stage_begin(e, st = ar, l);
    for (int r = 1; r < e->degree; r++) lj_cpu_add(e->proj, e->ranks[r].part, len);
  }
  lj_cpu_add(e->x, e->proj, len);
  stage_end(e, st, l);
}

// Every stage runs each rank's share in turn; the ranks' o_proj and down_proj leave partial
// sums that the all-reduce stages add (reduce_and_add). The norms and the residual stream
// are replicated: computed once, as every rank would compute the same rows.
static void decoder_layer(lj_cpu_engine *e, const lj_batch *b, int l) {
  const lj_model_config *c = &e->w->config;
  const lj_layer_weights *L = &e->w->layers[l];
  const int n = b->n;
  const float eps = (float)c->norm_eps;

  stage_begin(e, LJ_STAGE_ATTN_NORM, l);
  lj_cpu_rmsnorm(e->x, &L->attn_norm, eps, n, c->dim, e->xn);
  stage_end(e, LJ_STAGE_ATTN_NORM, l);

  stage_begin(e, LJ_STAGE_QKV, l);
  for (int r = 0; r < e->degree; r++) {
    cpu_rank *R = &e->ranks[r];
    const lj_layer_weights *W = &R->w.layers[l];
    lj_cpu_matmul(linear_input(e, e->xn, &W->wq, n), &W->wq, n, R->q, e->pool);  // (n, q_dim / degree)
    lj_cpu_matmul(linear_input(e, e->xn, &W->wk, n), &W->wk, n, R->k, e->pool);  // (n, kv_dim / degree)
    lj_cpu_matmul(linear_input(e, e->xn, &W->wv, n), &W->wv, n, R->v, e->pool);  // (n, kv_dim / degree)
  }
  stage_end(e, LJ_STAGE_QKV, l);

  stage_begin(e, LJ_STAGE_ROPE, l);
  for (int r = 0; r < e->degree; r++) {
    cpu_rank *R = &e->ranks[r];
    lj_cpu_rope(R->q, b->pos, n, R->w.config.n_heads, c->head_dim, e->inv_freq);
    lj_cpu_rope(R->k, b->pos, n, R->w.config.n_kv_heads, c->head_dim, e->inv_freq);
  }
  stage_end(e, LJ_STAGE_ROPE, l);

  stage_begin(e, LJ_STAGE_ATTN, l);
  for (int r = 0; r < e->degree; r++) attention_block(e, &e->ranks[r], b, l);
  stage_end(e, LJ_STAGE_ATTN, l);

  stage_begin(e, LJ_STAGE_O_PROJ, l);
  for (int r = 0; r < e->degree; r++) {
    const lj_tensor *wo = &e->ranks[r].w.layers[l].wo;
    lj_cpu_matmul(linear_input(e, e->ranks[r].att, wo, n), wo, n, partial_out(e, r), e->pool);  // (n, dim)
  }
  reduce_and_add(e, LJ_STAGE_O_PROJ, LJ_STAGE_ATTN_ALLREDUCE, l, n);

  stage_begin(e, LJ_STAGE_FFN_NORM, l);
  lj_cpu_rmsnorm(e->x, &L->ffn_norm, eps, n, c->dim, e->xn);
  stage_end(e, LJ_STAGE_FFN_NORM, l);

  stage_begin(e, LJ_STAGE_GATE_UP, l);
  for (int r = 0; r < e->degree; r++) {
    cpu_rank *R = &e->ranks[r];
    const lj_layer_weights *W = &R->w.layers[l];
    lj_cpu_matmul(linear_input(e, e->xn, &W->w_gate, n), &W->w_gate, n, R->gate, e->pool);  // (n, hidden / degree)
    lj_cpu_matmul(linear_input(e, e->xn, &W->w_up, n), &W->w_up, n, R->up, e->pool);        // (n, hidden / degree)
  }
  stage_end(e, LJ_STAGE_GATE_UP, l);

  stage_begin(e, LJ_STAGE_SWIGLU, l);
  for (int r = 0; r < e->degree; r++) {
    cpu_rank *R = &e->ranks[r];
    lj_cpu_swiglu(R->gate, R->up, (int64_t)n * R->w.config.hidden_dim, R->gate);
  }
  stage_end(e, LJ_STAGE_SWIGLU, l);

  stage_begin(e, LJ_STAGE_DOWN, l);
  for (int r = 0; r < e->degree; r++) {
    const lj_tensor *wd = &e->ranks[r].w.layers[l].w_down;
    lj_cpu_matmul(linear_input(e, e->ranks[r].gate, wd, n), wd, n, partial_out(e, r), e->pool);  // (n, dim)
  }
  reduce_and_add(e, LJ_STAGE_DOWN, LJ_STAGE_MLP_ALLREDUCE, l, n);
}

int lj_cpu_forward(lj_cpu_engine *e, const lj_batch *b, float *logits) {
  const lj_model_config *c = &e->w->config;
  LJ_TRY(check_batch(e, b));
  LJ_TRY(grow_activations(e, b->n));

  stage_begin(e, LJ_STAGE_EMBED, -1);
  int rc = lj_cpu_embed(&e->w->embed, b->tokens, b->n, e->x);  // (n, dim)
  stage_end(e, LJ_STAGE_EMBED, -1);
  if (rc < 0) return rc;

  for (int l = 0; l < c->n_layers; l++) decoder_layer(e, b, l);
  for (int t = 0; t < b->n; t++)  // the last token of each run sets its sequence's length
    if (t + 1 == b->n || b->seq[t + 1] != b->seq[t])
      for (int r = 0; r < e->degree; r++) e->ranks[r].kv.len[b->seq[t]] = b->pos[t] + 1;

  // Only the rows whose logits are wanted go through the final norm and LM head (replicated:
  // every rank would compute the same logits; computed once).
  stage_begin(e, LJ_STAGE_FINAL_NORM, -1);
  for (int i = 0; i < b->n_logits; i++)
    lj_cpu_rmsnorm(e->x + (size_t)b->logit_rows[i] * (size_t)c->dim, &e->w->final_norm, (float)c->norm_eps, 1, c->dim,
                   e->rows + (size_t)i * (size_t)c->dim);
  stage_end(e, LJ_STAGE_FINAL_NORM, -1);

  stage_begin(e, LJ_STAGE_LM_HEAD, -1);
  if (b->n_logits > 0) lj_cpu_matmul(e->rows, &e->w->lm_head, b->n_logits, logits, e->pool);  // (n_logits, vocab)
  stage_end(e, LJ_STAGE_LM_HEAD, -1);
  return LJ_OK;
}
