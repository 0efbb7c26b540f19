// The study's analysis as JSON and as text (study_analysis.h): both from the
// same computed figures, so that they cannot disagree.
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "model/config.h"
#include "report/mlenergy_reference.h"
#include "report/report_derived.h"
#include "report/study_analysis.h"

#define MAX_MATCHES 64
#define MAX_FINDINGS 64

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static json_t *batch_or_null(int b) { return b > 0 ? json_integer(b) : json_null(); }

static const char kKneeRule[] =
    "the knee is the smallest batch from which, to the next batch of the line, decode J/token falls less than 20% per "
    "doubling of the batch or the decode step grows more than 20% per doubling (a ratio r over k doublings counts "
    "as r^(1/k)); up to it decode is weight-read bound (J/token close to 1/batch, the step nearly flat)";
static const char kBestRule[] =
    "the best batch is the one of lowest decode J/token (above idle) whose decode step (time of one token for "
    "every sequence of the batch) is within the latency bound";

static double j_per_bparam(const lj_study_line *l, const lj_study_line_point *p) {
  return l->params_b > 0 ? p->j_per_token / l->params_b : NAN;
}

static json_t *line_json(const lj_study_line *l, double bound_ms) {
  json_t *pts = json_array();
  for (size_t i = 0; i < l->n; i++) {
    const lj_study_line_point *p = &l->pt[i];
    json_array_append_new(pts, json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "batch", p->batch, "j_per_token",
                                         num(p->j_per_token), "gross_j_per_token", num(p->gross_j_per_token),
                                         "tokens_per_j", num(p->j_per_token > 0 ? 1 / p->j_per_token : NAN),
                                         "j_per_bparam_token", num(j_per_bparam(l, p)), "step_ms", num(p->step_ms),
                                         "prefill_j_per_token", num(p->prefill_j_per_token), "meets_latency",
                                         p->step_ms <= bound_ms));
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "model", l->model,
                   "weights", l->weights, "gpu", l->gpu, "file", l->file,
                   "prompt_len", l->prompt_len, "gen_len", l->gen_len, "params_b", num(l->params_b), "best_batch",
                   batch_or_null(l->best_batch), "fastest_batch",
                   batch_or_null(l->fastest >= 0 ? l->pt[l->fastest].batch : 0), "knee_batch",
                   batch_or_null(l->knee_batch), "knee_next", batch_or_null(l->knee_next), "knee_fall_pct",
                   num(l->knee_batch ? l->knee_fall_pct : NAN), "knee_growth_pct",
                   num(l->knee_batch ? l->knee_growth_pct : NAN), "knee_rule",
                   !l->knee_batch ? json_null() : json_string(l->knee_by_fall ? "fall" : "step"), "points", pts);
}

// Stage-group shares of attention, MLP and LM head per phase, for the points that have stage estimates.
typedef struct {
  double attention, mlp, lm_head;
} shares;

static int shares_of(const lj_profile_result *r, lj_phase p, shares *out) {
  if (lj_report_stage_count(r, p) == 0) return 0;
  lj_report_group g[3];
  const lj_stage_group which[3] = {LJ_GROUP_ATTENTION, LJ_GROUP_MLP, LJ_GROUP_LM_HEAD};
  for (int i = 0; i < 3; i++)
    if (lj_report_group_sum(r, p, which[i], &g[i]) < 0) return 0;
  out->attention = g[0].share_dynamic, out->mlp = g[1].share_dynamic, out->lm_head = g[2].share_dynamic;
  return isfinite(out->attention) || isfinite(out->mlp) || isfinite(out->lm_head);
}

static json_t *shares_json(const lj_report_study *s) {
  json_t *a = json_array();
  for (size_t i = 0; i < s->n_runs; i++) {
    const lj_profile_result *r = &s->runs[i].prof;
    for (int p = LJ_PHASE_PREFILL; p <= LJ_PHASE_DECODE; p++) {
      shares sh;
      if (!shares_of(r, (lj_phase)p, &sh)) continue;
      double params = r->plan.config.n_layers > 0 ? (double)lj_config_n_params(&r->plan.config) / 1e9 : NAN;
      json_array_append_new(a, json_pack("{s:s, s:o, s:i, s:i, s:i, s:s, s:o, s:o, s:o}", "model", r->plan.model_name,
                                         "params_b", num(params), "batch", r->plan.batch, "prompt_len",
                                         r->plan.prompt_len, "gen_len", r->plan.gen_len, "phase",
                                         lj_phase_name((lj_phase)p), "attention", num(sh.attention), "mlp", num(sh.mlp),
                                         "lm_head", num(sh.lm_head)));
    }
  }
  return a;
}

static json_t *reference_json(const lj_study_analysis *a) {
  lj_study_reference_match m[MAX_MATCHES];
  size_t n = lj_study_reference_matches(a, m, MAX_MATCHES);
  json_t *pts = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(pts, json_pack("{s:s, s:s, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:b}", "model", m[i].line->model,
                                         "gpu", m[i].line->gpu, "batch", m[i].ours->batch, "prompt_len",
                                         m[i].line->prompt_len, "gen_len", m[i].line->gen_len, "ours_j_per_token",
                                         num(m[i].ours->gross_j_per_token), "theirs_j_per_token",
                                         num(m[i].theirs_j_per_token), "tolerance", num(m[i].tolerance), "diff_pct",
                                         num(m[i].diff_pct), "at_or_below", m[i].at_or_below));
  return json_pack("{s:s, s:s, s:o}", "source", lj_mlenergy_source, "conditions", lj_mlenergy_conditions, "points", pts);
}

