// The ablations' windows as the run keeps them (ablation_windows.c, schema 16's ablation_windows,
// docs/attribution.md §5), on the 3B prefill attention ablation of the first 3B H100 example (§5): full
// windows at 638 W, the windows without attention at 690 W against a 700 W limit:
//   - a window's figures from its result and the readings inside it: time, J per unit, power, the
//     first and last temperature, the clock range, the cap (mean >= 98% of the limit);
//   - rounds and pairs numbered as the bracketed schedule pairs them (F A F M F ...);
//   - a pair with a window at the cap flags its group's rows power_cap;
//   - the store keeps every field (NULL as NAN) and an older file gains the table;
//   - the text shows the windows of a group whose row is not PASS, and only then; the JSON has them.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/error.h"
#include "profile/ablation_windows.h"
#include "profile/bracket.h"
#include "profile/profile_analyze.h"
#include "render_profile.h"
#include "store_round_trip.h"

#include "near.h"
#include "old_store.h"

static const int64_t kMs = 1000000;

static lj_sample reading(int64_t t_ns, lj_reading what, double v, int dev) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns, s.value = v, s.reading = (uint8_t)what, s.device = (uint16_t)dev;
  return s;
}

// A 2 s window of 600 prefill units at mean power w (peak w + 10), idle 136 W rebased.
static lj_window_result window_at(double w) {
  lj_window_result r;
  memset(&r, 0, sizeof r);
  r.begin_ns = 1000 * kMs, r.end_ns = 3000 * kMs, r.duration_s = 2.0;
  r.mean_power_w = w, r.peak_power_w = w + 10, r.idle_power_w = 136;
  r.sample_energy_j = w * 2.0, r.sample_above_idle_j = (w - 136) * 2.0;
  r.flags = LJ_WINDOW_SAMPLE_ENERGY;
  return r;
}

static void test_measure(void **state) {
  (void)state;
  // readings out of order, of another device and outside the window too
  lj_sample s[] = {
      reading(2500 * kMs, LJ_READING_TEMPERATURE, 56, 0), reading(1100 * kMs, LJ_READING_TEMPERATURE, 55, 0),
      reading(2900 * kMs, LJ_READING_TEMPERATURE, 57, 0), reading(900 * kMs, LJ_READING_TEMPERATURE, 50, 0),
      reading(3100 * kMs, LJ_READING_TEMPERATURE, 60, 0), reading(2000 * kMs, LJ_READING_TEMPERATURE, 70, 1),
      reading(1500 * kMs, LJ_READING_CLOCK_SM, 1980, 0),  reading(2600 * kMs, LJ_READING_CLOCK_SM, 1755, 0),
      reading(500 * kMs, LJ_READING_POWER_LIMIT, 700, 0),
  };
  size_t n = sizeof s / sizeof s[0];
  lj_ablation_window w;
  lj_ablation_window_init(&w, LJ_PHASE_PREFILL, 1, LJ_ABLATE_NO_ATTN);
  assert_string_equal(w.group, "attn");
  assert_int_equal(w.pair, -1);
  assert_true(isnan(w.duration_s) && isnan(w.temperature_start_c));
  lj_window_result wr = window_at(690.5);
  lj_ablation_window_measure(&wr, 600, 1.85, 1.852, s, n, 0, 500, &w);
  assert_int_equal(w.units, 600);
  NEAR(w.duration_s, 2.0, 0);
  NEAR(w.counter_j, 1.85, 0);
  NEAR(w.sample_j, 1.852, 0);
  NEAR(w.idle_w, 136, 0);
  NEAR(w.mean_power_w, 690.5, 0);
  NEAR(w.peak_power_w, 700.5, 0);
  NEAR(w.temperature_start_c, 55, 0);  // the first and last reading of device 0 inside
  NEAR(w.temperature_end_c, 57, 0);
  NEAR(w.sm_clock_min_mhz, 1755, 0);
  NEAR(w.sm_clock_max_mhz, 1980, 0);
  NEAR(w.power_limit_w, 700, 0);  // the reading, not the fallback
  assert_int_equal(w.at_cap, 1);  // 690.5 W >= 98% of 700 W
  assert_true(w.flags & LJ_WINDOW_POWER_CAP);
  assert_true(w.flags & LJ_WINDOW_SAMPLE_ENERGY);
  // the full windows around it: 638 W is 91% of the limit
  wr = window_at(638.5);
  lj_ablation_window_init(&w, LJ_PHASE_PREFILL, 0, LJ_ABLATE_FULL);
  lj_ablation_window_measure(&wr, 564, 1.78, 1.7817, s, n, 0, 500, &w);
  assert_string_equal(w.group, "full");
  assert_int_equal(w.at_cap, 0);
  assert_false(w.flags & LJ_WINDOW_POWER_CAP);
  // no readings: the fallback limit, no temperature
  lj_ablation_window_measure(&wr, 564, 1.78, NAN, NULL, 0, 0, 650, &w);
  NEAR(w.power_limit_w, 650, 0);
  assert_int_equal(w.at_cap, 1);  // 638.5 >= 0.98 x 650
  assert_true(isnan(w.temperature_start_c) && isnan(w.temperature_end_c) && isnan(w.sample_j));
}

