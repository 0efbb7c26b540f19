// Idle baselines: stored by `llamajoule idle`, reused (newest first, by GPU
// UUID) by `meter` and `profile` to report energy above idle.
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

int lj_store_add_idle_baseline(lj_store *st, const lj_idle_baseline *b) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT INTO idle_baselines(run_id, device_uuid, device_name, measured_wall_ns, seconds,"
                          " mean_w, stddev_w, counter_mean_w, counter_stddev_w, sample_mean_w, sample_stddev_w,"
                          " n_counter_updates, n_samples, temperature_c, sm_clock_mhz, mem_clock_mhz, method, context, copied_from)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          &stmt, "recording the idle baseline"));
  if (b->run_id > 0)
    sqlite3_bind_int64(stmt, 1, b->run_id);
  else
    sqlite3_bind_null(stmt, 1);
  lj_store_bind_text(stmt, 2, b->device_uuid);
  lj_store_bind_text(stmt, 3, b->device_name);
  sqlite3_bind_int64(stmt, 4, b->measured_wall_ns);
  sqlite3_bind_double(stmt, 5, b->seconds);
  sqlite3_bind_double(stmt, 6, b->mean_w);
  sqlite3_bind_double(stmt, 7, b->stddev_w);
  sqlite3_bind_double(stmt, 8, b->counter_mean_w);
  sqlite3_bind_double(stmt, 9, b->counter_stddev_w);
  sqlite3_bind_double(stmt, 10, b->sample_mean_w);
  sqlite3_bind_double(stmt, 11, b->sample_stddev_w);
  sqlite3_bind_int(stmt, 12, b->n_counter_updates);
  sqlite3_bind_int(stmt, 13, b->n_samples);
  sqlite3_bind_double(stmt, 14, b->temperature_c);
  sqlite3_bind_double(stmt, 15, b->sm_clock_mhz);
  sqlite3_bind_double(stmt, 16, b->mem_clock_mhz);
  lj_store_bind_text(stmt, 17, b->method[0] ? b->method : "counter");
  lj_store_bind_text(stmt, 18, b->context[0] ? b->context : "no-context");
  lj_store_bind_text(stmt, 19, b->origin[0] ? b->origin : NULL);  // set: a copy of a baseline from elsewhere
  return lj_store_step_once(st, stmt, "recording the idle baseline");
}

int lj_store_find_idle_baseline(lj_store *st, const char *uuid, lj_idle_baseline *out) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "SELECT run_id, device_uuid, device_name, measured_wall_ns, seconds, mean_w, stddev_w,"
                          " counter_mean_w, counter_stddev_w, sample_mean_w, sample_stddev_w, n_counter_updates,"
                          " n_samples, temperature_c, sm_clock_mhz, mem_clock_mhz, method, context, copied_from"
                          " FROM idle_baselines WHERE device_uuid = ? ORDER BY measured_wall_ns DESC, id DESC LIMIT 1",
                          &stmt, "looking up the idle baseline"));
  lj_store_bind_text(stmt, 1, uuid);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    out->run_id = sqlite3_column_int64(stmt, 0);
    lj_store_column_text(stmt, 1, out->device_uuid, sizeof out->device_uuid);
    lj_store_column_text(stmt, 2, out->device_name, sizeof out->device_name);
    out->measured_wall_ns = sqlite3_column_int64(stmt, 3);
    out->seconds = sqlite3_column_double(stmt, 4);
    out->mean_w = sqlite3_column_double(stmt, 5);
    out->stddev_w = sqlite3_column_double(stmt, 6);
    out->counter_mean_w = sqlite3_column_double(stmt, 7);
    out->counter_stddev_w = sqlite3_column_double(stmt, 8);
    out->sample_mean_w = sqlite3_column_double(stmt, 9);
    out->sample_stddev_w = sqlite3_column_double(stmt, 10);
    out->n_counter_updates = sqlite3_column_int(stmt, 11);
    out->n_samples = sqlite3_column_int(stmt, 12);
    out->temperature_c = sqlite3_column_double(stmt, 13);
    out->sm_clock_mhz = sqlite3_column_double(stmt, 14);
    out->mem_clock_mhz = sqlite3_column_double(stmt, 15);
    lj_store_column_text(stmt, 16, out->method, sizeof out->method);
    lj_store_column_text(stmt, 17, out->context, sizeof out->context);
    if (sqlite3_column_type(stmt, 18) != SQLITE_NULL)
      lj_store_column_text(stmt, 18, out->origin, sizeof out->origin);
    else
      snprintf(out->origin, sizeof out->origin, "%s, run %lld", st->path, (long long)out->run_id);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return lj_sqlite_fail(st->db, st->path, rc, "looking up the idle baseline", __FILE__, __LINE__);
  return rc == SQLITE_ROW;
}
