// Statistics against references nobody here wrote:
//  - Student-t critical values from printed tables (3 decimals: tolerance 5e-4);
//  - closed forms of the t CDF for 1 and 2 degrees of freedom and of I_x(a, 1) (1e-12);
//  - R's t.test on its `sleep` data set (one-sample and Welch intervals, 8+ digits: 1e-9 relative);
//  - NIST StRD "Norris" linear regression, certified values (15 digits: 1e-9 relative);
//  - numpy/R type-7 quantiles of the same sleep data (exact decimals: 1e-12).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/stats.h"

#include "near.h"

// R: sleep$extra by group (Cushny & Peebles), as in ?t.test.
static const double sleep1[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
static const double sleep2[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

static void test_t_table(void **state) {
  NEAR(lj_student_t_quantile(0.975, 1), 12.706, 5e-4);
  NEAR(lj_student_t_quantile(0.975, 4), 2.776, 5e-4);
  NEAR(lj_student_t_quantile(0.975, 30), 2.042, 5e-4);
  NEAR(lj_student_t_quantile(0.995, 10), 3.169, 5e-4);
  NEAR(lj_student_t_quantile(0.95, 2), 2.920, 5e-4);
  NEAR(lj_student_t_quantile(0.025, 4), -2.776, 5e-4);  // symmetry
  NEAR(lj_student_t_critical(0.95, 4), 2.776, 5e-4);
  NEAR(lj_student_t_critical(0.95, INFINITY), 1.959963984540054, 1e-12);
  NEAR(lj_student_t_quantile(0.5, 7), 0.0, 0);
  assert_true(isnan(lj_student_t_quantile(1.0, 3)));
  assert_true(isnan(lj_student_t_quantile(0.9, 0)));
}

static void test_t_closed_forms(void **state) {
  const double ts[] = {-30, -3.5, -1, -0.2, 0, 0.4, 1, 2.5, 12.706, 100};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
    double t = ts[i];
    NEAR(lj_student_t_cdf(t, 1), 0.5 + atan(t) / M_PI, 1e-12);              // Cauchy
    NEAR(lj_student_t_cdf(t, 2), 0.5 + t / (2 * sqrt(2 + t * t)), 1e-12);   // df = 2
  }
  // quantiles invert the closed forms: df = 1: tan(pi (p - 1/2)); df = 2: (2p - 1) sqrt(2 / (4p(1-p)))
  const double ps[] = {0.001, 0.1, 0.3, 0.6, 0.975, 0.9995};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
    double p = ps[i];
    REL(lj_student_t_quantile(p, 1), tan(M_PI * (p - 0.5)), 1e-12);
    REL(lj_student_t_quantile(p, 2), (2 * p - 1) * sqrt(2 / (4 * p * (1 - p))), 1e-12);
  }
  for (double x = 0; x <= 1; x += 0.125) {
    NEAR(lj_betai(3.0, 1.0, x), x * x * x, 1e-12);
    NEAR(lj_betai(1.0, 1.0, x), x, 1e-12);
  }
  assert_true(isnan(lj_betai(-1, 1, 0.5)));
}

// Large degrees of freedom (Welch can give them): the Cornish-Fisher branch
// above 1e5 meets the incomplete-beta branch below it, tends to the normal
// (z + (z^3 + z) / (4 df) to first order), and inverts the CDF.
static void test_t_large_df(void **state) {
  const double z = 1.959963984540054;
  NEAR(lj_student_t_quantile(0.975, 1e12), z, 1e-11);
  NEAR(lj_student_t_quantile(0.975, 1e9), z + (z * z * z + z) / 4e9, 1e-14);
  NEAR(lj_student_t_quantile(0.975, 1e5), lj_student_t_quantile(0.975, 1.000001e5), 1e-10);
  NEAR(lj_student_t_cdf(1.96, 1e5), lj_student_t_cdf(1.96, 1.000001e5), 1e-10);
  NEAR(lj_student_t_cdf(1.96, 1e15), 0.5 * erfc(-1.96 / sqrt(2.0)), 1e-14);
  const double dfs[] = {3.5, 250, 9e4, 2e5, 1e8};
  for (size_t i = 0; i < sizeof dfs / sizeof dfs[0]; i++)
    for (double t = -4; t <= 4; t += 0.7) NEAR(lj_student_t_quantile(lj_student_t_cdf(t, dfs[i]), dfs[i]), t, 1e-9);
}

