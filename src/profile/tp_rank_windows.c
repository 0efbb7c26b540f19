// A tensor-parallel profile's phase windows per GPU (docs/tensor-parallel.md §4): every window
// spans the same work on every rank's GPU (it opens and closes after every rank's stream is
// synchronised), so each GPU's figure of it is that GPU's share, and their sum is the run's.
// The run's own windows (what every other table reads) take the sum; each GPU's phase summaries
// are its own windows summarised alike (rank_phases). One GPU for every rank (the loopback
// backend) is one device: its figure is the run's, once, and there is one per-GPU row, not N.
// A replay trial runs every rank together (the all-reduce stages join them): its energy is the
// sum over the GPUs, its idle the sum of their idles; each GPU's own reading of it, at that GPU's
// idle, is its rank's trial (what the per-GPU Shapley split is made of).
#include <math.h>
#include <stdlib.h>

#include "common/error.h"
#include "profile/attribution.h"
#include "profile/idle_at_temperature.h"
#include "profile/profile_analyze.h"
#include "profile/tp_rank_windows.h"

double lj_tp_idle_at(const lj_tp_idle *idle, int k, int dev, int64_t begin_ns, int64_t end_ns) {
  if (!idle->curve[k]) return idle->flat_w[k];
  double t = lj_window_temperature(idle->readings, idle->n_readings, dev, begin_ns, end_ns);
  return lj_idle_curve_at(idle->curve[k], t, idle->flat_w[k]);
}

// Whether any GPU's idle is taken from its curve (else every window keeps its flat idle untouched).
static int any_curve(const lj_tp_idle *idle, int n_devs) {
  for (int k = 0; idle && k < n_devs; k++)
    if (idle->curve[k]) return 1;
  return 0;
}

// The sum over the GPUs of their idle over [begin_ns, end_ns], each at its own temperature.
static double idle_sum_at(const lj_tp_idle *idle, const int *devs, int n_devs, int64_t begin_ns, int64_t end_ns) {
  double sum = 0;
  for (int k = 0; k < n_devs; k++) sum += lj_tp_idle_at(idle, k, devs[k], begin_ns, end_ns);
  return sum;
}

int lj_profile_tp_collect(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs,
                          const lj_tp_idle *idle) {
  if (n_devs < 1 || n_devs > LJ_PROFILE_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "profile: %d GPUs for the ranks' windows, expected 1 .. %d", n_devs,
                   LJ_PROFILE_MAX_RANKS);
  int curved = any_curve(idle, n_devs);
  for (size_t i = 0; i < r->n_windows; i++) {
    lj_window_result *x = &r->windows[i].w;
    LJ_TRY(lj_windows_result(w, handles[i], n_devs > 1 ? -1 : devs[0], x));
    if (curved) lj_window_rebase_idle(x, idle_sum_at(idle, devs, n_devs, x->begin_ns, x->end_ns));
  }
  lj_phase_window *own = malloc(sizeof *own * (r->n_windows ? r->n_windows : 1));
  if (!own) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int rc = 0, source[LJ_PHASE_COUNT];
  lj_phase_sources(&r->plan, r->windows, r->n_windows, source);  // the sum's: each GPU's row adds up to it
  for (int k = 0; k < n_devs && rc == 0; k++) {
    for (size_t i = 0; i < r->n_windows && rc == 0; i++) {
      own[i] = r->windows[i];
      rc = lj_windows_result(w, handles[i], devs[k], &own[i].w);
      if (rc == 0 && curved)
        lj_window_rebase_idle(&own[i].w, lj_tp_idle_at(idle, k, devs[k], own[i].w.begin_ns, own[i].w.end_ns));
    }
    if (rc == 0) rc = lj_phase_summaries_of(&r->plan, own, r->n_windows, source, r->rank_phases[k]);
  }
  free(own);
  // degree 1 (the ranks' path with one rank): the run's own rows are rank 0's, as in any degree-1 run
  if (rc == 0) r->n_ranks = r->plan.tp_degree > 1 ? n_devs : 0;
  return rc;
}

