// Sequence replay on the GPU (prefill and decode): every prefix of the layer
// (attn_norm, attn_norm..qkv, ..., the whole layer) replayed back to back,
// cycling all layers; stage k's energy is what it adds after the stages before
// it, transitions included (analyze_sequence.c takes the differences). Back to
// back, because the whole layer's mean power is the run's own. What proves it
// wrong: the sequence closure, the whole layer x layers plus the stages outside
// the layers against the measured phase (the prefixes telescope to the layer).
#include "profile/gpu_run.h"

int lj_gpu_sequence_prefill(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(lj_gpu_prefill_state(g, &b));
  return lj_gpu_layer_rounds(g, LJ_PHASE_PREFILL, 0, &b);  // gpu_loo.c: the prefixes and the Shapley rounds
}
