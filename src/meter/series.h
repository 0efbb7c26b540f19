// A time series of (t, value) points kept in time order, and the two window
// integrals built on it: energy-counter delta with interpolated boundaries,
// and the trapezoid integral of power samples.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
  int64_t t_ns;
  double value;
  uint8_t flags;  // LJ_SAMPLE_* (LJ_SAMPLE_AFTER_GAP matters here)
} lj_point;

typedef struct {
  lj_point *p;     // (n) time order, no two points at the same time
  size_t n, cap;
  int pruned;      // points before p[0] were dropped: earlier points are late
  uint64_t dups;   // points dropped because one at the same time existed
  uint64_t late;   // points dropped because they fell before the kept history
  uint64_t out_of_order;  // points inserted before the newest one
} lj_series;

void lj_series_free(lj_series *s);
// Inserts in time order. 0 inserted, 1 dropped (duplicate or late), <0 no memory.
int lj_series_add(lj_series *s, int64_t t_ns, double value, uint8_t flags);
// Drops points before `horizon_ns`, keeping the last one before it (a bracket).
void lj_series_prune(lj_series *s, int64_t horizon_ns);

// Flags the integrals report (values of LJ_WINDOW_* from meter.h).
typedef struct {
  double energy_j;
  int updates;      // counter: value changes at points inside (begin, end]
  int n_inside;     // points with begin <= t <= end
  double peak;      // power: highest value inside, boundary values included
  uint32_t flags;   // LJ_WINDOW_NO_COUNTER / NO_SAMPLES / COUNTER_RESET / GAP / EXTRAPOLATED
} lj_integral;

// Counter (cumulative J): E(end) - E(begin), each boundary interpolated
// linearly between its bracketing readings (extrapolated with the nearest
// segment's slope outside them, flagged). A reading below its predecessor
// is a counter reset (driver reload): the segment's energy is taken as the
// new value (the counter restarted from 0), flagged.
lj_integral lj_counter_delta(const lj_series *s, int64_t begin_ns, int64_t end_ns);

// Power samples (W): trapezoid integral over [begin, end], the boundary values
// interpolated; outside the samples the nearest value is held (flagged).
lj_integral lj_power_integral(const lj_series *s, int64_t begin_ns, int64_t end_ns);

// Median time between counter value changes in the series; 0 if < 3 changes.
int64_t lj_counter_update_period(const lj_series *s);
