// Replays at the power cap: a note naming every (method, phase, what ran) whose
// trials sat at the cap (LJ_WINDOW_POWER_CAP, set from each trial's conditions,
// trial_conditions.h). Such a replay ran at lower clocks than the real run, so
// what it gives a stage is not the run's (a dense prefill prefix of 3B drew
// 681-686 W against 591 W in the run, issue 14); its estimates carry the flag.
#include <stdio.h>
#include <string.h>

#include "profile/analyze_internal.h"

void lj_analyze_power_cap(lj_profile_result *r) {
  char text[768];
  size_t used = 0;
  int groups = 0;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (!(t->t.window_flags & LJ_WINDOW_POWER_CAP)) continue;
    int first = 1, n = 0, capped = 0;  // the first capped trial of its group names the group
    for (size_t j = 0; j < r->n_trials; j++) {
      const lj_profile_trial *u = &r->trials[j];
      // the whole layer's repeats in the Shapley rounds are one group
      if (u->method != t->method || u->key.phase != t->key.phase || u->key.stage != t->key.stage ||
          u->key.kv_len != t->key.kv_len || (u->variant != t->variant && !lj_trial_whole_layer(t)) ||
          u->groups != t->groups)
        continue;
      n++;
      if (u->t.window_flags & LJ_WINDOW_POWER_CAP) {
        if (capped == 0 && j < i) first = 0;
        capped++;
      }
    }
    if (!first) continue;
    groups++;
    if (used < sizeof text)
      used += (size_t)snprintf(text + used, sizeof text - used, "%s%s %s %s %d of %d", groups > 1 ? "; " : "",
                               lj_profile_method_name(t->method), lj_phase_name(t->key.phase),
                               t->key.stage == LJ_STAGE_NONE ? "layer" : lj_stage_name(t->key.stage), capped, n);
  }
  if (groups)
    lj_profile_note(r, "Replays at the power cap (lower clocks than the run; their estimates are flagged power_cap): "
                       "%s.", text);
}
