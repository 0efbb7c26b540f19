// Ablation on the GPU, prefill and decode (docs/attribution.md §5): windows of the full phase unit
// and of the unit with attention skipped and with the MLP's gate_up, swiglu and down skipped (what
// --ablate names: both by default), each ablated window between two full ones (F A F M F ...,
// bracket.h), --ablation-rounds rounds of every group in an order that changes from round to round.
// The saved energy per unit, the mean of the full windows around an ablated one less it, is what the
// group costs in the real run, interactions included. What proves the replay estimates wrong is
// this: saved per call against calls x each method's per-call energy (agreement_pct, the ratio's
// interval around 1; analyze_ablation_checks.c). In the fused mode decode skips attention only: with
// gate_up, swiglu and down skipped, ffn_norm+gate_up+swiglu runs as its norm alone, so the saving
// would mix the stages' cost with the fusion's and no replay estimate stands for it. The stages after a skipped group read its outputs
// held from a full unit, so that only the skipped kernels differ.
#include <stdio.h>

#include "common/clock.h"

#include "profile/bracket.h"
#include "profile/gpu_run.h"

_Static_assert(LJ_PROFILE_MAX_ABLATION_ROUNDS <= LJ_PROFILE_MAX_PAIRS,
               "the ablation windows' arrays hold LJ_PROFILE_MAX_PAIRS rounds");

static uint32_t mask_of(int kind) {
  return kind == LJ_ABLATE_NO_ATTN  ? 1u << LJ_STAGE_ATTN
         : kind == LJ_ABLATE_NO_MLP ? (1u << LJ_STAGE_GATE_UP) | (1u << LJ_STAGE_SWIGLU) | (1u << LJ_STAGE_DOWN)
                                    : 0u;
}

static int window(gpu_run *g, int pi, int kind, int round) {
  static const char *const names[LJ_ABLATE_COUNT] = {"full", "no_attn", "no_mlp"};
  if (g->n_abl[pi] >= LJ_ABL_MAX_WINDOWS) return 0;
  lj_cuda_set_skip_mask(g->e, mask_of(kind));
  char name[64];
  snprintf(name, sizeof name, "ablation:%s:%s#%d", pi ? "decode" : "prefill", names[kind], round);
  int h = -1;
  int64_t units = 0;
  LJ_TRY(lj_gpu_bracket_window(g, pi, name, &h, &units));
  int i = g->n_abl[pi]++;
  g->abl_handles[pi][i] = h;
  g->abl_units[pi][i] = units;
  g->abl_kind[pi][i] = kind;
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
  int rounds = g->o->ablation_rounds < LJ_PROFILE_MAX_PAIRS ? g->o->ablation_rounds : LJ_PROFILE_MAX_PAIRS;
  if (rounds < 1) rounds = 1;
  int rc = 0, held = 1, ran = 0;
  int64_t t0 = lj_mono_ns();
  for (int pi = 0; pi < 2 && rc == 0; pi++) {
    int kinds[LJ_ABLATE_COUNT - 1], n_slots = 0, slot[LJ_ABL_MAX_WINDOWS];
    for (int kind = LJ_ABLATE_NO_ATTN; kind < LJ_ABLATE_COUNT; kind++)
      if ((g->o->ablation & kind) && !(pi == 1 && kind == LJ_ABLATE_NO_MLP && lj_gpu_fused(g)))
        kinds[n_slots++] = kind;
    size_t n = n_slots ? lj_bracket_schedule(rounds, n_slots, slot, LJ_ABL_MAX_WINDOWS) : 0;
    if (!n) continue;
    ran = 1;
    rc = hold(g, pi);  // once per phase, before its windows
    held &= rc == 1;
    rc = rc < 0 ? rc : 0;
    for (size_t i = 0; i < n && rc == 0 && !lj_gpu_interrupted(g); i++) {
      int closes = 0, round = lj_bracket_round(slot, i, n_slots, &closes);
      rc = window(g, pi, slot[i] ? kinds[slot[i] - 1] : LJ_ABLATE_FULL, round);
      if (closes) lj_gpu_step_done(g);  // a round done
    }
  }
  lj_cuda_set_skip_mask(g->e, 0);
  int off = lj_cuda_hold_outputs(g->e, 0);
  if (rc == 0 && ran)
    lj_profile_note(g->r, "Ablations: %d rounds, each ablated window between two full ones, took %.0f s.", rounds,
                    (double)(lj_mono_ns() - t0) * 1e-9);
  if (rc == 0 && held && ran)
    lj_profile_note(g->r, "Ablations: the stages after a skipped group read that group's outputs recorded from a "
                    "full unit (prefill: the same data bit for bit; decode: each layer's outputs of the last step).");
  return rc < 0 ? rc : off;
}
