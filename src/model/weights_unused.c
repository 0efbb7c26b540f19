// Tensors of a checkpoint that its configuration does not use. A checkpoint with more layers than
// config.json's num_hidden_layers loaded silently and ran fewer layers than it holds; so does any
// tensor the engine would never read. Each is an error naming the tensor and, where one explains
// it, the configuration field, except the few that published Llama checkpoints carry beside the
// weights (kAccepted, each with why it is safe to leave unread).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/weights_layout.h"

// Suffixes of a layer's tensor (model.layers.N.<suffix>) that are accepted and not read.
static const char *const kAccepted[] = {
    // RoPE's frequencies, a buffer transformers before 4.31 saved with the weights (Llama 2 era
    // conversions); the engines compute them from rope_theta and rope_scaling.
    "self_attn.rotary_emb.inv_freq",
    // compressed-tensors FP8 with static activation scales: the engines quantise activations per
    // token as they run, so the stored per-tensor activation scale is not needed.
    "self_attn.q_proj.input_scale", "self_attn.k_proj.input_scale", "self_attn.v_proj.input_scale",
    "self_attn.o_proj.input_scale", "mlp.gate_proj.input_scale", "mlp.up_proj.input_scale",
    "mlp.down_proj.input_scale",
    // FP8 KV-cache scales (kv_cache_scheme): the engines keep K and V in fp32 (CPU) or bf16 (GPU).
    "self_attn.k_scale", "self_attn.v_scale",
};

static int is_slot(const lj_weight_slot *slots, int n, const char *name, size_t len) {
  for (int i = 0; i < n; i++)
    if (strlen(slots[i].name) == len && !strncmp(slots[i].name, name, len)) return 1;
  return 0;
}

// 1 when the configuration uses or accepts the tensor; 0 with the error set when it does not.
static int used(const lj_model_config *c, const lj_weight_slot *slots, int n, const lj_st_tensor *t) {
  const char *name = t->name;
  size_t len = strlen(name);
  if (is_slot(slots, n, name, len)) return 1;
  // an FP8 matrix's weight_scale (lj_weights_fp8_scales reads it)
  static const char kScale[] = "_scale";
  size_t ks = sizeof kScale - 1;
  if (len > ks && !strcmp(name + len - ks, kScale) && is_slot(slots, n, name, len - ks)) return 1;
  // tie_word_embeddings: transformers ties lm_head to the embeddings after loading, so a saved copy is unread
  if (c->tie_embeddings && !strcmp(name, "lm_head.weight")) return 1;
  int layer = -1, at = 0;
  if (sscanf(name, "model.layers.%d.%n", &layer, &at) == 1 && at > 0) {
    if (layer >= c->n_layers)
      return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' belongs to layer %d, but config.json's num_hidden_layers is %d "
                     "(layers 0..%d): the checkpoint holds layers its configuration does not run", t->file, name,
                     layer, c->n_layers, c->n_layers - 1);
    for (size_t i = 0; i < sizeof kAccepted / sizeof kAccepted[0]; i++)
      if (!strcmp(name + at, kAccepted[i])) return 1;
    const char *bias = strstr(name + at, ".bias");
    if (bias && !bias[5])
      return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' is a bias, but config.json's %s is false", t->file, name,
                     strncmp(name + at, "mlp.", 4) ? "attention_bias" : "mlp_bias");
  }
  return LJ_FAIL(LJ_EINVAL, "%s: tensor '%s' is not one a Llama model of this configuration uses (%d layers, "
                 "tie_word_embeddings %s)", t->file, name, c->n_layers, c->tie_embeddings ? "true" : "false");
}

int lj_weights_check_unused(const lj_model_config *c, const lj_weight_slot *slots, int n_slots, const lj_st_set *set) {
  for (int f = 0; f < set->n_files; f++)
    for (int i = 0; i < set->files[f].n_tensors; i++) {
      int rc = used(c, slots, n_slots, &set->files[f].tensors[i]);
      if (rc < 0) return rc;
    }
  return LJ_OK;
}
