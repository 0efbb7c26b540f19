// The kernel boundaries' cost per token (fusion_cost.h): decode of the unfused run minus decode
// of the fused run, per generated token, as Welch's two-sample interval over their windows.
#include "report/fusion_cost.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "report/report_derived.h"


int lj_fusion_cost_pair(const lj_profile_result *a, const lj_profile_result *b, const lj_profile_result **unfused,
                        const lj_profile_result **fused) {
  const lj_profile_plan *p = &a->plan, *q = &b->plan;
  if (strcmp(p->model_name, q->model_name) || strcmp(p->engine, "cuda") || strcmp(q->engine, "cuda") ||
      strcmp(a->cond.device.name, b->cond.device.name) || strcmp(p->weights, q->weights) || p->batch != q->batch ||
      p->prompt_len != q->prompt_len || p->gen_len != q->gen_len || strcmp(lj_plan_gemv(p), lj_plan_gemv(q)))
    return 0;
  const char *fa = lj_plan_fusion(p), *fb = lj_plan_fusion(q);
  if (!strcmp(fa, "none") && !strcmp(fb, "production")) return *unfused = a, *fused = b, 1;
  if (!strcmp(fb, "none") && !strcmp(fa, "production")) return *unfused = b, *fused = a, 1;
  return 0;
}

// (x - y) per token of two phase means with their own tokens per unit.
static int per_token_difference(const lj_mean_ci *x, int64_t tx, const lj_mean_ci *y, int64_t ty, double level,
                                lj_interval *out) {
  double coef[2] = {1.0 / (double)tx, -1.0 / (double)ty};
  lj_mean_ci m[2] = {*x, *y};
  return lj_stats_linear_combination(coef, m, 2, level, out);
}

// a - b of two independent intervals: se in quadrature, df by Welch-Satterthwaite.
static void interval_difference(const lj_interval *a, const lj_interval *b, double level, lj_interval *out) {
  out->estimate = a->estimate - b->estimate;
  out->se = sqrt(a->se * a->se + b->se * b->se);
  double va = a->se * a->se, vb = b->se * b->se;
  out->df = out->se == 0 ? INFINITY : (va + vb) * (va + vb) / (va * va / a->df + vb * vb / b->df);
  out->level = level;
  double h = isfinite(out->df) ? lj_student_t_quantile(0.5 + level / 2, out->df) * out->se
                               : out->se * lj_student_t_quantile(0.5 + level / 2, 1e9);
  out->lo = out->estimate - h, out->hi = out->estimate + h;
}

// The groups both modes cover alike: a composite folds a layer's norm into its attention or MLP
// stage, so attn_norm counts with attention and ffn_norm with the MLP in either run (norms keeps
// the final norm, which no composite covers).
static lj_stage_group boundary_group_of(lj_stage s) {
  lj_stage first;
  if (lj_stage_parts(s, &first, NULL) > 0 && first == LJ_STAGE_ATTN_NORM) return LJ_GROUP_ATTENTION;
  if (lj_stage_parts(s, &first, NULL) > 0 && first == LJ_STAGE_FFN_NORM) return LJ_GROUP_MLP;
  return lj_stage_group_of(s);
}

static const char *boundary_group_name(lj_stage_group g) {
  return g == LJ_GROUP_ATTENTION ? "attention+attn_norm"
         : g == LJ_GROUP_MLP     ? "mlp+ffn_norm"
         : g == LJ_GROUP_NORMS   ? "final_norm"
                                 : lj_stage_group_name(g);
}

static void undefined(lj_interval *v) { v->estimate = v->se = v->df = v->lo = v->hi = NAN, v->level = NAN; }

