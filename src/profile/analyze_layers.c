// Per-layer estimates (docs/attribution.md §2f): the trials of each decoder
// layer replayed alone (method "layer", key.layer) into a per-call energy with
// its interval, the layers ranked by dynamic energy, and the agreement test
// across them: with random weights every layer is the same computation, so a
// layer outside the others' interval says the measurement, not the model,
// differs. What proves the estimates wrong: the layer-skip check
// (lj_layer_skip_compute), the real run without that layer.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/analyze_layers.h"

int lj_layer_agreement_compute(lj_layer_estimate *l, size_t n, double level) {
  for (size_t i = 0; i < n; i++) {
    l[i].rank = 1;
    for (size_t j = 0; j < n; j++)
      if (j != i && l[j].dynamic_j.mean > l[i].dynamic_j.mean) l[i].rank++;
    l[i].t = l[i].critical = NAN;
    l[i].agrees = 1;
  }
  if (n < 2) return 0;
  // Bonferroni over the n layers, two-sided: each layer tested at (1 - level) / n.
  double each = 1 - (1 - level) / (double)n;
  lj_mean_ci *m = malloc(sizeof *m * n);
  double *coef = malloc(sizeof *coef * n);
  if (!m || !coef) {
    free(m);
    free(coef);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    // this layer - the mean of the others: coefficients 1 and -1/(n-1), Welch's se and df
    for (size_t j = 0; j < n; j++) m[j] = l[j].dynamic_j, coef[j] = j == i ? 1.0 : -1.0 / (double)(n - 1);
    lj_interval d;
    if (lj_stats_linear_combination(coef, m, n, level, &d) < 0 || !(d.se > 0) || !isfinite(d.df)) continue;
    l[i].t = d.estimate / d.se;
    l[i].critical = lj_student_t_critical(each, d.df);
    l[i].agrees = fabs(l[i].t) <= l[i].critical;
  }
  free(m);
  free(coef);
  return 0;
}

int lj_layer_skip_compute(lj_phase ph, int layer, int64_t calls_per_unit, const double *full_j, size_t n_full,
                          const double *skipped_j, size_t n_skipped, const lj_mean_ci *replay_per_call_j,
                          double level, lj_layer_skip *out) {
  memset(out, 0, sizeof *out);
  out->phase = ph;
  out->layer = layer;
  // the layer's first stage names it in the ablation record's messages
  LJ_TRY(lj_ablation_compute(LJ_STAGE_ATTN_NORM, calls_per_unit, full_j, n_full, skipped_j, n_skipped,
                             replay_per_call_j, level, &out->a));
  out->a.counter_saved_j = NAN;  // the caller sets it where the counter was read too
  out->pass = fabs(out->a.agreement_pct) <= LJ_LAYER_SKIP_TARGET_PCT;
  return 0;
}

// The estimates of one phase, layer by layer, then their agreement.
static int phase_layers(lj_profile_result *r, lj_phase ph, lj_replay_trial *t) {
  int n_layers = r->plan.config.n_layers;
  size_t first = r->n_layers;
  for (int L = 0; L < n_layers; L++) {
    size_t n = 0;
    int64_t kv = 0;
    for (size_t i = 0; i < r->n_trials; i++) {
      const lj_profile_trial *x = &r->trials[i];
      if (x->method != LJ_METHOD_LAYER || x->key.phase != ph || x->key.layer != L) continue;
      if (isfinite(x->t.counter_energy_j) && x->t.calls > 0 && x->t.duration_s > 0) t[n++] = x->t;
      kv = x->key.kv_len;
    }
    if (!n) continue;
    lj_replay_estimate e;
    LJ_TRY(lj_replay_estimate_compute(t, n, NAN, r->plan.level, &e));
    lj_layer_estimate l;
    memset(&l, 0, sizeof l);
    l.phase = ph, l.layer = L, l.kv_len = kv, l.n_trials = e.n_trials;
    l.dynamic_j = e.dynamic_j, l.gross_j = e.gross_j, l.time_s = e.time_per_call_s;
    l.flags = e.window_flags;
    LJ_TRY(lj_profile_add_layer(r, &l));
  }
  return lj_layer_agreement_compute(r->layers + first, r->n_layers - first, r->plan.level);
}

int lj_analyze_layers(lj_profile_result *r) {
  free(r->layers);
  r->layers = NULL;
  r->n_layers = 0;
  lj_replay_trial *t = malloc(sizeof *t * (r->n_trials ? r->n_trials : 1));
  if (!t) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int rc = 0;
  for (int p = 0; p < LJ_PHASE_COUNT && rc == 0; p++) rc = phase_layers(r, (lj_phase)p, t);
  free(t);
  return rc;
}
