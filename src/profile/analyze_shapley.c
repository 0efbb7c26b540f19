// The Shapley split of each phase's layer (shapley.h, docs/attribution.md §2d):
// the whole layer per round (the sequence method's last prefix, measured in the
// same rounds), the layer without each stage per round (LOO trials), each stage
// alone (its isolation estimate); the permuted orders bound how much the
// layer's energy depends on its stages' order. The additive check (the sum of
// the Shapley values against the whole layer) is what can prove it wrong. The
// rounds' windows are short (0.4 x --replay-seconds): the split is made by both
// sources and is the power samples' where every window and every isolation
// estimate has them (docs/attribution.md §1b), the counter's beside it.
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/shapley.h"

enum { MAX_ROUNDS = 128 };
// Which per-call figure of a trial (lj_trial_per_call): by the counter, the time, by the samples.
enum { FIG_DYN, FIG_GROSS, FIG_TIME, FIG_SDYN, FIG_SGROSS };

// Per-call figure `what` of the trials of (method, phase, stage, variant) by round; NAN where none.
static void by_round(const lj_profile_result *r, lj_profile_method m, lj_phase ph, lj_stage st, int variant,
                     int what, double *out) {
  for (int i = 0; i < MAX_ROUNDS; i++) out[i] = NAN;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    lj_trial_per_call v;
    if (t->method != m || t->key.phase != ph || t->key.stage != st || t->variant != variant || t->trial < 0 ||
        t->trial >= MAX_ROUNDS || !lj_analyze_trial_per_call(t, &v))
      continue;
    const double fig[] = {v.dyn, v.gross, v.time, v.sdyn, v.sgross};
    out[t->trial] = fig[what];
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

// 1 when every trial of the phase's rounds (whole layer, leave-one-out, other orders) has power
// samples that can stand for it: the windows are short (docs/attribution.md §1b).
static int rounds_samples_usable(const lj_profile_result *r, lj_phase ph) {
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if ((t->method == LJ_METHOD_LOO || t->method == LJ_METHOD_ORDER) && t->key.phase == ph &&
        !lj_trial_samples_usable(&t->t))
      return 0;
  }
  return 1;
}

// One source's split (counter: FIG_DYN, FIG_GROSS; samples: FIG_SDYN, FIG_SGROSS; FIG_TIME) of
// `what` with the isolation estimates iso; 0 when it could not be made (a note says why).
static int split_of(lj_profile_result *r, lj_phase ph, int rounds, const lj_mean_ci *iso, int what, lj_interval *phi,
                    lj_shapley_check *chk) {
  enum { N = LJ_LAYER_STAGES };
  double full[MAX_ROUNDS], loo[N * MAX_ROUNDS], col[MAX_ROUNDS];
  by_round(r, LJ_METHOD_LOO, ph, LJ_STAGE_NONE, 0, what, full);
  for (int k = 0; k < N; k++) {
    by_round(r, LJ_METHOD_LOO, ph, lj_layer_order_stage(0, k), 0, what, col);
    for (int i = 0; i < rounds; i++) loo[k * rounds + i] = col[i];
  }
  if (lj_shapley_compute(iso, N, full, loo, rounds, r->plan.level, phi, NULL, chk) < 0) {
    lj_profile_note(r, "No Shapley split of %s: %s.", lj_phase_name(ph), lj_error_message());
    lj_clear_error();
    return 0;
  }
  return 1;
}

