// The summary `llamajoule meter` prints when the program has finished: per GPU
// and in total, energy by counter and by driver buffer, their difference,
// mean and peak power, energy above idle (with where the idle figure came
// from), duration, window warnings and the sampler's own CPU cost.
#pragma once
#include <stdio.h>

#include "llamajoule/meter.h"

typedef struct {
  double program_wall_s;  // host time from fork to the program's exit
  int exit_code;          // what meter returns for the program (128+signal when killed)
  int signal;             // a signal meter forwarded (Ctrl-C = 2), 0 if none
  lj_sampler_stats stats;
} meter_summary;

void lj_meter_summary_print(FILE *f, const meter_summary *sum, char **prog, lj_windows *windows, int handle,
                            const lj_device_info *devs, int n_dev, const char (*idle_origin)[1200]);
