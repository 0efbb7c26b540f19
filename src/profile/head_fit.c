// Attention heads: energy per call against active KV groups, a straight line.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/attribution.h"

int lj_head_fit_compute(const int *groups, const double *energy_j, size_t n, int n_heads, int n_kv_heads,
                        double level, lj_head_fit *out) {
  memset(out, 0, sizeof *out);
  if (n_kv_heads < 1 || n_heads < n_kv_heads || n_heads % n_kv_heads)
    return LJ_FAIL(LJ_EINVAL, "head fit: %d heads and %d KV heads (heads must be a multiple of KV heads)", n_heads,
                   n_kv_heads);
  double *x = malloc((n ? n : 1) * sizeof *x);
  if (!x) return LJ_FAIL(LJ_ENOMEM, "out of memory for %zu head-fit points", n);
  int rc = LJ_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    if (groups[i] < 1 || groups[i] > n_kv_heads)
      rc = LJ_FAIL(LJ_EINVAL, "head fit: point %zu has %d active groups, expected 1..%d", i, groups[i], n_kv_heads);
    x[i] = groups[i];
  }
  if (!rc) rc = lj_stats_ols(x, energy_j, n, level, &out->fit);
  free(x);
  LJ_TRY(rc);
  out->fixed_j = out->fit.a;
  out->per_group_j = out->fit.b;
  out->per_head_j = out->fit.b / (double)(n_heads / n_kv_heads);
  out->all_groups_j = out->fit.a + out->fit.b * n_kv_heads;
  out->fixed_share = out->all_groups_j != 0 ? out->fixed_j / out->all_groups_j : NAN;
  return LJ_OK;
}
