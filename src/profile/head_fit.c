// The attention-head grid's fit: y per call = fixed + per_group x groups + per_byte x kv_bytes
// by multiple regression over the trials, the lack-of-fit test from the replicates, and one
// query head's cost where the test does not reject the model (attribution.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/lack_of_fit.h"
#include "common/ols_multi.h"
#include "profile/attribution.h"

// One query head at a cell (batch, kv): (per_group + per_byte x one group's bytes) / heads per group.
static void per_head_at(const lj_ols_multi *m, double group_bytes, int heads_per_group, lj_interval *out) {
  double c[3] = {0, 1.0 / heads_per_group, group_bytes / heads_per_group};
  lj_ols_multi_combination(m, c, out);
}

static void nan_interval(lj_interval *v, double level) {
  v->estimate = v->se = v->df = v->lo = v->hi = NAN;
  v->level = level;
}

int lj_head_grid_fit_compute(const lj_head_grid_point *pts, size_t n_pts, const lj_head_grid_obs *obs, size_t n,
                             int batch, int heads_per_group, double level, const char *quantity,
                             lj_head_grid_fit *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->quantity, sizeof out->quantity, "%s", quantity);
  out->batch = batch;
  out->holds = -1;
  out->lof_f = out->lof_df_lack = out->lof_df_pure = out->lof_p = NAN;
  out->r2 = out->resid_sd = out->counter_per_byte = out->counter_lof_p = NAN;
  nan_interval(&out->per_head_small, level);
  nan_interval(&out->per_head_large, level);
  if (heads_per_group < 1) return LJ_FAIL(LJ_EINVAL, "head grid fit: %d query heads per KV group", heads_per_group);
  double *x = malloc(sizeof(double) * 4 * (n ? n : 1)), *y = x ? x + 3 * (n ? n : 1) : NULL;
  int *pt = malloc(sizeof(int) * (n ? n : 1));
  if (!x || !pt) {
    free(x), free(pt);
    return LJ_FAIL(LJ_ENOMEM, "out of memory for a head grid fit of %zu trials", n);
  }
  size_t k = 0;
  int small = -1, large = -1;
  for (size_t i = 0; i < n; i++) {
    if (obs[i].point < 0 || (size_t)obs[i].point >= n_pts || !isfinite(obs[i].y)) continue;
    const lj_head_grid_point *p = &pts[obs[i].point];
    if (batch > 0 && p->batch != batch) continue;
    x[3 * k] = 1, x[3 * k + 1] = p->groups, x[3 * k + 2] = (double)p->kv_bytes;
    y[k] = obs[i].y, pt[k] = obs[i].point;
    // the cells the per-head cost is given at: the fewest and the most K and V positions read
    double cells = (double)p->batch * (double)p->kv_len;
    if (small < 0 || cells < (double)pts[small].batch * (double)pts[small].kv_len) small = obs[i].point;
    if (large < 0 || cells > (double)pts[large].batch * (double)pts[large].kv_len) large = obs[i].point;
    k++;
  }
  lj_ols_multi m;
  int rc = k < 4 ? LJ_FAIL(LJ_EINVAL, "head grid fit of %s, batch %d: %zu trials, need >= 4", quantity, batch, k)
                 : lj_stats_ols_multi(x, y, k, 3, level, &m);
  lj_lack_of_fit lof;
  if (rc == 0) rc = lj_lack_of_fit_test(y, pt, k, m.sse, 3, &lof);
  free(x), free(pt);
  LJ_TRY(rc);
  out->n_obs = (int)k, out->n_points = lof.n_points;
  lj_interval_from_se(m.b[0], m.se[0], m.df, level, &out->fixed);
  lj_interval_from_se(m.b[1], m.se[1], m.df, level, &out->per_group);
  lj_interval_from_se(m.b[2], m.se[2], m.df, level, &out->per_byte);
  if (!(m.df > 0)) {  // as many trials as coefficients: exact, no interval
    lj_interval *v[3] = {&out->fixed, &out->per_group, &out->per_byte};
    for (int j = 0; j < 3; j++) v[j]->se = v[j]->df = v[j]->lo = v[j]->hi = NAN;
  }
  out->r2 = m.r2, out->resid_sd = m.resid_sd;
  if (lof.testable) {
    out->lof_f = lof.f, out->lof_df_lack = lof.df_lack, out->lof_df_pure = lof.df_pure, out->lof_p = lof.p_value;
    out->holds = isnan(lof.p_value) ? -1 : lof.p_value >= LJ_HEAD_GRID_ALPHA;
  }
  const lj_head_grid_point *ps = &pts[small], *pl = &pts[large];
  out->small_batch = ps->batch, out->small_kv = ps->kv_len;
  out->large_batch = pl->batch, out->large_kv = pl->kv_len;
  if (out->holds == 1) {
    per_head_at(&m, (double)ps->kv_bytes / ps->groups, heads_per_group, &out->per_head_small);
    per_head_at(&m, (double)pl->kv_bytes / pl->groups, heads_per_group, &out->per_head_large);
  }
  return 0;
}
