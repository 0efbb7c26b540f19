// Derived figures of a profile (see profile_analyze.h and docs/attribution.md).
#include "profile/profile_analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

// Step i (1 .. gen_len - 1) of a decode unit runs with P + i - 1 positions cached.
static int64_t decode_step_kv(const lj_profile_plan *p, int i) { return (int64_t)p->prompt_len + i - 1; }

double lj_profile_calls_per_unit(const lj_profile_plan *p, lj_phase phase, lj_stage stage, int kv_index) {
  const lj_model_config *c = &p->config;
  double layers = lj_stage_is_per_layer(stage) ? c->n_layers : 1;
  if (phase == LJ_PHASE_PREFILL) return stage == LJ_STAGE_SAMPLE ? 0 : layers;
  if (phase != LJ_PHASE_DECODE) return 0;
  int steps = p->gen_len - 1;  // graph steps; the first token comes from the prefill's logits
  if (stage == LJ_STAGE_SAMPLE) return p->gen_len;
  if (stage != LJ_STAGE_ATTN || p->n_decode_kv <= 1) return layers * steps;
  int64_t *kv = malloc(sizeof(int64_t) * (size_t)(steps > 0 ? steps : 1));
  if (!kv) return NAN;
  for (int i = 1; i <= steps; i++) kv[i - 1] = decode_step_kv(p, i);
  double w[LJ_PROFILE_MAX_KV];
  size_t outside = 0;
  int rc = lj_kv_weights(p->decode_kv, (size_t)p->n_decode_kv, kv, (size_t)steps, layers, w, &outside);
  free(kv);
  if (rc < 0 || kv_index < 0 || kv_index >= p->n_decode_kv) return NAN;
  return w[kv_index];
}

static int kv_index_of(const lj_profile_plan *p, int64_t kv) {
  for (int j = 0; j < p->n_decode_kv; j++)
    if (p->decode_kv[j] == kv) return j;
  return -1;
}

