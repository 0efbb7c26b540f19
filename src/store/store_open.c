// Opening a store: create the schema in a new file, or check that an
// existing file is a llamajoule store of a schema version this build reads
// (upgrading a file of an older version opened for writing).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.h"
#include "common/clock.h"
#include "store/store_internal.h"
#include "store/store_schema.h"

int lj_store_exec(lj_store *st, const char *sql, const char *what) {
  SQLITE_CHECK(st, sqlite3_exec(st->db, sql, NULL, NULL, NULL), what);
  return 0;
}

int lj_store_prepare(lj_store *st, const char *sql, sqlite3_stmt **out, const char *what) {
  SQLITE_CHECK(st, sqlite3_prepare_v2(st->db, sql, -1, out, NULL), what);
  return 0;
}

int lj_store_write_txn(lj_store *st, const char *what, int (*write)(lj_store *st, void *ctx), void *ctx) {
  pthread_mutex_lock(&st->txn);
  int rc = lj_store_exec(st, "BEGIN IMMEDIATE", what);
  if (rc == 0) rc = write(st, ctx);
  if (rc == 0) rc = lj_store_exec(st, "COMMIT", what);
  // Keep the first error's message: the rollback's own result does not matter.
  if (rc < 0 && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  pthread_mutex_unlock(&st->txn);
  return rc;
}

int lj_store_step_once(lj_store *st, sqlite3_stmt *stmt, const char *what) {
  int rc = sqlite3_step(stmt);
  int fail = rc != SQLITE_DONE && rc != SQLITE_ROW;
  int status = fail ? lj_sqlite_fail(st->db, st->path, rc, what, __FILE__, __LINE__) : 0;
  sqlite3_finalize(stmt);
  return status;
}

int lj_store_bind_text(sqlite3_stmt *stmt, int col, const char *s) {
  return s ? sqlite3_bind_text(stmt, col, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(stmt, col);
}

void lj_store_column_text(sqlite3_stmt *stmt, int col, char *buf, size_t cap) {
  const unsigned char *t = sqlite3_column_text(stmt, col);
  snprintf(buf, cap, "%s", t ? (const char *)t : "");
}

// One integer from a query such as "PRAGMA user_version".
static int query_int(lj_store *st, const char *sql, int64_t *out, const char *what) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, sql, &stmt, what));
  int rc = sqlite3_step(stmt);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  int status = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0
                                                       : lj_sqlite_fail(st->db, st->path, rc, what, __FILE__, __LINE__);
  sqlite3_finalize(stmt);
  return status;
}

int lj_store_has_table(lj_store *st, const char *name, int *out) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", &stmt,
                          "reading the schema"));
  sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  *out = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) > 0;
  int status = rc == SQLITE_ROW ? 0 : lj_sqlite_fail(st->db, st->path, rc, "reading the schema", __FILE__, __LINE__);
  sqlite3_finalize(stmt);
  return status;
}

// The parts of the schema after `version` (store_schema.h): what a file of that
// version lacks, and for version 1 everything after the version-1 tables.
static int add_schema_parts(lj_store *st, int64_t version, const char *what) {
  if (version < 2) LJ_TRY(lj_store_exec(st, lj_store_schema_v2, what));
  if (version < 3) LJ_TRY(lj_store_exec(st, lj_store_schema_v3, what));
  if (version < 4) LJ_TRY(lj_store_exec(st, lj_store_schema_v4, what));
  if (version < 5) LJ_TRY(lj_store_exec(st, lj_store_schema_v5, what));
  if (version < 6) LJ_TRY(lj_store_exec(st, lj_store_schema_v6, what));
  if (version < 6) LJ_TRY(lj_store_exec(st, lj_store_schema_v6_sources, what));
  if (version < 7) LJ_TRY(lj_store_exec(st, lj_store_schema_v7, what));
  if (version < 8) LJ_TRY(lj_store_exec(st, lj_store_schema_v8, what));
  if (version < 9) LJ_TRY(lj_store_exec(st, lj_store_schema_v9, what));
  if (version < 10) LJ_TRY(lj_store_exec(st, lj_store_schema_v10, what));
  if (version < 11) LJ_TRY(lj_store_exec(st, lj_store_schema_v11, what));
  if (version < 12) LJ_TRY(lj_store_exec(st, lj_store_schema_v12, what));
  if (version < 13) LJ_TRY(lj_store_exec(st, lj_store_schema_v13, what));
  if (version < 14) LJ_TRY(lj_store_exec(st, lj_store_schema_v14, what));
  if (version < 14) LJ_TRY(lj_store_key_by_rank(st, what));
  if (version < 15) LJ_TRY(lj_store_exec(st, lj_store_schema_v15, what));
  if (version < 16) LJ_TRY(lj_store_exec(st, lj_store_schema_v16, what));
  if (version < 17) LJ_TRY(lj_store_exec(st, lj_store_schema_v17, what));
  if (version < 18) LJ_TRY(lj_store_exec(st, lj_store_schema_v18, what));
  if (version < 19) LJ_TRY(lj_store_exec(st, lj_store_schema_v19, what));
  if (version < 20) LJ_TRY(lj_store_exec(st, lj_store_schema_v20, what));
  if (version < 21) LJ_TRY(lj_store_exec(st, lj_store_schema_v21, what));
  if (version < 22) LJ_TRY(lj_store_exec(st, lj_store_schema_v22, what));
  return 0;
}

