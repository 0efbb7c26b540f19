// Ablation on the GPU: decode windows of the full run alternating with decode
// windows of the run with a stage group skipped (attention, or the MLP's
// gate_up, swiglu and down), after a pre-roll each; the saved energy is what
// the group costs in the real run, interactions included. What proves the
// replay estimates wrong is this: saved per call against calls x the replayed
// per-call energy (agreement_pct, the ratio's interval around 1).
#include <stdio.h>

#include "profile/gpu_run.h"

int lj_gpu_run_ablation(gpu_run *g) {
  uint32_t mask = g->o->ablation == 2 ? (1u << LJ_STAGE_GATE_UP) | (1u << LJ_STAGE_SWIGLU) | (1u << LJ_STAGE_DOWN)
                                      : 1u << LJ_STAGE_ATTN;
  for (int rep = 0; rep < g->o->repeats && rep < LJ_PROFILE_MAX_PAIRS && !lj_gpu_interrupted(g); rep++) {
    for (int ablated = 0; ablated < 2; ablated++) {
      lj_cuda_set_skip_mask(g->e, ablated ? mask : 0);
      LJ_TRY(lj_gpu_unit_decode(g));  // capture the graph for this mask outside the window
      char name[64];
      snprintf(name, sizeof name, "ablation:%s#%d", ablated ? (g->o->ablation == 2 ? "no_mlp" : "no_attn") : "full",
               rep);
      int h = -1;
      int64_t units = 0;
      double host_s = 0;
      int rc = lj_gpu_timed_window(g, name, lj_gpu_unit_decode, 1 << 20, LJ_GPU_PREROLL_S, &h, &units, &host_s);
      if (rc < 0) {
        lj_cuda_set_skip_mask(g->e, 0);
        return rc;
      }
      int i = g->n_abl[ablated]++;
      g->abl_handles[ablated][i] = h;
      g->abl_units[ablated][i] = units;
    }
    lj_gpu_step_done(g);
  }
  lj_cuda_set_skip_mask(g->e, 0);
  return 0;
}
