// Spreading decode steps over the KV lengths at which a stage was replayed.
#include <string.h>

#include "common/error.h"
#include "profile/attribution.h"

int lj_kv_weights(const int64_t *replayed_kv, size_t m, const int64_t *step_kv, size_t n_steps, double calls_per_step,
                  double *weight, size_t *n_outside) {
  *n_outside = 0;
  if (m == 0) return LJ_FAIL(LJ_EINVAL, "KV weights: no replayed KV lengths");
  if (!(calls_per_step >= 0)) return LJ_FAIL(LJ_EINVAL, "KV weights: %g calls per step, expected >= 0", calls_per_step);
  for (size_t j = 1; j < m; j++)
    if (replayed_kv[j] <= replayed_kv[j - 1])
      return LJ_FAIL(LJ_EINVAL, "KV weights: replayed KV lengths must increase (%lld at %zu after %lld)",
                     (long long)replayed_kv[j], j, (long long)replayed_kv[j - 1]);
  memset(weight, 0, m * sizeof *weight);
  for (size_t i = 0; i < n_steps; i++) {
    int64_t L = step_kv[i];
    if (L <= replayed_kv[0] || L >= replayed_kv[m - 1]) {
      int last = L >= replayed_kv[m - 1];
      weight[last ? m - 1 : 0] += calls_per_step;
      if (L < replayed_kv[0] || L > replayed_kv[m - 1]) (*n_outside)++;
      continue;
    }
    size_t j = 0;  // replayed_kv[j] < L < replayed_kv[j + 1] (or equal to the left end)
    while (replayed_kv[j + 1] < L) j++;
    double f = (double)(L - replayed_kv[j]) / (double)(replayed_kv[j + 1] - replayed_kv[j]);
    weight[j] += (1 - f) * calls_per_step;
    weight[j + 1] += f * calls_per_step;
  }
  return LJ_OK;
}
