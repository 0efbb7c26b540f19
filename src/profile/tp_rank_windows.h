// A tensor-parallel GPU profile's windows per GPU (tp_rank_windows.c).
#pragma once
#include "llamajoule/meter.h"
#include "store/profile_result.h"

// After the sampler stopped: r->windows[i].w becomes window handles[i] summed over the GPUs devs
// (NVML indices, rank k on devs[k]; one device: that device's figure), and r->rank_phases[k] the
// phase summaries of devs[k]'s own figures of the same windows; r->n_ranks = n_devs (0 at degree 1:
// the run's own summaries are rank 0's there, stored once).
int lj_profile_tp_collect(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs);
// The replay trials r->trials[i] from window handles[i] of `device` (-1: the sum over the GPUs;
// the one GPU of loopback) with idle_w the GPUs' summed idle; a duty-cycled trial's gaps taken off
// its time and (at idle_w) its energy, as on one GPU.
int lj_profile_tp_collect_trials(lj_profile_result *r, lj_windows *w, const int *handles, int device, double idle_w);