static int create_schema(lj_store *st) {
  LJ_TRY(lj_store_exec(st, "BEGIN IMMEDIATE", "creating the schema"));
  // Another process may have created it between our check and the lock.
  int64_t n_tables = 0;
  int rc = query_int(st, "SELECT count(*) FROM sqlite_master", &n_tables, "creating the schema");
  if (rc == 0 && n_tables == 0) {
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;", LJ_STORE_APPLICATION_ID,
             LJ_STORE_SCHEMA_VERSION);
    rc = lj_store_exec(st, sql, "creating the schema");
    if (rc == 0) rc = lj_store_exec(st, lj_store_schema_v1, "creating the schema");
    if (rc == 0) rc = add_schema_parts(st, 1, "creating the schema");
    sqlite3_stmt *stmt = NULL;
    if (rc == 0) rc = lj_store_prepare(st, "INSERT INTO meta(key, value) VALUES (?, ?)", &stmt, "writing meta");
    char version[16], created[32];
    snprintf(version, sizeof version, "%d", LJ_STORE_SCHEMA_VERSION);
    snprintf(created, sizeof created, "%lld", (long long)lj_wall_ns());
    const char *meta[][2] = {{"application", "llamajoule"},
                             {"schema_version", version},
                             {"created_by", "llamajoule " LJ_VERSION},
                             {"created_wall_ns", created}};
    for (size_t i = 0; rc == 0 && i < sizeof meta / sizeof meta[0]; i++) {
      sqlite3_reset(stmt);
      sqlite3_bind_text(stmt, 1, meta[i][0], -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 2, meta[i][1], -1, SQLITE_STATIC);
      int s = sqlite3_step(stmt);
      if (s != SQLITE_DONE) rc = lj_sqlite_fail(st->db, st->path, s, "writing meta", __FILE__, __LINE__);
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    // The reading names, so the file explains its own `samples.reading` codes.
    if (rc == 0) rc = lj_store_prepare(st, "INSERT INTO readings(id, name, unit) VALUES (?, ?, ?)", &stmt,
                                       "writing reading names");
    for (int r = 0; rc == 0 && r < LJ_READING_COUNT; r++) {
      sqlite3_reset(stmt);
      sqlite3_bind_int(stmt, 1, r);
      sqlite3_bind_text(stmt, 2, lj_reading_name((lj_reading)r), -1, SQLITE_STATIC);
      sqlite3_bind_text(stmt, 3, lj_reading_unit((lj_reading)r), -1, SQLITE_STATIC);
      int s = sqlite3_step(stmt);
      if (s != SQLITE_DONE) rc = lj_sqlite_fail(st->db, st->path, s, "writing reading names", __FILE__, __LINE__);
    }
    sqlite3_finalize(stmt);
  }
  if (rc == 0) return lj_store_exec(st, "COMMIT", "creating the schema");
  sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

// A file that exists: is it ours, and of a version we read? Older versions
// are read as they are and upgraded when writable.
static int check_schema(lj_store *st) {
  int64_t app_id = 0, version = 0;
  LJ_TRY(query_int(st, "PRAGMA application_id", &app_id, "reading the schema version"));
  LJ_TRY(query_int(st, "PRAGMA user_version", &version, "reading the schema version"));
  if (app_id != LJ_STORE_APPLICATION_ID)
    return LJ_FAIL(LJ_EINVAL, "'%s' is an SQLite file but not a llamajoule store (application_id %lld, expected %d)",
                   st->path, (long long)app_id, LJ_STORE_APPLICATION_ID);
  if (version < 1 || version > LJ_STORE_SCHEMA_VERSION)
    return LJ_FAIL(LJ_EINVAL,
                   "'%s' has store schema version %lld; this llamajoule (%s) reads schema version %d"
                   " (and upgrades schema versions 1 to %d when it opens the file for writing)",
                   st->path, (long long)version, LJ_VERSION, LJ_STORE_SCHEMA_VERSION, LJ_STORE_SCHEMA_VERSION - 1);
  st->version = (int)version;
  return 0;
}

// Adds the parts of the schema the file lacks, in one transaction, taking the
// version again under the lock (another process may have upgraded the file
// first, wholly or by one version). The meta table records the upgrade.
static int upgrade_schema(lj_store *st) {
  char what[96];
  snprintf(what, sizeof what, "upgrading the store schema from version %d to %d", st->version,
           LJ_STORE_SCHEMA_VERSION);
  LJ_TRY(lj_store_exec(st, "BEGIN IMMEDIATE", what));
  int64_t version = 0;
  int rc = query_int(st, "PRAGMA user_version", &version, what);
  int upgrade = rc == 0 && version >= 1 && version < LJ_STORE_SCHEMA_VERSION;
  if (upgrade) {
    rc = add_schema_parts(st, version, what);
    char sql[512];
    snprintf(sql, sizeof sql,
             "PRAGMA user_version = %d;"
             " INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '%d'), ('upgraded_from', '%lld'),"
             " ('upgraded_by', 'llamajoule %s'), ('upgraded_wall_ns', '%lld');",
             LJ_STORE_SCHEMA_VERSION, LJ_STORE_SCHEMA_VERSION, (long long)version, LJ_VERSION,
             (long long)lj_wall_ns());
    if (rc == 0) rc = lj_store_exec(st, sql, what);
  } else if (rc == 0 && version != LJ_STORE_SCHEMA_VERSION) {
    rc = LJ_FAIL(LJ_EINVAL, "'%s' changed to store schema version %lld while being opened", st->path,
                 (long long)version);
  }
  if (rc == 0) rc = lj_store_exec(st, "COMMIT", what);
  if (rc < 0) {
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  if (upgrade)
    lj_info("store '%s': upgraded from schema version %lld to %d", st->path, (long long)version,
            LJ_STORE_SCHEMA_VERSION);
  st->version = LJ_STORE_SCHEMA_VERSION;
  return 0;
}

// The directory holding `path` ("." for a bare name), written into dir.
static const char *parent_dir(const char *path, char *dir, size_t cap) {
  snprintf(dir, cap, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, cap, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  return dir;
}

static int open_failed(lj_store *st, int rc, const char *what) {
  int err = st->db ? sqlite3_system_errno(st->db) : 0;
  // SQLite's last errno is that of a later probe (ENOENT) rather than the
  // create's own: where the directory refuses writing, say why.
  char dir[1024];
  if (!strcmp(what, "cannot create") && access(parent_dir(st->path, dir, sizeof dir), W_OK) != 0) err = errno;
  if (err)
    return LJ_FAIL(LJ_EIO, "store '%s': %s: %s", st->path, what, strerror(err));
  return lj_sqlite_fail(st->db, st->path, rc, what, __FILE__, __LINE__);
}

// Can SQLite write beside `path` (the -wal and -shm files)?
static int writable_with_dir(const char *path) {
  char dir[1024];
  return access(path, W_OK) == 0 && access(parent_dir(path, dir, sizeof dir), W_OK) == 0;
}

static int side_file_exists(const char *path, const char *suffix) {
  char side[1100];
  snprintf(side, sizeof side, "%s%s", path, suffix);
  return access(side, F_OK) == 0;
}

// Opens `path` on a connection that cannot write it. With no -wal or -journal
// beside the file no writer is in the middle of anything, so it is opened
// immutable: no locks and no -shm, which a reader without write access to the
// directory could not create, and nothing at all created beside a file that
// may not be ours. Otherwise read-only, to see what the -wal holds.
static int open_readonly_conn(lj_store *st) {
  int immutable = !side_file_exists(st->path, "-wal") && !side_file_exists(st->path, "-journal");
  char uri[3200];
  size_t used = (size_t)snprintf(uri, sizeof uri, "file:%s", st->path[0] == '/' ? "//" : "");
  for (const char *c = st->path; *c && used + 4 < sizeof uri; c++) {
    if (*c == '%' || *c == '?' || *c == '#') used += (size_t)snprintf(uri + used, sizeof uri - used, "%%%02X", *c);
    else uri[used++] = *c;
  }
  snprintf(uri + used, sizeof uri - used, "?%s", immutable ? "immutable=1" : "mode=ro");
  return sqlite3_open_v2(uri, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX, NULL);
}

// The tables in the file: its first read, so open errors surface here too.
static int count_tables(lj_store *st, int exists, int64_t *n_tables) {
  int rc = query_int(st, "SELECT count(*) FROM sqlite_master", n_tables, exists ? "reading" : "creating");
  // SQLite only touches the file here: map "cannot create" to errno's reason.
  if (rc < 0 && lj_exit_code(rc) != LJ_EXIT_BAD_INPUT) rc = open_failed(st, rc, exists ? "cannot read" : "cannot create");
  return rc;
}

// Before a writer changes anything: is the existing, non-empty file a store
// of a version this build reads? Checked on a connection that cannot write,
// so a file that is not ours is refused exactly as it was.
static int check_before_writing(lj_store *st) {
  int rc = open_readonly_conn(st);
  if (rc != SQLITE_OK) {
    rc = open_failed(st, rc, "cannot open");
  } else {
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    int64_t n_tables = 0;
    rc = count_tables(st, 1, &n_tables);
    if (rc == 0) rc = check_schema(st);
  }
  sqlite3_close_v2(st->db);
  st->db = NULL;
  return rc;
}

static int open_store(const char *path, int readonly, lj_store **out) {
  *out = NULL;
  if (!path || !*path) return LJ_FAIL(LJ_EINVAL, "store: empty file name");
  struct stat sb;
  int exists = stat(path, &sb) == 0;
  if (readonly && !exists)
    return LJ_FAIL(LJ_EIO, "store '%s': cannot open: %s", path, strerror(errno));
  // Bad input, as for every input file that is not a regular file (common/input_file.c): exit 3.
  if (exists && !S_ISREG(sb.st_mode))
    return LJ_FAIL(LJ_EINVAL, "store '%s': %s", path,
                   S_ISDIR(sb.st_mode) ? "is a directory, not a file" : "not a regular file (a FIFO, socket or device)");
  lj_store *st = calloc(1, sizeof *st);
  if (!st) return LJ_FAIL(LJ_ENOMEM, "store '%s': out of memory", path);
  snprintf(st->path, sizeof st->path, "%s", path);
  st->readonly = readonly;
  pthread_mutex_init(&st->txn, NULL);

  int rc = 0;
  // Only a new or zero-length file may become a store: anything else must already be one.
  if (!readonly && exists && sb.st_size > 0 && (rc = check_before_writing(st)) < 0) goto fail;
  // A snapshot reader (readonly 2: reports) never writes, not even a checkpoint; a reader
  // that cannot write the file or its directory can make no -shm, or it would not be ours.
  if (readonly == 2 || (readonly && !writable_with_dir(path))) {
    rc = open_readonly_conn(st);
  } else {
    // Reading only: still open read-write where possible (never creating), so
    // the last connection checkpoints and removes the -wal and -shm files.
    int flags = readonly ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_FULLMUTEX, NULL);
  }
  if (rc != SQLITE_OK) {
    rc = open_failed(st, rc, exists ? "cannot open" : "cannot create");
    goto fail;
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, 5000);
  if (!readonly && sqlite3_db_readonly(st->db, "main") == 1) {
    rc = LJ_FAIL(LJ_EIO, "store '%s': the file is not writable", path);
    goto fail;
  }
  int64_t n_tables = 0;
  if ((rc = count_tables(st, exists, &n_tables)) < 0) goto fail;
  if (readonly && n_tables == 0) {
    rc = LJ_FAIL(LJ_EINVAL, "'%s' is not a llamajoule store (empty database)", path);
    goto fail;
  }
  if (!readonly) {
    if ((rc = lj_store_exec(st, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "setting pragmas")) < 0)
      goto fail;
    // The schema is made in one transaction before the switch to WAL: a writer
    // killed while making it leaves a zero-length file, which may become a store.
    if (n_tables == 0 && (rc = create_schema(st)) < 0) goto fail;
  }
  // Checked again here: the file may have changed since check_before_writing.
  if ((rc = check_schema(st)) < 0) goto fail;
  if (!readonly) {
    // WAL: readers never block the sampler's writer, and a killed writer
    // leaves every committed transaction intact. NORMAL sync is enough for
    // that (only a power cut can lose the last transactions).
    sqlite3_stmt *stmt;
    if ((rc = lj_store_prepare(st, "PRAGMA journal_mode = WAL", &stmt, "switching to WAL")) < 0) goto fail;
    int s = sqlite3_step(stmt);
    const unsigned char *mode = s == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
    int wal = mode && !strcmp((const char *)mode, "wal");
    sqlite3_finalize(stmt);
    if (!wal) {
      rc = open_failed(st, s == SQLITE_ROW ? SQLITE_CANTOPEN : s, "cannot switch to WAL mode");
      goto fail;
    }
    if (st->version < LJ_STORE_SCHEMA_VERSION && (rc = upgrade_schema(st)) < 0) goto fail;
  }
  *out = st;
  return 0;
fail:
  lj_store_close(st);
  return rc;
}

int lj_store_open(const char *path, lj_store **out) { return open_store(path, 0, out); }
int lj_store_open_readonly(const char *path, lj_store **out) { return open_store(path, 1, out); }
int lj_store_open_untouched(const char *path, lj_store **out) { return open_store(path, 2, out); }

void lj_store_close(lj_store *st) {
  if (!st) return;
  sqlite3_finalize(st->insert_sample);
  sqlite3_close_v2(st->db);
  pthread_mutex_destroy(&st->txn);
  free(st);
}

const char *lj_store_path(const lj_store *st) { return st->path; }
