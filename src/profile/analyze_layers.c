// Per-layer estimates (docs/attribution.md §2f): the trials of each decoder
// layer replayed alone (method "layer", key.layer) into a per-call energy with
// its interval, the layers ranked by dynamic energy, and the agreement test
// across them: with random weights every layer is the same computation, so a
// layer outside the others' interval says the measurement, not the model,
// differs. What proves the estimates wrong: the layer-skip check
// (lj_layer_skip_compute), the real run without that layer. The layers x stages
// (method "layer_stage", key.layer and key.stage) the same way, per cell.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/analyze_layers.h"
#include "profile/bracket.h"

int lj_layer_agreement_compute(lj_layer_estimate *l, size_t n, double level) {
  for (size_t i = 0; i < n; i++) {
    l[i].rank = 1;
    for (size_t j = 0; j < n; j++)
      if (j != i && l[j].dynamic_j.mean > l[i].dynamic_j.mean) l[i].rank++;
    l[i].t = l[i].critical = NAN;
    l[i].agrees = 1;
  }
  if (n < 2) return 0;
  // Under the null every layer is the same computation, so the layers share one variance: pool it
  // over all of them (df = sum of n_j - 1). Welch's per-layer variances at 3 trials made a layer whose
  // three trials happened to lie close read |t| 5.4 for 0.8% off the others (H100, 1B prefill).
  double ss = 0, df = 0;
  for (size_t j = 0; j < n; j++)
    if (l[j].dynamic_j.n >= 2 && isfinite(l[j].dynamic_j.stddev)) {
      ss += (l[j].dynamic_j.n - 1) * l[j].dynamic_j.stddev * l[j].dynamic_j.stddev;
      df += l[j].dynamic_j.n - 1;
    }
  if (!(df > 0) || !(ss > 0)) return 0;
  double sp = sqrt(ss / df);
  // Bonferroni over the n layers, two-sided: each layer tested at (1 - level) / n.
  double critical = lj_student_t_critical(1 - (1 - level) / (double)n, df);
  for (size_t i = 0; i < n; i++) {
    // this layer - the mean of the others: coefficients 1 and -1/(n-1)
    double others = 0, v = 1.0 / l[i].dynamic_j.n;
    for (size_t j = 0; j < n; j++)
      if (j != i) others += l[j].dynamic_j.mean / (double)(n - 1), v += 1.0 / (l[j].dynamic_j.n * (double)((n - 1) * (n - 1)));
    double d = l[i].dynamic_j.mean - others, half = critical * sp * sqrt(v);
    l[i].t = d / (sp * sqrt(v));
    l[i].critical = critical;
    // Random weights make every layer the same FLOPs and bytes, not the same bits, and the power
    // depends on the operands: a layer also agrees when its whole interval lies within the band.
    double band = LJ_LAYER_AGREE_PCT / 100 * fabs(others);
    l[i].agrees = fabs(l[i].t) <= critical || (d - half >= -band && d + half <= band);
  }
  return 0;
}

// The estimates of one phase, layer by layer, then their agreement.
static int phase_layers(lj_profile_result *r, lj_phase ph, lj_replay_trial *t) {
  int n_layers = r->plan.config.n_layers;
  size_t first = r->n_layers;
  for (int L = 0; L < n_layers; L++) {
    size_t n = 0;
    int64_t kv = 0;
    for (size_t i = 0; i < r->n_trials; i++) {
      const lj_profile_trial *x = &r->trials[i];
      if (x->method != LJ_METHOD_LAYER || x->key.phase != ph || x->key.layer != L || x->key.stage != LJ_STAGE_NONE)
        continue;
      if (isfinite(x->t.counter_energy_j) && x->t.calls > 0 && x->t.duration_s > 0) t[n++] = x->t;
      kv = x->key.kv_len;
    }
    if (!n) continue;
    lj_replay_estimate e;
    LJ_TRY(lj_replay_estimate_compute(t, n, NAN, r->plan.level, &e));
    lj_layer_estimate l;
    memset(&l, 0, sizeof l);
    l.phase = ph, l.layer = L, l.kv_len = kv, l.n_trials = e.n_trials;
    l.dynamic_j = e.dynamic_j, l.gross_j = e.gross_j, l.time_s = e.time_per_call_s;
    l.flags = e.window_flags;
    LJ_TRY(lj_profile_add_layer(r, &l));
  }
  return lj_layer_agreement_compute(r->layers + first, r->n_layers - first, r->plan.level);
}

