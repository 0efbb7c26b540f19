// Each GPU's own idle curve in a tensor-parallel profile (docs/tensor-parallel.md §5):
//   - two GPUs' idle samples in one trace (the start-of-run idle and the cool-down every GPU idled
//     through at once), planted slopes 1.4 and 0.6 W/C: each GPU's fit from its own samples
//     recovers its own slope within 0.05 W/C and its idle at T0 within 0.2 W; a GPU whose
//     temperature stayed flat falls back (one temperature bin), the other keeps its curve;
//   - the budget's idle model of the sum takes each usable curve's t x se terms from its T0, and a
//     GPU without one its flat idle's spread and the slope bound from its coolest reading;
//     each rank's own budget takes its own curve;
//   - each GPU's curve through the store (idle_curves keyed by tp_rank, schema 22), the JSON's
//     per_gpu and the text header; a version-20 file reads, as it is and upgraded, with its
//     degree-1 curve kept and no per-GPU curve.
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
#include "common/stats.h"
#include "profile/budget.h"
#include "profile/idle_at_temperature.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "idle_samples.h"
#include "near.h"
#include "old_store.h"
#include "render_profile.h"
#include "store_round_trip.h"

#define SEC 1000000000LL

static int by_time(const void *a, const void *b) {
  const lj_sample *x = a, *y = b;
  return (x->t_ns > y->t_ns) - (x->t_ns < y->t_ns);
}

static lj_sample g_s[16384];

// A mkdtemp template named `name` under $TMPDIR (else the system's temporary folder).
static void scratch_dir(char *dir, size_t cap, const char *name) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, cap, "%s/%s_XXXXXX", tmp && *tmp ? tmp : P_tmpdir, name);
}

// GPU 0: 121.3 W at 35 C, 1.4 W/C, cooling 44 -> 39 C; GPU 1: 95.0 W at 33 C, 0.6 W/C, cooling
// 51 -> 41 C, or held at 33 C throughout (flat1). The cool-down at 600 s for 6 s, both GPUs at once.
static size_t two_gpus(int flat1) {
  size_t n = idle_samples(g_s, 0, 0, 5, 35, 35, 121.3, 35, 1.4);
  n += idle_samples(g_s + n, 1, 0, 5, 33, 33, 95.0, 33, 0.6);
  n += idle_samples(g_s + n, 0, 600 * SEC, 6, 44, 39, 121.3, 35, 1.4);
  n += idle_samples(g_s + n, 1, 600 * SEC, 6, flat1 ? 33 : 51, flat1 ? 33 : 41, 95.0, 33, 0.6);
  qsort(g_s, n, sizeof *g_s, by_time);
  return n;
}

static void test_fit_per_device(void **state) {
  (void)state;
  size_t n = two_gpus(0);
  const double t0[2] = {35, 33}, a[2] = {121.3, 95.0}, slope[2] = {1.4, 0.6};
  for (int d = 0; d < 2; d++) {
    lj_profile_idle_curve c;
    assert_int_equal(lj_idle_curve_from_cooldown(g_s, n, d, 600 * SEC, 606 * SEC, t0[d], 0.95, &c), 0);
    assert_true(c.fit.usable);
    NEAR(c.fit.slope_w_per_c, slope[d], 0.05);
    assert_true(c.fit.slope_lo < slope[d] && c.fit.slope_hi > slope[d]);
    NEAR(c.fit.a_w, a[d], 0.2);
    NEAR(c.fit.t0_c, t0[d], 0);
    NEAR(c.fit.t_min_c, t0[d], 0);
  }
  // GPU 1 held at one temperature: one bin, not usable, while GPU 0's fit is unchanged
  n = two_gpus(1);
  lj_profile_idle_curve c0, c1;
  assert_int_equal(lj_idle_curve_from_cooldown(g_s, n, 0, 600 * SEC, 606 * SEC, 35, 0.95, &c0), 0);
  assert_int_equal(lj_idle_curve_from_cooldown(g_s, n, 1, 600 * SEC, 606 * SEC, 33, 0.95, &c1), 0);
  assert_true(c0.fit.usable);
  NEAR(c0.fit.slope_w_per_c, 1.4, 0.05);
  assert_false(c1.fit.usable);
  assert_int_equal(c1.fit.n_bins, 1);
  assert_string_equal(c1.fit.why, "1 temperature bin (at least 3 needed)");
  NEAR(lj_idle_curve_at(&c1.fit, 50, 95.0), 95.0, 0);  // the flat idle stays
}

