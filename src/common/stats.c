#include "common/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

// ---------------------------------------------------------------- summaries

double lj_stats_mean(const double *x, size_t n) {
  if (n == 0) return NAN;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  return s / (double)n;
}

// Two passes: the sum of squared deviations from the mean, not sum(x^2) - n mean^2.
double lj_stats_stddev(const double *x, size_t n) {
  if (n < 2) return NAN;
  double m = lj_stats_mean(x, n), ss = 0;
  for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
  return sqrt(ss / (double)(n - 1));
}

static int check_level(double level) {
  if (!(level > 0 && level < 1))
    return LJ_FAIL(LJ_EINVAL, "confidence level %g is outside (0, 1)", level);
  return LJ_OK;
}

int lj_stats_mean_ci(const double *x, size_t n, double level, lj_mean_ci *out) {
  memset(out, 0, sizeof *out);
  LJ_TRY(check_level(level));
  if (n == 0) return LJ_FAIL(LJ_EINVAL, "mean of no values");
  out->n = (int)n;
  out->level = level;
  out->mean = lj_stats_mean(x, n);
  out->stddev = lj_stats_stddev(x, n);
  out->df = (double)n - 1;
  out->sem = out->stddev / sqrt((double)n);
  out->cv = out->mean != 0 ? out->stddev / fabs(out->mean) : NAN;
  out->half_width = n >= 2 ? lj_student_t_critical(level, out->df) * out->sem : NAN;
  out->lo = out->mean - out->half_width;
  out->hi = out->mean + out->half_width;
  return LJ_OK;
}

void lj_stats_exact(double value, double level, lj_mean_ci *out) {
  memset(out, 0, sizeof *out);
  out->n = 1;
  out->mean = out->lo = out->hi = value;
  out->stddev = out->sem = out->half_width = 0;
  out->cv = 0;
  out->df = INFINITY;
  out->level = level;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int lj_stats_quantile(const double *x, size_t n, double p, double *out) {
  *out = NAN;
  if (n == 0) return LJ_FAIL(LJ_EINVAL, "quantile of no values");
  if (!(p >= 0 && p <= 1)) return LJ_FAIL(LJ_EINVAL, "quantile probability %g is outside [0, 1]", p);
  double *s = malloc(n * sizeof *s);
  if (!s) return LJ_FAIL(LJ_ENOMEM, "out of memory sorting %zu values for a quantile", n);
  memcpy(s, x, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  // type 7: h = (n - 1) p, between order statistics floor(h) and floor(h) + 1
  double h = (double)(n - 1) * p;
  size_t lo = (size_t)floor(h);
  size_t hi = lo + 1 < n ? lo + 1 : lo;
  *out = s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
  free(s);
  return LJ_OK;
}

int lj_stats_median(const double *x, size_t n, double *out) { return lj_stats_quantile(x, n, 0.5, out); }

// ---------------------------------------------------------------- Student t

// Continued fraction for I_x(a, b) by the modified Lentz method (Numerical Recipes 6.4).
static double betacf(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-16;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; m++) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1) < eps) break;
  }
  return h;
}

// ln(Gamma(a + b) / Gamma(a)). For large a the two lgamma values are huge and
// their difference loses every digit; the Tricomi-Erdelyi expansion
// a^b (1 + b(b-1)/(2a) + b(b-1)(b-2)(3b-1)/(24a^2) + O(a^-3)) keeps them.
static double ln_gamma_ratio(double a, double b) {
  if (a < 1e6 || b > 10) return lgamma(a + b) - lgamma(a);
  double c1 = b * (b - 1) / 2, c2 = b * (b - 1) * (b - 2) * (3 * b - 1) / 24;
  return b * log(a) + log1p(c1 / a + c2 / (a * a));
}

// I_x(a, b) with y = 1 - x given separately, so that x near 1 loses no digits.
static double betai_xy(double a, double b, double x, double y) {
  if (x == 0 || y == 1) return 0;
  if (y == 0 || x == 1) return 1;
  double ln_x = x > 0.5 ? log1p(-y) : log(x), ln_y = y > 0.5 ? log1p(-x) : log(y);
  double ln_front = ln_gamma_ratio(a, b) - lgamma(b) + a * ln_x + b * ln_y;
  double front = exp(ln_front);
  // the fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise
  if (x < (a + 1) / (a + b + 2)) return front * betacf(a, b, x) / a;
  return 1 - front * betacf(b, a, y) / b;
}

