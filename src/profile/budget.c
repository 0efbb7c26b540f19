// The uncertainty budget of every estimate and check (budget.h, docs/attribution.md
// §3b). Each estimate is a linear combination of windows: its idle term follows
// from the times and temperatures it combines (what is subtracted on both sides
// of a check cancels), its edge term from its windows' powers and lengths.
#include "profile/budget.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/stats.h"
#include "profile/analyze_internal.h"
#include "profile/shapley.h"

void lj_budget_idle_model_of(const lj_profile_result *r, lj_budget_idle_model *m) {
  memset(m, 0, sizeof *m);
  const lj_idle_curve *c = r->idle_curve_valid ? &r->idle_curve.fit : NULL;
  double hot = r->cond.temperature_max_c, cool = r->cond.temperature_min_c;
  m->t_hot_c = isfinite(hot) ? hot : NAN;
  if (c && c->usable) {
    double t = lj_student_t_quantile(0.5 + r->plan.level / 2, c->n_bins - 2);
    m->curve = 1;
    m->u_a_w = t * c->a_se_w;
    m->u_b_w_per_c = t * c->slope_se_w_per_c;
    m->tref_c = c->t0_c;
    return;
  }
  m->u_a_w = isfinite(r->cond.idle_sd_w) ? r->cond.idle_sd_w : 0;
  // an unusable fit still bounds the slope by its interval's wider end; without one, the figure
  m->u_b_w_per_c = c && isfinite(c->slope_lo) && isfinite(c->slope_hi) ? fmax(fabs(c->slope_lo), fabs(c->slope_hi))
                                                                         : LJ_BUDGET_LEAKAGE_W_PER_C;
  m->tref_c = c && isfinite(c->t0_c) ? c->t0_c : isfinite(cool) ? cool : NAN;
  // A tensor-parallel run's own figures sum every GPU's: each GPU's leakage at its own temperatures.
  // A GPU with a usable curve of its own takes its t x se terms from its T0; one without keeps its
  // flat idle's spread and a slope bound (its unusable fit's wider end, else the figure) from
  // its own coolest reading (the run's range where its own is unknown). The intercepts' terms of the
  // GPUs are independent: in quadrature.
  if (c || !(r->plan.tp_degree > 1 && r->n_ranks > 1)) return;
  m->n_gpus = r->n_ranks;
  double ua2 = 0;
  int all_curves = 1, any_sd = 0;
  for (int k = 0; k < r->n_ranks; k++) {
    const lj_profile_rank *rk = &r->ranks[k];
    const lj_idle_curve *g = rk->idle_curve_valid ? &rk->idle_curve.fit : NULL;
    m->gpu_t_hot_c[k] = isfinite(rk->temperature_max_c) ? rk->temperature_max_c : m->t_hot_c;
    if (g && g->usable) {
      double t = lj_student_t_quantile(0.5 + r->plan.level / 2, g->n_bins - 2);
      double ua = isfinite(g->a_se_w) ? t * g->a_se_w : 0;  // a stored curve has no se: its spread is unknown
      ua2 += ua * ua;
      m->gpu_u_b_w_per_c[k] = t * g->slope_se_w_per_c;
      m->gpu_tref_c[k] = g->t0_c;
      continue;
    }
    all_curves = 0;
    if (isfinite(rk->idle_sd_w)) ua2 += rk->idle_sd_w * rk->idle_sd_w, any_sd = 1;
    m->gpu_u_b_w_per_c[k] = g && isfinite(g->slope_lo) && isfinite(g->slope_hi)
                                ? fmax(fabs(g->slope_lo), fabs(g->slope_hi))
                                : LJ_BUDGET_LEAKAGE_W_PER_C;
    m->gpu_tref_c[k] = g && isfinite(g->t0_c)               ? g->t0_c
                       : isfinite(rk->temperature_min_c) ? rk->temperature_min_c
                                                          : m->tref_c;
  }
  // without any GPU's curve the run's own idle sd stands, as before the curves (the GPUs' in quadrature)
  if (all_curves || any_sd) m->u_a_w = sqrt(ua2);
  m->curve = all_curves;
}

