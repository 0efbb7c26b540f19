// Per-layer estimates (analyze_layers.c, docs/attribution.md §2f) on planted trials whose every
// number is chosen:
//   - 16 equal layers (the random-weight case): every layer agrees, the phase's verdict is PASS;
//   - one layer 20% dearer: it is ranked first, its t lies far beyond the critical value and the
//     verdict is MISS naming it;
//   - the energy source: 0.8 s trials with power samples take the samples (§1b);
//   - the layer-skip arithmetic: saved energy per phase unit against calls x the replay estimate,
//     the verdict on the agreement's whole interval: narrow and within 10% PASS, 25% off MISS, the
//     point within but the interval not (wide windows, the H100's --quick skips) INCONCLUSIVE; the
//     last layer's row says its skip changes the head's input too;
//   - the estimates and skips written to a store and read back equal;
//   - the text summary and the JSON show them;
//   - layers x stages: one 0.3 s trial per stage of each layer into per-call cells (the samples'
//     energy, no interval), the time ratio against the timeline's same stage of the same layer, the
//     cells through the store, a version-7 file upgraded (to 9) with the fresh schema's table,
//     the text's matrix with the stages' sum against the whole layer, the JSON, and the page's data
//     for the heatmap (absent without them, so the page shows the timeline's).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "profile/analyze_layers.h"
#include "profile/profile_analyze.h"
#include "report/report.h"
#include "report/report_derived.h"
#include "report/report_page.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "render_profile.h"

#include <sqlite3.h>

#include "old_store.h"

#define REL(a, b, tol) assert_true(fabs((a) - (b)) <= (tol) * fabs(b))

enum { LAYERS = 16, TRIALS = 3 };
static const double kIdle = 100.0, kSeconds = 0.8, kCalls = 1000;

// Dynamic J per call of layer L in trial k: base x (1 + a small per-layer offset) x noise.
static double planted(int L, int k, int dear) {
  double base = 1e-3 * (L == dear ? 1.2 : 1.0);
  double offset = 0.002 * sin(L + 1.0);            // within the noise: layers agree
  double noise = 0.01 * (double)((k + L) % 3 - 1);  // -1%, 0, +1%
  return base * (1 + offset + noise);
}

static void planted_run(lj_profile_result *r, int dear) {
  lj_profile_result_init(r);
  r->plan.level = 0.95;
  r->plan.config.n_layers = LAYERS;
  for (int k = 0; k < TRIALS; k++)  // interleaved as the runner does: every layer, then again
    for (int L = 0; L < LAYERS; L++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_DECODE, t.key.stage = LJ_STAGE_COUNT, t.key.layer = L, t.key.kv_len = 40;
      t.method = LJ_METHOD_LAYER, t.trial = k;
      t.t.duration_s = kSeconds, t.t.calls = (int64_t)kCalls, t.t.idle_w = kIdle;
      t.t.sample_energy_j = planted(L, k, dear) * kCalls + kIdle * kSeconds;
      t.t.counter_energy_j = t.t.sample_energy_j * 1.001;
      t.t.temperature_c = NAN;
      assert_int_equal(lj_profile_add_trial(r, &t), 0);
    }
}

static void test_equal_layers_agree(void **state) {
  (void)state;
  lj_profile_result r;
  planted_run(&r, -1);
  assert_int_equal(lj_analyze_layers(&r, NULL), 0);
  assert_int_equal((int)r.n_layers, LAYERS);
  for (size_t i = 0; i < r.n_layers; i++) {
    const lj_layer_estimate *l = &r.layers[i];
    assert_int_equal(l->layer, (int)i);
    assert_int_equal(l->phase, LJ_PHASE_DECODE);
    assert_int_equal(l->n_trials, TRIALS);
    double mean = 0;
    for (int k = 0; k < TRIALS; k++) mean += planted(l->layer, k, -1) / TRIALS;
    REL(l->dynamic_j.mean, mean, 1e-9);  // the samples' figure (0.8 s trials)
    REL(l->gross_j.mean, mean + kIdle * kSeconds / kCalls, 1e-9);
    REL(l->time_s.mean, kSeconds / kCalls, 1e-12);
    assert_true(l->flags & LJ_WINDOW_SAMPLE_ENERGY);
    assert_true(isfinite(l->t) && fabs(l->t) < 2.0);
    assert_true(l->critical > 4.0);  // Bonferroni over 16 at 95%
    assert_true(l->agrees);
  }
  assert_int_equal(lj_profile_layer_agreement(&r, LJ_PHASE_DECODE, NULL), 1);
  assert_int_equal(lj_profile_layer_agreement(&r, LJ_PHASE_PREFILL, NULL), -1);  // none measured
  lj_profile_result_free(&r);
}

