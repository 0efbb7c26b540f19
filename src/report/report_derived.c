// Derived figures shared by the text and JSON reports (profile_report_derived.h).
#include "report/report_derived.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/profile_result.h"

int lj_report_phase_gpu_idle(lj_phase p) { return p == LJ_PHASE_TOKENIZE || p == LJ_PHASE_DETOKENIZE; }

void lj_report_phase_view(const lj_profile_result *r, lj_phase p, lj_phase_summary *out) {
  *out = r->phases[p];
  out->phase = p;
  if (!lj_report_phase_gpu_idle(p)) return;
  double level = out->dynamic_j.level;
  memset(&out->dynamic_j, 0, sizeof out->dynamic_j);
  out->dynamic_j.mean = out->dynamic_j.stddev = out->dynamic_j.half_width = out->dynamic_j.lo = out->dynamic_j.hi =
      out->dynamic_j.cv = out->dynamic_j.sem = out->dynamic_j.df = NAN;
  out->dynamic_j.level = level;
  out->dynamic_j_per_token = out->tokens_per_dynamic_j = NAN;
}

double lj_report_phase_counter_gross_j(const lj_profile_result *r, lj_phase p) {
  if (!(r->phases[p].window_flags & LJ_WINDOW_SAMPLE_ENERGY)) return r->phases[p].gross_j.mean;
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < r->n_windows; i++) {
    const lj_phase_window *w = &r->windows[i];
    if (w->phase != p || !(w->units > 0) || (w->w.flags & LJ_WINDOW_NO_COUNTER) || !isfinite(w->w.counter_energy_j))
      continue;
    sum += w->w.counter_energy_j / (double)w->units, n++;
  }
  return n ? sum / n : NAN;
}

static double phase_energy(const lj_profile_result *r, lj_phase p, int dynamic) {
  const lj_phase_summary *s = &r->phases[p];
  if (dynamic && lj_report_phase_gpu_idle(p)) return NAN;
  return dynamic ? s->dynamic_j.mean : s->gross_j.mean;
}

double lj_report_phase_total_j(const lj_profile_result *r, int dynamic) {
  double total = 0;
  int any = 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    double e = phase_energy(r, (lj_phase)p, dynamic);
    if (r->phases[p].n > 0 && isfinite(e)) total += e, any = 1;
  }
  return any ? total : NAN;
}

double lj_report_phase_share(const lj_profile_result *r, lj_phase p, int dynamic) {
  double total = lj_report_phase_total_j(r, dynamic), e = phase_energy(r, p, dynamic);
  if (r->phases[p].n <= 0 || !isfinite(e) || !isfinite(total) || total == 0) return NAN;
  return e / total;
}

const lj_phase_summary *lj_report_rank_row(const lj_profile_result *r, int k, lj_phase p, double *share) {
  const lj_phase_summary *sum = &r->phases[p], *s = k < r->n_ranks ? &r->rank_phases[k][p] : sum;
  *share = NAN;
  if (sum->n <= 0 || s->n <= 0) return NULL;
  if (s->gross_j.n > 0 && sum->gross_j.n > 0 && sum->gross_j.mean != 0) *share = s->gross_j.mean / sum->gross_j.mean;
  return s;
}

static void undefined_interval(lj_interval *i) {
  i->estimate = i->se = i->df = i->lo = i->hi = NAN;
  i->level = NAN;
}

int lj_report_group_sum(const lj_profile_result *r, lj_phase p, lj_stage_group g, lj_report_group *out) {
  return lj_report_group_sum_by(r, p, g, lj_stage_group_of, lj_profile_reported_method(r, p), out);
}

