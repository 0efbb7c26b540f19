// `llamajoule meter` end to end on a replayed trace (no GPU): the whole
// pipeline (replay source, sampler, windows, store) against analytic answers,
// exit-code pass-through, a crashing program, Ctrl-C, and re-analysing a
// stored run by replaying its store.
//
// The trace: one GPU drawing exactly 200 W for 60 s (driver-buffer samples
// every 20 ms, energy counter every 100 ms), so any window's energy is
// 200 W x its duration, by counter and by buffer alike.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

static const double kWatts = 200.0;
static char g_dir[256], g_trace[512], g_bin[1024];

static int setup(void **state) {
  const char *bin = getenv("LLAMAJOULE_BIN");
  if (!bin || access(bin, X_OK) != 0) {
    printf("skip: LLAMAJOULE_BIN is not set to the built llamajoule\n");
    exit(77);
  }
  snprintf(g_bin, sizeof g_bin, "%s", bin);
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_meter_cli_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  snprintf(g_trace, sizeof g_trace, "%s/trace.csv", g_dir);
  FILE *f = fopen(g_trace, "w");
  assert_non_null(f);
  fprintf(f, "# 200 W constant, 60 s\n#device,0,GPU-11111111-2222-3333-4444-555555555555,00000000:18:00.0,700,Replayed H100\n");
  fprintf(f, "t_ns,device,reading,value\n");
  for (int i = 0; i <= 3000; i++) {
    long long t = 1000000000ll + (long long)i * 20000000;
    fprintf(f, "%lld,0,power_sample,%.1f\n", t, kWatts);
    if (i % 5 == 0) fprintf(f, "%lld,0,energy,%.3f\n%lld,0,temperature,41\n", t, 5000 + kWatts * i * 0.02, t);
  }
  fclose(f);
  // No baseline from the user's own default store may leak in.
  char store[600];
  snprintf(store, sizeof store, "%s/default.db", g_dir);
  setenv("LLAMAJOULE_STORE", store, 1);
  return 0;
}

static int teardown(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

// Starts `llamajoule meter --source replay:TRACE -o DB <extra...> -- <prog...>`
// with stderr to a log file; returns the pid.
static pid_t start_meter(const char *source, const char *db, const char *idle, char *const prog[]) {
  char *argv[32];
  int n = 0;
  argv[n++] = g_bin;
  argv[n++] = "meter";
  argv[n++] = "--source";
  argv[n++] = (char *)source;
  argv[n++] = "-o";
  argv[n++] = (char *)db;
  argv[n++] = "--idle";
  argv[n++] = (char *)idle;
  argv[n++] = "--";
  for (int i = 0; prog[i] && n < 31; i++) argv[n++] = prog[i];
  argv[n] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char log[600];
    snprintf(log, sizeof log, "%s.log", db);
    if (!freopen(log, "w", stderr)) _exit(99);
    execv(g_bin, argv);
    _exit(98);
  }
  return pid;
}

static int wait_exit_code(pid_t pid) {
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void db_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_dir, name); }

static void replay_source(char *buf, size_t cap, const char *file) { snprintf(buf, cap, "replay:%s", file); }

typedef struct {
  char status[32];
  int exit_code;
  long long samples;
  double duration_s, counter_j, buffer_j, above_idle_j, idle_w;
  int has_counter, has_buffer, has_above;
} run_row;

// The newest run of a store and its whole-run window (device NULL = all GPUs).
static void read_run(const char *db, run_row *r) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q;
  const char *sql =
      "SELECT r.status, r.exit_code, (SELECT count(*) FROM samples s WHERE s.run_id = r.id),"
      " w.duration_s, w.counter_j, w.buffer_j, w.counter_above_idle_j, w.idle_w"
      " FROM runs r JOIN windows w ON w.run_id = r.id AND w.parent_id IS NULL"
      " ORDER BY r.id DESC LIMIT 1";
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  memset(r, 0, sizeof *r);
  snprintf(r->status, sizeof r->status, "%s", (const char *)sqlite3_column_text(q, 0));
  r->exit_code = sqlite3_column_int(q, 1);
  r->samples = sqlite3_column_int64(q, 2);
  r->duration_s = sqlite3_column_double(q, 3);
  r->has_counter = sqlite3_column_type(q, 4) != SQLITE_NULL;
  r->counter_j = sqlite3_column_double(q, 4);
  r->has_buffer = sqlite3_column_type(q, 5) != SQLITE_NULL;
  r->buffer_j = sqlite3_column_double(q, 5);
  r->has_above = sqlite3_column_type(q, 6) != SQLITE_NULL;
  r->above_idle_j = sqlite3_column_double(q, 6);
  r->idle_w = sqlite3_column_double(q, 7);
  sqlite3_finalize(q);
  assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
  sqlite3_finalize(q);
  sqlite3_close(h);
}

