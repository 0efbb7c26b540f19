// SQLITE_CHECK: run one SQLite call; on failure record which store file, what
// was being done, SQLite's own message and the source file:line, and return
// the lj_status (disk full, I/O, cannot open, read-only: LJ_EIO; else LJ_ESTORE).
#pragma once
#include <sqlite3.h>

#include "common/error.h"

int lj_sqlite_fail(sqlite3 *db, const char *path, int sqlite_rc, const char *what, const char *src_file,
                   int src_line);

// SQLITE_OK, SQLITE_ROW and SQLITE_DONE pass; `st` has members `db` and `path`.
#define SQLITE_CHECK(st, expr, what)                                                        \
  do {                                                                                       \
    int sq_rc_ = (expr);                                                                     \
    if (sq_rc_ != SQLITE_OK && sq_rc_ != SQLITE_DONE && sq_rc_ != SQLITE_ROW)                \
      return lj_sqlite_fail((st)->db, (st)->path, sq_rc_, (what), __FILE__, __LINE__);       \
  } while (0)