static void test_mean_ci_sleep(void **state) {
  lj_mean_ci m;
  assert_int_equal(lj_stats_mean_ci(sleep1, 10, 0.95, &m), 0);
  // R: t.test(sleep$extra[1:10]): mean 0.75, sd 1.78901, CI -0.5297804 2.0297804
  // (scipy to 16 digits: -0.5297804134938644, 2.0297804134938646; sd 1.7890096577591625)
  REL(m.mean, 0.75, 1e-12);
  REL(m.stddev, 1.7890096577591625, 1e-12);
  REL(m.lo, -0.5297804134938644, 1e-9);
  REL(m.hi, 2.0297804134938646, 1e-9);
  REL(m.cv, 1.7890096577591625 / 0.75, 1e-12);
  assert_int_equal(m.n, 10);
  NEAR(m.df, 9, 0);
  // one value: the mean, no spread
  assert_int_equal(lj_stats_mean_ci(sleep1, 1, 0.95, &m), 0);
  NEAR(m.mean, 0.7, 0);
  assert_true(isnan(m.stddev) && isnan(m.lo) && isnan(m.half_width));
  assert_int_equal(lj_stats_mean_ci(sleep1, 0, 0.95, &m), LJ_EINVAL);
  assert_int_equal(lj_stats_mean_ci(sleep1, 10, 1.5, &m), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "outside (0, 1)"));
}

static void test_welch_sleep(void **state) {
  lj_mean_ci a, b;
  lj_stats_mean_ci(sleep1, 10, 0.95, &a);
  lj_stats_mean_ci(sleep2, 10, 0.95, &b);
  lj_interval d;
  assert_int_equal(lj_stats_difference(&a, &b, 0.95, &d), 0);
  // R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776,
  // CI -3.3654832 0.2054832 (to 15 digits: -3.36548323071171, 0.20548323071171, df 17.7764735161785)
  REL(d.estimate, -1.58, 1e-12);
  REL(d.df, 17.7764735161785, 1e-10);
  REL(d.lo, -3.36548323071171, 1e-9);
  REL(d.hi, 0.20548323071171, 1e-9);
  REL(d.estimate / d.se, -1.86081346748685, 1e-9);
}

static void test_linear_combination_and_ratio(void **state) {
  // two independent means, sem 0.3 (df 4) and 0.4 (df 9), weighted by calls 2 and 3:
  // se^2 = 4 * 0.09 + 9 * 0.16 = 1.8; df = 1.8^2 / (0.36^2 / 4 + 1.44^2 / 9) = 3.24 / 0.2628
  lj_mean_ci m[2] = {{.n = 5, .mean = 10, .sem = 0.3, .df = 4}, {.n = 10, .mean = 20, .sem = 0.4, .df = 9}};
  const double calls[2] = {2, 3};
  lj_interval s;
  assert_int_equal(lj_stats_linear_combination(calls, m, 2, 0.95, &s), 0);
  REL(s.estimate, 80, 1e-15);
  REL(s.se, sqrt(1.8), 1e-14);
  REL(s.df, 3.24 / 0.2628, 1e-12);
  REL(s.hi - s.estimate, lj_student_t_quantile(0.975, 3.24 / 0.2628) * sqrt(1.8), 1e-12);

  // ratio with an exact denominator: the numerator's interval scaled, df unchanged
  lj_mean_ci a, b;
  lj_stats_mean_ci(sleep2, 10, 0.95, &a);
  lj_stats_exact(4.0, 0.95, &b);
  lj_interval r;
  assert_int_equal(lj_stats_ratio(&a, &b, 0.95, &r), 0);
  REL(r.estimate, 2.33 / 4, 1e-12);
  REL(r.lo, a.lo / 4, 1e-12);
  REL(r.hi, a.hi / 4, 1e-12);
  REL(r.df, 9, 1e-12);
  // and with both uncertain: relative variances add
  lj_mean_ci c = {.n = 10, .mean = 2.0, .sem = 0.1, .df = 9};
  assert_int_equal(lj_stats_ratio(&a, &c, 0.95, &r), 0);
  REL(r.se, (2.33 / 2) * sqrt(pow(a.sem / 2.33, 2) + pow(0.05, 2)), 1e-12);
  lj_stats_exact(0.0, 0.95, &b);
  assert_int_equal(lj_stats_ratio(&a, &b, 0.95, &r), LJ_EINVAL);
}

