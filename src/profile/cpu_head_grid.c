// The attention-head grid on the CPU engine (head_grid.h): timing only. No power
// source sees a CPU's energy here, so the trials carry times, and the analysis fits
// time per call as the GPU's fits energy (docs/attribution.md "Attention heads").
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/mem_available.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/cpu/thread_pool.h"
#include "model/random_init.h"
#include "profile/head_grid.h"

// uniform in [-1, 1), the generator of the GPU grid's K and V (attn_grid_replay.cu)
static void fill(float *x, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) x[i] = lj_random_unit(seed, 0xFFFFFFFEu, i);
}

// One trial of point p: calls of attention over every sequence for at least seconds.
static int trial(const lj_profile_options *o, lj_profile_result *r, const lj_head_grid_point *p, int k,
                 lj_thread_pool *pool) {
  const lj_model_config *c = &r->plan.config;
  int hpg = c->n_heads / c->n_kv_heads, hd = c->head_dim, g = p->groups, B = p->batch;
  size_t per_seq = (size_t)p->kv_len * (size_t)g * (size_t)hd, q_len = (size_t)g * (size_t)hpg * (size_t)hd;
  float *kc = malloc(sizeof(float) * per_seq * (size_t)B * 2), *q = malloc(sizeof(float) * q_len * (size_t)B * 2);
  if (!kc || !q) {
    free(kc), free(q);
    return LJ_FAIL(LJ_ENOMEM, "attention-head grid: out of memory for K and V of %.2f GiB (batch %d, KV %lld)",
                   (double)p->need_bytes / (1 << 30), B, (long long)p->kv_len);
  }
  float *vc = kc + per_seq * (size_t)B, *out = q + q_len * (size_t)B;
  fill(kc, per_seq * (size_t)B * 2, (uint64_t)k + 1);
  fill(q, q_len * (size_t)B, (uint64_t)k + 7);
  int32_t pos = (int32_t)p->kv_len - 1;  // the query sees every cached position
  int64_t calls = 0, t0 = lj_mono_ns(), t1 = t0;
  do {
    for (int s = 0; s < B; s++)
      lj_cpu_attention(q + q_len * (size_t)s, kc + per_seq * (size_t)s, vc + per_seq * (size_t)s, &pos, 1, g * hpg, g,
                       hd, out + q_len * (size_t)s, pool);
    calls++;
    t1 = lj_mono_ns();
  } while ((double)(t1 - t0) < o->head_trial_s * 1e9);
  free(kc), free(q);
  lj_profile_trial tr;
  memset(&tr, 0, sizeof tr);
  tr.key.phase = LJ_PHASE_DECODE, tr.key.stage = LJ_STAGE_ATTN, tr.key.layer = -1, tr.key.kv_len = p->kv_len;
  tr.trial = k, tr.groups = g, tr.batch = B, tr.method = LJ_METHOD_HEAD_GRID;
  tr.t.counter_energy_j = tr.t.sample_energy_j = tr.t.temperature_c = tr.t.idle_w = NAN;
  tr.t.duration_s = (double)(t1 - t0) * 1e-9;
  tr.t.calls = calls;
  tr.t.window_flags = LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES;
  return lj_profile_add_trial(r, &tr);
}

int lj_head_grid_run_cpu(const lj_profile_options *o, lj_profile_result *r) {
  const lj_model_config *c = &r->plan.config;
  uint64_t avail = lj_mem_available();
  lj_head_grid_plan plan;
  // half of what the host has free: the engine and the page cache keep the rest
  LJ_TRY(lj_head_grid_plan_make(o, c, 4, avail ? (int64_t)(avail / 2) : -1, o->seed, &plan));
  int rc = 0;
  for (size_t i = 0; i < plan.n_points && rc == 0; i++) rc = lj_profile_add_head_point(r, &plan.points[i]);
  lj_info("attention-head grid: %zu points (%d skipped) x %d trials, at least %.1f s", plan.n_points,
          plan.n_skipped, o->head_reps, lj_head_grid_estimate_s(&plan, o->head_trial_s, 0));
  lj_thread_pool *pool = NULL;
  if (rc == 0) rc = lj_thread_pool_create(o->threads > 0 ? o->threads : lj_default_threads(), &pool);
  int64_t t0 = lj_mono_ns();
  for (size_t k = 0; k < plan.n_order && rc == 0; k++) {
    if (o->interrupted && *o->interrupted) rc = LJ_FAIL(LJ_EINTERRUPTED, "profile: interrupted");
    else rc = trial(o, r, &plan.points[plan.order[k].point], (int)k, pool);
  }
  lj_thread_pool_free(pool);
  if (plan.n_skipped)
    lj_profile_note(r, "Attention-head grid: %d of %zu points skipped (each point's reason is in the grid's table).",
                    plan.n_skipped, plan.n_points);
  lj_profile_note(r, "Attention-head grid (CPU, timing only): %zu trials of %zu points in %.1f s.", plan.n_order,
                  plan.n_points - (size_t)plan.n_skipped, (double)(lj_mono_ns() - t0) * 1e-9);
  lj_head_grid_plan_free(&plan);
  return rc;
}