static void test_dear_layer_ranked_and_missed(void **state) {
  (void)state;
  lj_profile_result r;
  planted_run(&r, 7);
  assert_int_equal(lj_analyze_layers(&r, NULL), 0);
  int worst = -1;
  assert_int_equal(lj_profile_layer_agreement(&r, LJ_PHASE_DECODE, &worst), 0);
  assert_int_equal(worst, 7);
  const lj_layer_estimate *l = &r.layers[7];
  assert_int_equal(l->rank, 1);
  assert_true(l->t > l->critical && !l->agrees);
  // the layer is 20% above the others' mean (their offsets average out to within 0.2%)
  double others = 0;
  for (int L = 0; L < LAYERS; L++)
    if (L != 7) others += r.layers[L].dynamic_j.mean / (LAYERS - 1);
  REL(l->dynamic_j.mean / others, 1.2, 0.005);
  int ranks = 0;
  for (int L = 0; L < LAYERS; L++) ranks += r.layers[L].rank;
  assert_int_equal(ranks, LAYERS * (LAYERS + 1) / 2);  // no ties in the planted means
  lj_profile_result_free(&r);
}

static void test_skip_arithmetic(void **state) {
  (void)state;
  // a decode unit of 10 steps: the layer runs 10 times; skipping it saves 10 J of 100, windows 0.01 J apart
  double full[3] = {100, 100.01, 99.99}, skipped[3] = {90, 90.01, 89.99};
  lj_mean_ci per_call;
  double x[3] = {0.999, 1.0, 1.001};
  assert_int_equal(lj_stats_mean_ci(x, 3, 0.95, &per_call), 0);
  lj_layer_skip s;
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_DECODE, 5, 10, full, 3, skipped, 3, &per_call, 0.95, &s), 0);
  assert_int_equal(s.layer, 5);
  REL(s.a.saved_j.estimate, 10.0, 1e-12);
  REL(s.a.replay_j.estimate, 10.0, 1e-12);
  assert_true(fabs(s.a.agreement_pct) < 1e-9);
  // narrow and within: the agreement's whole interval inside +-0.5% (saved se 0.0082 J, replay se 0.0058 J)
  assert_true(s.a.ratio.lo > 0.995 && s.a.ratio.hi < 1.005);
  assert_true(s.pass);
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_PASS);
  // the replay says 0.8 J per call: the saving is 25% above it, MISS however narrow
  for (int i = 0; i < 3; i++) x[i] *= 0.8;
  assert_int_equal(lj_stats_mean_ci(x, 3, 0.95, &per_call), 0);
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_DECODE, 5, 10, full, 3, skipped, 3, &per_call, 0.95, &s), 0);
  REL(s.a.agreement_pct, 25.0, 1e-9);
  assert_false(s.pass);
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_MISS);
  // 9.5 saved against 10 (-5%), narrow: within the 10% target, PASS
  double skipped2[3] = {90.5, 90.51, 90.49};
  for (int i = 0; i < 3; i++) x[i] /= 0.8;
  assert_int_equal(lj_stats_mean_ci(x, 3, 0.95, &per_call), 0);
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_PREFILL, 0, 10, full, 3, skipped2, 3, &per_call, 0.95, &s), 0);
  REL(s.a.agreement_pct, -5.0, 1e-9);
  assert_true(s.pass);
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_PASS);
  // the same point from windows 1 J apart: the saving's se is 0.82 J, t(~4) x that ~ +-2.3 J on 10 J,
  // so the agreement's interval reaches past +-10%: the point within, INCONCLUSIVE, not PASS
  double wide_full[3] = {100, 101, 99}, wide_skipped[3] = {90, 91, 89};
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_DECODE, 5, 10, wide_full, 3, wide_skipped, 3, &per_call, 0.95, &s),
                   0);
  assert_true(fabs(s.a.agreement_pct) < 1e-9);
  assert_true(s.a.ratio.lo < 0.85 && s.a.ratio.lo > 0.7 && s.a.ratio.hi > 1.15 && s.a.ratio.hi < 1.3);
  assert_false(s.pass);
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_INCONCLUSIVE);
  // no calls: an error naming the layer's first stage
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_PREFILL, 0, 0, full, 3, skipped2, 3, &per_call, 0.95, &s),
                   LJ_EINVAL);
}

