// llamajoule meter [-o run.db] [--period-ms N] [--idle auto|none|W|FILE] -- CMD ARGS...
//
// Runs a program and measures the energy and power of every visible GPU for
// its whole run: starts the sampler, opens a window "program", forks and execs
// the program, waits, closes the window, prints a summary per GPU and in
// total, stores everything (-o), and exits with the program's exit code
// (128 + signal when it was killed). Ctrl-C (or SIGTERM/SIGHUP) is forwarded
// to the program; every sample is kept and the run is marked incomplete.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/run_record.h"
#include "cli/run_summary.h"
#include "cli/source_option.h"
#include "common/clock.h"
#include "common/error.h"
#include "llamajoule/meter.h"
#include "store/store.h"

typedef struct {
  const char *out_path;     // -o: store file, NULL = do not store
  const char *source;       // --source
  const char *idle;         // --idle: auto | none | W | FILE
  double field_ms, counter_ms, drain_ms;
  char **prog;              // the program and its arguments (NULL-terminated)
} meter_options;

// The signal handler's only state: the child to forward to and the first
// signal seen (a handler cannot reach anything else).
static volatile sig_atomic_t g_child_pid;
static volatile sig_atomic_t g_signal;

static void forward_signal(int sig, siginfo_t *info, void *context) {
  if (!g_signal) g_signal = sig;
  // Ctrl-C at a terminal reaches the whole foreground group, the program
  // included: forward only what was sent to us alone (kill, a script).
  int from_terminal = info && info->si_code == SI_KERNEL;
  if (g_child_pid > 0 && !from_terminal) kill((pid_t)g_child_pid, sig);
}

enum { kForwardedCount = 3 };
static const int kForwarded[kForwardedCount] = {SIGINT, SIGTERM, SIGHUP};

// `original` keeps the dispositions meter inherited, for the program: one
// started with SIGHUP ignored (nohup) hands that on to what it runs.
static void install_forwarding(struct sigaction original[kForwardedCount]) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < kForwardedCount; i++) sigaction(kForwarded[i], &sa, &original[i]);
}

static void restore_signals(const struct sigaction original[kForwardedCount]) {
  for (int i = 0; i < kForwardedCount; i++) sigaction(kForwarded[i], &original[i], NULL);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule meter [options] -- CMD [ARGS...]\n\n"
          "Runs CMD, samples every visible GPU for its whole run, prints energy and power per GPU\n"
          "and in total (to stderr), and exits with CMD's exit code (128+signal if it was killed).\n\n"
          "options:\n"
          "  -o, --output FILE        store the run (samples, windows, devices) in FILE (SQLite)\n"
          "  --period-ms N            poll power, SM clock, throttle reasons every N ms (default 10)\n"
          "  --drain-period-ms N      drain the driver's power-sample buffer, and read utilisation,\n"
          "                           memory clock, temperature, every N ms (default 250)\n"
          "  --counter-period-ms N    read the energy counter every N ms in the background (default 1000;\n"
          "                           it is also read when the program starts and ends)\n"
          "  --idle auto|none|W|FILE  idle power for 'above idle' energy: auto (default) = newest\n"
          "                           baseline for each GPU in FILE of -o, then in the default store\n"
          "                           (llamajoule idle); W = this many watts per GPU; FILE = a store\n"
          "  --source S               power source: nvml (default), nvidia-smi, or replay:FILE\n"
          "                           (a recorded CSV trace or store, played back)\n"
          "  -h, --help               this help\n\n"
          "exit codes: CMD's own; 127 CMD not found, 126 CMD not executable; 130 interrupted\n"
          "(Ctrl-C: forwarded to CMD, samples kept, run marked incomplete); 1/2/4 as for every\n"
          "command when llamajoule itself fails before CMD starts (4 = no NVIDIA driver or GPU).\n");
}

static int parse_ms(const char *opt, const char *value, double *out) {
  char *end;
  double v = value ? strtod(value, &end) : 0;
  if (!value || end == value || *end || !(v >= 1 && v <= 60000)) {
    fprintf(stderr, "llamajoule: error: meter: %s needs a number of milliseconds in [1, 60000]\n", opt);
    return -1;
  }
  *out = v;
  return 0;
}

