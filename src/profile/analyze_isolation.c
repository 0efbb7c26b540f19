// Isolation estimates (docs/attribution.md §2): the isolation trials of each
// (phase, stage, KV length) into a per-call energy with its interval, the
// in-situ time ratio, the analytic work, J/FLOP and J/byte, and the calls the
// estimate stands for in one unit of its phase. What proves them wrong: the
// isolation closure (analyze_closure.c) and the ablation (analyze_ablation.c).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

int lj_analyze_isolation(lj_profile_result *r) {
  const lj_profile_plan *p = &r->plan;
  lj_replay_trial *t = malloc(sizeof *t * (r->n_trials ? r->n_trials : 1));
  char *used = calloc(r->n_trials ? r->n_trials : 1, 1);
  if (!t || !used) {
    free(t);
    free(used);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  int rc = 0;
  for (size_t i = 0; i < r->n_trials && rc == 0; i++) {
    if (used[i] || r->trials[i].groups || r->trials[i].method != LJ_METHOD_ISOLATION) continue;
    lj_stage_key key = r->trials[i].key;
    size_t n = 0;
    for (size_t j = i; j < r->n_trials; j++) {
      const lj_profile_trial *x = &r->trials[j];
      if (used[j] || x->groups || x->method != LJ_METHOD_ISOLATION || x->key.phase != key.phase ||
          x->key.stage != key.stage || x->key.kv_len != key.kv_len)
        continue;
      used[j] = 1;
      if (isfinite(x->t.counter_energy_j) && x->t.calls > 0 && x->t.duration_s > 0) t[n++] = x->t;
    }
    if (!n) continue;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    double insitu = lj_analyze_insitu_time(r, key.phase, key.stage, key.kv_len);
    if ((rc = lj_replay_estimate_compute(t, n, insitu, p->level, &s.est)) < 0) break;
    s.est.key = key;
    lj_stage_shape sh;
    lj_analyze_shape_of(p, key.phase, key.kv_len, &sh);
    // attn_norm of layer 0 has no residual to add: a later layer is the typical call
    int layer = lj_stage_is_per_layer(key.stage) ? (p->config.n_layers > 1 ? 1 : 0) : -1;
    if ((rc = lj_stage_cost_compute(&p->config, key.stage, layer, &sh, &s.cost)) < 0) break;
    lj_stage_efficiency_compute(&s.est.dynamic_j, &s.cost, &s.eff);
    if (key.phase == LJ_PHASE_DECODE && lj_stage_reads_cache(key.stage))
      s.calls_per_unit = lj_profile_calls_per_unit(p, key.phase, key.stage, lj_analyze_kv_index_of(p, key.kv_len));
    else
      s.calls_per_unit = lj_profile_calls_per_unit(p, key.phase, key.stage, 0);
    s.share_gross = s.share_dynamic = NAN;
    rc = lj_profile_add_stage(r, &s);
  }
  free(t);
  free(used);
  return rc;
}