// The H100's --quick skips (bench/results/2026-12-06-h100-per-layer): decode layer 8 saved
// 2.580+-1.873 J against 2.577 estimated (+0.1%, its interval about +-73%): INCONCLUSIVE, not the
// PASS the point alone gave; layer 15 0.83+-38.10 J against 2.573 (-67.8%): MISS, and it is the last
// layer, whose skip changes the head's input too.
static void test_skip_verdict_measured(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.config.n_layers = 16;
  lj_layer_skip s;
  memset(&s, 0, sizeof s);
  s.phase = LJ_PHASE_DECODE, s.layer = 8;
  s.a.agreement_pct = (2.580 / 2.577 - 1) * 100;
  s.a.ratio.estimate = 2.580 / 2.577, s.a.ratio.lo = (2.580 - 1.873) / 2.577, s.a.ratio.hi = (2.580 + 1.873) / 2.577;
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_INCONCLUSIVE);
  assert_false(lj_report_layer_skip_head_change(&r, &s));
  s.layer = 15;
  s.a.agreement_pct = (0.83 / 2.573 - 1) * 100;
  s.a.ratio.lo = (0.83 - 38.10) / 2.573, s.a.ratio.hi = (0.83 + 38.10) / 2.573;
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_MISS);
  assert_true(lj_report_layer_skip_head_change(&r, &s));
  // an estimate of zero: no agreement, no verdict
  s.a.agreement_pct = s.a.ratio.lo = s.a.ratio.hi = NAN;
  assert_int_equal(lj_report_layer_skip_verdict(&s), LJ_CLOSURE_NONE);
  lj_profile_result_free(&r);
}

