// The Shapley split of each phase's layer (shapley.h, docs/attribution.md §2d):
// the whole layer per round (the sequence method's last prefix, measured in the
// same rounds), the layer without each stage per round (LOO trials), each stage
// alone (its isolation estimate); the permuted orders bound how much the
// layer's energy depends on its stages' order. The additive check (the sum of
// the Shapley values against the whole layer) is what can prove it wrong.
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/shapley.h"

enum { MAX_ROUNDS = 128 };

// Per-call figures of the trials of (method, phase, stage, variant) by round; NAN where none.
static void by_round(const lj_profile_result *r, lj_profile_method m, lj_phase ph, lj_stage st, int variant,
                     int what, double *out) {
  for (int i = 0; i < MAX_ROUNDS; i++) out[i] = NAN;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    double v[3];
    if (t->method != m || t->key.phase != ph || t->key.stage != st || t->variant != variant || t->trial < 0 ||
        t->trial >= MAX_ROUNDS || !lj_analyze_trial_per_call(t, &v[0], &v[1], &v[2]))
      continue;
    out[t->trial] = v[what];
  }
}

static int rounds_of(const lj_profile_result *r, lj_phase ph, int64_t *kv) {
  int n = 0;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != LJ_METHOD_LOO || t->key.phase != ph || t->trial < 0 || t->trial >= MAX_ROUNDS) continue;
    if (t->trial + 1 > n) n = t->trial + 1;
    *kv = t->key.kv_len;
  }
  return n;
}

static int phase_split(lj_profile_result *r, lj_phase ph) {
  int64_t kv = 0;
  int rounds = rounds_of(r, ph, &kv);
  if (rounds < 1) return 0;
  const lj_profile_plan *p = &r->plan;
  enum { N = LJ_LAYER_STAGES };
  lj_mean_ci iso[3][N];
  for (int k = 0; k < N; k++) {
    lj_stage st = lj_layer_order_stage(0, k);
    const lj_profile_stage *s = lj_analyze_find_stage(r, LJ_METHOD_ISOLATION, ph, st, ph == LJ_PHASE_DECODE ? kv : 0);
    if (!s) {
      lj_profile_note(r, "No Shapley split of %s: stage %s has no isolation estimate.", lj_phase_name(ph),
                      lj_stage_name(st));
      return 0;
    }
    iso[0][k] = s->est.dynamic_j, iso[1][k] = s->est.gross_j, iso[2][k] = s->est.time_per_call_s;
  }
  lj_interval phi[3][N];
  lj_shapley_check chk[3];
  for (int w = 0; w < 3; w++) {
    double full[MAX_ROUNDS], loo[N * MAX_ROUNDS], col[MAX_ROUNDS];
    by_round(r, LJ_METHOD_LOO, ph, LJ_STAGE_COUNT, 0, w, full);
    for (int k = 0; k < N; k++) {
      by_round(r, LJ_METHOD_LOO, ph, lj_layer_order_stage(0, k), 0, w, col);
      for (int i = 0; i < rounds; i++) loo[k * rounds + i] = col[i];
    }
    if (lj_shapley_compute(iso[w], N, full, loo, rounds, p->level, phi[w], NULL, &chk[w]) < 0) {
      lj_profile_note(r, "No Shapley split of %s: %s.", lj_phase_name(ph), lj_error_message());
      lj_clear_error();
      return 0;
    }
  }
  lj_shapley_check *c = &r->shapley[ph];
  *c = chk[0];
  c->phase = ph, c->kv_len = kv;
  // The other orders: their means against the whole layer's.
  double order_mean[LJ_LAYER_ORDERS];
  int n_orders = 0;
  for (int v = 1; v < LJ_LAYER_ORDERS; v++) {
    double x[MAX_ROUNDS], sum = 0;
    int n = 0;
    by_round(r, LJ_METHOD_ORDER, ph, LJ_STAGE_COUNT, v, 0, x);
    for (int i = 0; i < MAX_ROUNDS; i++)
      if (isfinite(x[i])) sum += x[i], n++;
    if (n) order_mean[n_orders++] = sum / n;
  }
  c->n_orders = n_orders;
  c->order_spread_pct = lj_shapley_order_spread_pct(order_mean, n_orders, c->full_j.mean);
  for (int k = 0; k < N; k++) {
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    s.method = LJ_METHOD_SHAPLEY;
    s.calls_per_unit = lj_profile_calls_per_unit(p, ph, LJ_STAGE_QKV, 0);  // every layer call of the phase
    lj_replay_estimate *e = &s.est;
    e->key.phase = ph, e->key.stage = lj_layer_order_stage(0, k), e->key.layer = -1, e->key.kv_len = kv;
    e->n_trials = c->n_rounds;
    lj_analyze_mean_from_interval(&phi[0][k], &e->dynamic_j);
    lj_analyze_mean_from_interval(&phi[1][k], &e->gross_j);
    lj_analyze_mean_from_interval(&phi[2][k], &e->time_per_call_s);
    LJ_TRY(lj_analyze_add_derived_stage(r, &s));
  }
  return 0;
}

int lj_analyze_shapley(lj_profile_result *r) {
  LJ_TRY(phase_split(r, LJ_PHASE_PREFILL));
  LJ_TRY(phase_split(r, LJ_PHASE_DECODE));
  // The reported method may now be Shapley: the shares again, with its denominator.
  for (size_t i = 0; i < r->n_stages; i++) {
    lj_profile_stage *s = &r->stages[i];
    s->share_gross = lj_profile_stage_share(r, s, 0);
    s->share_dynamic = lj_profile_stage_share(r, s, 1);
  }
  return 0;
}
