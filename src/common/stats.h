// Statistics for attribution: summaries with Student-t confidence intervals,
// quantiles, ordinary least squares with standard errors, and intervals of
// linear combinations (sums, differences) and ratios of independent means.
//
// The Student-t distribution is computed from the regularized incomplete beta
// function (continued fraction, Numerical Recipes 6.4); its quantile by
// bisection on the CDF. Degrees of freedom may be fractional (Welch).
//
// Conventions: `level` is the two-sided confidence level (0.95). Where a
// quantity is undefined (a standard deviation of one value), it is NAN; the
// store writes NAN as NULL.
#pragma once
#include <stddef.h>

// ---------------------------------------------------------------- summaries

double lj_stats_mean(const double *x, size_t n);    // NAN when n == 0
// The mean of n values after x, the n-th, joins the mean of the first n - 1 (n >= 1).
static inline double lj_stats_mean_add(double mean, double x, int n) { return n > 1 ? mean + (x - mean) / n : x; }
double lj_stats_stddev(const double *x, size_t n);  // sample (n - 1); NAN when n < 2

// Mean of n independent values with its Student-t interval.
typedef struct {
  int n;
  double mean;
  double stddev;      // sample standard deviation; NAN when n < 2
  double cv;          // stddev / |mean| (0.05 = 5%); NAN when n < 2 or mean == 0
  double sem;         // standard error of the mean, stddev / sqrt(n)
  double df;          // degrees of freedom of sem: n - 1
  double level;       // confidence level of [lo, hi]
  double half_width;  // t_{(1+level)/2, df} * sem; NAN when n < 2
  double lo, hi;      // mean -/+ half_width
} lj_mean_ci;

// n >= 1 (n == 1 gives the value with NAN spread); level in (0, 1).
int lj_stats_mean_ci(const double *x, size_t n, double level, lj_mean_ci *out);
// A mean known exactly (a constant, or a value whose error is ignored): sem 0.
void lj_stats_exact(double value, double level, lj_mean_ci *out);

// Quantile p in [0, 1], linear interpolation between order statistics
// (Hyndman & Fan type 7, R's default). `x` is not modified.
int lj_stats_quantile(const double *x, size_t n, double p, double *out);
int lj_stats_median(const double *x, size_t n, double *out);

// ---------------------------------------------------------------- Student t

// Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1].
double lj_betai(double a, double b, double x);
// P(T <= t) for Student's t with df > 0 degrees of freedom.
double lj_student_t_cdf(double t, double df);
// The t with P(T <= t) = p, p in (0, 1), df > 0. NAN outside.
double lj_student_t_quantile(double p, double df);
// Two-sided critical value t_{(1+level)/2, df}; df = INFINITY gives the normal one.
double lj_student_t_critical(double level, double df);

// P(F > f) for Fisher's F with d1, d2 > 0 degrees of freedom: I_{d2/(d2 + d1 f)}(d2/2, d1/2)
// (1 for f <= 0; NAN for bad degrees of freedom). The lack-of-fit test's p-value.
double lj_f_sf(double f, double d1, double d2);

// ---------------------------------------------------------------- intervals of derived quantities

// An estimate with a standard error, its (possibly fractional) degrees of
// freedom and the interval at `level`.
typedef struct {
  double estimate;
  double se;
  double df;          // Welch-Satterthwaite for combinations; INFINITY when se is exact 0
  double level;
  double lo, hi;
} lj_interval;

// sum_i coef[i] * mean_i of k independent means, se^2 = sum coef^2 sem^2,
// df by Welch-Satterthwaite. Used for closure sums (coef = calls) and for
// differences (coef = +1, -1: Welch's two-sample interval).
int lj_stats_linear_combination(const double *coef, const lj_mean_ci *m, size_t k, double level,
                                lj_interval *out);
// a - b (Welch).
int lj_stats_difference(const lj_mean_ci *a, const lj_mean_ci *b, double level, lj_interval *out);
// a / b by the delta method: se = |r| sqrt((sem_a/a)^2 + (sem_b/b)^2), df by
// Welch-Satterthwaite on the relative variances. b's mean must not be 0.
int lj_stats_ratio(const lj_mean_ci *a, const lj_mean_ci *b, double level, lj_interval *out);
// Interval of an estimate with a known se and df.
void lj_interval_from_se(double estimate, double se, double df, double level, lj_interval *out);

// ---------------------------------------------------------------- least squares

// y = a + b x by ordinary least squares (centered sums: stable for Norris-like data).
typedef struct {
  int n;
  double a, b;              // intercept, slope
  double se_a, se_b;        // standard errors
  double cov_ab;            // covariance of the two estimates
  double resid_sd;          // sqrt(SSE / (n - 2))
  double sse;               // residual sum of squares
  double r2;                // coefficient of determination (NAN when y is constant)
  double df;                // n - 2
  double level;
  double a_lo, a_hi, b_lo, b_hi;  // intervals at `level`
} lj_ols_fit;

// n >= 2 and x not all equal (else LJ_EINVAL saying what is wrong); with
// n == 2 the line is exact and the standard errors are NAN.
int lj_stats_ols(const double *x, const double *y, size_t n, double level, lj_ols_fit *out);
