// Studies in the store (store_study.h; tables `studies` and `study_points`,
// docs/store.md).
#include "store/store_study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/store_internal.h"

static const char *const kStatus[LJ_POINT_STATUS_COUNT] = {"pending", "incomplete", "done", "skipped", "failed"};

const char *lj_point_status_name(int status) {
  return status >= 0 && status < LJ_POINT_STATUS_COUNT ? kStatus[status] : "unknown";
}

int lj_point_status_parse(const char *name) {
  for (int i = 0; name && i < LJ_POINT_STATUS_COUNT; i++)
    if (!strcmp(name, kStatus[i])) return i;
  return -1;
}

static void bind_real(sqlite3_stmt *stmt, int col, double x) {
  if (isnan(x)) sqlite3_bind_null(stmt, col);  // not measured
  else sqlite3_bind_double(stmt, col, x);
}

static double column_real(sqlite3_stmt *stmt, int col) {
  return sqlite3_column_type(stmt, col) == SQLITE_NULL ? NAN : sqlite3_column_double(stmt, col);
}

static int write_point(lj_store *st, int64_t study_id, size_t index, const lj_study_point *p, const char *what) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT OR REPLACE INTO study_points(study_id, point, model, batch, prompt_len, gen_len,"
                          " stages, status, reason, run_id, attempts, seconds, estimate_s, updated_wall_ns)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                          &stmt, what));
  sqlite3_bind_int64(stmt, 1, study_id);
  sqlite3_bind_int64(stmt, 2, (sqlite3_int64)index);
  sqlite3_bind_text(stmt, 3, p->model, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(stmt, 4, p->batch);
  sqlite3_bind_int(stmt, 5, p->prompt_len);
  sqlite3_bind_int(stmt, 6, p->gen_len);
  sqlite3_bind_int(stmt, 7, p->stages);
  sqlite3_bind_text(stmt, 8, lj_point_status_name(p->status), -1, SQLITE_STATIC);
  sqlite3_bind_text(stmt, 9, p->reason, -1, SQLITE_TRANSIENT);
  if (p->run_id > 0) sqlite3_bind_int64(stmt, 10, p->run_id);
  else sqlite3_bind_null(stmt, 10);
  sqlite3_bind_int(stmt, 11, p->attempts);
  bind_real(stmt, 12, p->seconds);
  bind_real(stmt, 13, p->estimate_s);
  sqlite3_bind_int64(stmt, 14, lj_wall_ns());
  return lj_store_step_once(st, stmt, what);
}

static int read_point(sqlite3_stmt *q, lj_study_point *p) {
  memset(p, 0, sizeof *p);
  lj_store_column_text(q, 0, p->model, sizeof p->model);
  p->batch = sqlite3_column_int(q, 1);
  p->prompt_len = sqlite3_column_int(q, 2);
  p->gen_len = sqlite3_column_int(q, 3);
  p->stages = sqlite3_column_int(q, 4);
  char status[32];
  lj_store_column_text(q, 5, status, sizeof status);
  p->status = lj_point_status_parse(status);
  lj_store_column_text(q, 6, p->reason, sizeof p->reason);
  p->run_id = sqlite3_column_int64(q, 7);
  p->attempts = sqlite3_column_int(q, 8);
  p->seconds = column_real(q, 9);
  p->estimate_s = column_real(q, 10);
  return p->status < 0 ? -1 : 0;
}

#define POINT_COLUMNS "model, batch, prompt_len, gen_len, stages, status, reason, run_id, attempts, seconds, estimate_s"

// The study's points into `points` (n of them expected when `expect`, else counted).
static int read_points(lj_store *st, int64_t study_id, lj_study_point *points, size_t cap, size_t *n) {
  sqlite3_stmt *q;
  LJ_TRY(lj_store_prepare(st, "SELECT " POINT_COLUMNS " FROM study_points WHERE study_id = ? ORDER BY point", &q,
                          "reading the study's points"));
  sqlite3_bind_int64(q, 1, study_id);
  size_t i = 0;
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (i < cap && read_point(q, &points[i]) < 0) {
      sqlite3_finalize(q);
      return LJ_FAIL(LJ_EINVAL, "store '%s': study %lld: point %zu has an unknown status", st->path,
                     (long long)study_id, i);
    }
    i++;
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return lj_sqlite_fail(st->db, st->path, rc, "reading the study's points", __FILE__, __LINE__);
  *n = i;
  return 0;
}

static int find_study(lj_store *st, lj_study *s, int by_arguments, int *found) {
  sqlite3_stmt *q;
  *found = 0;
  LJ_TRY(lj_store_prepare(st,
                          by_arguments ? "SELECT id, name, arguments, engine, command_line, created_wall_ns FROM studies"
                                         " WHERE arguments = ?"
                                       : "SELECT id, name, arguments, engine, command_line, created_wall_ns FROM studies"
                                         " ORDER BY id LIMIT 1",
                          &q, "reading the study"));
  if (by_arguments) sqlite3_bind_text(q, 1, s->arguments, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    *found = 1;
    s->id = sqlite3_column_int64(q, 0);
    lj_store_column_text(q, 1, s->name, sizeof s->name);
    lj_store_column_text(q, 2, s->arguments, sizeof s->arguments);
    lj_store_column_text(q, 3, s->engine, sizeof s->engine);
    lj_store_column_text(q, 4, s->command_line, sizeof s->command_line);
    s->created_wall_ns = sqlite3_column_int64(q, 5);
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return lj_sqlite_fail(st->db, st->path, rc, "reading the study", __FILE__, __LINE__);
  return 0;
}

static int begin_locked(lj_store *st, lj_study *s, lj_study_point *points, size_t n, int *resumed) {
  const char *what = "writing the study";
  int found = 0;
  LJ_TRY(find_study(st, s, 1, &found));
  if (found) {
    size_t got = 0;
    lj_study_point *old = calloc(n ? n : 1, sizeof *old);
    if (!old) return LJ_FAIL(LJ_ENOMEM, "store '%s': out of memory", st->path);
    int rc = read_points(st, s->id, old, n, &got);
    if (rc == 0 && got != n)
      rc = LJ_FAIL(LJ_EINVAL, "store '%s': study '%s' holds %zu points, its arguments give %zu", st->path, s->name, got, n);
    for (size_t i = 0; rc == 0 && i < n; i++) points[i] = old[i];
    free(old);
    *resumed = 1;
    return rc;
  }
  lj_study other;
  memset(&other, 0, sizeof other);
  LJ_TRY(find_study(st, &other, 0, &found));
  if (found)
    return LJ_FAIL(LJ_EINVAL,
                   "store '%s' holds study '%s' of other arguments (%s; now: %s): resume it with the same "
                   "arguments, or use another file",
                   st->path, other.name, other.arguments, s->arguments);
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT INTO studies(name, arguments, engine, command_line, created_wall_ns, updated_wall_ns)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                          &stmt, what));
  s->created_wall_ns = lj_wall_ns();
  sqlite3_bind_text(stmt, 1, s->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, s->arguments, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 3, s->engine, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 4, s->command_line, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 5, s->created_wall_ns);
  LJ_TRY(lj_store_step_once(st, stmt, what));
  s->id = sqlite3_last_insert_rowid(st->db);
  for (size_t i = 0; i < n; i++) {
    points[i].status = LJ_POINT_PENDING, points[i].reason[0] = '\0', points[i].run_id = 0, points[i].attempts = 0;
    points[i].seconds = points[i].estimate_s = NAN;
    LJ_TRY(write_point(st, s->id, i, &points[i], what));
  }
  *resumed = 0;
  return 0;
}

