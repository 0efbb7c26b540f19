// Version 14's rebuild of the per-rank tables: tp_rank joins each one's primary key. The
// table's own CREATE statement (as SQLite keeps it, with the columns added since) gets the
// column tp_rank last and tp_rank after run_id in its key; an empty table (every table of a
// fresh file) is dropped and created again from it, one with rows is renamed and its rows
// copied over (rank 0). The rebuilt table is the same in a fresh file and an upgraded one.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_schema.h"

#define KEY_HEAD "PRIMARY KEY(run_id, "
#define RANK_COLUMN "tp_rank INTEGER NOT NULL DEFAULT 0,\n  "

// The table's CREATE statement keyed by rank, malloc'd, and whether it holds rows; NULL with
// the error set.
static char *keyed_by_rank(lj_store *st, const char *table, const char *what, int *has_rows) {
  sqlite3_stmt *q;
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT (SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '%s'),"
                            " EXISTS (SELECT 1 FROM %s)", table, table);
  if (lj_store_prepare(st, sql, &q, what) < 0) return NULL;
  int rc = sqlite3_step(q);
  const char *create = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
  *has_rows = rc == SQLITE_ROW && sqlite3_column_int(q, 1);
  const char *key = create ? strstr(create, KEY_HEAD) : NULL;
  char *out = NULL;
  if (!key || strstr(key + 1, KEY_HEAD)) {
    LJ_FAIL(LJ_ESTORE, "store '%s': %s: table %s has no single key that begins with run_id", st->path, what, table);
  } else {
    size_t head = (size_t)(key - create), n = strlen(create) + sizeof RANK_COLUMN + 16;
    out = malloc(n);
    if (out)
      snprintf(out, n, "%.*s" RANK_COLUMN KEY_HEAD "tp_rank, %s", (int)head, create, key + strlen(KEY_HEAD));
    else
      LJ_FAIL(LJ_ENOMEM, "store '%s': %s: out of memory", st->path, what);
  }
  sqlite3_finalize(q);
  return out;
}

int lj_store_key_by_rank(lj_store *st, const char *what) {
  for (int i = 0; i < lj_store_n_tp_rank_tables; i++) {
    const char *t = lj_store_tp_rank_tables[i];
    int has_rows = 0;
    char *create = keyed_by_rank(st, t, what, &has_rows);
    if (!create) return LJ_ESTORE;
    char sql[512];
    if (has_rows) snprintf(sql, sizeof sql, "ALTER TABLE %s RENAME TO %s_v13;", t, t);
    else snprintf(sql, sizeof sql, "DROP TABLE %s;", t);
    int rc = lj_store_exec(st, sql, what);
    if (rc == 0) rc = lj_store_exec(st, create, what);
    free(create);
    snprintf(sql, sizeof sql, "INSERT INTO %s SELECT *, 0 FROM %s_v13; DROP TABLE %s_v13;", t, t, t);
    if (rc == 0 && has_rows) rc = lj_store_exec(st, sql, what);
    LJ_TRY(rc);
  }
  return 0;
}