// The timeline's time per call of stage st of layer L (the stamp's cost off; NAN: no timeline). In
// decode, the mean over the steps, whose KV lengths surround the replay's middle one.
static double insitu_layer_stage_time(const lj_profile_result *r, lj_phase ph, int L, lj_stage st) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < r->n_intervals; i++) {
    const lj_stage_interval *iv = &r->intervals[i];
    if (iv->phase != ph || iv->stage != st || iv->layer != L) continue;
    sum += (double)(iv->end_ns - iv->begin_ns) * 1e-9;
    n++;
  }
  double t = n ? sum / (double)n - (isfinite(r->stamp_cost_s) ? r->stamp_cost_s : 0) : NAN;
  return t > 0 ? t : NAN;
}

// The layers x stages of one phase: each stage of each layer alone, per call.
static int phase_layer_stages(lj_profile_result *r, lj_phase ph, lj_replay_trial *t) {
  int n_layers = r->plan.config.n_layers;
  for (int L = 0; L < n_layers; L++)
    for (int k = 0; k < LJ_LAYER_STAGES; k++) {
      lj_stage st = lj_layer_order_stage(0, k);
      size_t n = 0;
      int64_t kv = 0;
      for (size_t i = 0; i < r->n_trials; i++) {
        const lj_profile_trial *x = &r->trials[i];
        if (x->method != LJ_METHOD_LAYER_STAGE || x->key.phase != ph || x->key.layer != L || x->key.stage != st)
          continue;
        if (isfinite(x->t.counter_energy_j) && x->t.calls > 0 && x->t.duration_s > 0) t[n++] = x->t;
        kv = x->key.kv_len;
      }
      if (!n) continue;
      lj_replay_estimate e;
      LJ_TRY(lj_replay_estimate_compute(t, n, insitu_layer_stage_time(r, ph, L, st), r->plan.level, &e));
      lj_layer_stage_estimate l;
      memset(&l, 0, sizeof l);
      l.phase = ph, l.layer = L, l.stage = st, l.kv_len = kv, l.n_trials = e.n_trials;
      l.dynamic_j = e.dynamic_j, l.gross_j = e.gross_j, l.time_s = e.time_per_call_s;
      l.insitu_time_s = e.insitu_time_per_call_s, l.time_ratio = e.time_ratio;
      l.flags = e.window_flags;
      LJ_TRY(lj_profile_add_layer_stage(r, &l));
    }
  return 0;
}

// The head's change when the last layer L is skipped, per call: the final norm and LM head on L's input
// (variant 1) less on their own (variant 0), Welch's difference of their trials' means. 1 when measured.
static int head_change(const lj_profile_result *r, lj_phase ph, int L, lj_replay_trial *t, lj_interval *out) {
  lj_replay_estimate e[2];
  for (int v = 0; v < 2; v++) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_trials; i++) {
      const lj_profile_trial *x = &r->trials[i];
      if (x->method == LJ_METHOD_LAYER && x->key.phase == ph && x->key.layer == L && x->key.stage == LJ_STAGE_LM_HEAD &&
          x->variant == v && isfinite(x->t.counter_energy_j) && x->t.calls > 0 && x->t.duration_s > 0)
        t[n++] = x->t;
    }
    if (n < 2 || lj_replay_estimate_compute(t, n, NAN, r->plan.level, &e[v]) < 0) return 0;
  }
  return lj_stats_difference(&e[1].dynamic_j, &e[0].dynamic_j, r->plan.level, out) == 0;
}

