// Which energy source a per-stage estimate uses (docs/attribution.md §1b): the driver's
// power samples for windows shorter than LJ_SAMPLE_WINDOW_MAX_S, the energy counter
// otherwise, the other one kept beside it and the estimate flagged sources_disagree where
// that other figure lies outside its interval. Every number is chosen:
//   - isolation: 3 trials of 1000 calls in 2 s whose samples hold 1.00, 1.01, 0.99 mJ per
//     call above idle (mean 1.00, 95% interval +-0.0248) and whose counter reads 30 uJ more
//     per call (a counter update's worth): samples, the counter beside, disagreeing; 10 uJ
//     more: agreeing; 12 s trials, or a trial with lost samples: the counter's;
//   - sequence: the layer's 9 prefixes over 3 rounds, prefix k costing k mJ per call by the
//     samples (+-1% by round) and k mJ + 0.5 mJ by the counter: each difference is 1 mJ
//     from the samples, the counter's beside (the first difference 1.5 mJ, disagreeing);
//   - head grid: attention at 2 KV lengths x 2 group counts x 2 replicates, 2 + 3 g uJ + 1e-10 J
//     per byte of K and V from the samples (replicates +-0.1 uJ); the counter reads every trial
//     of the largest point 40 uJ high: the samples' fit (per byte recovered, the fit holds), the
//     counter's per-byte cost beside it, outside its interval (disagreeing);
//   - ablation: full and MLP-less decode windows whose samples save 9.0 J per run and
//     whose counter saves 9.5 J: the samples', with the counter's saving beside.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

#include "near.h"

static const double kIdle = 100.0;  // W

// A trial of 1000 calls over `seconds`, holding `sample_dyn` and `counter_dyn` J per call above idle.
static lj_replay_trial trial(double seconds, double sample_dyn, double counter_dyn) {
  lj_replay_trial t;
  memset(&t, 0, sizeof t);
  t.calls = 1000, t.duration_s = seconds, t.idle_w = kIdle, t.temperature_c = 45;
  t.sample_energy_j = 1000 * sample_dyn + kIdle * seconds;
  t.counter_energy_j = 1000 * counter_dyn + kIdle * seconds;
  return t;
}

static void isolation_case(double seconds, double counter_offset, uint32_t flags_of_trial1, lj_replay_estimate *e) {
  const double dyn[3] = {1.00e-3, 1.01e-3, 0.99e-3};
  lj_replay_trial t[3];
  for (int k = 0; k < 3; k++) t[k] = trial(seconds, dyn[k], dyn[k] + counter_offset);
  t[1].window_flags = flags_of_trial1;
  assert_int_equal(lj_replay_estimate_compute(t, 3, NAN, 0.95, e), 0);
}