json_t *lj_study_analysis_json(const lj_report_study *s, const lj_study_analysis *a) {
  json_t *lines = json_array(), *findings = json_array();
  for (size_t i = 0; i < a->n_lines; i++) json_array_append_new(lines, line_json(&a->lines[i], a->latency_ms));
  lj_finding f[MAX_FINDINGS];
  size_t nf = lj_study_findings(a, f, MAX_FINDINGS);
  for (size_t i = 0; i < nf; i++)
    json_array_append_new(findings, json_pack("{s:s, s:i, s:s}", "rule", f[i].rule, "level", f[i].level, "text", f[i].text));
  return json_pack("{s:f, s:{s:f, s:f, s:s, s:s}, s:o, s:o, s:o, s:o}", "latency_ms", a->latency_ms, "rules",
                   "knee_fall_pct", LJ_STUDY_KNEE_FALL_PCT, "knee_growth_pct", LJ_STUDY_KNEE_GROWTH_PCT, "knee", kKneeRule,
                   "best", kBestRule, "lines", lines, "shares", shares_json(s), "reference", reference_json(a),
                   "findings", findings);
}

// A figure in a text cell, "-" when unknown (a macro: the format stays a literal the compiler checks).
#define CELL(buf, fmt, x) (isfinite(x) ? snprintf(buf, sizeof buf, fmt, x) : snprintf(buf, sizeof buf, "-"))

int lj_study_analysis_text(FILE *f, const lj_report_study *s, const lj_study_analysis *a) {
  fprintf(f, "\ndecode against batch (J/token above idle; latency bound %g ms per decode step)\n", a->latency_ms);
  fprintf(f, "  %-24s %6s %5s %6s %11s %9s %12s %9s  %s\n", "model", "prompt", "gen", "batch", "J/token", "tokens/J",
          "J/Bparam/tok", "step", "within bound");
  for (size_t i = 0; i < a->n_lines; i++) {
    const lj_study_line *l = &a->lines[i];
    char name[160];
    lj_study_line_name(a, l, name, sizeof name);
    char best[32] = "none within the bound", knee[32] = "none";
    if (l->best_batch) snprintf(best, sizeof best, "%d", l->best_batch);
    if (l->knee_batch) snprintf(knee, sizeof knee, "%d", l->knee_batch);
    fprintf(f, "  %s: best batch %s, knee %s\n", name, best, knee);  // each line's own, above its points
    for (size_t k = 0; k < l->n; k++) {
      const lj_study_line_point *p = &l->pt[k];
      char j[24], tpj[24], jb[24], st[24];
      CELL(j, "%.4g", p->j_per_token);
      CELL(tpj, "%.4g", p->j_per_token > 0 ? 1 / p->j_per_token : NAN);
      CELL(jb, "%.4g", j_per_bparam(l, p));
      CELL(st, "%.3g ms", p->step_ms);
      fprintf(f, "  %-24s %6d %5d %6d %11s %9s %12s %9s  %s\n", l->model, l->prompt_len, l->gen_len, p->batch, j, tpj,
              jb, st, p->step_ms <= a->latency_ms ? "yes" : "no");
    }
  }
  fprintf(f, "  rules: %s; %s (bound %g ms).\n", kKneeRule, kBestRule, a->latency_ms);

  int any = 0;
  for (size_t i = 0; i < s->n_runs; i++)
    for (int p = LJ_PHASE_PREFILL; p <= LJ_PHASE_DECODE; p++) {
      shares sh;
      const lj_profile_result *r = &s->runs[i].prof;
      if (!shares_of(r, (lj_phase)p, &sh)) continue;
      if (!any++)
        fprintf(f, "\nstage-group shares of the replayed energy (points with --stages)\n  %-24s %8s %6s %6s %-8s %9s %6s %7s\n",
                "model", "params", "batch", "prompt", "phase", "attention", "MLP", "LM head");
      char pa[16], pm[16], pl[16];
      CELL(pa, "%.1f%%", sh.attention * 100);
      CELL(pm, "%.1f%%", sh.mlp * 100);
      CELL(pl, "%.1f%%", sh.lm_head * 100);
      fprintf(f, "  %-24s %7.2fB %6d %6d %-8s %9s %6s %7s\n", r->plan.model_name,
              (double)lj_config_n_params(&r->plan.config) / 1e9, r->plan.batch, r->plan.prompt_len,
              lj_phase_name((lj_phase)p), pa, pm, pl);
    }

  lj_study_reference_match m[MAX_MATCHES];
  size_t n = lj_study_reference_matches(a, m, MAX_MATCHES);
  fprintf(f, "\nbeside %s\n", lj_mlenergy_source);
  if (!n) fprintf(f, "  no point of the study matches theirs (Llama 3.1 8B at batch 8, 16, 64 or 256 on an H100)\n");
  for (size_t i = 0; i < n; i++)
    fprintf(f, "  %-24s prompt %d gen %d batch %3d on %s: ours %.4g J/token, theirs %.4g (+-%.0f%%): %+.1f%%, %s\n",
            m[i].line->model, m[i].line->prompt_len, m[i].line->gen_len, m[i].ours->batch, m[i].line->gpu,
            m[i].ours->gross_j_per_token, m[i].theirs_j_per_token, m[i].tolerance * 100, m[i].diff_pct,
            m[i].at_or_below ? "at or below theirs" : "above theirs");
  if (n) fprintf(f, "  %s; ours: prompt and output lengths as listed, gross J/token of the decode phase.\n", lj_mlenergy_conditions);

  lj_finding fs[MAX_FINDINGS];
  size_t nf = lj_study_findings(a, fs, MAX_FINDINGS);
  if (nf) fprintf(f, "\nfindings\n");
  for (size_t i = 0; i < nf; i++) fprintf(f, "  - %s\n", fs[i].text);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "study: writing the text failed") : 0;
}
