#include "store/sqlite_check.h"

#include <stdio.h>
#include <string.h>

int lj_sqlite_fail(sqlite3 *db, const char *path, int sqlite_rc, const char *what, const char *src_file,
                   int src_line) {
  int primary = sqlite_rc & 0xff;
  int code = (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
              primary == SQLITE_READONLY || primary == SQLITE_PERM)
                 ? LJ_EIO
                 : (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) ? LJ_EINVAL : LJ_ESTORE;
  // sqlite3_errmsg describes the connection's last error; without a
  // connection (open failed before one existed) use the code's text.
  // One line, however SQLite words it (a corrupt schema's message quotes SQL
  // with newlines); long quotes are cut.
  char msg[240];
  snprintf(msg, sizeof msg, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(sqlite_rc));
  for (char *c = msg; *c; c++)
    if ((unsigned char)*c < 0x20) *c = ' ';
  // For I/O failures the OS's reason ("No space left on device") says more.
  int os_errno = db && code == LJ_EIO ? sqlite3_system_errno(db) : 0;
  // The source location is lj_fail's to keep: shown with LLAMAJOULE_DEBUG only, as for every error.
  return lj_fail(code, src_file, src_line, "store '%s': %s: %s%s%s%s (SQLite error %d)", path, what, msg,
                 os_errno ? " (" : "", os_errno ? strerror(os_errno) : "", os_errno ? ")" : "", sqlite_rc);
}