// A degree-2 result with a phase summary per GPU: GPU 0 with a usable curve (7 bins, a_se 0.1 W,
// slope_se 0.02 W/C, T0 35 C, 100 W), GPU 1 with one as well (curve1: 10 C cooler, 90 W) or one
// measured at a single temperature (not usable); each GPU's idle sd 0.3 W, coolest reading 33 C.
static void tp_result(lj_profile_result *r, int curve1) {
  lj_profile_result_init(r);
  assert_int_equal(lj_config_preset("tiny", &r->plan.config), 0);
  r->plan.tp_degree = 2, r->plan.level = 0.95;
  r->n_ranks = 2;
  r->cond.idle_w = 190, r->cond.idle_sd_w = sqrt(2 * 0.3 * 0.3);
  r->cond.temperature_min_c = 33, r->cond.temperature_max_c = 80;
  for (int k = 0; k < 2; k++) {
    lj_profile_rank *rk = &r->ranks[k];
    lj_phase_summary *p = &r->rank_phases[k][LJ_PHASE_DECODE];
    p->n = 1, p->tokens_per_unit = 16;
    rk->idle_w = 100 - 10 * k, rk->idle_sd_w = 0.3;
    rk->temperature_min_c = 33, rk->temperature_max_c = 70 + 10 * k;
    rk->idle_curve_valid = 1;
    lj_idle_curve *c = &rk->idle_curve.fit;
    if (k == 1 && !curve1) {  // a single temperature: no slope, not usable
      assert_int_equal(lj_idle_curve_fit(NULL, 0, 1, 33, 0.95, c), 0);
      c->n_bins = 1, c->n_samples = 250, c->t_min_c = c->t_max_c = 33;
      snprintf(c->why, sizeof c->why, "1 temperature bin (at least 3 needed)");
      continue;
    }
    c->usable = 1, c->n_bins = 7, c->n_samples = 600;
    c->t0_c = 35 - 10 * k, c->a_w = 100 - 10 * k, c->a_se_w = 0.1, c->slope_w_per_c = 1.4, c->slope_se_w_per_c = 0.02;
    c->slope_lo = 1.35, c->slope_hi = 1.45, c->r2 = 0.99, c->t_min_c = c->t0_c, c->t_max_c = c->t0_c + 9;
    rk->idle_curve.cooldown_s = 6, rk->idle_curve.cool_start_c = c->t_max_c, rk->idle_curve.cool_end_c = c->t0_c + 4;
  }
}

