// Phase windows (docs/attribution.md §1): the units of a phase back to back
// until the window is at least --phase-seconds long, so that a 1-6 ms phase
// spans many updates of the energy counter. What proves a window wrong: its
// counter and driver-buffer energies disagree, or the meter flags it short
// (LJ_WINDOW_SHORT); tests/test_profile_analyze.c checks the per-unit sums.
#include "profile/profile_window_units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

int lj_profile_units_for(lj_profile_unit_fn fn, void *ctx, double seconds, int64_t max_units,
                         const volatile sig_atomic_t *interrupted, int64_t *units, int64_t *t0, int64_t *t1) {
  *units = 0;
  *t0 = *t1 = lj_mono_ns();
  int rc = 0;
  do {
    if ((rc = fn(ctx)) < 0) break;
    ++*units;
    *t1 = lj_mono_ns();
  } while ((double)(*t1 - *t0) < seconds * 1e9 && *units < max_units && !(interrupted && *interrupted));
  return rc;
}

void lj_profile_window_init(lj_phase_window *w, lj_phase ph, int repeat, int64_t tokens_per_unit) {
  memset(w, 0, sizeof *w);
  w->phase = ph, w->repeat = repeat, w->tokens_per_unit = tokens_per_unit;
  w->temperature_c = NAN;
  snprintf(w->w.name, sizeof w->w.name, "%s#%d", lj_phase_name(ph), repeat);
}
