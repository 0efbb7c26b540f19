// The layer-skip check on the GPU (--per-layer; docs/attribution.md §2f): windows of the
// full phase unit alternating with windows of the unit with one layer a no-op (the first,
// the middle and the last; the residual passes through), prefill and decode, after a
// pre-roll each. The energy saved per unit is what that layer costs in the real run; it
// proves the layer's replay estimate wrong when they differ by more than 10%.
#include <stdio.h>

#include "common/clock.h"
#include "profile/gpu_run.h"

static int window(gpu_run *g, int pi, int slot, int rep) {
  gpu_unit_fn fn = pi ? lj_gpu_unit_decode : lj_gpu_unit_prefill;
  LJ_TRY(lj_cuda_set_skip_layer(g->e, slot ? g->raw.skip_layer[slot] : -1));
  LJ_TRY(fn(g));  // capture the graph without the layer outside the window
  char name[64];
  snprintf(name, sizeof name, "layer_skip:%s:%d#%d", pi ? "decode" : "prefill", slot ? g->raw.skip_layer[slot] : -1,
           rep);
  int h = -1;
  int64_t units = 0;
  double host_s = 0;
  LJ_TRY(lj_gpu_timed_window(g, name, fn, 1 << 20, LJ_GPU_PREROLL_S, &h, &units, &host_s));
  int i = g->n_skip[pi][slot]++;
  g->skip_handles[pi][slot][i] = h;
  g->skip_units[pi][slot][i] = units;
  return 0;
}

int lj_gpu_layer_skips(gpu_run *g) {
  int n_layers = g->r->plan.config.n_layers;
  g->raw.skip_layer[0] = -1;
  g->raw.skip_layer[1] = 0, g->raw.skip_layer[2] = n_layers / 2, g->raw.skip_layer[3] = n_layers - 1;
  int slots = n_layers >= 3 ? LJ_SKIP_SLOTS : 1 + n_layers;
  int rc = 0;
  int64_t t0 = lj_mono_ns();
  for (int pi = 0; pi < 2 && rc == 0; pi++)
    for (int rep = 0; rep < g->o->repeats && rep < LJ_PROFILE_MAX_PAIRS && rc == 0 && !lj_gpu_interrupted(g); rep++) {
      for (int slot = 0; slot < slots && rc == 0; slot++) rc = window(g, pi, slot, rep);
      lj_gpu_step_done(g);
    }
  int off = lj_cuda_set_skip_layer(g->e, -1);
  if (rc == 0) lj_profile_note(g->r, "--per-layer: the layer-skip windows took %.0f s.", (double)(lj_mono_ns() - t0) * 1e-9);
  return rc < 0 ? rc : off;
}
