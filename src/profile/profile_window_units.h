// The loop both runners (GPU and CPU) use to fill a phase window: units of
// one phase back to back until the window is long enough, and the window
// record they fill.
#pragma once
#include <signal.h>
#include <stdint.h>

#include "store/profile_result.h"

typedef int (*lj_profile_unit_fn)(void *ctx);

// Runs fn back to back until `seconds` have passed since *t0 (set here, before
// the first unit) or max_units succeeded; at least one is tried, and the loop
// stops early when *interrupted is set. *units counts the units that
// succeeded, *t1 is the end of the last one (t0 when none). Returns fn's error.
int lj_profile_units_for(lj_profile_unit_fn fn, void *ctx, double seconds, int64_t max_units,
                         const volatile sig_atomic_t *interrupted, int64_t *units, int64_t *t0, int64_t *t1);

// A phase window before its units ran: what it is and its name "phase#repeat".
void lj_profile_window_init(lj_phase_window *w, lj_phase ph, int repeat, int64_t tokens_per_unit);
