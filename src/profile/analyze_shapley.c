// The Shapley splits of each phase's layer (shapley.h, shapley_layer.h, docs/attribution.md §2d):
// the whole layer per round (the sequence method's last prefix, measured in the
// same rounds), the layer without each stage per round (LOO trials), each stage
// alone (its isolation estimate); the permuted orders bound how much the
// layer's energy depends on its stages' order. The additive check (the sum of
// the Shapley values against the whole layer) is what can prove it wrong. The
// rounds' windows are short (0.5 x --replay-seconds): the split is made by both
// sources and is the power samples' where every window and every isolation
// estimate has them (docs/attribution.md §1b), the counter's beside it. The layer's own game
// (shapley_layer.h) is fitted to every window of the rounds (the whole layer, the sequence
// prefixes, the leave-one-out replays, the orders), which its check tests window by window.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/shapley.h"
#include "profile/shapley_layer.h"

enum { MAX_ROUNDS = 128 };
// Which per-call figure of a trial (lj_trial_per_call): by the counter, the time, by the samples.
enum { FIG_DYN, FIG_GROSS, FIG_TIME, FIG_SDYN, FIG_SGROSS };

// Per-call figure `what` of the trials of (method, phase, stage, variant) by round; NAN where none.
// The whole layer (leave-one-out of no stage) is measured LJ_LAYER_WHOLE_REPEATS times a round
// (variants 0 ..): its round's figure is their mean.
static void by_round(const lj_profile_result *r, lj_profile_method m, lj_phase ph, lj_stage st, int variant,
                     int what, double *out) {
  int n[MAX_ROUNDS] = {0};
  for (int i = 0; i < MAX_ROUNDS; i++) out[i] = NAN;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    lj_trial_per_call v;
    if (t->method != m || t->key.phase != ph || t->key.stage != st ||
        (t->variant != variant && !(variant == 0 && lj_trial_whole_layer(t))) || t->trial < 0 ||
        t->trial >= MAX_ROUNDS || !lj_analyze_trial_per_call(t, &v))
      continue;
    const double fig[] = {v.dyn, v.gross, v.time, v.sdyn, v.sgross};
    int k = t->trial;
    out[k] = lj_stats_mean_add(out[k], fig[what], ++n[k]);
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
  const int N = lj_layer_stages(r->plan.tp_degree), deg = r->plan.tp_degree;  // the all-reduce stages at degree > 1
  double full[MAX_ROUNDS], loo[LJ_LAYER_STAGES_TP * MAX_ROUNDS], col[MAX_ROUNDS];
  by_round(r, LJ_METHOD_LOO, ph, LJ_STAGE_NONE, 0, what, full);
  for (int k = 0; k < N; k++) {
    by_round(r, LJ_METHOD_LOO, ph, lj_layer_order_stage_tp(0, k, deg), 0, what, col);
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
  const int N = lj_layer_stages(p->tp_degree);
  // The isolation estimates by source: [FIG_DYN, FIG_GROSS, FIG_TIME, FIG_SDYN, FIG_SGROSS].
  lj_mean_ci iso[5][LJ_LAYER_STAGES_TP];
  int samples = rounds_samples_usable(r, ph);
  for (int k = 0; k < N; k++) {
    lj_stage st = lj_layer_order_stage_tp(0, k, p->tp_degree);
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
  lj_interval phi[5][LJ_LAYER_STAGES_TP];
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
    e->key.phase = ph, e->key.stage = lj_layer_order_stage_tp(0, k, p->tp_degree), e->key.layer = -1;
    e->key.kv_len = kv;
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

int lj_analyze_shapley_phase(lj_profile_result *r, lj_phase ph) { return phase_split(r, ph); }

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

// ---------------------------------------------------------------- the layer's own game

typedef struct {
  lj_layer_window w[LJ_SHAPLEY_LAYER_MAX_WINDOWS];
  char name[LJ_SHAPLEY_LAYER_MAX_WINDOWS][32];
  lj_profile_method method[LJ_SHAPLEY_LAYER_MAX_WINDOWS];
  lj_stage stage[LJ_SHAPLEY_LAYER_MAX_WINDOWS];
  int variant[LJ_SHAPLEY_LAYER_MAX_WINDOWS];
  int n;
} layer_windows;

static void add_window(layer_windows *lw, lj_profile_method m, lj_stage st, int variant, const lj_stage *order, int n,
                       const char *name) {
  if (lw->n >= LJ_SHAPLEY_LAYER_MAX_WINDOWS) return;
  lj_layer_window *w = &lw->w[lw->n];
  w->n = 0;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < LJ_LAYER_STAGES; i++)
      if (lj_layer_order_stage(0, i) == order[k]) w->stage[w->n++] = i;
  snprintf(lw->name[lw->n], sizeof lw->name[0], "%s", name);
  lw->method[lw->n] = m, lw->stage[lw->n] = st, lw->variant[lw->n] = variant;
  lw->n++;
}

// The windows of the phase's rounds that have trials: the whole layer first, then the prefixes,
// the layer without each stage and the other orders, each a cycle of its stages.
static void windows_of(const lj_profile_result *r, lj_phase ph, int rounds, layer_windows *lw) {
  enum { N = LJ_LAYER_STAGES };
  lj_stage run[N], order[N];
  for (int k = 0; k < N; k++) run[k] = lj_layer_order_stage(0, k);
  lw->n = 0;
  add_window(lw, LJ_METHOD_LOO, LJ_STAGE_NONE, 0, run, N, "layer");
  char name[32];
  for (int k = 0; k < N - 1; k++) {
    snprintf(name, sizeof name, "prefix ..%s", lj_stage_name(run[k]));
    add_window(lw, LJ_METHOD_SEQUENCE, run[k], 0, run, k + 1, name);
  }
  for (int out = 0; out < N; out++) {
    int m = 0;
    for (int k = 0; k < N; k++)
      if (k != out) order[m++] = run[k];
    snprintf(name, sizeof name, "without %s", lj_stage_name(run[out]));
    add_window(lw, LJ_METHOD_LOO, run[out], 0, order, m, name);
  }
  for (int v = 1; v < LJ_LAYER_ORDERS; v++) {
    for (int k = 0; k < N; k++) order[k] = lj_layer_order_stage(v, k);
    add_window(lw, LJ_METHOD_ORDER, LJ_STAGE_NONE, v, order, N, lj_layer_order_name(v));
  }
  // keep the windows measured in some round (a profile without the sequence method has no prefixes)
  int kept = 0;
  double x[MAX_ROUNDS];
  for (int j = 0; j < lw->n; j++) {
    by_round(r, lw->method[j], ph, lw->stage[j], lw->variant[j], FIG_TIME, x);
    int any = 0;
    for (int i = 0; i < rounds; i++) any |= isfinite(x[i]);
    if (!any && j > 0) continue;
    if (kept != j) {
      lw->w[kept] = lw->w[j], lw->method[kept] = lw->method[j], lw->stage[kept] = lw->stage[j];
      lw->variant[kept] = lw->variant[j];
      memcpy(lw->name[kept], lw->name[j], sizeof lw->name[0]);
    }
    kept++;
  }
  lw->n = kept;
}

// The layer game's fit of figure `what`; 0 when it could not be made (a note to `note` says why).
static int layer_fit_of(const lj_profile_result *r, lj_profile_result *note, lj_phase ph, const layer_windows *lw,
                        int rounds, int what, lj_shapley_layer_fit *fit, double *phi_rounds) {
  static const int heavy_stage[LJ_STAGE_ALL_COUNT] = {[LJ_STAGE_QKV] = 1, [LJ_STAGE_O_PROJ] = 1,
                                                       [LJ_STAGE_GATE_UP] = 1, [LJ_STAGE_DOWN] = 1};
  int heavy[LJ_LAYER_STAGES];
  for (int k = 0; k < LJ_LAYER_STAGES; k++) heavy[k] = heavy_stage[lj_layer_order_stage(0, k)];
  double y[LJ_SHAPLEY_LAYER_MAX_WINDOWS * MAX_ROUNDS], x[MAX_ROUNDS];
  for (int j = 0; j < lw->n; j++) {
    by_round(r, lw->method[j], ph, lw->stage[j], lw->variant[j], what, x);
    for (int i = 0; i < rounds; i++) y[j * rounds + i] = x[i];
  }
  if (lj_shapley_layer_fit_rounds(LJ_LAYER_STAGES, heavy, lw->w, lw->n, y, rounds, r->plan.level, fit, phi_rounds) < 0) {
    if (note) lj_profile_note(note, "No Shapley split of the %s layer's own game: %s.", lj_phase_name(ph), lj_error_message());
    lj_clear_error();
    return 0;
  }
  return 1;
}

// 1 when every trial of the phase's sequence prefixes has samples that can stand for it.
static int prefixes_samples_usable(const lj_profile_result *r, lj_phase ph) {
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method == LJ_METHOD_SEQUENCE && t->key.phase == ph && !lj_trial_samples_usable(&t->t)) return 0;
  }
  return 1;
}

