// Isolation replay: per-call energy of a stage from trials of back-to-back calls,
// by the energy counter and by the driver's power samples; the samples' figure is
// the estimate where every trial is short (LJ_SAMPLE_WINDOW_MAX_S).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/attribution.h"

void lj_replay_trial_from_window(const lj_window_result *w, int64_t calls, double temperature_c, double idle_w,
                                 lj_replay_trial *out) {
  memset(out, 0, sizeof *out);
  out->counter_energy_j = (w->flags & LJ_WINDOW_NO_COUNTER) ? NAN : w->counter_energy_j;
  out->sample_energy_j = (w->flags & LJ_WINDOW_NO_SAMPLES) ? NAN : w->sample_energy_j;
  out->duration_s = w->duration_s;
  out->calls = calls;
  out->temperature_c = temperature_c;
  out->idle_w = idle_w;
  out->window_flags = w->flags;
}

void lj_replay_trial_take_gaps(lj_replay_trial *t) {
  if (!(t->gap_s > 0)) return;
  t->counter_energy_j -= t->idle_w * t->gap_s;
  t->sample_energy_j -= t->idle_w * t->gap_s;
  t->duration_s -= t->gap_s;
}

int lj_trial_samples_usable(const lj_replay_trial *t) {
  const uint32_t bad = LJ_WINDOW_NO_SAMPLES | LJ_WINDOW_GAP | LJ_WINDOW_EXTRAPOLATED;
  // the window's wall length: a duty-cycled trial's idle gaps are inside the window the samples cover
  double wall_s = t->duration_s + (t->gap_s > 0 ? t->gap_s : 0);
  return isfinite(t->sample_energy_j) && !(t->window_flags & bad) && wall_s < LJ_SAMPLE_WINDOW_MAX_S;
}

uint32_t lj_energy_source_flags(int from_samples, double lo, double hi, double other) {
  uint32_t f = from_samples ? LJ_WINDOW_SAMPLE_ENERGY : 0;
  if (isfinite(lo) && isfinite(hi) && isfinite(other) && (other < lo || other > hi)) f |= LJ_WINDOW_SOURCES_DISAGREE;
  return f;
}

// Mean and interval of the finite values among x (n); n = 0 result when none.
static int finite_mean_ci(double *x, size_t n, double level, lj_mean_ci *out) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) x[m++] = x[i];
  if (m == 0) {
    memset(out, 0, sizeof *out);
    out->mean = out->stddev = out->cv = out->sem = out->half_width = out->lo = out->hi = NAN;
    out->level = level;
    return LJ_OK;
  }
  return lj_stats_mean_ci(x, m, level, out);
}

int lj_replay_estimate_compute(const lj_replay_trial *t, size_t n, double insitu_time_per_call_s, double level,
                               lj_replay_estimate *out) {
  memset(out, 0, sizeof *out);
  if (n == 0) return LJ_FAIL(LJ_EINVAL, "replay estimate: no trials");
  for (size_t i = 0; i < n; i++) {
    if (t[i].calls <= 0) return LJ_FAIL(LJ_EINVAL, "replay trial %zu: %lld calls, expected > 0", i, (long long)t[i].calls);
    if (!(t[i].duration_s > 0))
      return LJ_FAIL(LJ_EINVAL, "replay trial %zu: duration %g s, expected > 0", i, t[i].duration_s);
    if (!isfinite(t[i].counter_energy_j))
      return LJ_FAIL(LJ_EINVAL, "replay trial %zu: no energy-counter value (window not bracketed by counter readings)", i);
  }
  double *v = malloc(5 * n * sizeof *v);
  if (!v) return LJ_FAIL(LJ_ENOMEM, "out of memory for %zu replay trials", n);
  double *gross = v, *dyn = v + n, *sgross = v + 2 * n, *sdyn = v + 3 * n, *tpc = v + 4 * n;
  out->temperature_min_c = out->temperature_max_c = NAN;
  int samples = 1;
  for (size_t i = 0; i < n; i++) {
    samples &= lj_trial_samples_usable(&t[i]);
    double calls = (double)t[i].calls, idle_j = t[i].idle_w * t[i].duration_s;
    gross[i] = t[i].counter_energy_j / calls;
    dyn[i] = (t[i].counter_energy_j - idle_j) / calls;
    sgross[i] = t[i].sample_energy_j / calls;  // NAN stays NAN
    sdyn[i] = (t[i].sample_energy_j - idle_j) / calls;
    tpc[i] = t[i].duration_s / calls;
    out->window_flags |= t[i].window_flags;
    double temp = t[i].temperature_c;
    if (isfinite(temp)) {
      if (!(temp >= out->temperature_min_c)) out->temperature_min_c = temp;
      if (!(temp <= out->temperature_max_c)) out->temperature_max_c = temp;
    }
  }
  out->n_trials = (int)n;
  int rc = lj_stats_mean_ci(gross, n, level, &out->counter_gross_j);
  if (!rc) rc = lj_stats_mean_ci(dyn, n, level, &out->counter_dynamic_j);
  if (!rc) rc = lj_stats_mean_ci(tpc, n, level, &out->time_per_call_s);
  if (!rc) rc = finite_mean_ci(sgross, n, level, &out->sample_gross_j);
  if (!rc) rc = finite_mean_ci(sdyn, n, level, &out->sample_dynamic_j);
  free(v);
  LJ_TRY(rc);
  out->gross_j = samples ? out->sample_gross_j : out->counter_gross_j;
  out->dynamic_j = samples ? out->sample_dynamic_j : out->counter_dynamic_j;
  const lj_mean_ci *other = samples ? &out->counter_dynamic_j : &out->sample_dynamic_j;
  out->window_flags |= lj_energy_source_flags(samples, out->dynamic_j.lo, out->dynamic_j.hi,
                                              other->n > 0 ? other->mean : NAN);
  out->insitu_time_per_call_s = insitu_time_per_call_s;
  out->time_ratio = insitu_time_per_call_s > 0 ? out->time_per_call_s.mean / insitu_time_per_call_s : NAN;
  out->counter_vs_sample_pct = out->sample_gross_j.n > 0 && out->sample_gross_j.mean != 0
                                   ? (out->counter_gross_j.mean - out->sample_gross_j.mean) / out->sample_gross_j.mean * 100
                                   : NAN;
  return LJ_OK;
}
