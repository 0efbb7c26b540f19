// From a profile's raw measurements to its derived figures (profile_analyze.c),
// on a synthetic run of the tiny model (2 layers) whose every number is chosen:
//   - calls per unit: per-layer stages x layers x steps, sampling once per token,
//     decode attention spread over the replayed KV lengths (sums to every step);
//   - replay trials with known per-call energies give those energies exactly;
//   - closure: the decode window holds 4% more dynamic energy than the stages
//     predict, so the error is exactly 1/1.04 - 1;
//   - the timestamp cost comes from the marks on/off figures and is taken off
//     the in-situ times (replay/in-situ ratio exactly 1);
//   - MLP ablation: the saving against gate_up + swiglu + down per call;
//   - overhead: (on - off) / off;
//   - sequence (prefill): prefixes of the layer whose stages cost 1.5x their isolated figure
//     in sequence give each stage's 1.5x exactly, round by round; the sequence closure is 0,
//     its spread that of the whole layer alone; a prefix with one round leaves no closure.
#include <math.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "profile/profile_analyze.h"

#include "near.h"

enum { P = 4, G = 5 };
static const double kIdle = 100.0;       // W
static const double kStamp = 2e-6;       // s per timestamp
static const double kCallTime = 10e-6;   // s per replayed call, every stage

// Per-call dynamic energy of each stage (decode), J; attention grows with the cache.
static double energy_of(lj_stage s, int64_t kv) {
  if (s == LJ_STAGE_ATTN) return 1e-4 * (double)kv;
  return 1e-3 * (1 + (int)s);
}

static void plan(lj_profile_result *r) {
  lj_profile_plan *p = &r->plan;
  assert_int_equal(lj_config_preset("tiny", &p->config), 0);
  p->batch = 1, p->prompt_len = P, p->gen_len = G, p->level = 0.95;
  p->repeats = 3, p->trials = 3, p->ablation = 2;
  p->n_decode_kv = 3;
  p->decode_kv[0] = 4, p->decode_kv[1] = 5, p->decode_kv[2] = 7;  // P .. P + G - 2
}

// Three trials at the stage's energy, with -1%, 0, +1% noise; 1000 calls of kCallTime.
static void add_trials(lj_profile_result *r, lj_stage s, int64_t kv) {
  for (int k = 0; k < 3; k++) {
    lj_profile_trial t;
    memset(&t, 0, sizeof t);
    t.key.phase = LJ_PHASE_DECODE, t.key.stage = s, t.key.layer = -1, t.key.kv_len = kv;
    t.trial = k;
    t.t.calls = 1000;
    t.t.duration_s = 1000 * kCallTime;
    t.t.idle_w = kIdle;
    t.t.counter_energy_j = 1000 * energy_of(s, kv) * (1 + 0.01 * (k - 1)) + kIdle * t.t.duration_s;
    t.t.sample_energy_j = NAN;
    t.t.temperature_c = 40;
    assert_int_equal(lj_profile_add_trial(r, &t), 0);
  }
}

static double predicted_decode_dynamic(const lj_profile_plan *p) {
  double sum = 0;
  for (int s = LJ_STAGE_EMBED; s <= LJ_STAGE_SAMPLE; s = lj_stage_next(s, 1)) {
    if (s == LJ_STAGE_ATTN) {
      for (int j = 0; j < p->n_decode_kv; j++)
        sum += lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, (lj_stage)s, j) * energy_of((lj_stage)s, p->decode_kv[j]);
    } else {
      sum += lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, (lj_stage)s, 0) * energy_of((lj_stage)s, P);
    }
  }
  return sum;
}

static void test_calls_per_unit(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  plan(&r);
  const lj_profile_plan *p = &r.plan;
  int L = p->config.n_layers;
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_PREFILL, LJ_STAGE_QKV, 0) == L);
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_PREFILL, LJ_STAGE_LM_HEAD, 0) == 1);
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_PREFILL, LJ_STAGE_SAMPLE, 0) == 0);
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, LJ_STAGE_GATE_UP, 0) == (double)L * (G - 1));
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, LJ_STAGE_LM_HEAD, 0) == G - 1);
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, LJ_STAGE_SAMPLE, 0) == G);
  // Steps run at KV 4, 5, 6, 7: 4 and 5 exactly, 6 half to 5 and half to 7, 7 exactly.
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, LJ_STAGE_ATTN, 0) == 1.0 * L);
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, LJ_STAGE_ATTN, 1) == 1.5 * L);
  assert_true(lj_profile_calls_per_unit(p, LJ_PHASE_DECODE, LJ_STAGE_ATTN, 2) == 1.5 * L);
  lj_profile_result_free(&r);
}