// The skip windows through lj_analyze_layers: decode units of 10 layer calls (gen_len 11); skipping
// layer 8 saves 10 x its estimate (PASS), layer 15 1.25 x that (MISS); layer 0's windows lack samples
// in one window, so its check takes the counter; a slot repeating a layer is left out.
static void test_skips_from_windows(void **state) {
  (void)state;
  lj_profile_result r;
  planted_run(&r, -1);
  r.plan.gen_len = 11;
  lj_profile_raw raw;
  memset(&raw, 0, sizeof raw);
  int layers[LJ_SKIP_SLOTS] = {-1, 0, 8, 15};
  memcpy(raw.skip_layer, layers, sizeof layers);
  double full[3] = {1.0, 1.00001, 0.99999};  // narrow windows: the replay's +-2.5% decides the interval
  double est8 = 0, est15 = 0;
  for (int k = 0; k < TRIALS; k++) est8 += planted(8, k, -1) / TRIALS, est15 += planted(15, k, -1) / TRIALS;
  for (int i = 0; i < 3; i++) {
    raw.skip_j[1][0][i] = full[i] + 0.002;  // the counter reads 2 mJ more in every window
    raw.skip_sample_j[1][0][i] = full[i];
    raw.skip_j[1][1][i] = full[i] - 0.01 + 0.002;
    raw.skip_j[1][2][i] = full[i] - 10 * est8 + 0.002;
    raw.skip_sample_j[1][2][i] = full[i] - 10 * est8;
    raw.skip_j[1][3][i] = full[i] - 12.5 * est15 + 0.002;
    raw.skip_sample_j[1][3][i] = full[i] - 12.5 * est15;
  }
  for (int k = 0; k < LJ_SKIP_SLOTS; k++) raw.n_skip_j[1][k] = 3, raw.n_skip_sample_j[1][k] = 3;
  raw.n_skip_sample_j[1][1] = 2;  // one window of layer 0's without samples
  assert_int_equal(lj_analyze_layers(&r, &raw), 0);
  assert_int_equal(r.n_layer_skips, 3);
  const lj_layer_skip *s0 = &r.layer_skips[0], *s8 = &r.layer_skips[1], *s15 = &r.layer_skips[2];
  assert_int_equal(s0->layer, 0);
  assert_true(s0->a.calls == 10);
  REL(s0->a.saved_j.estimate, 0.01, 1e-9);  // the counter's, both sets
  assert_false(s0->a.flags & LJ_WINDOW_SAMPLE_ENERGY);
  assert_int_equal(s8->layer, 8);
  REL(s8->a.saved_j.estimate, 10 * est8, 1e-9);
  REL(s8->a.replay_j.estimate, 10 * est8, 1e-9);
  assert_true(fabs(s8->a.agreement_pct) < 1e-6 && s8->pass);
  assert_int_equal(lj_report_layer_skip_verdict(s8), LJ_CLOSURE_PASS);
  assert_true(s8->a.flags & LJ_WINDOW_SAMPLE_ENERGY);
  REL(s8->a.counter_saved_j, 10 * est8, 1e-9);  // the counter's offset cancels in the difference
  assert_int_equal(s15->layer, 15);
  REL(s15->a.agreement_pct, 25.0, 1e-6);
  assert_false(s15->pass);
  assert_int_equal(lj_report_layer_skip_verdict(s15), LJ_CLOSURE_MISS);
  // a repeated layer (a 1-layer model's first, middle and last) is checked once
  raw.skip_layer[2] = raw.skip_layer[3] = 0;
  assert_int_equal(lj_analyze_layers(&r, &raw), 0);
  assert_int_equal(r.n_layer_skips, 1);
  lj_profile_result_free(&r);
}

// A run with the dear layer's estimates and one skip check of each phase.
static void run_with_checks(lj_profile_result *r) {
  planted_run(r, 7);
  assert_int_equal(lj_analyze_layers(r, NULL), 0);
  double full[3] = {100, 101, 99}, skipped[3] = {90, 91, 89};
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_PREFILL, 0, 1, full, 3, skipped, 3, &r->layers[0].dynamic_j, 0.95,
                                         &r->layer_skips[0]),
                   0);
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_DECODE, 15, 10, full, 3, skipped, 3, &r->layers[15].dynamic_j,
                                         0.95, &r->layer_skips[1]),
                   0);
  // layer 3 saving 10 x its estimate from windows 1 mJ apart on 10 mJ saved: the point within, the
  // interval (~ +-23%) not: INCONCLUSIVE
  double wide_full[3] = {1.0, 1.001, 0.999}, wide_skipped[3];
  for (int i = 0; i < 3; i++) wide_skipped[i] = wide_full[i] - 10 * r->layers[3].dynamic_j.mean;
  assert_int_equal(lj_layer_skip_compute(LJ_PHASE_DECODE, 3, 10, wide_full, 3, wide_skipped, 3,
                                         &r->layers[3].dynamic_j, 0.95, &r->layer_skips[2]),
                   0);
  r->n_layer_skips = 3;
}

