// The CUDA engine behind `llamajoule generate --device cuda` (see cuda_generate.h).
#include "engine/cuda/cuda_generate.h"

#include <stdlib.h>

#include "common/error.h"
#include "model/tp_shard.h"
#include "model/tp_weights.h"

int lj_cuda_forward_fn(void *engine, const lj_batch *b, float *logits) {
  return lj_cuda_forward_batch((lj_cuda_engine *)engine, b->tokens, b->seq, b->pos, b->n, b->logit_rows,
                               b->n_logits, logits);
}

static int host_tensor(const lj_tensor *t, const char *name, int layer, lj_cuda_host_tensor *out) {
  if (!t->data) return LJ_FAIL(LJ_EINVAL, "CUDA engine: tensor %s (layer %d) is missing", name, layer);
  *out = (lj_cuda_host_tensor){t->data, t->dtype, t->scale};
  return 0;
}

// The engine of host weights: embed, norms and head from w, the decoder layers from `layers`
// (w's own, or a tensor-parallel rank's slices, shaped by c).
static int from_layers(const lj_weights *w, const lj_layer_weights *layer_w, const lj_model_config *c,
                       const lj_cuda_options *o, lj_cuda_engine **out) {
  *out = NULL;
  lj_cuda_host_layer *layers = calloc((size_t)c->n_layers, sizeof *layers);
  if (!layers) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  lj_cuda_host_weights hw = {.layers = layers};
  int rc = host_tensor(&w->embed, "embed", -1, &hw.embed);
  if (rc == 0) rc = host_tensor(&w->final_norm, "final_norm", -1, &hw.final_norm);
  if (rc == 0 && !c->tie_embeddings) rc = host_tensor(&w->lm_head, "lm_head", -1, &hw.lm_head);
  for (int l = 0; rc == 0 && l < c->n_layers; l++) {
    const lj_layer_weights *s = &layer_w[l];
    lj_cuda_host_layer *d = &layers[l];
    const lj_tensor *t[9] = {&s->attn_norm, &s->wq, &s->wk, &s->wv, &s->wo, &s->ffn_norm, &s->w_gate, &s->w_up, &s->w_down};
    lj_cuda_host_tensor *h[9] = {&d->attn_norm, &d->wq, &d->wk, &d->wv, &d->wo, &d->ffn_norm, &d->w_gate, &d->w_up, &d->w_down};
    static const char *const names[9] = {"attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_up", "w_down"};
    for (int i = 0; rc == 0 && i < 9; i++) rc = host_tensor(t[i], names[i], l, h[i]);
  }
  if (rc == 0) rc = lj_cuda_engine_create(out, c, &hw, o);
  free(layers);
  return rc;
}

int lj_cuda_engine_from_weights(const lj_weights *w, int weights, int fp8_scale, int max_seqs, int max_ctx,
                                int max_tokens, lj_cuda_engine **out) {
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_batch = max_seqs, o.max_ctx = max_ctx, o.max_tokens = max_tokens, o.weights = weights;
  o.fp8_scale = fp8_scale;
  return from_layers(w, w->layers, &w->config, &o, out);
}

typedef struct {
  const lj_weights *w;        // host weights, or NULL: random
  const lj_model_config *c;   // random: the model
  uint64_t seed;
  lj_cuda_options opt;
} rank_source;

static int build_rank(void *ctx, int degree, int rank, int device, lj_cuda_engine **out) {
  const rank_source *src = ctx;
  lj_cuda_options o = src->opt;
  o.device = device;
  if (!src->w) return lj_cuda_engine_create_random_rank(out, src->c, degree, rank, src->seed, &o);
  lj_tp_rank_weights rw;
  LJ_TRY(lj_tp_rank_weights_build(src->w, degree, rank, &rw));
  int rc = from_layers(src->w, rw.layers, &rw.config, &o, out);
  lj_tp_rank_weights_free(&rw);  // the engine holds its own copy on the device
  return rc;
}

static int tp_create(const rank_source *src, int degree, int backend, lj_cuda_tp **out) {
  *out = NULL;
  if (src->opt.weights != LJ_WEIGHTS_BF16)
    return LJ_FAIL(LJ_EUNSUPPORTED, "tensor parallelism with %s weights: not supported yet (each rank would quantise "
                   "its own slice of o_proj's and down_proj's input; docs/tensor-parallel.md); use bf16 weights",
                   lj_weight_format_name(src->opt.weights));
  LJ_TRY(lj_tp_check(src->w ? &src->w->config : src->c, degree, src->w ? src->w->config.name : src->c->name));
  return lj_cuda_tp_create(degree, backend, src->opt.device, build_rank, (void *)src, out);
}

int lj_cuda_tp_from_weights(const lj_weights *w, int degree, int backend, const lj_cuda_options *opt, lj_cuda_tp **out) {
  rank_source src = {.w = w, .opt = *opt};
  return tp_create(&src, degree, backend, out);
}

int lj_cuda_tp_random(const lj_model_config *c, uint64_t seed, int degree, int backend, const lj_cuda_options *opt,
                      lj_cuda_tp **out) {
  rank_source src = {.c = c, .seed = seed, .opt = *opt};
  return tp_create(&src, degree, backend, out);
}

int lj_cuda_tp_forward_fn(void *tp, const lj_batch *b, float *logits) {
  return lj_cuda_tp_forward_batch((lj_cuda_tp *)tp, b->tokens, b->seq, b->pos, b->n, b->logit_rows, b->n_logits,
                                  logits);
}
