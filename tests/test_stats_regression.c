// Multiple regression (common/ols_multi.h), the F distribution (lj_f_sf) and the lack-of-fit test
// (common/lack_of_fit.h) against references nobody here wrote and planted truths:
//  - F tail: the closed forms for d1 = 2 and d2 = 2, F(1, d) = t^2 against the t CDF (1e-12), and
//    printed F tables (F_0.95(3, 10) = 3.708, F_0.99(4, 20) = 4.431: 3 decimals);
//  - two coefficients: equal to the straight-line fit (lj_stats_ols, itself checked on NIST Norris)
//    to 1e-12 relative, standard errors and intervals too;
//  - the attention-head design (KV groups, bytes in the billions): planted coefficients recovered
//    within 3 standard errors and 2%; a curved truth rejected by lack of fit (p < 1e-6), a linear
//    one accepted, and over 400 noise draws the test rejects a linear truth 5% +- 2.5% of the time
//    at p < 0.05 (its size: the p-value is calibrated, not merely small or large).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/lack_of_fit.h"
#include "common/ols_multi.h"
#include "common/stats.h"

#include "near.h"

static void test_f_tail(void **state) {
  (void)state;
  for (double d2 = 1; d2 <= 40; d2 *= 3)
    for (double f = 0.1; f < 50; f *= 2.3) {
      NEAR(lj_f_sf(f, 2, d2), pow(1 + 2 * f / d2, -d2 / 2), 1e-12);
      // F(d1, 2): P(F > f) = 1 - (d1 f / (d1 f + 2))^(d1 / 2)
      NEAR(lj_f_sf(f, d2, 2), 1 - pow(d2 * f / (d2 * f + 2), d2 / 2), 1e-12);
      double t = sqrt(f);
      NEAR(lj_f_sf(f, 1, d2), 2 * (1 - lj_student_t_cdf(t, d2)), 1e-12);
    }
  // printed tables: the quantile to 3 decimals brackets the tail probability
  assert_true(lj_f_sf(3.7075, 3, 10) > 0.05 && lj_f_sf(3.7085, 3, 10) < 0.05);
  assert_true(lj_f_sf(4.4305, 4, 20) > 0.01 && lj_f_sf(4.4315, 4, 20) < 0.01);
  NEAR(lj_f_sf(0, 3, 4), 1, 0);
  NEAR(lj_f_sf(INFINITY, 3, 4), 0, 0);
  assert_true(isnan(lj_f_sf(1, 0, 4)));
  assert_true(lj_f_sf(1e6, 5, 30) < 1e-30 && lj_f_sf(1e6, 5, 30) > 0);  // a far tail keeps its digits
}

