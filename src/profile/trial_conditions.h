// The conditions one replay trial ran under, from the sampler's readings inside
// its window: SM and memory clock ranges, the throttle reasons seen, the mean
// temperature, the mean power against the power limit, and whether it sat at
// the cap. A replay at the cap runs at lower clocks than the real run (a dense
// prefill prefix drew 681-686 W against 591 W in the run, issue 14), so its
// energy per call is not the run's: the trial and the estimates over it are
// flagged LJ_WINDOW_POWER_CAP.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"
#include "store/attribution_records.h"

// NVML's throttle reasons that mean the power limit acted: the software power cap (0x4) and the
// hardware power brake (0x80).
#define LJ_THROTTLE_POWER_CAP_MASK 0x84ull
// A trial whose mean power is at least this fraction of the limit is at the cap even when no
// throttle reading fell inside it (they come every 10 ms; the cap acts on a ~1 s average).
#define LJ_POWER_CAP_FRACTION 0.98

// Conditions of device dev's window [begin_ns, end_ns] from readings s (n, any order, any
// reading: CLOCK_SM, CLOCK_MEM, THROTTLE, TEMPERATURE, POWER_LIMIT are used); power_w the
// window's mean power (NAN: unknown); fallback_limit_w the limit when no reading says it.
// out->trial is left to the caller. Returns 1 when any reading fell inside, else 0.
int lj_trial_conditions_from_readings(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                                      double power_w, double fallback_limit_w, lj_trial_conditions *out);
// The first and last temperature reading of device dev inside [begin_ns, end_ns], from readings s
// (n, any order): how much a window warmed the card. NAN where none fell inside.
void lj_temperature_first_last(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                               double *first_c, double *last_c);
// NVML's throttle (clocks-event) reasons of `mask` named, comma-separated ("sw_power_cap,hw_slowdown";
// "none" for 0), at most cap bytes with the NUL.
void lj_throttle_names(uint64_t mask, char *buf, size_t cap);
