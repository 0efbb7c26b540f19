// Samples: written in batches (one transaction each), read back as a trace.
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

static int insert_batch(lj_store *st, int64_t run_id, const lj_sample *s, size_t n) {
  if (!st->insert_sample)
    SQLITE_CHECK(st,
                 sqlite3_prepare_v3(st->db,
                                    "INSERT INTO samples(run_id, device_index, reading, t_ns, read_ns, source_us,"
                                    " value, read_dur_ns, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                    -1, SQLITE_PREPARE_PERSISTENT, &st->insert_sample, NULL),
                 "writing samples");
  sqlite3_stmt *stmt = st->insert_sample;
  for (size_t i = 0; i < n; i++) {
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, run_id);
    sqlite3_bind_int(stmt, 2, s[i].device);
    sqlite3_bind_int(stmt, 3, s[i].reading);
    sqlite3_bind_int64(stmt, 4, s[i].t_ns);
    sqlite3_bind_int64(stmt, 5, s[i].read_ns);
    sqlite3_bind_int64(stmt, 6, s[i].source_us);
    sqlite3_bind_double(stmt, 7, s[i].value);
    sqlite3_bind_int(stmt, 8, s[i].read_dur_ns);
    sqlite3_bind_int(stmt, 9, s[i].flags);
    SQLITE_CHECK(st, sqlite3_step(stmt), "writing samples");
  }
  sqlite3_reset(stmt);
  return 0;
}

int lj_store_add_samples(lj_store *st, int64_t run_id, const lj_sample *s, size_t n) {
  if (n == 0) return 0;
  pthread_mutex_lock(&st->txn);
  int rc = lj_store_exec(st, "BEGIN IMMEDIATE", "writing samples");
  if (rc == 0) rc = insert_batch(st, run_id, s, n);
  if (rc == 0) rc = lj_store_exec(st, "COMMIT", "writing samples");
  if (rc < 0) {
    // Keep the first error's message: the rollback's own result does not matter.
    if (st->insert_sample) sqlite3_reset(st->insert_sample);
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  }
  pthread_mutex_unlock(&st->txn);
  return rc;
}

int64_t lj_store_count_samples(lj_store *st, int64_t run_id) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "SELECT count(*) FROM samples WHERE run_id = ?", &stmt, "counting samples"));
  sqlite3_bind_int64(stmt, 1, run_id);
  int rc = sqlite3_step(stmt);
  int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return lj_sqlite_fail(st->db, st->path, rc, "counting samples", __FILE__, __LINE__);
  return n;
}

static int load_devices(lj_store *st, int64_t run_id, lj_trace *out) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "SELECT device_index, nvml_index, cuda_index, name, uuid, pci_bus_id, driver_version,"
                          " nvml_version, source, power_limit_w, supported_mask, streamed_mask"
                          " FROM devices WHERE run_id = ? ORDER BY device_index",
                          &stmt, "reading devices"));
  sqlite3_bind_int64(stmt, 1, run_id);
  int rc, status = 0;
  while (status == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    lj_device_info d;
    memset(&d, 0, sizeof d);
    d.index = sqlite3_column_int(stmt, 0);
    d.nvml_index = sqlite3_column_int(stmt, 1);
    d.cuda_index = sqlite3_column_int(stmt, 2);
    lj_store_column_text(stmt, 3, d.name, sizeof d.name);
    lj_store_column_text(stmt, 4, d.uuid, sizeof d.uuid);
    lj_store_column_text(stmt, 5, d.pci_bus_id, sizeof d.pci_bus_id);
    lj_store_column_text(stmt, 6, d.driver_version, sizeof d.driver_version);
    lj_store_column_text(stmt, 7, d.nvml_version, sizeof d.nvml_version);
    lj_store_column_text(stmt, 8, d.source, sizeof d.source);
    d.power_limit_w = sqlite3_column_double(stmt, 9);
    d.supported = (uint32_t)sqlite3_column_int64(stmt, 10);
    d.streamed = (uint32_t)sqlite3_column_int64(stmt, 11);
    if (d.index != out->n_devices)
      status = LJ_FAIL(LJ_EINVAL, "store '%s': run %lld: device indices are not 0..n-1 (found %d after %d devices)",
                       st->path, (long long)run_id, d.index, out->n_devices);
    else if ((status = lj_trace_add_device(out, &d)) < 0)
      status = lj_fail_context(status, "store '%s': run %lld", st->path, (long long)run_id);
  }
  if (status == 0 && rc != SQLITE_DONE) status = lj_sqlite_fail(st->db, st->path, rc, "reading devices", __FILE__, __LINE__);
  sqlite3_finalize(stmt);
  return status;
}

// Samples in time order, appended in chunks.
static int load_samples(lj_store *st, int64_t run_id, lj_trace *out) {
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st,
                          "SELECT device_index, reading, t_ns, read_ns, source_us, value, read_dur_ns, flags"
                          " FROM samples WHERE run_id = ? ORDER BY device_index, t_ns, rowid",
                          &stmt, "reading samples"));
  sqlite3_bind_int64(stmt, 1, run_id);
  enum { kChunk = 1024 };  // 40 KB on the stack
  lj_sample chunk[kChunk];
  size_t n = 0;
  int rc, status = 0;
  while (status == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    lj_sample *s = &chunk[n++];
    memset(s, 0, sizeof *s);
    int dev = sqlite3_column_int(stmt, 0), reading = sqlite3_column_int(stmt, 1);
    if (dev < 0 || dev >= out->n_devices || reading < 0 || reading >= LJ_READING_COUNT) {
      status = LJ_FAIL(LJ_EINVAL, "store '%s': run %lld: a sample names device %d / reading %d, which do not exist",
                       st->path, (long long)run_id, dev, reading);
      break;
    }
    s->device = (uint16_t)dev;
    s->reading = (uint8_t)reading;
    s->t_ns = sqlite3_column_int64(stmt, 2);
    s->read_ns = sqlite3_column_int64(stmt, 3);
    s->source_us = sqlite3_column_int64(stmt, 4);
    s->value = sqlite3_column_double(stmt, 5);
    s->read_dur_ns = sqlite3_column_int(stmt, 6);
    s->flags = (uint8_t)sqlite3_column_int(stmt, 7);
    if (n == kChunk) {
      if ((status = lj_trace_append(out, chunk, n)) < 0)
        status = lj_fail_context(status, "store '%s': run %lld", st->path, (long long)run_id);
      n = 0;
    }
  }
  if (status == 0 && rc != SQLITE_DONE) status = lj_sqlite_fail(st->db, st->path, rc, "reading samples", __FILE__, __LINE__);
  if (status == 0 && n && (status = lj_trace_append(out, chunk, n)) < 0)
    status = lj_fail_context(status, "store '%s': run %lld", st->path, (long long)run_id);
  sqlite3_finalize(stmt);
  return status;
}

int lj_store_load_trace(lj_store *st, int64_t run_id, lj_trace *out) {
  LJ_TRY(load_devices(st, run_id, out));
  if (out->n_devices == 0)
    return LJ_FAIL(LJ_EINVAL, "store '%s': run %lld has no devices (nothing was recorded)", st->path,
                   (long long)run_id);
  LJ_TRY(load_samples(st, run_id, out));
  lj_trace_sort(out);
  return 0;
}