static void test_analyze(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  plan(&r);
  r.cond.idle_w = kIdle;
  int L = r.plan.config.n_layers;
  for (int s = LJ_STAGE_EMBED; s <= LJ_STAGE_SAMPLE; s = lj_stage_next(s, 1)) add_trials(&r, (lj_stage)s, P);
  add_trials(&r, LJ_STAGE_ATTN, 5);
  add_trials(&r, LJ_STAGE_ATTN, 7);
  // Three decode windows, each 10 units; dynamic energy 4% above the prediction.
  double pred = predicted_decode_dynamic(&r.plan), unit_time = 0.01;
  for (int k = 0; k < 3; k++) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    w.phase = LJ_PHASE_DECODE, w.repeat = k, w.units = 10, w.tokens_per_unit = G, w.host_s = 10 * unit_time;
    w.w.duration_s = 10 * unit_time;
    w.w.counter_above_idle_j = 10 * pred * 1.04;
    w.w.counter_energy_j = w.w.counter_above_idle_j + kIdle * w.w.duration_s;
    w.w.sample_energy_j = w.w.counter_energy_j;
  w.w.sample_above_idle_j = w.w.counter_above_idle_j;
    w.w.sample_above_idle_j = w.w.counter_above_idle_j;
    assert_int_equal(lj_profile_add_window(&r, &w), 0);
  }
  // In-situ intervals: every stage call of step 1 lasts kCallTime plus one stamp.
  int64_t t = 1000000;
  for (int s = LJ_STAGE_EMBED; s <= LJ_STAGE_SAMPLE; s = lj_stage_next(s, 1)) {
    int calls = lj_stage_is_per_layer((lj_stage)s) ? L : 1;
    for (int l = 0; l < calls; l++) {
      lj_stage_interval iv = {t, t + (int64_t)llround((kCallTime + kStamp) * 1e9), LJ_PHASE_DECODE, (lj_stage)s,
                              lj_stage_is_per_layer((lj_stage)s) ? l : -1};
      assert_int_equal(lj_profile_add_interval(&r, &iv, 1), 0);
      t = iv.end_ns;
    }
  }
  lj_profile_raw raw;
  memset(&raw, 0, sizeof raw);
  // Marks add (9 L + 5) stamps to each of the G - 1 marked steps of a G-token unit.
  double stamps_per_token = (9.0 * L + 5) * kStamp * (G - 1) / G;
  for (int i = 0; i < 3; i++) {
    raw.marks_off_s[raw.n_marks_off++] = 1e-3;
    raw.marks_on_s[raw.n_marks_on++] = 1e-3 + stamps_per_token;
    raw.sampler_off_s[raw.n_sampler_off++] = 1e-3 * (1 + 0.001 * i);
    raw.sampler_on_s[raw.n_sampler_on++] = 1.01e-3 * (1 + 0.001 * i);
  }
  double mlp = (G - 1) * L * (energy_of(LJ_STAGE_GATE_UP, P) + energy_of(LJ_STAGE_SWIGLU, P) + energy_of(LJ_STAGE_DOWN, P));
  for (int i = 0; i < 3; i++) {
    raw.full_j[raw.n_full++] = 10 + 0.1 * i;
    raw.ablated_j[raw.n_ablated++] = 10 + 0.1 * i - 0.9 * mlp;  // saves 10% less than the replay says
  }
  int rc = lj_profile_analyze(&r, &raw, NULL, 0, 0);
  if (rc) fprintf(stderr, "%s\n", lj_error_message());
  assert_int_equal(rc, 0);

  REL(r.stamp_cost_s, kStamp, 1e-9);
  assert_int_equal((int)r.n_stages, 13 + 2);  // every decode stage of a degree-1 run, attention at 3 lengths
  for (size_t i = 0; i < r.n_stages; i++) {
    const lj_profile_stage *s = &r.stages[i];
    REL(s->est.dynamic_j.mean, energy_of(s->est.key.stage, s->est.key.kv_len), 1e-12);
    REL(s->est.gross_j.mean, energy_of(s->est.key.stage, s->est.key.kv_len) + kIdle * kCallTime, 1e-12);
    assert_int_equal(s->est.n_trials, 3);
    // sd of (-1%, 0, +1%) is 1% of the mean
    REL(s->est.dynamic_j.stddev, 0.01 * energy_of(s->est.key.stage, s->est.key.kv_len), 1e-9);
    if (!(s->est.key.stage == LJ_STAGE_ATTN && s->est.key.kv_len != P)) REL(s->est.time_ratio, 1.0, 1e-6);
  }
  const lj_closure *c = &r.closure[LJ_PHASE_DECODE];
  assert_int_equal(c->n_terms, 13 + 2);  // a degree-1 run's 13 stages, attention at 3 lengths
  REL(c->predicted_dynamic_j.estimate, pred, 1e-12);
  REL(c->error_dynamic_pct, (1 / 1.04 - 1) * 100, 1e-9);
  double share = 0;
  for (size_t i = 0; i < r.n_stages; i++) share += r.stages[i].share_dynamic;
  REL(share, 1.0, 1e-12);
  assert_true(r.ablation_valid);
  assert_int_equal(r.ablation.stage, LJ_STAGE_GATE_UP);
  REL(r.ablation.saved_j.estimate, 0.9 * mlp, 1e-9);
  REL(r.ablation.replay_j.estimate, mlp, 1e-12);
  REL(r.ablation.agreement_pct, -10.0, 1e-6);
  assert_int_equal(r.n_overhead, 2);
  assert_string_equal(r.overhead[0].what, "sampler");
  REL(r.overhead[0].overhead_pct, 1.0, 1e-9);
  assert_string_equal(r.overhead[1].what, "timeline");
  REL(r.overhead[1].overhead_pct, stamps_per_token / 1e-3 * 100, 1e-9);
  assert_true(r.phases[LJ_PHASE_DECODE].n == 3);
  REL(r.phases[LJ_PHASE_DECODE].dynamic_j.mean, pred * 1.04, 1e-12);
  lj_profile_result_free(&r);
}