// Phase ph's windows on the schedule of `rounds` rounds of attention and the MLP, in r.
static size_t plant(lj_profile_result *r, lj_phase ph, int rounds) {
  int slot[LJ_ABL_MAX_WINDOWS];
  size_t n = lj_bracket_schedule(rounds, 2, slot, LJ_ABL_MAX_WINDOWS);
  lj_ablation_window w[LJ_ABL_MAX_WINDOWS];
  for (size_t i = 0; i < n; i++) {
    lj_ablation_window_init(&w[i], ph, (int)i, slot[i]);  // slot 1 attention, 2 the MLP: their LJ_ABLATE_*
    w[i].units = 600, w[i].duration_s = 2.0;
    w[i].mean_power_w = slot[i] == LJ_ABLATE_NO_ATTN ? 690 : slot[i] == LJ_ABLATE_NO_MLP ? 555 : 638;
    w[i].sample_j = slot[i] == LJ_ABLATE_NO_ATTN ? 1.852 : slot[i] == LJ_ABLATE_NO_MLP ? 0.646 : 1.782;
    w[i].counter_j = w[i].sample_j - 0.001;
    w[i].temperature_start_c = 55, w[i].temperature_end_c = 56;
  }
  lj_ablation_windows_number(w, n);
  for (size_t i = 0; i < n; i++) assert_int_equal(lj_profile_add_ablation_window(r, &w[i]), 0);
  return n;
}

static void test_number(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  size_t n = plant(&r, LJ_PHASE_PREFILL, 4);
  assert_int_equal((int)n, 17);  // F A F M F A F M F ...
  const lj_ablation_window *w = r.abl_windows;
  static const char *const group[] = {"full", "attn", "full", "mlp"};
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(w[i].seq, (int)i);
    assert_string_equal(w[i].group, i + 1 == n ? "full" : group[i % 4]);
    // a skipped window: the i / 4-th of its group, in round i / 4; a full one: no pair
    assert_int_equal(w[i].pair, i % 2 ? (int)(i / 4) : -1);
    assert_int_equal(w[i].round, i ? (int)((i - 1) / 4) : 0);
  }
  // no cap: no flag
  int capped = -1, pairs = -1;
  assert_int_equal(lj_ablation_windows_cap(w, n, LJ_PHASE_PREFILL, "attn", &capped, &pairs), 0);
  assert_int_equal(capped, 0);
  assert_int_equal(pairs, 4);
  // a skipped window with no full one after it (the schedule cut short) has no pair
  lj_ablation_window cut[3];
  memcpy(cut, w, sizeof cut);
  lj_ablation_windows_number(cut, 2);
  assert_int_equal(cut[1].pair, -1);
  lj_profile_result_free(&r);
}