// One GPU's slope exposure of a term: signed at its known temperature, else bounded by the hottest.
static void add_slope(double *s1, double *s1_abs, double c, double t_s, double temp_c, double tref_c, double hot_c) {
  if (isfinite(temp_c) && isfinite(tref_c)) *s1 += c * t_s * (temp_c - tref_c);
  else if (isfinite(hot_c) && isfinite(tref_c)) *s1_abs += fabs(c) * t_s * fabs(hot_c - tref_c);
}

void lj_budget_add_gpus(lj_budget_sum *x, const lj_budget_idle_model *m, double c, double t_s,
                        const double *gpu_temp_c, double edge_j) {
  if (isfinite(t_s)) {
    x->s0 += c * t_s;
    if (!m->n_gpus) add_slope(&x->s1, &x->s1_abs, c, t_s, gpu_temp_c[0], m->tref_c, m->t_hot_c);
    for (int k = 0; k < m->n_gpus; k++)
      add_slope(&x->gpu_s1[k], &x->gpu_s1_abs[k], c, t_s, gpu_temp_c[k], m->gpu_tref_c[k], m->gpu_t_hot_c[k]);
  }
  if (isfinite(edge_j)) x->edge += c * edge_j;
}

void lj_budget_add(lj_budget_sum *x, const lj_budget_idle_model *m, double c, double t_s, double temp_c, double edge_j) {
  double t[LJ_PROFILE_MAX_RANKS];
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) t[k] = temp_c;
  lj_budget_add_gpus(x, m, c, t_s, t, edge_j);
}

double lj_budget_idle_j(const lj_budget_idle_model *m, const lj_budget_sum *x) {
  double a = m->u_a_w * x->s0, b = m->u_b_w_per_c * (fabs(x->s1) + x->s1_abs);
  if (m->n_gpus) b = 0;
  for (int k = 0; k < m->n_gpus; k++) b += m->gpu_u_b_w_per_c[k] * (fabs(x->gpu_s1[k]) + x->gpu_s1_abs[k]);
  return sqrt(a * a + b * b);
}

double lj_budget_window_edge_j(double dynamic_j, double duration_s, int samples) {
  if (!samples) return 2 * LJ_BUDGET_COUNTER_RESOLUTION_J;
  if (!isfinite(dynamic_j) || !(duration_s > 0)) return NAN;
  return fabs(dynamic_j) / duration_s * LJ_BUDGET_SAMPLE_PERIOD_S / 6;
}

void lj_budget_total(lj_budget *b) {
  // Without the trial spread (one trial, one window) the interval is unknown: idle and edge alone would
  // make a check look decided on a single trial.
  if (!lj_budget_basis_counted(b->trial_basis) || !isfinite(b->trial_j)) {
    b->total_j = NAN;
    return;
  }
  const double v[5] = {b->trial_j, b->idle_j, b->edge_j, b->card_j, b->source_j};
  const char *basis[5] = {b->trial_basis, b->idle_basis, b->edge_basis, b->card_basis, b->source_basis};
  double s = 0;
  int any = 0;
  for (int i = 0; i < 5; i++)
    if (lj_budget_basis_counted(basis[i]) && isfinite(v[i])) s += v[i] * v[i], any = 1;
  b->total_j = any ? sqrt(s) : NAN;
}

void lj_budget_init(lj_budget *b, const char *kind, lj_phase p, lj_profile_method m, lj_stage s) {
  memset(b, 0, sizeof *b);
  snprintf(b->kind, sizeof b->kind, "%s", kind);
  b->phase = p, b->method = m, b->stage = s, b->layer = -1;
  b->value_j = b->reference_j = b->trial_j = b->idle_j = b->edge_j = b->card_j = b->source_j = b->total_j = NAN;
  snprintf(b->trial_basis, sizeof b->trial_basis, "%s", LJ_BUDGET_NOT_MEASURED);
  snprintf(b->idle_basis, sizeof b->idle_basis, "%s", LJ_BUDGET_NOT_MEASURED);
  snprintf(b->edge_basis, sizeof b->edge_basis, "%s", LJ_BUDGET_NOT_MEASURED);
  // card to card: one run on one card cannot measure it (compare of the same profile on several cards can)
  snprintf(b->card_basis, sizeof b->card_basis, "%s", LJ_BUDGET_NOT_MEASURED);
  snprintf(b->source_basis, sizeof b->source_basis, "%s", LJ_BUDGET_NOT_MEASURED);
}

