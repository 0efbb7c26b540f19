// A store file as an older llamajoule wrote it, for the upgrade tests: the schema's statements up
// to `version`, its pragmas and meta rows, no runs. Include after cmocka.h and sqlite3.h.
#pragma once
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "store/store.h"
#include "store/store_schema.h"

static void write_old_store(const char *path, int version) {
  static const struct {
    int version;
    const char *sql;
  } parts[] = {{1, lj_store_schema_v1}, {2, lj_store_schema_v2}, {3, lj_store_schema_v3},
               {4, lj_store_schema_v4}, {5, lj_store_schema_v5}, {6, lj_store_schema_v6},
               {6, lj_store_schema_v6_sources}, {7, lj_store_schema_v7}, {8, lj_store_schema_v8},
               {9, lj_store_schema_v9}, {10, lj_store_schema_v10}, {11, lj_store_schema_v11},
               {12, lj_store_schema_v12}};
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  for (size_t i = 0; i < sizeof parts / sizeof parts[0] && parts[i].version <= version; i++)
    assert_int_equal(sqlite3_exec(db, parts[i].sql, NULL, NULL, NULL), SQLITE_OK);
  char sql[200];
  snprintf(sql, sizeof sql,
           "PRAGMA application_id = %d; PRAGMA user_version = %d;"
           " INSERT INTO meta VALUES ('application', 'llamajoule'), ('schema_version', '%d');",
           LJ_STORE_APPLICATION_ID, version, version);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

// A file at path of an older version without `table` (added since): read as it is, it has no rows
// of it (no error); opened for writing it is upgraded to the current version and has the table, empty.
static inline void check_table_added(const char *path, const char *table) {
  lj_store *st;
  int64_t n = -1;
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  if (lj_store_profile_count(st, 1, table, &n) < 0) fail_msg("%s", lj_error_message());
  assert_int_equal(n, 0);
  lj_store_close(st);
  assert_int_equal(lj_store_open(path, &st), 0);
  assert_int_equal(lj_store_profile_count(st, 1, table, &n), 0);
  assert_int_equal(n, 0);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT (SELECT user_version FROM pragma_user_version),"
                                      " (SELECT count(*) FROM sqlite_master WHERE name = ?)",
                                      -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_STORE_SCHEMA_VERSION);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

// check_table_added on a file of `version` as write_old_store writes it.
static inline void check_table_upgrade(const char *path, int version, const char *table) {
  write_old_store(path, version);
  check_table_added(path, table);
}

// Drops from db every column a schema part adds ("ALTER TABLE t ADD COLUMN c ..."), so that a current
// file reads as one from before that part.
static inline void drop_added_columns(sqlite3 *db, const char *part) {
  char table[64], column[64], sql[200];
  for (const char *at = part; (at = strstr(at, "ALTER TABLE ")) != NULL; at++) {
    if (sscanf(at, "ALTER TABLE %63s ADD COLUMN %63s", table, column) != 2) continue;
    snprintf(sql, sizeof sql, "ALTER TABLE %s DROP COLUMN %s;", table, column);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  }
}

// Undoes version 22 in db: idle_curves as version 10 created it, keyed by run_id alone, with the
// degree-1 runs' rows (before 22 no run of degree > 1 measured a cool-down).
static inline void idle_curves_before_v22(sqlite3 *db) {
  static const char undo[] =
      "ALTER TABLE idle_curves RENAME TO idle_curves_v21;"
      "CREATE TABLE idle_curves AS SELECT run_id, cooldown_s, cool_start_c, cool_end_c, t0_c, idle_at_t0_w,"
      " slope_w_per_c, slope_se_w_per_c, slope_lo_w_per_c, slope_hi_w_per_c, r2, t_min_c, t_max_c, n_bins,"
      " n_samples, used, why_not_used FROM idle_curves_v21 WHERE 0;"
      "DROP TABLE idle_curves;";
  assert_int_equal(sqlite3_exec(db, undo, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, lj_store_schema_v10, NULL, NULL, NULL), SQLITE_OK);
  static const char copy[] =
      "INSERT INTO idle_curves SELECT run_id, cooldown_s, cool_start_c, cool_end_c, t0_c, idle_at_t0_w,"
      " slope_w_per_c, slope_se_w_per_c, slope_lo_w_per_c, slope_hi_w_per_c, r2, t_min_c, t_max_c, n_bins,"
      " n_samples, used, why_not_used FROM idle_curves_v21 WHERE tp_rank = 0 AND run_id NOT IN"
      " (SELECT run_id FROM profile_plans WHERE tp_degree > 1);"
      "DROP TABLE idle_curves_v21;";
  if (sqlite3_exec(db, copy, NULL, NULL, NULL) != SQLITE_OK) fail_msg("%s", sqlite3_errmsg(db));
}

// Marks db as a file of `version` (its pragma and its meta row), after its later parts are dropped
// (version 22's idle curves by rank undone here).
static inline void mark_version(sqlite3 *db, int version) {
  if (version < 22) idle_curves_before_v22(db);
  char sql[160];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d; UPDATE meta SET value = '%d' WHERE key = 'schema_version';",
           version, version);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

// A current file at path made into one of `version` that lacks `table` (added in a version after
// it) and the columns of the versions after it: for the versions write_old_store does not write
// (the per-rank keys of 14 need the store).
static inline void write_store_without(const char *path, int version, const char *table) {
  static const struct {
    int version;
    const char *table;
  } added[] = {{16, "ablation_windows"}, {17, "rank_idle"}};  // the tables of versions after 15
  lj_store *st;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
  sqlite3 *db;
  char sql[400];
  int n = snprintf(sql, sizeof sql, "DROP TABLE %s;", table);
  for (size_t i = 0; i < sizeof added / sizeof added[0]; i++)
    if (added[i].version > version && strcmp(added[i].table, table))
      n += snprintf(sql + n, sizeof sql - (size_t)n, " DROP TABLE %s;", added[i].table);
  snprintf(sql + n, sizeof sql - (size_t)n, " PRAGMA user_version = %d; UPDATE meta SET value = '%d' WHERE key = "
           "'schema_version';", version, version);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  if (version < 15) drop_added_columns(db, lj_store_schema_v15);
  if (version < 18) drop_added_columns(db, lj_store_schema_v18);
  if (version < 19) drop_added_columns(db, lj_store_schema_v19);
  if (version < 20) drop_added_columns(db, lj_store_schema_v20);
  if (version < 22) idle_curves_before_v22(db);
  if (version < 21) drop_added_columns(db, lj_store_schema_v21);
  sqlite3_close(db);
}
