// Characterisation of a device's readings, measured on the card itself
// (used by `llamajoule devices --characterize`): how often each reading
// changes, the driver buffer's sample interval, the energy counter's
// resolution, and what each call costs.
#pragma once
#include <stdint.h>

#include "llamajoule/meter.h"

typedef struct {
  int supported;              // 0: the device/driver does not give it
  int n_reads;                // reads made
  int n_changes;              // value changes seen
  double update_median_ms;    // time between value changes (0 when < 2 changes)
  double update_min_ms;
  double update_max_ms;
  double call_cost_median_us; // median duration of one read call
  double call_cost_max_us;
  double resolution;          // smallest non-zero step between consecutive values (reading's unit)
} lj_reading_character;

typedef struct {
  int device;
  double seconds;                                   // how long it measured
  lj_reading_character readings[LJ_READING_COUNT];  // index = lj_reading
  // driver power-sample buffer (LJ_READING_POWER_SAMPLE)
  int buffer_samples;
  double buffer_interval_median_ms, buffer_interval_min_ms, buffer_interval_max_ms;
  uint64_t buffer_gaps;
  double counter_resolution_j;                      // = readings[LJ_READING_ENERGY].resolution
} lj_characterization;

// Polls every polled reading of `dev` back to back (each for seconds /
// number-of-readings, the energy counter and the buffer for the whole
// time) and fills `out`. Blocks for about `seconds`.
int lj_characterize(lj_source *src, int dev, double seconds, lj_characterization *out);

// The statistics alone, from recorded reads of one reading (time order):
// used by lj_characterize and by the tests.
void lj_character_from_samples(const lj_sample *s, int n, lj_reading_character *out);
