// bench_engine --decode-energy's arithmetic (profile/decode_energy.c), against hand-computed values:
//   - the windows' order: every point `repeats` times, one round after another, never a point's two
//     windows back to back, the same for the same seed;
//   - a point's figures from its windows and idle: J/token above idle with its Student-t interval by
//     the power samples (the counter beside it), the counter taking over for windows of 10 s or more
//     or where a window has no samples, each subtracting its own idle; the conditions read inside;
//   - the fastest and least-energy points, "within noise" where their intervals overlap.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "profile/decode_energy.h"
#include "profile/trial_conditions.h"

#include "near.h"
#define T2 4.302652729749464  // t_{0.975, 2}

static void test_order_interleaves(void **state) {
  (void)state;
  enum { P = 5, R = 6 };
  int order[P * R], again[P * R], other[P * R];
  assert_int_equal(lj_decode_energy_order(P, R, 7, order), 0);
  for (int r = 0; r < R; r++) {  // each round holds every point once
    int seen[P] = {0};
    for (int i = 0; i < P; i++) seen[order[r * P + i]]++;
    for (int p = 0; p < P; p++) assert_int_equal(seen[p], 1);
  }
  for (int i = 1; i < P * R; i++)
    if (order[i] == order[i - 1]) fail_msg("point %d's windows %d and %d are back to back", order[i], i - 1, i);
  assert_int_equal(lj_decode_energy_order(P, R, 7, again), 0);
  assert_memory_equal(order, again, sizeof order);
  assert_int_equal(lj_decode_energy_order(P, R, 8, other), 0);
  assert_memory_not_equal(order, other, sizeof order);
  // two points: the rounds alternate without a repeat at their seams, over many seeds
  for (uint64_t seed = 0; seed < 200; seed++) {
    int two[2 * 9];
    assert_int_equal(lj_decode_energy_order(2, 9, seed, two), 0);
    for (int i = 1; i < 18; i++) assert_int_not_equal(two[i], two[i - 1]);
  }
  int one[3];
  assert_int_equal(lj_decode_energy_order(1, 3, 1, one), 0);
  assert_int_equal(one[0] + one[1] + one[2], 0);
  assert_int_equal(lj_decode_energy_order(0, 3, 1, one), LJ_EINVAL);
  assert_int_equal(lj_decode_energy_order(3, 0, 1, one), LJ_EINVAL);
}

// Three windows at batch 2: 2.0 s / 1000 steps, 2.5 s / 1200, 2.2 s / 1100; samples 700, 900,
// 770 J, counter 710, 905, 780 J; idle 100 W by the samples, 102 W by the counter.
static void three_windows(lj_decode_energy_window *w) {
  const double sec[3] = {2.0, 2.5, 2.2}, sj[3] = {700, 900, 770}, cj[3] = {710, 905, 780};
  const int64_t steps[3] = {1000, 1200, 1100};
  for (int i = 0; i < 3; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].seconds = sec[i], w[i].steps = steps[i], w[i].sample_j = sj[i], w[i].counter_j = cj[i];
    w[i].temp_first_c = 40 + 2 * i, w[i].temp_last_c = 45 + 2 * i;
  }
  w[0].sm_mhz_min = w[0].sm_mhz_max = 1980, w[0].throttle = 0;
  w[1].sm_mhz_min = 1755, w[1].sm_mhz_max = 1980, w[1].throttle = 4;
  w[2].sm_mhz_min = w[2].sm_mhz_max = NAN, w[2].throttle = 1;
}

static const lj_decode_energy_idle idle = {100, 1.5, 102, 0.8};

static void test_point_by_samples(void **state) {
  (void)state;
  lj_decode_energy_window w[3];
  three_windows(w);
  lj_decode_energy_point p;
  assert_int_equal(lj_decode_energy_point_stats(w, 3, 2, &idle, 0.95, &p), 0);
  assert_int_equal(p.by_samples, 1);
  assert_int_equal(p.n, 3);
  // dynamic J/token: (700 - 200) / 2000, (900 - 250) / 2400, (770 - 220) / 2200
  NEAR(p.dyn_j.mean, (0.25 + 650.0 / 2400 + 0.25) / 3, 1e-12);
  NEAR(p.dyn_j.half_width, 0.029879532845482365, 1e-9);
  NEAR(p.dyn_j.half_width, T2 * p.dyn_j.sem, 1e-12);
  NEAR(p.gross_j.mean, (0.35 + 0.375 + 0.35) / 3, 1e-12);
  // the counter's own idle: (710 - 204) / 2000, (905 - 255) / 2400, (780 - 224.4) / 2200
  NEAR(p.other_dyn_j.mean, 0.2587929292929293, 1e-12);
  NEAR(p.ms_per_step.mean, (2.0 + 2500.0 / 1200 + 2.0) / 3, 1e-12);
  NEAR(p.ms_per_token, p.ms_per_step.mean / 2, 1e-12);
  NEAR(p.tok_s, 6600 / 6.7, 1e-9);
  NEAR(p.mean_w, (350 + 360 + 350) / 3.0, 1e-9);
  NEAR(p.temp_first_c, 42, 1e-12);
  NEAR(p.temp_last_c, 47, 1e-12);
  NEAR(p.sm_mhz_min, 1755, 0);
  NEAR(p.sm_mhz_max, 1980, 0);
  assert_int_equal(p.throttle, 5);
}

