#include "engine/cpu/cpu_engine.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/cpu/thread_pool.h"
#include "model/fp8_quant.h"

struct lj_cpu_engine {
  const lj_weights *w;
  lj_thread_pool *pool;
  lj_kv_cache kv;
  float *inv_freq;  // (head_dim/2)
  // activations, grown to the largest batch seen
  int cap;          // tokens
  float *x;         // (cap, dim) residual stream
  float *xn;        // (cap, dim) normed input of a block
  float *q;         // (cap, q_dim)
  float *k, *v;     // (cap, kv_dim)
  float *att;       // (cap, q_dim) attention output
  float *proj;      // (cap, dim) o_proj / down output
  float *gate, *up; // (cap, hidden_dim)
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
  float **bufs[] = {&e->x, &e->xn, &e->q, &e->k, &e->v, &e->att, &e->proj, &e->gate, &e->up, &e->rows, &e->xq};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    free(*bufs[i]);
    *bufs[i] = NULL;
  }
  e->cap = 0;
}

static int max3(int a, int b, int c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static int grow_activations(lj_cpu_engine *e, int n) {
  if (n <= e->cap) return LJ_OK;
  const lj_model_config *c = &e->w->config;
  free_activations(e);
  size_t t = (size_t)n;
  struct { float **p; size_t width; } bufs[] = {
      {&e->x, (size_t)c->dim},         {&e->xn, (size_t)c->dim},        {&e->q, (size_t)lj_q_dim(c)},
      {&e->k, (size_t)lj_kv_dim(c)},   {&e->v, (size_t)lj_kv_dim(c)},   {&e->att, (size_t)lj_q_dim(c)},
      {&e->proj, (size_t)c->dim},      {&e->gate, (size_t)c->hidden_dim}, {&e->up, (size_t)c->hidden_dim},
      {&e->rows, (size_t)c->dim},
      // FP8 weights: the widest input of a linear layer (dim, q_dim for o_proj, hidden for down)
      {&e->xq, lj_weights_is_fp8(e->w) ? (size_t)max3(c->dim, lj_q_dim(c), c->hidden_dim) : 0},
  };
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    if (!bufs[i].width) continue;
    *bufs[i].p = malloc(t * bufs[i].width * sizeof(float));
    if (!*bufs[i].p) {
      free_activations(e);
      return LJ_FAIL(LJ_ENOMEM, "CPU engine: cannot allocate activations for %d tokens", n);
    }
  }
  e->cap = n;
  return LJ_OK;
}

int lj_cpu_engine_create(const lj_weights *w, int max_seqs, int max_ctx, int n_threads, lj_cpu_engine **out) {
  *out = NULL;
  const lj_model_config *c = &w->config;
  lj_cpu_engine *e = calloc(1, sizeof *e);
  if (!e) return LJ_FAIL(LJ_ENOMEM, "CPU engine: out of memory");
  e->w = w;
  e->inv_freq = malloc((size_t)(c->head_dim / 2) * sizeof *e->inv_freq);
  int rc = e->inv_freq ? LJ_OK : LJ_FAIL(LJ_ENOMEM, "CPU engine: out of memory");
  if (rc == LJ_OK) rc = lj_kv_cache_build(&e->kv, c->n_layers, max_seqs, max_ctx, lj_kv_dim(c));
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
  lj_kv_cache_free(&e->kv);
  lj_thread_pool_free(e->pool);
  free(e->inv_freq);
  free(e);
}

void lj_cpu_engine_reset_seq(lj_cpu_engine *e, int seq) { lj_kv_cache_reset(&e->kv, seq); }
const lj_kv_cache *lj_cpu_engine_kv(const lj_cpu_engine *e) { return &e->kv; }
void lj_cpu_engine_set_hook(lj_cpu_engine *e, lj_stage_hook hook, void *ctx) {
  e->hook = hook;
  e->hook_ctx = ctx;
}
const int64_t *lj_cpu_engine_stage_ns(const lj_cpu_engine *e) { return e->stage_ns; }