// Fills the trial, idle and edge terms from their figures and the combination's sum.
static void set_terms(lj_budget *b, const lj_budget_idle_model *m, double trial_j, const lj_budget_sum *x) {
  b->trial_j = isfinite(trial_j) ? fabs(trial_j) : NAN;
  if (isfinite(b->trial_j)) snprintf(b->trial_basis, sizeof b->trial_basis, "%s", LJ_BUDGET_MEASURED);
  b->idle_j = lj_budget_idle_j(m, x);
  snprintf(b->idle_basis, sizeof b->idle_basis, "%s", m->curve ? LJ_BUDGET_MEASURED : LJ_BUDGET_BOUND);
  b->edge_j = x->edge != 0 ? fabs(x->edge) : NAN;
  if (isfinite(b->edge_j)) snprintf(b->edge_basis, sizeof b->edge_basis, "%s", LJ_BUDGET_BOUND);
  lj_budget_total(b);
}

static double half_width(const lj_mean_ci *c) { return c->n >= 2 ? (c->hi - c->lo) / 2 : NAN; }

// Per call of a set of trials: mean time, mean temperature (NAN: none), and the edge bound of the
// set's mean (each window's bound per call, averaged: a bias of one sign does not average out);
// at tensor-parallel degree > 1 also each GPU's mean temperature over its own reading of them.
typedef struct {
  int n;
  double time_s, temp_c, edge_j;
  double gpu_temp_c[LJ_PROFILE_MAX_RANKS];
} trial_set;

// The mean of sum over n readings (NAN: none).
static double mean_of(double sum, int n) { return n ? sum / n : NAN; }

// stage -1, kv -1, variant -1, layer -2: any.
static trial_set set_of(const lj_profile_result *r, lj_profile_method m, lj_phase ph, int stage, int64_t kv,
                        int variant, int layer, int samples) {
  trial_set s = {0};
  int n_temp = 0, n_gpu_temp[LJ_PROFILE_MAX_RANKS] = {0};
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != m || t->key.phase != ph || t->groups != 0 || (stage >= 0 && (int)t->key.stage != stage) ||
        (kv >= 0 && t->key.kv_len != kv) || (variant >= 0 && t->variant != variant) ||
        (layer >= -1 && t->key.layer != layer) || !(t->t.calls > 0) || !(t->t.duration_s > 0))
      continue;
    int by_samples = samples && isfinite(t->t.sample_energy_j);
    double dyn = (by_samples ? t->t.sample_energy_j : t->t.counter_energy_j) - t->t.idle_w * t->t.duration_s;
    double e = lj_budget_window_edge_j(dyn, t->t.duration_s, by_samples);
    if (!isfinite(e)) continue;
    s.n++;
    s.time_s += t->t.duration_s / (double)t->t.calls;
    s.edge_j += e / (double)t->t.calls;
    if (isfinite(t->t.temperature_c)) s.temp_c += t->t.temperature_c, n_temp++;
    for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++) {  // trial i as GPU k read it
      const lj_profile_rank *rk = &r->ranks[k];
      double g = rk->n_trials == r->n_trials ? rk->trials[i].t.temperature_c : NAN;
      if (isfinite(g)) s.gpu_temp_c[k] += g, n_gpu_temp[k]++;
    }
  }
  if (s.n) s.time_s /= s.n, s.edge_j /= s.n;
  else s.time_s = s.edge_j = NAN;
  s.temp_c = mean_of(s.temp_c, n_temp);
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) s.gpu_temp_c[k] = mean_of(s.gpu_temp_c[k], n_gpu_temp[k]);
  return s;
}

static double mid_temperature(const lj_replay_estimate *e) {
  return isfinite(e->temperature_min_c) && isfinite(e->temperature_max_c)
             ? (e->temperature_min_c + e->temperature_max_c) / 2
             : NAN;
}

static int order_index(lj_stage st) {
  for (int k = 0; k < LJ_LAYER_STAGES; k++)
    if (lj_layer_order_stage(0, k) == st) return k;
  return -1;
}

