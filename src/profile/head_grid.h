// The attention-head grid's design (docs/attribution.md "Attention heads"): which
// (batch, KV length, active KV groups) points decode attention is replayed at, which of
// them cannot be (with the reason and the memory arithmetic), and the randomised order
// of their replicate trials. Pure arithmetic: the GPU and the CPU runners share it, and
// tests check it without a device.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "profile/profile_run.h"
#include "store/attribution_records.h"

typedef struct {
  int point;  // index into the plan's points
  int rep;    // replicate 0 .. reps - 1
} lj_head_grid_trial;

typedef struct {
  lj_head_grid_point *points;  // every point, skipped ones with their reason (n_trials 0)
  size_t n_points;
  lj_head_grid_trial *order;   // the measured points' trials, in one random order (trial k: order[k])
  size_t n_order;
  int n_skipped;
} lj_head_grid_plan;

// The lists of the grid: the options' where given, else KV 512, 1024, ..., 32768; batch 1, 8, 32;
// groups 1, n_kv_heads / 2, n_kv_heads (each once: the ends and the middle keep the time down).
void lj_head_grid_lists(const lj_profile_options *o, const lj_model_config *c, int *kv, int *n_kv, int *batch,
                        int *n_batch, int *groups, int *n_groups);
// K and V bytes one call reads: batch x groups x kv x head_dim x 2 x elem_bytes.
int64_t lj_head_grid_kv_bytes(const lj_model_config *c, int batch, int64_t kv, int groups, int elem_bytes);
// The plan. A point is skipped where kv exceeds the model's positions, or where one copy of its K
// and V (elem_bytes a value: 2 on the GPU, 4 on the CPU) exceeds avail_bytes (< 0: unknown, no such
// skip). A group count outside 1 .. n_kv_heads is LJ_EINVAL naming --head-fit-groups.
int lj_head_grid_plan_make(const lj_profile_options *o, const lj_model_config *c, int elem_bytes, int64_t avail_bytes,
                           uint64_t seed, lj_head_grid_plan *out);
void lj_head_grid_plan_free(lj_head_grid_plan *p);
// Seconds the plan's trials take at trial_s each plus overhead_s (pre-roll, setup) a trial.
double lj_head_grid_estimate_s(const lj_head_grid_plan *p, double trial_s, double overhead_s);
// What one GPU trial costs beyond its window, estimated: the 0.1 s pre-roll and up to one
// sample period (LJ_GPU_SHORT_PREROLL_S + LJ_GPU_SAMPLE_PERIOD_S / 2) plus allocating and
// filling the K and V, capturing the graph and timing it (~0.05 s, more for the largest points).
#define LJ_HEAD_GRID_GPU_OVERHEAD_S 0.16

// The grid on the CPU engine (timing only): each trial runs the reference attention
// (lj_cpu_attention, fp32) over K and V of its own for trial_s, in the plan's order; the
// trials go to r->trials (method head_grid, no energy) and the points to r->head_points.
// The same loop, skips and order as the GPU's, so that CI covers them.
int lj_head_grid_run_cpu(const lj_profile_options *o, lj_profile_result *r);
