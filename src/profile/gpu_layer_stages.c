// Layers x stages (--per-layer; docs/attribution.md §2f): each of the layer's nine
// stages replayed alone on each layer, on that layer's own weights (a matrix
// stage rotating over copies of them, so that they stream from HBM as in the
// run) and on that layer's own input (its captured input, then its stages
// before this one, once). One round of LJ_GPU_LAYER_STAGE_TRIAL_S trials, layer
// by layer, their energy from the power samples (§1b): 1B, 16 layers x 9 stages
// x 2 phases x (0.3 s + ~0.11 s pre-roll) ~ 2 minutes. What it can be checked
// against: per layer, the stages' sum against the whole layer alone (their gap is
// the transitions between stages that isolation misses, §2c), and each cell's
// replayed time against the timeline's time of that stage of that layer.
#include <stdio.h>

#include "profile/gpu_run.h"

#define LJ_GPU_LAYER_STAGE_TRIAL_S 0.3

int lj_gpu_layer_stages(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_cuda_layer_inputs *in) {
  int n_layers = g->r->plan.config.n_layers;
  for (int L = 0; L < n_layers; L++) {
    for (int k = 0; k < LJ_LAYER_STAGES; k++) {
      STOP_IF_INTERRUPTED(g);
      lj_stage st = lj_layer_order_stage(0, k);
      char name[48];
      snprintf(name, sizeof name, "layer-%d:%s", L, lj_stage_name(st));
      lj_gpu_replay_what w = {st, st, NULL, 0, st, 0, name, L + 1, in, 1, 0, 0};
      LJ_TRY(lj_gpu_replay_run(g, ph, &w, kv, b, 0, LJ_METHOD_LAYER_STAGE, 0, 1, LJ_GPU_LAYER_STAGE_TRIAL_S, 1));
    }
    lj_gpu_step_done(g);
  }
  return 0;
}