static void test_point_by_counter(void **state) {
  (void)state;
  lj_decode_energy_window w[3];
  lj_decode_energy_point p;
  // a window of 10 s or more: the counter's figure leads (its 100 ms steps weigh little there)
  three_windows(w);
  w[1].seconds = 12.5, w[1].steps = 6000;  // 2.0833 ms/step as before
  assert_int_equal(lj_decode_energy_point_stats(w, 3, 2, &idle, 0.95, &p), 0);
  assert_int_equal(p.by_samples, 0);
  NEAR(p.dyn_j.mean, ((710 - 204) / 2000.0 + (905 - 102 * 12.5) / 12000.0 + (780 - 224.4) / 2200.0) / 3, 1e-12);
  NEAR(p.other_dyn_j.mean, ((700 - 200) / 2000.0 + (900 - 1250) / 12000.0 + (770 - 220) / 2200.0) / 3, 1e-12);
  NEAR(p.mean_w, (355 + 905 / 12.5 + 780 / 2.2) / 3, 1e-9);
  // a window without samples: the counter's, and nothing beside it
  three_windows(w);
  w[2].sample_j = NAN;
  assert_int_equal(lj_decode_energy_point_stats(w, 3, 2, &idle, 0.95, &p), 0);
  assert_int_equal(p.by_samples, 0);
  NEAR(p.dyn_j.mean, 0.2587929292929293, 1e-12);
  NEAR(p.dyn_j.half_width, 0.02590899066620411, 1e-9);
  assert_int_equal(p.other_dyn_j.n, 0);
  // no counter and no samples in one window each: no source measured them all
  w[0].counter_j = NAN;
  assert_int_equal(lj_decode_energy_point_stats(w, 3, 2, &idle, 0.95, &p), LJ_EINVAL);
  three_windows(w);
  w[1].steps = 0;
  assert_int_equal(lj_decode_energy_point_stats(w, 3, 2, &idle, 0.95, &p), LJ_EINVAL);
  assert_int_equal(lj_decode_energy_point_stats(w, 0, 2, &idle, 0.95, &p), LJ_EINVAL);
  // one window: a value, no interval
  three_windows(w);
  assert_int_equal(lj_decode_energy_point_stats(w, 1, 2, &idle, 0.95, &p), 0);
  NEAR(p.dyn_j.mean, 0.25, 1e-12);
  assert_true(isnan(p.dyn_j.half_width));
}

static lj_sample reading(int64_t t_ns, int dev, lj_reading what, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns, s.device = (uint16_t)dev, s.reading = (uint8_t)what, s.value = v;
  return s;
}

static void test_window_conditions(void **state) {
  (void)state;
  // window [100, 200]; readings out of order, one before, one after, one of another device
  lj_sample s[] = {
      reading(150, 0, LJ_READING_TEMPERATURE, 51), reading(110, 0, LJ_READING_TEMPERATURE, 48),
      reading(190, 0, LJ_READING_TEMPERATURE, 53), reading(90, 0, LJ_READING_TEMPERATURE, 40),
      reading(210, 0, LJ_READING_TEMPERATURE, 60), reading(150, 1, LJ_READING_TEMPERATURE, 70),
      reading(120, 0, LJ_READING_CLOCK_SM, 1980),  reading(180, 0, LJ_READING_CLOCK_SM, 1830),
      reading(185, 1, LJ_READING_CLOCK_SM, 900),   reading(130, 0, LJ_READING_THROTTLE, 4),
      reading(140, 0, LJ_READING_THROTTLE, 128),   reading(250, 0, LJ_READING_THROTTLE, 32),
  };
  lj_decode_energy_window w;
  memset(&w, 0, sizeof w);
  lj_decode_energy_window_conditions(s, sizeof s / sizeof *s, 0, 100, 200, &w);
  NEAR(w.temp_first_c, 48, 0);
  NEAR(w.temp_last_c, 53, 0);
  NEAR(w.sm_mhz_min, 1830, 0);
  NEAR(w.sm_mhz_max, 1980, 0);
  assert_int_equal(w.throttle, 132);
  char names[64];
  lj_throttle_names(w.throttle, names, sizeof names);  // the RESULT line's throttle=
  assert_string_equal(names, "sw_power_cap,hw_power_brake");
  lj_throttle_names(0, names, sizeof names);
  assert_string_equal(names, "none");
  lj_decode_energy_window_conditions(s, sizeof s / sizeof *s, 0, 300, 400, &w);  // nothing inside
  assert_true(isnan(w.temp_first_c) && isnan(w.temp_last_c) && isnan(w.sm_mhz_min));
  assert_int_equal(w.throttle, 0);
}

