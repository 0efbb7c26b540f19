// A tensor-parallel GPU profile's windows per GPU (tp_rank_windows.c).
#pragma once
#include "llamajoule/meter.h"
#include "store/profile_result.h"

// After the sampler stopped: r->windows[i].w becomes window handles[i] summed over the GPUs devs
// (NVML indices, rank k on devs[k]; one device: that device's figure), and r->rank_phases[k] the
// phase summaries of devs[k]'s own figures of the same windows; r->n_ranks = n_devs (0 at degree 1:
// the run's own summaries are rank 0's there, stored once).
int lj_profile_tp_collect(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs);
// The replay trials r->trials[i] from window handles[i] summed over the GPUs devs (one device:
// that one's figure) with their summed idle (idle_w[k]: devs[k]'s); a duty-cycled trial's gaps
// taken off its time and (at that idle) its energy, as on one GPU. At degree > 1 over several GPUs
// also r->ranks[k].trials: the same trials as devs[k] alone read them, at its own idle and at its
// own mean temperature over the window (readings: the sampler's temperature readings of the GPUs).
int lj_profile_tp_collect_trials(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs,
                                 const double *idle_w, const lj_sample *readings, size_t n_readings);
// After the sampler stopped, at degree > 1 over several GPUs (r->n_ranks set): each rank's GPU's
// temperatures, what the budgets' leakage term takes for that GPU (budget.h): its coolest and
// hottest reading over the run, its idle's mean idle_temp_c[k] (NAN: none) included, and its mean
// over each phase's windows. readings: the sampler's temperature readings of the GPUs devs.
void lj_profile_tp_temperatures(lj_profile_result *r, const int *devs, const double *idle_temp_c,
                                const lj_sample *readings, size_t n_readings);
