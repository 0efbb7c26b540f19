// The store: round trip of runs, devices, samples, windows, baselines;
// schema-version and foreign-file errors; unwritable paths.
// (The crash and full-disk tests are in test_store_crash.c.)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "store/store.h"

static char g_dir[256];

static void path_in_tmp(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_dir, name); }

static int setup_dir(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_store_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  return 0;
}

static int teardown_dir(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

static lj_device_info make_device(int index, const char *uuid) {
  lj_device_info d;
  memset(&d, 0, sizeof d);
  d.index = index;
  d.nvml_index = index + 2;
  d.cuda_index = index;
  snprintf(d.name, sizeof d.name, "Test GPU %d", index);
  snprintf(d.uuid, sizeof d.uuid, "%s", uuid);
  snprintf(d.pci_bus_id, sizeof d.pci_bus_id, "00000000:%02X:00.0", 0x18 + index);
  snprintf(d.driver_version, sizeof d.driver_version, "580.159.04");
  snprintf(d.nvml_version, sizeof d.nvml_version, "13.580.159.04");
  snprintf(d.source, sizeof d.source, "replay");
  d.power_limit_w = 700.0;
  d.supported = LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE) |
                LJ_READING_BIT(LJ_READING_TEMPERATURE);
  d.streamed = LJ_READING_BIT(LJ_READING_POWER_SAMPLE);
  return d;
}

// Samples with every field distinct, so a swapped column shows up.
static lj_sample make_sample(int i, int device) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = 1000000000ll + (int64_t)i * 10000000 + device;
  s.read_ns = s.t_ns - 1234;
  s.source_us = 1790000000000000ll + i * 10000;
  s.value = 100.0 + i * 0.5 + device * 1000.0;
  s.read_dur_ns = 2000 + i;
  s.device = (uint16_t)device;
  s.reading = (uint8_t)(i % 3 == 0 ? LJ_READING_ENERGY : i % 3 == 1 ? LJ_READING_POWER_SAMPLE : LJ_READING_TEMPERATURE);
  s.flags = (uint8_t)(i % 7 == 0 ? LJ_SAMPLE_AFTER_GAP : 0);
  return s;
}

static void test_round_trip(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "round.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_run_info info = {.kind = "meter", .command_line = "llamajoule meter -- true", .source = "replay:x.csv"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  assert_true(run > 0);
  lj_device_info d0 = make_device(0, "GPU-aaaa"), d1 = make_device(1, "GPU-bbbb");
  assert_int_equal(lj_store_add_device(st, run, &d0), 0);
  assert_int_equal(lj_store_add_device(st, run, &d1), 0);

  // Three batches, written in reverse time order across batches: the load must sort.
  enum { N = 300 };
  lj_sample all[2 * N];
  for (int i = 0; i < N; i++) {
    all[i] = make_sample(i, 0);
    all[N + i] = make_sample(i, 1);
  }
  assert_int_equal(lj_store_add_samples(st, run, all + 400, 200), 0);
  assert_int_equal(lj_store_add_samples(st, run, all + 100, 300), 0);
  assert_int_equal(lj_store_add_samples(st, run, all, 100), 0);
  assert_int_equal(lj_store_count_samples(st, run), 2 * N);

  lj_window_result w;
  memset(&w, 0, sizeof w);
  snprintf(w.name, sizeof w.name, "program");
  w.device = -1;
  w.begin_ns = 1000000000;
  w.end_ns = 3000000000;
  w.duration_s = 2.0;
  w.counter_energy_j = 1250.0;
  w.sample_energy_j = 1240.0;
  w.flags = LJ_WINDOW_SHORT | LJ_WINDOW_GAP;
  int64_t wid = 0;
  assert_int_equal(lj_store_add_window(st, run, &w, 0, &wid), 0);
  assert_true(wid > 0);
  assert_int_equal(lj_store_add_metric(st, run, "sampler_cpu_percent", 0.42, "%"), 0);
  assert_int_equal(lj_store_end_run(st, run, LJ_RUN_COMPLETE, 3), 0);
  lj_store_close(st);

  // Read back through a read-only handle.
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  lj_run_record rec;
  assert_int_equal(lj_store_get_run(st, run, &rec), 0);
  assert_string_equal(rec.kind, "meter");
  assert_string_equal(rec.command_line, "llamajoule meter -- true");
  assert_string_equal(rec.source, "replay:x.csv");
  assert_int_equal(rec.status, LJ_RUN_COMPLETE);
  assert_int_equal(rec.exit_code, 3);
  assert_true(rec.ended_wall_ns >= rec.started_wall_ns && rec.started_wall_ns > 0);
  int64_t latest = 0;
  assert_int_equal(lj_store_latest_run(st, "meter", &latest), 1);
  assert_int_equal(latest, run);
  assert_int_equal(lj_store_latest_run(st, "idle", &latest), 0);

  lj_trace t;
  lj_trace_init(&t);
  assert_int_equal(lj_store_load_trace(st, run, &t), 0);
  assert_int_equal(t.n_devices, 2);
  assert_memory_equal(&t.devices[0], &d0, sizeof d0);
  assert_memory_equal(&t.devices[1], &d1, sizeof d1);
  assert_int_equal(t.n_samples, 2 * N);
  // Every stored sample comes back bit for bit, in time order.
  for (size_t i = 0; i < t.n_samples; i++) {
    if (i) assert_true(t.samples[i - 1].t_ns <= t.samples[i].t_ns);
    const lj_sample *s = &t.samples[i];
    int idx = (int)((s->t_ns - 1000000000ll - s->device) / 10000000);
    lj_sample want = make_sample(idx, s->device);
    assert_memory_equal(s, &want, sizeof want);
  }
  lj_trace_free(&t);
  lj_store_close(st);

  // The raw file: the window's warnings spelled out, NULL where unmeasured.
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT warnings, counter_j, idle_w IS NULL, device_index IS NULL FROM windows",
                                      -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "short,gap");
  assert_true(sqlite3_column_double(q, 1) == 1250.0);
  assert_int_equal(sqlite3_column_int(q, 2), 1);
  assert_int_equal(sqlite3_column_int(q, 3), 1);
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT supported FROM devices WHERE device_index = 1", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "energy,power_sample,temperature");
  sqlite3_finalize(q);
  sqlite3_close(db);
}