static void test_cap(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  size_t n = plant(&r, LJ_PHASE_PREFILL, 4);
  plant(&r, LJ_PHASE_DECODE, 4);
  // every prefill window without attention at the cap; a decode MLP pair's full window after it
  for (size_t i = 0; i < n; i++) r.abl_windows[i].at_cap = !strcmp(r.abl_windows[i].group, "attn");
  r.abl_windows[n + 4].at_cap = 1;  // decode: F A F M [F] A ...: the MLP's first pair and the attention's second
  int capped, pairs;
  assert_int_equal(lj_ablation_windows_cap(r.abl_windows, r.n_abl_windows, LJ_PHASE_PREFILL, "attn", &capped, &pairs),
                   LJ_WINDOW_POWER_CAP);
  assert_int_equal(capped, 4);
  assert_int_equal(pairs, 4);
  assert_int_equal(lj_ablation_windows_cap(r.abl_windows, r.n_abl_windows, LJ_PHASE_PREFILL, "mlp", &capped, NULL), 0);
  assert_int_equal(capped, 0);
  assert_int_equal(lj_ablation_windows_cap(r.abl_windows, r.n_abl_windows, LJ_PHASE_DECODE, "mlp", &capped, NULL),
                   LJ_WINDOW_POWER_CAP);
  assert_int_equal(capped, 1);
  assert_int_equal(lj_ablation_windows_cap(r.abl_windows, r.n_abl_windows, LJ_PHASE_DECODE, "attn", &capped, NULL),
                   LJ_WINDOW_POWER_CAP);
  assert_int_equal(capped, 1);
  lj_profile_result_free(&r);
}

static void same_real(double a, double b) {
  if (isnan(a)) assert_true(isnan(b));
  else NEAR(b, a, 0);
}

static void test_store(void **state) {
  (void)state;
  char dir[] = "/tmp/lj_test_abl_windows_XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.db", dir);
  lj_profile_result w, g;
  lj_profile_result_init(&w);
  plant(&w, LJ_PHASE_PREFILL, 2);
  plant(&w, LJ_PHASE_DECODE, 1);
  lj_ablation_window *x = &w.abl_windows[1];
  x->at_cap = 1, x->flags = LJ_WINDOW_POWER_CAP | LJ_WINDOW_SAMPLE_ENERGY, x->throttle_mask = 0x4;
  x->peak_power_w = 700.4, x->idle_w = 136.5, x->sm_clock_min_mhz = 1755, x->sm_clock_max_mhz = 1980;
  x->power_limit_w = 700;
  w.abl_windows[2].sample_j = NAN;  // a window the samples cannot stand for
  lj_store *st = store_round_trip(path, &w, &g);
  assert_int_equal((int)g.n_abl_windows, (int)w.n_abl_windows);
  for (size_t i = 0; i < w.n_abl_windows; i++) {
    const lj_ablation_window *a = &w.abl_windows[i], *b = &g.abl_windows[i];
    assert_int_equal(b->phase, a->phase);
    assert_int_equal(b->seq, a->seq);
    assert_string_equal(b->group, a->group);
    assert_int_equal(b->round, a->round);
    assert_int_equal(b->pair, a->pair);
    assert_int_equal(b->units, a->units);
    assert_int_equal(b->at_cap, a->at_cap);
    assert_int_equal(b->throttle_mask, a->throttle_mask);
    assert_int_equal(b->flags, a->flags);
    same_real(a->duration_s, b->duration_s);
    same_real(a->counter_j, b->counter_j);
    same_real(a->sample_j, b->sample_j);
    same_real(a->idle_w, b->idle_w);
    same_real(a->mean_power_w, b->mean_power_w);
    same_real(a->peak_power_w, b->peak_power_w);
    same_real(a->temperature_start_c, b->temperature_start_c);
    same_real(a->temperature_end_c, b->temperature_end_c);
    same_real(a->sm_clock_min_mhz, b->sm_clock_min_mhz);
    same_real(a->sm_clock_max_mhz, b->sm_clock_max_mhz);
    same_real(a->power_limit_w, b->power_limit_w);
  }
  int64_t rows = 0;
  assert_int_equal(lj_store_profile_count(st, 1, "ablation_windows", &rows), 0);
  assert_int_equal((int)rows, (int)w.n_abl_windows);
  lj_profile_result_free(&g);
  lj_store_close(st);
  lj_profile_result_free(&w);
  // A file of version 15 (this one without the table, marked 15) gains it, empty, when opened for writing.
  snprintf(path, sizeof path, "%s/v15.db", dir);
  write_store_without(path, 15, "ablation_windows");
  check_table_added(path, "ablation_windows");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

