// A tensor-parallel GPU profile's windows per GPU (tp_rank_windows.c).
#pragma once
#include "llamajoule/meter.h"
#include "store/profile_result.h"

// Each GPU's idle (rank k on devs[k]): its flat baseline flat_w[k] (what the windows were given), and
// its idle curve where that is usable (curve[k]; NULL: the flat idle), taken at the GPU's mean
// temperature over a window from the sampler's temperature readings of the GPUs.
typedef struct {
  double flat_w[LJ_PROFILE_MAX_RANKS];
  const lj_idle_curve *curve[LJ_PROFILE_MAX_RANKS];
  const lj_sample *readings;
  size_t n_readings;
} lj_tp_idle;

// Rank k's idle power (W) over [begin_ns, end_ns] on its GPU dev: its curve at its mean temperature
// there, else its flat idle.
double lj_tp_idle_at(const lj_tp_idle *idle, int k, int dev, int64_t begin_ns, int64_t end_ns);

// After the sampler stopped: r->windows[i].w becomes window handles[i] summed over the GPUs devs
// (NVML indices, rank k on devs[k]; one device: that device's figure), and r->rank_phases[k] the
// phase summaries of devs[k]'s own figures of the same windows; r->n_ranks = n_devs (0 at degree 1:
// the run's own summaries are rank 0's there, stored once). With idle (NULL: the windows' flat idle)
// each GPU's windows subtract its idle at its own temperature and the sum's the sum of those.
int lj_profile_tp_collect(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs,
                          const lj_tp_idle *idle);
// The replay trials r->trials[i] from window handles[i] summed over the GPUs devs (one device:
// that one's figure) with their summed idle (each GPU's by lj_tp_idle_at); a duty-cycled trial's
// gaps taken off its time and (at that idle) its energy, as on one GPU. At degree > 1 over several
// GPUs also r->ranks[k].trials: the same trials as devs[k] alone read them, at its own idle and at
// its own mean temperature over the window.
int lj_profile_tp_collect_trials(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs,
                                 const lj_tp_idle *idle);
// After the sampler stopped, at degree > 1 over several GPUs (r->n_ranks set): each rank's GPU's
// temperatures, what the budgets' leakage term takes for that GPU (budget.h): its coolest and
// hottest reading over the run, its idle's mean idle_temp_c[k] (NAN: none) included, and its mean
// over each phase's windows. readings: the sampler's temperature readings of the GPUs devs.
void lj_profile_tp_temperatures(lj_profile_result *r, const int *devs, const double *idle_temp_c,
                                const lj_sample *readings, size_t n_readings);
