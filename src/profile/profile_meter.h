// The meter as a profile uses it: the NVML source for one GPU, a CUDA context
// on it, the idle baseline, and a sampler whose sink keeps the run's
// conditions (temperature, clocks, throttle reasons seen), keeps the driver's
// power samples for the in-situ timeline, and streams everything to the store.
#pragma once
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"
#include "store/profile_result.h"
#include "profile/profile_run.h"
#include "store/store.h"

typedef struct {
  lj_source *src;
  lj_sampler *sampler;
  lj_sample_writer *writer;
  int dev;             // index within the source
  int cuda_index;      // the CUDA device of the same GPU
  double idle_w;
  pthread_mutex_t lock;
  lj_profile_conditions *cond;  // updated by the sink
  lj_sample *power;    // POWER_SAMPLE readings of dev, in time order
  size_t n_power, cap_power;
  lj_sample *readings; // temperature, clock, throttle and power-limit readings of dev (trial conditions)
  size_t n_readings, cap_readings;
  double last_temperature_c;  // the sink's latest temperature reading (NAN before the first)
  lj_trace idle_kept;  // the start-of-run idle's and the cool-down's samples (the idle curve)
  double idle_temperature_c;  // the start-of-run idle's mean temperature (NAN: not measured)
  int running;
  int n_devs;          // the GPUs metered: devs[0] = dev; a tensor-parallel run's ranks' GPUs
  int devs[LJ_PROFILE_MAX_RANKS];
  double dev_idle_w[LJ_PROFILE_MAX_RANKS];
  double dev_idle_sd_w[LJ_PROFILE_MAX_RANKS];  // each one's idle readings' sd (NAN: given, not measured)
  double dev_idle_temperature_c[LJ_PROFILE_MAX_RANKS];  // each one's idle mean temperature (NAN: not measured)
} lj_profile_meter;

// Opens the source, the context, measures idle (or takes o->idle_w), fills r->cond.
int lj_profile_meter_open(lj_profile_meter *m, const lj_profile_options *o, lj_profile_result *r);
// The same over several GPUs (NVML indices devs, distinct; NVML device k must be CUDA device k):
// each one's idle measured at once (lj_measure_idle_devices) and set in the windows, each one in
// the store's devices, the sampler reading them all (a window's device -1 is their sum). The
// conditions' idle is the run's own baseline, the sum over the GPUs (what the summed windows
// subtract; its sd theirs in quadrature); temperature, clocks and cool-down are devs[0]'s.
int lj_profile_meter_open_devices(lj_profile_meter *m, const lj_profile_options *o, lj_profile_result *r,
                                  const int *devs, int n_devs);
int lj_profile_meter_start(lj_profile_meter *m);
// Stops the sampler (every window final), writes pending samples, fills the sampler's figures.
int lj_profile_meter_stop(lj_profile_meter *m, lj_profile_result *r);
void lj_profile_meter_close(lj_profile_meter *m);

// After lj_profile_meter_stop: idles `seconds` with the context open (the card at its warmest)
// and fits idle against temperature over that and the start-of-run idle into r->idle_curve.
int lj_profile_meter_cooldown(lj_profile_meter *m, double seconds, lj_profile_result *r);
// The same on every GPU of m at once (a tensor-parallel run's: all just loaded by the same work),
// each GPU's curve fitted from its own samples of the start-of-run idle and the cool-down, referred
// to its own idle's temperature, into r->ranks[k].idle_curve (k: m->devs[k]).
int lj_profile_meter_cooldown_devices(lj_profile_meter *m, double seconds, lj_profile_result *r);

int lj_profile_meter_begin(lj_profile_meter *m, const char *name);  // window handle
int lj_profile_meter_end(lj_profile_meter *m, int handle);
// The latest GPU temperature the sampler delivered (<= 250 ms old; NAN when unknown).
double lj_profile_meter_temperature(lj_profile_meter *m);