// Sequences must be contiguous runs at consecutive positions that continue (or rewind) the cache.
static int check_batch(const lj_cpu_engine *e, const lj_batch *b) {
  if (b->n < 1) return LJ_FAIL(LJ_EINVAL, "empty batch");
  for (int t = 0; t < b->n; t++) {
    int s = b->seq[t], p = b->pos[t];
    if (s < 0 || s >= e->kv.max_seqs)
      return LJ_FAIL(LJ_EINVAL, "batch token %d: sequence slot %d outside [0, %d)", t, s, e->kv.max_seqs);
    if (p < 0 || p >= e->kv.max_ctx)
      return LJ_FAIL(LJ_EINVAL, "batch token %d: position %d outside the context of %d", t, p, e->kv.max_ctx);
    int starts_run = t == 0 || b->seq[t - 1] != s;
    if (starts_run) {
      if (p > e->kv.len[s])
        return LJ_FAIL(LJ_EINVAL, "batch token %d: position %d skips past the %d cached positions of sequence %d", t,
                       p, e->kv.len[s], s);
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

// Writes this layer's keys/values of every token into its sequence's cache,
// then runs attention per sequence (a run of the batch).
static void attention_block(lj_cpu_engine *e, const lj_batch *b, int layer) {
  const lj_model_config *c = &e->w->config;
  const int kv_dim = lj_kv_dim(c), q_dim = lj_q_dim(c);
  for (int t = 0; t < b->n; t++) {
    float *kc = lj_kv_cache_k(&e->kv, layer, b->seq[t]) + (size_t)b->pos[t] * (size_t)kv_dim;
    float *vc = lj_kv_cache_v(&e->kv, layer, b->seq[t]) + (size_t)b->pos[t] * (size_t)kv_dim;
    memcpy(kc, e->k + (size_t)t * (size_t)kv_dim, (size_t)kv_dim * sizeof(float));
    memcpy(vc, e->v + (size_t)t * (size_t)kv_dim, (size_t)kv_dim * sizeof(float));
  }
  for (int t0 = 0; t0 < b->n;) {
    int t1 = t0 + 1;
    while (t1 < b->n && b->seq[t1] == b->seq[t0]) t1++;
    lj_cpu_attention(e->q + (size_t)t0 * (size_t)q_dim, lj_kv_cache_k(&e->kv, layer, b->seq[t0]),
                     lj_kv_cache_v(&e->kv, layer, b->seq[t0]), b->pos + t0, t1 - t0, c->n_heads, c->n_kv_heads,
                     c->head_dim, e->att + (size_t)t0 * (size_t)q_dim, e->pool);
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

static void decoder_layer(lj_cpu_engine *e, const lj_batch *b, int l) {
  const lj_model_config *c = &e->w->config;
  const lj_layer_weights *L = &e->w->layers[l];
  const int n = b->n;
  const float eps = (float)c->norm_eps;

  stage_begin(e, LJ_STAGE_ATTN_NORM, l);
  lj_cpu_rmsnorm(e->x, &L->attn_norm, eps, n, c->dim, e->xn);
  stage_end(e, LJ_STAGE_ATTN_NORM, l);

  stage_begin(e, LJ_STAGE_QKV, l);
  lj_cpu_matmul(linear_input(e, e->xn, &L->wq, n), &L->wq, n, e->q, e->pool);  // (n, q_dim)
  lj_cpu_matmul(linear_input(e, e->xn, &L->wk, n), &L->wk, n, e->k, e->pool);  // (n, kv_dim)
  lj_cpu_matmul(linear_input(e, e->xn, &L->wv, n), &L->wv, n, e->v, e->pool);  // (n, kv_dim)
  stage_end(e, LJ_STAGE_QKV, l);

  stage_begin(e, LJ_STAGE_ROPE, l);
  lj_cpu_rope(e->q, b->pos, n, c->n_heads, c->head_dim, e->inv_freq);
  lj_cpu_rope(e->k, b->pos, n, c->n_kv_heads, c->head_dim, e->inv_freq);
  stage_end(e, LJ_STAGE_ROPE, l);

  stage_begin(e, LJ_STAGE_ATTN, l);
  attention_block(e, b, l);
  stage_end(e, LJ_STAGE_ATTN, l);

  stage_begin(e, LJ_STAGE_O_PROJ, l);
  lj_cpu_matmul(linear_input(e, e->att, &L->wo, n), &L->wo, n, e->proj, e->pool);  // (n, dim)
  lj_cpu_add(e->x, e->proj, (int64_t)n * c->dim);
  stage_end(e, LJ_STAGE_O_PROJ, l);

  stage_begin(e, LJ_STAGE_FFN_NORM, l);
  lj_cpu_rmsnorm(e->x, &L->ffn_norm, eps, n, c->dim, e->xn);
  stage_end(e, LJ_STAGE_FFN_NORM, l);

  stage_begin(e, LJ_STAGE_GATE_UP, l);
  lj_cpu_matmul(linear_input(e, e->xn, &L->w_gate, n), &L->w_gate, n, e->gate, e->pool);  // (n, hidden_dim)
  lj_cpu_matmul(linear_input(e, e->xn, &L->w_up, n), &L->w_up, n, e->up, e->pool);      // (n, hidden_dim)
  stage_end(e, LJ_STAGE_GATE_UP, l);

  stage_begin(e, LJ_STAGE_SWIGLU, l);
  lj_cpu_swiglu(e->gate, e->up, (int64_t)n * c->hidden_dim, e->gate);
  stage_end(e, LJ_STAGE_SWIGLU, l);

  stage_begin(e, LJ_STAGE_DOWN, l);
  lj_cpu_matmul(linear_input(e, e->gate, &L->w_down, n), &L->w_down, n, e->proj, e->pool);  // (n, dim)
  lj_cpu_add(e->x, e->proj, (int64_t)n * c->dim);
  stage_end(e, LJ_STAGE_DOWN, l);
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
    if (t + 1 == b->n || b->seq[t + 1] != b->seq[t]) e->kv.len[b->seq[t]] = b->pos[t] + 1;

  // Only the rows whose logits are wanted go through the final norm and LM head.
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