double lj_betai(double a, double b, double x) {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) return NAN;
  return betai_xy(a, b, x, 1 - x);
}

// The standard normal upper quantile: the z with P(Z > z) = q, q in (0, 1/2], by bisection on erfc.
static double normal_quantile_upper(double q) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (0.5 * erfc(mid / sqrt(2.0)) > q) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// Above this many degrees of freedom the incomplete beta's continued fraction
// needs ~sqrt(df) terms and its prefactor cancels; expansions in 1/df are exact
// to double precision there instead.
#define LARGE_DF 1e5

// Cornish-Fisher expansion of t in z (Abramowitz & Stegun 26.7.5), four terms:
// the first omitted term is O(df^-5) < 1e-24 for df > 1e5.
static double t_from_z(double z, double df) {
  double z2 = z * z, z3 = z2 * z, z5 = z3 * z2, z7 = z5 * z2, z9 = z7 * z2;
  double g1 = (z3 + z) / 4, g2 = (5 * z5 + 16 * z3 + 3 * z) / 96;
  double g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384;
  double g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160;
  return z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df);
}

// Two-sided tail P(|T| > t) = I_{df / (df + t^2)}(df / 2, 1 / 2).
static double two_sided_tail(double t, double df) {
  double d = df + t * t;
  return betai_xy(df / 2, 0.5, df / d, t * t / d);
}

double lj_student_t_cdf(double t, double df) {
  if (!(df > 0) || isnan(t)) return NAN;
  if (isinf(t)) return t > 0 ? 1 : 0;
  if (df > LARGE_DF) {
    // invert the Cornish-Fisher series for z by Newton steps (it is monotone in z)
    double z = t;
    for (int i = 0; i < 50; i++) {
      double h = 1e-6 * (fabs(z) + 1), f = t_from_z(z, df) - t;
      double step = f / ((t_from_z(z + h, df) - t_from_z(z - h, df)) / (2 * h));
      z -= step;
      if (fabs(step) < 1e-16 * (fabs(z) + 1)) break;
    }
    return 0.5 * erfc(-z / sqrt(2.0));
  }
  double half_tail = 0.5 * two_sided_tail(t, df);
  return t > 0 ? 1 - half_tail : half_tail;
}

double lj_student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
  if (p == 0.5) return 0;
  if (df > LARGE_DF) {
    double z = normal_quantile_upper(p < 0.5 ? p : 1 - p), t = isinf(df) ? z : t_from_z(z, df);
    return p < 0.5 ? -t : t;
  }
  // solve for the upper tail q = min(p, 1 - p) on t >= 0: tail(t) = 2 q, decreasing in t
  double q = p < 0.5 ? p : 1 - p, target = 2 * q;
  double lo = 0, hi = 1;
  while (two_sided_tail(hi, df) > target && hi < 1e300) {
    lo = hi;
    hi *= 2;
  }
  for (int i = 0; i < 2000 && hi - lo > 4 * DBL_EPSILON * hi; i++) {
    double mid = 0.5 * (lo + hi);
    if (two_sided_tail(mid, df) > target) lo = mid; else hi = mid;
  }
  double t = 0.5 * (lo + hi);
  return p < 0.5 ? -t : t;
}

double lj_student_t_critical(double level, double df) {
  if (!(level > 0 && level < 1)) return NAN;
  return lj_student_t_quantile((1 + level) / 2, df);
}

double lj_f_sf(double f, double d1, double d2) {
  if (!(d1 > 0 && d2 > 0) || isnan(f)) return NAN;
  if (f <= 0) return 1;
  if (isinf(f)) return 0;
  // x and 1 - x given apart: a large f leaves x tiny, and 1 - x would lose it
  double den = d2 + d1 * f;
  return betai_xy(d2 / 2, d1 / 2, d2 / den, d1 * f / den);
}

// ---------------------------------------------------------------- intervals of derived quantities

void lj_interval_from_se(double estimate, double se, double df, double level, lj_interval *out) {
  out->estimate = estimate;
  out->se = se;
  out->df = se == 0 ? INFINITY : df;
  out->level = level;
  double half = se == 0 ? 0 : lj_student_t_critical(level, out->df) * se;
  out->lo = estimate - half;
  out->hi = estimate + half;
}