static void test_store_round_trip(void **state) {
  (void)state;
  char path[] = "/tmp/lj_test_layers_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  unlink(path);
  lj_profile_result w, g;
  run_with_checks(&w);
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile --per-layer"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  if (lj_store_add_profile(st, run, &w) < 0) fail_msg("%s", lj_error_message());
  int64_t n = -1;
  assert_int_equal(lj_store_profile_count(st, run, "layer_estimates", &n), 0);
  assert_int_equal(n, LAYERS);
  assert_int_equal(lj_store_profile_count(st, run, "layer_skips", &n), 0);
  assert_int_equal(n, 3);
  if (lj_store_read_profile(st, run, &g) < 0) fail_msg("%s", lj_error_message());
  assert_int_equal((int)g.n_layers, LAYERS);
  for (int i = 0; i < LAYERS; i++) {
    const lj_layer_estimate *a = &w.layers[i], *b = &g.layers[i];
    assert_int_equal(b->phase, a->phase);
    assert_int_equal(b->layer, a->layer);
    assert_true(b->kv_len == a->kv_len);
    assert_int_equal(b->n_trials, a->n_trials);
    REL(b->dynamic_j.mean, a->dynamic_j.mean, 1e-12);
    REL(b->dynamic_j.hi, a->dynamic_j.hi, 1e-12);
    REL(b->gross_j.lo, a->gross_j.lo, 1e-12);
    REL(b->time_s.mean, a->time_s.mean, 1e-12);
    assert_int_equal(b->rank, a->rank);
    REL(b->t, a->t, 1e-12);
    REL(b->critical, a->critical, 1e-12);
    assert_int_equal(b->agrees, a->agrees);
    assert_int_equal(b->flags, a->flags);
  }
  assert_int_equal(lj_profile_layer_agreement(&g, LJ_PHASE_DECODE, NULL), 0);
  assert_int_equal(g.n_layer_skips, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(g.layer_skips[i].phase, w.layer_skips[i].phase);
    assert_int_equal(g.layer_skips[i].layer, w.layer_skips[i].layer);
    assert_true(g.layer_skips[i].a.calls == w.layer_skips[i].a.calls);
    REL(g.layer_skips[i].a.saved_j.estimate, w.layer_skips[i].a.saved_j.estimate, 1e-12);
    REL(g.layer_skips[i].a.agreement_pct, w.layer_skips[i].a.agreement_pct, 1e-12);
    assert_int_equal(g.layer_skips[i].pass, w.layer_skips[i].pass);
    REL(g.layer_skips[i].a.ratio.lo, w.layer_skips[i].a.ratio.lo, 1e-12);  // the verdict's interval
    REL(g.layer_skips[i].a.ratio.hi, w.layer_skips[i].a.ratio.hi, 1e-12);
    assert_int_equal(lj_report_layer_skip_verdict(&g.layer_skips[i]), lj_report_layer_skip_verdict(&w.layer_skips[i]));
    assert_true(isnan(g.layer_skips[i].a.counter_saved_j));
  }
  lj_profile_result_free(&g);
  lj_store_close(st);
  lj_profile_result_free(&w);
  unlink(path);
}

static void test_text_and_json(void **state) {
  (void)state;
  lj_profile_result r;
  run_with_checks(&r);
  char *text = render(&r, 0);
  assert_non_null(strstr(text, "== Per layer"));
  assert_non_null(strstr(text, "decode   agreement across layers: MISS (largest |t| at layer 7"));
  // the skip of decode's layer 15: saved 10 J against 10 calls x ~1 mJ: far off, MISS
  const char *row15 = strstr(text, "decode      15      10");
  assert_non_null(row15);
  const char *eol = strchr(row15, '\n');
  assert_non_null(eol);
  // MISS, flagged as the last layer (its skip changes the head's input), and the note saying why
  const char *miss = strstr(row15, "MISS"), *head = strstr(row15, "head\n");
  assert_true(miss && miss < eol && head && head < eol + 1);
  assert_non_null(strstr(text, "head: the last layer; skipping it also changes the input of the final norm"));
  const char *row3 = strstr(text, "decode       3      10");
  assert_non_null(row3);
  const char *inc = strstr(row3, "INCONCLUSIVE"), *eol3 = strchr(row3, '\n');
  assert_true(inc && eol3 && inc < eol3);
  assert_true(strncmp(eol3 - 4, "head", 4) != 0);  // not the last layer: no flag
  assert_non_null(strstr(text, "INCONCLUSIVE: agree within, its interval not"));
  free(text);
  char *json = render(&r, 1);
  assert_non_null(strstr(json, "\"layers\": ["));
  assert_non_null(strstr(json, "\"layer_agreement\": ["));
  assert_non_null(strstr(json, "\"verdict\": \"MISS\""));
  assert_non_null(strstr(json, "\"worst_layer\": 7"));
  assert_non_null(strstr(json, "\"layer_skips\": ["));
  assert_non_null(strstr(json, "\"target_pct\": 10"));
  assert_non_null(strstr(json, "\"verdict\": \"INCONCLUSIVE\""));
  assert_non_null(strstr(json, "\"includes_head_change\": true"));
  assert_non_null(strstr(json, "\"includes_head_change\": false"));
  assert_non_null(strstr(json, "\"agreement_lo_pct\": "));
  free(json);
  lj_profile_result_free(&r);
}

