// One tensor-parallel rank's decoder-layer weights: the plan of model/tp_shard.h applied to
// lj_weights. A row slice (q/k/v, gate/up) is a view into the full tensor (its rows are
// contiguous); a column slice (o_proj, down_proj) is copied, as each GPU holds its own (its
// per-row FP8 scales stay the full matrix's, shared). A slice that is the whole tensor
// (degree 1) is the tensor itself: no copy, the same pointers.
// Embeddings, norms and the LM head are replicated: use the lj_weights' own.
#pragma once
#include "model/weights.h"

typedef struct {
  int degree, rank;
  lj_model_config config;    // the rank's layer shape (lj_tp_rank_config)
  lj_layer_weights *layers;  // (n_layers) the rank's slices; norms are the full weights' views
  void **owned;              // copied column slices, freed with the rank
  int n_owned;
} lj_tp_rank_weights;

// Fails (LJ_EINVAL naming the model and field) when the degree does not split the model.
int lj_tp_rank_weights_build(const lj_weights *w, int degree, int rank, lj_tp_rank_weights *out);
void lj_tp_rank_weights_free(lj_tp_rank_weights *r);