// 200 W x duration, by counter and by buffer, within 1%; idle subtracted exactly.
static void check_energy(const run_row *r, double idle_w) {
  assert_true(r->has_counter && r->has_buffer);
  double want = kWatts * r->duration_s;
  printf("window %.3f s: counter %.2f J, buffer %.2f J, expected %.2f J\n", r->duration_s, r->counter_j, r->buffer_j,
         want);
  assert_true(fabs(r->counter_j - want) <= 0.01 * want);
  assert_true(fabs(r->buffer_j - want) <= 0.01 * want);
  if (idle_w > 0) {
    assert_true(r->has_above);
    assert_true(fabs(r->idle_w - idle_w) < 1e-9);
    assert_true(fabs(r->above_idle_j - (r->counter_j - idle_w * r->duration_s)) < 1e-6 * want);
  }
}

static void test_meter_measures_and_passes_exit_code(void **state) {
  char db[600], src[700];
  db_path(db, sizeof db, "exit3.db");
  replay_source(src, sizeof src, g_trace);
  char *prog[] = {"sh", "-c", "sleep 1; exit 3", NULL};
  int64_t t0 = lj_mono_ns();
  assert_int_equal(wait_exit_code(start_meter(src, db, "50", prog)), 3);
  double wall = (double)(lj_mono_ns() - t0) / 1e9;
  run_row r;
  read_run(db, &r);
  assert_string_equal(r.status, "complete");
  assert_int_equal(r.exit_code, 3);
  assert_true(r.duration_s >= 1.0 && r.duration_s < wall);
  assert_true(r.samples > 50);  // 1 s of 20 ms buffer samples alone is 50
  check_energy(&r, 50.0);
}

static void test_meter_program_killed(void **state) {
  char db[600], src[700];
  db_path(db, sizeof db, "killed.db");
  replay_source(src, sizeof src, g_trace);
  char *prog[] = {"sh", "-c", "sleep 0.5; kill -KILL $$", NULL};
  assert_int_equal(wait_exit_code(start_meter(src, db, "none", prog)), 128 + SIGKILL);
  run_row r;
  read_run(db, &r);
  assert_string_equal(r.status, "incomplete");
  assert_int_equal(r.exit_code, 128 + SIGKILL);
  check_energy(&r, 0);
}

static void test_meter_ctrl_c(void **state) {
  char db[600], src[700];
  db_path(db, sizeof db, "sigint.db");
  replay_source(src, sizeof src, g_trace);
  char *prog[] = {"sleep", "30", NULL};
  pid_t pid = start_meter(src, db, "none", prog);
  lj_sleep_ns(1500000000);
  assert_int_equal(kill(pid, SIGINT), 0);  // as a script or `kill -INT` would
  int64_t t0 = lj_mono_ns();
  assert_int_equal(wait_exit_code(pid), 130);
  assert_true(lj_mono_ns() - t0 < 5000000000ll);  // the program got the signal and ended
  run_row r;
  read_run(db, &r);
  assert_string_equal(r.status, "incomplete");
  assert_int_equal(r.exit_code, 130);
  assert_true(r.samples > 15);
  assert_true(r.duration_s > 0.3 && r.duration_s < 5.0);
  check_energy(&r, 0);
}

// A stored run replayed through --source replay:STORE gives the same power.
static void test_meter_replays_a_store(void **state) {
  char first[600], second[600], src[700];
  db_path(first, sizeof first, "long.db");
  db_path(second, sizeof second, "again.db");
  replay_source(src, sizeof src, g_trace);
  char *prog_long[] = {"sleep", "2", NULL};
  assert_int_equal(wait_exit_code(start_meter(src, first, "none", prog_long)), 0);
  replay_source(src, sizeof src, first);
  char *prog_short[] = {"sleep", "0.5", NULL};
  assert_int_equal(wait_exit_code(start_meter(src, second, "none", prog_short)), 0);
  run_row r;
  read_run(second, &r);
  assert_string_equal(r.status, "complete");
  check_energy(&r, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_meter_measures_and_passes_exit_code),
      cmocka_unit_test(test_meter_program_killed),
      cmocka_unit_test(test_meter_ctrl_c),
      cmocka_unit_test(test_meter_replays_a_store),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