// ---- layers x stages

enum { CELL_LAYERS = 4 };
static const double kCellSeconds = 0.3, kCellCalls = 20000;

// Dynamic J per call of stage k (0 .. 8) of layer L: 10 uJ x (k + 1), layer 2's down half of it.
static double cell_j(int L, int k) { return 1e-5 * (k + 1) * (L == 2 && k == LJ_LAYER_STAGES - 1 ? 0.5 : 1.0); }

// One decode round of a 4-layer model: every stage of every layer alone, one trial each; the whole
// layers alone as well (3 trials, 1 mJ per call); the timeline's qkv of layer 1 took 40 us a call.
static void cell_run(lj_profile_result *r) {
  lj_profile_result_init(r);
  r->plan.level = 0.95;
  r->plan.config.n_layers = CELL_LAYERS;
  r->stamp_cost_s = 1e-6;
  for (int L = 0; L < CELL_LAYERS; L++)
    for (int k = 0; k < LJ_LAYER_STAGES; k++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_DECODE, t.key.stage = lj_layer_order_stage(0, k), t.key.layer = L, t.key.kv_len = 40;
      t.method = LJ_METHOD_LAYER_STAGE;
      t.t.duration_s = kCellSeconds, t.t.calls = (int64_t)kCellCalls, t.t.idle_w = kIdle;
      t.t.sample_energy_j = cell_j(L, k) * kCellCalls + kIdle * kCellSeconds;
      t.t.counter_energy_j = t.t.sample_energy_j * 1.05;  // the counter is off in 0.3 s: not taken
      t.t.temperature_c = NAN;
      assert_int_equal(lj_profile_add_trial(r, &t), 0);
    }
  for (int k = 0; k < TRIALS; k++)
    for (int L = 0; L < CELL_LAYERS; L++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_DECODE, t.key.stage = LJ_STAGE_COUNT, t.key.layer = L, t.key.kv_len = 40;
      t.method = LJ_METHOD_LAYER, t.trial = k;
      t.t.duration_s = kCellSeconds, t.t.calls = 300, t.t.idle_w = kIdle;
      t.t.sample_energy_j = 1e-3 * (1 + 0.001 * k) * 300 + kIdle * kCellSeconds;
      t.t.counter_energy_j = t.t.sample_energy_j;
      t.t.temperature_c = NAN;
      assert_int_equal(lj_profile_add_trial(r, &t), 0);
    }
  for (int i = 0; i < 10; i++) {  // 41 us each, 1 us of it the stamp
    lj_stage_interval iv = {.begin_ns = 1000000 * i, .end_ns = 1000000 * i + 41000, .phase = LJ_PHASE_DECODE,
                            .stage = LJ_STAGE_QKV, .layer = 1};
    assert_int_equal(lj_profile_add_interval(r, &iv, 1 + i), 0);
  }
  assert_int_equal(lj_analyze_layers(r, NULL), 0);
}

static const lj_layer_stage_estimate *cell_of(const lj_profile_result *r, int L, lj_stage st) {
  for (size_t i = 0; i < r->n_layer_stages; i++)
    if (r->layer_stages[i].layer == L && r->layer_stages[i].stage == st) return &r->layer_stages[i];
  return NULL;
}