// Mean in-situ duration of a stage's intervals in a phase; decode attention only
// over the steps whose KV length is nearest to `kv` among the replayed ones.
static double insitu_time(const lj_profile_result *r, lj_phase ph, lj_stage st, int64_t kv) {
  const lj_profile_plan *p = &r->plan;
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < r->n_intervals; i++) {
    const lj_stage_interval *iv = &r->intervals[i];
    if (iv->phase != ph || iv->stage != st) continue;
    if (ph == LJ_PHASE_DECODE && st == LJ_STAGE_ATTN && p->n_decode_kv > 1) {
      int64_t step_kv = decode_step_kv(p, r->interval_step[i]);
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

static void shape_of(const lj_profile_plan *p, lj_phase ph, int64_t kv, lj_stage_shape *sh) {
  lj_stage_shape_default(sh);
  sh->batch = p->batch;
  sh->n_tokens = ph == LJ_PHASE_PREFILL ? p->prompt_len : 1;
  sh->kv_past = ph == LJ_PHASE_PREFILL ? 0 : kv;
}

static int estimates(lj_profile_result *r) {
  const lj_profile_plan *p = &r->plan;
  lj_replay_trial *t = malloc(sizeof *t * (r->n_trials ? r->n_trials : 1));
  char *used = calloc(r->n_trials ? r->n_trials : 1, 1);
  if (!t || !used) {
    free(t);
    free(used);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  int rc = 0;
  for (size_t i = 0; i < r->n_trials && rc == 0; i++) {
    if (used[i] || r->trials[i].groups || r->trials[i].method != LJ_METHOD_ISOLATION) continue;
    lj_stage_key key = r->trials[i].key;
    size_t n = 0;
    for (size_t j = i; j < r->n_trials; j++) {
      const lj_profile_trial *x = &r->trials[j];
      if (used[j] || x->groups || x->method != LJ_METHOD_ISOLATION || x->key.phase != key.phase ||
          x->key.stage != key.stage || x->key.kv_len != key.kv_len)
        continue;
      used[j] = 1;
      if (isfinite(x->t.counter_energy_j) && x->t.calls > 0 && x->t.duration_s > 0) t[n++] = x->t;
    }
    if (!n) continue;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    double insitu = insitu_time(r, key.phase, key.stage, key.kv_len);
    if ((rc = lj_replay_estimate_compute(t, n, insitu, p->level, &s.est)) < 0) break;
    s.est.key = key;
    lj_stage_shape sh;
    shape_of(p, key.phase, key.kv_len, &sh);
    // attn_norm of layer 0 has no residual to add: a later layer is the typical call
    int layer = lj_stage_is_per_layer(key.stage) ? (p->config.n_layers > 1 ? 1 : 0) : -1;
    if ((rc = lj_stage_cost_compute(&p->config, key.stage, layer, &sh, &s.cost)) < 0) break;
    lj_stage_efficiency_compute(&s.est.dynamic_j, &s.cost, &s.eff);
    if (key.phase == LJ_PHASE_DECODE && key.stage == LJ_STAGE_ATTN)
      s.calls_per_unit = lj_profile_calls_per_unit(p, key.phase, key.stage, kv_index_of(p, key.kv_len));
    else
      s.calls_per_unit = lj_profile_calls_per_unit(p, key.phase, key.stage, 0);
    s.share_gross = s.share_dynamic = NAN;
    rc = lj_profile_add_stage(r, &s);
  }
  free(t);
  free(used);
  return rc;
}

// Completes and adds an estimate that a method derived from differences of trials (s->method,
// s->est.key, its energies, time and n already set): no sample-based energies; the temperature
// range and window flags of the method's trials of that stage; the in-situ time and ratio; the
// analytic work and efficiency; shares left to the closure.
static int add_derived_stage(lj_profile_result *r, lj_profile_stage *s) {
  const lj_profile_plan *p = &r->plan;
  lj_replay_estimate *e = &s->est;
  lj_stage st = e->key.stage;
  e->sample_gross_j.mean = e->sample_dynamic_j.mean = e->counter_vs_sample_pct = NAN;
  e->sample_gross_j.lo = e->sample_gross_j.hi = e->sample_dynamic_j.lo = e->sample_dynamic_j.hi = NAN;
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
  e->insitu_time_per_call_s = insitu_time(r, e->key.phase, st, e->key.kv_len);
  e->time_ratio = e->insitu_time_per_call_s > 0 ? e->time_per_call_s.mean / e->insitu_time_per_call_s : NAN;
  lj_stage_shape sh;
  shape_of(p, e->key.phase, e->key.kv_len, &sh);
  int layer = lj_stage_is_per_layer(st) ? (p->config.n_layers > 1 ? 1 : 0) : -1;
  LJ_TRY(lj_stage_cost_compute(&p->config, st, layer, &sh, &s->cost));
  lj_stage_efficiency_compute(&e->dynamic_j, &s->cost, &s->eff);
  s->share_gross = s->share_dynamic = NAN;
  return lj_profile_add_stage(r, s);
}

// Per-unit figures of the context trials of one stage (LJ_STAGE_COUNT: the plain unit).
typedef struct {
  double dyn[16], gross[16], time[16];
  int n, copies;
} context_side;

static void context_side_of(const lj_profile_result *r, lj_stage st, context_side *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < r->n_trials && out->n < 16; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != LJ_METHOD_CONTEXT || t->key.stage != st || t->units <= 0 || !isfinite(t->t.counter_energy_j) ||
        !(t->t.duration_s > 0))
      continue;
    double u = (double)t->units;
    out->gross[out->n] = t->t.counter_energy_j / u;
    out->dyn[out->n] = (t->t.counter_energy_j - t->t.idle_w * t->t.duration_s) / u;
    out->time[out->n] = t->t.duration_s / u;
    out->copies = t->copies;
    out->n++;
  }
}

// (amplified - plain) / extra calls as a mean with its Welch se and df.
static int context_difference(const double *amp, int na, const double *plain, int np, double per, double level,
                              lj_mean_ci *out) {
  lj_mean_ci a, b;
  LJ_TRY(lj_stats_mean_ci(amp, (size_t)na, level, &a));
  LJ_TRY(lj_stats_mean_ci(plain, (size_t)np, level, &b));
  lj_interval d;
  LJ_TRY(lj_stats_difference(&a, &b, level, &d));
  memset(out, 0, sizeof *out);
  out->n = na < np ? na : np;
  out->mean = d.estimate / per, out->sem = d.se / per, out->df = d.df, out->level = level;
  out->lo = d.lo / per, out->hi = d.hi / per, out->half_width = (d.hi - d.lo) / 2 / per;
  out->stddev = out->sem * sqrt((double)out->n);
  out->cv = out->mean != 0 ? out->stddev / fabs(out->mean) : NAN;
  return 0;
}

// Context estimates of the prefill's stages: each amplified stage against the plain unit.
static int context_estimates(lj_profile_result *r) {
  const lj_profile_plan *p = &r->plan;
  context_side plain;
  context_side_of(r, LJ_STAGE_COUNT, &plain);
  if (plain.n < 2) return 0;
  for (int st = 0; st < LJ_STAGE_COUNT; st++) {
    context_side amp;
    context_side_of(r, (lj_stage)st, &amp);
    if (amp.n < 2 || amp.copies < 1) continue;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    s.method = LJ_METHOD_CONTEXT, s.copies = amp.copies;
    s.calls_per_unit = lj_profile_calls_per_unit(p, LJ_PHASE_PREFILL, (lj_stage)st, 0);
    double per = s.calls_per_unit * amp.copies;  // extra calls per unit
    lj_replay_estimate *e = &s.est;
    e->key.phase = LJ_PHASE_PREFILL, e->key.stage = (lj_stage)st, e->key.layer = -1, e->key.kv_len = 0;
    e->n_trials = amp.n < plain.n ? amp.n : plain.n;
    LJ_TRY(context_difference(amp.dyn, amp.n, plain.dyn, plain.n, per, p->level, &e->dynamic_j));
    LJ_TRY(context_difference(amp.gross, amp.n, plain.gross, plain.n, per, p->level, &e->gross_j));
    LJ_TRY(context_difference(amp.time, amp.n, plain.time, plain.n, per, p->level, &e->time_per_call_s));
    LJ_TRY(add_derived_stage(r, &s));
  }
  return 0;
}

// Per-call figures of the sequence trials of one prefix (the layer up to `last`), by trial round
// (--trials is at most 100).
enum { MAX_ROUNDS = 128 };
typedef struct {
  double dyn[MAX_ROUNDS], gross[MAX_ROUNDS], time[MAX_ROUNDS];
  int have[MAX_ROUNDS];
} sequence_prefix;

static void sequence_prefix_of(const lj_profile_result *r, lj_phase ph, lj_stage last, sequence_prefix *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->method != LJ_METHOD_SEQUENCE || t->key.phase != ph || t->key.stage != last || t->trial < 0 ||
        t->trial >= MAX_ROUNDS || !(t->t.calls > 0) || !isfinite(t->t.counter_energy_j) || !(t->t.duration_s > 0))
      continue;
    double c = (double)t->t.calls;
    out->gross[t->trial] = t->t.counter_energy_j / c;
    out->dyn[t->trial] = (t->t.counter_energy_j - t->t.idle_w * t->t.duration_s) / c;
    out->time[t->trial] = t->t.duration_s / c;
    out->have[t->trial] = 1;
  }
}