int lj_report_group_sum_by(const lj_profile_result *r, lj_phase p, lj_stage_group g,
                           lj_stage_group (*group_of)(lj_stage), lj_profile_method m, lj_report_group *out) {
  memset(out, 0, sizeof *out);
  undefined_interval(&out->dynamic_j);
  undefined_interval(&out->gross_j);
  out->share_dynamic = out->share_gross = out->time_s = NAN;
  size_t k = 0;
  for (size_t i = 0; i < r->n_stages; i++)
    if (r->stages[i].est.key.phase == p && group_of(r->stages[i].est.key.stage) == g &&
        lj_profile_stage_in_method(r, &r->stages[i], m))
      k++;
  if (!k) return 0;
  double *coef = malloc(k * sizeof *coef);
  lj_mean_ci *dyn = malloc(k * sizeof *dyn), *gross = malloc(k * sizeof *gross);
  if (!coef || !dyn || !gross) {
    free(coef), free(dyn), free(gross);
    return LJ_FAIL(LJ_ENOMEM, "report: out of memory summing %zu stage estimates", k);
  }
  double share_d = 0, share_g = 0, time = 0;
  size_t j = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *s = &r->stages[i];
    if (s->est.key.phase != p || group_of(s->est.key.stage) != g || !lj_profile_stage_in_method(r, s, m))
      continue;
    coef[j] = s->calls_per_unit;
    dyn[j] = s->est.dynamic_j;
    gross[j] = s->est.gross_j;
    share_d += lj_profile_stage_share(r, s, 1);  // NAN in any estimate makes the sum NAN: unknown, not partial
    share_g += lj_profile_stage_share(r, s, 0);
    time += s->calls_per_unit * (s->est.time_per_call_s.n > 0 ? s->est.time_per_call_s.mean : NAN);
    j++;
  }
  double level = r->plan.level > 0 && r->plan.level < 1 ? r->plan.level : 0.95;
  int rc = lj_stats_linear_combination(coef, dyn, k, level, &out->dynamic_j);
  if (rc == 0) rc = lj_stats_linear_combination(coef, gross, k, level, &out->gross_j);
  free(coef), free(dyn), free(gross);
  LJ_TRY(rc);
  out->n_estimates = (int)k;
  out->share_dynamic = share_d;
  out->share_gross = share_g;
  out->time_s = time;
  return 0;
}

int lj_report_comm_per_token(const lj_profile_result *r, lj_phase p, lj_interval *j_per_token, double *s_per_token) {
  undefined_interval(j_per_token);
  *s_per_token = NAN;
  lj_report_group g;
  LJ_TRY(lj_report_group_sum(r, p, LJ_GROUP_COMM, &g));
  int64_t tokens = r->phases[p].tokens_per_unit;
  if (!g.n_estimates || tokens <= 0) return 0;
  *j_per_token = g.dynamic_j;
  j_per_token->estimate /= (double)tokens, j_per_token->se /= (double)tokens;
  j_per_token->lo /= (double)tokens, j_per_token->hi /= (double)tokens;
  *s_per_token = g.time_s / (double)tokens;
  return 1;
}

double lj_report_replay_share(const lj_profile_result *r, lj_phase p, lj_stage s) {
  double sum = 0;
  int any = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *e = &r->stages[i];
    if (e->est.key.phase == p && e->est.key.stage == s &&
        lj_profile_stage_in_method(r, e, lj_profile_reported_method(r, p)))
      sum += lj_profile_stage_share(r, e, 1), any = 1;
  }
  return any ? sum : NAN;
}

void lj_report_stage_efficiency(const lj_profile_stage *s, lj_stage_efficiency *out) {
  *out = s->eff;
  if (!(s->est.dynamic_j.n > 0 && s->est.dynamic_j.mean > 0))
    out->j_per_flop = out->j_per_flop_lo = out->j_per_flop_hi = out->j_per_byte = out->j_per_byte_lo =
        out->j_per_byte_hi = out->flops_per_j = out->bytes_per_j = NAN;
}

size_t lj_report_stage_count(const lj_profile_result *r, lj_phase p) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_stages; i++) n += r->stages[i].est.key.phase == p;
  return n;
}

const char *lj_report_bound(const lj_stage_cost *c) {
  if (c->link_bytes > 0) return "link";  // an all-reduce: its bytes cross NVLink, not HBM
  if (c->bytes <= 0 || !isfinite(c->flops_per_byte)) return NULL;
  return c->flops_per_byte < LJ_REPORT_RIDGE_FLOP_PER_BYTE ? "memory" : "compute";
}