static int phase_split(lj_profile_result *r, lj_phase ph) {
  int64_t kv = 0;
  int rounds = rounds_of(r, ph, &kv);
  if (rounds < 1) return 0;
  const lj_profile_plan *p = &r->plan;
  enum { N = LJ_LAYER_STAGES };
  // The isolation estimates by source: [FIG_DYN, FIG_GROSS, FIG_TIME, FIG_SDYN, FIG_SGROSS].
  lj_mean_ci iso[5][N];
  int samples = rounds_samples_usable(r, ph);
  for (int k = 0; k < N; k++) {
    lj_stage st = lj_layer_order_stage(0, k);
    const lj_profile_stage *s = lj_analyze_find_stage(r, LJ_METHOD_ISOLATION, ph, st, ph == LJ_PHASE_DECODE ? kv : 0);
    if (!s) {
      lj_profile_note(r, "No Shapley split of %s: stage %s has no isolation estimate.", lj_phase_name(ph),
                      lj_stage_name(st));
      return 0;
    }
    const lj_replay_estimate *e = &s->est;
    iso[FIG_DYN][k] = e->counter_dynamic_j.n > 0 ? e->counter_dynamic_j : e->dynamic_j;
    iso[FIG_GROSS][k] = e->counter_gross_j.n > 0 ? e->counter_gross_j : e->gross_j;
    iso[FIG_TIME][k] = e->time_per_call_s;
    iso[FIG_SDYN][k] = e->sample_dynamic_j, iso[FIG_SGROSS][k] = e->sample_gross_j;
    // the samples' split only where isolation took the samples too
    samples &= (e->window_flags & LJ_WINDOW_SAMPLE_ENERGY) && e->sample_dynamic_j.n > 0 && e->sample_gross_j.n > 0;
  }
  lj_interval phi[5][N];
  lj_shapley_check chk[5];
  for (int w = FIG_DYN; w <= FIG_TIME; w++)
    if (!split_of(r, ph, rounds, iso[w], w, phi[w], &chk[w])) return 0;
  for (int w = FIG_SDYN; samples && w <= FIG_SGROSS; w++)
    if (!split_of(r, ph, rounds, iso[w], w, phi[w], &chk[w])) samples = 0;
  int dyn = samples ? FIG_SDYN : FIG_DYN, gross = samples ? FIG_SGROSS : FIG_GROSS;
  lj_shapley_check *c = &r->shapley[ph];
  *c = chk[dyn];
  c->phase = ph, c->kv_len = kv;
  c->counter_full_j = chk[FIG_DYN].full_j.mean;
  c->counter_residual_pct = chk[FIG_DYN].residual_pct;
  c->flags = lj_energy_source_flags(samples, c->residual_j.lo, c->residual_j.hi,
                                    samples ? chk[FIG_DYN].residual_j.estimate : NAN);
  for (size_t i = 0; i < r->n_trials; i++)  // a whole-layer or leave-one-out window at the power cap
    if (r->trials[i].method == LJ_METHOD_LOO && r->trials[i].key.phase == ph)
      c->flags |= r->trials[i].t.window_flags & LJ_WINDOW_POWER_CAP;
  // The other orders: their means against the whole layer's, from the same source.
  double order_mean[LJ_LAYER_ORDERS];
  int n_orders = 0;
  for (int v = 1; v < LJ_LAYER_ORDERS; v++) {
    double x[MAX_ROUNDS], sum = 0;
    int n = 0;
    by_round(r, LJ_METHOD_ORDER, ph, LJ_STAGE_NONE, v, dyn, x);
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
    // both sources' values, the estimate the samples' where every window is short (§1b)
    lj_analyze_mean_from_interval(&phi[FIG_DYN][k], &e->counter_dynamic_j);
    lj_analyze_mean_from_interval(&phi[FIG_GROSS][k], &e->counter_gross_j);
    if (samples) {
      lj_analyze_mean_from_interval(&phi[FIG_SDYN][k], &e->sample_dynamic_j);
      lj_analyze_mean_from_interval(&phi[FIG_SGROSS][k], &e->sample_gross_j);
    }
    lj_analyze_mean_from_interval(&phi[dyn][k], &e->dynamic_j);
    lj_analyze_mean_from_interval(&phi[gross][k], &e->gross_j);
    lj_analyze_mean_from_interval(&phi[FIG_TIME][k], &e->time_per_call_s);
    e->window_flags = lj_energy_source_flags(samples, e->dynamic_j.lo, e->dynamic_j.hi,
                                             samples ? e->counter_dynamic_j.mean : NAN);
    LJ_TRY(lj_analyze_add_derived_stage(r, &s));
  }
  return 0;
}

// A group of the layer's stages (an ablation's) by Shapley, per call: half the sum of their
// isolation estimates plus half the group's marginal sum(full - LOO_i) taken round by round.
// The stages' Shapley values share each round's whole layer, so their intervals are not
// independent: summing them as if they were would understate the group's spread.
int lj_analyze_shapley_group(const lj_profile_result *r, lj_phase ph, const lj_stage *st, int n, lj_mean_ci *out) {
  const lj_shapley_check *c = &r->shapley[ph];
  if (c->n_rounds < 2 || n < 1 || n > LJ_LAYER_STAGES) return 0;
  int samples = (c->flags & LJ_WINDOW_SAMPLE_ENERGY) != 0, what = samples ? FIG_SDYN : FIG_DYN;
  double full[MAX_ROUNDS], loo[MAX_ROUNDS], marg[MAX_ROUNDS];
  by_round(r, LJ_METHOD_LOO, ph, LJ_STAGE_NONE, 0, what, full);
  for (int i = 0; i < MAX_ROUNDS; i++) marg[i] = full[i];
  lj_mean_ci parts[LJ_LAYER_STAGES + 1];
  double coef[LJ_LAYER_STAGES + 1];
  for (int k = 0; k < n; k++) {
    by_round(r, LJ_METHOD_LOO, ph, st[k], 0, what, loo);
    for (int i = 0; i < MAX_ROUNDS; i++) marg[i] += (k ? full[i] : 0) - loo[i];
    const lj_profile_stage *s = lj_analyze_find_stage(r, LJ_METHOD_ISOLATION, ph, st[k], c->kv_len);
    if (!s) return 0;
    parts[k] = samples ? s->est.sample_dynamic_j : (s->est.counter_dynamic_j.n > 0 ? s->est.counter_dynamic_j
                                                                                   : s->est.dynamic_j);
    if (parts[k].n < 1) return 0;
    coef[k] = 0.5;
  }
  double v[MAX_ROUNDS];
  int m = 0;
  for (int i = 0; i < MAX_ROUNDS; i++)
    if (isfinite(marg[i])) v[m++] = marg[i];
  if (m < 2) return 0;
  LJ_TRY(lj_stats_mean_ci(v, (size_t)m, r->plan.level, &parts[n]));
  coef[n] = 0.5;
  lj_interval iv;
  LJ_TRY(lj_stats_linear_combination(coef, parts, (size_t)n + 1, r->plan.level, &iv));
  lj_analyze_mean_from_interval(&iv, out);
  return 1;
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
