// The uncertainty budget (profile/budget.c, docs/attribution.md §3b):
//   - the idle term from a usable idle curve (t x its standard errors) and from the flat idle
//     (its spread, and the leakage slope bound times the temperature difference), what a check
//     subtracts on both sides cancelling, a term of unknown temperature bounded by the run's hottest;
//   - the edge term of a window by the samples and by the counter, signed through a combination;
//   - the total in quadrature with a term not measured left out, the largest term;
//   - a closure whose trial interval passes, turned INCONCLUSIVE by the idle term of a run without a
//     usable curve whose replays ran 10 C cooler than the phase, and PASS again with a curve;
//   - the source term of the phase and J/token: the counter's offset from the samples over the same
//     windows, not measured without the counter, through the store (schema 20, the upgrade from 19);
//   - a closure whose phase and stage terms took different sources: the phase's offset as its source
//     term, and a note; one source on both sides: not measured;
//   - the budgets through the store (schema 12, and the upgrade from 11), the JSON and the text.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common/error.h"
#include "common/verdict.h"
#include "profile/budget.h"
#include "report/report.h"
#include "report/report_derived.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "old_store.h"
#include "store_round_trip.h"
#include "render_profile.h"

#include "near.h"
#define T8 2.306004135204166   // t_{0.975, 8}
#define T10 2.228138851986274  // t_{0.975, 10}

static void base(lj_profile_result *r) {
  lj_profile_result_init(r);
  r->plan.level = 0.95;
  r->cond.temperature_min_c = 35, r->cond.temperature_max_c = 55;
}

static void test_idle_curve_term(void **state) {
  (void)state;
  lj_profile_result r;
  base(&r);
  r.idle_curve_valid = 1;
  lj_idle_curve *k = &r.idle_curve.fit;
  k->usable = 1, k->a_se_w = 0.2, k->slope_se_w_per_c = 0.05, k->n_bins = 10, k->t0_c = 35;
  lj_budget_idle_model m;
  lj_budget_idle_model_of(&r, &m);
  assert_int_equal(m.curve, 1);
  REL(m.u_a_w, T8 * 0.2, 1e-12);
  REL(m.u_b_w_per_c, T8 * 0.05, 1e-12);
  lj_budget_sum x = {0};
  lj_budget_add(&x, &m, 1, 2.0, 45, NAN);  // 2 s at 10 C above t0
  REL(x.s0, 2.0, 1e-15);
  REL(x.s1, 20.0, 1e-15);
  REL(lj_budget_idle_j(&m, &x), T8 * sqrt(0.4 * 0.4 + 1.0 * 1.0), 1e-12);
  // 1 s at an unknown temperature: bounded by the run's hottest (55 C, 20 C above t0)
  lj_budget_add(&x, &m, 1, 1.0, NAN, NAN);
  REL(x.s1_abs, 20.0, 1e-15);
  REL(lj_budget_idle_j(&m, &x), T8 * sqrt(0.6 * 0.6 + 2.0 * 2.0), 1e-12);
  lj_profile_result_free(&r);
}

static void test_idle_flat_term(void **state) {
  (void)state;
  lj_profile_result r;
  base(&r);
  r.cond.idle_sd_w = 0.5;
  lj_budget_idle_model m;
  lj_budget_idle_model_of(&r, &m);  // no curve: the 1.5 W/C from the coolest reading
  assert_int_equal(m.curve, 0);
  REL(m.u_a_w, 0.5, 1e-15);
  REL(m.u_b_w_per_c, LJ_BUDGET_LEAKAGE_W_PER_C, 1e-15);
  REL(m.tref_c, 35, 1e-15);
  lj_budget_sum x = {0};
  lj_budget_add(&x, &m, 1, 2.0, 50, NAN);
  REL(lj_budget_idle_j(&m, &x), sqrt(1.0 + 45.0 * 45.0), 1e-12);
  // the same time at the same temperature subtracted: a check's two sides cancel
  lj_budget_add(&x, &m, -1, 2.0, 50, NAN);
  assert_true(lj_budget_idle_j(&m, &x) == 0);
  // a fit that is not usable still bounds the slope by its interval's wider end, from its t0
  r.idle_curve_valid = 1;
  lj_idle_curve *k = &r.idle_curve.fit;
  k->usable = 0, k->slope_lo = -0.4, k->slope_hi = 0.8, k->t0_c = 36;
  lj_budget_idle_model_of(&r, &m);
  REL(m.u_b_w_per_c, 0.8, 1e-15);
  REL(m.tref_c, 36, 1e-15);
  lj_budget_sum y = {0};
  lj_budget_add(&y, &m, 1, 2.0, 50, NAN);
  REL(lj_budget_idle_j(&m, &y), sqrt(1.0 + 22.4 * 22.4), 1e-12);
  lj_profile_result_free(&r);
}

