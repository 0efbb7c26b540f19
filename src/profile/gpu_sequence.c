// Sequence replay on the GPU (prefill and decode): every prefix of the layer
// (attn_norm, attn_norm..qkv, ..., the whole layer) replayed back to back,
// cycling all layers; stage k's energy is what it adds after the stages before
// it, transitions included (analyze_sequence.c takes the differences). Back to
// back, because the whole layer's mean power is the run's own. What proves it
// wrong: the sequence closure, the whole layer x layers plus the stages outside
// the layers against the measured phase (the prefixes telescope to the layer).
#include "profile/gpu_run.h"

// Every prefix of the layer (attn_norm, attn_norm..qkv, ..., the whole layer) on batch b,
// cycling all layers back to back: stage k's energy is then what it adds after the stages
// before it, transitions between stages included. Back to back, because the whole layer's
// mean power is the run's own. Each round replays every prefix once, so that drift shares
// the rounds.
int lj_gpu_sequence_rounds(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  for (int k = 0; k < g->o->trials; k++) {
    for (int st = LJ_STAGE_ATTN_NORM; st <= LJ_STAGE_DOWN; st++) {
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(lj_gpu_replay_span(g, ph, LJ_STAGE_ATTN_NORM, (lj_stage)st, kv, b, 0, LJ_METHOD_SEQUENCE, k, 1,
                                g->o->replay_seconds, 1));
    }
    lj_gpu_step_done(g);
  }
  return 0;
}

int lj_gpu_sequence_prefill(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(lj_gpu_prefill_state(g, &b));
  return lj_gpu_sequence_rounds(g, LJ_PHASE_PREFILL, 0, &b);
}
