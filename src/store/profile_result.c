// The profile result's arrays, notes, phase summaries and stage groups.
#include "store/profile_result.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static void empty_ci(lj_mean_ci *m) {
  memset(m, 0, sizeof *m);
  m->mean = m->stddev = m->cv = m->sem = m->df = m->half_width = m->lo = m->hi = NAN;
}

const char *lj_plan_fusion(const lj_profile_plan *p) { return p->fusion[0] ? p->fusion : "none"; }
const char *lj_plan_gemv(const lj_profile_plan *p) { return p->gemv[0] ? p->gemv : "defaults"; }

const char *lj_profile_method_name(lj_profile_method m) {
  static const char *const names[LJ_METHOD_ALL_COUNT] = {"isolation", "sequence",     "loo",
                                                         "order",     "known_answer", "shapley",
                                                         "layer",     "layer_stage", "head_grid",
                                                         "shapley_layer"};
  return (unsigned)m < LJ_METHOD_ALL_COUNT ? names[m] : "?";
}

lj_stage lj_layer_order_stage_tp(int variant, int k, int degree) {
  // The orders with both all-reduce stages; at degree 1 they are left out, which leaves each
  // order as it was before the stages existed.
  static const lj_stage orders[LJ_LAYER_ORDERS][LJ_LAYER_STAGES_TP] = {
      {LJ_STAGE_ATTN_NORM, LJ_STAGE_QKV, LJ_STAGE_ROPE, LJ_STAGE_ATTN, LJ_STAGE_O_PROJ, LJ_STAGE_ATTN_ALLREDUCE,
       LJ_STAGE_FFN_NORM, LJ_STAGE_GATE_UP, LJ_STAGE_SWIGLU, LJ_STAGE_DOWN, LJ_STAGE_MLP_ALLREDUCE},
      {LJ_STAGE_MLP_ALLREDUCE, LJ_STAGE_DOWN, LJ_STAGE_SWIGLU, LJ_STAGE_GATE_UP, LJ_STAGE_FFN_NORM,
       LJ_STAGE_ATTN_ALLREDUCE, LJ_STAGE_O_PROJ, LJ_STAGE_ATTN, LJ_STAGE_ROPE, LJ_STAGE_QKV, LJ_STAGE_ATTN_NORM},
      // attention's and the MLP's stages alternated: light and heavy neighbours change
      {LJ_STAGE_ATTN_NORM, LJ_STAGE_FFN_NORM, LJ_STAGE_QKV, LJ_STAGE_GATE_UP, LJ_STAGE_ROPE, LJ_STAGE_SWIGLU,
       LJ_STAGE_ATTN, LJ_STAGE_DOWN, LJ_STAGE_O_PROJ, LJ_STAGE_MLP_ALLREDUCE, LJ_STAGE_ATTN_ALLREDUCE}};
  if ((unsigned)variant >= LJ_LAYER_ORDERS || k < 0 || k >= lj_layer_stages(degree)) return LJ_STAGE_NONE;
  for (int i = 0; i < LJ_LAYER_STAGES_TP; i++)
    if (lj_stage_runs_at_degree(orders[variant][i], degree) && k-- == 0) return orders[variant][i];
  return LJ_STAGE_NONE;
}

lj_stage lj_layer_order_stage(int variant, int k) { return lj_layer_order_stage_tp(variant, k, 1); }

int lj_layer_stages(int degree) { return degree > 1 ? LJ_LAYER_STAGES_TP : LJ_LAYER_STAGES; }

const char *lj_layer_order_name(int variant) {
  static const char *const names[LJ_LAYER_ORDERS] = {"run", "reversed", "interleaved"};
  return (unsigned)variant < LJ_LAYER_ORDERS ? names[variant] : "?";
}

const lj_closure *lj_profile_closure_of(const lj_profile_result *r, lj_phase p, lj_profile_method m) {
  // Shapley's values add up to the whole layer (its additive check): its closure is the whole
  // layer's, the one the sequence closure computes.
  return m == LJ_METHOD_SEQUENCE || m == LJ_METHOD_SHAPLEY || m == LJ_METHOD_SHAPLEY_LAYER ? &r->closure_sequence[p]
                                                                                            : &r->closure[p];
}

