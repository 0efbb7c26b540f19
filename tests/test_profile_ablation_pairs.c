// The ablations on bracketed, paired windows (docs/attribution.md §5; bracket.c,
// lj_analyze_ablation_pairs), on planted decode windows of a 1B-like unit: 54 J, attention saving
// 0.5 J (~1%), the MLP 34 J, 2032 calls of each group per unit:
//   - a linear drift (the card warming, +0.1 J a window): Welch's difference of the old schedule's
//     independent means (F A M per round) reads attention 20% low with an interval across the band,
//     the pairs (F A F M F ...) recover it within 1% and PASS;
//   - one outlier window: an ablated one moves only its own pair (attention INCONCLUSIVE, not a false
//     MISS; the MLP untouched); a full one moves the two pairs around it, one of each group;
//   - a window without a reading drops only the pairs around it; one without samples makes the
//     group take the counter;
//   - the text and the JSON: the pairs' count and the paired saving.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/verdict.h"
#include "profile/analyze_internal.h"
#include "profile/bracket.h"
#include "render_profile.h"

#include "near.h"

enum { ROUNDS = 6, CALLS = 2032 };
static const double kUnit = 54.0, kAttn = 0.5, kMlp = 34.0, kDrift = 0.1, kNoise = 0.02;

// J per unit of window i: the unit drifting by kDrift a window, +-kNoise of fixed pseudo-noise, less
// what the window's group saves.
static double window_j(size_t i, int kind) {
  return kUnit + kDrift * (double)i + kNoise * sin(1.7 * (double)i) -
         (kind == LJ_ABLATE_NO_ATTN ? kAttn : kind == LJ_ABLATE_NO_MLP ? kMlp : 0);
}

// Decode windows on the paired schedule, the counter and the samples alike.
static void plant(lj_profile_raw *raw) {
  memset(raw, 0, sizeof *raw);
  int slot[LJ_ABL_MAX_WINDOWS];
  size_t n = lj_bracket_schedule(ROUNDS, 2, slot, LJ_ABL_MAX_WINDOWS);
  assert_int_equal((int)n, 1 + 4 * ROUNDS);
  for (size_t i = 0; i < n; i++) {
    raw->abl_kind[1][i] = slot[i];  // 1 attention, 2 the MLP: their LJ_ABLATE_* values
    raw->abl_j[1][i] = raw->abl_sample_j[1][i] = window_j(i, slot[i]);
  }
  raw->n_abl[1] = (int)n;
}

// The replay's per-call estimate of a group saving `per_unit` J per unit: exact (3 equal trials).
static lj_mean_ci estimate(double per_unit) {
  double x[3] = {per_unit / CALLS, per_unit / CALLS, per_unit / CALLS};
  lj_mean_ci m;
  assert_int_equal(lj_stats_mean_ci(x, 3, 0.95, &m), 0);
  return m;
}

static lj_verdict verdict(const lj_ablation *a) {
  return lj_interval_verdict(a->agreement_pct, (a->ratio.lo - 1) * 100, (a->ratio.hi - 1) * 100, 10);
}

// kind's ablation from raw's decode windows against the exact estimate; returns its verdict.
static lj_verdict pairs(const lj_profile_raw *raw, int kind, lj_ablation *a) {
  lj_mean_ci e = estimate(kind == LJ_ABLATE_NO_ATTN ? kAttn : kMlp);
  lj_stage st = kind == LJ_ABLATE_NO_ATTN ? LJ_STAGE_ATTN : LJ_STAGE_GATE_UP;
  assert_int_equal(lj_analyze_ablation_pairs(st, CALLS, raw, 1, kind, 2, &e, 0.95, a), 1);
  return verdict(a);
}

static void test_ablation_drift(void **state) {
  (void)state;
  // the old schedule: F A M per round, 6 rounds, Welch's difference of independent means
  double full[ROUNDS], attn[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    full[r] = window_j((size_t)(3 * r), LJ_ABLATE_FULL);
    attn[r] = window_j((size_t)(3 * r + 1), LJ_ABLATE_NO_ATTN);
  }
  lj_mean_ci e = estimate(kAttn);
  lj_ablation welch;
  assert_int_equal(lj_ablation_compute(LJ_STAGE_ATTN, CALLS, full, ROUNDS, attn, ROUNDS, &e, 0.95, &welch), 0);
  // the ablated window runs one window after its full one: the drift takes 0.1 J off each saving
  REL(welch.saved_j.estimate, kAttn - kDrift, 0.05);
  assert_true(welch.agreement_pct < -15);
  assert_true((welch.ratio.hi - welch.ratio.lo) / 2 > 1.0);  // the interval over +-100% of the estimate
  assert_int_not_equal(verdict(&welch), LJ_VERDICT_PASS);
  // the paired schedule, the same drift over its windows
  lj_profile_raw raw;
  plant(&raw);
  lj_ablation a;
  assert_int_equal(pairs(&raw, LJ_ABLATE_NO_ATTN, &a), LJ_VERDICT_PASS);
  assert_int_equal(a.full_j.n, ROUNDS);  // pairs
  assert_true(a.saved_j.df == ROUNDS - 1);
  REL(a.saved_j.estimate, kAttn, 0.01);
  assert_true((a.ratio.hi - a.ratio.lo) / 2 < 0.05);  // within +-5% of the estimate
  REL(a.counter_saved_j, a.saved_j.estimate, 1e-12);
  assert_true(a.flags & LJ_WINDOW_SAMPLE_ENERGY);
  assert_int_equal(pairs(&raw, LJ_ABLATE_NO_MLP, &a), LJ_VERDICT_PASS);
  REL(a.saved_j.estimate, kMlp, 1e-3);
}

