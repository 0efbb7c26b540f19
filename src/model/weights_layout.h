// The list of tensors of a Llama model: HF names, expected shapes from the
// configuration, and where each lives in lj_weights. Loaders, the random
// initialiser, the checks and the checkpoint writer all walk this one list.
#pragma once
#include <stdint.h>

#include "model/safetensors.h"
#include "model/weights.h"

typedef struct {
  lj_tensor *t;      // the view in lj_weights
  char name[96];     // HF name
  uint32_t random_id;  // tensor id of model/random_init.h
  int is_norm;       // RMSNorm weight (vector)
  int64_t rows, cols;  // expected shape; cols == 0 for vectors
} lj_weight_slot;

// Number of slots: embed, 9 per layer, final norm, and lm_head when untied.
int lj_weight_slot_count(const lj_model_config *c);

// Fills `slots` (lj_weight_slot_count entries) for w (w->config and w->layers must be set).
void lj_weight_slots(lj_weights *w, lj_weight_slot *slots);

// An F8_E4M3 matrix t just read from `set`: reads its `<name>_scale` tensor (per tensor or per
// output channel) into per-row scales owned by w. Fails naming the tensor for anything else
// (FP8 outside the linear layers, a missing scale, block-wise scales).
int lj_weights_fp8_scales(lj_weights *w, const lj_st_set *set, lj_tensor *t, const char *file);

// Every tensor of `set` (in file, then header order) is one of the slots, an F8_E4M3 slot's
// `<name>_scale`, or one that published checkpoints carry unread (weights_unused.c says which and
// why); else LJ_EINVAL naming the first other tensor and, where one explains it, the configuration
// field (a layer beyond num_hidden_layers, a bias without attention_bias or mlp_bias).
int lj_weights_check_unused(const lj_model_config *c, const lj_weight_slot *slots, int n_slots, const lj_st_set *set);
