// A store file as an older llamajoule wrote it, for the upgrade tests: the schema's statements up
// to `version`, its pragmas and meta rows, no runs. Include after cmocka.h and sqlite3.h.
#pragma once
#include <stdio.h>

#include "store/store_schema.h"

static void write_old_store(const char *path, int version) {
  static const struct {
    int version;
    const char *sql;
  } parts[] = {{1, lj_store_schema_v1}, {2, lj_store_schema_v2}, {3, lj_store_schema_v3},
               {4, lj_store_schema_v4}, {5, lj_store_schema_v5}, {6, lj_store_schema_v6},
               {6, lj_store_schema_v6_sources}, {7, lj_store_schema_v7}, {8, lj_store_schema_v8},
               {9, lj_store_schema_v9}, {10, lj_store_schema_v10}, {11, lj_store_schema_v11}};
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
