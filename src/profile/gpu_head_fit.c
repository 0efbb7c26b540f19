// The attention-head fit on the GPU: decode attention replayed in isolation
// at the middle KV length with 1 .. n_kv_heads KV groups active, one trial
// each; analyze_head_fit.c fits energy = fixed + per group x groups. It
// splits attention's energy into a part that does not depend on the heads and
// one per KV group. What proves it wrong: a poor straight line (r2, the
// residual sd against the per-group energy), and the all-groups point against
// the isolation estimate of decode attention at the same KV length.
#include "profile/gpu_run.h"

int lj_gpu_head_fit_replay(gpu_run *g, int64_t kv, const lj_cuda_batch *b) {
  const lj_profile_plan *p = &g->r->plan;
  // Attention with 1 .. n_kv_heads KV groups: energy = fixed + per group x groups.
  double secs = g->o->replay_seconds / 2 > 1 ? g->o->replay_seconds / 2 : 1;
  int rc = 0;
  for (int grp = 1; rc == 0 && grp <= p->config.n_kv_heads && !lj_gpu_interrupted(g); grp++) {
    rc = lj_cuda_set_attn_groups(g->e, grp);
    if (rc == 0) rc = lj_gpu_replay_stage(g, LJ_PHASE_DECODE, LJ_STAGE_ATTN, kv, b, grp, 1, secs);
  }
  lj_cuda_set_attn_groups(g->e, 0);
  return rc;
}