// The layer's own game, fitted to the rounds' windows, by the source of the pairwise split where
// the prefixes have it too: its check into the phase's lj_shapley_check, its values as rows.
static int layer_split(lj_profile_result *r, lj_phase ph) {
  lj_shapley_check *c = &r->shapley[ph];
  if (c->n_rounds < 1) return 0;  // the pairwise split found the rounds (and said why not)
  int64_t kv = 0;
  int rounds = rounds_of(r, ph, &kv);
  layer_windows lw;
  windows_of(r, ph, rounds, &lw);
  int samples = (c->flags & LJ_WINDOW_SAMPLE_ENERGY) && prefixes_samples_usable(r, ph);
  enum { N = LJ_LAYER_STAGES };
  lj_shapley_layer_fit fit[5];
  for (int w = FIG_DYN; w <= FIG_TIME; w++)
    if (!layer_fit_of(r, r, ph, &lw, rounds, w, &fit[w], NULL)) return 0;
  for (int w = FIG_SDYN; samples && w <= FIG_SGROSS; w++)
    if (!layer_fit_of(r, r, ph, &lw, rounds, w, &fit[w], NULL)) samples = 0;
  int dyn = samples ? FIG_SDYN : FIG_DYN, gross = samples ? FIG_SGROSS : FIG_GROSS;
  const lj_shapley_layer_fit *f = &fit[dyn];
  c->layer_windows = f->n_windows;
  c->layer_junction_j = f->junction;
  c->layer_residual_pct = f->layer_pct, c->layer_residual_lo_pct = f->layer_lo_pct;
  c->layer_residual_hi_pct = f->layer_hi_pct;
  snprintf(c->layer_worst, sizeof c->layer_worst, "%s", isnan(f->worst_pct) ? "" : lw.name[f->worst]);  // none judged
  c->layer_worst_pct = f->worst_pct, c->layer_worst_lo_pct = f->worst_lo_pct, c->layer_worst_hi_pct = f->worst_hi_pct;
  snprintf(c->layer_verdict, sizeof c->layer_verdict, "%s", lj_verdict_name(f->verdict));
  for (int k = 0; k < N; k++) {
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    s.method = LJ_METHOD_SHAPLEY_LAYER;
    s.calls_per_unit = lj_profile_calls_per_unit(&r->plan, ph, LJ_STAGE_QKV, 0);  // every layer call of the phase
    lj_replay_estimate *e = &s.est;
    e->key.phase = ph, e->key.stage = lj_layer_order_stage(0, k), e->key.layer = -1, e->key.kv_len = kv;
    e->n_trials = f->n_rounds;
    lj_analyze_mean_from_interval(&fit[FIG_DYN].phi[k], &e->counter_dynamic_j);
    lj_analyze_mean_from_interval(&fit[FIG_GROSS].phi[k], &e->counter_gross_j);
    if (samples) {
      lj_analyze_mean_from_interval(&fit[FIG_SDYN].phi[k], &e->sample_dynamic_j);
      lj_analyze_mean_from_interval(&fit[FIG_SGROSS].phi[k], &e->sample_gross_j);
    }
    lj_analyze_mean_from_interval(&fit[dyn].phi[k], &e->dynamic_j);
    lj_analyze_mean_from_interval(&fit[gross].phi[k], &e->gross_j);
    lj_analyze_mean_from_interval(&fit[FIG_TIME].phi[k], &e->time_per_call_s);
    e->window_flags = lj_energy_source_flags(samples, e->dynamic_j.lo, e->dynamic_j.hi,
                                             samples ? e->counter_dynamic_j.mean : NAN);
    LJ_TRY(lj_analyze_add_derived_stage(r, &s));
  }
  return 0;
}

