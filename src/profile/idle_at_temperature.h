// Idle at each window's temperature (docs/attribution.md §1c): the run's idle
// curve from the start-of-run idle and the cool-down, and the dynamic energy of
// a window rebased on the idle power at its own mean temperature.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"
#include "store/profile_result.h"

// The curve over the idle samples s (n, time order: the start-of-run idle and the cool-down
// [cool_begin_ns, cool_end_ns]) of device dev, referred to t0_c (NAN: the coolest bin); the
// cool-down's first and last second give cool_start_c and cool_end_c.
int lj_idle_curve_from_cooldown(const lj_sample *s, size_t n, int dev, int64_t cool_begin_ns, int64_t cool_end_ns,
                                double t0_c, double level, lj_profile_idle_curve *out);

// Mean temperature of dev's readings in [begin_ns, end_ns] (NAN: none).
double lj_window_temperature(const lj_sample *readings, size_t n, int dev, int64_t begin_ns, int64_t end_ns);

// Rebases w's above-idle energies and idle power on idle_w (unchanged when idle_w is not finite).
void lj_window_rebase_idle(lj_window_result *w, double idle_w);

// A note on r when its idle curve was measured but is not used (the flat idle kept, and why).
void lj_profile_idle_curve_note(lj_profile_result *r);
