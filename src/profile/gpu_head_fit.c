// The attention-head grid on the GPU (docs/attribution.md "Attention heads"): decode
// attention replayed alone on K and V of its own (lj_cuda_replay_create_attn_grid) at
// every (batch, KV length, active KV groups) point of the plan (head_grid.h), the
// replicate trials of all points in one random order, each a short window whose energy
// is the driver's power samples'. analyze_head_fit.c fits fixed + per group + per byte.
// What proves it wrong: the lack-of-fit test, from the replicates' pure error; a point
// the device cannot hold is skipped with its memory arithmetic, never a crash.
#include <stdio.h>

#include "common/clock.h"
#include "profile/gpu_run.h"
#include "profile/head_grid.h"
#include "engine/cuda/device_memory.h"

// Trials the grid will run (for the progress line; skips are known only once the engine is up).
int lj_gpu_head_grid_trials(const lj_profile_options *o, const lj_model_config *c) {
  int kv[LJ_HEAD_GRID_MAX_VALUES], b[LJ_HEAD_GRID_MAX_VALUES], gr[LJ_HEAD_GRID_MAX_VALUES], nk, nb, ng;
  lj_head_grid_lists(o, c, kv, &nk, b, &nb, gr, &ng);
  return nk * nb * ng * (o->head_reps > 0 ? o->head_reps : 1);
}

int lj_gpu_head_fit_replay(gpu_run *g) {
  lj_profile_result *r = g->r;
  int64_t free_b = -1, total_b = 0;
  if (lj_cuda_device_memory(g->o->device, &free_b, &total_b) < 0) free_b = -1, lj_clear_error();
  lj_head_grid_plan plan;
  // the engine's replay keeps 256 MiB free: the plan's test leaves that out of what one copy may take
  int64_t avail = free_b >= 0 ? free_b - ((int64_t)256 << 20) : -1;
  LJ_TRY(lj_head_grid_plan_make(g->o, &r->plan.config, 2, avail, g->o->seed, &plan));
  double est = lj_head_grid_estimate_s(&plan, g->o->head_trial_s, LJ_HEAD_GRID_GPU_OVERHEAD_S);
  lj_info("attention-head grid: %zu points (%d skipped) x %d trials of %.2f s, about %.0f s", plan.n_points,
          plan.n_skipped, g->o->head_reps, g->o->head_trial_s, est);
  int64_t t0 = lj_mono_ns();
  int rc = 0, n_done = 0;
  for (size_t k = 0; k < plan.n_order && rc == 0; k++) {
    if (lj_gpu_interrupted(g)) {
      rc = LJ_FAIL(LJ_EINTERRUPTED, "profile: interrupted");
      break;
    }
    lj_head_grid_point *p = &plan.points[plan.order[k].point];
    if (p->skipped[0]) {  // its first trial could not be set up: the rest follow it
      lj_gpu_step_done(g);
      continue;
    }
    char name[64];
    snprintf(name, sizeof name, "attn b%d kv%lld g%d", p->batch, (long long)p->kv_len, p->groups);
    lj_gpu_replay_what w = {LJ_STAGE_ATTN, LJ_STAGE_ATTN, NULL, 0, LJ_STAGE_ATTN, 0, name, 0, NULL, 1, 0, 0};
    w.grid_batch = p->batch;
    lj_gpu_replay_prep prep;
    rc = lj_gpu_replay_prepare(g, LJ_PHASE_DECODE, &w, p->kv_len, NULL, p->groups, LJ_METHOD_HEAD_GRID,
                               g->o->head_trial_s, g->o->replay_duty, &prep);
    if (rc == LJ_ENOMEM) {  // the device could not hold it after all: skipped, with the engine's reason
      snprintf(p->skipped, sizeof p->skipped, "%s", lj_error_message());
      lj_clear_error();
      plan.n_skipped++;
      rc = 0;
      lj_gpu_step_done(g);
      continue;
    }
    if (rc == 0) rc = lj_gpu_replay_trial(g, &prep, (int)k);  // trial k: its place in the random order
    lj_gpu_replay_release(&prep);
    n_done += rc == 0;
    lj_gpu_step_done(g);
  }
  double took = (double)(lj_mono_ns() - t0) * 1e-9;
  for (size_t i = 0; i < plan.n_points; i++) LJ_TRY(lj_profile_add_head_point(r, &plan.points[i]));
  if (plan.n_skipped)
    lj_profile_note(r, "Attention-head grid: %d of %zu points skipped (each point's reason, with its memory "
                       "arithmetic, is in the grid's table).", plan.n_skipped, plan.n_points);
  lj_profile_note(r, "Attention-head grid: %d trials in %.1f s (%.2f s a trial; estimated %.0f s before it ran).",
                  n_done, took, n_done ? took / n_done : 0.0, est);
  lj_head_grid_plan_free(&plan);
  return rc;
}