void lj_report_budget_range(const lj_budget *b, double pct, double *lo_pct, double *hi_pct) {
  double t = lj_budget_total_pct(b);
  if (!isfinite(t) || !isfinite(pct)) return;
  *lo_pct = pct - t, *hi_pct = pct + t;
}

// The verdict on pct with the budget of (kind, phase, method, stage) where r has one.
static lj_verdict budget_verdict(const lj_profile_result *r, const char *kind, lj_phase p, lj_profile_method m,
                                         lj_stage s, double pct, double lo, double hi, double target) {
  if (r) lj_report_budget_range(lj_profile_budget_of(r, kind, p, m, s), pct, &lo, &hi);
  return lj_interval_verdict(pct, lo, hi, target);
}

void lj_report_closure_range(const lj_profile_result *r, const lj_closure *c, lj_profile_method m, double *lo_pct,
                             double *hi_pct) {
  *lo_pct = c->error_dynamic_lo_pct, *hi_pct = c->error_dynamic_hi_pct;
  if (r) lj_report_budget_range(lj_profile_budget_of(r, "closure", c->phase, m, LJ_STAGE_NONE), c->error_dynamic_pct,
                                lo_pct, hi_pct);
}

lj_verdict lj_report_closure_verdict(const lj_profile_result *r, const lj_closure *c, lj_profile_method m) {
  if (c->n_terms <= 0) return LJ_VERDICT_NONE;
  double lo, hi;
  lj_report_closure_range(r, c, m, &lo, &hi);
  return lj_interval_verdict(c->error_dynamic_pct, lo, hi, LJ_REPORT_CLOSURE_TARGET_PCT);
}

lj_verdict lj_report_shapley_verdict(const lj_profile_result *r, const lj_shapley_check *c) {
  if (c->n_rounds <= 0) return LJ_VERDICT_NONE;
  // A layer of no dynamic energy has no percentages to judge (the analysis did not pass it either).
  if (!(c->full_j.mean > 0)) return LJ_VERDICT_MISS;
  return budget_verdict(r, "shapley", c->phase, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE, c->residual_pct,
                        c->residual_lo_pct, c->residual_hi_pct, LJ_REPORT_CLOSURE_TARGET_PCT);
}

static const lj_budget *rank_shapley_budget(const lj_profile_rank *rk, const lj_shapley_check *c) {
  return lj_budget_find(rk->budgets, rk->n_budgets, "shapley", c->phase, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE);
}

lj_verdict lj_report_rank_shapley_verdict(const lj_profile_rank *rk, const lj_shapley_check *c) {
  if (c->n_rounds <= 0) return LJ_VERDICT_NONE;
  if (!(c->full_j.mean > 0)) return LJ_VERDICT_MISS;
  double lo = c->residual_lo_pct, hi = c->residual_hi_pct;
  const lj_budget *b = rank_shapley_budget(rk, c);
  if (b) lj_report_budget_range(b, c->residual_pct, &lo, &hi);
  lj_verdict v = lj_interval_verdict(c->residual_pct, lo, hi, LJ_REPORT_CLOSURE_TARGET_PCT);
  if (b) return v;
  if (c->pass) return LJ_VERDICT_PASS;
  return v == LJ_VERDICT_PASS ? LJ_VERDICT_INCONCLUSIVE : v;  // within on the trials, not with the budget
}

void lj_report_gpu_check_of(const lj_profile_result *r, int k, lj_phase p, lj_report_gpu_check *out) {
  const lj_profile_rank *rk = k < r->n_ranks ? &r->ranks[k] : NULL;
  const lj_shapley_check *c = rk ? &rk->shapley[p] : &r->shapley[p];
  out->c = c;
  out->budget = rk ? rank_shapley_budget(rk, c) : lj_profile_budget_of(r, "shapley", p, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE);
  out->budget_pct = lj_budget_total_pct(out->budget);
  out->judged_lo_pct = c->residual_lo_pct, out->judged_hi_pct = c->residual_hi_pct;
  lj_report_budget_range(out->budget, c->residual_pct, &out->judged_lo_pct, &out->judged_hi_pct);
  out->verdict = rk ? lj_report_rank_shapley_verdict(rk, c) : lj_report_shapley_verdict(r, c);
}

