// A store that a failed start left behind (a full disk or a file size limit while
// the schema was made): removed, so that the next run does not find an empty file.
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

// 1 when the file holds a run, or when that cannot be told (it is then kept).
static int holds_run(const char *path) {
  sqlite3 *db = NULL;
  sqlite3_stmt *q = NULL;
  int held = 1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(db,
                         "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs')",
                         -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 1)
    held = 0;  // no table of runs at all: the schema was never made
  sqlite3_finalize(q);
  q = NULL;
  if (held && db && sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM runs)", -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW)
    held = sqlite3_column_int(q, 0);
  sqlite3_finalize(q);
  sqlite3_close_v2(db);
  return held;
}

void lj_store_remove_unused(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_size > 0 && holds_run(path))) return;
  static const char *const kSides[] = {"-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof kSides / sizeof kSides[0]; i++) {
    char side[1100];
    if ((size_t)snprintf(side, sizeof side, "%s%s", path, kSides[i]) < sizeof side) unlink(side);
  }
  unlink(path);
}
