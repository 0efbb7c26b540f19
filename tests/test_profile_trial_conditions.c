// The conditions of each replay trial (trial_conditions.c, analyze_power_cap.c,
// the store's trial_conditions table, schema 9):
//   - clocks, throttle reasons, mean temperature and the power limit from the
//     readings inside a window, those outside it ignored; at the cap by a
//     power-cap or power-brake reason, or by power >= 98% of the limit;
//   - a sequence prefix whose trial sat at the cap flags what the stage adds
//     (power_cap), the stage before it not, and a note names it with its count;
//   - the table written and read back; a version-7 or version-8 file read as it is has none
//     (no error), and upgraded gets it (the version-8 file keeps its per-layer stages' rows).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/error.h"
#include "profile/analyze_internal.h"
#include "profile/profile_analyze.h"
#include "profile/trial_conditions.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "old_store.h"
#include "store_round_trip.h"

#include "near.h"

static lj_sample reading(int64_t t_ns, lj_reading what, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns, s.reading = (uint8_t)what, s.value = v;
  return s;
}

static void test_from_readings(void **state) {
  (void)state;
  const int64_t ms = 1000000;
  lj_sample s[] = {
      reading(0, LJ_READING_POWER_LIMIT, 700),          // the limit in force
      reading(5 * ms, LJ_READING_CLOCK_SM, 1200),       // before the window: ignored
      reading(10 * ms, LJ_READING_CLOCK_SM, 1980),
      reading(20 * ms, LJ_READING_CLOCK_SM, 1755),
      reading(20 * ms, LJ_READING_CLOCK_MEM, 2619),
      reading(30 * ms, LJ_READING_THROTTLE, 0x1),       // gpu_idle
      reading(40 * ms, LJ_READING_THROTTLE, 0x100),     // display clock
      reading(30 * ms, LJ_READING_TEMPERATURE, 50),
      reading(40 * ms, LJ_READING_TEMPERATURE, 53),
      reading(200 * ms, LJ_READING_THROTTLE, 0x4),      // after: ignored
      reading(200 * ms, LJ_READING_POWER_LIMIT, 300),   // after: not the limit in force
  };
  size_t n = sizeof s / sizeof *s;
  lj_trial_conditions c;
  assert_int_equal(lj_trial_conditions_from_readings(s, n, 0, 10 * ms, 100 * ms, 600, 500, &c), 1);
  REL(c.sm_clock_min_mhz, 1755, 0);
  REL(c.sm_clock_max_mhz, 1980, 0);
  REL(c.mem_clock_min_mhz, 2619, 0);
  REL(c.temperature_c, 51.5, 1e-12);
  REL(c.power_limit_w, 700, 0);
  assert_int_equal(c.throttle_mask, 0x101);
  assert_int_equal(c.at_cap, 0);  // 600 W < 0.98 x 700 W, no power reason
  // by power: 686 W is 98% of 700 W
  assert_int_equal(lj_trial_conditions_from_readings(s, n, 0, 10 * ms, 100 * ms, 686, 500, &c), 1);
  assert_int_equal(c.at_cap, 1);
  // by reason: the software power cap inside the window
  assert_int_equal(lj_trial_conditions_from_readings(s, n, 0, 10 * ms, 250 * ms, 400, 500, &c), 1);
  assert_int_equal(c.at_cap, 1);
  REL(c.power_limit_w, 300, 0);  // the latest reading before the end
  // another device, or no reading inside: nothing seen; the limit given stands
  assert_int_equal(lj_trial_conditions_from_readings(s, n, 1, 10 * ms, 100 * ms, 600, 500, &c), 0);
  REL(c.power_limit_w, 500, 0);
  assert_true(isnan(c.sm_clock_min_mhz) && isnan(c.temperature_c));
}

static void plan(lj_profile_result *r) {
  lj_profile_result_init(r);
  assert_int_equal(lj_config_preset("tiny", &r->plan.config), 0);
  r->plan.batch = 1, r->plan.prompt_len = 4, r->plan.gen_len = 5, r->plan.level = 0.95;
  r->plan.n_decode_kv = 1, r->plan.decode_kv[0] = 4;
  r->cond.idle_w = 100;
}

// Prefill prefixes attn_norm .. down, 3 rounds, 1 mJ per stage; the prefix ending at qkv at the
// cap in round 1.
static void add_prefixes(lj_profile_result *r) {
  for (int round = 0; round < 3; round++)
    for (int k = 1; k <= 9; k++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key.phase = LJ_PHASE_PREFILL, t.key.stage = lj_layer_order_stage(0, k - 1), t.key.layer = -1;
      t.trial = round, t.method = LJ_METHOD_SEQUENCE;
      t.t.calls = 1000, t.t.duration_s = 2.0, t.t.idle_w = 100, t.t.temperature_c = 50;
      t.t.counter_energy_j = 1000 * k * 1e-3 * (1 + 0.01 * (round - 1)) + 200;
      t.t.sample_energy_j = t.t.counter_energy_j;
      if (round == 1 && t.key.stage == LJ_STAGE_QKV) t.t.window_flags = LJ_WINDOW_POWER_CAP;
      assert_int_equal(lj_profile_add_trial(r, &t), 0);
    }
}

