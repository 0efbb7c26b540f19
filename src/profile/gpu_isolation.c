// Isolation replay on the GPU (docs/attribution.md §2): each stage alone,
// cycling all layers, on the run's real activations; prefill stages at the
// prompt's shape, decode stages at the first replayed KV length and attention
// at every one (only its work grows with the cache). It gives what a stage
// costs as the first player. What proves it wrong: the additive closure
// (the sum of calls x per-call energy against the measured phase), which it
// fails where stages interact (prefill), and the ablation, which removes a
// stage from the real run.
#include "profile/gpu_run.h"

// Isolation replay of `stage` (the profile's replay duty).
int lj_gpu_replay_stage(gpu_run *g, lj_phase ph, lj_stage st, int64_t kv, const lj_cuda_batch *b, int groups,
                        int n_trials, double seconds) {
  int rc =
      lj_gpu_replay_span(g, ph, st, st, kv, b, groups, LJ_METHOD_ISOLATION, 0, n_trials, seconds, g->o->replay_duty);
  lj_gpu_step_done(g);
  return rc;
}

int lj_gpu_replay_prefill(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(lj_gpu_prefill_state(g, &b));
  for (int st = LJ_STAGE_EMBED; st <= LJ_STAGE_LM_HEAD; st++) {
    STOP_IF_INTERRUPTED(g);
    LJ_TRY(lj_gpu_replay_stage(g, LJ_PHASE_PREFILL, (lj_stage)st, 0, &b, 0, g->o->trials, g->o->replay_seconds));
  }
  return 0;
}

// Decode stages at the first KV length, attention at every replayed one; at the
// middle one also the sequence rounds and the head fit, which need the same state.
int lj_gpu_replay_decode(gpu_run *g) {
  const lj_profile_plan *p = &g->r->plan;
  int mid = p->n_decode_kv / 2;
  for (int j = 0; j < p->n_decode_kv; j++) {
    STOP_IF_INTERRUPTED(g);
    int64_t kv = p->decode_kv[j];
    lj_cuda_batch b;
    LJ_TRY(lj_gpu_decode_state_at(g, kv, &b));
    for (int st = LJ_STAGE_EMBED; st <= LJ_STAGE_SAMPLE; st++) {
      if (j > 0 && st != LJ_STAGE_ATTN) continue;  // only attention's work grows with the cache
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(lj_gpu_replay_stage(g, LJ_PHASE_DECODE, (lj_stage)st, kv, &b, 0, g->o->trials, g->o->replay_seconds));
    }
    if (j == mid && (g->o->sequence || g->o->shapley)) LJ_TRY(lj_gpu_layer_rounds(g, LJ_PHASE_DECODE, kv, &b));
    if (j == mid && g->o->head_fit) LJ_TRY(lj_gpu_head_fit_replay(g, kv, &b));
  }
  return 0;
}