// The sum's idle model: GPU 0's curve (t5 x 0.02 W/C from 35 C), GPU 1 without one (1.5 W/C, the
// issue's figure, from its coolest 33 C); u_a the GPUs' in quadrature (t5 x 0.1 and the sd 0.3 W);
// basis bound. A term of 2 s at 50 C on GPU 0 and 70 C on GPU 1 is exposed by their sum. With both
// curves the basis is measured and GPU 1's slope term is its curve's from its own T0 (25 C).
static void test_budget_per_gpu(void **state) {
  (void)state;
  lj_profile_result r;
  tp_result(&r, 0);
  double t5 = lj_student_t_quantile(0.975, 5);
  lj_budget_idle_model m;
  lj_budget_idle_model_of(&r, &m);
  assert_int_equal(m.n_gpus, 2);
  assert_int_equal(m.curve, 0);
  NEAR(m.gpu_u_b_w_per_c[0], t5 * 0.02, 1e-12);
  NEAR(m.gpu_tref_c[0], 35, 0);
  NEAR(m.gpu_u_b_w_per_c[1], LJ_BUDGET_LEAKAGE_W_PER_C, 0);
  NEAR(m.gpu_tref_c[1], 33, 0);
  NEAR(m.u_a_w, sqrt(t5 * 0.1 * t5 * 0.1 + 0.09), 1e-12);
  const double temps[2] = {50, 70};
  lj_budget_sum x;
  memset(&x, 0, sizeof x);
  lj_budget_add_gpus(&x, &m, 1.0, 2.0, temps, NAN);
  double a = m.u_a_w * 2, b = t5 * 0.02 * 2 * 15 + 1.5 * 2 * 37;
  NEAR(lj_budget_idle_j(&m, &x), sqrt(a * a + b * b), 1e-9);
  lj_profile_result_free(&r);
  tp_result(&r, 1);
  lj_budget_idle_model_of(&r, &m);
  assert_int_equal(m.curve, 1);
  NEAR(m.gpu_u_b_w_per_c[1], t5 * 0.02, 1e-12);
  NEAR(m.gpu_tref_c[1], 25, 0);
  NEAR(m.u_a_w, sqrt(2.0) * t5 * 0.1, 1e-12);
  memset(&x, 0, sizeof x);
  lj_budget_add_gpus(&x, &m, 1.0, 2.0, temps, NAN);
  a = m.u_a_w * 2, b = t5 * 0.02 * 2 * (15 + 45);
  NEAR(lj_budget_idle_j(&m, &x), sqrt(a * a + b * b), 1e-9);
  lj_profile_result_free(&r);
}

// Each GPU's curve as r holds it, read back (the fit's a_se is not stored).
static void same_curve(const lj_profile_rank *got, const lj_profile_rank *want) {
  assert_int_equal(got->idle_curve_valid, want->idle_curve_valid);
  const lj_idle_curve *g = &got->idle_curve.fit, *w = &want->idle_curve.fit;
  assert_int_equal(g->usable, w->usable);
  assert_int_equal(g->n_bins, w->n_bins);
  assert_string_equal(g->why, w->why);
  NEAR(g->t0_c, w->t0_c, 1e-12);
  if (w->usable) {
    NEAR(g->slope_w_per_c, w->slope_w_per_c, 1e-12);
    NEAR(g->a_w, w->a_w, 1e-12);
  }
  NEAR(got->idle_curve.cooldown_s, want->idle_curve.cooldown_s, 1e-12);
}

static void test_store_json_text(void **state) {
  (void)state;
  char dir[200], path[256];
  scratch_dir(dir, sizeof dir, "lj_test_tp_idle");
  scratch_store(dir, path, sizeof path, "t.db");
  lj_profile_result w, g;
  tp_result(&w, 0);
  lj_store *st = store_round_trip(path, &w, &g);
  assert_int_equal(g.n_ranks, 2);
  assert_int_equal(g.idle_curve_valid, 0);  // the sum has no curve of its own
  for (int k = 0; k < 2; k++) same_curve(&g.ranks[k], &w.ranks[k]);
  int64_t n = 0;
  assert_int_equal(lj_store_profile_count(st, 1, "idle_curves", &n), 0);
  assert_int_equal(n, 2);
  lj_store_close(st);
  char *text = render(&g, 0);
  assert_non_null(strstr(text, "  idle GPU 0: 100.0 W at 35 C, +1.4 W/C [1.4, 1.4] (cool-down 6 s, 44->39 C): idle at "
                               "each window's temperature\n"));
  assert_non_null(strstr(text, "  idle GPU 1: "));
  assert_non_null(strstr(text, ": not used (1 temperature bin (at least 3 needed)), flat idle kept\n"));
  free(text);
  char *s = render(&g, 1);
  json_error_t err;
  json_t *doc = json_loads(s, 0, &err);
  free(s);
  assert_non_null(doc);
  json_t *gpus = json_object_get(doc, "per_gpu");
  assert_int_equal(json_array_size(gpus), 2);
  for (int k = 0; k < 2; k++) {
    json_t *c = json_object_get(json_array_get(gpus, (size_t)k), "idle_curve");
    assert_true(json_is_object(c));
    assert_int_equal(json_integer_value(json_object_get(c, "tp_rank")), k);
    assert_int_equal(json_is_true(json_object_get(c, "used")), k == 0);
  }
  NEAR(json_real_value(json_object_get(json_object_get(json_array_get(gpus, 0), "idle_curve"), "slope_w_per_c")), 1.4,
       1e-12);
  json_decref(doc);
  lj_profile_result_free(&g);
  lj_profile_result_free(&w);
  scratch_remove(dir);
}

