// Ablation on the GPU, prefill and decode: windows of the full phase unit
// alternating with windows of the unit with attention skipped and with the
// MLP's gate_up, swiglu and down skipped (what --ablate names: both by default),
// after a pre-roll each; the saved energy is what the group costs in the real
// run, interactions included. What proves the replay estimates wrong is this:
// saved per call against calls x each method's per-call energy (agreement_pct,
// the ratio's interval around 1; analyze_ablation_checks.c). The stages after a skipped group
// read its outputs held from a full unit, so that only the skipped kernels differ.
#include <stdio.h>

#include "profile/gpu_run.h"

static uint32_t mask_of(int kind) {
  return kind == LJ_ABLATE_NO_ATTN  ? 1u << LJ_STAGE_ATTN
         : kind == LJ_ABLATE_NO_MLP ? (1u << LJ_STAGE_GATE_UP) | (1u << LJ_STAGE_SWIGLU) | (1u << LJ_STAGE_DOWN)
                                    : 0u;
}

static int window(gpu_run *g, int pi, int kind, int rep) {
  static const char *const names[LJ_ABLATE_COUNT] = {"full", "no_attn", "no_mlp"};
  gpu_unit_fn fn = pi ? lj_gpu_unit_decode : lj_gpu_unit_prefill;
  lj_cuda_set_skip_mask(g->e, mask_of(kind));
  LJ_TRY(fn(g));  // capture the graph for this mask outside the window
  char name[64];
  snprintf(name, sizeof name, "ablation:%s:%s#%d", pi ? "decode" : "prefill", names[kind], rep);
  int h = -1;
  int64_t units = 0;
  double host_s = 0;
  LJ_TRY(lj_gpu_timed_window(g, name, fn, 1 << 20, LJ_GPU_PREROLL_S, &h, &units, &host_s));
  int i = g->n_abl[pi][kind]++;
  g->abl_handles[pi][kind][i] = h;
  g->abl_units[pi][kind][i] = units;
  return 0;
}

// Each layer's attention output and MLP delta recorded from one full unit of the phase, so that
// the ablated units compute after the skipped group on the full run's data (held_outputs.cu):
// prefill exactly, decode with each layer's outputs of the last step. 1 when held, 0 when the
// device had no room (the ablation then runs on the stale buffers, and the notes say so).
static int hold(gpu_run *g, int pi) {
  gpu_unit_fn fn = pi ? lj_gpu_unit_decode : lj_gpu_unit_prefill;
  int n = pi ? g->o->batch : g->o->batch * g->o->prompt_len;
  lj_cuda_set_skip_mask(g->e, 0);
  int rc = lj_cuda_hold_outputs(g->e, n);
  if (rc == LJ_ENOMEM) {
    lj_profile_note(g->r, "Ablation, %s: no device memory to hold the skipped groups' outputs (%s); the stages "
                    "after a skipped group read its stale buffer.", pi ? "decode" : "prefill", lj_error_message());
    return 0;
  }
  LJ_TRY(rc);
  LJ_TRY(lj_cuda_set_hold_record(g->e, 1));
  rc = fn(g);
  int off = lj_cuda_set_hold_record(g->e, 0);
  LJ_TRY(rc);
  LJ_TRY(off);
  return 1;
}

int lj_gpu_run_ablation(gpu_run *g) {
  int want = g->o->ablation;  // 1 attention, 2 the MLP, 3 both
  int rc = 0, held = 1;
  for (int pi = 0; pi < 2 && rc == 0; pi++) {
    rc = hold(g, pi);
    held &= rc == 1;
    rc = rc < 0 ? rc : 0;
    for (int rep = 0; rep < g->o->repeats && rep < LJ_PROFILE_MAX_PAIRS && rc == 0 && !lj_gpu_interrupted(g); rep++) {
      for (int kind = 0; kind < LJ_ABLATE_COUNT && rc == 0; kind++)
        if (kind == LJ_ABLATE_FULL || (want & kind)) rc = window(g, pi, kind, rep);
      lj_gpu_step_done(g);
    }
  }
  lj_cuda_set_skip_mask(g->e, 0);
  int off = lj_cuda_hold_outputs(g->e, 0);
  if (rc == 0 && held)
    lj_profile_note(g->r, "Ablations: the stages after a skipped group read that group's outputs recorded from a "
                    "full unit (prefill: the same data bit for bit; decode: each layer's outputs of the last step).");
  return rc < 0 ? rc : off;
}