lj_verdict lj_report_known_verdict(const lj_profile_result *r, const lj_known_answer *k) {
  return budget_verdict(r, "known_answer", k->phase, k->method, LJ_STAGE_NONE, k->error_pct, k->error_lo_pct,
                        k->error_hi_pct, LJ_REPORT_CHECK_TARGET_PCT);
}

lj_verdict lj_report_ablation_verdict(const lj_profile_result *r, const lj_ablation_check *c) {
  const lj_ablation *a = &c->a;
  return budget_verdict(r, "ablation", c->phase, c->method, a->stage, a->agreement_pct, (a->ratio.lo - 1) * 100,
                        (a->ratio.hi - 1) * 100, LJ_REPORT_CHECK_TARGET_PCT);
}

const char *lj_report_budget_largest(const lj_budget *b, double *half_j) {
  const char *names[4] = {"trial", "idle", "edge", "source"};
  const double v[4] = {b->trial_j, b->idle_j, b->edge_j, b->source_j};
  const char *basis[4] = {b->trial_basis, b->idle_basis, b->edge_basis, b->source_basis};
  const char *best = NULL;
  *half_j = NAN;
  for (int i = 0; i < 4; i++)
    if (lj_budget_basis_counted(basis[i]) && isfinite(v[i]) && (!best || v[i] > *half_j))
      best = names[i], *half_j = v[i];
  return best;
}

void lj_report_layer_skip_range(const lj_layer_skip *s, double *lo_pct, double *hi_pct) {
  // the ratio's (saved / estimate) interval less 1; stores of any version hold it
  *lo_pct = (s->a.ratio.lo - 1) * 100;
  *hi_pct = (s->a.ratio.hi - 1) * 100;
}

lj_verdict lj_report_layer_skip_verdict(const lj_profile_result *r, const lj_layer_skip *s) {
  double lo, hi;
  lj_report_layer_skip_range(s, &lo, &hi);
  lj_verdict v = lj_interval_verdict(s->a.agreement_pct, lo, hi, LJ_LAYER_SKIP_TARGET_PCT);
  // the last layer's saving includes the head's change: without it in the estimate, no proof of the layer
  int lacks = lj_report_layer_skip_head_change(r, s) && !isfinite(s->head_change_j.estimate);
  return v == LJ_VERDICT_PASS && lacks ? LJ_VERDICT_INCONCLUSIVE : v;
}

int lj_report_layer_skip_head_change(const lj_profile_result *r, const lj_layer_skip *s) {
  return r->plan.config.n_layers > 0 && s->layer == r->plan.config.n_layers - 1;
}

int lj_report_closure_pass(const lj_profile_result *r, const lj_closure *c, lj_profile_method m) {
  lj_verdict v = lj_report_closure_verdict(r, c, m);
  return v == LJ_VERDICT_NONE ? -1 : v == LJ_VERDICT_PASS;
}

int lj_report_overhead_pass(const lj_profile_overhead *o) {
  if (!isfinite(o->overhead_pct)) return -1;
  return o->overhead_pct <= LJ_REPORT_OVERHEAD_TARGET_PCT;
}

int lj_report_time_ratio_off(double time_ratio) {
  return isfinite(time_ratio) && fabs(time_ratio - 1) > LJ_REPORT_TIME_RATIO_TOLERANCE;
}

double lj_report_power_limit_w(const lj_profile_result *r) {
  if (r->cond.power_limit_w > 0) return r->cond.power_limit_w;
  return r->cond.device.power_limit_w > 0 ? r->cond.device.power_limit_w : NAN;
}

const char *lj_report_timing_reason(const lj_profile_result *r) {
  if (!strcmp(r->plan.engine, "cpu"))
    return "the CPU engine ran it, and a GPU power meter does not see CPU work";
  return "there was no power source (neither NVML nor nvidia-smi)";
}