// A version-20 or -21 file (idle_curves keyed by run_id alone; 21 has the plan's GEMV setting) with
// a degree-1 run's curve and a degree-2 run: read as it is and upgraded, the degree-1 curve is kept
// (and 21's setting), the degree-2 run has no per-GPU curve; upgraded, the file is version 22 with
// the degree-1 row under rank 0.
static void old_schema(int version) {
  char dir[200], path[256];
  scratch_dir(dir, sizeof dir, version == 20 ? "lj_test_tp_idle_v20" : "lj_test_tp_idle_v21");
  scratch_store(dir, path, sizeof path, "old.db");
  lj_profile_result one, tp, g;
  lj_profile_result_init(&one);
  assert_int_equal(lj_config_preset("tiny", &one.plan.config), 0);
  snprintf(one.plan.gemv, sizeof one.plan.gemv, "%s", version == 20 ? "defaults" : "r4u2");
  one.idle_curve_valid = 1;
  one.idle_curve = (lj_profile_idle_curve){.cooldown_s = 6, .cool_start_c = 44, .cool_end_c = 39};
  one.idle_curve.fit.usable = 1, one.idle_curve.fit.t0_c = 35, one.idle_curve.fit.slope_w_per_c = 1.4;
  one.idle_curve.fit.a_w = 121.3, one.idle_curve.fit.n_bins = 7;
  tp_result(&tp, 1);
  for (int k = 0; k < 2; k++) tp.ranks[k].idle_curve_valid = 0;  // version 20 measured none at degree > 1
  lj_store *st = store_round_trip(path, &one, &g);
  lj_profile_result_free(&g);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile --tp 2"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  assert_int_equal(lj_store_add_profile(st, run, &tp), 0);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  if (version < 21) drop_added_columns(db, lj_store_schema_v21);  // the plan's GEMV setting
  mark_version(db, version);
  sqlite3_close(db);
  for (int upgrade = 0; upgrade < 2; upgrade++) {
    assert_int_equal(upgrade ? lj_store_open(path, &st) : lj_store_open_readonly(path, &st), 0);
    if (lj_store_read_profile(st, 1, &g) < 0) fail_msg("%s", lj_error_message());
    assert_int_equal(g.idle_curve_valid, 1);
    NEAR(g.idle_curve.fit.slope_w_per_c, 1.4, 1e-12);
    NEAR(g.idle_curve.fit.a_w, 121.3, 1e-12);
    assert_string_equal(g.plan.gemv, version == 20 ? "defaults" : "r4u2");
    lj_profile_result_free(&g);
    if (lj_store_read_profile(st, run, &g) < 0) fail_msg("%s", lj_error_message());
    assert_int_equal(g.n_ranks, 2);
    for (int k = 0; k < 2; k++) assert_int_equal(g.ranks[k].idle_curve_valid, 0);
    lj_profile_result_free(&g);
    lj_store_close(st);
  }
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version), run_id, tp_rank "
                                          "FROM idle_curves", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_STORE_SCHEMA_VERSION);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  assert_int_equal(sqlite3_column_int(q, 2), 0);
  assert_int_equal(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(db);
  lj_profile_result_free(&one);
  lj_profile_result_free(&tp);
  scratch_remove(dir);
}

static void test_schema_20(void **state) {
  (void)state;
  old_schema(20);
}

static void test_schema_21(void **state) {
  (void)state;
  old_schema(21);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_per_device),
      cmocka_unit_test(test_budget_per_gpu),
      cmocka_unit_test(test_store_json_text),
      cmocka_unit_test(test_schema_20),
      cmocka_unit_test(test_schema_21),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