// A phase window of 100 units in 0.1 s, each holding exactly `unit` J above idle.
static void add_exact_window(lj_profile_result *r, lj_phase ph, int repeat, int64_t tokens, double unit) {
  lj_phase_window w;
  memset(&w, 0, sizeof w);
  w.phase = ph, w.repeat = repeat, w.units = 100, w.tokens_per_unit = tokens;
  w.w.duration_s = w.host_s = 0.1;
  w.w.counter_above_idle_j = 100 * unit;
  w.w.counter_energy_j = w.w.counter_above_idle_j + kIdle * w.w.duration_s;
  w.w.sample_energy_j = w.w.counter_energy_j;
  w.w.sample_above_idle_j = w.w.counter_above_idle_j;
  assert_int_equal(lj_profile_add_window(r, &w), 0);
}

// Isolation trials of every prefill stage at energy_of, exact; prefill windows holding `unit` J.
static void prefill_isolation_and_windows(lj_profile_result *r, double unit) {
  for (int s = LJ_STAGE_EMBED; s <= LJ_STAGE_LM_HEAD; s = lj_stage_next(s, 1))
    for (int k = 0; k < 3; k++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_PREFILL, t.key.stage = (lj_stage)s, t.key.layer = -1, t.trial = k;
      t.t.calls = 1000, t.t.duration_s = 1000 * kCallTime, t.t.idle_w = kIdle;
      t.t.counter_energy_j = 1000 * energy_of((lj_stage)s, 0) + kIdle * t.t.duration_s;
      t.t.sample_energy_j = NAN;
      assert_int_equal(lj_profile_add_trial(r, &t), 0);
    }
  for (int k = 0; k < 3; k++) add_exact_window(r, LJ_PHASE_PREFILL, k, P, unit);
}

// A sequence trial: the layer's prefix up to `last` at per-layer energy e, 1000 prefixes of
// 1 ms in round `round`, noise -1%, 0, +1% by round.
static void add_sequence_at(lj_profile_result *r, lj_phase ph, int64_t kv, lj_stage last, double e, int round) {
  lj_profile_trial t;
  memset(&t, 0, sizeof t);
  t.key.phase = ph, t.key.stage = last, t.key.layer = -1, t.key.kv_len = kv;
  t.trial = round, t.method = LJ_METHOD_SEQUENCE;
  t.t.calls = 1000, t.t.duration_s = 1.0, t.t.idle_w = kIdle;
  t.t.counter_energy_j = 1000 * e * (1 + 0.01 * (round - 1)) + kIdle * t.t.duration_s;
  t.t.sample_energy_j = NAN;
  t.t.temperature_c = 40 + round;
  assert_int_equal(lj_profile_add_trial(r, &t), 0);
}

