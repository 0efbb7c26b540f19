// The lack-of-fit test: pure error from the replicates of each design point.
#include "common/lack_of_fit.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "common/stats.h"

int lj_lack_of_fit_test(const double *y, const int *point, size_t n, double sse, int p, lj_lack_of_fit *out) {
  memset(out, 0, sizeof *out);
  out->f = out->p_value = NAN;
  if (p < 1) return LJ_FAIL(LJ_EINVAL, "lack-of-fit test of a model with %d coefficients", p);
  double ss_pure = 0;
  int m = 0;
  for (size_t i = 0; i < n; i++) {
    size_t first = 0;
    while (point[first] != point[i]) first++;
    if (first != i) continue;  // this point was summed at its first observation
    m++;
    double sum = 0;
    size_t k = 0;
    for (size_t j = i; j < n; j++)
      if (point[j] == point[i]) sum += y[j], k++;
    double mean = sum / (double)k;
    for (size_t j = i; j < n; j++)
      if (point[j] == point[i]) ss_pure += (y[j] - mean) * (y[j] - mean);
  }
  out->n = (int)n, out->n_points = m;
  out->ss_pure = ss_pure;
  // rounding can leave sse a hair under the pure error when the model fits the means exactly
  out->ss_lack = sse > ss_pure ? sse - ss_pure : 0;
  out->df_pure = (double)n - m;
  out->df_lack = (double)m - p;
  out->testable = out->df_pure >= 1 && out->df_lack >= 1;
  if (!out->testable) return 0;
  double ms_lack = out->ss_lack / out->df_lack, ms_pure = ss_pure / out->df_pure;
  if (ms_pure > 0) out->f = ms_lack / ms_pure;
  else out->f = ms_lack > 0 ? INFINITY : NAN;  // exact replicates: any lack of fit is certain
  out->p_value = isnan(out->f) ? NAN : lj_f_sf(out->f, out->df_lack, out->df_pure);
  return 0;
}