static void test_isolation(void **state) {
  (void)state;
  lj_replay_estimate e;
  const double half = 4.302652729749464 * 1e-5 / sqrt(3.0);  // t_{0.975,2} x sd / sqrt(n), sd = 10 uJ
  // 2 s trials, the counter 30 uJ high: the samples' estimate, the counter outside its interval
  isolation_case(2.0, 30e-6, 0, &e);
  assert_int_equal(e.window_flags, LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE);
  REL(e.dynamic_j.mean, 1.00e-3, 1e-12);
  REL(e.dynamic_j.hi - e.dynamic_j.mean, half, 1e-9);
  REL(e.gross_j.mean, 1.00e-3 + kIdle * 2.0 / 1000, 1e-12);
  REL(e.counter_dynamic_j.mean, 1.03e-3, 1e-12);
  REL(e.sample_dynamic_j.mean, e.dynamic_j.mean, 0);
  REL(e.counter_vs_sample_pct, 30e-6 / (1.00e-3 + 0.2) * 100, 1e-9);
  // 10 uJ high: inside the interval (+-24.8 uJ), no disagreement
  isolation_case(2.0, 10e-6, 0, &e);
  assert_int_equal(e.window_flags, LJ_WINDOW_SAMPLE_ENERGY);
  REL(e.dynamic_j.mean, 1.00e-3, 1e-12);
  // 12 s trials: the counter's estimate; the samples 30 uJ below lie outside its interval
  isolation_case(12.0, 30e-6, 0, &e);
  assert_int_equal(e.window_flags, LJ_WINDOW_SOURCES_DISAGREE);
  REL(e.dynamic_j.mean, 1.03e-3, 1e-12);
  REL(e.sample_dynamic_j.mean, 1.00e-3, 1e-12);
  // one 2 s trial lost samples inside: its integral cannot stand for it, so the counter's
  isolation_case(2.0, 0, LJ_WINDOW_GAP, &e);
  assert_int_equal(e.window_flags & LJ_WINDOW_SAMPLE_ENERGY, 0);
  REL(e.dynamic_j.mean, 1.00e-3, 1e-12);
  assert_true(lj_trial_samples_usable(&(lj_replay_trial){.sample_energy_j = 1, .duration_s = 9.99}));
  assert_false(lj_trial_samples_usable(&(lj_replay_trial){.sample_energy_j = 1, .duration_s = 10.0}));
  assert_false(lj_trial_samples_usable(&(lj_replay_trial){.sample_energy_j = NAN, .duration_s = 1.0}));
  // A duty-cycled trial is judged by its window's wall length, idle gaps included: 6 s of the
  // stage in a 12 s window is a 12 s window (the gaps were taken off duration_s afterwards).
  assert_false(lj_trial_samples_usable(&(lj_replay_trial){.sample_energy_j = 1, .duration_s = 6.0, .gap_s = 6.0}));
  assert_true(lj_trial_samples_usable(&(lj_replay_trial){.sample_energy_j = 1, .duration_s = 4.0, .gap_s = 4.0}));
  // the same through the estimate: 6 s + 6 s trials take the counter, not the samples
  lj_replay_trial t[3];
  const double dyn[3] = {1.00e-3, 1.01e-3, 0.99e-3};
  for (int k = 0; k < 3; k++) t[k] = trial(6.0, dyn[k], dyn[k] + 30e-6), t[k].gap_s = 6.0;
  assert_int_equal(lj_replay_estimate_compute(t, 3, NAN, 0.95, &e), 0);
  assert_int_equal(e.window_flags & LJ_WINDOW_SAMPLE_ENERGY, 0);
  REL(e.dynamic_j.mean, 1.03e-3, 1e-12);
}

static void plan(lj_profile_result *r) {
  lj_profile_result_init(r);
  assert_int_equal(lj_config_preset("tiny", &r->plan.config), 0);
  r->plan.batch = 1, r->plan.prompt_len = 4, r->plan.gen_len = 5, r->plan.level = 0.95, r->plan.ablation = 2;
  r->plan.n_decode_kv = 1, r->plan.decode_kv[0] = 4;
  r->cond.idle_w = kIdle;
}

static void test_sequence(void **state) {
  (void)state;
  lj_profile_result r;
  plan(&r);
  for (int round = 0; round < 3; round++)
    for (int k = 1; k <= 9; k++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_DECODE, t.key.stage = lj_layer_order_stage(0, k - 1), t.key.layer = -1;
      t.key.kv_len = 4, t.trial = round, t.method = LJ_METHOD_SEQUENCE;
      double s = k * 1e-3 * (1 + 0.01 * (round - 1));
      t.t = trial(2.0, s, s + 0.5e-3);
      assert_int_equal(lj_profile_add_trial(&r, &t), 0);
    }
  lj_mean_ci layer_gross, layer_dyn;
  int complete = 0;
  assert_int_equal(lj_analyze_sequence(&r, LJ_PHASE_DECODE, &layer_gross, &layer_dyn, &complete), 0);
  assert_true(complete);
  assert_int_equal(r.n_stages, 9);
  for (size_t i = 0; i < r.n_stages; i++) {
    const lj_replay_estimate *e = &r.stages[i].est;
    int first = e->key.stage == LJ_STAGE_ATTN_NORM;
    REL(e->dynamic_j.mean, 1e-3, 1e-9);
    REL(e->counter_dynamic_j.mean, first ? 1.5e-3 : 1e-3, 1e-9);
    assert_true(e->window_flags & LJ_WINDOW_SAMPLE_ENERGY);
    // the first difference's counter figure lies 0.5 mJ off, far outside the samples' +-0.025 mJ
    assert_int_equal(!!(e->window_flags & LJ_WINDOW_SOURCES_DISAGREE), first);
  }
  REL(layer_dyn.mean, 9e-3, 1e-9);  // the whole layer, from the samples too
  lj_profile_result_free(&r);
}