static void add_sequence(lj_profile_result *r, lj_stage last, double e, int round) {
  add_sequence_at(r, LJ_PHASE_PREFILL, 0, last, e, round);
}

static void test_sequence(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  plan(&r);
  r.cond.idle_w = kIdle;
  const lj_profile_plan *p = &r.plan;
  double L = p->config.n_layers, layer = 0, iso_sum = 0;
  for (int s = LJ_STAGE_EMBED; s <= LJ_STAGE_LM_HEAD; s = lj_stage_next(s, 1))
    iso_sum += lj_profile_calls_per_unit(p, LJ_PHASE_PREFILL, (lj_stage)s, 0) * energy_of((lj_stage)s, 0);
  for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1))
    layer += 1.5 * energy_of((lj_stage)s, 0);
  double outside = energy_of(LJ_STAGE_EMBED, 0) + energy_of(LJ_STAGE_FINAL_NORM, 0) + energy_of(LJ_STAGE_LM_HEAD, 0);
  double seq_sum = L * layer + outside;
  prefill_isolation_and_windows(&r, seq_sum);
  for (int k = 0; k < 3; k++) {
    double prefix = 0;
    for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1)) {
      prefix += 1.5 * energy_of((lj_stage)s, 0);
      add_sequence(&r, (lj_stage)s, prefix, k);
    }
  }
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  int n_seq = 0;
  double share = 0;
  for (size_t i = 0; i < r.n_stages; i++) {
    const lj_profile_stage *s = &r.stages[i];
    if (s->method != LJ_METHOD_SEQUENCE) continue;
    n_seq++;
    double want = 1.5 * energy_of(s->est.key.stage, 0);
    REL(s->est.dynamic_j.mean, want, 1e-9);
    // paired by round: the difference carries the round's -1%, 0, +1%
    REL(s->est.dynamic_j.stddev, 0.01 * want, 1e-6);
    REL(s->est.time_per_call_s.mean, s->est.key.stage == LJ_STAGE_ATTN_NORM ? 1e-3 : 0, 1e-9);
    REL(s->calls_per_unit, L, 0);
    share += s->share_dynamic;
    assert_true(lj_profile_stage_in_method(&r, s, LJ_METHOD_SEQUENCE));
  }
  assert_int_equal(n_seq, 9);
  REL(share, 1.0 - outside / seq_sum, 1e-12);
  REL(r.closure[LJ_PHASE_PREFILL].error_dynamic_pct, (iso_sum / seq_sum - 1) * 100, 1e-9);
  const lj_closure *c = &r.closure_sequence[LJ_PHASE_PREFILL];
  assert_int_equal(c->n_terms, 12);  // 9 by sequence + embed, the final norm and the LM head from isolation
  assert_true(fabs(c->error_dynamic_pct) <= 1e-9);
  // the spread of the whole layer's three rounds alone (isolation trials here are exact)
  REL(c->predicted_dynamic_j.se, L * 0.01 * layer / sqrt(3.0), 1e-6);
  assert_true(lj_profile_reported_method(&r, LJ_PHASE_PREFILL) == LJ_METHOD_SEQUENCE);
  assert_true(lj_profile_closure_of(&r, LJ_PHASE_PREFILL, LJ_METHOD_SEQUENCE) == c);
  assert_int_equal(r.closure_sequence[LJ_PHASE_DECODE].n_terms, 0);  // decode not replayed in sequence
  lj_profile_result_free(&r);

  // Decode, replayed in sequence at KV 5: the layer's estimates stand for every layer call of every
  // step (attention's too); embed, the final norm, the LM head and sampling come from isolation.
  lj_profile_result_init(&r);
  plan(&r);
  r.cond.idle_w = kIdle;
  double steps = p->gen_len - 1, dlayer = 0;
  for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1))
    dlayer += 1.5 * energy_of((lj_stage)s, 5);
  double dout = steps * (energy_of(LJ_STAGE_EMBED, P) + energy_of(LJ_STAGE_FINAL_NORM, P) +
                         energy_of(LJ_STAGE_LM_HEAD, P)) + p->gen_len * energy_of(LJ_STAGE_SAMPLE, P);
  double dsum = L * steps * dlayer + dout;
  for (int s = LJ_STAGE_EMBED; s <= LJ_STAGE_SAMPLE; s = lj_stage_next(s, 1)) {
    if (s == LJ_STAGE_ATTN)
      for (int j = 0; j < p->n_decode_kv; j++) add_trials(&r, (lj_stage)s, p->decode_kv[j]);
    else
      add_trials(&r, (lj_stage)s, P);
  }
  for (int k = 0; k < 3; k++) {
    double prefix = 0;
    for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1)) {
      prefix += 1.5 * energy_of((lj_stage)s, 5);
      add_sequence_at(&r, LJ_PHASE_DECODE, 5, (lj_stage)s, prefix, k);
    }
    add_exact_window(&r, LJ_PHASE_DECODE, k, G, dsum);
  }
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  const lj_closure *d = &r.closure_sequence[LJ_PHASE_DECODE];
  assert_int_equal(d->n_terms, 13);  // 9 by sequence + embed, final norm, LM head, sampling
  assert_true(fabs(d->error_dynamic_pct) <= 1e-9);
  assert_true(lj_profile_reported_method(&r, LJ_PHASE_DECODE) == LJ_METHOD_SEQUENCE);
  for (size_t i = 0; i < r.n_stages; i++)
    if (r.stages[i].method == LJ_METHOD_SEQUENCE) {
      assert_int_equal(r.stages[i].est.key.kv_len, 5);
      REL(r.stages[i].calls_per_unit, L * steps, 0);
    }
  lj_profile_result_free(&r);

  // One round of the rope prefix: rope and qkv have no pair of rounds, so no closure.
  lj_profile_result_init(&r);
  plan(&r);
  r.cond.idle_w = kIdle;
  prefill_isolation_and_windows(&r, seq_sum);
  for (int k = 0; k < 3; k++) {
    double prefix = 0;
    for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1)) {
      prefix += 1.5 * energy_of((lj_stage)s, 0);
      if (s != LJ_STAGE_ROPE || k == 0) add_sequence(&r, (lj_stage)s, prefix, k);
    }
  }
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  assert_int_equal(r.closure_sequence[LJ_PHASE_PREFILL].n_terms, 0);
  assert_true(lj_profile_reported_method(&r, LJ_PHASE_PREFILL) == LJ_METHOD_ISOLATION);
  lj_profile_result_free(&r);
}

