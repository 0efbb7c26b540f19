// Sequence estimates: each prefix of the layer minus the one before it, round
// by round, per call; and the sequence closure, the whole layer (the prefixes
// telescope to it) x layers plus the isolation estimates of the stages outside
// the layers, against the measured phase. That closure is what can prove the
// method (and the replay harness) wrong.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

// Per-call figures of the sequence trials of one prefix (the layer up to `last`), by trial round
// (--trials is at most 100): by the counter and by the power samples (NAN where a round's
// samples cannot stand for it, lj_trial_samples_usable).
enum { MAX_ROUNDS = 128 };
// The prefixes follow the run's order of a layer's stages (lj_layer_order_stage, variant 0: a
// GPU profile runs at tensor-parallel degree 1); the whole layer is the prefix up to its last.
#define LAST lj_layer_order_stage(0, LJ_LAYER_STAGES - 1)

// The stage before st in the run's order (LJ_STAGE_NONE: st is the first, or not in the layer).
static lj_stage stage_before(lj_stage st) {
  for (int k = 1; k < LJ_LAYER_STAGES; k++)
    if (lj_layer_order_stage(0, k) == st) return lj_layer_order_stage(0, k - 1);
  return LJ_STAGE_NONE;
}
typedef struct {
  double dyn[MAX_ROUNDS], gross[MAX_ROUNDS], time[MAX_ROUNDS];
  double sdyn[MAX_ROUNDS], sgross[MAX_ROUNDS];
  int have[MAX_ROUNDS];
  uint32_t flags;  // LJ_WINDOW_POWER_CAP when a round's trial ran at the cap
} sequence_prefix;

static void sequence_prefix_of(const lj_profile_result *r, lj_phase ph, lj_stage last, sequence_prefix *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    // the whole layer: the last prefix, or the Shapley rounds' whole layer (the same replay, measured
    // LJ_LAYER_WHOLE_REPEATS times a round: their mean)
    int whole = last == LAST && lj_trial_whole_layer(t);
    if (!whole && (t->method != LJ_METHOD_SEQUENCE || t->key.stage != last)) continue;
    lj_trial_per_call v;
    if (t->key.phase != ph || t->trial < 0 || t->trial >= MAX_ROUNDS || !lj_analyze_trial_per_call(t, &v)) continue;
    int k = t->trial, n = whole ? ++out->have[k] : (out->have[k] = 1);
    double *dst[] = {&out->gross[k], &out->dyn[k], &out->time[k], &out->sgross[k], &out->sdyn[k]};
    const double src[] = {v.gross, v.dyn, v.time, v.sgross, v.sdyn};
    for (int j = 0; j < 5; j++) *dst[j] = lj_stats_mean_add(*dst[j], src[j], n);
    out->flags |= t->t.window_flags & LJ_WINDOW_POWER_CAP;
  }
}

// Mean and interval over the rounds that have both prefixes of (a - b); b NULL: a alone.
// *finite: 0 when a round's difference is not finite (a sample figure missing).
static int paired_rounds(const double *a, const double *b, const int *have_a, const int *have_b, double level,
                         lj_mean_ci *out, int *n, int *finite) {
  double d[MAX_ROUNDS];
  int k = 0;
  *finite = 1;
  for (int i = 0; i < MAX_ROUNDS; i++)
    if (have_a[i] && (!b || have_b[i])) {
      d[k] = a[i] - (b ? b[i] : 0);
      *finite &= isfinite(d[k++]);
    }
  *n = k;
  if (k < 2 || !*finite) return 0;
  return lj_stats_mean_ci(d, (size_t)k, level, out);
}

// The estimate of one difference of prefixes (b NULL: a alone) by both sources: the samples'
// where every round has them, else the counter's; the other beside it, and the source flags.
static int paired_sources(const sequence_prefix *a, const sequence_prefix *b, double level, lj_replay_estimate *e,
                          int *n) {
  int fin = 1, sfin = 1, sn = 0;
  LJ_TRY(paired_rounds(a->dyn, b ? b->dyn : NULL, a->have, b ? b->have : NULL, level, &e->counter_dynamic_j, n, &fin));
  if (*n < 2) return 0;
  LJ_TRY(paired_rounds(a->gross, b ? b->gross : NULL, a->have, b ? b->have : NULL, level, &e->counter_gross_j, n, &fin));
  LJ_TRY(paired_rounds(a->sdyn, b ? b->sdyn : NULL, a->have, b ? b->have : NULL, level, &e->sample_dynamic_j, &sn,
                       &sfin));
  int samples = sfin && sn == *n;
  if (samples)
    LJ_TRY(paired_rounds(a->sgross, b ? b->sgross : NULL, a->have, b ? b->have : NULL, level, &e->sample_gross_j, &sn,
                         &sfin));
  else
    memset(&e->sample_gross_j, 0, sizeof e->sample_gross_j), memset(&e->sample_dynamic_j, 0, sizeof e->sample_dynamic_j);
  e->gross_j = samples ? e->sample_gross_j : e->counter_gross_j;
  e->dynamic_j = samples ? e->sample_dynamic_j : e->counter_dynamic_j;
  const lj_mean_ci *other = samples ? &e->counter_dynamic_j : &e->sample_dynamic_j;
  e->window_flags |= lj_energy_source_flags(samples, e->dynamic_j.lo, e->dynamic_j.hi, other->n > 0 ? other->mean : NAN);
  return 0;
}