static void test_head_fit(void **state) {
  (void)state;
  lj_profile_result r;
  plan(&r);
  // 4 points of batch 1: KV 1024 and 4096, groups 1 and 2 (head_dim of the plan's config)
  for (int kv = 1024; kv <= 4096; kv *= 4)
    for (int g = 1; g <= 2; g++) {
      lj_head_grid_point p;
      memset(&p, 0, sizeof p);
      p.batch = 1, p.kv_len = kv, p.groups = g;
      p.kv_bytes = p.need_bytes = (int64_t)g * kv * r.plan.config.head_dim * 2 * 2;
      assert_int_equal(lj_profile_add_head_point(&r, &p), 0);
    }
  int k = 0;
  for (size_t i = 0; i < r.n_head_points; i++)
    for (int rep = 0; rep < 2; rep++, k++) {
      const lj_head_grid_point *p = &r.head_points[i];
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_DECODE, t.key.stage = LJ_STAGE_ATTN, t.key.layer = -1, t.key.kv_len = p->kv_len;
      t.trial = k, t.groups = p->groups, t.batch = 1, t.method = LJ_METHOD_HEAD_GRID;
      double s = (2 + 3 * p->groups) * 1e-6 + 1e-10 * (double)p->kv_bytes + (rep ? 1e-7 : -1e-7);
      t.t = trial(0.3, s, s + (i == 3 ? 40e-6 : 0));
      assert_int_equal(lj_profile_add_trial(&r, &t), 0);
    }
  assert_int_equal(lj_analyze_head_fit(&r), 0);
  // one batch: the all-batch fit only, energy and time
  assert_int_equal(r.n_head_fits, 2);
  const lj_head_grid_fit *f = &r.head_fits[0];
  assert_string_equal(f->quantity, "dynamic_j");
  REL(f->per_byte.estimate, 1e-10, 1e-6);
  REL(f->per_group.estimate, 3e-6, 1e-6);
  REL(f->fixed.estimate, 2e-6, 1e-6);
  assert_int_equal(f->holds, 1);  // the samples are linear: the replicates' +-0.1 uJ is all there is
  // the counter's per-byte cost, pulled up by the largest point, lies outside the samples' interval
  assert_true(f->counter_per_byte > f->per_byte.hi);
  assert_int_equal(f->flags, LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE);
  REL(r.head_points[3].dynamic_j.mean, 8e-6 + 1e-10 * (double)r.head_points[3].kv_bytes, 1e-9);
  REL(r.head_points[3].fitted, r.head_points[3].dynamic_j.mean, 1e-6);
  assert_string_equal(r.head_fits[1].quantity, "time_s");
  lj_profile_result_free(&r);
}

static void test_ablation(void **state) {
  (void)state;
  lj_profile_result r;
  plan(&r);
  for (int st = LJ_STAGE_GATE_UP; st <= LJ_STAGE_DOWN; st++) {
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    s.est.key.phase = LJ_PHASE_DECODE, s.est.key.stage = (lj_stage)st, s.est.key.layer = -1, s.est.key.kv_len = 4;
    double m = 0.375;  // 3 x 0.375 J x 8 calls = 9 J
    assert_int_equal(lj_stats_mean_ci((double[]){m * 0.99, m, m * 1.01}, 3, 0.95, &s.est.dynamic_j), 0);
    assert_int_equal(lj_profile_add_stage(&r, &s), 0);
  }
  lj_profile_raw raw;
  memset(&raw, 0, sizeof raw);
  for (int i = 0; i < 3; i++) {
    raw.full_j[raw.n_full++] = 20 + 0.1 * i;
    raw.ablated_j[raw.n_ablated++] = 10.5 + 0.1 * i;
    raw.full_sample_j[raw.n_full_sample++] = 20 + 0.1 * i;
    raw.ablated_sample_j[raw.n_ablated_sample++] = 11 + 0.1 * i;
  }
  assert_int_equal(lj_analyze_ablation(&r, &raw), 0);
  assert_true(r.ablation_valid);
  REL(r.ablation.saved_j.estimate, 9.0, 1e-12);
  REL(r.ablation.counter_saved_j, 9.5, 1e-12);
  assert_true(fabs(r.ablation.agreement_pct) <= 1e-9);
  // the sets' spreads are equal (sd 0.1 J): the saving's interval +-0.227 J leaves 9.5 J outside
  assert_int_equal(r.ablation.flags, LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE);
  // without samples for every window: the counter's, no sample flag
  raw.n_ablated_sample = 2;
  r.ablation_valid = 0;
  assert_int_equal(lj_analyze_ablation(&r, &raw), 0);
  REL(r.ablation.saved_j.estimate, 9.5, 1e-12);
  assert_int_equal(r.ablation.flags, 0);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_isolation),
      cmocka_unit_test(test_sequence),
      cmocka_unit_test(test_head_fit),
      cmocka_unit_test(test_ablation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