static void empty_summary(lj_phase_summary *s, lj_phase p) {
  s->phase = p;
  empty_ci(&s->time_s);
  empty_ci(&s->gross_j);
  empty_ci(&s->dynamic_j);
  empty_ci(&s->sample_gross_j);
  s->gross_j_per_token = s->dynamic_j_per_token = NAN;
  s->tokens_per_gross_j = s->tokens_per_dynamic_j = NAN;
}

int lj_profile_main_rank(const lj_profile_plan *p) { return p->tp_degree > 1 ? -1 : 0; }

void lj_profile_result_init(lj_profile_result *r) {
  memset(r, 0, sizeof *r);
  r->plan.level = 0.95;
  r->plan.tp_degree = 1;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    empty_summary(&r->phases[p], (lj_phase)p);
    for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) empty_summary(&r->rank_phases[k][p], (lj_phase)p);
    r->closure[p].phase = (lj_phase)p;
    r->closure_sequence[p].phase = (lj_phase)p;
  }
  r->cond.idle_w = r->cond.idle_sd_w = NAN;
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) {
    lj_profile_rank *rk = &r->ranks[k];
    rk->idle_w = rk->idle_sd_w = rk->temperature_min_c = rk->temperature_max_c = NAN;
    for (int p = 0; p < LJ_PHASE_COUNT; p++) rk->phase_temperature_c[p] = NAN;
    rk->idle_curve.cool_start_c = rk->idle_curve.cool_end_c = NAN;
  }
  r->stamp_cost_s = NAN;
  r->idle_curve.cool_start_c = r->idle_curve.cool_end_c = NAN;
  r->cond.temperature_min_c = r->cond.sm_clock_min_mhz = r->cond.mem_clock_min_mhz = INFINITY;
  r->cond.temperature_max_c = r->cond.sm_clock_max_mhz = r->cond.mem_clock_max_mhz = -INFINITY;
}

void lj_profile_result_free(lj_profile_result *r) {
  free(r->windows);
  free(r->trials);
  free(r->stages);
  free(r->intervals);
  free(r->interval_energy_j);
  free(r->interval_step);
  free(r->layers);
  free(r->layer_stages);
  free(r->trial_conds);
  free(r->abl_windows);
  free(r->budgets);
  free(r->head_points);
  free(r->head_fits);
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    free(r->layer_energy_j[p]);
    free(r->layer_time_s[p]);
  }
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) {
    free(r->ranks[k].trials);
    free(r->ranks[k].stages);
    free(r->ranks[k].budgets);
  }
  memset(r, 0, sizeof *r);
}

// Grows *arr (elements of `size`) so that index n fits; capacity doubles.
static int grow(void **arr, size_t n, size_t size) {
  if (n != 0 && (n < 16 || (n & (n - 1)) != 0)) return 0;  // room is there
  size_t cap = n < 16 ? 16 : 2 * n;
  void *p = realloc(*arr, cap * size);
  if (!p) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory for %zu results", n + 1);
  *arr = p;
  return 0;
}

int lj_profile_add_window(lj_profile_result *r, const lj_phase_window *w) {
  LJ_TRY(grow((void **)&r->windows, r->n_windows, sizeof *w));
  r->windows[r->n_windows++] = *w;
  return 0;
}

int lj_profile_add_trial(lj_profile_result *r, const lj_profile_trial *t) {
  LJ_TRY(grow((void **)&r->trials, r->n_trials, sizeof *t));
  r->trials[r->n_trials++] = *t;
  return 0;
}

int lj_profile_add_stage(lj_profile_result *r, const lj_profile_stage *s) {
  LJ_TRY(grow((void **)&r->stages, r->n_stages, sizeof *s));
  lj_replay_estimate *e = &r->stages[r->n_stages].est;
  r->stages[r->n_stages++] = *s;
  // An estimate given without its counter figures, and not from the samples, is the counter's.
  if (e->counter_dynamic_j.n == 0 && e->counter_gross_j.n == 0 && !(e->window_flags & LJ_WINDOW_SAMPLE_ENERGY))
    e->counter_gross_j = e->gross_j, e->counter_dynamic_j = e->dynamic_j;
  return 0;
}