// The index of the window of `kind` in round r (the schedule: F A F M F ..., rounds of A then M).
static size_t window_of(const lj_profile_raw *raw, int kind, int r) {
  int seen = 0;
  for (int i = 0; i < raw->n_abl[1]; i++)
    if (raw->abl_kind[1][i] == kind && seen++ == r) return (size_t)i;
  fail_msg("no window of kind %d in round %d", kind, r);
  return 0;
}

// A production (or norm-once) profile's decode skips attention only (the MLP ablation would run the
// fused ffn_norm+gate_up+swiglu as its norm alone): with --ablate both its headline ablation is
// attention's, checked against the attention estimate, where an unfused profile's is the MLP's.
static void test_ablation_fused_decode(void **state) {
  (void)state;
  lj_profile_raw raw;
  memset(&raw, 0, sizeof raw);
  int slot[LJ_ABL_MAX_WINDOWS];
  size_t n = lj_bracket_schedule(ROUNDS, 1, slot, LJ_ABL_MAX_WINDOWS);
  for (size_t i = 0; i < n; i++) {
    raw.abl_kind[1][i] = slot[i] ? LJ_ABLATE_NO_ATTN : LJ_ABLATE_FULL;
    raw.abl_j[1][i] = raw.abl_sample_j[1][i] = window_j(i, raw.abl_kind[1][i]);
  }
  raw.n_abl[1] = (int)n;
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.level = 0.95, r.plan.ablation = 3, r.plan.gen_len = 128, r.plan.config.n_layers = 16;  // 2032 calls
  snprintf(r.plan.fusion, sizeof r.plan.fusion, "production");
  lj_profile_stage st;
  memset(&st, 0, sizeof st);
  st.method = LJ_METHOD_ISOLATION, st.calls_per_unit = CALLS;
  st.est.key.phase = LJ_PHASE_DECODE, st.est.key.stage = LJ_STAGE_ATTN, st.est.key.layer = -1;
  st.est.dynamic_j = estimate(kAttn);
  assert_int_equal(lj_profile_add_stage(&r, &st), 0);
  st.est.key.stage = LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU, st.est.dynamic_j = estimate(kMlp);
  assert_int_equal(lj_profile_add_stage(&r, &st), 0);
  assert_int_equal(lj_analyze_ablation(&r, &raw), 0);
  assert_true(r.ablation_valid);
  assert_int_equal(r.ablation.stage, LJ_STAGE_ATTN);
  REL(r.ablation.saved_j.estimate, kAttn, 0.01);
  assert_int_equal(verdict(&r.ablation), LJ_VERDICT_PASS);
  // norm-once is fused too (with the MLP skipped its o_proj+ffn_norm runs as its parts): attention's
  snprintf(r.plan.fusion, sizeof r.plan.fusion, "norm-once");
  r.ablation_valid = 0;
  assert_int_equal(lj_analyze_ablation(&r, &raw), 0);
  assert_true(r.ablation_valid);
  assert_int_equal(r.ablation.stage, LJ_STAGE_ATTN);
  // the same windows in an unfused profile ("none", or "" from a store before the modes): its
  // headline is the MLP's, which has no windows here
  for (int k = 0; k < 2; k++) {
    snprintf(r.plan.fusion, sizeof r.plan.fusion, "%s", k ? "" : "none");
    r.ablation_valid = 0;
    assert_int_equal(lj_analyze_ablation(&r, &raw), 0);
    assert_false(r.ablation_valid);
  }
  lj_profile_result_free(&r);
}

