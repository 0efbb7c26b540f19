// The in-situ timeline's energies: the driver's power samples integrated over
// every stage interval of the real run (lj_timeline_attribute), per stage and
// phase, and per layer. What proves it wrong: the span energy it leaves
// unattributed (gap_j) and the overlap of intervals, and its per-stage shares
// against the replay's (replay_share_dynamic in the JSON).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

int lj_analyze_timeline(lj_profile_result *r, const lj_sample *power, size_t n_power, int device) {
  if (!r->n_intervals || r->plan.timing_only) return 0;
  if (!n_power) {
    lj_profile_note(r, "The driver gave no power samples: the in-situ timeline has times but no energies.");
    return 0;
  }
  LJ_TRY(lj_timeline_attribute(r->intervals, r->n_intervals, power, n_power, device, LJ_READING_POWER_SAMPLE,
                               r->cond.idle_w, r->interval_energy_j, &r->timeline));
  r->timeline_valid = 1;
  int L = r->plan.config.n_layers;
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    r->layer_energy_j[ph] = calloc((size_t)L, sizeof(double));
    r->layer_time_s[ph] = calloc((size_t)L, sizeof(double));
    if (!r->layer_energy_j[ph] || !r->layer_time_s[ph]) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
    LJ_TRY(lj_timeline_layers(r->intervals, r->n_intervals, r->interval_energy_j, (lj_phase)ph, L,
                              r->layer_energy_j[ph], r->layer_time_s[ph]));
  }
  return 0;
}

