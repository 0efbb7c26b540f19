// A profile's phase window, written as it closes (one small transaction), so
// that a run killed or hung up keeps every window it finished; the profile
// written at the end replaces each with its final values.
#include <math.h>
#include <stdio.h>

#include "store/store_internal.h"

// The windows row of (run, rank, phase, repeat): 1 and its id, or 0 when not stored yet. The
// rank is the store's profile_rank (0 for a degree-1 run).
static int stored_window(lj_store *st, int64_t run_id, const lj_phase_window *w, const char *what, int64_t *id) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "SELECT window_id FROM phase_windows WHERE run_id = ? AND phase = ? AND repeat = ?"
                          " AND tp_rank = ?",
                          &stmt, what));
  sqlite3_bind_int64(stmt, 1, run_id);
  sqlite3_bind_text(stmt, 2, lj_phase_name(w->phase), -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 3, w->repeat);
  sqlite3_bind_int(stmt, 4, st->profile_rank);
  int rc = sqlite3_step(stmt);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return lj_sqlite_fail(st->db, st->path, rc, what, __FILE__, __LINE__);
  return rc == SQLITE_ROW;
}

int lj_store_upsert_phase_window(lj_store *st, int64_t run_id, const lj_phase_window *w, size_t i) {
  char what[128];
  snprintf(what, sizeof what, "writing the profile of run %lld to table phase_windows", (long long)run_id);
  if ((unsigned)w->phase >= LJ_PHASE_COUNT)
    return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table phase_windows, row %zu: phase %d out of range",
                   st->path, (long long)run_id, i, (int)w->phase);
  int64_t old_id = 0, window_id = 0;
  int stored = stored_window(st, run_id, w, what, &old_id);
  if (stored < 0) return stored;
  int rc = lj_store_add_window(st, run_id, &w->w, 0, &window_id);
  if (rc < 0) return lj_fail_context(rc, "writing the profile of run %lld to table windows", (long long)run_id);
  // A stored window is re-pointed to the new row before its old row goes (phase_windows references it).
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          stored ? "UPDATE phase_windows SET window_id = ?4, units = ?5, tokens_per_unit = ?6,"
                                   " host_s = ?7 WHERE run_id = ?1 AND phase = ?2 AND repeat = ?3 AND tp_rank = ?8"
                                 : "INSERT INTO phase_windows(run_id, phase, repeat, window_id, units,"
                                   " tokens_per_unit, host_s, tp_rank) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                          &stmt, what));
  sqlite3_bind_int64(stmt, 1, run_id);
  sqlite3_bind_text(stmt, 2, lj_phase_name(w->phase), -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 3, w->repeat);
  sqlite3_bind_int64(stmt, 4, window_id);
  sqlite3_bind_int64(stmt, 5, w->units);
  sqlite3_bind_int64(stmt, 6, w->tokens_per_unit);
  if (isnan(w->host_s)) sqlite3_bind_null(stmt, 7);  // not measured
  else sqlite3_bind_double(stmt, 7, w->host_s);
  sqlite3_bind_int(stmt, 8, st->profile_rank);
  LJ_TRY(lj_store_step_once(st, stmt, what));
  if (!stored) return 0;
  LJ_TRY(lj_store_prepare(st, "DELETE FROM windows WHERE id = ?", &stmt, what));
  sqlite3_bind_int64(stmt, 1, old_id);
  return lj_store_step_once(st, stmt, what);
}

typedef struct {
  int64_t run_id;
  const lj_phase_window *w;
  int tp_rank;
} window_write;

static int write_window(lj_store *st, void *ctx) {
  const window_write *x = ctx;
  st->profile_rank = x->tp_rank;
  int rc = lj_store_upsert_phase_window(st, x->run_id, x->w, 0);
  st->profile_rank = 0;
  return rc;
}

int lj_store_add_phase_window(lj_store *st, int64_t run_id, const lj_phase_window *w, int tp_rank) {
  if (st->readonly)
    return LJ_FAIL(LJ_EINVAL, "store '%s': opened for reading only: cannot write a window of run %lld", st->path,
                   (long long)run_id);
  char what[96];
  snprintf(what, sizeof what, "writing a phase window of run %lld", (long long)run_id);
  window_write x = {run_id, w, tp_rank};
  return lj_store_write_txn(st, what, write_window, &x);
}