// A group of the layer's stages by the layer's own game, per call: the sum of their Shapley values
// round by round (they share each round's fit), its interval widened by the fit's misfit, from the
// source the rows took.
int lj_analyze_shapley_layer_group(const lj_profile_result *r, lj_phase ph, const lj_stage *st, int n,
                                   lj_mean_ci *out) {
  const lj_profile_stage *row = lj_analyze_find_stage(r, LJ_METHOD_SHAPLEY_LAYER, ph, st[0], -1);
  if (!row || n < 1 || n > LJ_LAYER_STAGES) return 0;
  int64_t kv = 0;
  int rounds = rounds_of(r, ph, &kv);
  layer_windows lw;
  windows_of(r, ph, rounds, &lw);
  lj_shapley_layer_fit fit;
  double phi[LJ_LAYER_STAGES * LJ_SHAPLEY_LAYER_MAX_ROUNDS];
  int what = (row->est.window_flags & LJ_WINDOW_SAMPLE_ENERGY) ? FIG_SDYN : FIG_DYN;
  if (!layer_fit_of(r, NULL, ph, &lw, rounds, what, &fit, phi)) return 0;
  double v[MAX_ROUNDS];
  int members[LJ_LAYER_STAGES], m = 0;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < LJ_LAYER_STAGES; i++)
      if (lj_layer_order_stage(0, i) == st[k]) members[m++] = i;
  for (int q = 0; q < fit.n_rounds; q++) {
    v[q] = 0;
    for (int k = 0; k < m; k++) v[q] += phi[members[k] * LJ_SHAPLEY_LAYER_MAX_ROUNDS + q];
  }
  // the rounds' spread of the sum, widened by the fit's misfit as each stage's row is
  lj_mean_ci rounds_ci;
  LJ_TRY(lj_stats_mean_ci(v, (size_t)fit.n_rounds, r->plan.level, &rounds_ci));
  lj_interval iv;
  lj_interval_from_se(rounds_ci.mean, rounds_ci.sem, rounds_ci.df, r->plan.level, &iv);
  lj_shapley_layer_widen(&fit, members, m, &iv);
  lj_analyze_mean_from_interval(&iv, out);
  out->n = rounds_ci.n;
  return 1;
}

int lj_analyze_shapley(lj_profile_result *r) {
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    LJ_TRY(phase_split(r, (lj_phase)ph));
    LJ_TRY(layer_split(r, (lj_phase)ph));
  }
  // The reported method may now be Shapley: the shares again, with its denominator.
  for (size_t i = 0; i < r->n_stages; i++) {
    lj_profile_stage *s = &r->stages[i];
    s->share_gross = lj_profile_stage_share(r, s, 0);
    s->share_dynamic = lj_profile_stage_share(r, s, 1);
  }
  return 0;
}
