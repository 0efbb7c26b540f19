// The store under failure: a writer killed with SIGKILL mid-stream leaves an
// intact file holding every committed batch; a full disk (simulated with
// RLIMIT_FSIZE) keeps the samples in memory and writes them once there is room.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "store/store.h"

enum { kBatch = 250 };

static char g_dir[256];

static int setup_dir(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_store_crash_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  return 0;
}

static int teardown_dir(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

// Sample number i: value = i, so the stored set shows exactly which batches landed.
static void fill_batch(lj_sample *s, int64_t first) {
  for (int k = 0; k < kBatch; k++) {
    memset(&s[k], 0, sizeof s[k]);
    s[k].t_ns = 1000000 * (first + k);
    s[k].value = (double)(first + k);
    s[k].reading = LJ_READING_POWER_SAMPLE;
  }
}

static lj_device_info one_device(void) {
  lj_device_info d;
  memset(&d, 0, sizeof d);
  snprintf(d.uuid, sizeof d.uuid, "GPU-crash");
  d.supported = LJ_READING_BIT(LJ_READING_POWER_SAMPLE);
  return d;
}

// The child: writes batches forever, telling the parent after each commit.
static void crash_writer(const char *path, int report_fd) {
  lj_store *st;
  if (lj_store_open(path, &st) < 0) _exit(10);
  lj_run_info info = {.kind = "meter", .command_line = "crash test"};
  int64_t run;
  lj_device_info d = one_device();
  if (lj_store_begin_run(st, &info, &run) < 0 || lj_store_add_device(st, run, &d) < 0) _exit(11);
  lj_sample batch[kBatch];
  for (int64_t b = 0;; b++) {
    fill_batch(batch, b * kBatch);
    if (lj_store_add_samples(st, run, batch, kBatch) < 0) _exit(12);
    int64_t committed = (b + 1) * kBatch;
    if (write(report_fd, &committed, sizeof committed) != sizeof committed) _exit(13);
  }
}

static void test_sigkill_mid_stream(void **state) {
  char path[512];
  snprintf(path, sizeof path, "%s/killed.db", g_dir);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    crash_writer(path, fds[1]);
  }
  close(fds[1]);
  // Let it commit a good number of batches, then kill it while it writes.
  int64_t committed = 0, got;
  while (committed < 200 * kBatch && read(fds[0], &got, sizeof got) == sizeof got) committed = got;
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  close(fds[0]);

  // The file opens (recovering the WAL), passes integrity_check, and holds
  // every batch the child saw committed, whole batches only.
  lj_store *st;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), min(value), max(value), count(DISTINCT value) FROM samples",
                                      -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(q, 0);
  assert_true(n >= committed);
  assert_int_equal(n % kBatch, 0);
  assert_true(sqlite3_column_double(q, 1) == 0.0);
  assert_true(sqlite3_column_double(q, 2) == (double)(n - 1));
  assert_int_equal(sqlite3_column_int64(q, 3), n);
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT status, ended_wall_ns IS NULL FROM runs", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "incomplete");
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  printf("killed writer: %lld samples seen committed, %lld in the file\n", (long long)committed, (long long)n);
}

// The child of the full-disk test; exit status 0 = every check passed.
static int full_disk_child(const char *path) {
  lj_store *st;
  if (lj_store_open(path, &st) < 0) return 10;
  lj_run_info info = {.kind = "meter", .command_line = "full disk test"};
  int64_t run;
  lj_device_info d = one_device();
  if (lj_store_begin_run(st, &info, &run) < 0 || lj_store_add_device(st, run, &d) < 0) return 11;
  lj_sample_writer *w;
  if (lj_sample_writer_create(st, run, &w) < 0) return 12;
  // Room for little more than what is there: writes fail with EFBIG, as on a full disk.
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, small;
  getrlimit(RLIMIT_FSIZE, &old);
  small = old;
  small.rlim_cur = 256 * 1024;
  if (setrlimit(RLIMIT_FSIZE, &small) != 0) return 13;
  lj_sample batch[kBatch];
  int64_t total = 0;
  for (int b = 0; b < 400; b++, total += kBatch) {
    fill_batch(batch, total);
    if (lj_sample_writer_sink(w, batch, kBatch) != 0) return 14;  // never stops the sampler
  }
  size_t pending = lj_sample_writer_pending(w);
  uint64_t written = lj_sample_writer_written(w);
  printf("full disk: %llu samples written, %zu kept in memory\n", (unsigned long long)written, pending);
  if (pending == 0) return 15;  // the limit must have bitten
  if (written + pending != (uint64_t)total) return 16;
  // Samples kept in memory are the ones that follow the written ones, in order.
  const lj_sample *kept = lj_sample_writer_pending_samples(w);
  for (size_t i = 0; i < pending; i++)
    if (kept[i].value != (double)(written + i)) return 17;
  // Still full: finish fails, names the file, keeps everything.
  if (lj_sample_writer_finish(w) == 0) return 18;
  if (!strstr(lj_error_message(), path) || !strstr(lj_error_message(), "only in memory")) return 19;
  fprintf(stderr, "(expected) %s\n", lj_error_message());
  if (lj_sample_writer_pending(w) != pending) return 20;
  // Room again: everything lands.
  if (setrlimit(RLIMIT_FSIZE, &old) != 0) return 21;
  if (lj_sample_writer_finish(w) != 0) return 22;
  if (lj_sample_writer_pending(w) != 0 || lj_store_count_samples(st, run) != total) return 23;
  lj_sample_writer_free(w);
  lj_store_close(st);
  return 0;
}

static void test_full_disk_keeps_samples(void **state) {
  char path[512];
  snprintf(path, sizeof path, "%s/full.db", g_dir);
  fflush(stdout);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(full_disk_child(path));
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  // And the file is intact.
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
  sqlite3_finalize(q);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigkill_mid_stream),
      cmocka_unit_test(test_full_disk_keeps_samples),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