// NIST StRD Norris (public domain): y then x, 36 observations.
static const double norris_y[36] = {0.1,   338.8, 118.1, 888.0, 9.2,   228.1, 668.5, 998.5, 449.1,
                                    778.9, 559.2, 0.3,   0.1,   778.1, 668.8, 339.3, 448.9, 10.8,
                                    557.7, 228.3, 998.0, 888.8, 119.6, 0.3,   0.6,   557.6, 339.3,
                                    888.0, 998.5, 778.9, 10.2,  117.6, 228.9, 668.4, 449.2, 0.2};
static const double norris_x[36] = {0.2,   337.4, 118.2, 884.6, 10.1,  226.5, 666.3, 996.3, 448.6,
                                    777.0, 558.2, 0.4,   0.6,   775.5, 666.9, 338.0, 447.5, 11.6,
                                    556.0, 228.1, 995.8, 887.6, 120.2, 0.3,   0.3,   556.8, 339.1,
                                    887.2, 999.0, 779.0, 11.1,  118.3, 229.2, 669.1, 448.9, 0.5};

static void test_ols_norris(void **state) {
  lj_ols_fit f;
  assert_int_equal(lj_stats_ols(norris_x, norris_y, 36, 0.95, &f), 0);
  REL(f.a, -0.262323073774029, 1e-9);
  REL(f.b, 1.00211681802045, 1e-9);
  REL(f.se_a, 0.232818234301152, 1e-9);
  REL(f.se_b, 0.429796848199937E-03, 1e-9);
  REL(f.resid_sd, 0.884796396144373, 1e-9);
  REL(f.r2, 0.999993745883712, 1e-12);
  REL(f.sse, 26.6173985294224, 1e-9);
  REL(f.cov_ab, -7.74327536339570e-05, 1e-8);  // GSL's test value (computed with Octave)
  NEAR(f.df, 34, 0);
  double t = lj_student_t_quantile(0.975, 34);
  REL(f.b_hi - f.b, t * 0.429796848199937E-03, 1e-9);
  REL(f.a - f.a_lo, t * 0.232818234301152, 1e-9);
}

static void test_ols_exact_and_degenerate(void **state) {
  const double x[2] = {1, 3}, y[2] = {5, 9};
  lj_ols_fit f;
  assert_int_equal(lj_stats_ols(x, y, 2, 0.95, &f), 0);
  NEAR(f.a, 3, 1e-15);
  NEAR(f.b, 2, 1e-15);
  assert_true(isnan(f.se_b));
  const double same[3] = {2, 2, 2}, y3[3] = {1, 2, 3};
  assert_int_equal(lj_stats_ols(same, y3, 3, 0.95, &f), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "distinct x"));
  assert_int_equal(lj_stats_ols(x, y, 1, 0.95, &f), LJ_EINVAL);
}

static void test_quantiles(void **state) {
  double q;
  // numpy.percentile / R quantile(type = 7) of sleep group 1: -0.175, 0.35, 1.7
  assert_int_equal(lj_stats_quantile(sleep1, 10, 0.25, &q), 0);
  NEAR(q, -0.175, 1e-12);
  assert_int_equal(lj_stats_median(sleep1, 10, &q), 0);
  NEAR(q, 0.35, 1e-12);
  assert_int_equal(lj_stats_quantile(sleep1, 10, 0.75, &q), 0);
  NEAR(q, 1.7, 1e-12);
  assert_int_equal(lj_stats_quantile(sleep1, 10, 0.0, &q), 0);
  NEAR(q, -1.6, 0);
  assert_int_equal(lj_stats_quantile(sleep1, 10, 1.0, &q), 0);
  NEAR(q, 3.7, 0);
  assert_int_equal(lj_stats_quantile(sleep1, 1, 0.3, &q), 0);
  NEAR(q, 0.7, 0);
  NEAR(sleep1[0], 0.7, 0);  // input not reordered
  assert_int_equal(lj_stats_quantile(sleep1, 10, 1.1, &q), LJ_EINVAL);
  assert_int_equal(lj_stats_quantile(sleep1, 0, 0.5, &q), LJ_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_t_table),
      cmocka_unit_test(test_t_closed_forms),
      cmocka_unit_test(test_t_large_df),
      cmocka_unit_test(test_mean_ci_sleep),
      cmocka_unit_test(test_welch_sleep),
      cmocka_unit_test(test_linear_combination_and_ratio),
      cmocka_unit_test(test_ols_norris),
      cmocka_unit_test(test_ols_exact_and_degenerate),
      cmocka_unit_test(test_quantiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