int lj_profile_add_interval(lj_profile_result *r, const lj_stage_interval *iv, int step) {
  size_t n = r->n_intervals;
  LJ_TRY(grow((void **)&r->intervals, n, sizeof *iv));
  LJ_TRY(grow((void **)&r->interval_energy_j, n, sizeof(double)));
  LJ_TRY(grow((void **)&r->interval_step, n, sizeof(int)));
  r->intervals[n] = *iv;
  r->interval_energy_j[n] = NAN;
  r->interval_step[n] = step;
  r->n_intervals = n + 1;
  return 0;
}

void lj_profile_note(lj_profile_result *r, const char *fmt, ...) {
  size_t used = strlen(r->notes);
  if (used + 2 >= sizeof r->notes) return;
  if (used) r->notes[used++] = ' ', r->notes[used] = '\0';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->notes + used, sizeof r->notes - used, fmt, ap);
  va_end(ap);
}

// At tensor-parallel degree > 1 every GPU's own additive check must pass too: residuals of opposite
// sign on two GPUs cancel in the sum's.
static int ranks_pass(const lj_profile_result *r, lj_phase p) {
  for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++)
    if (r->ranks[k].shapley[p].n_rounds > 0 && !r->ranks[k].shapley[p].pass) return 0;
  return 1;
}

lj_profile_method lj_profile_reported_method(const lj_profile_result *r, lj_phase p) {
  // the layer's own game where its check passed; the pairwise split kept for one release behind it
  if (r->shapley[p].layer_windows > 0 && !strcmp(r->shapley[p].layer_verdict, "PASS")) return LJ_METHOD_SHAPLEY_LAYER;
  if (r->shapley[p].n_rounds > 0 && r->shapley[p].pass && ranks_pass(r, p)) return LJ_METHOD_SHAPLEY;
  return r->closure_sequence[p].n_terms > 0 ? LJ_METHOD_SEQUENCE : LJ_METHOD_ISOLATION;
}

int lj_profile_stage_in_method(const lj_profile_result *r, const lj_profile_stage *s, lj_profile_method m) {
  if (s->method == m) return 1;
  if (m == LJ_METHOD_ISOLATION || s->method != LJ_METHOD_ISOLATION) return 0;
  // the fallback of the other methods: the isolation estimate of a stage they did not measure
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *c = &r->stages[i];
    if (c->method == m && c->est.key.phase == s->est.key.phase && c->est.key.stage == s->est.key.stage) return 0;
  }
  for (size_t i = 0; i < r->n_stages; i++)
    if (r->stages[i].method == m && r->stages[i].est.key.phase == s->est.key.phase) return 1;
  return 0;
}

static double per_unit(const lj_profile_stage *s, int dynamic) {
  const lj_mean_ci *e = dynamic ? &s->est.dynamic_j : &s->est.gross_j;
  return e->n > 0 ? s->calls_per_unit * e->mean : NAN;
}

double lj_profile_stage_share(const lj_profile_result *r, const lj_profile_stage *s, int dynamic) {
  lj_phase p = s->est.key.phase;
  lj_profile_method m = lj_profile_reported_method(r, p);
  if (!lj_profile_stage_in_method(r, s, m)) return NAN;
  double sum = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *o = &r->stages[i];
    if (o->est.key.phase == p && o->calls_per_unit > 0 && lj_profile_stage_in_method(r, o, m))
      sum += per_unit(o, dynamic);
  }
  return isfinite(sum) && sum != 0 ? per_unit(s, dynamic) / sum : NAN;
}

lj_stage_group lj_stage_group_of(lj_stage s) {
  switch (s) {
    case LJ_STAGE_EMBED: return LJ_GROUP_EMBED;
    case LJ_STAGE_ATTN_NORM:
    case LJ_STAGE_FFN_NORM:
    case LJ_STAGE_FINAL_NORM: return LJ_GROUP_NORMS;
    case LJ_STAGE_QKV:
    case LJ_STAGE_ROPE:
    case LJ_STAGE_ATTN:
    case LJ_STAGE_O_PROJ:
    case LJ_STAGE_ATTN_NORM_QKV:  // a composite goes where its heavy part goes: its norm is inside it
    case LJ_STAGE_O_PROJ_FFN_NORM:
    case LJ_STAGE_ROPE_ATTN: return LJ_GROUP_ATTENTION;
    case LJ_STAGE_GATE_UP:
    case LJ_STAGE_SWIGLU:
    case LJ_STAGE_DOWN:
    case LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU:
    case LJ_STAGE_GATE_UP_SWIGLU: return LJ_GROUP_MLP;
    case LJ_STAGE_ATTN_ALLREDUCE:
    case LJ_STAGE_MLP_ALLREDUCE: return LJ_GROUP_COMM;
    case LJ_STAGE_LM_HEAD: return LJ_GROUP_LM_HEAD;
    default: return LJ_GROUP_SAMPLE;
  }
}

