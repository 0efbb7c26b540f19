// The Shapley split at tensor-parallel degree > 1 (docs/tensor-parallel.md §4): every replay
// trial runs all ranks together and each GPU's meter reads the same window, so the split is made
// twice over: once on the run's own figures (the sum over the GPUs), and once per GPU on that
// GPU's own readings alone, with its own idle. Each GPU's additive check (its Shapley values
// against its own whole-layer replay) is what the issue holds to 5% per GPU, judged as on one GPU:
// PASS only with the residual's interval, widened by that GPU's uncertainty budget, inside; the
// budgets are kept with the rank (the report judges its checks by them). Its budgets' leakage term
// takes its own GPU's temperatures. The notes its analysis wrote (why a split or a check is
// missing) go into the run's, prefixed with the GPU.
// The layer's own game (shapley_layer.h) is not fitted here: its windows list the degree-1 layer.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/budget.h"

// The run's phases, isolation estimates and Shapley split as rank k's GPU saw them, into r->ranks[k].
static int rank_split(lj_profile_result *r, int k) {
  lj_profile_rank *rk = &r->ranks[k];
  lj_profile_result v;
  lj_profile_result_init(&v);
  v.plan = r->plan;
  v.cond = r->cond;
  v.cond.idle_w = rk->idle_w, v.cond.idle_sd_w = rk->idle_sd_w;
  v.idle_curve = rk->idle_curve, v.idle_curve_valid = rk->idle_curve_valid;  // its budget's idle term: its own curve
  // its budget's leakage term from its own GPU's temperatures, where the sampler read them
  if (isfinite(rk->temperature_min_c) && isfinite(rk->temperature_max_c))
    v.cond.temperature_min_c = rk->temperature_min_c, v.cond.temperature_max_c = rk->temperature_max_c;
  memcpy(v.phases, r->rank_phases[k], sizeof v.phases);
  v.trials = rk->trials, v.n_trials = rk->n_trials;  // borrowed: not freed with v
  int rc = lj_analyze_isolation(&v);
  if (rc == 0) rc = lj_analyze_closures(&v);
  for (int ph = LJ_PHASE_PREFILL; rc == 0 && ph <= LJ_PHASE_DECODE; ph++) rc = lj_analyze_shapley_phase(&v, (lj_phase)ph);
  if (rc == 0) rc = lj_analyze_budgets(&v);  // the rank's own idle: its checks' verdicts
  if (v.notes[0]) lj_profile_note(r, "GPU %d: %s", k, v.notes);  // why its split or a check is missing
  if (rc == 0) {
    free(rk->stages);
    rk->stages = v.stages, rk->n_stages = v.n_stages;
    v.stages = NULL, v.n_stages = 0;
    memcpy(rk->shapley, v.shapley, sizeof rk->shapley);
    free(rk->budgets);
    rk->budgets = v.budgets, rk->n_budgets = v.n_budgets;
    v.budgets = NULL, v.n_budgets = 0;
    for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++)
      if (r->shapley[ph].n_rounds > 0 && rk->shapley[ph].n_rounds < 1)
        lj_profile_note(r, "GPU %d: no Shapley split of %s (its own trials lack a round or an estimate).", k,
                        lj_phase_name((lj_phase)ph));
  }
  v.trials = NULL, v.n_trials = 0;
  lj_profile_result_free(&v);
  return rc;
}

int lj_analyze_shapley_tp(lj_profile_result *r) {
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) LJ_TRY(lj_analyze_shapley_phase(r, (lj_phase)ph));
  for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++)
    if (r->ranks[k].trials) LJ_TRY(rank_split(r, k));
  // The headline is Shapley only where every GPU's check passed too (lj_profile_reported_method).
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++)
    for (int k = 0; k < r->n_ranks && r->n_ranks > 1 && r->shapley[ph].pass; k++)
      if (r->ranks[k].shapley[ph].n_rounds > 0 && !r->ranks[k].shapley[ph].pass)
        lj_profile_note(r, "%s: GPU %d's own Shapley additive check did not pass, so the headline is not the "
                           "Shapley split although the sum's check passed.", lj_phase_name((lj_phase)ph), k);
  for (size_t i = 0; i < r->n_stages; i++) {  // the reported method may now be Shapley: the shares again
    r->stages[i].share_gross = lj_profile_stage_share(r, &r->stages[i], 0);
    r->stages[i].share_dynamic = lj_profile_stage_share(r, &r->stages[i], 1);
  }
  return 0;
}
