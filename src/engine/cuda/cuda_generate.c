// The CUDA engine behind `llamajoule generate --device cuda` (see cuda_generate.h).
#include "engine/cuda/cuda_generate.h"

#include <stdlib.h>

#include "common/error.h"

int lj_cuda_forward_fn(void *engine, const lj_batch *b, float *logits) {
  return lj_cuda_forward_batch((lj_cuda_engine *)engine, b->tokens, b->seq, b->pos, b->n, b->logit_rows,
                               b->n_logits, logits);
}

static int host_tensor(const lj_tensor *t, const char *name, int layer, lj_cuda_host_tensor *out) {
  if (!t->data) return LJ_FAIL(LJ_EINVAL, "CUDA engine: tensor %s (layer %d) is missing", name, layer);
  *out = (lj_cuda_host_tensor){t->data, t->dtype, t->scale};
  return 0;
}

int lj_cuda_engine_from_weights(const lj_weights *w, int weights, int fp8_scale, int max_seqs, int max_ctx,
                                int max_tokens, lj_cuda_engine **out) {
  *out = NULL;
  const lj_model_config *c = &w->config;
  lj_cuda_host_layer *layers = calloc((size_t)c->n_layers, sizeof *layers);
  if (!layers) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  lj_cuda_host_weights hw = {.layers = layers};
  int rc = host_tensor(&w->embed, "embed", -1, &hw.embed);
  if (rc == 0) rc = host_tensor(&w->final_norm, "final_norm", -1, &hw.final_norm);
  if (rc == 0 && !c->tie_embeddings) rc = host_tensor(&w->lm_head, "lm_head", -1, &hw.lm_head);
  for (int l = 0; rc == 0 && l < c->n_layers; l++) {
    const lj_layer_weights *s = &w->layers[l];
    lj_cuda_host_layer *d = &layers[l];
    const lj_tensor *t[9] = {&s->attn_norm, &s->wq, &s->wk, &s->wv, &s->wo, &s->ffn_norm, &s->w_gate, &s->w_up, &s->w_down};
    lj_cuda_host_tensor *o[9] = {&d->attn_norm, &d->wq, &d->wk, &d->wv, &d->wo, &d->ffn_norm, &d->w_gate, &d->w_up, &d->w_down};
    static const char *const names[9] = {"attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_up", "w_down"};
    for (int i = 0; rc == 0 && i < 9; i++) rc = host_tensor(t[i], names[i], l, o[i]);
  }
  if (rc == 0) {
    lj_cuda_options o;
    lj_cuda_options_default(&o);
    o.max_batch = max_seqs, o.max_ctx = max_ctx, o.max_tokens = max_tokens, o.weights = weights;
    o.fp8_scale = fp8_scale;
    rc = lj_cuda_engine_create(out, c, &hw, &o);
  }
  free(layers);
  return rc;
}

