// Helpers the analysis methods share (analyze_internal.h): calls per unit of
// a replayed stage (lj_profile_calls_per_unit), a decode step's KV length, the
// in-situ time per call from the timeline, a stage's shape, and the completion
// of an estimate derived from differences of trials. Checked by
// tests/test_profile_analyze.c on a synthetic run with known calls and times.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

// Step i (1 .. gen_len - 1) of a decode unit runs with P + i - 1 positions cached.
int64_t lj_analyze_decode_step_kv(const lj_profile_plan *p, int i) { return (int64_t)p->prompt_len + i - 1; }

double lj_profile_calls_per_unit(const lj_profile_plan *p, lj_phase phase, lj_stage stage, int kv_index) {
  const lj_model_config *c = &p->config;
  double layers = lj_stage_is_per_layer(stage) ? c->n_layers : 1;
  if (phase == LJ_PHASE_PREFILL) return stage == LJ_STAGE_SAMPLE ? 0 : layers;
  if (phase != LJ_PHASE_DECODE) return 0;
  int steps = p->gen_len - 1;  // graph steps; the first token comes from the prefill's logits
  if (stage == LJ_STAGE_SAMPLE) return p->gen_len;
  if (!lj_stage_reads_cache(stage) || p->n_decode_kv <= 1) return layers * steps;
  int64_t *kv = malloc(sizeof(int64_t) * (size_t)(steps > 0 ? steps : 1));
  if (!kv) return NAN;
  for (int i = 1; i <= steps; i++) kv[i - 1] = lj_analyze_decode_step_kv(p, i);
  double w[LJ_PROFILE_MAX_KV];
  size_t outside = 0;
  int rc = lj_kv_weights(p->decode_kv, (size_t)p->n_decode_kv, kv, (size_t)steps, layers, w, &outside);
  free(kv);
  if (rc < 0 || kv_index < 0 || kv_index >= p->n_decode_kv) return NAN;
  return w[kv_index];
}

int lj_analyze_kv_index_of(const lj_profile_plan *p, int64_t kv) {
  for (int j = 0; j < p->n_decode_kv; j++)
    if (p->decode_kv[j] == kv) return j;
  return -1;
}

// Mean in-situ duration of a stage's intervals in a phase; decode attention only
// over the steps whose KV length is nearest to `kv` among the replayed ones.
double lj_analyze_insitu_time(const lj_profile_result *r, lj_phase ph, lj_stage st, int64_t kv) {
  const lj_profile_plan *p = &r->plan;
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < r->n_intervals; i++) {
    const lj_stage_interval *iv = &r->intervals[i];
    if (iv->phase != ph || iv->stage != st) continue;
    if (ph == LJ_PHASE_DECODE && lj_stage_reads_cache(st) && p->n_decode_kv > 1) {
      int64_t step_kv = lj_analyze_decode_step_kv(p, r->interval_step[i]);
      int best = 0;
      for (int j = 1; j < p->n_decode_kv; j++)
        if (llabs(p->decode_kv[j] - step_kv) < llabs(p->decode_kv[best] - step_kv)) best = j;
      if (p->decode_kv[best] != kv) continue;
    }
    sum += (double)(iv->end_ns - iv->begin_ns) * 1e-9;
    n++;
  }
  if (!n) return NAN;
  // Each interval also holds one timestamp kernel: take its measured cost off.
  double t = sum / (double)n - (isfinite(r->stamp_cost_s) ? r->stamp_cost_s : 0);
  return t > 0 ? t : NAN;
}

void lj_analyze_shape_of(const lj_profile_plan *p, lj_phase ph, int64_t kv, lj_stage_shape *sh) {
  lj_stage_shape_default(sh);
  sh->batch = p->batch;
  sh->n_tokens = ph == LJ_PHASE_PREFILL ? p->prompt_len : 1;
  sh->kv_past = ph == LJ_PHASE_PREFILL ? 0 : kv;
  sh->tp_degree = p->tp_degree > 1 ? p->tp_degree : 1;  // the all-reduce stages' link bytes and adds
}