// The edge bound per call of a stage estimate, from the windows its method differences.
static double stage_edge(const lj_profile_result *r, const lj_profile_stage *s, const double *stage_edges) {
  const lj_replay_estimate *e = &s->est;
  int samples = (e->window_flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
  lj_phase ph = e->key.phase;
  if (s->method == LJ_METHOD_ISOLATION)
    return set_of(r, LJ_METHOD_ISOLATION, ph, (int)e->key.stage, e->key.kv_len, -1, -2, samples).edge_j;
  if (s->method == LJ_METHOD_SEQUENCE) {
    double a = set_of(r, LJ_METHOD_SEQUENCE, ph, (int)e->key.stage, e->key.kv_len, -1, -2, samples).edge_j;
    int k = order_index(e->key.stage);
    double b = k > 0 ? set_of(r, LJ_METHOD_SEQUENCE, ph, (int)lj_layer_order_stage(0, k - 1), e->key.kv_len, -1, -2,
                              samples).edge_j
                     : 0;
    return a - b;  // what each prefix under-reads: the difference's
  }
  if (s->method == LJ_METHOD_SHAPLEY) {  // (isolation + whole layer - layer without it) / 2
    const lj_profile_stage *iso = lj_analyze_find_stage(r, LJ_METHOD_ISOLATION, ph, e->key.stage, e->key.kv_len);
    double a = iso ? stage_edges[iso - r->stages] : NAN;
    double f = set_of(r, LJ_METHOD_LOO, ph, LJ_STAGE_NONE, e->key.kv_len, -1, -2, samples).edge_j;
    double l = set_of(r, LJ_METHOD_LOO, ph, (int)e->key.stage, e->key.kv_len, 0, -2, samples).edge_j;
    return 0.5 * (a + f - l);
  }
  if (s->method == LJ_METHOD_SHAPLEY_LAYER) {  // the layer's own game: about its marginal's, whole layer - without it
    double f = set_of(r, LJ_METHOD_LOO, ph, LJ_STAGE_NONE, e->key.kv_len, -1, -2, samples).edge_j;
    double l = set_of(r, LJ_METHOD_LOO, ph, (int)e->key.stage, e->key.kv_len, 0, -2, samples).edge_j;
    return f - l;
  }
  return NAN;
}

// The phase's per-unit figures: mean temperature of its windows and the edge bound of its mean.
static void phase_windows(const lj_profile_result *r, lj_phase ph, double *temp_c, double *edge_j) {
  int samples = (r->phases[ph].window_flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
  double t = 0, e = 0;
  int nt = 0, ne = 0;
  for (size_t i = 0; i < r->n_windows; i++) {
    const lj_phase_window *w = &r->windows[i];
    if (w->phase != ph || !(w->units > 0)) continue;
    if (isfinite(w->temperature_c)) t += w->temperature_c, nt++;
    double x = lj_budget_window_edge_j(samples ? w->w.sample_above_idle_j : w->w.counter_above_idle_j,
                                       w->w.duration_s, samples);
    if (isfinite(x)) e += x / (double)w->units, ne++;
  }
  *temp_c = mean_of(t, nt);
  *edge_j = mean_of(e, ne);
}

// The offset between the two sources over phase ph's windows: |mean of (counter - samples)| gross per
// unit over the windows that have both (NAN: none). The energy counter and the driver's power samples
// read the same windows and neither is the truth: their offset is a systematic that the chosen
// source's spread over the repeats does not show (H100: 0.35-0.7% in default profiles).
static double phase_source_offset(const lj_profile_result *r, lj_phase ph) {
  double d[64];
  size_t n = lj_phase_source_differences(r->windows, r->n_windows, (int)ph, d, 64);
  return n ? fabs(lj_stats_mean(d, n)) : NAN;
}

typedef struct {
  lj_profile_result *r;
  lj_budget_idle_model m;
  double *stage_edge;  // per r->stages[i]
  double phase_temp[LJ_PHASE_COUNT], phase_edge[LJ_PHASE_COUNT];
} ctx;

// GPU k's own estimate of what s estimates (tensor-parallel degree > 1); NULL: none.
static const lj_profile_stage *gpu_stage(const lj_profile_result *r, int k, const lj_profile_stage *s) {
  const lj_profile_rank *rk = &r->ranks[k];
  for (size_t i = 0; i < rk->n_stages; i++) {
    const lj_profile_stage *g = &rk->stages[i];
    if (g->method == s->method && g->est.key.phase == s->est.key.phase && g->est.key.stage == s->est.key.stage &&
        g->est.key.kv_len == s->est.key.kv_len && g->est.key.layer == s->est.key.layer)
      return g;
  }
  return NULL;
}

// A term's temperature on each GPU (c->m.n_gpus), or the run's as the one GPU's (t[0]).
static void add_term(ctx *c, lj_budget_sum *x, double coef, double t_s, double run_temp_c, const double *gpu_temp_c,
                     double edge_j) {
  double t[LJ_PROFILE_MAX_RANKS];
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) t[k] = c->m.n_gpus ? gpu_temp_c[k] : run_temp_c;
  lj_budget_add_gpus(x, &c->m, coef, t_s, t, edge_j);
}

static void add_stage_term(ctx *c, lj_budget_sum *x, double coef, const lj_profile_stage *s) {
  double g[LJ_PROFILE_MAX_RANKS];
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) {
    const lj_profile_stage *own = k < c->m.n_gpus ? gpu_stage(c->r, k, s) : NULL;
    g[k] = own ? mid_temperature(&own->est) : NAN;
  }
  add_term(c, x, coef, s->est.time_per_call_s.mean, mid_temperature(&s->est), g, c->stage_edge[s - c->r->stages]);
}