static void test_ablation_outlier(void **state) {
  (void)state;
  lj_profile_raw raw;
  plant(&raw);
  // one attention window 2 J low (a throttle, say): its pair saves 2.5 J among 0.5s, the mean moves
  // by 2/6 J and the interval widens past the band on both sides: INCONCLUSIVE, not a false MISS
  size_t odd = window_of(&raw, LJ_ABLATE_NO_ATTN, 3);
  raw.abl_j[1][odd] -= 2.0, raw.abl_sample_j[1][odd] -= 2.0;
  lj_ablation a;
  assert_int_equal(pairs(&raw, LJ_ABLATE_NO_ATTN, &a), LJ_VERDICT_INCONCLUSIVE);
  REL(a.saved_j.estimate, kAttn + 2.0 / ROUNDS, 0.01);
  assert_true(a.ratio.lo < 0.9 && a.ratio.hi > 1.1);
  // the MLP's pairs share no window with it
  assert_int_equal(pairs(&raw, LJ_ABLATE_NO_MLP, &a), LJ_VERDICT_PASS);
  REL(a.saved_j.estimate, kMlp, 1e-3);
  raw.abl_j[1][odd] += 2.0, raw.abl_sample_j[1][odd] += 2.0;
  // the full window after it 2 J high: the attention pair before and the MLP pair after it gain 1 J
  raw.abl_j[1][odd + 1] += 2.0, raw.abl_sample_j[1][odd + 1] += 2.0;
  assert_int_equal(raw.abl_kind[1][odd + 2], LJ_ABLATE_NO_MLP);
  assert_int_equal(pairs(&raw, LJ_ABLATE_NO_ATTN, &a), LJ_VERDICT_INCONCLUSIVE);
  REL(a.saved_j.estimate, kAttn + 1.0 / ROUNDS, 0.01);
  assert_int_equal(pairs(&raw, LJ_ABLATE_NO_MLP, &a), LJ_VERDICT_PASS);  // 1 J of 34 in one pair of 6
  REL(a.saved_j.estimate, kMlp + 1.0 / ROUNDS, 1e-3);
}

static void test_ablation_missing_windows(void **state) {
  (void)state;
  lj_profile_raw raw;
  plant(&raw);
  // a full window without any reading: the two pairs around it go, one of each group
  size_t f = window_of(&raw, LJ_ABLATE_NO_ATTN, 2) + 1;
  raw.abl_j[1][f] = raw.abl_sample_j[1][f] = NAN;
  lj_ablation a;
  pairs(&raw, LJ_ABLATE_NO_ATTN, &a);
  assert_int_equal(a.full_j.n, ROUNDS - 1);
  REL(a.saved_j.estimate, kAttn, 0.01);
  pairs(&raw, LJ_ABLATE_NO_MLP, &a);
  assert_int_equal(a.full_j.n, ROUNDS - 1);
  // an MLP window without samples: the MLP's pairs take the counter (it gives one pair more), the
  // counter reading 0.3 J more in every window, which cancels in each pair
  size_t m = window_of(&raw, LJ_ABLATE_NO_MLP, 4);
  raw.abl_sample_j[1][m] = NAN;
  for (int i = 0; i < raw.n_abl[1]; i++) raw.abl_j[1][i] += 0.3;
  pairs(&raw, LJ_ABLATE_NO_MLP, &a);
  assert_int_equal(a.full_j.n, ROUNDS - 1);
  assert_false(a.flags & LJ_WINDOW_SAMPLE_ENERGY);
  REL(a.saved_j.estimate, kMlp, 1e-3);
  pairs(&raw, LJ_ABLATE_NO_ATTN, &a);  // attention keeps the samples
  assert_true(a.flags & LJ_WINDOW_SAMPLE_ENERGY);
  // a single pair gives no interval: no check
  lj_profile_raw one;
  memset(&one, 0, sizeof one);
  int slot[LJ_ABL_MAX_WINDOWS];
  size_t n = lj_bracket_schedule(1, 2, slot, LJ_ABL_MAX_WINDOWS);
  for (size_t i = 0; i < n; i++) one.abl_kind[1][i] = slot[i], one.abl_j[1][i] = one.abl_sample_j[1][i] = window_j(i, slot[i]);
  one.n_abl[1] = (int)n;
  lj_mean_ci e = estimate(kAttn);
  assert_int_equal(lj_analyze_ablation_pairs(LJ_STAGE_ATTN, CALLS, &one, 1, LJ_ABLATE_NO_ATTN, 2, &e, 0.95, &a), 0);
}

static void test_ablation_text_and_json(void **state) {
  (void)state;
  lj_profile_raw raw;
  plant(&raw);
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.level = 0.95;
  lj_ablation_check *c = &r.ablation_checks[0];
  c->phase = LJ_PHASE_DECODE, c->method = LJ_METHOD_ISOLATION;
  pairs(&raw, LJ_ABLATE_NO_ATTN, &c->a);
  r.n_ablation_checks = 1;
  char *text = render(&r, 0);
  assert_non_null(strstr(text, "== Ablations"));
  assert_non_null(strstr(text, "saved: per ablated window, the mean of the full windows before and after it less it"));
  assert_non_null(strstr(text, "decode   attn  isolation    2032"));
  free(text);
  char *json = render(&r, 1);
  const char *ab = strstr(json, "\"ablations\": [");
  assert_non_null(ab);
  const char *n = strstr(ab, "\"n\": 6");  // the pairs, in full_j (and ablated_j)
  assert_non_null(n);
  assert_non_null(strstr(ab, "\"verdict\": \"PASS\""));
  free(json);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ablation_drift), cmocka_unit_test(test_ablation_fused_decode),
      cmocka_unit_test(test_ablation_outlier),
      cmocka_unit_test(test_ablation_missing_windows),
      cmocka_unit_test(test_ablation_text_and_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