// Sequence estimates of a phase's per-layer stages: each prefix of the layer minus the one
// before it, round by round (the rounds pair prefixes measured close in time). Also the
// whole layer's per-call energy, which the method's closure sums (the differences telescope
// to it; summing them as independent terms would overstate its spread). Decode is replayed
// at one KV length: its estimates stand for every layer call of every step.
int lj_analyze_sequence(lj_profile_result *r, lj_phase ph, lj_mean_ci *layer_gross, lj_mean_ci *layer_dyn,
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
  for (int k = 0; k < LJ_LAYER_STAGES; k++) {
    lj_stage st = lj_layer_order_stage(0, k);
    sequence_prefix_of(r, ph, st, &cur);
    int first = k == 0, n = 0;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    lj_replay_estimate *e = &s.est;
    LJ_TRY(paired_sources(&cur, first ? NULL : &prev, p->level, e, &n));
    if (n < 2) {
      *complete = 0;
      prev = cur;
      continue;
    }
    int fin = 1;
    LJ_TRY(paired_rounds(cur.time, first ? NULL : prev.time, cur.have, prev.have, p->level, &e->time_per_call_s, &n,
                         &fin));
    s.method = LJ_METHOD_SEQUENCE;
    s.calls_per_unit = lj_profile_calls_per_unit(p, ph, LJ_STAGE_QKV, 0);  // every layer call of the phase
    e->key.phase = ph, e->key.stage = st, e->key.layer = -1, e->key.kv_len = kv;
    e->n_trials = n;
    e->window_flags |= cur.flags;  // this prefix ran at the cap: what the stage adds is not the run's
    LJ_TRY(lj_analyze_add_derived_stage(r, &s));
    prev = cur;
  }
  // the whole layer: the last prefix alone, from the same source as the differences
  int n = 0;
  lj_replay_estimate layer;
  memset(&layer, 0, sizeof layer);
  LJ_TRY(paired_sources(&cur, NULL, p->level, &layer, &n));
  *layer_gross = layer.gross_j;
  *layer_dyn = layer.dynamic_j;
  if (n < 2) *complete = 0;
  return 0;
}


// A group of the layer's stages (an ablation's: attention, the MLP) by sequence, per call: the
// sum of the group's differences taken round by round, so that its interval is the spread of
// the rounds' sums. Summing the stages' intervals as independent terms would add differences
// that share a prefix (P_k enters d_k with + and d_k+1 with -), about sqrt(n) too wide.
int lj_analyze_sequence_group(const lj_profile_result *r, lj_phase ph, const lj_stage *st, int n, lj_mean_ci *out) {
  double sum[MAX_ROUNDS], ssum[MAX_ROUNDS];
  int have[MAX_ROUNDS];
  for (int i = 0; i < MAX_ROUNDS; i++) sum[i] = ssum[i] = 0, have[i] = 1;
  sequence_prefix *a = malloc(2 * sizeof *a);
  if (!a) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int any = 0;
  for (int k = 0; k < n; k++) {
    lj_stage before = stage_before(st[k]);
    if (before == LJ_STAGE_NONE && st[k] != lj_layer_order_stage(0, 0)) continue;  // not a layer stage
    sequence_prefix_of(r, ph, st[k], &a[0]);
    if (before != LJ_STAGE_NONE) sequence_prefix_of(r, ph, before, &a[1]);
    else memset(&a[1], 0, sizeof a[1]), memset(a[1].have, 0xff, sizeof a[1].have);
    for (int i = 0; i < MAX_ROUNDS; i++) {
      have[i] &= a[0].have[i] && a[1].have[i];
      sum[i] += a[0].dyn[i] - a[1].dyn[i];
      ssum[i] += a[0].sdyn[i] - a[1].sdyn[i];
    }
    any = 1;
  }
  free(a);
  if (!any) return 0;
  // the samples' where every round has them (as each stage's estimate, paired_sources)
  int m = 0, fin = 1, sm = 0, sfin = 1;
  lj_mean_ci c, sc;
  memset(&sc, 0, sizeof sc);
  LJ_TRY(paired_rounds(sum, NULL, have, NULL, r->plan.level, &c, &m, &fin));
  if (m < 2 || !fin) return 0;
  LJ_TRY(paired_rounds(ssum, NULL, have, NULL, r->plan.level, &sc, &sm, &sfin));
  *out = sfin && sm == m ? sc : c;
  return 1;
}

// Closure by sequence replay: the whole layer (the prefixes' differences telescope to it) x
// layers, plus the isolation estimates of the stages outside the layers.
int lj_analyze_closure_sequence(lj_profile_result *r, lj_phase ph, const lj_mean_ci *layer_gross,
                                const lj_mean_ci *layer_dyn) {
  lj_closure *out = &r->closure_sequence[ph];
  lj_closure scratch;
  LJ_TRY(lj_analyze_closure_of(r, ph, LJ_METHOD_SEQUENCE, &scratch));  // whether any sequence estimate counts
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
  terms[n].key.phase = ph, terms[n].key.stage = LAST, terms[n].key.layer = -1;
  terms[n].calls = lj_profile_calls_per_unit(&r->plan, ph, LJ_STAGE_QKV, 0);  // every layer call
  terms[n].gross_j = *layer_gross, terms[n].dynamic_j = *layer_dyn;
  n++;
  const lj_phase_summary *m = &r->phases[ph];
  int rc = lj_closure_compute(ph, terms, n, &m->gross_j, &m->dynamic_j, r->plan.level, out);
  free(terms);
  out->n_terms = covered;  // the stages the sum stands for
  return rc;
}