static void test_layer_stages_from_trials(void **state) {
  (void)state;
  lj_profile_result r;
  cell_run(&r);
  assert_int_equal((int)r.n_layer_stages, CELL_LAYERS * LJ_LAYER_STAGES);
  assert_int_equal((int)r.n_layers, CELL_LAYERS);
  for (int L = 0; L < CELL_LAYERS; L++)
    for (int k = 0; k < LJ_LAYER_STAGES; k++) {
      const lj_layer_stage_estimate *c = cell_of(&r, L, lj_layer_order_stage(0, k));
      assert_non_null(c);
      assert_int_equal(c->phase, LJ_PHASE_DECODE);
      assert_true(c->kv_len == 40);
      assert_int_equal(c->n_trials, 1);
      REL(c->dynamic_j.mean, cell_j(L, k), 1e-9);  // the samples' (the counter reads 5% more)
      REL(c->gross_j.mean, cell_j(L, k) + kIdle * kCellSeconds / kCellCalls, 1e-9);
      REL(c->time_s.mean, kCellSeconds / kCellCalls, 1e-12);
      assert_true(c->flags & LJ_WINDOW_SAMPLE_ENERGY);
      assert_true(isnan(c->dynamic_j.lo));  // one trial: no interval
    }
  // layer 2's down is the cheapest down; the time ratio where the timeline has the cell
  REL(cell_of(&r, 2, LJ_STAGE_DOWN)->dynamic_j.mean / cell_of(&r, 1, LJ_STAGE_DOWN)->dynamic_j.mean, 0.5, 1e-9);
  const lj_layer_stage_estimate *q = cell_of(&r, 1, LJ_STAGE_QKV);
  REL(q->insitu_time_s, 40e-6, 1e-9);
  REL(q->time_ratio, (kCellSeconds / kCellCalls) / 40e-6, 1e-9);
  assert_true(isnan(cell_of(&r, 0, LJ_STAGE_QKV)->time_ratio));
  lj_profile_result_free(&r);
}

// The CREATE statement of `table` in the file ("" when it has none).
static void table_sql(const char *path, const char *table, char *buf, size_t cap) {
  sqlite3 *db;
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE name = ?", -1, &q, NULL), SQLITE_OK);
  sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
  buf[0] = '\0';
  if (sqlite3_step(q) == SQLITE_ROW) snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
}

