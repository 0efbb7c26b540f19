// Multiple linear regression y = X b by ordinary least squares, with each
// coefficient's standard error and interval, the covariance of the estimates
// (for intervals of linear combinations of them), r2 and the residuals' sum of
// squares. Householder QR on a copy of X: columns of very different scales
// (a count of KV groups next to bytes in the billions) lose no digits to the
// normal equations. The lack-of-fit test on top of it is lack_of_fit.h.
#pragma once
#include <stddef.h>

#include "common/stats.h"

#define LJ_OLS_MAX_P 6  // coefficients at most

typedef struct {
  int n, p;                           // observations, coefficients
  double b[LJ_OLS_MAX_P];             // estimates
  double se[LJ_OLS_MAX_P];            // standard errors (NAN when n == p)
  double lo[LJ_OLS_MAX_P], hi[LJ_OLS_MAX_P];  // intervals at `level` (t with n - p df)
  double cov[LJ_OLS_MAX_P][LJ_OLS_MAX_P];     // covariance of the estimates, s2 (X'X)^-1
  double sse;                         // residual sum of squares
  double resid_sd;                    // sqrt(sse / (n - p)); NAN when n == p
  double r2;                          // 1 - sse / (sum of squares about the mean of y); NAN for a constant y
                                      // (centred: meaningful when X holds a column of ones)
  double df;                          // n - p
  double level;
} lj_ols_multi;

// x: n rows of p values (row-major), p in 1 .. LJ_OLS_MAX_P, n >= p; a column that is a
// linear combination of the others (or zero) is LJ_EINVAL naming it.
int lj_stats_ols_multi(const double *x, const double *y, size_t n, int p, double level, lj_ols_multi *out);
// The interval of c'b (c: p weights), se = sqrt(c' cov c), t with the fit's df.
void lj_ols_multi_combination(const lj_ols_multi *f, const double *c, lj_interval *out);
