#include "store/sqlite_check.h"

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
  const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(sqlite_rc);
  // For I/O failures the OS's reason ("No space left on device") says more.
  int os_errno = db && code == LJ_EIO ? sqlite3_system_errno(db) : 0;
  const char *base = strrchr(src_file, '/');
  base = base ? base + 1 : src_file;
  return lj_fail(code, src_file, src_line, "store '%s': %s: %s%s%s%s (SQLite error %d at %s:%d)", path, what, msg,
                 os_errno ? " (" : "", os_errno ? strerror(os_errno) : "", os_errno ? ")" : "", sqlite_rc, base,
                 src_line);
}