static void test_two_columns_equal_straight_line(void **state) {
  (void)state;
  // R: sleep$extra of group 2 against group 1 (any data with a spread serves)
  const double x[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
  const double y[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
  double xx[20];
  for (int i = 0; i < 10; i++) xx[2 * i] = 1, xx[2 * i + 1] = x[i];
  lj_ols_fit line;
  lj_ols_multi m;
  assert_int_equal(lj_stats_ols(x, y, 10, 0.95, &line), 0);
  assert_int_equal(lj_stats_ols_multi(xx, y, 10, 2, 0.95, &m), 0);
  REL(m.b[0], line.a, 1e-12);
  REL(m.b[1], line.b, 1e-12);
  REL(m.se[0], line.se_a, 1e-12);
  REL(m.se[1], line.se_b, 1e-12);
  REL(m.lo[1], line.b_lo, 1e-12);
  REL(m.hi[0], line.a_hi, 1e-12);
  REL(m.cov[0][1], line.cov_ab, 1e-12);
  REL(m.sse, line.sse, 1e-12);
  REL(m.r2, line.r2, 1e-12);
  NEAR(m.df, 8, 0);
  // a combination: the line at x = 2, its se from the covariance
  double c[2] = {1, 2};
  lj_interval at2;
  lj_ols_multi_combination(&m, c, &at2);
  REL(at2.estimate, line.a + 2 * line.b, 1e-12);
  REL(at2.se, sqrt(line.se_a * line.se_a + 4 * line.se_b * line.se_b + 4 * line.cov_ab), 1e-12);
}

// A deterministic normal stream (LCG + Box-Muller).
static uint64_t rng_state;
static double uniform01(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) { return sqrt(-2 * log(uniform01())) * cos(2 * M_PI * uniform01()); }

// The head grid of 1B: KV 512 .. 32768, batch 1, 8, 32, groups 1, 4, 8, 2 replicates; column 0 ones,
// 1 groups, 2 bytes of K and V read (batch x groups x kv x 64 x 2 x 2). truth: 0 linear, 1 curved.
#define NPTS (7 * 3 * 3)
#define NOBS (NPTS * 2)
static void head_design(double *x, int *point, double *bytes) {
  static const int kv[7] = {512, 1024, 2048, 4096, 8192, 16384, 32768}, batch[3] = {1, 8, 32}, grp[3] = {1, 4, 8};
  int i = 0;
  for (int a = 0; a < 7; a++)
    for (int b = 0; b < 3; b++)
      for (int g = 0; g < 3; g++)
        for (int r = 0; r < 2; r++, i++) {
          double by = (double)batch[b] * grp[g] * kv[a] * 64 * 2 * 2;
          x[3 * i] = 1, x[3 * i + 1] = grp[g], x[3 * i + 2] = by;
          point[i] = (a * 3 + b) * 3 + g;
          bytes[i] = by;
        }
}
static const double kFixed = 4e-6, kPerGroup = 1.5e-6, kPerByte = 1.2e-10;  // J, J, J/B (~0.26 J at 2 GiB)
static void head_truth(const double *x, const double *bytes, int curved, double noise_sd, double *y) {
  for (int i = 0; i < NOBS; i++) {
    double b = bytes[i];
    // curved: the per-byte cost falls 30% from the smallest to the largest reads (a cache that helps small ones)
    double per_byte = curved ? kPerByte * (1.3 - 0.3 * log(b / 131072.0) / log(2147483648.0 / 131072.0)) : kPerByte;
    y[i] = kFixed + kPerGroup * x[3 * i + 1] + per_byte * b + noise_sd * normal();
  }
}

static void test_head_design_recovers_and_tests(void **state) {
  (void)state;
  double x[3 * NOBS], bytes[NOBS], y[NOBS];
  int point[NOBS];
  head_design(x, point, bytes);
  rng_state = 42;
  // noise of 2 uJ a trial: small against the large points, ~the size of the smallest
  head_truth(x, bytes, 0, 2e-6, y);
  lj_ols_multi m;
  assert_int_equal(lj_stats_ols_multi(x, y, NOBS, 3, 0.95, &m), 0);
  const double truth[3] = {kFixed, kPerGroup, kPerByte};
  for (int j = 0; j < 3; j++) {
    if (!(fabs(m.b[j] - truth[j]) <= 3 * m.se[j])) fail_msg("coefficient %d: %g, truth %g, se %g", j, m.b[j], truth[j], m.se[j]);
    assert_true(m.lo[j] <= truth[j] && truth[j] <= m.hi[j]);
  }
  REL(m.b[2], kPerByte, 0.02);  // the per-byte cost, the one that carries the energy, within 2%
  REL(m.b[1], kPerGroup, 0.5);  // per group: 1.5 uJ under 2 uJ noise, within its interval and 50%
  assert_true(m.r2 > 0.9999);
  lj_lack_of_fit lof;
  assert_int_equal(lj_lack_of_fit_test(y, point, NOBS, m.sse, 3, &lof), 0);
  assert_true(lof.testable);
  assert_int_equal(lof.n_points, NPTS);
  NEAR(lof.df_pure, NOBS - NPTS, 0);
  NEAR(lof.df_lack, NPTS - 3, 0);
  if (!(lof.p_value >= 0.05)) fail_msg("a linear truth rejected: F %g, p %g", lof.f, lof.p_value);

  // the same noise on a curved truth: the straight model still has r2 near 1, but lack of fit sees it
  rng_state = 42;
  head_truth(x, bytes, 1, 2e-6, y);
  assert_int_equal(lj_stats_ols_multi(x, y, NOBS, 3, 0.95, &m), 0);
  assert_true(m.r2 > 0.99);
  assert_int_equal(lj_lack_of_fit_test(y, point, NOBS, m.sse, 3, &lof), 0);
  if (!(lof.p_value < 1e-6)) fail_msg("a curved truth accepted: F %g, p %g", lof.f, lof.p_value);

  // noise-free linear data: exact coefficients; identical replicates make any lack of fit certain
  rng_state = 1;
  head_truth(x, bytes, 0, 0, y);
  assert_int_equal(lj_stats_ols_multi(x, y, NOBS, 3, 0.95, &m), 0);
  REL(m.b[0], kFixed, 1e-9);
  REL(m.b[2], kPerByte, 1e-9);
}

static void test_lack_of_fit_size(void **state) {
  (void)state;
  double x[3 * NOBS], bytes[NOBS], y[NOBS];
  int point[NOBS], rejected = 0, draws = 400;
  head_design(x, point, bytes);
  rng_state = 7;
  for (int d = 0; d < draws; d++) {
    head_truth(x, bytes, 0, 2e-6, y);
    lj_ols_multi m;
    lj_lack_of_fit lof;
    assert_int_equal(lj_stats_ols_multi(x, y, NOBS, 3, 0.95, &m), 0);
    assert_int_equal(lj_lack_of_fit_test(y, point, NOBS, m.sse, 3, &lof), 0);
    rejected += lof.p_value < 0.05;
  }
  // binomial(400, 0.05): sd 1.1%; 5% +- 2.5% is > 2 sd either side
  double rate = (double)rejected / draws;
  if (!(rate >= 0.025 && rate <= 0.075)) fail_msg("a linear truth rejected in %.1f%% of draws, expected ~5%%", 100 * rate);
}

static void test_refusals_and_untestable(void **state) {
  (void)state;
  double x[6] = {1, 2, 1, 4, 1, 6}, y[3] = {1, 2, 3};
  lj_ols_multi m;
  // a column twice the other: collinear, named
  double xc[6] = {1, 2, 2, 4, 3, 6};
  assert_int_equal(lj_stats_ols_multi(xc, y, 3, 2, 0.95, &m), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "column 1"));
  assert_int_equal(lj_stats_ols_multi(x, y, 1, 2, 0.95, &m), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "at least 2 points"));
  assert_int_equal(lj_stats_ols_multi(x, y, 3, 7, 0.95, &m), LJ_EINVAL);
  // n == p: exact, no spread
  assert_int_equal(lj_stats_ols_multi(x, y, 2, 2, 0.95, &m), 0);
  assert_true(isnan(m.se[1]) && isnan(m.resid_sd));
  // no replicates: not testable, not an error
  int pt[3] = {0, 1, 2};
  lj_lack_of_fit lof;
  assert_int_equal(lj_lack_of_fit_test(y, pt, 3, 0.5, 2, &lof), 0);
  assert_false(lof.testable);
  assert_true(isnan(lof.p_value));
  // replicates but only as many points as coefficients: not testable either
  int pt2[3] = {0, 0, 1};
  assert_int_equal(lj_lack_of_fit_test(y, pt2, 3, 0.5, 2, &lof), 0);
  assert_false(lof.testable);
  NEAR(lof.ss_pure, 0.5, 1e-15);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_f_tail),
      cmocka_unit_test(test_two_columns_equal_straight_line),
      cmocka_unit_test(test_head_design_recovers_and_tests),
      cmocka_unit_test(test_lack_of_fit_size),
      cmocka_unit_test(test_refusals_and_untestable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