static void test_layer_stages_store_and_upgrade(void **state) {
  (void)state;
  char dir[] = "/tmp/lj_test_layer_stages_XXXXXX", v7[256], fresh[256];
  assert_non_null(mkdtemp(dir));
  snprintf(v7, sizeof v7, "%s/v7.db", dir);
  snprintf(fresh, sizeof fresh, "%s/fresh.db", dir);
  write_old_store(v7, 7);
  // read as it is: no such table, no rows
  lj_store *st = NULL;
  int64_t n = -1;
  assert_int_equal(lj_store_open_readonly(v7, &st), 0);
  assert_int_equal(lj_store_profile_count(st, 1, "layer_stage_estimates", &n), 0);
  assert_int_equal(n, 0);
  lj_store_close(st);
  char got[2048], want[2048];
  table_sql(v7, "layer_stage_estimates", got, sizeof got);
  assert_string_equal(got, "");
  // opened for writing: the current version, the fresh schema's table, and the cells stored and read back
  assert_int_equal(lj_store_open(v7, &st), 0);
  lj_store *st2 = NULL;
  assert_int_equal(lj_store_open(fresh, &st2), 0);
  lj_store_close(st2);
  table_sql(v7, "layer_stage_estimates", got, sizeof got);
  table_sql(fresh, "layer_stage_estimates", want, sizeof want);
  assert_true(strlen(want) > 0);
  assert_string_equal(got, want);
  lj_profile_result w, g;
  cell_run(&w);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile --per-layer"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  if (lj_store_add_profile(st, run, &w) < 0) fail_msg("%s", lj_error_message());
  assert_int_equal(lj_store_profile_count(st, run, "layer_stage_estimates", &n), 0);
  assert_int_equal(n, CELL_LAYERS * LJ_LAYER_STAGES);
  if (lj_store_read_profile(st, run, &g) < 0) fail_msg("%s", lj_error_message());
  assert_int_equal((int)g.n_layer_stages, CELL_LAYERS * LJ_LAYER_STAGES);
  for (size_t i = 0; i < w.n_layer_stages; i++) {
    const lj_layer_stage_estimate *a = &w.layer_stages[i], *b = cell_of(&g, a->layer, a->stage);
    assert_non_null(b);
    assert_int_equal(b->phase, a->phase);
    assert_true(b->kv_len == a->kv_len);
    assert_int_equal(b->n_trials, a->n_trials);
    REL(b->dynamic_j.mean, a->dynamic_j.mean, 1e-12);
    REL(b->gross_j.mean, a->gross_j.mean, 1e-12);
    REL(b->time_s.mean, a->time_s.mean, 1e-12);
    assert_true(isnan(a->time_ratio) ? isnan(b->time_ratio) : fabs(b->time_ratio - a->time_ratio) < 1e-12);
    assert_int_equal(b->flags, a->flags);
  }
  lj_profile_result_free(&g);
  lj_profile_result_free(&w);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(v7, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version),"
                                          " (SELECT value FROM meta WHERE key = 'upgraded_from')", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_STORE_SCHEMA_VERSION);
  assert_int_equal(sqlite3_column_int(q, 1), 7);
  sqlite3_finalize(q);
  sqlite3_close(db);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_layer_stages_text_json_page(void **state) {
  (void)state;
  lj_profile_result r;
  cell_run(&r);
  char *text = render(&r, 0);
  assert_non_null(strstr(text, "== Layers x stages"));
  // layer 2: 10, 20, ..., 80 uJ and a 45 uJ down: 405 uJ against the whole layer's ~1 mJ (-59.5%)
  const char *row = strstr(text, "== Layers x stages");
  assert_non_null(row);
  row = strstr(row, "decode       2");
  assert_non_null(row);
  const char *eol = strchr(row, '\n');
  char line[512];
  snprintf(line, sizeof line, "%.*s", (int)(eol - row), row);
  if (!strstr(line, "45.00 uJ  405.0 uJ  1.001 mJ   -59.5%")) fail_msg("layer 2's row: %s", line);
  // layer 1's qkv replayed at 15 us a call against 40 us in the timeline: said
  assert_non_null(strstr(text, "cells replayed faster than in the run: 1 of 36"));
  free(text);
  char *json = render(&r, 1);
  assert_non_null(strstr(json, "\"layer_stages\": ["));
  assert_non_null(strstr(json, "\"stage\": \"down\""));
  free(json);
  // the page's heatmap data: decode's 36 cells, [layer, stage, J per call]
  lj_report_run run;
  memset(&run, 0, sizeof run);
  run.prof = r;
  json_t *d = lj_report_page_data(&run);
  assert_non_null(d);
  json_t *cells = json_object_get(json_object_get(d, "layer_stages"), "decode");
  assert_int_equal((int)json_array_size(cells), CELL_LAYERS * LJ_LAYER_STAGES);
  int seen = 0;
  for (size_t i = 0; i < json_array_size(cells); i++) {
    json_t *c = json_array_get(cells, i);
    if (json_integer_value(json_array_get(c, 0)) != 2 || strcmp(json_string_value(json_array_get(c, 1)), "down")) continue;
    REL(json_real_value(json_array_get(c, 2)), 4.5e-5, 1e-9);
    seen++;
  }
  assert_int_equal(seen, 1);
  assert_null(json_object_get(json_object_get(d, "layer_stages"), "prefill"));
  json_decref(d);
  // without them: no cells (the page then shows the timeline's heatmap)
  free(run.prof.layer_stages);
  run.prof.layer_stages = NULL, run.prof.n_layer_stages = 0;
  d = lj_report_page_data(&run);
  assert_int_equal((int)json_object_size(json_object_get(d, "layer_stages")), 0);
  json_decref(d);
  lj_profile_result_free(&run.prof);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_equal_layers_agree),
      cmocka_unit_test(test_dear_layer_ranked_and_missed),
      cmocka_unit_test(test_skip_arithmetic),
      cmocka_unit_test(test_skip_verdict_measured),
      cmocka_unit_test(test_skips_from_windows),
      cmocka_unit_test(test_store_round_trip),
      cmocka_unit_test(test_text_and_json),
      cmocka_unit_test(test_layer_stages_from_trials),
      cmocka_unit_test(test_layer_stages_store_and_upgrade),
      cmocka_unit_test(test_layer_stages_text_json_page),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