static void test_idle_baselines_newest_wins(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "idle.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_idle_baseline b;
  memset(&b, 0, sizeof b);
  snprintf(b.device_uuid, sizeof b.device_uuid, "GPU-aaaa");
  snprintf(b.method, sizeof b.method, "counter");
  snprintf(b.context, sizeof b.context, "cuda-context");
  b.seconds = 10;
  b.measured_wall_ns = 2000;
  b.mean_w = 121.5;
  assert_int_equal(lj_store_add_idle_baseline(st, &b), 0);
  b.measured_wall_ns = 1000;  // older, inserted later: must not win
  b.mean_w = 99.0;
  assert_int_equal(lj_store_add_idle_baseline(st, &b), 0);
  snprintf(b.device_uuid, sizeof b.device_uuid, "GPU-bbbb");
  b.measured_wall_ns = 5000;
  b.mean_w = 60.0;
  assert_int_equal(lj_store_add_idle_baseline(st, &b), 0);

  lj_idle_baseline got;
  assert_int_equal(lj_store_find_idle_baseline(st, "GPU-aaaa", &got), 1);
  assert_true(got.mean_w == 121.5);
  assert_string_equal(got.context, "cuda-context");
  assert_non_null(strstr(got.origin, path));
  assert_int_equal(lj_store_find_idle_baseline(st, "GPU-cccc", &got), 0);

  int64_t run = 0;
  lj_run_info info = {.kind = "characterize", .command_line = "llamajoule devices --characterize"};
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  assert_int_equal(lj_store_add_characterization(st, run, 0, "GPU-aaaa", "counter_update_period", 100.2, "ms", NULL), 0);
  lj_store_close(st);
}

// Sets PRAGMA user_version of an existing file (another schema version).
static void set_user_version(const char *path, int version) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static void test_schema_version_mismatch(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v99.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
  set_user_version(path, 99);
  assert_int_equal(lj_store_open(path, &st), LJ_EINVAL);
  assert_null(st);
  const char *msg = lj_error_message();
  assert_non_null(strstr(msg, path));
  assert_non_null(strstr(msg, "schema version 99"));
  char current[48];
  snprintf(current, sizeof current, "schema version %d", LJ_STORE_SCHEMA_VERSION);
  assert_non_null(strstr(msg, current));
  assert_int_equal(lj_store_open_readonly(path, &st), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "99"));
}

static void test_foreign_files(void **state) {
  char path[1024];
  lj_store *st = NULL;
  // An SQLite file of some other program.
  path_in_tmp(path, sizeof path, "other.sqlite");
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(lj_store_open(path, &st), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "not a llamajoule store"));
  assert_non_null(strstr(lj_error_message(), path));

  // A text file.
  path_in_tmp(path, sizeof path, "notes.txt");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 100; i++) fputs("this is not a database at all\n", f);
  fclose(f);
  assert_int_equal(lj_store_open(path, &st), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), path));
  assert_non_null(strstr(lj_error_message(), "not a database"));
}

// The whole file, for byte comparisons (caller frees).
static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  unsigned char *buf = NULL;
  size_t n = 0, cap = 0, got;
  unsigned char chunk[4096];
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (n + got > cap) {
      cap = (n + got) * 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    memcpy(buf + n, chunk, got);
    n += got;
  }
  fclose(f);
  *len = n;
  return buf;
}

