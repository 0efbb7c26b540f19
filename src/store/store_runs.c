// Runs, their metrics and their devices.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "common/clock.h"
#include "store/store_internal.h"

static const char *const kStatusNames[] = {"incomplete", "complete", "failed"};

const char *lj_run_status_name(int status) {
  return status >= 0 && status <= LJ_RUN_FAILED ? kStatusNames[status] : "incomplete";
}

static int status_from_name(const char *name) {
  for (int i = 0; i <= LJ_RUN_FAILED; i++)
    if (!strcmp(name, kStatusNames[i])) return i;
  return LJ_RUN_INCOMPLETE;
}

int lj_store_begin_run(lj_store *st, const lj_run_info *info, int64_t *run_id) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "unknown");
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT INTO runs(kind, command_line, source, host, tool_version, started_wall_ns, status, notes)"
                          " VALUES (?, ?, ?, ?, ?, ?, 'incomplete', ?)",
                          &stmt, "recording the run"));
  lj_store_bind_text(stmt, 1, info->kind ? info->kind : "unknown");
  lj_store_bind_text(stmt, 2, info->command_line ? info->command_line : "");
  lj_store_bind_text(stmt, 3, info->source);
  lj_store_bind_text(stmt, 4, host);
  lj_store_bind_text(stmt, 5, LJ_VERSION);
  sqlite3_bind_int64(stmt, 6, lj_wall_ns());
  lj_store_bind_text(stmt, 7, info->notes);
  LJ_TRY(lj_store_step_once(st, stmt, "recording the run"));
  *run_id = sqlite3_last_insert_rowid(st->db);
  return 0;
}

int lj_store_end_run(lj_store *st, int64_t run_id, int status, int exit_code) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "UPDATE runs SET status = ?, exit_code = ?, ended_wall_ns = ? WHERE id = ?", &stmt,
                          "ending the run"));
  sqlite3_bind_text(stmt, 1, lj_run_status_name(status), -1, SQLITE_STATIC);
  sqlite3_bind_int(stmt, 2, exit_code);
  sqlite3_bind_int64(stmt, 3, lj_wall_ns());
  sqlite3_bind_int64(stmt, 4, run_id);
  return lj_store_step_once(st, stmt, "ending the run");
}

int lj_store_add_metric(lj_store *st, int64_t run_id, const char *name, double value, const char *unit) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "INSERT OR REPLACE INTO run_metrics(run_id, name, value, unit) VALUES (?, ?, ?, ?)",
                          &stmt, "recording a run metric"));
  sqlite3_bind_int64(stmt, 1, run_id);
  lj_store_bind_text(stmt, 2, name);
  sqlite3_bind_double(stmt, 3, value);
  lj_store_bind_text(stmt, 4, unit);
  return lj_store_step_once(st, stmt, "recording a run metric");
}

int lj_store_latest_run(lj_store *st, const char *kind, int64_t *run_id) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "SELECT max(id) FROM runs WHERE ?1 IS NULL OR kind = ?1", &stmt, "finding the run"));
  lj_store_bind_text(stmt, 1, kind);
  int rc = sqlite3_step(stmt);
  int found = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL;
  if (found) *run_id = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return lj_sqlite_fail(st->db, st->path, rc, "finding the run", __FILE__, __LINE__);
  return found;
}

int lj_store_get_run(lj_store *st, int64_t run_id, lj_run_record *out) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "SELECT kind, command_line, source, host, tool_version, started_wall_ns, ended_wall_ns,"
                          " status, exit_code FROM runs WHERE id = ?",
                          &stmt, "reading the run"));
  sqlite3_bind_int64(stmt, 1, run_id);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(stmt);
    if (rc == SQLITE_DONE) return LJ_FAIL(LJ_EINVAL, "store '%s': no run %lld", st->path, (long long)run_id);
    return lj_sqlite_fail(st->db, st->path, rc, "reading the run", __FILE__, __LINE__);
  }
  memset(out, 0, sizeof *out);
  out->id = run_id;
  lj_store_column_text(stmt, 0, out->kind, sizeof out->kind);
  lj_store_column_text(stmt, 1, out->command_line, sizeof out->command_line);
  lj_store_column_text(stmt, 2, out->source, sizeof out->source);
  lj_store_column_text(stmt, 3, out->host, sizeof out->host);
  lj_store_column_text(stmt, 4, out->tool_version, sizeof out->tool_version);
  out->started_wall_ns = sqlite3_column_int64(stmt, 5);
  out->ended_wall_ns = sqlite3_column_int64(stmt, 6);
  char status[32];
  lj_store_column_text(stmt, 7, status, sizeof status);
  out->status = status_from_name(status);
  out->exit_code = sqlite3_column_type(stmt, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(stmt, 8);
  sqlite3_finalize(stmt);
  return 0;
}

// "energy,power_avg,..." for a LJ_READING_BIT mask.
static void reading_names(uint32_t mask, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int r = 0; r < LJ_READING_COUNT; r++) {
    if (!(mask & LJ_READING_BIT(r))) continue;
    int n = snprintf(buf + used, cap - used, "%s%s", used ? "," : "", lj_reading_name((lj_reading)r));
    if (n < 0 || (size_t)n >= cap - used) break;
    used += (size_t)n;
  }
}

int lj_store_add_device(lj_store *st, int64_t run_id, const lj_device_info *d) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "INSERT INTO devices(run_id, device_index, nvml_index, cuda_index, name, uuid, pci_bus_id,"
                          " driver_version, nvml_version, source, power_limit_w, supported_mask, streamed_mask,"
                          " supported) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          &stmt, "recording a device"));
  char supported[512];
  reading_names(d->supported, supported, sizeof supported);
  sqlite3_bind_int64(stmt, 1, run_id);
  sqlite3_bind_int(stmt, 2, d->index);
  sqlite3_bind_int(stmt, 3, d->nvml_index);
  sqlite3_bind_int(stmt, 4, d->cuda_index);
  lj_store_bind_text(stmt, 5, d->name);
  lj_store_bind_text(stmt, 6, d->uuid);
  lj_store_bind_text(stmt, 7, d->pci_bus_id);
  lj_store_bind_text(stmt, 8, d->driver_version);
  lj_store_bind_text(stmt, 9, d->nvml_version);
  lj_store_bind_text(stmt, 10, d->source);
  sqlite3_bind_double(stmt, 11, d->power_limit_w);
  sqlite3_bind_int64(stmt, 12, d->supported);
  sqlite3_bind_int64(stmt, 13, d->streamed);
  lj_store_bind_text(stmt, 14, supported);
  return lj_store_step_once(st, stmt, "recording a device");
}
