// Multiple regression by Householder QR (Golub & Van Loan 5.3): X = QR, b solves
// R b = Q'y, (X'X)^-1 = R^-1 R^-T, residuals from y - X b on the original data.
#include "common/ols_multi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int lj_stats_ols_multi(const double *x, const double *y, size_t n, int p, double level, lj_ols_multi *out) {
  memset(out, 0, sizeof *out);
  if (!(level > 0 && level < 1)) return LJ_FAIL(LJ_EINVAL, "confidence level %g: expected in (0, 1)", level);
  if (p < 1 || p > LJ_OLS_MAX_P) return LJ_FAIL(LJ_EINVAL, "a regression of %d coefficients: expected 1 .. %d", p, LJ_OLS_MAX_P);
  if (n < (size_t)p) return LJ_FAIL(LJ_EINVAL, "a regression of %d coefficients needs at least %d points, got %zu", p, p, n);
  double *a = malloc(sizeof(double) * n * (size_t)(p + 1));
  if (!a) return LJ_FAIL(LJ_ENOMEM, "out of memory for a regression of %zu points", n);
  // a: column-major X then y, so that the reflections apply to y as to every column
  double norm0[LJ_OLS_MAX_P];
  for (int j = 0; j <= p; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
      double v = j < p ? x[i * (size_t)p + (size_t)j] : y[i];
      a[(size_t)j * n + i] = v;
      s += v * v;
    }
    if (j < p) norm0[j] = sqrt(s);
  }
  double r[LJ_OLS_MAX_P][LJ_OLS_MAX_P] = {{0}}, qty[LJ_OLS_MAX_P];
  int rc = 0;
  for (int k = 0; k < p && rc == 0; k++) {
    double *ck = a + (size_t)k * n, s = 0;
    for (size_t i = (size_t)k; i < n; i++) s += ck[i] * ck[i];
    double xk = ck[k], alpha = xk > 0 ? -sqrt(s) : sqrt(s);
    // a column whose part outside the span of the earlier ones vanishes: collinear (or zero)
    if (!(fabs(alpha) > 1e-12 * norm0[k])) {
      rc = LJ_FAIL(LJ_EINVAL, "regression column %d is zero or a linear combination of the others (the design "
                   "cannot separate its coefficient)", k);
      break;
    }
    ck[k] -= alpha;  // v = x - alpha e_k, kept in place; H = I - 2 v v' / v'v
    double vv = s - xk * xk + ck[k] * ck[k];
    for (int j = k + 1; j <= p; j++) {
      double *cj = a + (size_t)j * n, d = 0;
      for (size_t i = (size_t)k; i < n; i++) d += ck[i] * cj[i];
      d = 2 * d / vv;
      for (size_t i = (size_t)k; i < n; i++) cj[i] -= d * ck[i];
    }
    r[k][k] = alpha;
    for (int j = k + 1; j < p; j++) r[k][j] = a[(size_t)j * n + (size_t)k];
    qty[k] = a[(size_t)p * n + (size_t)k];
  }
  free(a);
  LJ_TRY(rc);
  for (int k = p - 1; k >= 0; k--) {
    double s = qty[k];
    for (int j = k + 1; j < p; j++) s -= r[k][j] * out->b[j];
    out->b[k] = s / r[k][k];
  }
  // residuals on the data as given (not from Q'y): no digits lost to the rotation
  double my = lj_stats_mean(y, n), sse = 0, syy = 0;
  for (size_t i = 0; i < n; i++) {
    double f = 0;
    for (int j = 0; j < p; j++) f += x[i * (size_t)p + (size_t)j] * out->b[j];
    sse += (y[i] - f) * (y[i] - f);
    syy += (y[i] - my) * (y[i] - my);
  }
  out->n = (int)n, out->p = p, out->level = level, out->sse = sse;
  out->df = (double)n - p;
  out->r2 = syy > 0 ? 1 - sse / syy : NAN;
  // R^-1 (upper triangular), then (X'X)^-1 = R^-1 R^-T
  double ri[LJ_OLS_MAX_P][LJ_OLS_MAX_P] = {{0}};
  for (int j = 0; j < p; j++) {
    ri[j][j] = 1 / r[j][j];
    for (int i = j - 1; i >= 0; i--) {
      double s = 0;
      for (int k = i + 1; k <= j; k++) s += r[i][k] * ri[k][j];
      ri[i][j] = -s / r[i][i];
    }
  }
  double s2 = out->df > 0 ? sse / out->df : NAN;
  out->resid_sd = sqrt(s2);
  double t = out->df > 0 ? lj_student_t_critical(level, out->df) : NAN;
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) {
      double s = 0;
      for (int k = i > j ? i : j; k < p; k++) s += ri[i][k] * ri[j][k];
      out->cov[i][j] = s2 * s;
    }
  for (int j = 0; j < p; j++) {
    out->se[j] = sqrt(out->cov[j][j]);
    out->lo[j] = out->b[j] - t * out->se[j];
    out->hi[j] = out->b[j] + t * out->se[j];
  }
  return 0;
}

void lj_ols_multi_combination(const lj_ols_multi *f, const double *c, lj_interval *out) {
  double est = 0, var = 0;
  for (int i = 0; i < f->p; i++) {
    est += c[i] * f->b[i];
    for (int j = 0; j < f->p; j++) var += c[i] * c[j] * f->cov[i][j];
  }
  lj_interval_from_se(est, sqrt(var > 0 ? var : 0), f->df > 0 ? f->df : NAN, f->level, out);
  if (!(f->df > 0)) out->se = out->lo = out->hi = NAN;
}
