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

// The stages one forward call of batch b runs, in order: in the fused mode's decode a composite
// in place of all its parts (lj_cuda_stage_at), else every simple stage first .. last.
static int stages_run(const gpu_run *g, const lj_cuda_batch *b, int first, int last, lj_stage *out) {
  lj_stage at[LJ_STAGE_COUNT];
  for (int st = first; st <= last; st++) at[st] = lj_cuda_stage_at(g->e, b, (lj_stage)st);
  return lj_stage_sequence(at, (lj_stage)first, (lj_stage)last, out);
}

// Every stage the run's forward call runs from first to last (those that read the KV cache alone
// when only_attn) made ready, then --trials rounds over them in a new random order each
// (lj_gpu_replay_rounds): drift and temperature spread over every stage's estimate alike instead of
// landing on whichever ran last.
static int interleaved(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, int first, int last,
                       int only_attn) {
  lj_stage run[LJ_STAGE_COUNT];
  int n_run = stages_run(g, b, first, last, run);
  lj_gpu_replay_prep p[LJ_STAGE_COUNT];
  int n = 0, rc = 0;
  for (int k = 0; rc == 0 && k < n_run; k++) {
    lj_stage st = run[k];
    if (only_attn && !lj_stage_reads_cache(st)) continue;
    lj_gpu_replay_what w = {st, st, NULL, 0, st, 0, NULL, 0, NULL, 0, 0, 0};
    rc = lj_gpu_replay_prepare(g, ph, &w, kv, b, 0, LJ_METHOD_ISOLATION, g->o->replay_seconds, g->o->replay_duty,
                               &p[n]);
    if (rc == 0) n++;
  }
  if (rc == 0) rc = lj_gpu_replay_rounds(g, p, n, g->o->trials, 0);
  for (int i = 0; i < n; i++) lj_gpu_replay_release(&p[i]), lj_gpu_step_done(g);
  return rc;
}

int lj_gpu_replay_prefill(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(lj_gpu_prefill_state(g, &b));
  return interleaved(g, LJ_PHASE_PREFILL, 0, &b, LJ_STAGE_EMBED, LJ_STAGE_LM_HEAD, 0);
}

// Decode stages at the first KV length, attention at every replayed one (only its work grows
// with the cache); at the middle one also the sequence rounds, which need the same state; then the
// attention-head grid, which brings its own K and V. Each KV length is its own engine state: stages interleave within one. In the fused
// mode the stages are the composites and the simple stages that stay unfused; the sequence and
// Shapley rounds, which list the layer's simple stages (nine; eleven with the all-reduces at degree
// > 1), are not run on decode (a note says so).
int lj_gpu_replay_decode(gpu_run *g) {
  const lj_profile_plan *p = &g->r->plan;
  int mid = p->n_decode_kv / 2;
  for (int j = 0; j < p->n_decode_kv; j++) {
    STOP_IF_INTERRUPTED(g);
    int64_t kv = p->decode_kv[j];
    lj_cuda_batch b;
    LJ_TRY(lj_gpu_decode_state_at(g, kv, &b));
    LJ_TRY(interleaved(g, LJ_PHASE_DECODE, kv, &b, LJ_STAGE_EMBED, LJ_STAGE_SAMPLE, j > 0));
    if (j == mid && !lj_gpu_fused(g) && (g->o->sequence || g->o->shapley))
      LJ_TRY(lj_gpu_layer_rounds(g, LJ_PHASE_DECODE, kv, &b));
  }
  if (g->o->head_fit) LJ_TRY(lj_gpu_head_fit_replay(g));
  return 0;
}
