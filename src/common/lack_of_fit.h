// The lack-of-fit F test of a regression with replicates (Draper & Smith 2.1): the
// residual sum of squares splits into pure error, the spread of the replicates about
// their own point's mean (what no model of the design can explain), and lack of fit,
// the rest (what this model leaves out). F = (SS_lack / (m - p)) / (SS_pure / (n - m)) over
// n observations at m distinct points and p coefficients; a large F (a small p-value)
// says the model's shape is wrong, not merely noisy. Assumes independent errors of
// equal variance at every point, roughly normal.
#pragma once
#include <stddef.h>

typedef struct {
  int n, n_points;            // observations, distinct design points
  double ss_pure, ss_lack;    // sums of squares
  double df_pure, df_lack;    // n - m, m - p
  double f;                   // NAN: not testable
  double p_value;             // P(F > f); NAN: not testable
  int testable;               // 1: df_pure >= 1 and df_lack >= 1
} lj_lack_of_fit;

// y[i] observed at design point point[i] (equal ids: the same point); sse and p from the fit.
// Not testable (no replicates, or no more points than coefficients) is not an error: testable 0.
int lj_lack_of_fit_test(const double *y, const int *point, size_t n, double sse, int p, lj_lack_of_fit *out);