const char *lj_stage_group_name(lj_stage_group g) {
  static const char *const names[LJ_GROUP_COUNT] = {"embed",         "norms",   "attention", "mlp",
                                                     "communication", "lm_head", "sample"};
  return (unsigned)g < LJ_GROUP_COUNT ? names[g] : "?";
}

int lj_profile_add_trial_conditions(lj_profile_result *r, const lj_trial_conditions *c) {
  LJ_TRY(grow((void **)&r->trial_conds, r->n_trial_conds, sizeof *c));
  r->trial_conds[r->n_trial_conds++] = *c;
  return 0;
}

int lj_profile_add_ablation_window(lj_profile_result *r, const lj_ablation_window *w) {
  LJ_TRY(grow((void **)&r->abl_windows, r->n_abl_windows, sizeof *w));
  r->abl_windows[r->n_abl_windows++] = *w;
  return 0;
}

int lj_profile_add_budget(lj_profile_result *r, const lj_budget *b) {
  LJ_TRY(grow((void **)&r->budgets, r->n_budgets, sizeof *b));
  r->budgets[r->n_budgets++] = *b;
  return 0;
}

int lj_profile_add_head_point(lj_profile_result *r, const lj_head_grid_point *p) {
  LJ_TRY(grow((void **)&r->head_points, r->n_head_points, sizeof *p));
  r->head_points[r->n_head_points++] = *p;
  return 0;
}

int lj_profile_add_head_fit(lj_profile_result *r, const lj_head_grid_fit *f) {
  LJ_TRY(grow((void **)&r->head_fits, r->n_head_fits, sizeof *f));
  r->head_fits[r->n_head_fits++] = *f;
  return 0;
}

const lj_budget *lj_budget_find(const lj_budget *b, size_t n, const char *kind, lj_phase p, lj_profile_method m,
                                lj_stage s) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(b[i].kind, kind) && b[i].phase == p && b[i].method == m && (s == LJ_STAGE_NONE || b[i].stage == s))
      return &b[i];
  return NULL;
}

const lj_budget *lj_profile_budget_of(const lj_profile_result *r, const char *kind, lj_phase p, lj_profile_method m,
                                      lj_stage s) {
  return lj_budget_find(r->budgets, r->n_budgets, kind, p, m, s);
}

double lj_budget_total_pct(const lj_budget *b) {
  if (!b || !isfinite(b->total_j) || !(fabs(b->reference_j) > 0)) return NAN;
  return b->total_j / fabs(b->reference_j) * 100;
}

int lj_budget_basis_counted(const char *basis) {
  return basis && basis[0] && strcmp(basis, LJ_BUDGET_NOT_MEASURED) != 0;
}

int lj_profile_add_layer(lj_profile_result *r, const lj_layer_estimate *l) {
  LJ_TRY(grow((void **)&r->layers, r->n_layers, sizeof *l));
  r->layers[r->n_layers++] = *l;
  return 0;
}

int lj_profile_add_layer_stage(lj_profile_result *r, const lj_layer_stage_estimate *l) {
  LJ_TRY(grow((void **)&r->layer_stages, r->n_layer_stages, sizeof *l));
  r->layer_stages[r->n_layer_stages++] = *l;
  return 0;
}

int lj_profile_layer_agreement(const lj_profile_result *r, lj_phase p, int *worst) {
  int verdict = -1, w = -1;
  double worst_t = -1;
  for (size_t i = 0; i < r->n_layers; i++) {
    const lj_layer_estimate *l = &r->layers[i];
    if (l->phase != p) continue;
    if (verdict < 0) verdict = 1;
    if (!l->agrees) verdict = 0;
    if (isfinite(l->t) && fabs(l->t) > worst_t) worst_t = fabs(l->t), w = l->layer;
  }
  if (worst) *worst = w;
  return verdict;
}