static void add_set(ctx *c, lj_budget_sum *x, double coef, trial_set s) {
  if (s.n) add_term(c, x, coef, s.time_s, s.temp_c, s.gpu_temp_c, s.edge_j);
}

// The phase's windows as a term: per unit, at their mean temperature (each GPU's own over them).
static void add_phase_term(ctx *c, lj_budget_sum *x, double coef, lj_phase ph) {
  double g[LJ_PROFILE_MAX_RANKS];
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) g[k] = c->r->ranks[k].phase_temperature_c[ph];
  add_term(c, x, coef, c->r->phases[ph].time_s.mean, c->phase_temp[ph], g, c->phase_edge[ph]);
}

static int phases(ctx *c) {
  lj_profile_result *r = c->r;
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    const lj_phase_summary *s = &r->phases[ph];
    if (!(s->dynamic_j.n > 0) || !isfinite(s->dynamic_j.mean)) continue;
    lj_budget b;
    lj_budget_init(&b, "phase", (lj_phase)ph, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
    b.value_j = b.reference_j = s->dynamic_j.mean;
    lj_budget_sum x = {0};
    add_phase_term(c, &x, 1, (lj_phase)ph);
    b.source_j = phase_source_offset(r, (lj_phase)ph);
    if (isfinite(b.source_j)) snprintf(b.source_basis, sizeof b.source_basis, "%s", LJ_BUDGET_MEASURED);
    set_terms(&b, &c->m, half_width(&s->dynamic_j), &x);
    LJ_TRY(lj_profile_add_budget(r, &b));
    if (!(s->tokens_per_unit > 0)) continue;
    double k = 1.0 / (double)s->tokens_per_unit;  // J/token: every term scales with the estimate
    snprintf(b.kind, sizeof b.kind, "j_per_token");
    b.value_j *= k, b.reference_j *= k, b.trial_j *= k, b.idle_j *= k, b.edge_j *= k, b.source_j *= k;
    b.total_j *= k;
    LJ_TRY(lj_profile_add_budget(r, &b));
  }
  return 0;
}

static int stages(ctx *c) {
  lj_profile_result *r = c->r;
  for (size_t i = 0; i < r->n_stages; i++) c->stage_edge[i] = NAN;
  // isolation first: Shapley's edges include its isolation estimate's
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < r->n_stages; i++)
      if ((r->stages[i].method == LJ_METHOD_SHAPLEY) == pass) c->stage_edge[i] = stage_edge(r, &r->stages[i], c->stage_edge);
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *s = &r->stages[i];
    if (!(s->est.dynamic_j.n > 0)) continue;
    lj_budget b;
    lj_budget_init(&b, "stage", s->est.key.phase, s->method, s->est.key.stage);
    b.layer = s->est.key.layer, b.kv_len = s->est.key.kv_len;
    b.value_j = b.reference_j = s->est.dynamic_j.mean;
    lj_budget_sum x = {0};
    add_stage_term(c, &x, 1, s);
    set_terms(&b, &c->m, half_width(&s->est.dynamic_j), &x);
    LJ_TRY(lj_profile_add_budget(r, &b));
  }
  return 0;
}