// --idle W must be watts in [0, 10000): a usage error like profile's --idle-w
// (auto, none and a store path are resolved later).
static int check_idle(const char *arg) {
  char *end;
  double w = strtod(arg, &end);
  if (end == arg || *end || (w >= 0 && w < 10000)) return 0;
  fprintf(stderr, "llamajoule: error: meter: --idle %s: expected auto, none, a store, or watts in [0, 10000)\n", arg);
  return -1;
}

// 0 ok, 1 help printed, -1 usage error (printed).
static int parse_args(int argc, char **argv, meter_options *o) {
  memset(o, 0, sizeof *o);
  o->idle = "auto";
  o->field_ms = 10, o->counter_ms = 1000, o->drain_ms = 250;
  int i = 1;
  while (i < argc) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (a[0] != '-') break;  // the program starts here
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 1;
    }
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) o->out_path = v;
    else if (!strcmp(a, "--source")) o->source = v;
    else if (!strcmp(a, "--idle")) o->idle = v;
    else if (!strcmp(a, "--period-ms")) { if (parse_ms(a, v, &o->field_ms)) return -1; }
    else if (!strcmp(a, "--counter-period-ms")) { if (parse_ms(a, v, &o->counter_ms)) return -1; }
    else if (!strcmp(a, "--drain-period-ms")) { if (parse_ms(a, v, &o->drain_ms)) return -1; }
    else {
      fprintf(stderr, "llamajoule: error: meter: unknown option '%s' (see llamajoule meter --help)\n", a);
      return -1;
    }
    if (!v) {
      fprintf(stderr, "llamajoule: error: meter: %s needs a value\n", a);
      return -1;
    }
    i += 2;  // the option and its value
  }
  if (o->source && lj_cli_check_source("meter", o->source)) return -1;
  if (check_idle(o->idle)) return -1;
  if (i >= argc) {
    fprintf(stderr, "llamajoule: error: meter: no program given (usage: llamajoule meter [options] -- CMD ARGS...)\n");
    return -1;
  }
  o->prog = argv + i;
  return 0;
}

// ---------------------------------------------------------------- the program

// Forks and execs; an exec failure comes back through a close-on-exec pipe,
// so "not found" is known before any waiting. Returns the pid, or a negative
// lj_status with *exec_errno set when the program could not start.
static pid_t spawn(char **prog, const struct sigaction original[kForwardedCount], int *exec_errno) {
  *exec_errno = 0;
  int fds[2];
  if (pipe(fds) != 0) return LJ_FAIL(LJ_EIO, "meter: pipe: %s", strerror(errno));
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return LJ_FAIL(LJ_EIO, "meter: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    restore_signals(original);
    execvp(prog[0], prog);
    int err = errno;
    ssize_t unused = write(fds[1], &err, sizeof err);
    (void)unused;
    _exit(127);
  }
  close(fds[1]);
  ssize_t n;
  int err = 0;
  while ((n = read(fds[0], &err, sizeof err)) < 0 && errno == EINTR) {
  }
  close(fds[0]);
  if (n == (ssize_t)sizeof err) {
    waitpid(pid, NULL, 0);
    *exec_errno = err;
    return LJ_FAIL(LJ_EINVAL, "meter: cannot run '%s': %s", prog[0],
                   err == ENOENT ? "command not found" : strerror(err));
  }
  return pid;
}

static int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return LJ_EXIT_FAILURE;
}

// Waits for the program, drawing a progress line on a terminal.
static int wait_program(pid_t pid, lj_sampler *s, int handle, int64_t t0) {
  int status = 0, draw = isatty(STDERR_FILENO), drawn = 0;
  int64_t last_draw = t0;  // first line after a second, with something to show
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return LJ_FAIL(LJ_EIO, "meter: waitpid: %s", strerror(errno));
    int64_t now = lj_mono_ns();
    if (draw && now - last_draw >= 1000000000) {
      last_draw = now;
      drawn = 1;
      lj_window_result w;
      if (lj_windows_result(lj_sampler_windows(s), handle, -1, &w) == 0)
        fprintf(stderr, "\rmeter: %.0f s, %.0f J, %.0f W mean%s\033[K", (double)(now - t0) / 1e9,
                w.flags & LJ_WINDOW_NO_COUNTER ? w.sample_energy_j : w.counter_energy_j, w.mean_power_w,
                g_signal ? " (interrupted, waiting for the program)" : "");
    }
    lj_sleep_ns(20000000);
  }
  if (drawn) fprintf(stderr, "\r\033[K");
  return status;
}

