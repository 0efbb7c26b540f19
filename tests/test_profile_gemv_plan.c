// The decode GEMV setting a profile ran (plan.gemv, `profile --gemv-config`): through the store,
// the JSON plan and the text header; a version-20 file (no gemv column) reads as the defaults, as
// it is and upgraded, and a record without the field is stored as the defaults.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common/error.h"
#include "report/report.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "old_store.h"
#include "store_round_trip.h"
#include "render_profile.h"

static void make(lj_profile_result *r, const char *gemv) {
  lj_profile_result_init(r);
  snprintf(r->plan.model, sizeof r->plan.model, "tiny");
  snprintf(r->plan.model_name, sizeof r->plan.model_name, "tiny");
  assert_int_equal(lj_config_preset("tiny", &r->plan.config), 0);
  snprintf(r->plan.engine, sizeof r->plan.engine, "cuda");
  snprintf(r->plan.weights, sizeof r->plan.weights, "bf16");
  snprintf(r->plan.fusion, sizeof r->plan.fusion, "none");
  snprintf(r->plan.gemv, sizeof r->plan.gemv, "%s", gemv);
  r->plan.batch = 1, r->plan.prompt_len = 16, r->plan.gen_len = 8, r->plan.level = 0.95;
  r->plan.repeats = 2, r->plan.trials = 3, r->plan.tp_degree = 1;
  r->complete = 1;
}

// What the JSON plan and the text header say of the setting.
static void check_reports(const lj_profile_result *r, const char *want) {
  char *s = render(r, 1);
  json_error_t err;
  json_t *doc = json_loads(s, 0, &err);
  free(s);
  assert_non_null(doc);
  assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "plan"), "gemv")), want);
  json_decref(doc);
  char *text = render(r, 0), head[160];
  snprintf(head, sizeof head, ", device 0, fusion none, gemv %s\n", want);
  char *nl = strchr(text, '\n');
  assert_non_null(nl);
  assert_non_null(strstr(text, head));
  assert_true(strstr(text, head) + strlen(head) == nl + 1);  // on the first line
  free(text);
}

// A profile of setting gemv written to a new store at path (in dir) and read back as want.
static void stored(char *dir, char *path, size_t cap, const char *gemv, const char *want) {
  scratch_store_tmp(dir, "lj_test_gemv_plan", path, cap, "t.db");
  lj_profile_result w, g;
  make(&w, gemv);
  check_reports(&w, want);
  lj_store_close(store_round_trip(path, &w, &g));
  assert_string_equal(g.plan.gemv, want);
  assert_string_equal(g.plan.fusion, "none");
  assert_string_equal(g.plan.engine, "cuda");
  check_reports(&g, want);
  lj_profile_result_free(&g);
  lj_profile_result_free(&w);
}

static void test_round_trip(void **state) {
  (void)state;
  char dir[200], path[256];
  stored(dir, path, sizeof path, "r4u2", "r4u2");
  scratch_remove(dir);
  // a record without the field (made before it existed) is stored as what ran: the defaults
  stored(dir, path, sizeof path, "", "defaults");
  scratch_remove(dir);
}

// A version-20 file: its run reads as the defaults (the only setting profile ran before the
// option), as the file is and after the upgrade adds the column.
static void test_version_20(void **state) {
  (void)state;
  char dir[200], path[256];
  stored(dir, path, sizeof path, "r4u2", "r4u2");  // then its column dropped: what the row said is gone
  lj_profile_result g;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  drop_added_columns(db, lj_store_schema_v21);
  mark_version(db, 20);
  sqlite3_close(db);
  for (int upgrade = 0; upgrade < 2; upgrade++) {
    lj_store *st;
    assert_int_equal(upgrade ? lj_store_open(path, &st) : lj_store_open_readonly(path, &st), 0);
    if (lj_store_read_profile(st, 1, &g) < 0) fail_msg("%s", lj_error_message());
    lj_store_close(st);
    assert_string_equal(g.plan.gemv, "defaults");
    check_reports(&g, "defaults");
    lj_profile_result_free(&g);
  }
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  const char *sql = "SELECT (SELECT user_version FROM pragma_user_version), gemv FROM profile_plans";
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_STORE_SCHEMA_VERSION);
  assert_string_equal((const char *)sqlite3_column_text(q, 1), "defaults");
  sqlite3_finalize(q);
  sqlite3_close(db);
  scratch_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_version_20)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