// A refused file is left exactly as it was: same bytes, no -wal, -shm or -journal beside it.
static void assert_refused_untouched(const char *path, const char *expect) {
  size_t n0 = 0, n1 = 0;
  unsigned char *before = read_all(path, &n0);
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), LJ_EINVAL);
  assert_null(st);
  assert_non_null(strstr(lj_error_message(), path));
  assert_non_null(strstr(lj_error_message(), expect));
  unsigned char *after = read_all(path, &n1);
  assert_true(n0 > 0);
  assert_int_equal(n0, n1);
  assert_memory_equal(before, after, n0);
  free(before);
  free(after);
  const char *suffixes[] = {"-wal", "-shm", "-journal"};
  for (int i = 0; i < 3; i++) {
    char side[1100];
    snprintf(side, sizeof side, "%s%s", path, suffixes[i]);
    assert_int_equal(access(side, F_OK), -1);
  }
}

static void sqlite_exec_file(const char *path, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

// Opening for writing checks what the file is before changing anything in it
// (issue 19): a file that is not a store, or a store of a newer schema, is
// refused byte for byte untouched; only a new or zero-length file becomes a store.
static void test_refused_files_untouched(void **state) {
  char path[1024];
  // Another program's SQLite file with a table (rollback journal, as sqlite3 makes it).
  path_in_tmp(path, sizeof path, "foreign.db");
  sqlite_exec_file(path, "CREATE TABLE t(x); INSERT INTO t VALUES (42)");
  assert_refused_untouched(path, "not a llamajoule store");
  // Another program's SQLite file without tables: not taken over.
  path_in_tmp(path, sizeof path, "foreign_empty.db");
  sqlite_exec_file(path, "PRAGMA application_id = 1234");
  assert_refused_untouched(path, "application_id 1234");
  path_in_tmp(path, sizeof path, "foreign_empty0.db");
  sqlite_exec_file(path, "PRAGMA user_version = 7");
  assert_refused_untouched(path, "not a llamajoule store");
  // A store of a newer schema, in rollback-journal mode (as a copy made by `.backup` is).
  path_in_tmp(path, sizeof path, "newer.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
  sqlite_exec_file(path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99");
  assert_refused_untouched(path, "schema version 99");
  // A text file.
  path_in_tmp(path, sizeof path, "text.db");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 100; i++) fputs("not a database\n", f);
  fclose(f);
  assert_refused_untouched(path, "not a database");

  // A zero-length file becomes a store, and opens again as one.
  path_in_tmp(path, sizeof path, "zero.db");
  f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = 0;
  lj_run_info info = {.kind = "meter", .command_line = "llamajoule meter -- true", .source = "nvml"};
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  lj_store_close(st);
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  assert_int_equal(lj_store_latest_run(st, NULL, &run), 1);
  assert_int_equal(run, 1);
  lj_store_close(st);
}

// A corrupt schema whose SQL spans lines: still one line of error (found by fuzzing).
static void test_corrupt_schema_one_line(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "corrupt.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "PRAGMA writable_schema = ON;"
                                "UPDATE sqlite_master SET sql = 'CREATE TABLE windows(`a INTEGER,\n  b INTEGER)' "
                                "WHERE name = 'windows';",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  assert_true(lj_store_open_readonly(path, &st) < 0);
  assert_non_null(strstr(lj_error_message(), path));
  assert_null(strchr(lj_error_message(), '\n'));
}

static void test_unwritable_paths(void **state) {
  lj_store *st = NULL;
  char path[1024];
  // A directory that does not exist.
  path_in_tmp(path, sizeof path, "no/such/dir/run.db");
  int rc = lj_store_open(path, &st);
  assert_int_equal(rc, LJ_EIO);
  assert_non_null(strstr(lj_error_message(), path));
  assert_null(strchr(lj_error_message(), '\n'));
  // A regular file used as a directory (fails even for root).
  char file[512];
  path_in_tmp(file, sizeof file, "plainfile");
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  snprintf(path, sizeof path, "%s/run.db", file);
  assert_int_equal(lj_store_open(path, &st), LJ_EIO);
  assert_non_null(strstr(lj_error_message(), path));
  // A directory as the store: bad input (exit 3), not an I/O failure.
  assert_int_equal(lj_store_open(g_dir, &st), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "is a directory"));
  // A missing file opened for reading is not created.
  path_in_tmp(path, sizeof path, "missing.db");
  assert_int_equal(lj_store_open_readonly(path, &st), LJ_EIO);
  assert_int_equal(access(path, F_OK), -1);
  // A read-only file (chmod does not stop root: only check when not root).
  if (geteuid() != 0) {
    path_in_tmp(path, sizeof path, "ro.db");
    assert_int_equal(lj_store_open(path, &st), 0);
    lj_store_close(st);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "chmod a-w '%s'", path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(lj_store_open(path, &st), LJ_EIO);
    assert_non_null(strstr(lj_error_message(), "not writable"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_idle_baselines_newest_wins),
      cmocka_unit_test(test_schema_version_mismatch),
      cmocka_unit_test(test_foreign_files),
      cmocka_unit_test(test_refused_files_untouched),
      cmocka_unit_test(test_corrupt_schema_one_line),
      cmocka_unit_test(test_unwritable_paths),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
