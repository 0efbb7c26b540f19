// The CUDA engine behind `llamajoule generate --device cuda` (see cuda_generate.h).
#include "engine/cuda/cuda_generate.h"

#include <stdlib.h>

#include "common/error.h"

int lj_cuda_forward_fn(void *engine, const lj_batch *b, float *logits) {
  return lj_cuda_forward_batch((lj_cuda_engine *)engine, b->tokens, b->seq, b->pos, b->n, b->logit_rows,
                               b->n_logits, logits);
}

static int host_dtype(const lj_tensor *t, lj_dtype want, const char *name, int layer) {
  if (!t->data) return LJ_FAIL(LJ_EINVAL, "CUDA engine: tensor %s (layer %d) is missing", name, layer);
  if (t->dtype != want)
    return LJ_FAIL(LJ_EUNSUPPORTED, "CUDA engine: tensor %s (layer %d) is %s; all tensors must be %s (F32 or BF16)",
                   name, layer, lj_dtype_name(t->dtype), lj_dtype_name(want));
  return 0;
}

int lj_cuda_engine_from_weights(const lj_weights *w, int max_seqs, int max_ctx, int max_tokens,
                                lj_cuda_engine **out) {
  *out = NULL;
  const lj_model_config *c = &w->config;
  lj_dtype dt = w->embed.dtype;
  if (dt != LJ_DTYPE_F32 && dt != LJ_DTYPE_BF16)
    return LJ_FAIL(LJ_EUNSUPPORTED, "CUDA engine: weights of dtype %s (needs F32 or BF16)", lj_dtype_name(dt));
  lj_cuda_host_layer *layers = calloc((size_t)c->n_layers, sizeof *layers);
  if (!layers) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  int rc = host_dtype(&w->embed, dt, "embed", -1);
  if (rc == 0) rc = host_dtype(&w->final_norm, dt, "final_norm", -1);
  if (rc == 0 && !c->tie_embeddings) rc = host_dtype(&w->lm_head, dt, "lm_head", -1);
  for (int l = 0; rc == 0 && l < c->n_layers; l++) {
    const lj_layer_weights *s = &w->layers[l];
    const lj_tensor *t[9] = {&s->attn_norm, &s->wq, &s->wk, &s->wv, &s->wo, &s->ffn_norm, &s->w_gate, &s->w_up, &s->w_down};
    static const char *const names[9] = {"attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_up", "w_down"};
    for (int i = 0; rc == 0 && i < 9; i++) rc = host_dtype(t[i], dt, names[i], l);
    layers[l] = (lj_cuda_host_layer){s->attn_norm.data, s->wq.data, s->wk.data, s->wv.data, s->wo.data,
                                     s->ffn_norm.data, s->w_gate.data, s->w_up.data, s->w_down.data};
  }
  if (rc == 0) {
    lj_cuda_host_weights hw = {dt == LJ_DTYPE_BF16 ? LJ_CUDA_HOST_BF16 : LJ_CUDA_HOST_F32, w->embed.data,
                               w->final_norm.data, c->tie_embeddings ? NULL : w->lm_head.data, layers};
    lj_cuda_options o;
    lj_cuda_options_default(&o);
    o.max_batch = max_seqs, o.max_ctx = max_ctx, o.max_tokens = max_tokens;
    rc = lj_cuda_engine_create(out, c, &hw, &o);
  }
  free(layers);
  return rc;
}
