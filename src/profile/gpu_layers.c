// Each decoder layer replayed alone (--per-layer; docs/attribution.md §2f): the
// whole layer, its stages in the run's order, every call on that layer's own
// weights and the run's captured activations, back to back in trials of
// LJ_GPU_LAYER_TRIAL_FRACTION x --replay-seconds whose energy comes from the
// power samples (§1b). Rounds run every layer once, so drift spreads over all
// layers alike. Prefill on the prompt's state, decode at the middle replayed
// KV length. What proves it wrong: with random weights the layers must agree
// (lj_layer_agreement_compute); the layer-skip check against the real run.
#include <stdio.h>

#include "profile/gpu_run.h"

#define LJ_GPU_LAYER_TRIAL_FRACTION 0.4  // of --replay-seconds: 0.8 s trials by default

static int phase_layers(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  enum { N = LJ_LAYER_STAGES };
  lj_stage run[N];
  for (int k = 0; k < N; k++) run[k] = lj_layer_order_stage(0, k);
  int n_layers = g->r->plan.config.n_layers;
  double seconds = LJ_GPU_LAYER_TRIAL_FRACTION * o->replay_seconds;
  for (int round = 0; round < o->trials; round++) {
    for (int L = 0; L < n_layers; L++) {
      STOP_IF_INTERRUPTED(g);
      char name[32];
      snprintf(name, sizeof name, "layer-%d", L);
      lj_gpu_replay_what w = {run[0], run[N - 1], run, N, LJ_STAGE_COUNT, 0, name, L + 1};
      LJ_TRY(lj_gpu_replay_run(g, ph, &w, kv, b, 0, LJ_METHOD_LAYER, round, 1, seconds, 1));
    }
    lj_gpu_step_done(g);
  }
  return 0;
}

int lj_gpu_layers(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(lj_gpu_prefill_state(g, &b));
  LJ_TRY(phase_layers(g, LJ_PHASE_PREFILL, 0, &b));
  const lj_profile_plan *p = &g->r->plan;
  int64_t kv = p->decode_kv[p->n_decode_kv / 2];
  LJ_TRY(lj_gpu_decode_state_at(g, kv, &b));
  return phase_layers(g, LJ_PHASE_DECODE, kv, &b);
}
