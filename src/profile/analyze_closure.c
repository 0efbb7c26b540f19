// Closures (docs/attribution.md): for each phase and method, the sum over the
// method's estimates of calls x per-call energy against the phase windows, with
// the interval of the error; and each estimate's share of that sum. The closure
// is the check: a method whose interval of error leaves the target
// (LJ_REPORT_CLOSURE_TARGET_PCT) does not explain the measured phase.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

// Closure of one phase by one method: the sum over its estimates against the phase windows.
int lj_analyze_closure_of(lj_profile_result *r, lj_phase ph, lj_profile_method method, lj_closure *out) {
  const lj_phase_summary *m = &r->phases[ph];
  lj_closure_term *terms = malloc(sizeof *terms * (r->n_stages ? r->n_stages : 1));
  if (!terms) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  size_t n = 0, own = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    lj_profile_stage *s = &r->stages[i];
    if (s->est.key.phase != ph || !(s->calls_per_unit > 0) || !lj_profile_stage_in_method(r, s, method)) continue;
    lj_closure_term_from_estimate(&s->est, s->calls_per_unit, &terms[n++]);
    own += s->method == method;
  }
  int rc = 0;
  if (n && own && m->gross_j.n > 0)
    rc = lj_closure_compute(ph, terms, n, &m->gross_j, &m->dynamic_j, r->plan.level, out);
  free(terms);
  return rc;
}


int lj_analyze_closures(lj_profile_result *r) {
  LJ_TRY(lj_analyze_closure_of(r, LJ_PHASE_PREFILL, LJ_METHOD_ISOLATION, &r->closure[LJ_PHASE_PREFILL]));
  LJ_TRY(lj_analyze_closure_of(r, LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, &r->closure[LJ_PHASE_DECODE]));
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    lj_mean_ci layer_gross, layer_dyn;
    int complete = 0;
    LJ_TRY(lj_analyze_sequence(r, (lj_phase)ph, &layer_gross, &layer_dyn, &complete));
    // a prefix without two rounds: no sum of the whole layer's stages
    if (complete) LJ_TRY(lj_analyze_closure_sequence(r, (lj_phase)ph, &layer_gross, &layer_dyn));
  }
  // Shares once every closure is known: all of one phase's are of its reported method's sum.
  for (size_t i = 0; i < r->n_stages; i++) {
    lj_profile_stage *s = &r->stages[i];
    s->share_gross = lj_profile_stage_share(r, s, 0);
    s->share_dynamic = lj_profile_stage_share(r, s, 1);
  }
  return 0;
}