static int check_writable(lj_store *st, const char *what) {
  if (st->readonly) return LJ_FAIL(LJ_EINVAL, "store '%s': opened for reading only: cannot %s", st->path, what);
  if (st->version < 4)
    return LJ_FAIL(LJ_EINVAL, "store '%s': schema version %d has no study tables", st->path, st->version);
  return 0;
}

int lj_store_study_begin(lj_store *st, lj_study *s, lj_study_point *points, size_t n, int *resumed) {
  LJ_TRY(check_writable(st, "write a study"));
  pthread_mutex_lock(&st->txn);
  int rc = lj_store_exec(st, "BEGIN IMMEDIATE", "writing the study");
  if (rc == 0) rc = begin_locked(st, s, points, n, resumed);
  if (rc == 0) rc = lj_store_exec(st, "COMMIT", "writing the study");
  if (rc < 0 && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  pthread_mutex_unlock(&st->txn);
  return rc;
}

int lj_store_study_set_point(lj_store *st, int64_t study_id, size_t index, const lj_study_point *p) {
  LJ_TRY(check_writable(st, "write a study point"));
  char what[96];
  snprintf(what, sizeof what, "writing point %zu of study %lld", index, (long long)study_id);
  pthread_mutex_lock(&st->txn);
  int rc = lj_store_exec(st, "BEGIN IMMEDIATE", what);
  if (rc == 0) rc = write_point(st, study_id, index, p, what);
  if (rc == 0) {
    sqlite3_stmt *stmt;
    rc = lj_store_prepare(st, "UPDATE studies SET updated_wall_ns = ?1 WHERE id = ?2", &stmt, what);
    if (rc == 0) {
      sqlite3_bind_int64(stmt, 1, lj_wall_ns());
      sqlite3_bind_int64(stmt, 2, study_id);
      rc = lj_store_step_once(st, stmt, what);
    }
  }
  if (rc == 0) rc = lj_store_exec(st, "COMMIT", what);
  if (rc < 0 && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  pthread_mutex_unlock(&st->txn);
  return rc;
}

int lj_store_study_read(lj_store *st, lj_study *s, lj_study_point **points, size_t *n) {
  *points = NULL, *n = 0;
  memset(s, 0, sizeof *s);
  if (st->version < 4) return 0;
  int found = 0;
  LJ_TRY(find_study(st, s, 0, &found));
  if (!found) return 0;
  size_t count = 0;
  LJ_TRY(read_points(st, s->id, NULL, 0, &count));
  lj_study_point *p = calloc(count ? count : 1, sizeof *p);
  if (!p) return LJ_FAIL(LJ_ENOMEM, "store '%s': out of memory", st->path);
  size_t got = 0;
  int rc = read_points(st, s->id, p, count, &got);
  if (rc < 0) {
    free(p);
    return rc;
  }
  *points = p, *n = got < count ? got : count;
  return 1;
}