// ---------------------------------------------------------------- idle baselines

static int resolve_idle(const char *arg, lj_store *run_store, const lj_device_info *devs, int n, double *idle_w,
                        char origin[][1200]) {
  char *end;
  double w = strtod(arg, &end);
  for (int d = 0; d < n; d++) {
    idle_w[d] = 0;
    if (!strcmp(arg, "none")) {
      snprintf(origin[d], 1200, "none (--idle none)");
    } else if (end != arg && *end == '\0') {
      if (!(w >= 0 && w < 10000)) return LJ_FAIL(LJ_EINVAL, "--idle %s: expected watts in [0, 10000)", arg);
      idle_w[d] = w;
      snprintf(origin[d], 1200, "given (--idle %s)", arg);
    } else {
      int from_file = strcmp(arg, "auto") != 0;
      lj_idle_baseline b;
      int found = lj_find_idle_baseline(from_file ? NULL : run_store, from_file ? arg : NULL, devs[d].uuid, &b);
      if (found < 0) return lj_fail_context(found, "--idle %s", arg);
      if (!found) {
        snprintf(origin[d], 1200, "none found for %s (run 'llamajoule idle' first)", devs[d].uuid);
        continue;
      }
      idle_w[d] = b.mean_w;
      time_t when = (time_t)(b.measured_wall_ns / 1000000000);
      struct tm tm;
      char stamp[32];
      strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M UTC", gmtime_r(&when, &tm));
      snprintf(origin[d], 1200, "%s (measured %s, %.0f s, %s, %.1f C)", b.origin, stamp, b.seconds, b.context,
               b.temperature_c);
      // Keep a copy with the run, so its file explains itself.
      if (run_store && strncmp(b.origin, lj_store_path(run_store), strlen(lj_store_path(run_store)))) {
        b.run_id = 0;  // the run that measured it lives in the other file (b.origin names it)
        LJ_TRY(lj_store_add_idle_baseline(run_store, &b));
      }
    }
  }
  return 0;
}

// ---------------------------------------------------------------- the command

typedef struct {
  lj_source *src;
  lj_store *store;
  lj_sample_writer *writer;
  lj_sampler *sampler;
  int64_t run_id;
  int n_dev;
  lj_device_info *devs;
  double *idle_w;
  char (*idle_origin)[1200];
} meter_session;

static void free_session(meter_session *m) {
  lj_sampler_free(m->sampler);
  lj_sample_writer_free(m->writer);
  lj_store_close(m->store);
  lj_source_close(m->src);
  free(m->devs);
  free(m->idle_w);
  free(m->idle_origin);
}

// Everything that must work before the program starts: source, store, run
// record, baselines, sampler. A failure here leaves the program unstarted.
static int prepare(meter_session *m, const meter_options *o, int argc, char **argv) {
  LJ_TRY(lj_cli_open_source(o->source, &m->src));
  m->n_dev = lj_source_device_count(m->src);
  if (m->n_dev <= 0) return LJ_FAIL(LJ_ENODEV, "meter: no GPU visible to the %s source", lj_source_kind(m->src));
  m->devs = calloc((size_t)m->n_dev, sizeof *m->devs);
  m->idle_w = calloc((size_t)m->n_dev, sizeof *m->idle_w);
  m->idle_origin = calloc((size_t)m->n_dev, sizeof *m->idle_origin);
  if (!m->devs || !m->idle_w || !m->idle_origin) return LJ_FAIL(LJ_ENOMEM, "meter: out of memory");
  for (int d = 0; d < m->n_dev; d++) LJ_TRY(lj_source_device_info(m->src, d, &m->devs[d]));

  if (o->out_path) {
    char path[1024];
    LJ_TRY(lj_cli_begin_run(o->out_path, "meter", o->source, argc, argv, &m->store, &m->run_id, path, sizeof path));
    for (int d = 0; d < m->n_dev; d++) LJ_TRY(lj_store_add_device(m->store, m->run_id, &m->devs[d]));
    LJ_TRY(lj_sample_writer_create(m->store, m->run_id, &m->writer));
  }
  LJ_TRY(resolve_idle(o->idle, m->store, m->devs, m->n_dev, m->idle_w, m->idle_origin));

  lj_sampler_config cfg;
  lj_sampler_config_default(&cfg);
  cfg.field_period_ns = (int64_t)(o->field_ms * 1e6);
  cfg.counter_period_ns = (int64_t)(o->counter_ms * 1e6);
  cfg.drain_period_ns = (int64_t)(o->drain_ms * 1e6);
  if (m->writer) {
    cfg.sink = lj_sample_writer_sink;
    cfg.sink_user = m->writer;
  }
  LJ_TRY(lj_sampler_create(&m->sampler, m->src, &cfg));
  for (int d = 0; d < m->n_dev; d++) lj_windows_set_idle(lj_sampler_windows(m->sampler), d, m->idle_w[d]);
  return 0;
}

