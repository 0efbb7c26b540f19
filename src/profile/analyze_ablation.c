// Ablation: the energy the run saved without a stage group (full - ablated
// decode units: paired over bracketed windows, or Welch on independent sets) against calls x that group's replayed per-call energy
// (lj_ablation_compute). This is the check that can prove the replay estimates
// wrong: agreement_pct, and the ratio's interval around 1.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/bracket.h"

// Per-call attention energy of decode over the whole generation: the replayed
// KV lengths weighted by the calls they stand for.
int lj_analyze_decode_attention_per_call(const lj_profile_result *r, lj_mean_ci *out) {
  double coef[LJ_PROFILE_MAX_KV], total = 0;
  lj_mean_ci m[LJ_PROFILE_MAX_KV];
  size_t k = 0;
  for (size_t i = 0; i < r->n_stages && k < LJ_PROFILE_MAX_KV; i++) {
    const lj_profile_stage *s = &r->stages[i];
    if (s->est.key.phase != LJ_PHASE_DECODE || s->est.key.stage != LJ_STAGE_ATTN || s->method != LJ_METHOD_ISOLATION)
      continue;
    coef[k] = s->calls_per_unit;
    m[k++] = s->est.dynamic_j;
    total += s->calls_per_unit;
  }
  if (!k || !(total > 0)) return LJ_FAIL(LJ_EINVAL, "no replay estimate of decode attention");
  for (size_t i = 0; i < k; i++) coef[i] /= total;
  lj_interval iv;
  LJ_TRY(lj_stats_linear_combination(coef, m, k, r->plan.level, &iv));
  lj_analyze_mean_from_interval(&iv, out);
  return 0;
}

// Per-call energy of the MLP in decode: gate_up + swiglu + down, one call each.
static int decode_mlp_per_call(const lj_profile_result *r, lj_mean_ci *out) {
  double coef[3] = {1, 1, 1};
  lj_mean_ci m[3];
  int k = 0;
  for (size_t i = 0; i < r->n_stages && k < 3; i++) {
    const lj_profile_stage *s = &r->stages[i];
    lj_stage st = s->est.key.stage;
    if (s->est.key.phase == LJ_PHASE_DECODE && s->method == LJ_METHOD_ISOLATION &&
        (st == LJ_STAGE_GATE_UP || st == LJ_STAGE_SWIGLU || st == LJ_STAGE_DOWN))
      m[k++] = s->est.dynamic_j;
  }
  if (k != 3) return LJ_FAIL(LJ_EINVAL, "no replay estimate of the decode MLP stages");
  lj_interval iv;
  LJ_TRY(lj_stats_linear_combination(coef, m, 3, r->plan.level, &iv));
  lj_analyze_mean_from_interval(&iv, out);
  return 0;
}

int lj_analyze_ablation_sources(lj_stage st, int64_t calls, const double *full, int n_full, const double *abl,
                                int n_abl, const double *full_s, int n_full_s, const double *abl_s, int n_abl_s,
                                const lj_mean_ci *per_call, double level, lj_ablation *out) {
  lj_ablation counter;
  LJ_TRY(lj_ablation_compute(st, calls, full, (size_t)n_full, abl, (size_t)n_abl, per_call, level, &counter));
  // The samples' figures where every window has them (windows < LJ_SAMPLE_WINDOW_MAX_S); the counter's beside.
  int samples = n_full_s == n_full && n_abl_s == n_abl;
  if (samples)
    LJ_TRY(lj_ablation_compute(st, calls, full_s, (size_t)n_full_s, abl_s, (size_t)n_abl_s, per_call, level, out));
  else
    *out = counter;
  out->counter_saved_j = counter.saved_j.estimate;
  out->flags = lj_energy_source_flags(samples, out->saved_j.lo, out->saved_j.hi, samples ? counter.saved_j.estimate : NAN);
  return 0;
}

int lj_analyze_ablation_pairs(lj_stage st, int64_t calls, const lj_profile_raw *raw, int pi, int kind,
                              size_t min_pairs, const lj_mean_ci *per_call, double level, lj_ablation *out) {
  enum { CAP = LJ_ABL_MAX_WINDOWS / 2 };  // pairs: at most one ablated window in two
  double fc[CAP], ac[CAP], fs[CAP], as[CAP];
  size_t n = (size_t)raw->n_abl[pi];
  if (n > LJ_ABL_MAX_WINDOWS) return 0;
  size_t nc = lj_bracket_pairs(raw->abl_kind[pi], raw->abl_j[pi], n, kind, fc, ac);
  size_t ns = lj_bracket_pairs(raw->abl_kind[pi], raw->abl_sample_j[pi], n, kind, fs, as);
  // The samples' figures where they give every pair the counter gives (windows < LJ_SAMPLE_WINDOW_MAX_S).
  int samples = ns > 0 && ns >= nc;
  if ((samples ? ns : nc) < min_pairs || (samples ? ns : nc) == 0) return 0;
  LJ_TRY(lj_ablation_paired(st, calls, samples ? fs : fc, samples ? as : ac, samples ? ns : nc, per_call, level, out));
  double d = 0;
  for (size_t i = 0; i < nc; i++) d += fc[i] - ac[i];
  out->counter_saved_j = nc > 0 ? d / (double)nc : NAN;
  out->flags = lj_energy_source_flags(samples, out->saved_j.lo, out->saved_j.hi, samples ? out->counter_saved_j : NAN);
  return 1;
}

int lj_analyze_ablation(lj_profile_result *r, const lj_profile_raw *raw) {
  if (!raw || !r->plan.ablation) return 0;
  int paired = raw->n_abl[1] > 0;  // the bracketed windows; else independent sets (full_j, ablated_j)
  if (!paired && (raw->n_full < 1 || raw->n_ablated < 1)) return 0;
  lj_mean_ci per_call;
  // 3 (both): the MLP, as the runner keeps it; a fused mode's decode skips attention only ("" is none)
  int fused = r->plan.fusion[0] && strcmp(r->plan.fusion, "none") != 0;
  int mlp = r->plan.ablation >= 2 && !fused;
  if ((mlp ? decode_mlp_per_call(r, &per_call) : lj_analyze_decode_attention_per_call(r, &per_call)) < 0) {
    lj_clear_error();
    return 0;
  }
  // One call = the stage (or the MLP's three) in one layer of one decode step.
  int64_t calls = (int64_t)(r->plan.gen_len - 1) * r->plan.config.n_layers;
  lj_stage st = mlp ? LJ_STAGE_GATE_UP : LJ_STAGE_ATTN;
  if (paired) {
    int have = lj_analyze_ablation_pairs(st, calls, raw, 1, mlp ? LJ_ABLATE_NO_MLP : LJ_ABLATE_NO_ATTN, 1, &per_call,
                                         r->plan.level, &r->ablation);
    if (have < 0) return have;
    r->ablation_valid = have;
    return 0;
  }
  LJ_TRY(lj_analyze_ablation_sources(st, calls, raw->full_j, raw->n_full, raw->ablated_j, raw->n_ablated,
                                     raw->full_sample_j, raw->n_full_sample, raw->ablated_sample_j,
                                     raw->n_ablated_sample, &per_call, r->plan.level, &r->ablation));
  r->ablation_valid = 1;
  return 0;
}