// Mean and interval over the rounds that have both prefixes of (a - b); b NULL: a alone.
static int paired_rounds(const double *a, const double *b, const int *have_a, const int *have_b, double level,
                         lj_mean_ci *out, int *n) {
  double d[MAX_ROUNDS];
  int k = 0;
  for (int i = 0; i < MAX_ROUNDS; i++)
    if (have_a[i] && (!b || have_b[i])) d[k++] = a[i] - (b ? b[i] : 0);
  *n = k;
  if (k < 2) return 0;
  return lj_stats_mean_ci(d, (size_t)k, level, out);
}

// Sequence estimates of a phase's per-layer stages: each prefix of the layer minus the one
// before it, round by round (the rounds pair prefixes measured close in time). Also the
// whole layer's per-call energy, which the method's closure sums (the differences telescope
// to it; summing them as independent terms would overstate its spread). Decode is replayed
// at one KV length: its estimates stand for every layer call of every step.
static int sequence_estimates(lj_profile_result *r, lj_phase ph, lj_mean_ci *layer_gross, lj_mean_ci *layer_dyn,
                              int *complete) {
  const lj_profile_plan *p = &r->plan;
  sequence_prefix prev, cur;
  memset(&prev, 0, sizeof prev);
  memset(&cur, 0, sizeof cur);
  *complete = 0;
  int64_t kv = -1;
  for (size_t i = 0; i < r->n_trials && kv < 0; i++)
    if (r->trials[i].method == LJ_METHOD_SEQUENCE && r->trials[i].key.phase == ph) kv = r->trials[i].key.kv_len;
  if (kv < 0) return 0;  // not measured
  *complete = 1;
  for (int st = LJ_STAGE_ATTN_NORM; st <= LJ_STAGE_DOWN; st++) {
    sequence_prefix_of(r, ph, (lj_stage)st, &cur);
    int first = st == LJ_STAGE_ATTN_NORM, n = 0;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    lj_replay_estimate *e = &s.est;
    LJ_TRY(paired_rounds(cur.dyn, first ? NULL : prev.dyn, cur.have, prev.have, p->level, &e->dynamic_j, &n));
    if (n < 2) {
      *complete = 0;
      prev = cur;
      continue;
    }
    LJ_TRY(paired_rounds(cur.gross, first ? NULL : prev.gross, cur.have, prev.have, p->level, &e->gross_j, &n));
    LJ_TRY(paired_rounds(cur.time, first ? NULL : prev.time, cur.have, prev.have, p->level, &e->time_per_call_s, &n));
    s.method = LJ_METHOD_SEQUENCE;
    s.calls_per_unit = lj_profile_calls_per_unit(p, ph, LJ_STAGE_QKV, 0);  // every layer call of the phase
    e->key.phase = ph, e->key.stage = (lj_stage)st, e->key.layer = -1, e->key.kv_len = kv;
    e->n_trials = n;
    LJ_TRY(add_derived_stage(r, &s));
    prev = cur;
  }
  // the whole layer: the last prefix alone
  int n = 0;
  memset(layer_gross, 0, sizeof *layer_gross);
  memset(layer_dyn, 0, sizeof *layer_dyn);
  LJ_TRY(paired_rounds(cur.gross, NULL, cur.have, NULL, p->level, layer_gross, &n));
  LJ_TRY(paired_rounds(cur.dyn, NULL, cur.have, NULL, p->level, layer_dyn, &n));
  if (n < 2) *complete = 0;
  return 0;
}