// Samples that could not reach the store go to a CSV trace beside it (or in
// /tmp), so nothing measured is lost; the path is printed.
static void save_unwritten(meter_session *m, const char *out_path) {
  size_t n = lj_sample_writer_pending(m->writer);
  lj_trace t;
  lj_trace_init(&t);
  int rc = 0;
  for (int d = 0; rc == 0 && d < m->n_dev; d++) rc = lj_trace_add_device(&t, &m->devs[d]);
  if (rc == 0) rc = lj_trace_append(&t, lj_sample_writer_pending_samples(m->writer), n);
  char path[1100];
  snprintf(path, sizeof path, "%s.unwritten.csv", out_path);
  if (rc == 0 && lj_trace_write_csv(&t, path) != 0) {
    snprintf(path, sizeof path, "/tmp/llamajoule-meter-%ld.unwritten.csv", (long)getpid());
    rc = lj_trace_write_csv(&t, path);
  }
  if (rc == 0)
    lj_warn("%zu samples that could not be stored were saved to %s (a CSV trace: --source replay:%s)", n, path, path);
  else
    lj_warn("%zu samples could not be saved anywhere: %s", n, lj_error_message());
  lj_trace_free(&t);
}

// Windows, metrics and the run's end; returns the first store error.
static int record(meter_session *m, int handle, const meter_summary *sum, int status) {
  if (!m->store) return 0;
  int64_t parent = 0;
  lj_window_result w;
  LJ_TRY(lj_windows_result(lj_sampler_windows(m->sampler), handle, -1, &w));
  LJ_TRY(lj_store_add_window(m->store, m->run_id, &w, 0, &parent));
  for (int d = 0; d < m->n_dev; d++) {
    LJ_TRY(lj_windows_result(lj_sampler_windows(m->sampler), handle, d, &w));
    LJ_TRY(lj_store_add_window(m->store, m->run_id, &w, parent, NULL));
    char name[64];
    snprintf(name, sizeof name, "idle_w.gpu%d", d);
    LJ_TRY(lj_store_add_metric(m->store, m->run_id, name, m->idle_w[d], "W"));
  }
  LJ_TRY(lj_store_add_metric(m->store, m->run_id, "program_wall_s", sum->program_wall_s, "s"));
  LJ_TRY(lj_store_add_metric(m->store, m->run_id, "sampler_cpu_percent", sum->stats.cpu_percent, "% of one core"));
  LJ_TRY(lj_store_add_metric(m->store, m->run_id, "samples", (double)sum->stats.samples, "count"));
  LJ_TRY(lj_store_add_metric(m->store, m->run_id, "samples_dropped", (double)sum->stats.dropped, "count"));
  LJ_TRY(lj_store_add_metric(m->store, m->run_id, "read_errors", (double)sum->stats.read_errors, "count"));
  LJ_TRY(lj_store_add_metric(m->store, m->run_id, "buffer_gaps", (double)sum->stats.buffer_gaps, "count"));
  return lj_store_end_run(m->store, m->run_id, status, sum->exit_code);
}