// Welch-Satterthwaite: df = (sum v_i)^2 / sum(v_i^2 / df_i); terms with v_i = 0 carry no weight.
static double satterthwaite(const double *v, const double *df, size_t k) {
  double num = 0, den = 0;
  for (size_t i = 0; i < k; i++) {
    num += v[i];
    if (v[i] > 0) den += v[i] * v[i] / df[i];
  }
  return den > 0 ? num * num / den : INFINITY;
}

int lj_stats_linear_combination(const double *coef, const lj_mean_ci *m, size_t k, double level,
                                lj_interval *out) {
  memset(out, 0, sizeof *out);
  LJ_TRY(check_level(level));
  double *v = malloc(2 * (k ? k : 1) * sizeof *v);
  if (!v) return LJ_FAIL(LJ_ENOMEM, "out of memory combining %zu means", k);
  double *df = v + k, est = 0, var = 0;
  int undefined = 0;
  for (size_t i = 0; i < k; i++) {
    est += coef[i] * m[i].mean;
    double sem = m[i].sem;
    if (isnan(sem)) undefined = 1;  // a mean of one value: no spread known
    v[i] = isnan(sem) ? 0 : coef[i] * coef[i] * sem * sem;
    df[i] = m[i].df;
    var += v[i];
  }
  double dof = satterthwaite(v, df, k);
  free(v);
  lj_interval_from_se(est, sqrt(var), dof, level, out);
  if (undefined) out->se = out->lo = out->hi = out->df = NAN;
  return LJ_OK;
}

int lj_stats_difference(const lj_mean_ci *a, const lj_mean_ci *b, double level, lj_interval *out) {
  const double coef[2] = {1, -1};
  const lj_mean_ci m[2] = {*a, *b};
  return lj_stats_linear_combination(coef, m, 2, level, out);
}

int lj_stats_ratio(const lj_mean_ci *a, const lj_mean_ci *b, double level, lj_interval *out) {
  memset(out, 0, sizeof *out);
  LJ_TRY(check_level(level));
  if (b->mean == 0) return LJ_FAIL(LJ_EINVAL, "ratio of means with a zero denominator");
  double r = a->mean / b->mean;
  if (a->mean == 0) {
    // relative errors are undefined; the absolute one is sem_a / |b| to first order
    lj_interval_from_se(0, a->sem / fabs(b->mean), a->df, level, out);
    return LJ_OK;
  }
  double v[2] = {pow(a->sem / a->mean, 2), pow(b->sem / b->mean, 2)};
  double df[2] = {a->df, b->df};
  lj_interval_from_se(r, fabs(r) * sqrt(v[0] + v[1]), satterthwaite(v, df, 2), level, out);
  if (isnan(a->sem) || isnan(b->sem)) out->se = out->lo = out->hi = out->df = NAN;
  return LJ_OK;
}

// ---------------------------------------------------------------- least squares

int lj_stats_ols(const double *x, const double *y, size_t n, double level, lj_ols_fit *out) {
  memset(out, 0, sizeof *out);
  LJ_TRY(check_level(level));
  if (n < 2) return LJ_FAIL(LJ_EINVAL, "a straight-line fit needs at least 2 points, got %zu", n);
  double mx = lj_stats_mean(x, n), my = lj_stats_mean(y, n);
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < n; i++) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0) return LJ_FAIL(LJ_EINVAL, "a straight-line fit needs at least 2 distinct x values (all are %g)", x[0]);
  out->n = (int)n;
  out->level = level;
  out->b = sxy / sxx;
  out->a = my - out->b * mx;
  double sse = 0;
  for (size_t i = 0; i < n; i++) {
    double r = y[i] - out->a - out->b * x[i];
    sse += r * r;
  }
  out->sse = sse;
  out->df = (double)n - 2;
  out->r2 = syy > 0 ? 1 - sse / syy : NAN;
  if (n == 2) {
    out->resid_sd = out->se_a = out->se_b = out->cov_ab = NAN;
    out->a_lo = out->a_hi = out->b_lo = out->b_hi = NAN;
    return LJ_OK;
  }
  double s2 = sse / out->df;
  out->resid_sd = sqrt(s2);
  out->se_b = sqrt(s2 / sxx);
  out->se_a = sqrt(s2 * (1.0 / (double)n + mx * mx / sxx));
  out->cov_ab = -mx * s2 / sxx;
  double t = lj_student_t_critical(level, out->df);
  out->a_lo = out->a - t * out->se_a;
  out->a_hi = out->a + t * out->se_a;
  out->b_lo = out->b - t * out->se_b;
  out->b_hi = out->b + t * out->se_b;
  return LJ_OK;
}