static int layers(ctx *c) {
  lj_profile_result *r = c->r;
  for (size_t i = 0; i < r->n_layers; i++) {
    const lj_layer_estimate *l = &r->layers[i];
    if (!(l->dynamic_j.n > 0)) continue;
    int samples = (l->flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
    trial_set s = set_of(r, LJ_METHOD_LAYER, l->phase, -1, -1, -1, l->layer, samples);
    lj_budget b;
    lj_budget_init(&b, "layer", l->phase, LJ_METHOD_LAYER, LJ_STAGE_NONE);
    b.layer = l->layer, b.kv_len = l->kv_len;
    b.value_j = b.reference_j = l->dynamic_j.mean;
    lj_budget_sum x = {0};
    add_term(c, &x, 1, l->time_s.mean, s.temp_c, s.gpu_temp_c, s.edge_j);
    set_terms(&b, &c->m, half_width(&l->dynamic_j), &x);
    LJ_TRY(lj_profile_add_budget(r, &b));
  }
  return 0;
}

static const char *source_name(int samples) { return samples ? "power samples" : "energy counter"; }

// A closure whose phase took one source and a summed stage term the other compares two instruments:
// their offset is then in the closure's error, so it is the budget's source term. The offset is the
// windows' gross one; a window subtracts one idle x time from both sources, so the dynamic offset
// the closure sees equals it to within the two idle figures (each instrument's reading of idle).
static void mixed_sources(lj_profile_result *r, lj_budget *b, int phase_samples, int by_samples, int by_counter) {
  b->source_j = phase_source_offset(r, b->phase);
  if (isfinite(b->source_j)) snprintf(b->source_basis, sizeof b->source_basis, "%s", LJ_BUDGET_MEASURED);
  // a tensor-parallel GPU's own analysis has no phase windows of its own: the sum's note says it
  if (r->n_windows == 0) return;
  char stages[96];
  if (by_samples && by_counter)
    snprintf(stages, sizeof stages, "both (%d by the power samples, %d by the energy counter)", by_samples, by_counter);
  else
    snprintf(stages, sizeof stages, "the %s", source_name(by_samples > 0));
  char head[32];
  snprintf(head, sizeof head, "%s", lj_phase_name(b->phase));
  head[0] = (char)toupper((unsigned char)head[0]);  // a sentence among the run's notes
  lj_profile_note(r, "%s closure %s: the phase by the %s, its stages by %s; %s.", head,
                  lj_profile_method_name(b->method), source_name(phase_samples), stages,
                  isfinite(b->source_j) ? "the budget's source term carries their offset"
                                        : "their offset is not measured (no phase window has both)");
}

// predicted - measured: the method's terms against the phase windows (what both subtract cancels).
static int closures(ctx *c) {
  lj_profile_result *r = c->r;
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++) {
      const lj_closure *cl = lj_profile_closure_of(r, (lj_phase)ph, (lj_profile_method)m);
      if (cl->n_terms <= 0 || !isfinite(cl->measured_dynamic_j)) continue;
      lj_budget b;
      lj_budget_init(&b, "closure", (lj_phase)ph, (lj_profile_method)m, LJ_STAGE_NONE);
      b.value_j = cl->predicted_dynamic_j.estimate - cl->measured_dynamic_j;
      b.reference_j = cl->measured_dynamic_j;
      lj_budget_sum x = {0};
      int by_samples = 0, by_counter = 0;
      for (size_t i = 0; i < r->n_stages; i++) {
        const lj_profile_stage *st = &r->stages[i];
        if ((int)st->est.key.phase != ph || !(st->calls_per_unit > 0) ||
            !lj_profile_stage_in_method(r, st, (lj_profile_method)m))
          continue;
        add_stage_term(c, &x, st->calls_per_unit, st);
        if (st->est.window_flags & LJ_WINDOW_SAMPLE_ENERGY) by_samples++;
        else by_counter++;
      }
      add_phase_term(c, &x, -1, (lj_phase)ph);
      int phase_samples = (r->phases[ph].window_flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
      if (phase_samples ? by_counter : by_samples) mixed_sources(r, &b, phase_samples, by_samples, by_counter);
      double trial = (cl->error_dynamic_hi_pct - cl->error_dynamic_lo_pct) / 2 / 100 * fabs(cl->measured_dynamic_j);
      set_terms(&b, &c->m, trial, &x);
      LJ_TRY(lj_profile_add_budget(r, &b));
    }
  return 0;
}

// The residual sum phi - layer = (sum isolation + (n - 2) layer - sum layer without i) / 2.
static int shapley(ctx *c) {
  lj_profile_result *r = c->r;
  for (int ph = 0; ph < LJ_PHASE_COUNT; ph++) {
    const lj_shapley_check *sc = &r->shapley[ph];
    if (sc->n_rounds <= 0) continue;
    int samples = (sc->flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
    lj_budget b;
    lj_budget_init(&b, "shapley", (lj_phase)ph, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE);
    b.kv_len = sc->kv_len;
    b.value_j = sc->residual_j.estimate, b.reference_j = sc->full_j.mean;
    lj_budget_sum x = {0};
    for (int k = 0; k < lj_layer_stages(r->plan.tp_degree); k++) {  // the all-reduce stages at degree > 1
      lj_stage st = lj_layer_order_stage_tp(0, k, r->plan.tp_degree);
      const lj_profile_stage *iso = lj_analyze_find_stage(r, LJ_METHOD_ISOLATION, (lj_phase)ph, st, sc->kv_len);
      if (iso) add_stage_term(c, &x, 0.5, iso);
      add_set(c, &x, -0.5, set_of(r, LJ_METHOD_LOO, (lj_phase)ph, (int)st, sc->kv_len, 0, -2, samples));
    }
    add_set(c, &x, (sc->n_stages - 2) / 2.0, set_of(r, LJ_METHOD_LOO, (lj_phase)ph, LJ_STAGE_NONE, sc->kv_len, -1, -2, samples));
    double trial = (sc->residual_hi_pct - sc->residual_lo_pct) / 2 / 100 * fabs(sc->full_j.mean);
    set_terms(&b, &c->m, trial, &x);
    LJ_TRY(lj_profile_add_budget(r, &b));
    // the headline follows the verdict on the whole budget: PASS only with the total interval inside
    double t = lj_budget_total_pct(&b);
    if (sc->pass && isfinite(t)) r->shapley[ph].pass = fabs(sc->residual_pct) + t <= LJ_SHAPLEY_TARGET_PCT;
  }
  return 0;
}

// estimate - truth, both from the calibration copy's trials (analyze_known_answer.c).
static int known(ctx *c) {
  lj_profile_result *r = c->r;
  for (int i = 0; i < r->n_known; i++) {
    const lj_known_answer *k = &r->known[i];
    int samples = (k->flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
    lj_phase ph = k->phase;
    lj_budget b;
    lj_budget_init(&b, "known_answer", ph, k->method, LJ_STAGE_NONE);
    b.value_j = k->estimate_j.estimate - k->truth_j.mean, b.reference_j = k->truth_j.mean;
    lj_budget_sum x = {0};
    add_set(c, &x, -1, set_of(r, LJ_METHOD_KNOWN, ph, LJ_STAGE_NONE, -1, LJ_KNOWN_ALONE_LONG, -2, samples));
    double alone = k->method == LJ_METHOD_ISOLATION ? 1 : k->method == LJ_METHOD_SHAPLEY ? 0.5 : 0;
    double with = k->method == LJ_METHOD_ISOLATION ? 0 : k->method == LJ_METHOD_SHAPLEY ? 0.5 : 1;
    int st = k->method == LJ_METHOD_SEQUENCE ? LJ_STAGE_O_PROJ : LJ_STAGE_DOWN;
    if (alone > 0) add_set(c, &x, alone, set_of(r, LJ_METHOD_KNOWN, ph, LJ_STAGE_NONE, -1, LJ_KNOWN_ALONE, -2, samples));
    if (with > 0) {
      add_set(c, &x, with, set_of(r, LJ_METHOD_KNOWN, ph, st, -1, LJ_KNOWN_WITH, -2, samples));
      add_set(c, &x, -with, set_of(r, LJ_METHOD_KNOWN, ph, st, -1, LJ_KNOWN_WITHOUT, -2, samples));
    }
    double trial = (k->error_hi_pct - k->error_lo_pct) / 2 / 100 * fabs(k->truth_j.mean);
    set_terms(&b, &c->m, trial, &x);
    LJ_TRY(lj_profile_add_budget(r, &b));
  }
  return 0;
}

static int in_group(lj_stage skipped, lj_stage s) {
  if (skipped == LJ_STAGE_ATTN) return s == LJ_STAGE_ATTN;
  return s == LJ_STAGE_GATE_UP || s == LJ_STAGE_SWIGLU || s == LJ_STAGE_DOWN;
}

// saved - replay: the saved energy's pairs (an ablated window and the full ones around it) against the
// method's estimates of the skipped stages. The time saved is taken as the estimates' (what the
// ablation assumes), at an unknown temperature.
static int ablations(ctx *c) {
  lj_profile_result *r = c->r;
  for (int i = 0; i < r->n_ablation_checks; i++) {
    const lj_ablation_check *ac = &r->ablation_checks[i];
    const lj_ablation *a = &ac->a;
    lj_budget b;
    lj_budget_init(&b, "ablation", ac->phase, ac->method, a->stage);
    b.value_j = a->saved_j.estimate - a->replay_j.estimate, b.reference_j = a->replay_j.estimate;
    lj_budget_sum x = {0};
    double saved_s = 0;
    for (size_t k = 0; k < r->n_stages; k++) {
      const lj_profile_stage *s = &r->stages[k];
      if (s->est.key.phase != ac->phase || s->method != ac->method || !in_group(a->stage, s->est.key.stage) ||
          !(s->calls_per_unit > 0))
        continue;
      add_stage_term(c, &x, -s->calls_per_unit, s);
      if (isfinite(s->est.time_per_call_s.mean)) saved_s += s->calls_per_unit * s->est.time_per_call_s.mean;
    }
    // full and ablated windows of one length: each under-reads the same fraction of its energy
    const lj_phase_summary *ps = &r->phases[ac->phase];
    double saved_edge = ps->dynamic_j.n > 0 && fabs(ps->dynamic_j.mean) > 0
                            ? c->phase_edge[ac->phase] * a->saved_j.estimate / ps->dynamic_j.mean
                            : NAN;
    lj_budget_add(&x, &c->m, 1, saved_s, NAN, saved_edge);
    double trial = (a->ratio.hi - a->ratio.lo) / 2 * fabs(a->replay_j.estimate);
    set_terms(&b, &c->m, trial, &x);
    LJ_TRY(lj_profile_add_budget(r, &b));
  }
  return 0;
}

int lj_analyze_budgets(lj_profile_result *r) {
  r->n_budgets = 0;
  ctx c;
  memset(&c, 0, sizeof c);
  c.r = r;
  lj_budget_idle_model_of(r, &c.m);
  for (int ph = 0; ph < LJ_PHASE_COUNT; ph++) phase_windows(r, (lj_phase)ph, &c.phase_temp[ph], &c.phase_edge[ph]);
  double one = NAN;
  c.stage_edge = r->n_stages ? malloc(r->n_stages * sizeof *c.stage_edge) : &one;
  if (!c.stage_edge) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory for the uncertainty budgets");
  int rc = phases(&c);
  if (rc == 0) rc = stages(&c);
  if (rc == 0) rc = layers(&c);
  if (rc == 0) rc = closures(&c);
  if (rc == 0) rc = shapley(&c);
  if (rc == 0) rc = known(&c);
  if (rc == 0) rc = ablations(&c);
  if (r->n_stages) free(c.stage_edge);
  // a Shapley check the budget no longer passes changes the phase's headline method: its shares too
  for (size_t i = 0; rc == 0 && i < r->n_stages; i++) {
    r->stages[i].share_gross = lj_profile_stage_share(r, &r->stages[i], 0);
    r->stages[i].share_dynamic = lj_profile_stage_share(r, &r->stages[i], 1);
  }
  return rc;
}