// One check row of phase ph and group (attention or the MLP) with agreement pct and a ratio interval.
static void add_check(lj_profile_result *r, lj_phase ph, int attn, double pct, double lo, double hi) {
  lj_ablation_check *c = &r->ablation_checks[r->n_ablation_checks++];
  memset(c, 0, sizeof *c);
  c->phase = ph, c->method = LJ_METHOD_ISOLATION;
  c->a.stage = attn ? LJ_STAGE_ATTN : LJ_STAGE_GATE_UP, c->a.calls = 28;
  c->a.agreement_pct = pct, c->a.ratio.estimate = 1 + pct / 100, c->a.ratio.lo = lo, c->a.ratio.hi = hi;
  c->a.saved_j.estimate = c->a.replay_j.estimate = NAN;
}

static void test_text_and_json(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  size_t n = plant(&r, LJ_PHASE_PREFILL, 4);
  for (size_t i = 0; i < n; i++) r.abl_windows[i].at_cap = !strcmp(r.abl_windows[i].group, "attn");
  // every row passes: no windows in the text
  add_check(&r, LJ_PHASE_PREFILL, 1, 2, 0.95, 1.05);
  add_check(&r, LJ_PHASE_PREFILL, 0, -5.7, 0.933, 0.954);
  char *text = render(&r, 0);
  assert_non_null(strstr(text, "== Ablations"));
  assert_null(strstr(text, "windows of the groups with a row not PASS"));
  free(text);
  // attention's row a MISS (the 3B figures): its four pairs, the MLP's none
  add_check(&r, LJ_PHASE_PREFILL, 1, -685.1, -7.322, -4.379);
  r.ablation_checks[2].a.flags = LJ_WINDOW_POWER_CAP;
  text = render(&r, 0);
  assert_non_null(strstr(text, "MISS"));
  assert_non_null(strstr(text, "power cap: 1 rows have a window of their pairs at the power limit"));
  assert_non_null(strstr(text, "windows of the groups with a row not PASS, per pair"));
  assert_non_null(strstr(text, "prefill  attn    0  windows 0-2:  1.7820|1.8520|1.7820 J  3.333|3.333|3.333 ms  "
                               "638|690|638 W  55-56|55-56|55-56 C  cap -|yes|-\n"));
  assert_non_null(strstr(text, "prefill  attn    3  windows 12-14:"));
  assert_null(strstr(text, "mlp     0  windows"));
  free(text);
  char *json = render(&r, 1);
  const char *aw = strstr(json, "\"ablation_windows\": [");
  assert_non_null(aw);
  assert_non_null(strstr(aw, "\"skipped\": \"attn\""));
  assert_non_null(strstr(aw, "\"at_cap\": true"));
  assert_non_null(strstr(aw, "\"temperature_start_c\": 55"));
  assert_non_null(strstr(json, "power_cap"));
  free(json);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_measure), cmocka_unit_test(test_number), cmocka_unit_test(test_cap),
      cmocka_unit_test(test_store),   cmocka_unit_test(test_text_and_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