// A stage estimate of stage st (isolation, decode) at mid temperature temp_c, t_s per call.
static lj_profile_stage stage_at(lj_stage st, double t_s, double temp_c) {
  lj_profile_stage x;
  memset(&x, 0, sizeof x);
  x.method = LJ_METHOD_ISOLATION;
  x.est.key.phase = LJ_PHASE_DECODE, x.est.key.stage = st, x.est.key.layer = -1, x.est.key.kv_len = 4;
  x.est.dynamic_j.n = 3, x.est.dynamic_j.mean = 0.1;
  x.est.time_per_call_s.mean = t_s;
  x.est.temperature_min_c = x.est.temperature_max_c = temp_c;
  return x;
}

// Tensor-parallel degree 2 over two GPUs: the run's figures are the sum of both, whose idle each
// leaks with the heat at its own temperature from its own coolest reading. GPU 0 idled at 35 C and
// ran at 50, GPU 1 idled at 30 and ran at 60; the run's windows and trials carry GPU 0's
// temperature. Each GPU's slope term is 1.5 W/C x t x (T - tref), summed: for 2 s, 45 + 90 = 135 J
// (it was 2 x 1.5 W/C x 2 s x (50 - 35) = 90 J, GPU 0's heat counted twice). One GPU for every
// rank (loopback) and each rank's own view (n_ranks 0) keep one GPU's model.
static void test_idle_flat_term_per_gpu(void **state) {
  (void)state;
  lj_profile_result r;
  base(&r);
  r.cond.idle_sd_w = 0.5;
  r.cond.temperature_min_c = 30, r.cond.temperature_max_c = 65;  // every GPU's range
  r.plan.tp_degree = 2, r.n_ranks = 2;
  const double cool[2] = {35, 30}, hot[2] = {55, 65}, run_at[2] = {50, 60};
  for (int k = 0; k < 2; k++) {
    r.ranks[k].temperature_min_c = cool[k], r.ranks[k].temperature_max_c = hot[k];
    r.ranks[k].phase_temperature_c[LJ_PHASE_DECODE] = run_at[k];
  }
  lj_budget_idle_model m;
  lj_budget_idle_model_of(&r, &m);
  REL(m.u_a_w, 0.5, 1e-15);  // the sum's sd, as the meter gives it (each GPU's in quadrature)
  assert_int_equal(m.n_gpus, 2);
  for (int k = 0; k < 2; k++) {
    REL(m.gpu_u_b_w_per_c[k], LJ_BUDGET_LEAKAGE_W_PER_C, 1e-15);
    REL(m.gpu_tref_c[k], cool[k], 1e-15);
    REL(m.gpu_t_hot_c[k], hot[k], 1e-15);
  }
  lj_budget_sum x = {0};
  lj_budget_add_gpus(&x, &m, 1, 2.0, run_at, NAN);
  REL(lj_budget_idle_j(&m, &x), sqrt(1.0 + 135.0 * 135.0), 1e-12);
  lj_budget_add_gpus(&x, &m, -1, 2.0, run_at, NAN);  // a check's two sides cancel on each GPU
  assert_true(lj_budget_idle_j(&m, &x) == 0);
  // a term of unknown temperature: each GPU's hottest, 1 s: 1.5 x (20 + 35)
  lj_budget_sum y = {0};
  const double unknown[2] = {NAN, NAN};
  lj_budget_add_gpus(&y, &m, 1, 1.0, unknown, NAN);
  REL(lj_budget_idle_j(&m, &y), sqrt(0.25 + 82.5 * 82.5), 1e-12);
  // through the analysis: the decode phase (2 s a unit, its windows at GPU 0's 50 C) and a stage
  // estimate (0.5 s a call, 45 C in the run's trials; GPU 0 read 45, GPU 1 70 C)
  r.phases[LJ_PHASE_DECODE].dynamic_j.n = 3, r.phases[LJ_PHASE_DECODE].dynamic_j.mean = 100;
  r.phases[LJ_PHASE_DECODE].time_s.mean = 2;
  lj_phase_window w;
  memset(&w, 0, sizeof w);
  w.phase = LJ_PHASE_DECODE, w.units = 1, w.temperature_c = 50;
  w.w.duration_s = 2, w.w.counter_above_idle_j = 100;
  assert_int_equal(lj_profile_add_window(&r, &w), 0);
  lj_profile_stage st = stage_at(LJ_STAGE_DOWN, 0.5, 45);
  assert_int_equal(lj_profile_add_stage(&r, &st), 0);
  for (int k = 0; k < 2; k++) {
    r.ranks[k].stages = malloc(sizeof *r.ranks[k].stages);
    assert_non_null(r.ranks[k].stages);
    r.ranks[k].stages[0] = stage_at(LJ_STAGE_DOWN, 0.5, k ? 70 : 45), r.ranks[k].n_stages = 1;
  }
  assert_int_equal(lj_analyze_budgets(&r), 0);
  const lj_budget *ph = lj_profile_budget_of(&r, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(ph);
  REL(ph->idle_j, sqrt(1.0 + 135.0 * 135.0), 1e-12);
  const lj_budget *sb = lj_profile_budget_of(&r, "stage", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_DOWN);
  assert_non_null(sb);
  double slope = 1.5 * 0.5 * (45 - 35) + 1.5 * 0.5 * (70 - 30);
  REL(sb->idle_j, sqrt(0.25 * 0.25 + slope * slope), 1e-12);
  // one GPU's model where the figures are one GPU's
  r.n_ranks = 1;
  lj_budget_idle_model_of(&r, &m);
  assert_int_equal(m.n_gpus, 0);
  REL(m.u_b_w_per_c, LJ_BUDGET_LEAKAGE_W_PER_C, 1e-15);
  r.n_ranks = 0;
  lj_budget_idle_model_of(&r, &m);
  assert_int_equal(m.n_gpus, 0);
  lj_profile_result_free(&r);
}

static void test_edge_term(void **state) {
  (void)state;
  // samples: a sixth of a 20 ms period (the mean of dP u^2 / 2h over u) of the 200 W the window ends with
  REL(lj_budget_window_edge_j(100, 0.5, 1), 200 * 0.020 / 6, 1e-12);
  // the counter after a pre-roll: its 1 mJ resolution at each end
  REL(lj_budget_window_edge_j(100, 0.5, 0), 0.002, 1e-12);
  assert_true(isnan(lj_budget_window_edge_j(NAN, 0.5, 1)));
  // every window under-reads: a difference of two windows keeps the difference of their bounds
  lj_budget_idle_model m;
  memset(&m, 0, sizeof m);
  m.tref_c = m.t_hot_c = NAN;
  lj_budget_sum x = {0};
  lj_budget_add(&x, &m, 1, NAN, NAN, 2.0);
  lj_budget_add(&x, &m, -1, NAN, NAN, 1.5);
  REL(x.edge, 0.5, 1e-15);
}

static void test_total(void **state) {
  (void)state;
  lj_budget b;
  lj_budget_init(&b, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_string_equal(b.card_basis, LJ_BUDGET_NOT_MEASURED);
  b.reference_j = 100;
  b.trial_j = 3, b.idle_j = 4, b.card_j = 100;  // card: a number, but not measured: out of the total
  snprintf(b.trial_basis, sizeof b.trial_basis, "%s", LJ_BUDGET_MEASURED);
  snprintf(b.idle_basis, sizeof b.idle_basis, "%s", LJ_BUDGET_BOUND);
  lj_budget_total(&b);
  REL(b.total_j, 5.0, 1e-15);
  REL(lj_budget_total_pct(&b), 5.0, 1e-15);
  double h;
  assert_string_equal(lj_report_budget_largest(&b, &h), "idle");
  REL(h, 4.0, 1e-15);
  // one trial: no spread measured, so no total, and a check keeps its unknown interval (INCONCLUSIVE)
  // instead of the idle and edge terms' narrow one
  b.trial_j = NAN;
  snprintf(b.trial_basis, sizeof b.trial_basis, "%s", LJ_BUDGET_NOT_MEASURED);
  lj_budget_total(&b);
  assert_true(isnan(b.total_j));
  double lo = NAN, hi = NAN;
  lj_report_budget_range(&b, 1.0, &lo, &hi);
  assert_true(isnan(lo) && isnan(hi));
  assert_int_equal(lj_interval_verdict(1.0, lo, hi, 5), LJ_VERDICT_INCONCLUSIVE);
}

// The decode isolation closure of one term over measured_j: 1% over [-2, +4]; then the budgets.
static void close_decode(lj_profile_result *r, double measured_j) {
  lj_closure *c = &r->closure[LJ_PHASE_DECODE];
  c->n_terms = 1, c->measured_dynamic_j = measured_j, c->predicted_dynamic_j.estimate = measured_j * 1.01;
  c->error_dynamic_pct = 1, c->error_dynamic_lo_pct = -2, c->error_dynamic_hi_pct = 4;
  assert_int_equal(lj_analyze_budgets(r), 0);
}

// A decode phase of 2 s at 52 C (400 J above idle per unit, three windows) and one isolation
// stage of 100 calls x 16 ms replayed at 40-44 C that over-predicts it by 1% [-2, +4]: inside the
// +-5% target by the trials alone.
static void closure_run(lj_profile_result *r, int curve) {
  base(r);
  r->cond.idle_sd_w = 0.3;
  if (curve) {
    r->idle_curve_valid = 1;
    lj_idle_curve *k = &r->idle_curve.fit;
    k->usable = 1, k->a_se_w = 0.05, k->slope_se_w_per_c = 0.01, k->n_bins = 12, k->t0_c = 35;
  }
  for (int i = 0; i < 3; i++) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    w.phase = LJ_PHASE_DECODE, w.repeat = i, w.units = 1, w.tokens_per_unit = 100;
    w.w.duration_s = 2.0, w.w.counter_above_idle_j = 400, w.temperature_c = 52;
    assert_int_equal(lj_profile_add_window(r, &w), 0);
  }
  lj_phase_summary *p = &r->phases[LJ_PHASE_DECODE];
  p->n = 3, p->tokens_per_unit = 100;
  p->time_s = (lj_mean_ci){.mean = 2.0, .n = 3, .lo = 2.0, .hi = 2.0, .level = 0.95};
  p->dynamic_j = (lj_mean_ci){.mean = 400, .n = 3, .lo = 396, .hi = 404, .level = 0.95};
  lj_profile_stage s;
  memset(&s, 0, sizeof s);
  s.method = LJ_METHOD_ISOLATION, s.calls_per_unit = 100;
  s.est.key = (lj_stage_key){LJ_PHASE_DECODE, LJ_STAGE_GATE_UP, 0, 4};
  s.est.n_trials = 3;
  s.est.dynamic_j = (lj_mean_ci){.mean = 4.04, .n = 3, .lo = 4.0, .hi = 4.08, .level = 0.95};
  s.est.time_per_call_s = (lj_mean_ci){.mean = 0.016, .n = 3, .lo = 0.016, .hi = 0.016, .level = 0.95};
  s.est.temperature_min_c = 40, s.est.temperature_max_c = 44;
  assert_int_equal(lj_profile_add_stage(r, &s), 0);
  close_decode(r, 400);
}

static void test_idle_flips_verdict(void **state) {
  (void)state;
  lj_profile_result r;
  closure_run(&r, 0);
  const lj_closure *c = &r.closure[LJ_PHASE_DECODE];
  assert_int_equal(lj_report_closure_verdict(NULL, c, LJ_METHOD_ISOLATION), LJ_VERDICT_PASS);  // trials alone
  const lj_budget *b = lj_profile_budget_of(&r, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(b);
  REL(b->value_j, 4.0, 1e-12);
  REL(b->trial_j, 12.0, 1e-12);  // 3% of 400 J
  // s0 = 1.6 - 2.0 s, s1 = 1.6 x (42 - 35) - 2.0 x (52 - 35) = -22.8 s C: the replay ran cooler
  double idle = sqrt(0.3 * 0.4 * 0.3 * 0.4 + 1.5 * 22.8 * 1.5 * 22.8);
  REL(b->idle_j, idle, 1e-12);
  assert_string_equal(b->idle_basis, LJ_BUDGET_BOUND);
  REL(b->edge_j, 0.002, 1e-9);  // the phase windows' counter resolution (the stage has no trials here)
  assert_string_equal(b->card_basis, LJ_BUDGET_NOT_MEASURED);
  REL(b->total_j, sqrt(144 + idle * idle + 0.002 * 0.002), 1e-12);
  double h;
  assert_string_equal(lj_report_budget_largest(b, &h), "idle");
  assert_int_equal(lj_report_closure_verdict(&r, c, LJ_METHOD_ISOLATION), LJ_VERDICT_INCONCLUSIVE);
  // the phase and its J/token: 2 s at 52 C against the flat idle measured at 35 C
  const lj_budget *ph = lj_profile_budget_of(&r, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  const lj_budget *pt = lj_profile_budget_of(&r, "j_per_token", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(ph);
  assert_non_null(pt);
  REL(ph->idle_j, sqrt(0.6 * 0.6 + 51.0 * 51.0), 1e-12);
  REL(ph->trial_j, 4.0, 1e-12);
  REL(pt->total_j, ph->total_j / 100, 1e-12);
  REL(pt->value_j, 4.0, 1e-12);
  lj_profile_result_free(&r);
  // the same run with a usable idle curve: its standard errors are small, the verdict PASS
  closure_run(&r, 1);
  b = lj_profile_budget_of(&r, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  REL(b->idle_j, T10 * sqrt(0.05 * 0.4 * 0.05 * 0.4 + 0.01 * 22.8 * 0.01 * 22.8), 1e-12);
  assert_string_equal(b->idle_basis, LJ_BUDGET_MEASURED);
  assert_int_equal(lj_report_closure_verdict(&r, c, LJ_METHOD_ISOLATION), LJ_VERDICT_PASS);
  lj_profile_result_free(&r);
}

// The profile's JSON, parsed (the caller frees it with json_decref).
static json_t *rendered_json(const lj_profile_result *r) {
  char *s = render(r, 1);
  json_error_t err;
  json_t *doc = json_loads(s, 0, &err);
  free(s);
  assert_non_null(doc);
  return doc;
}

// The JSON's first budget of kind (asserted present).
static json_t *json_budget(json_t *doc, const char *kind) {
  json_t *budgets = json_object_get(doc, "budgets");
  for (size_t i = 0; i < json_array_size(budgets); i++)
    if (!strcmp(json_string_value(json_object_get(json_array_get(budgets, i), "kind")), kind))
      return json_array_get(budgets, i);
  fail_msg("no %s budget in the JSON", kind);
  return NULL;
}

static void test_rendered(void **state) {
  (void)state;
  lj_profile_result r;
  closure_run(&r, 0);
  assert_int_equal(lj_config_preset("tiny", &r.plan.config), 0);
  char *text = render(&r, 0);
  assert_non_null(strstr(text, "== Uncertainty budget, decode"));
  assert_non_null(strstr(text, "closure isolation"));
  assert_non_null(strstr(text, "largest term of the decode figure: idle"));
  assert_non_null(strstr(text, "INCONCLUSIVE"));
  assert_non_null(strstr(text, "decode   isolation with the uncertainty budget: [-8.1%, +10.1%]"));
  free(text);
  json_t *doc = rendered_json(&r);
  json_t *budgets = json_object_get(doc, "budgets");
  assert_true(json_is_array(budgets));
  assert_int_equal(json_array_size(budgets), r.n_budgets);
  int closures = 0;
  for (size_t i = 0; i < json_array_size(budgets); i++) {
    json_t *b = json_array_get(budgets, i);
    if (strcmp(json_string_value(json_object_get(b, "kind")), "closure")) continue;
    closures++;
    REL(json_real_value(json_object_get(b, "trial_j")), 12.0, 1e-12);
    assert_string_equal(json_string_value(json_object_get(b, "idle_basis")), "bound");
    assert_string_equal(json_string_value(json_object_get(b, "card_basis")), "not measured");
    assert_true(json_is_null(json_object_get(b, "card_j")));
    assert_string_equal(json_string_value(json_object_get(b, "source_basis")), "not measured");  // the phase's only
    assert_true(json_is_null(json_object_get(b, "source_j")));
    assert_string_equal(json_string_value(json_object_get(b, "largest_term")), "idle");
    const lj_budget *want = lj_profile_budget_of(&r, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
    REL(json_real_value(json_object_get(b, "total_pct")), want->total_j / 400 * 100, 1e-12);
  }
  assert_int_equal(closures, 1);
  json_t *c = json_array_get(json_object_get(doc, "closures"), 0);
  assert_string_equal(json_string_value(json_object_get(c, "verdict")), "INCONCLUSIVE");
  const lj_budget *cb = lj_profile_budget_of(&r, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  REL(json_real_value(json_object_get(c, "judged_lo_pct")), 1 - cb->total_j / 400 * 100, 1e-12);
  REL(json_real_value(json_object_get(c, "judged_hi_pct")), 1 + cb->total_j / 400 * 100, 1e-12);
  REL(json_real_value(json_object_get(c, "error_dynamic_lo_pct")), -2, 1e-12);  // the trials' alone, beside
  json_decref(doc);
  lj_profile_result_free(&r);
}

static void test_store(void **state) {
  (void)state;
  char dir[] = "/tmp/lj_test_budget_XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.db", dir);
  lj_profile_result w, g;
  closure_run(&w, 0);
  assert_int_equal(lj_config_preset("tiny", &w.plan.config), 0);
  lj_store *st = store_round_trip(path, &w, &g);
  assert_int_equal(g.n_budgets, w.n_budgets);
  for (size_t i = 0; i < w.n_budgets; i++) {
    const lj_budget *a = &w.budgets[i], *b = &g.budgets[i];
    assert_string_equal(a->kind, b->kind);
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->method, b->method);
    assert_int_equal(a->stage, b->stage);
    assert_string_equal(a->idle_basis, b->idle_basis);
    assert_string_equal(a->card_basis, b->card_basis);
    REL(b->total_j, a->total_j, 0);
    REL(b->idle_j, a->idle_j, 0);
    assert_true(isnan(b->card_j));
  }
  // read back, the verdict is the budget's again
  assert_int_equal(lj_report_closure_verdict(&g, &g.closure[LJ_PHASE_DECODE], LJ_METHOD_ISOLATION),
                   LJ_VERDICT_INCONCLUSIVE);
  lj_profile_result_free(&g);
  lj_store_close(st);
  lj_profile_result_free(&w);
  // a version-11 file: read as it is, no budgets (no error); upgraded, the table, empty
  snprintf(path, sizeof path, "%s/v11.db", dir);
  check_table_upgrade(path, 11, "budgets");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

// A decode phase: three windows of 2 units (100 tokens each), 2 s a unit at 100 W idle, the samples
// 800, 810 and 790 J gross (400 J a unit on average); the counter reads each window 0.5% higher
// (counter) or not at all; the phase by the samples (samples) or the counter.
static void source_windows(lj_profile_result *r, int counter, int samples) {
  base(r);
  r->cond.idle_sd_w = 0.3;
  const double gross[3] = {800, 810, 790};
  uint32_t source = samples ? LJ_WINDOW_SAMPLE_ENERGY : 0;
  for (int i = 0; i < 3; i++) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    w.phase = LJ_PHASE_DECODE, w.repeat = i, w.units = 2, w.tokens_per_unit = 100, w.temperature_c = 50;
    w.w.duration_s = 4, w.w.idle_power_w = 100;
    w.w.sample_energy_j = gross[i], w.w.sample_above_idle_j = gross[i] - 400;
    w.w.counter_energy_j = counter ? gross[i] * 1.005 : NAN;
    w.w.counter_above_idle_j = counter ? gross[i] * 1.005 - 400 : NAN;
    w.w.flags = source | (counter ? 0 : LJ_WINDOW_NO_COUNTER);
    assert_int_equal(lj_profile_add_window(r, &w), 0);
  }
  lj_phase_summary *p = &r->phases[LJ_PHASE_DECODE];
  p->n = 3, p->tokens_per_unit = 100, p->window_flags = source;
  p->time_s = (lj_mean_ci){.mean = 2.0, .n = 3, .lo = 2.0, .hi = 2.0, .level = 0.95};
}

// source_windows by the samples, their summary and budgets.
static void source_run(lj_profile_result *r, int counter) {
  source_windows(r, counter, 1);
  lj_phase_summary *p = &r->phases[LJ_PHASE_DECODE];
  p->gross_j = (lj_mean_ci){.mean = 400, .n = 3, .lo = 387.6, .hi = 412.4, .level = 0.95};
  p->dynamic_j = (lj_mean_ci){.mean = 200, .n = 3, .lo = 187.6, .hi = 212.4, .level = 0.95};
  assert_int_equal(lj_analyze_budgets(r), 0);
}

// The counter 0.5% above the samples on every window: a term of 0.5% of the samples' 400 J gross a
// unit (2 J; 1% of the 200 J above idle), in the total in quadrature, the largest; J/token a
// hundredth. Without the counter: not measured, out of the total.
static void test_source_term(void **state) {
  (void)state;
  lj_profile_result r;
  source_run(&r, 1);
  const lj_budget *ph = lj_profile_budget_of(&r, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  const lj_budget *pt = lj_profile_budget_of(&r, "j_per_token", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(ph);
  assert_non_null(pt);
  REL(ph->source_j, 2.0, 1e-12);
  assert_string_equal(ph->source_basis, LJ_BUDGET_MEASURED);
  REL(ph->trial_j, 12.4, 1e-12);
  double idle = sqrt(0.6 * 0.6 + 45.0 * 45.0);  // 2 s at 50 C against the flat idle at 35 C
  REL(ph->idle_j, idle, 1e-12);
  double edge = 400.0 / 4 * 0.020 / 6 / 2;  // the samples' edge of a window (400 J above idle), per unit
  REL(ph->edge_j, edge, 1e-12);
  REL(ph->total_j, sqrt(12.4 * 12.4 + idle * idle + edge * edge + 2.0 * 2.0), 1e-12);
  REL(pt->source_j, 0.02, 1e-12);
  assert_string_equal(pt->source_basis, LJ_BUDGET_MEASURED);
  REL(pt->total_j, ph->total_j / 100, 1e-12);
  double h;
  assert_string_equal(lj_report_budget_largest(ph, &h), "idle");
  lj_budget b = *ph;  // with the idle curve's small terms the source would lead
  b.idle_j = 0.5;
  assert_string_equal(lj_report_budget_largest(&b, &h), "trial");
  b.trial_j = 1.5;
  assert_string_equal(lj_report_budget_largest(&b, &h), "source");
  REL(h, 2.0, 1e-12);
  lj_profile_result_free(&r);
  source_run(&r, 0);
  ph = lj_profile_budget_of(&r, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(ph);
  assert_true(isnan(ph->source_j));
  assert_string_equal(ph->source_basis, LJ_BUDGET_NOT_MEASURED);
  REL(ph->total_j, sqrt(12.4 * 12.4 + idle * idle + edge * edge), 1e-12);
  lj_profile_result_free(&r);
  // an empty basis (a file before schema 20 read as it is) is not measured either
  lj_budget_init(&b, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  b.trial_j = 3, b.source_j = 4, b.source_basis[0] = '\0';
  snprintf(b.trial_basis, sizeof b.trial_basis, "%s", LJ_BUDGET_MEASURED);
  lj_budget_total(&b);
  REL(b.total_j, 3.0, 1e-15);
  assert_string_equal(lj_report_budget_largest(&b, &h), "trial");
}

// source_windows with the counter (0.5% above the samples) and the phase by the counter or the samples,
// one isolation stage of 100 calls whose trials took the samples or the counter, and its closure.
static void mixed_run(lj_profile_result *r, int phase_samples, int stage_samples) {
  source_windows(r, 1, phase_samples);
  lj_phase_summary *p = &r->phases[LJ_PHASE_DECODE];
  p->dynamic_j = (lj_mean_ci){.mean = 201, .n = 3, .lo = 188, .hi = 214, .level = 0.95};
  lj_profile_stage s = stage_at(LJ_STAGE_GATE_UP, 0.02, 50);
  s.calls_per_unit = 100, s.est.dynamic_j.mean = 2.03;
  s.est.window_flags = stage_samples ? LJ_WINDOW_SAMPLE_ENERGY : 0;
  assert_int_equal(lj_profile_add_stage(r, &s), 0);
  close_decode(r, 201);
}

// A closure whose phase took the counter and its stage the samples (a gap in one window's samples)
// compares two instruments: its source term is their offset over the phase windows, 2 J a unit
// (0.5% of 400 J gross), measured, in the total, and the notes say so once. The reverse the same;
// one source on both sides keeps the term not measured and adds no note.
static void test_closure_mixed_sources(void **state) {
  (void)state;
  const char *note = "Decode closure isolation: the phase by the energy counter, its stages by the power samples; "
                     "the budget's source term carries their offset.";
  for (int reverse = 0; reverse < 2; reverse++) {
    lj_profile_result r;
    mixed_run(&r, reverse, !reverse);
    const lj_budget *b = lj_profile_budget_of(&r, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
    assert_non_null(b);
    REL(b->source_j, 2.0, 1e-12);
    assert_string_equal(b->source_basis, LJ_BUDGET_MEASURED);
    REL(b->total_j, sqrt(b->trial_j * b->trial_j + b->idle_j * b->idle_j + b->edge_j * b->edge_j + 4.0), 1e-12);
    if (!reverse) assert_string_equal(r.notes, note);
    else
      assert_string_equal(r.notes, "Decode closure isolation: the phase by the power samples, its stages by the "
                                   "energy counter; the budget's source term carries their offset.");
    lj_profile_result_free(&r);
  }
  for (int samples = 0; samples < 2; samples++) {
    lj_profile_result r;
    mixed_run(&r, samples, samples);
    const lj_budget *b = lj_profile_budget_of(&r, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
    assert_non_null(b);
    assert_true(isnan(b->source_j));
    assert_string_equal(b->source_basis, LJ_BUDGET_NOT_MEASURED);
    assert_string_equal(r.notes, "");
    lj_profile_result_free(&r);
  }
  // A tensor-parallel GPU's own analysis has no phase windows (analyze_shapley_tp.c): its mixed
  // closure keeps the term not measured and adds no note (the sum's note says it, with the offset).
  {
    lj_profile_result v;
    source_windows(&v, 1, 0);
    v.n_windows = 0;  // the rank's copy: its phases, no windows
    lj_profile_stage s = stage_at(LJ_STAGE_GATE_UP, 0.02, 50);
    s.calls_per_unit = 100, s.est.dynamic_j.mean = 2.03, s.est.window_flags = LJ_WINDOW_SAMPLE_ENERGY;
    assert_int_equal(lj_profile_add_stage(&v, &s), 0);
    v.phases[LJ_PHASE_DECODE].dynamic_j = (lj_mean_ci){.mean = 201, .n = 3, .lo = 188, .hi = 214, .level = 0.95};
    close_decode(&v, 201);
    const lj_budget *b = lj_profile_budget_of(&v, "closure", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
    assert_non_null(b);
    assert_true(isnan(b->source_j));
    assert_string_equal(v.notes, "");
    lj_profile_result_free(&v);
  }
  // the closure's row and the note through the text and the JSON
  lj_profile_result r;
  mixed_run(&r, 0, 1);
  assert_int_equal(lj_config_preset("tiny", &r.plan.config), 0);
  char *text = render(&r, 0);
  const char *row = strstr(text, "\nclosure isolation");
  assert_non_null(row);
  const char *end = strchr(row + 1, '\n');
  assert_non_null(end);
  const char *term = strstr(row, "2.000 J 1.00% m");  // 2 J of the 201 J measured above idle: 0.995%
  assert_true(term && term < end);
  free(text);
  json_t *doc = rendered_json(&r);
  assert_non_null(strstr(json_string_value(json_object_get(doc, "notes")), note));
  json_t *x = json_budget(doc, "closure");
  REL(json_real_value(json_object_get(x, "source_j")), 2.0, 1e-12);
  assert_string_equal(json_string_value(json_object_get(x, "source_basis")), "measured");
  json_decref(doc);
  lj_profile_result_free(&r);
}

// The source term through the store, the JSON and the text; a version-19 file (no source columns)
// reads it as not measured, as it is and upgraded.
static void test_source_store(void **state) {
  (void)state;
  char dir[200], path[256];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/lj_test_budget_source_XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
  scratch_store(dir, path, sizeof path, "t.db");
  lj_profile_result w, g;
  source_run(&w, 1);
  assert_int_equal(lj_config_preset("tiny", &w.plan.config), 0);
  lj_store *st = store_round_trip(path, &w, &g);
  lj_store_close(st);
  const lj_budget *a = lj_profile_budget_of(&g, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(a);
  REL(a->source_j, 2.0, 1e-12);
  assert_string_equal(a->source_basis, LJ_BUDGET_MEASURED);
  lj_profile_result_free(&g);
  char *text = render(&w, 0);
  assert_non_null(strstr(text, "source"));
  assert_non_null(strstr(text, "2.000 J 1.00% m"));  // 2 J of the 200 J above idle, measured
  free(text);
  json_t *doc = rendered_json(&w);
  json_t *phase = json_budget(doc, "phase");
  REL(json_real_value(json_object_get(phase, "source_j")), 2.0, 1e-12);
  assert_string_equal(json_string_value(json_object_get(phase, "source_basis")), "measured");
  json_decref(doc);
  lj_profile_result_free(&w);
  // made a version-19 file: the budgets without source_j, source_basis
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  drop_added_columns(db, lj_store_schema_v20);
  drop_added_columns(db, lj_store_schema_v21);
  mark_version(db, 19);
  sqlite3_close(db);
  for (int upgrade = 0; upgrade < 2; upgrade++) {
    assert_int_equal(upgrade ? lj_store_open(path, &st) : lj_store_open_readonly(path, &st), 0);
    if (lj_store_read_profile(st, 1, &g) < 0) fail_msg("%s", lj_error_message());
    lj_store_close(st);
    assert_true(g.n_budgets > 0);
    for (size_t i = 0; i < g.n_budgets; i++) {
      assert_true(isnan(g.budgets[i].source_j));
      assert_string_equal(g.budgets[i].source_basis, LJ_BUDGET_NOT_MEASURED);
    }
    lj_profile_result_free(&g);
  }
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT user_version FROM pragma_user_version", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_STORE_SCHEMA_VERSION);  // upgraded
  sqlite3_finalize(q);
  sqlite3_close(db);
  scratch_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idle_curve_term), cmocka_unit_test(test_idle_flat_term),
      cmocka_unit_test(test_idle_flat_term_per_gpu),
      cmocka_unit_test(test_edge_term),       cmocka_unit_test(test_total),
      cmocka_unit_test(test_idle_flips_verdict), cmocka_unit_test(test_rendered),
      cmocka_unit_test(test_store),
      cmocka_unit_test(test_source_term),     cmocka_unit_test(test_source_store),
      cmocka_unit_test(test_closure_mixed_sources),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