// The skip checks of one phase (pi: 0 prefill, 1 decode) against the layers' estimates, from its
// windows in the order they ran. The saving takes the power samples where they give every pair
// the counter gives (§1b; the windows are >= --phase-seconds, under 10 s), the counter's beside it.
static int phase_skips(lj_profile_result *r, const lj_profile_raw *raw, int pi, lj_replay_trial *t) {
  lj_phase ph = pi ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL;
  int n_layers = r->plan.config.n_layers;
  double calls = n_layers > 0 ? lj_profile_calls_per_unit(&r->plan, ph, LJ_STAGE_QKV, 0) / n_layers : 0;
  int64_t per_unit = (int64_t)(calls + 0.5);
  size_t n = (size_t)raw->n_skip[pi];
  enum { CAP = LJ_SKIP_MAX_WINDOWS / 2 };  // pairs: at most one skipped window in two
  double fc[CAP], sc[CAP], fs[CAP], ss[CAP];
  for (int k = 1; k < LJ_SKIP_SLOTS && r->n_layer_skips < LJ_PROFILE_MAX_LAYER_SKIPS; k++) {
    int L = raw->skip_layer[k], seen = 0;
    for (int j = 1; j < k; j++) seen |= raw->skip_layer[j] == L;
    if (seen || per_unit < 1 || n > LJ_SKIP_MAX_WINDOWS) continue;
    const lj_layer_estimate *est = NULL;
    for (size_t i = 0; i < r->n_layers; i++)
      if (r->layers[i].phase == ph && r->layers[i].layer == L) est = &r->layers[i];
    if (!est) continue;
    size_t nc = lj_bracket_pairs(raw->skip_slot[pi], raw->skip_j[pi], n, k, fc, sc);
    size_t ns = lj_bracket_pairs(raw->skip_slot[pi], raw->skip_sample_j[pi], n, k, fs, ss);
    int samples = ns > 0 && ns >= nc;
    if (!samples && nc == 0) continue;
    lj_layer_skip *s = &r->layer_skips[r->n_layer_skips];
    lj_interval head;  // per call, then per unit (the head runs once a step, as the layer)
    int last = L == n_layers - 1, with_head = last && head_change(r, ph, L, t, &head);
    if (with_head) {
      double c = lj_profile_calls_per_unit(&r->plan, ph, LJ_STAGE_LM_HEAD, 0);
      lj_interval_from_se(head.estimate * c, head.se * c, head.df, r->plan.level, &head);
    }
    LJ_TRY(lj_layer_skip_compute(ph, L, last, per_unit, samples ? fs : fc, samples ? ss : sc, samples ? ns : nc,
                                 &est->dynamic_j, with_head ? &head : NULL, r->plan.level, s));
    if (samples) {
      double d = 0;
      for (size_t i = 0; i < nc; i++) d += fc[i] - sc[i];
      if (nc > 0) s->a.counter_saved_j = d / (double)nc;
      s->a.flags = lj_energy_source_flags(1, s->a.saved_j.lo, s->a.saved_j.hi, s->a.counter_saved_j);
    }
    r->n_layer_skips++;
  }
  return 0;
}

int lj_analyze_layers(lj_profile_result *r, const lj_profile_raw *raw) {
  free(r->layers);
  r->layers = NULL;
  r->n_layers = 0;
  free(r->layer_stages);
  r->layer_stages = NULL;
  r->n_layer_stages = 0;
  lj_replay_trial *t = malloc(sizeof *t * (r->n_trials ? r->n_trials : 1));
  if (!t) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int rc = 0;
  for (int p = 0; p < LJ_PHASE_COUNT && rc == 0; p++) rc = phase_layers(r, (lj_phase)p, t);
  for (int p = 0; p < LJ_PHASE_COUNT && rc == 0; p++) rc = phase_layer_stages(r, (lj_phase)p, t);
  r->n_layer_skips = 0;
  for (int pi = 0; raw && pi < 2 && rc == 0; pi++) rc = phase_skips(r, raw, pi, t);
  free(t);
  return rc;
}