static void test_power_cap_flags(void **state) {
  (void)state;
  lj_profile_result r;
  plan(&r);
  add_prefixes(&r);
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  int seen = 0;
  for (size_t i = 0; i < r.n_stages; i++) {
    const lj_profile_stage *s = &r.stages[i];
    if (s->method != LJ_METHOD_SEQUENCE) continue;
    assert_int_equal(!!(s->est.window_flags & LJ_WINDOW_POWER_CAP), s->est.key.stage == LJ_STAGE_QKV);
    seen++;
  }
  assert_int_equal(seen, 9);
  assert_non_null(strstr(r.notes, "power cap"));
  assert_non_null(strstr(r.notes, "sequence prefill qkv 1 of 3"));
  char text[128];
  lj_window_flags_text(LJ_WINDOW_POWER_CAP, text, sizeof text);
  assert_string_equal(text, "power_cap");
  lj_profile_result_free(&r);
}

static void test_store(void **state) {
  (void)state;
  char dir[] = "/tmp/lj_test_trial_cond_XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/t.db", dir);
  lj_profile_result w, g;
  plan(&w);
  add_prefixes(&w);
  lj_trial_conditions c = {.trial = 10, .sm_clock_min_mhz = 1755, .sm_clock_max_mhz = 1980,
                           .mem_clock_min_mhz = 2619, .mem_clock_max_mhz = 2619, .temperature_c = 51.5,
                           .power_w = 686, .power_limit_w = 700, .throttle_mask = 0x104, .at_cap = 1};
  assert_int_equal(lj_profile_add_trial_conditions(&w, &c), 0);
  c.trial = 11, c.at_cap = 0, c.throttle_mask = 0, c.power_w = 450, c.temperature_c = NAN;
  assert_int_equal(lj_profile_add_trial_conditions(&w, &c), 0);
  lj_store *st = store_round_trip(path, &w, &g);
  assert_int_equal(g.n_trial_conds, 2);
  for (int i = 0; i < 2; i++) {
    const lj_trial_conditions *a = &w.trial_conds[i], *b = &g.trial_conds[i];
    assert_int_equal(b->trial, a->trial);
    assert_int_equal(b->at_cap, a->at_cap);
    assert_int_equal(b->throttle_mask, a->throttle_mask);
    REL(b->sm_clock_min_mhz, a->sm_clock_min_mhz, 0);
    REL(b->power_w, a->power_w, 0);
    REL(b->power_limit_w, a->power_limit_w, 0);
    assert_true(isnan(a->temperature_c) ? isnan(b->temperature_c) : b->temperature_c == a->temperature_c);
  }
  lj_profile_result_free(&g);
  lj_store_close(st);
  lj_profile_result_free(&w);
  // A version-7 file (before the per-layer stages' table) and a version-8 file (with it, one
  // row in it) upgraded: both get the table, empty; the version-8 row stays.
  for (int from = 7; from <= 8; from++) {
    snprintf(path, sizeof path, "%s/v%d.db", dir, from);
    write_old_store(path, from);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO runs(id, kind, command_line, host, tool_version, started_wall_ns, status)"
                                  " VALUES (1, 'profile', 'llamajoule profile', 'h', '0.1.0', 1, 'complete');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    if (from == 8)
      assert_int_equal(sqlite3_exec(db,
                                    "INSERT INTO layer_stage_estimates(run_id, phase, layer, stage, kv_len, n_trials,"
                                    " dynamic_n, gross_n, time_n) VALUES (1, 'decode', 3, 'qkv', 64, 8, 8, 8, 8);",
                                    NULL, NULL, NULL),
                       SQLITE_OK);
    sqlite3_close(db);
    // read as it is: no such table, no rows (not an error)
    int64_t n = -1;
    assert_int_equal(lj_store_open_readonly(path, &st), 0);
    if (lj_store_profile_count(st, 1, "trial_conditions", &n) < 0) fail_msg("%s", lj_error_message());
    assert_int_equal(n, 0);
    lj_store_close(st);
    assert_int_equal(lj_store_open(path, &st), 0);
    n = -1;
    assert_int_equal(lj_store_profile_count(st, 1, "trial_conditions", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(lj_store_profile_count(st, 1, "layer_stage_estimates", &n), 0);
    assert_int_equal(n, from == 8 ? 1 : 0);
    lj_store_close(st);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT user_version FROM pragma_user_version),"
                                        " (SELECT value FROM meta WHERE key = 'upgraded_from')",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), LJ_STORE_SCHEMA_VERSION);
    assert_int_equal(sqlite3_column_int(q, 1), from);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_from_readings),
      cmocka_unit_test(test_power_cap_flags),
      cmocka_unit_test(test_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
