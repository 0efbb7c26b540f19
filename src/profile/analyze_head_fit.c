// The attention-head grid's analysis: each point's per-call energy and time over its
// trials, then the fits (every batch together and each batch alone; energy where it was
// measured and time always) with their lack-of-fit tests (lj_head_grid_fit_compute).
// What proves the model wrong: the lack-of-fit F test (a shape the three terms cannot
// follow), and, for the energy source, the counter's fit beside the samples' one.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/profile_run.h"

static int point_of(const lj_profile_result *r, const lj_profile_trial *t) {
  for (size_t i = 0; i < r->n_head_points; i++) {
    const lj_head_grid_point *p = &r->head_points[i];
    if (p->batch == t->batch && p->kv_len == t->key.kv_len && p->groups == t->groups) return (int)i;
  }
  return -1;
}

// Per-call values of trial t: dynamic energy by the samples and by the counter, and time (NAN: none).
static void per_call(const lj_profile_trial *t, double *sdyn, double *cdyn, double *time) {
  double c = (double)t->t.calls, idle_j = t->t.idle_w * t->t.duration_s;
  *sdyn = *cdyn = *time = NAN;
  if (!(c > 0)) return;
  *time = t->t.duration_s > 0 ? t->t.duration_s / c : NAN;
  if (isfinite(t->t.counter_energy_j)) *cdyn = (t->t.counter_energy_j - idle_j) / c;
  if (lj_trial_samples_usable(&t->t)) *sdyn = (t->t.sample_energy_j - idle_j) / c;
}

// The fits of one quantity: every batch, then each batch alone (the batches with >= 2 KV lengths
// and >= 2 group counts measured); a fit the design cannot make is noted, not an error.
static int fits_of(lj_profile_result *r, const lj_head_grid_obs *obs, const lj_head_grid_obs *counter, size_t n,
                   const char *quantity, uint32_t flags, lj_head_grid_fit *all) {
  int hpg = r->plan.config.n_kv_heads > 0 ? r->plan.config.n_heads / r->plan.config.n_kv_heads : 1;
  int batches[LJ_HEAD_GRID_MAX_VALUES + 1], nb = 1;
  batches[0] = 0;
  for (size_t i = 0; i < r->n_head_points && nb <= LJ_HEAD_GRID_MAX_VALUES; i++) {
    int b = r->head_points[i].batch, seen = 0;
    for (int j = 1; j < nb; j++) seen |= batches[j] == b;
    if (!seen && r->head_points[i].n_trials > 0) batches[nb++] = b;
  }
  if (nb == 2) nb = 1;  // one batch: its fit is the all-batch one
  for (int j = 0; j < nb; j++) {
    lj_head_grid_fit f;
    int rc = lj_head_grid_fit_compute(r->head_points, r->n_head_points, obs, n, batches[j], hpg, r->plan.level,
                                      quantity, &f);
    if (rc == LJ_ENOMEM) return rc;
    if (rc < 0) {
      lj_profile_note(r, "Attention-head grid, %s fit of %s: %s.", quantity, batches[j] ? "one batch" : "every batch",
                      lj_error_message());
      lj_clear_error();
      continue;
    }
    if (counter) {
      lj_head_grid_fit cf;
      if (lj_head_grid_fit_compute(r->head_points, r->n_head_points, counter, n, batches[j], hpg, r->plan.level,
                                   quantity, &cf) == 0)
        f.counter_per_byte = cf.per_byte.estimate, f.counter_lof_p = cf.lof_p;
      lj_clear_error();
      f.flags = lj_energy_source_flags(1, f.per_byte.lo, f.per_byte.hi, f.counter_per_byte);
    } else {
      f.flags = flags;
    }
    if (j == 0) *all = f;
    LJ_TRY(lj_profile_add_head_fit(r, &f));
  }
  return 0;
}

int lj_analyze_head_fit(lj_profile_result *r) {
  if (r->n_head_points == 0) return 0;
  free(r->head_fits);
  r->head_fits = NULL, r->n_head_fits = 0;
  size_t n = 0;
  for (size_t i = 0; i < r->n_trials; i++) n += r->trials[i].method == LJ_METHOD_HEAD_GRID;
  lj_head_grid_obs *obs = malloc(sizeof *obs * 3 * (n ? n : 1));
  double *vals = malloc(sizeof(double) * (n ? n : 1));
  if (!obs || !vals) {
    free(obs), free(vals);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  lj_head_grid_obs *sobs = obs, *cobs = obs + n, *tobs = obs + 2 * n;
  size_t k = 0;
  int samples = 1, energy = 0;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != LJ_METHOD_HEAD_GRID) continue;
    int p = point_of(r, t);
    double s, c, tm;
    per_call(t, &s, &c, &tm);
    sobs[k] = (lj_head_grid_obs){p, s}, cobs[k] = (lj_head_grid_obs){p, c}, tobs[k] = (lj_head_grid_obs){p, tm};
    if (isfinite(c)) energy = 1, samples &= isfinite(s);
    k++;
  }
  // the samples' figures where every trial has them (windows of a fraction of a second), else the counter's
  const lj_head_grid_obs *eobs = samples ? sobs : cobs;
  int rc = 0;
  for (size_t i = 0; i < r->n_head_points && rc == 0; i++) {
    lj_head_grid_point *p = &r->head_points[i];
    size_t m = 0, mt = 0;
    double *tv = vals;
    for (size_t j = 0; j < k; j++)
      if (eobs[j].point == (int)i && isfinite(eobs[j].y)) tv[m++] = eobs[j].y;
    if (m > 0) rc = lj_stats_mean_ci(tv, m, r->plan.level, &p->dynamic_j);
    else memset(&p->dynamic_j, 0, sizeof p->dynamic_j), p->dynamic_j.mean = NAN;
    for (size_t j = 0; j < k; j++)
      if (tobs[j].point == (int)i && isfinite(tobs[j].y)) tv[mt++] = tobs[j].y;
    if (rc == 0 && mt > 0) rc = lj_stats_mean_ci(tv, mt, r->plan.level, &p->time_s);
    p->n_trials = (int)mt;
    p->fitted = NAN;
  }
  lj_head_grid_fit all;
  memset(&all, 0, sizeof all);
  all.n_obs = 0;
  int have_all = 0;
  if (rc == 0 && energy) {
    rc = fits_of(r, eobs, samples ? cobs : NULL, k, "dynamic_j", 0, &all);
    have_all = r->n_head_fits > 0 && r->head_fits[0].batch == 0;
  }
  size_t before = r->n_head_fits;
  lj_head_grid_fit tall;
  if (rc == 0) rc = fits_of(r, tobs, NULL, k, "time_s", 0, &tall);
  if (rc == 0 && !energy && r->n_head_fits > before && r->head_fits[before].batch == 0) all = tall, have_all = 1;
  // each point's value on the all-batch fit of the headline quantity (energy; time where none)
  for (size_t i = 0; have_all && i < r->n_head_points; i++) {
    lj_head_grid_point *p = &r->head_points[i];
    if (!p->skipped[0])
      p->fitted = all.fixed.estimate + all.per_group.estimate * p->groups + all.per_byte.estimate * (double)p->kv_bytes;
  }
  free(obs), free(vals);
  return rc;
}