// Completes and adds an estimate that a method derived from differences of trials (s->method,
// s->est.key, its energies, time and n already set; the counter's and the samples' beside them
// where the method measured both, else its energies are the counter's); the temperature
// range and window flags of the method's trials of that stage; the in-situ time and ratio; the
// analytic work and efficiency; shares left to the closure.
int lj_analyze_add_derived_stage(lj_profile_result *r, lj_profile_stage *s) {
  const lj_profile_plan *p = &r->plan;
  lj_replay_estimate *e = &s->est;
  lj_stage st = e->key.stage;
  if (e->sample_dynamic_j.n == 0) {
    e->sample_gross_j.mean = e->sample_dynamic_j.mean = NAN;
    e->sample_gross_j.lo = e->sample_gross_j.hi = e->sample_dynamic_j.lo = e->sample_dynamic_j.hi = NAN;
  }
  // without counter figures (a method that measured only the counter) its estimate is the counter's
  const lj_mean_ci *cg = e->counter_gross_j.n > 0 ? &e->counter_gross_j : &e->gross_j;
  e->counter_vs_sample_pct = e->sample_gross_j.n > 0 && cg->n > 0 && e->sample_gross_j.mean != 0
                                 ? (cg->mean - e->sample_gross_j.mean) / fabs(e->sample_gross_j.mean) * 100
                                 : NAN;
  e->temperature_min_c = e->temperature_max_c = NAN;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != s->method || t->key.phase != e->key.phase || t->key.stage != st) continue;
    if (isfinite(t->t.temperature_c)) {
      if (!(t->t.temperature_c >= e->temperature_min_c)) e->temperature_min_c = t->t.temperature_c;
      if (!(t->t.temperature_c <= e->temperature_max_c)) e->temperature_max_c = t->t.temperature_c;
    }
    e->window_flags |= t->t.window_flags;
  }
  e->insitu_time_per_call_s = lj_analyze_insitu_time(r, e->key.phase, st, e->key.kv_len);
  e->time_ratio = e->insitu_time_per_call_s > 0 ? e->time_per_call_s.mean / e->insitu_time_per_call_s : NAN;
  lj_stage_shape sh;
  lj_analyze_shape_of(p, e->key.phase, e->key.kv_len, &sh);
  int layer = lj_stage_is_per_layer(st) ? (p->config.n_layers > 1 ? 1 : 0) : -1;
  LJ_TRY(lj_stage_cost_compute(&p->config, st, layer, &sh, &s->cost));
  lj_stage_efficiency_compute(&e->dynamic_j, &s->cost, &s->eff);
  s->share_gross = s->share_dynamic = NAN;
  return lj_profile_add_stage(r, s);
}


void lj_analyze_mean_from_interval(const lj_interval *iv, lj_mean_ci *out) {
  memset(out, 0, sizeof *out);
  out->n = 2;
  out->mean = iv->estimate, out->sem = iv->se, out->df = iv->df, out->level = iv->level;
  out->lo = iv->lo, out->hi = iv->hi, out->half_width = (iv->hi - iv->lo) / 2;
  out->stddev = out->cv = NAN;
}

int lj_analyze_trial_per_call(const lj_profile_trial *t, lj_trial_per_call *out) {
  if (!(t->t.calls > 0) || !isfinite(t->t.counter_energy_j) || !(t->t.duration_s > 0)) return 0;
  double c = (double)t->t.calls, idle_j = t->t.idle_w * t->t.duration_s;
  out->gross = t->t.counter_energy_j / c;
  out->dyn = (t->t.counter_energy_j - idle_j) / c;
  out->time = t->t.duration_s / c;
  int s = lj_trial_samples_usable(&t->t);
  out->sgross = s ? t->t.sample_energy_j / c : NAN;
  out->sdyn = s ? (t->t.sample_energy_j - idle_j) / c : NAN;
  return 1;
}

const lj_profile_stage *lj_analyze_find_stage(const lj_profile_result *r, lj_profile_method m, lj_phase ph,
                                              lj_stage st, int64_t kv) {
  const lj_profile_stage *any = NULL;
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *s = &r->stages[i];
    if (s->method != m || s->est.key.phase != ph || s->est.key.stage != st) continue;
    if (s->est.key.kv_len == kv) return s;
    if (!any) any = s;
  }
  return any;
}
