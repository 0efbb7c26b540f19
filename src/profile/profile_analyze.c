// Derived figures of a profile (see profile_analyze.h and docs/attribution.md):
// runs the analysis of every method (analyze_*.c, one file each) in order.
#include "profile/profile_analyze.h"

#include "common/error.h"
#include "profile/budget.h"
#include "profile/analyze_internal.h"
#include "profile/analyze_layers.h"

int lj_profile_analyze(lj_profile_result *r, const lj_profile_raw *raw, const lj_sample *power, size_t n_power,
                       int device) {
  LJ_TRY(lj_profile_summarize_phases(r));
  lj_analyze_stamp_cost(r, raw);
  if (!r->plan.timing_only) {
    LJ_TRY(lj_analyze_isolation(r));
    LJ_TRY(lj_analyze_closures(r));  // sequence estimates first: the Shapley split follows them
    LJ_TRY(r->plan.tp_degree > 1 ? lj_analyze_shapley_tp(r) : lj_analyze_shapley(r));
    LJ_TRY(lj_analyze_known_answer(r));
    LJ_TRY(lj_analyze_timeline(r, power, n_power, device));
    LJ_TRY(lj_analyze_ablation(r, raw));
    LJ_TRY(lj_analyze_ablation_checks(r, raw));
    LJ_TRY(lj_analyze_layers(r, raw));
    lj_analyze_power_cap(r);
    LJ_TRY(lj_analyze_budgets(r));  // last: it reads every estimate and check above
  }
  LJ_TRY(lj_analyze_head_fit(r));  // energy where measured, time always (the CPU engine's grid too)
  if (raw) LJ_TRY(lj_analyze_overheads(r, raw));
  return 0;
}
