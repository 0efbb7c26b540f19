// Mapping the driver's wall-clock timestamps (us since the Unix epoch) onto
// CLOCK_MONOTONIC. The offset wall - mono is estimated from paired reads
// (mono, wall, mono): the pair with the shortest bracket wins, its midpoint
// is taken as the instant of the wall read. Re-estimated often, because NTP
// slews the wall clock.
#pragma once
#include <stdint.h>

typedef struct {
  int64_t offset_ns;       // wall - mono
  int64_t uncertainty_ns;  // half the bracket of the pair used
  int64_t updated_ns;      // monotonic time of the estimate
  int valid;
} lj_clock_map;

// Takes `pairs` paired reads (>= 1) and replaces the estimate.
void lj_clock_map_update(lj_clock_map *m, int pairs);
// From one paired read (tests, or clocks given by the caller).
void lj_clock_map_from_pair(lj_clock_map *m, int64_t mono_before, int64_t wall, int64_t mono_after);
int64_t lj_clock_map_wall_us_to_mono_ns(const lj_clock_map *m, int64_t wall_us);