int lj_fusion_cost_compute(const lj_profile_result *unfused, const lj_profile_result *fused, lj_fusion_cost *out) {
  memset(out, 0, sizeof *out);
  const lj_phase_summary *u = &unfused->phases[LJ_PHASE_DECODE], *f = &fused->phases[LJ_PHASE_DECODE];
  double level = isfinite(unfused->plan.level) && unfused->plan.level > 0 ? unfused->plan.level : 0.95;
  if (u->n < 1 || f->n < 1 || u->tokens_per_unit < 1 || f->tokens_per_unit < 1)
    return LJ_FAIL(LJ_EINVAL, "kernel boundaries: the decode phase of the %s run was not measured",
                   u->n < 1 || u->tokens_per_unit < 1 ? "unfused (fusion none)" : "fused (fusion production)");
  if ((u->window_flags ^ f->window_flags) & LJ_WINDOW_SAMPLE_ENERGY)  // up to 2% apart: the boundaries' ~0.1%
    return LJ_FAIL(LJ_EINVAL, "kernel boundaries: the decode phases were measured by different sources (unfused: %s, "
                   "fused: %s); profile both with the same llamajoule",
                   u->window_flags & LJ_WINDOW_SAMPLE_ENERGY ? "power samples" : "energy counter",
                   f->window_flags & LJ_WINDOW_SAMPLE_ENERGY ? "power samples" : "energy counter");
  LJ_TRY(per_token_difference(&u->dynamic_j, u->tokens_per_unit, &f->dynamic_j, f->tokens_per_unit, level,
                              &out->dynamic_j));
  LJ_TRY(per_token_difference(&u->gross_j, u->tokens_per_unit, &f->gross_j, f->tokens_per_unit, level, &out->gross_j));
  for (int g = 0; g < LJ_GROUP_COUNT; g++) {
    lj_report_group a, b;
    undefined(&out->group_dynamic_j[g]);
    LJ_TRY(lj_report_group_sum_by(unfused, LJ_PHASE_DECODE, (lj_stage_group)g, boundary_group_of, LJ_METHOD_ISOLATION, &a));
    LJ_TRY(lj_report_group_sum_by(fused, LJ_PHASE_DECODE, (lj_stage_group)g, boundary_group_of, LJ_METHOD_ISOLATION, &b));
    if (!a.n_estimates || !b.n_estimates) continue;
    lj_interval pa = a.dynamic_j, pb = b.dynamic_j;  // per unit -> per token
    double su = 1.0 / (double)u->tokens_per_unit, sf = 1.0 / (double)f->tokens_per_unit;
    pa.estimate *= su, pa.se *= su, pb.estimate *= sf, pb.se *= sf;
    interval_difference(&pa, &pb, level, &out->group_dynamic_j[g]);
  }
  return 0;
}

void lj_fusion_cost_print(FILE *f, const lj_profile_result *unfused, const lj_fusion_cost *c) {
  const lj_profile_plan *p = &unfused->plan;
  fprintf(f, "kernel boundaries, %s on %s (batch %d, prompt %d, %d generated): fusion none - production =\n",
          p->model_name, unfused->cond.device.name[0] ? unfused->cond.device.name : "?", p->batch, p->prompt_len,
          p->gen_len);
  fprintf(f, "  decode %.4g J/token above idle [%.4g, %.4g] (%.0f%% interval), %.4g J/token gross [%.4g, %.4g]\n",
          c->dynamic_j.estimate, c->dynamic_j.lo, c->dynamic_j.hi, 100 * c->dynamic_j.level, c->gross_j.estimate,
          c->gross_j.lo, c->gross_j.hi);
  int shown = 0;
  for (int g = 0; g < LJ_GROUP_COUNT; g++) {
    const lj_interval *v = &c->group_dynamic_j[g];
    if (!isfinite(v->estimate)) continue;
    if (!shown) fprintf(f, "  per stage group, by isolation (calls x per-call energy; the method both modes run):\n");
    fprintf(f, "  %-19s %.4g J/token above idle [%.4g, %.4g]\n", boundary_group_name((lj_stage_group)g), v->estimate,
            v->lo, v->hi);
    shown++;
  }
  if (!shown)
    fprintf(f, "  per stage group: not measured (a run without decode isolation estimates: a production profile "
               "from before its stage replays ran, or one stopped early)\n");
}
