// Idle power against temperature (meter/idle_curve.c, profile/idle_at_temperature.c, the
// store's idle_curves table, schema 10):
//   - a planted slope of 1.4 W/C over a cool idle and a warm cool-down is recovered within
//     0.05 W/C, its interval holding it, and idle at a window's temperature follows it;
//   - a range under 3 C, and a flat idle over a wide range, fall back to the flat idle (why);
//   - a window rebased on another idle power changes its dynamic energy by dP x time;
//   - the curve written and read back; a version-9 file read as it is has none, upgraded gets
//     the table.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/error.h"
#include "profile/idle_at_temperature.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "old_store.h"
#include "store_round_trip.h"

#include "idle_samples.h"
#include "near.h"

// Idle samples of GPU 0: base + slope x (T - 35) + noise (idle_samples.h).
static size_t idle_span(lj_sample *out, int64_t t0_ns, double secs, double t_from, double t_to, double base,
                        double slope) {
  return idle_samples(out, 0, t0_ns, secs, t_from, t_to, base, 35, slope);
}

static lj_sample g_s[8192];

static void test_planted_slope(void **state) {
  (void)state;
  size_t n = idle_span(g_s, 0, 5, 35, 35, 121.3, 1.4);  // the start: cool, one temperature
  int64_t cool = 600LL * 1000000000LL;                     // ten minutes later, the cool-down
  n += idle_span(g_s + n, cool, 6, 44, 39, 121.3, 1.4);
  lj_profile_idle_curve c;
  assert_int_equal(lj_idle_curve_from_cooldown(g_s, n, 0, cool, cool + 6000000000LL, 35, 0.95, &c), 0);
  const lj_idle_curve *k = &c.fit;
  assert_true(k->usable);
  assert_string_equal(k->why, "");
  NEAR(k->slope_w_per_c, 1.4, 0.05);
  assert_true(k->slope_lo < 1.4 && k->slope_hi > 1.4);
  assert_true(k->slope_se_w_per_c > 0 && k->slope_se_w_per_c < 0.05);
  NEAR(k->a_w, 121.3, 0.2);
  NEAR(k->t0_c, 35, 0);
  NEAR(k->t_min_c, 35, 0);
  NEAR(k->t_max_c, 44, 0.01);
  assert_int_equal(k->n_bins, 7);  // 35, 39 .. 44 (the cool-down's last whole degrees: 39 to 44)
  NEAR(c.cooldown_s, 6, 1e-9);
  NEAR(c.cool_start_c, 44, 0.6);
  NEAR(c.cool_end_c, 39, 0.6);
  // idle at a window's temperature: on the curve inside the range, clamped outside it
  NEAR(lj_idle_curve_at(k, 40, 100), 121.3 + 5 * 1.4, 0.4);
  NEAR(lj_idle_curve_at(k, 60, 100), lj_idle_curve_at(k, 44, 100), 1e-9);
  NEAR(lj_idle_curve_at(k, NAN, 100), 100, 0);
}

static void test_fallbacks(void **state) {
  (void)state;
  // a range under 3 C: 35 at the start, 37 to 36 in the cool-down
  size_t n = idle_span(g_s, 0, 5, 35, 35, 121.3, 1.4);
  n += idle_span(g_s + n, 100000000000LL, 6, 37, 36, 121.3, 1.4);
  lj_idle_curve k;
  assert_int_equal(lj_idle_curve_fit(g_s, n, 0, 35, 0.95, &k), 0);
  assert_false(k.usable);
  assert_non_null(strstr(k.why, "range 2.0 C"));
  NEAR(lj_idle_curve_at(&k, 37, 118), 118, 0);
  // a wide range but a flat idle: no slope to use
  n = idle_span(g_s, 0, 5, 35, 35, 121.3, 0);
  n += idle_span(g_s + n, 100000000000LL, 6, 44, 39, 121.3, 0);
  assert_int_equal(lj_idle_curve_fit(g_s, n, 0, 35, 0.95, &k), 0);
  assert_false(k.usable);
  assert_true(strlen(k.why) > 0);
  NEAR(k.slope_w_per_c, 0, 0.1);
  // one temperature only
  n = idle_span(g_s, 0, 5, 35, 35, 121.3, 1.4);
  assert_int_equal(lj_idle_curve_fit(g_s, n, 0, 35, 0.95, &k), 0);
  assert_false(k.usable);
  assert_int_equal(k.n_bins, 1);
  // another device's samples are not this one's
  assert_int_equal(lj_idle_curve_fit(g_s, n, 1, 35, 0.95, &k), 0);
  assert_int_equal(k.n_samples, 0);
  assert_int_equal(lj_idle_curve_fit(g_s, n, 0, 35, 1.5, &k), LJ_EINVAL);
  lj_clear_error();
}

static void test_rebase(void **state) {
  (void)state;
  lj_window_result w;
  memset(&w, 0, sizeof w);
  w.duration_s = 2, w.idle_power_w = 100, w.counter_above_idle_j = 50, w.sample_above_idle_j = 52;
  lj_window_rebase_idle(&w, 105);
  NEAR(w.counter_above_idle_j, 40, 1e-12);
  NEAR(w.sample_above_idle_j, 42, 1e-12);
  NEAR(w.idle_power_w, 105, 0);
  lj_window_rebase_idle(&w, NAN);
  NEAR(w.counter_above_idle_j, 40, 1e-12);
  lj_sample r[3] = {idle_reading(0, 5, LJ_READING_TEMPERATURE, 40), idle_reading(0, 10, LJ_READING_TEMPERATURE, 42),
                    idle_reading(0, 30, LJ_READING_TEMPERATURE, 60)};
  NEAR(lj_window_temperature(r, 3, 0, 0, 20), 41, 1e-12);
  assert_true(isnan(lj_window_temperature(r, 3, 0, 40, 50)));
}

static void test_store(void **state) {
  (void)state;
  char dir[] = "/tmp/lj_test_idle_curve_XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.db", dir);
  lj_profile_result w, g;
  lj_profile_result_init(&w);
  assert_int_equal(lj_config_preset("tiny", &w.plan.config), 0);
  w.plan.level = 0.95;
  w.idle_curve_valid = 1;
  w.idle_curve.cooldown_s = 6, w.idle_curve.cool_start_c = 44, w.idle_curve.cool_end_c = 39;
  lj_idle_curve *k = &w.idle_curve.fit;
  k->t0_c = 38, k->a_w = 121.3, k->slope_w_per_c = 1.4, k->slope_se_w_per_c = 0.12, k->slope_lo = 1.1;
  k->slope_hi = 1.7, k->r2 = 0.97, k->t_min_c = 38, k->t_max_c = 44, k->n_bins = 6, k->n_samples = 550;
  k->usable = 1;
  lj_store *st = store_round_trip(path, &w, &g);
  assert_int_equal(g.idle_curve_valid, 1);
  assert_memory_equal(&g.idle_curve.fit, k, offsetof(lj_idle_curve, why));
  assert_string_equal(g.idle_curve.fit.why, "");
  NEAR(g.idle_curve.cool_end_c, 39, 0);
  lj_profile_result_free(&g);
  lj_store_close(st);
  lj_profile_result_free(&w);
  // a version-9 file: read as it is, no curve (no error); upgraded, the table, empty
  snprintf(path, sizeof path, "%s/v9.db", dir);
  check_table_upgrade(path, 9, "idle_curves");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_planted_slope),
      cmocka_unit_test(test_fallbacks),
      cmocka_unit_test(test_rebase),
      cmocka_unit_test(test_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
