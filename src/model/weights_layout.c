#include "model/weights_layout.h"

#include <stdio.h>

#include "model/random_init.h"

int lj_weight_slot_count(const lj_model_config *c) { return 2 + 9 * c->n_layers + (c->tie_embeddings ? 0 : 1); }

static lj_weight_slot *add(lj_weight_slot *s, lj_tensor *t, uint32_t id, int is_norm, int64_t rows, int64_t cols) {
  s->t = t;
  s->random_id = id;
  s->is_norm = is_norm;
  s->rows = rows;
  s->cols = cols;
  return s;
}

void lj_weight_slots(lj_weights *w, lj_weight_slot *slots) {
  const lj_model_config *c = &w->config;
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  lj_weight_slot *s = slots;
  snprintf(add(s++, &w->embed, lj_global_tensor_id(LJ_TENSOR_EMBED), 0, c->vocab_size, d)->name, 96,
           "model.embed_tokens.weight");
  for (int l = 0; l < c->n_layers; l++) {
    lj_layer_weights *L = &w->layers[l];
    struct { lj_tensor *t; int slot; int is_norm; int64_t rows, cols; const char *suffix; } per[] = {
        {&L->attn_norm, LJ_TENSOR_ATTN_NORM, 1, d, 0, "input_layernorm.weight"},
        {&L->wq, LJ_TENSOR_WQ, 0, q, d, "self_attn.q_proj.weight"},
        {&L->wk, LJ_TENSOR_WK, 0, kv, d, "self_attn.k_proj.weight"},
        {&L->wv, LJ_TENSOR_WV, 0, kv, d, "self_attn.v_proj.weight"},
        {&L->wo, LJ_TENSOR_WO, 0, d, q, "self_attn.o_proj.weight"},
        {&L->ffn_norm, LJ_TENSOR_FFN_NORM, 1, d, 0, "post_attention_layernorm.weight"},
        {&L->w_gate, LJ_TENSOR_W_GATE, 0, h, d, "mlp.gate_proj.weight"},
        {&L->w_up, LJ_TENSOR_W_UP, 0, h, d, "mlp.up_proj.weight"},
        {&L->w_down, LJ_TENSOR_W_DOWN, 0, d, h, "mlp.down_proj.weight"},
    };
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++)
      snprintf(add(s++, per[i].t, lj_layer_tensor_id(l, per[i].slot), per[i].is_norm, per[i].rows, per[i].cols)->name,
               96, "model.layers.%d.%s", l, per[i].suffix);
  }
  snprintf(add(s++, &w->final_norm, lj_global_tensor_id(LJ_TENSOR_FINAL_NORM), 1, d, 0)->name, 96, "model.norm.weight");
  if (!c->tie_embeddings)
    snprintf(add(s++, &w->lm_head, lj_global_tensor_id(LJ_TENSOR_LM_HEAD), 0, c->vocab_size, d)->name, 96,
             "lm_head.weight");
}