// Which source a phase's energy takes. A load window of 50 ms, shorter than two 100 ms counter
// periods: its counter delta (two-valued, here half the truth) is not its energy; the samples'
// integral is, and the window says so. Windows under 10 s take the samples too when every window
// of the phase has them whole (the counter's update edges spread a 2 s window's delta by ~2%);
// one window with a gap in its samples, or a window of 10 s or more, leaves the phase to the counter.
static lj_phase_window window_of(lj_phase phase, double seconds, double counter_j, double sample_j, uint32_t flags) {
  lj_phase_window w;
  memset(&w, 0, sizeof w);
  w.phase = phase;
  w.units = 1;
  w.host_s = w.w.duration_s = seconds;
  w.w.idle_power_w = kIdle;
  w.w.counter_energy_j = counter_j, w.w.counter_above_idle_j = counter_j - kIdle * seconds;
  w.w.sample_energy_j = sample_j, w.w.sample_above_idle_j = sample_j - kIdle * seconds;
  w.w.flags = flags;
  return w;
}

static void test_phase_energy_source(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  lj_phase_window w = window_of(LJ_PHASE_LOAD, 0.05, 10, 20, LJ_WINDOW_SHORT | LJ_WINDOW_GAP);
  assert_int_equal(lj_profile_add_window(&r, &w), 0);
  // prefill: 2.2 s windows, the counter spread by its edges (+-3%), the samples 0.1%
  const double counter[3] = {1030, 970, 1012}, sample[3] = {1000, 1001, 999};
  for (int k = 0; k < 3; k++) {
    w = window_of(LJ_PHASE_PREFILL, 2.2, counter[k], sample[k], 0);
    assert_int_equal(lj_profile_add_window(&r, &w), 0);
  }
  // decode: the same, one window with a gap in its samples: the counter for all three
  for (int k = 0; k < 3; k++) {
    w = window_of(LJ_PHASE_DECODE, 2.2, counter[k], sample[k], k == 1 ? LJ_WINDOW_GAP : 0);
    assert_int_equal(lj_profile_add_window(&r, &w), 0);
  }
  w = window_of(LJ_PHASE_TOKENIZE, 12.0, 2000, 2100, 0);  // 10 s or more: the counter
  assert_int_equal(lj_profile_add_window(&r, &w), 0);
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  const lj_phase_summary *load = &r.phases[LJ_PHASE_LOAD], *pre = &r.phases[LJ_PHASE_PREFILL];
  const lj_phase_summary *dec = &r.phases[LJ_PHASE_DECODE], *tok = &r.phases[LJ_PHASE_TOKENIZE];
  assert_true(load->gross_j.mean == 20 && load->dynamic_j.mean == 15);
  assert_true(load->window_flags & LJ_WINDOW_SAMPLE_ENERGY);
  assert_true(r.windows[0].w.flags & LJ_WINDOW_SAMPLE_ENERGY);  // stored with the window too
  assert_true(pre->window_flags & LJ_WINDOW_SAMPLE_ENERGY);
  assert_true(fabs(pre->gross_j.mean - 1000) < 1e-9 && fabs(pre->dynamic_j.mean - (1000 - kIdle * 2.2)) < 1e-9);
  assert_true(pre->dynamic_j.half_width < 3);  // the samples' spread, not the counter's (~75 J)
  // the counter's mean, 1004, lies outside the samples' interval [997.5, 1002.5], but the paired
  // differences (+30, -31, +13) are the counter's edges: no disagreement
  assert_false(pre->window_flags & LJ_WINDOW_SOURCES_DISAGREE);
  assert_true(!(dec->window_flags & LJ_WINDOW_SAMPLE_ENERGY) && fabs(dec->gross_j.mean - 1004) < 1e-9);
  assert_true(!(tok->window_flags & LJ_WINDOW_SAMPLE_ENERGY) && tok->gross_j.mean == 2000);
  lj_profile_result_free(&r);

  // a counter 5% above the samples in every window disagrees, whichever source the phase takes
  // (decode: the counter, one window's samples with a gap)
  lj_profile_result_init(&r);
  const double high[3] = {1051, 1049.5, 1050};
  for (int k = 0; k < 3; k++) {
    w = window_of(LJ_PHASE_PREFILL, 2.2, high[k], sample[k], 0);
    assert_int_equal(lj_profile_add_window(&r, &w), 0);
    w = window_of(LJ_PHASE_DECODE, 2.2, high[k], sample[k], k == 2 ? LJ_WINDOW_GAP : 0);
    assert_int_equal(lj_profile_add_window(&r, &w), 0);
  }
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  assert_true(r.phases[LJ_PHASE_PREFILL].window_flags & LJ_WINDOW_SAMPLE_ENERGY);
  assert_true(r.phases[LJ_PHASE_PREFILL].window_flags & LJ_WINDOW_SOURCES_DISAGREE);
  assert_false(r.phases[LJ_PHASE_DECODE].window_flags & LJ_WINDOW_SAMPLE_ENERGY);
  assert_true(r.phases[LJ_PHASE_DECODE].window_flags & LJ_WINDOW_SOURCES_DISAGREE);
  // a source given (a tensor-parallel GPU takes the sum's): prefill from the counter, its windows
  // no longer marked as the samples'
  int source[LJ_PHASE_COUNT] = {0};
  lj_phase_summary own[LJ_PHASE_COUNT];
  memset(own, 0, sizeof own);
  assert_int_equal(lj_phase_summaries_of(&r.plan, r.windows, r.n_windows, source, own), 0);
  assert_true(fabs(own[LJ_PHASE_PREFILL].gross_j.mean - 1050.1666666666667) < 1e-9);
  assert_false(own[LJ_PHASE_PREFILL].window_flags & LJ_WINDOW_SAMPLE_ENERGY);
  for (size_t i = 0; i < r.n_windows; i++) assert_false(r.windows[i].w.flags & LJ_WINDOW_SAMPLE_ENERGY);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_calls_per_unit),
      cmocka_unit_test(test_analyze),
      cmocka_unit_test(test_sequence),
      cmocka_unit_test(test_phase_energy_source),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
