// Host clocks. Every reading the tool stores carries monotonic nanoseconds
// (CLOCK_MONOTONIC); wall-clock time is kept only to map NVML's timestamps
// (microseconds since the Unix epoch) onto the monotonic axis.
#pragma once
#include <stdint.h>

int64_t lj_mono_ns(void);   // CLOCK_MONOTONIC
int64_t lj_wall_ns(void);   // CLOCK_REALTIME
void lj_sleep_ns(int64_t ns);
