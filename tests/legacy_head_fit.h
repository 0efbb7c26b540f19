// The single-KV attention-head fit as stores before schema 13 hold it (table head_fits: a straight
// line of energy against active KV groups), built for the report tests that render such a store.
#pragma once
#include <math.h>

#include "common/stats.h"
#include "store/attribution_records.h"

static int legacy_head_fit(const int *groups, const double *energy_j, size_t n, int n_heads, int n_kv_heads,
                           double level, lj_head_fit *out) {
  double x[64];
  for (size_t i = 0; i < n && i < 64; i++) x[i] = groups[i];
  memset(out, 0, sizeof *out);
  int rc = lj_stats_ols(x, energy_j, n, level, &out->fit);
  out->fixed_j = out->fit.a, out->per_group_j = out->fit.b;
  out->per_head_j = out->fit.b / (double)(n_heads / n_kv_heads);
  out->all_groups_j = out->fit.a + out->fit.b * n_kv_heads;
  out->fixed_share = out->fixed_j / out->all_groups_j;
  return rc;
}
