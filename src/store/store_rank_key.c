// Version 14's rebuild of the per-rank tables: tp_rank joins each one's primary key. The
// table's own CREATE statement (as SQLite keeps it, with the columns added since) is
// rewritten with tp_rank after run_id in its key, and the rows are copied over, so the
// rebuilt table is the same in a fresh file and in an upgraded one.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_schema.h"

#define KEY_HEAD "PRIMARY KEY(run_id, "

// The table's CREATE statement with tp_rank in its key, malloc'd; NULL with the error set.
static char *keyed_by_rank(lj_store *st, const char *table, const char *what) {
  sqlite3_stmt *q;
  if (lj_store_prepare(st, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", &q, what) < 0)
    return NULL;
  sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
  const char *sql = sqlite3_step(q) == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
  const char *key = sql ? strstr(sql, KEY_HEAD) : NULL;
  char *out = NULL;
  if (!key || strstr(key + 1, KEY_HEAD)) {
    LJ_FAIL(LJ_ESTORE, "store '%s': %s: table %s has no single key that begins with run_id", st->path, what, table);
  } else {
    size_t head = (size_t)(key - sql) + strlen(KEY_HEAD), n = strlen(sql) + 16;
    out = malloc(n);
    if (out) snprintf(out, n, "%.*stp_rank, %s", (int)head, sql, sql + head);
    else LJ_FAIL(LJ_ENOMEM, "store '%s': %s: out of memory", st->path, what);
  }
  sqlite3_finalize(q);
  return out;
}

int lj_store_key_by_rank(lj_store *st, const char *what) {
  for (int i = 0; i < lj_store_n_tp_rank_tables; i++) {
    const char *t = lj_store_tp_rank_tables[i];
    char sql[512];
    snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN tp_rank INTEGER NOT NULL DEFAULT 0;", t);
    LJ_TRY(lj_store_exec(st, sql, what));
    char *create = keyed_by_rank(st, t, what);
    if (!create) return LJ_ESTORE;
    snprintf(sql, sizeof sql, "ALTER TABLE %s RENAME TO %s_v13;", t, t);
    int rc = lj_store_exec(st, sql, what);
    if (rc == 0) rc = lj_store_exec(st, create, what);
    free(create);
    snprintf(sql, sizeof sql, "INSERT INTO %s SELECT * FROM %s_v13; DROP TABLE %s_v13;", t, t, t);
    if (rc == 0) rc = lj_store_exec(st, sql, what);
    LJ_TRY(rc);
  }
  return 0;
}