// Closure of one phase by one method: the sum over its estimates against the phase windows;
// shares of the method's own estimates within that sum.
static int closure_of(lj_profile_result *r, lj_phase ph, lj_profile_method method, lj_closure *out) {
  const lj_phase_summary *m = &r->phases[ph];
  lj_closure_term *terms = malloc(sizeof *terms * (r->n_stages ? r->n_stages : 1));
  if (!terms) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  size_t n = 0, own = 0;
  double pred_g = 0, pred_d = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    lj_profile_stage *s = &r->stages[i];
    if (s->est.key.phase != ph || !(s->calls_per_unit > 0) || !lj_profile_stage_in_method(r, s, method)) continue;
    lj_closure_term_from_estimate(&s->est, s->calls_per_unit, &terms[n++]);
    pred_g += s->calls_per_unit * s->est.gross_j.mean;
    pred_d += s->calls_per_unit * s->est.dynamic_j.mean;
    own += s->method == method;
  }
  for (size_t i = 0; i < r->n_stages; i++) {
    lj_profile_stage *s = &r->stages[i];
    if (s->est.key.phase != ph || s->method != method) continue;
    s->share_gross = pred_g != 0 ? s->calls_per_unit * s->est.gross_j.mean / pred_g : NAN;
    s->share_dynamic = pred_d != 0 ? s->calls_per_unit * s->est.dynamic_j.mean / pred_d : NAN;
  }
  int rc = 0;
  if (n && own && m->gross_j.n > 0)
    rc = lj_closure_compute(ph, terms, n, &m->gross_j, &m->dynamic_j, r->plan.level, out);
  free(terms);
  return rc;
}

// Closure by sequence replay: the whole layer (the prefixes' differences telescope to it) x
// layers, plus the isolation estimates of the stages outside the layers; shares as closure_of.
static int closure_sequence(lj_profile_result *r, lj_phase ph, const lj_mean_ci *layer_gross,
                            const lj_mean_ci *layer_dyn) {
  lj_closure *out = &r->closure_sequence[ph];
  lj_closure scratch;
  LJ_TRY(closure_of(r, ph, LJ_METHOD_SEQUENCE, &scratch));  // the shares of the sequence estimates
  if (scratch.n_terms == 0) return 0;
  lj_closure_term *terms = malloc(sizeof *terms * (r->n_stages + 1));
  if (!terms) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  size_t n = 0;
  int covered = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *s = &r->stages[i];
    if (s->est.key.phase != ph || !(s->calls_per_unit > 0) || !lj_profile_stage_in_method(r, s, LJ_METHOD_SEQUENCE))
      continue;
    covered++;
    if (s->method != LJ_METHOD_ISOLATION) continue;
    lj_closure_term_from_estimate(&s->est, s->calls_per_unit, &terms[n++]);
  }
  memset(&terms[n], 0, sizeof terms[n]);
  terms[n].key.phase = ph, terms[n].key.stage = LJ_STAGE_DOWN, terms[n].key.layer = -1;
  terms[n].calls = lj_profile_calls_per_unit(&r->plan, ph, LJ_STAGE_QKV, 0);  // every layer call
  terms[n].gross_j = *layer_gross, terms[n].dynamic_j = *layer_dyn;
  n++;
  const lj_phase_summary *m = &r->phases[ph];
  int rc = lj_closure_compute(ph, terms, n, &m->gross_j, &m->dynamic_j, r->plan.level, out);
  free(terms);
  out->n_terms = covered;  // the stages the sum stands for
  return rc;
}

