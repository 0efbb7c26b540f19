// The store's private state, shared by the src/store/*.c files.
#pragma once
#include <pthread.h>
#include <sqlite3.h>

#include "store/sqlite_check.h"
#include "store/store.h"

struct lj_store {
  sqlite3 *db;
  char path[1024];
  int readonly;
  int version;                  // schema version of the file (older than current only when opened read-only)
  sqlite3_stmt *insert_sample;  // prepared once: samples arrive in many batches
  // Held for a whole transaction: the sampler's writer and the profile's
  // window writes share the connection, and so its transactions.
  pthread_mutex_t txn;
  // The tensor-parallel rank of the profile rows being written, and of those read into the
  // result's main arrays: 0 for a degree-1 run, -1 (the sum over ranks) above
  // (lj_profile_main_rank); per-rank phase summaries are written and read with their own.
  int profile_rank;
};

// Prepare, bind with the caller, step once, finalize: for one-off statements.
int lj_store_exec(lj_store *st, const char *sql, const char *what);
int lj_store_prepare(lj_store *st, const char *sql, sqlite3_stmt **out, const char *what);
// Runs a prepared single-step statement and finalizes it (even on failure).
int lj_store_step_once(lj_store *st, sqlite3_stmt *stmt, const char *what);
// One write transaction (BEGIN IMMEDIATE .. COMMIT) holding st->txn around write(st, ctx); on
// failure it is rolled back and the first error's message kept.
int lj_store_write_txn(lj_store *st, const char *what, int (*write)(lj_store *st, void *ctx), void *ctx);
// *out = 1 when the file has table `name` (the check tables of version 6, read from older files).
int lj_store_has_table(lj_store *st, const char *name, int *out);
// Bind a C string, NULL as SQL NULL.
int lj_store_bind_text(sqlite3_stmt *stmt, int col, const char *s);
// Copy column `col` (text, possibly NULL) into buf.
void lj_store_column_text(sqlite3_stmt *stmt, int col, char *buf, size_t cap);

// A profile's phase window into `windows` and `phase_windows`, inside the
// caller's transaction: a window of (run, phase, repeat) already stored is
// replaced by this one (the final values of a window first written pending).
// `i` numbers the window in error messages.
int lj_store_upsert_phase_window(lj_store *st, int64_t run_id, const lj_phase_window *w, size_t i);

// Adds tp_rank to every table of lj_store_tp_rank_tables and rebuilds it with tp_rank in its
// primary key (store_rank_key.c): version 14, in a fresh file and an upgrade alike.
int lj_store_key_by_rank(lj_store *st, const char *what);
