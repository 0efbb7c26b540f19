// The attention-head grid's design: lists, skips, randomised order (head_grid.h).
#include "profile/head_grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/random_init.h"

static int add_once(int *v, int *n, int x) {
  for (int i = 0; i < *n; i++)
    if (v[i] == x) return 0;
  v[(*n)++] = x;
  return 1;
}

void lj_head_grid_lists(const lj_profile_options *o, const lj_model_config *c, int *kv, int *n_kv, int *batch,
                        int *n_batch, int *groups, int *n_groups) {
  *n_kv = *n_batch = *n_groups = 0;
  if (o->n_head_kv > 0) memcpy(kv, o->head_kv, sizeof(int) * (size_t)(*n_kv = o->n_head_kv));
  else
    for (int v = 512; v <= 32768; v *= 2) kv[(*n_kv)++] = v;
  if (o->n_head_batch > 0) memcpy(batch, o->head_batch, sizeof(int) * (size_t)(*n_batch = o->n_head_batch));
  else batch[0] = 1, batch[1] = 8, batch[2] = 32, *n_batch = 3;
  if (o->n_head_groups > 0) memcpy(groups, o->head_groups, sizeof(int) * (size_t)(*n_groups = o->n_head_groups));
  else {
    add_once(groups, n_groups, 1);
    add_once(groups, n_groups, c->n_kv_heads / 2 > 0 ? c->n_kv_heads / 2 : 1);
    add_once(groups, n_groups, c->n_kv_heads);
  }
}

int64_t lj_head_grid_kv_bytes(const lj_model_config *c, int batch, int64_t kv, int groups, int elem_bytes) {
  return (int64_t)batch * groups * kv * c->head_dim * 2 * elem_bytes;
}

static double gib(int64_t b) { return (double)b / (double)(1 << 30); }

// splitmix64's stream: the order depends on the run's seed only, the same on either engine
static uint64_t next_u64(uint64_t *s) {
  uint64_t z = lj_splitmix64(*s);
  *s += 0x9E3779B97F4A7C15ULL;
  return z;
}

int lj_head_grid_plan_make(const lj_profile_options *o, const lj_model_config *c, int elem_bytes, int64_t avail_bytes,
                           uint64_t seed, lj_head_grid_plan *out) {
  memset(out, 0, sizeof *out);
  int kv[LJ_HEAD_GRID_MAX_VALUES], batch[LJ_HEAD_GRID_MAX_VALUES], groups[LJ_HEAD_GRID_MAX_VALUES], nk, nb, ng;
  lj_head_grid_lists(o, c, kv, &nk, batch, &nb, groups, &ng);
  for (int i = 0; i < ng; i++)
    if (groups[i] < 1 || groups[i] > c->n_kv_heads)
      return LJ_FAIL(LJ_EINVAL, "--head-fit-groups: %d groups, but model %s has %d KV heads (1 .. %d)", groups[i],
                     c->name, c->n_kv_heads, c->n_kv_heads);
  int reps = o->head_reps > 0 ? o->head_reps : 1;
  size_t n = (size_t)nk * (size_t)nb * (size_t)ng;
  out->points = calloc(n, sizeof *out->points);
  out->order = calloc(n * (size_t)reps, sizeof *out->order);
  if (!out->points || !out->order) {
    lj_head_grid_plan_free(out);
    return LJ_FAIL(LJ_ENOMEM, "out of memory for a head grid of %zu points", n);
  }
  for (int b = 0; b < nb; b++)
    for (int k = 0; k < nk; k++)
      for (int gi = 0; gi < ng; gi++) {
        lj_head_grid_point *p = &out->points[out->n_points++];
        p->batch = batch[b], p->kv_len = kv[k], p->groups = groups[gi];
        p->kv_bytes = p->need_bytes = lj_head_grid_kv_bytes(c, p->batch, p->kv_len, p->groups, elem_bytes);
        p->fitted = NAN;
        p->dynamic_j.mean = p->time_s.mean = NAN;
        if (p->kv_len > c->max_seq_len)
          snprintf(p->skipped, sizeof p->skipped, "KV %lld is beyond model %s's %d positions", (long long)p->kv_len,
                   c->name, c->max_seq_len);
        else if (avail_bytes >= 0 && p->need_bytes > avail_bytes)
          snprintf(p->skipped, sizeof p->skipped,
                   "K and V of one layer, %d x %d x %lld x %d x 2 x %d B = %.2f GiB, exceed the %.2f GiB free",
                   p->batch, p->groups, (long long)p->kv_len, c->head_dim, elem_bytes, gib(p->need_bytes),
                   gib(avail_bytes));
        if (p->skipped[0]) {
          out->n_skipped++;
          continue;
        }
        for (int r = 0; r < reps; r++) out->order[out->n_order++] = (lj_head_grid_trial){(int)(out->n_points - 1), r};
      }
  // Fisher-Yates: drift and temperature spread over every point alike
  uint64_t s = seed ^ 0x68656164677269ULL;  // "headgri"
  for (size_t i = out->n_order; i > 1; i--) {
    size_t j = (size_t)(next_u64(&s) % i);
    lj_head_grid_trial t = out->order[i - 1];
    out->order[i - 1] = out->order[j], out->order[j] = t;
  }
  return 0;
}

void lj_head_grid_plan_free(lj_head_grid_plan *p) {
  free(p->points);
  free(p->order);
  memset(p, 0, sizeof *p);
}

double lj_head_grid_estimate_s(const lj_head_grid_plan *p, double trial_s, double overhead_s) {
  return (double)p->n_order * (trial_s + overhead_s);
}