static int closures(lj_profile_result *r) {
  LJ_TRY(closure_of(r, LJ_PHASE_PREFILL, LJ_METHOD_ISOLATION, &r->closure[LJ_PHASE_PREFILL]));
  LJ_TRY(closure_of(r, LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, &r->closure[LJ_PHASE_DECODE]));
  LJ_TRY(closure_of(r, LJ_PHASE_PREFILL, LJ_METHOD_CONTEXT, &r->closure_context[LJ_PHASE_PREFILL]));
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    lj_mean_ci layer_gross, layer_dyn;
    int complete = 0;
    LJ_TRY(sequence_estimates(r, (lj_phase)ph, &layer_gross, &layer_dyn, &complete));
    // a prefix without two rounds: no sum of the whole layer's stages
    if (complete) LJ_TRY(closure_sequence(r, (lj_phase)ph, &layer_gross, &layer_dyn));
  }
  return 0;
}

static int timeline(lj_profile_result *r, const lj_sample *power, size_t n_power, int device) {
  if (!r->n_intervals || r->plan.timing_only) return 0;
  if (!n_power) {
    lj_profile_note(r, "The driver gave no power samples: the in-situ timeline has times but no energies.");
    return 0;
  }
  LJ_TRY(lj_timeline_attribute(r->intervals, r->n_intervals, power, n_power, device, LJ_READING_POWER_SAMPLE,
                               r->cond.idle_w, r->interval_energy_j, &r->timeline));
  r->timeline_valid = 1;
  int L = r->plan.config.n_layers;
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    r->layer_energy_j[ph] = calloc((size_t)L, sizeof(double));
    r->layer_time_s[ph] = calloc((size_t)L, sizeof(double));
    if (!r->layer_energy_j[ph] || !r->layer_time_s[ph]) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
    LJ_TRY(lj_timeline_layers(r->intervals, r->n_intervals, r->interval_energy_j, (lj_phase)ph, L,
                              r->layer_energy_j[ph], r->layer_time_s[ph]));
  }
  return 0;
}

// A derived estimate as a mean with its se and df (what lj_ablation_compute takes).
static void mean_from_interval(const lj_interval *iv, lj_mean_ci *out) {
  memset(out, 0, sizeof *out);
  out->n = 2;
  out->mean = iv->estimate, out->sem = iv->se, out->df = iv->df, out->level = iv->level;
  out->lo = iv->lo, out->hi = iv->hi, out->half_width = (iv->hi - iv->lo) / 2;
  out->stddev = out->cv = NAN;
}

// Per-call attention energy of decode over the whole generation: the replayed
// KV lengths weighted by the calls they stand for.
static int decode_attention_per_call(const lj_profile_result *r, lj_mean_ci *out) {
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
  mean_from_interval(&iv, out);
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
  mean_from_interval(&iv, out);
  return 0;
}

static int ablation(lj_profile_result *r, const lj_profile_raw *raw) {
  if (!raw || raw->n_full < 1 || raw->n_ablated < 1 || !r->plan.ablation) return 0;
  lj_mean_ci per_call;
  int mlp = r->plan.ablation == 2;
  if ((mlp ? decode_mlp_per_call(r, &per_call) : decode_attention_per_call(r, &per_call)) < 0) {
    lj_clear_error();
    return 0;
  }
  // One call = the stage (or the MLP's three) in one layer of one decode step.
  int64_t calls = (int64_t)(r->plan.gen_len - 1) * r->plan.config.n_layers;
  LJ_TRY(lj_ablation_compute(mlp ? LJ_STAGE_GATE_UP : LJ_STAGE_ATTN, calls, raw->full_j, (size_t)raw->n_full,
                             raw->ablated_j, (size_t)raw->n_ablated, &per_call, r->plan.level, &r->ablation));
  r->ablation_valid = 1;
  return 0;
}