// A point whose ms/step and dynamic J/token come from three windows' values.
static void point(lj_decode_energy_point *p, double ms0, double ms1, double ms2, double j0, double j1, double j2) {
  memset(p, 0, sizeof *p);
  double ms[3] = {ms0, ms1, ms2}, j[3] = {j0, j1, j2};
  lj_stats_mean_ci(ms, 3, 0.95, &p->ms_per_step);
  lj_stats_mean_ci(j, 3, 0.95, &p->dyn_j);
  p->batch = 1, p->ms_per_token = p->ms_per_step.mean;
}

// Summarizes p and writes the closing line into text.
static void summarize(const lj_decode_energy_point *p, int n, const char *const *labels, lj_decode_energy_summary *s,
                      char *text, size_t cap) {
  assert_int_equal(lj_decode_energy_summarize(p, n, s), 0);
  lj_decode_energy_summary_text(p, labels, s, text, cap);
}

static void test_summary(void **state) {
  (void)state;
  lj_decode_energy_point p[3];
  const char *labels[3] = {"gemv=r1u1 fusion=none", "gemv=r4u2 fusion=none", "gemv=r2u2 fusion=none"};
  // r1u1 faster by 2%, r4u2 22.9% less energy; both differences far beyond the spreads
  point(&p[0], 3.00, 3.01, 2.99, 1.30, 1.28, 1.29);
  point(&p[1], 3.06, 3.07, 3.05, 1.05, 1.04, 1.06);
  point(&p[2], 3.20, 3.21, 3.19, 1.40, 1.41, 1.39);
  lj_decode_energy_summary s;
  char text[512];
  summarize(p, 3, labels, &s, text, sizeof text);
  assert_int_equal(s.fastest, 0);
  assert_int_equal(s.least, 1);
  NEAR(s.time_pct, 2.0, 1e-9);
  NEAR(s.energy_pct, 100 * (1.29 / 1.05 - 1), 1e-9);
  assert_int_equal(s.time_noise, 0);
  assert_int_equal(s.energy_noise, 0);
  assert_non_null(strstr(text, "fastest gemv=r1u1 fusion=none 3.0000 ms/token"));
  assert_non_null(strstr(text, "least J/token gemv=r4u2 fusion=none 1.0500 J/token"));
  assert_non_null(strstr(text, "costs +22.9% J/token (apart)"));
  assert_non_null(strstr(text, "2.0% slower (apart)"));
  // the energies' intervals overlap: 1.29 +- 0.0248 and 1.25 +- 0.1242
  point(&p[1], 3.06, 3.07, 3.05, 1.20, 1.25, 1.30);
  summarize(p, 3, labels, &s, text, sizeof text);
  assert_int_equal(s.least, 1);
  assert_int_equal(s.energy_noise, 1);
  assert_non_null(strstr(text, "J/token (within noise)"));
  // one point fastest and least: one sentence
  point(&p[1], 2.90, 2.91, 2.89, 1.00, 1.01, 0.99);
  summarize(p, 3, labels, &s, text, sizeof text);
  assert_int_equal(s.fastest, 1);
  assert_int_equal(s.least, 1);
  assert_string_equal(text, "fastest and least J/token: gemv=r4u2 fusion=none, 2.9000 ms/token, 1.0000 J/token above idle");
  // one window each: no interval to judge by
  lj_decode_energy_point q[2];
  point(&q[0], 3.0, 3.0, 3.0, 1.0, 1.0, 1.0);
  point(&q[1], 3.1, 3.1, 3.1, 0.9, 0.9, 0.9);
  q[0].dyn_j.half_width = q[1].dyn_j.half_width = NAN;
  assert_int_equal(lj_decode_energy_summarize(q, 2, &s), 0);
  assert_int_equal(s.energy_noise, -1);
  assert_int_equal(lj_decode_energy_summarize(q, 0, &s), LJ_EINVAL);
}

static void test_estimate(void **state) {
  (void)state;
  NEAR(lj_decode_energy_estimate_s(10, 2.0), 10 * (2.0 + LJ_DECODE_ENERGY_PREROLL_S + LJ_DECODE_ENERGY_OVERHEAD_S),
       1e-12);
  NEAR(LJ_DECODE_ENERGY_PREROLL_S, 0.3, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_order_interleaves), cmocka_unit_test(test_point_by_samples),
                                     cmocka_unit_test(test_point_by_counter), cmocka_unit_test(test_window_conditions),
                                     cmocka_unit_test(test_summary), cmocka_unit_test(test_estimate)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