int lj_cmd_meter(int argc, char **argv) {
  meter_options o;
  int parsed = parse_args(argc, argv, &o);
  if (parsed != 0) return parsed > 0 ? LJ_EXIT_OK : LJ_EXIT_USAGE;

  // Handlers first: Ctrl-C while starting up ends meter in order, recorded.
  struct sigaction original[kForwardedCount];
  install_forwarding(original);
  meter_session m;
  memset(&m, 0, sizeof m);
  int rc = prepare(&m, &o, argc, argv);
  if (rc == 0 && g_signal) rc = LJ_FAIL(LJ_EINTERRUPTED, "meter: interrupted before the program started");
  if (rc < 0) {
    int code = lj_report_error(rc);
    if (m.store) lj_store_end_run(m.store, m.run_id, g_signal ? LJ_RUN_INCOMPLETE : LJ_RUN_FAILED, code);
    restore_signals(original);
    free_session(&m);
    return code;
  }

  rc = lj_sampler_start(m.sampler);
  // Start read the counter once; one counter update (~100 ms) later the begin
  // read (lj_meter_begin) lands on a fresh value, and the two bracket the begin.
  if (rc == 0) lj_sleep_ns(150 * 1000000LL);
  int handle = rc == 0 ? lj_meter_begin(m.sampler, "program") : rc;
  int64_t t0 = lj_mono_ns();
  int exec_errno = 0;
  pid_t pid = handle < 0    ? handle
              : g_signal    ? LJ_FAIL(LJ_EINTERRUPTED, "meter: interrupted before the program started")
                            : spawn(o.prog, original, &exec_errno);
  meter_summary sum;
  memset(&sum, 0, sizeof sum);
  int wait_status = 0;
  if (pid > 0) {
    g_child_pid = pid;
    if (g_signal) kill(pid, g_signal);  // arrived between fork and here: not forwarded yet
    wait_status = wait_program(pid, m.sampler, handle, t0);
    g_child_pid = 0;
  }
  sum.program_wall_s = (double)(lj_mono_ns() - t0) / 1e9;
  if (handle >= 0) lj_meter_end(m.sampler, "program");
  if (pid < 0 || wait_status < 0) {
    // The program never ran (or could not be waited for): nothing to summarise.
    int code = exec_errno ? (exec_errno == ENOENT ? 127 : 126) : lj_exit_code(pid < 0 ? (int)pid : wait_status);
    lj_report_error(pid < 0 ? (int)pid : wait_status);
    lj_sampler_stop(m.sampler);
    if (m.writer) lj_sample_writer_finish(m.writer);
    if (m.store) lj_store_end_run(m.store, m.run_id, g_signal ? LJ_RUN_INCOMPLETE : LJ_RUN_FAILED, code);
    restore_signals(original);
    free_session(&m);
    return code;
  }

  // Wait (briefly) for the readings that close the window, then stop.
  lj_window_result ignored;
  // (the end read is asked for by lj_meter_end; a drain period brings the buffer past the end)
  lj_meter_result(m.sampler, handle, -1, &ignored, (int64_t)(o.drain_ms * 3e6) + 500000000);
  lj_sampler_stop(m.sampler);
  lj_sampler_stats_get(m.sampler, &sum.stats);

  sum.exit_code = exit_code_of(wait_status);
  sum.signal = (int)g_signal;
  if (sum.signal) sum.exit_code = 128 + sum.signal;  // interrupted: 130 for Ctrl-C
  int killed = WIFSIGNALED(wait_status);
  int run_status = sum.signal || killed ? LJ_RUN_INCOMPLETE : LJ_RUN_COMPLETE;

  int store_rc = 0;
  if (m.writer && lj_sample_writer_finish(m.writer) < 0) {
    store_rc = lj_report_error(LJ_EIO);
    save_unwritten(&m, o.out_path);
  }
  int rec_rc = record(&m, handle, &sum, run_status);
  if (rec_rc < 0) store_rc = lj_report_error(rec_rc);

  lj_meter_summary_print(stderr, &sum, o.prog, lj_sampler_windows(m.sampler), handle, m.devs, m.n_dev,
                         (const char(*)[1200])m.idle_origin);
  if (m.store && store_rc == 0)
    fprintf(stderr, "stored: %s, run %lld (%s)\n", o.out_path, (long long)m.run_id, lj_run_status_name(run_status));
  restore_signals(original);
  free_session(&m);
  // The program's exit code, unless the measurement itself could not be stored.
  return store_rc ? LJ_EXIT_FAILURE : sum.exit_code;
}