static int head_fit(lj_profile_result *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_trials; i++) n += r->trials[i].groups > 0;
  if (n < 3) return 0;
  int *g = malloc(sizeof(int) * n);
  double *y = malloc(sizeof(double) * n);
  if (!g || !y) {
    free(g);
    free(y);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  size_t k = 0;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    if (t->groups <= 0 || !(t->t.calls > 0) || !isfinite(t->t.counter_energy_j)) continue;
    g[k] = t->groups;
    y[k++] = (t->t.counter_energy_j - t->t.idle_w * t->t.duration_s) / (double)t->t.calls;
    r->head_fit_kv = t->key.kv_len;
  }
  int rc = k >= 3 ? lj_head_fit_compute(g, y, k, r->plan.config.n_heads, r->plan.config.n_kv_heads, r->plan.level,
                                        &r->head_fit)
                  : 0;
  if (rc == 0 && k >= 3) r->head_fit_valid = 1;
  free(g);
  free(y);
  return rc;
}

static int overhead_entry(lj_profile_result *r, const char *what, const double *off, int n_off, const double *on,
                          int n_on) {
  if (n_off < 1 || n_on < 1 || r->n_overhead >= 2) return 0;
  lj_profile_overhead *o = &r->overhead[r->n_overhead];
  memset(o, 0, sizeof *o);
  snprintf(o->what, sizeof o->what, "%s", what);
  o->n = n_off < n_on ? n_off : n_on;
  LJ_TRY(lj_stats_mean_ci(off, (size_t)n_off, r->plan.level, &o->off_s));
  LJ_TRY(lj_stats_mean_ci(on, (size_t)n_on, r->plan.level, &o->on_s));
  o->overhead_pct = (o->on_s.mean - o->off_s.mean) / o->off_s.mean * 100;
  if (n_off >= 2 && n_on >= 2) {
    lj_interval ratio;
    LJ_TRY(lj_stats_ratio(&o->on_s, &o->off_s, r->plan.level, &ratio));
    lj_interval_from_se((ratio.estimate - 1) * 100, ratio.se * 100, ratio.df, r->plan.level, &o->overhead_pct_ci);
  } else {
    o->overhead_pct_ci.estimate = o->overhead_pct;
    o->overhead_pct_ci.se = o->overhead_pct_ci.lo = o->overhead_pct_ci.hi = o->overhead_pct_ci.df = NAN;
  }
  r->n_overhead++;
  return 0;
}

// One stamp's cost: the decode step's time with marks minus without, over the
// stamps of a step (one before the first stage, one after each of the 9 L + 4 stages).
static void stamp_cost(lj_profile_result *r, const lj_profile_raw *raw) {
  r->stamp_cost_s = NAN;
  if (!raw || raw->n_marks_on < 1 || raw->n_marks_off < 1) return;
  double on = lj_stats_mean(raw->marks_on_s, (size_t)raw->n_marks_on);
  double off = lj_stats_mean(raw->marks_off_s, (size_t)raw->n_marks_off);
  // per decode step; a unit of gen_len tokens has gen_len - 1 marked steps
  double per_step = (on - off) * r->plan.gen_len / (r->plan.gen_len - 1);
  double stamps = (double)(LJ_STAGE_DOWN - LJ_STAGE_ATTN_NORM + 1) * r->plan.config.n_layers + 5;
  if (per_step > 0) r->stamp_cost_s = per_step / stamps;
}

int lj_profile_analyze(lj_profile_result *r, const lj_profile_raw *raw, const lj_sample *power, size_t n_power,
                       int device) {
  LJ_TRY(lj_profile_summarize_phases(r));
  stamp_cost(r, raw);
  if (!r->plan.timing_only) {
    LJ_TRY(estimates(r));
    LJ_TRY(context_estimates(r));
    LJ_TRY(closures(r));
    LJ_TRY(timeline(r, power, n_power, device));
    LJ_TRY(ablation(r, raw));
    LJ_TRY(head_fit(r));
  }
  if (raw) {
    LJ_TRY(overhead_entry(r, "sampler", raw->sampler_off_s, raw->n_sampler_off, raw->sampler_on_s, raw->n_sampler_on));
    LJ_TRY(overhead_entry(r, "timeline", raw->marks_off_s, raw->n_marks_off, raw->marks_on_s, raw->n_marks_on));
  }
  return 0;
}