// One trial as rank k's GPU read it (k -1: the sum over the GPUs), the run's bookkeeping kept; its
// idle that GPU's at its mean temperature over the window (the sum: the GPUs' idles so taken, summed),
// and its temperature the GPU's mean over the window where the readings have it (a rank's GPU may
// run hotter than rank 0's, whose latest reading the trial was filed with).
static int trial_of(lj_windows *w, int handle, int k, const int *devs, int n_devs, const lj_tp_idle *idle,
                    const lj_profile_trial *t, lj_profile_trial *out) {
  lj_window_result wr;
  int device = k >= 0 ? devs[k] : n_devs > 1 ? -1 : devs[0];
  LJ_TRY(lj_windows_result(w, handle, device, &wr));
  lj_profile_trial keep = *t;  // t may be out
  *out = keep;
  double temp = k >= 0 ? lj_window_temperature(idle->readings, idle->n_readings, device, wr.begin_ns, wr.end_ns) : NAN;
  double idle_w = k >= 0 ? lj_tp_idle_at(idle, k, device, wr.begin_ns, wr.end_ns)
                         : idle_sum_at(idle, devs, n_devs, wr.begin_ns, wr.end_ns);
  lj_replay_trial_from_window(&wr, keep.t.calls, isfinite(temp) ? temp : keep.t.temperature_c, idle_w, &out->t);
  out->t.start_offset_ns = keep.t.start_offset_ns;
  out->t.gap_s = keep.t.gap_s;
  lj_replay_trial_take_gaps(&out->t);
  return 0;
}

int lj_profile_tp_collect_trials(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs,
                                 const lj_tp_idle *idle) {
  if (n_devs < 1 || n_devs > LJ_PROFILE_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "profile: %d GPUs for the ranks' trials, expected 1 .. %d", n_devs,
                   LJ_PROFILE_MAX_RANKS);
  // each GPU's own reading first: the run's trial below replaces the bookkeeping they copy
  int per_rank = n_devs > 1 && r->plan.tp_degree > 1;
  for (int k = 0; per_rank && k < n_devs; k++) {
    lj_profile_rank *rk = &r->ranks[k];
    free(rk->trials);
    rk->trials = r->n_trials ? malloc(sizeof *rk->trials * r->n_trials) : NULL;
    rk->n_trials = 0;
    if (r->n_trials && !rk->trials) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory for the ranks' trials");
    rk->idle_w = idle->flat_w[k];
    for (size_t i = 0; i < r->n_trials; i++, rk->n_trials++)
      LJ_TRY(trial_of(w, handles[i], k, devs, n_devs, idle, &r->trials[i], &rk->trials[i]));
  }
  for (size_t i = 0; i < r->n_trials; i++)  // the sum's temperature stays rank 0's
    LJ_TRY(trial_of(w, handles[i], -1, devs, n_devs, idle, &r->trials[i], &r->trials[i]));
  return 0;
}

void lj_profile_tp_temperatures(lj_profile_result *r, const int *devs, const double *idle_temp_c,
                                const lj_sample *readings, size_t n_readings) {
  for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++) {
    lj_profile_rank *rk = &r->ranks[k];
    double lo = idle_temp_c[k], hi = idle_temp_c[k];  // NAN fails every comparison: the first reading replaces it
    for (size_t i = 0; i < n_readings; i++) {
      const lj_sample *x = &readings[i];
      if (x->device != devs[k] || x->reading != LJ_READING_TEMPERATURE || !isfinite(x->value)) continue;
      if (!(x->value >= lo)) lo = x->value;
      if (!(x->value <= hi)) hi = x->value;
    }
    rk->temperature_min_c = lo, rk->temperature_max_c = hi;
    for (int p = 0; p < LJ_PHASE_COUNT; p++) {
      double sum = 0;
      int n = 0;
      for (size_t i = 0; i < r->n_windows; i++) {
        const lj_phase_window *w = &r->windows[i];
        if ((int)w->phase != p || !(w->units > 0)) continue;
        double t = lj_window_temperature(readings, n_readings, devs[k], w->w.begin_ns, w->w.end_ns);
        if (isfinite(t)) sum += t, n++;
      }
      rk->phase_temperature_c[p] = n ? sum / n : NAN;
    }
  }
}
