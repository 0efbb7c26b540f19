// nvidia-smi source: for users who can only run the command. A reader
// thread reads `nvidia-smi --query-gpu=... --format=csv,noheader,nounits
// -lms N` through a pipe; every line becomes samples (all readings are
// streams). nvidia-smi has no energy counter: the source integrates power
// (instant, else the 1 s average) into an ENERGY stream flagged
// LJ_SAMPLE_INTERPOLATED.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/error.h"
#include "meter/clock_map.h"
#include "meter/smi_parse.h"
#include "meter/source_impl.h"
#include "meter/visible_devices.h"

#define QUEUE_CAP 65536
#define MAX_GPUS LJ_VISIBLE_MAX

typedef struct {
  lj_sample *q;  // (QUEUE_CAP) ring
  size_t head, tail;
  // energy integration
  int have_prev;
  int64_t prev_t;
  double prev_w, energy_j;
  lj_source_stats stats;
} smi_device;

typedef struct {
  const lj_smi_layout *layout;
  char command[512];
  pid_t pid;
  FILE *pipe;
  pthread_t reader;
  int reader_started;
  pthread_mutex_t lock;
  smi_device *dev;       // (n_devices)
  int smi_to_dev[MAX_GPUS];  // nvidia-smi index -> device, -1 when not metered
  int64_t local_offset_us;   // local time - UTC
  lj_clock_map clock;
  int parse_errors_warned;
} smi_impl;

// ---- running the command

static int find_in_path(const char *cmd, char *out, size_t cap) {
  if (strchr(cmd, '/')) {
    snprintf(out, cap, "%s", cmd);
    return access(cmd, X_OK) == 0 ? 0 : -1;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    snprintf(out, cap, "%.*s/%s", (int)len, path, cmd);
    if (len && access(out, X_OK) == 0) return 0;
    if (!colon) break;
    path = colon + 1;
  }
  return -1;
}

// Starts `cmd args...` with stdout (and stderr when merge) on a pipe.
static int spawn(const char *cmd, char *const argv[], int merge_stderr, pid_t *pid, FILE **out) {
  int fd[2];
  if (pipe(fd) != 0) return LJ_FAIL(LJ_EIO, "pipe for %s: %s", cmd, strerror(errno));
  pid_t p = fork();
  if (p < 0) {
    close(fd[0]);
    close(fd[1]);
    return LJ_FAIL(LJ_EIO, "fork for %s: %s", cmd, strerror(errno));
  }
  if (p == 0) {
    dup2(fd[1], 1);
    if (merge_stderr) dup2(fd[1], 2);
    close(fd[0]);
    close(fd[1]);
    execv(cmd, argv);
    _exit(127);
  }
  close(fd[1]);
  *out = fdopen(fd[0], "r");
  *pid = p;
  if (!*out) {
    close(fd[0]);
    kill(p, SIGTERM);
    waitpid(p, NULL, 0);
    return LJ_FAIL(LJ_EIO, "fdopen for %s: %s", cmd, strerror(errno));
  }
  return 0;
}

static void query_arg(const lj_smi_layout *l, char *buf, size_t cap) {
  char q[512];
  lj_smi_query_string(l, q, sizeof q);
  snprintf(buf, cap, "--query-gpu=%s", q);
}

// One query without -lms: the GPUs and their readings. *output gets all of
// stdout+stderr (for the error message), *status the exit status.
static int run_once(const char *cmd, const lj_smi_layout *l, char *output, size_t cap, int *status) {
  char q[600];
  query_arg(l, q, sizeof q);
  char *argv[] = {(char *)cmd, q, (char *)"--format=csv,noheader,nounits", NULL};
  pid_t pid;
  FILE *f;
  LJ_TRY(spawn(cmd, argv, 1, &pid, &f));
  size_t n = fread(output, 1, cap - 1, f);
  output[n] = '\0';
  while (fgetc(f) != EOF) {
  }
  fclose(f);
  int st = 0;
  waitpid(pid, &st, 0);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return 0;
}

// ---- streaming

static void push(smi_impl *m, int dev, const lj_sample *s) {
  smi_device *d = &m->dev[dev];
  if (d->head - d->tail == QUEUE_CAP) {
    d->stats.buffer_gaps++;  // the consumer is too slow: drop, never block the pipe
    return;
  }
  d->q[d->head++ % QUEUE_CAP] = *s;
  d->stats.buffer_samples++;
}

static void record_samples(smi_impl *m, const lj_smi_record *r, int64_t arrival_ns) {
  if (r->index < 0 || r->index >= MAX_GPUS || m->smi_to_dev[r->index] < 0) return;
  int dev = m->smi_to_dev[r->index];
  smi_device *d = &m->dev[dev];
  // nvidia-smi's timestamp (ms, local time) onto the monotonic clock; a clock
  // change or a slow pipe shows as a large difference: use the arrival then
  int64_t t = lj_clock_map_wall_us_to_mono_ns(&m->clock, r->local_us - m->local_offset_us);
  uint8_t flags = LJ_SAMPLE_SOURCE_TIME;
  if (t > arrival_ns + 100000000LL || t < arrival_ns - 2000000000LL) {
    t = arrival_ns;
    flags = 0;
  }
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t;
  s.read_ns = arrival_ns;
  s.source_us = r->local_us - m->local_offset_us;
  s.device = (uint16_t)dev;
  s.flags = flags;
  for (int k = 0; k < LJ_READING_COUNT; k++) {
    if (!(r->present & LJ_READING_BIT(k))) continue;
    s.reading = (uint8_t)k;
    s.value = r->value[k];
    push(m, dev, &s);
  }
  int pw = (r->present & LJ_READING_BIT(LJ_READING_POWER_INSTANT)) ? LJ_READING_POWER_INSTANT
           : (r->present & LJ_READING_BIT(LJ_READING_POWER_AVG)) ? LJ_READING_POWER_AVG
                                                                 : -1;
  if (pw >= 0) {
    if (d->have_prev && t > d->prev_t) d->energy_j += 0.5 * (d->prev_w + r->value[pw]) * (double)(t - d->prev_t) * 1e-9;
    if (!d->have_prev || t > d->prev_t) {
      d->have_prev = 1;
      d->prev_t = t;
      d->prev_w = r->value[pw];
      s.reading = LJ_READING_ENERGY;
      s.value = d->energy_j;
      s.flags = flags | LJ_SAMPLE_INTERPOLATED;
      push(m, dev, &s);
    }
  }
}

static void *reader_main(void *arg) {
  lj_source *src = arg;
  smi_impl *m = src->impl;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int line_no = 0;
  while ((len = getline(&line, &cap, m->pipe)) > 0) {
    line_no++;
    int64_t arrival = lj_mono_ns();
    if (line[len - 1] == '\n') len--;
    lj_smi_record r;
    pthread_mutex_lock(&m->lock);
    if (lj_smi_parse_line(m->layout, line, (size_t)len, "nvidia-smi", line_no, &r) == 0) {
      if (arrival - m->clock.updated_ns > 1000000000LL) lj_clock_map_update(&m->clock, 3);
      record_samples(m, &r, arrival);
    } else {
      for (int d = 0; d < src->n_devices; d++) m->dev[d].stats.read_errors++;
      if (!m->parse_errors_warned++) lj_warn("%s", lj_error_message());
    }
    pthread_mutex_unlock(&m->lock);
  }
  free(line);
  return NULL;
}

static int smi_drain(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out) {
  smi_impl *m = src->impl;
  pthread_mutex_lock(&m->lock);
  smi_device *d = &m->dev[dev];
  size_t n = 0;
  while (n < cap && d->tail < d->head) out[n++] = d->q[d->tail++ % QUEUE_CAP];
  pthread_mutex_unlock(&m->lock);
  *n_out = n;
  return 0;
}

static int smi_stats(lj_source *src, int dev, lj_source_stats *out) {
  smi_impl *m = src->impl;
  pthread_mutex_lock(&m->lock);
  *out = m->dev[dev].stats;
  out->wall_offset_ns = (double)m->clock.offset_ns;
  out->wall_offset_uncertainty_ns = m->clock.uncertainty_ns;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static void smi_close(lj_source *src) {
  smi_impl *m = src->impl;
  if (!m) return;
  if (m->pid > 0) kill(m->pid, SIGTERM);
  if (m->reader_started) pthread_join(m->reader, NULL);
  if (m->pipe) fclose(m->pipe);
  if (m->pid > 0) waitpid(m->pid, NULL, 0);
  if (m->dev)
    for (int i = 0; i < src->n_devices; i++) free(m->dev[i].q);
  free(m->dev);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

static const lj_source_ops smi_ops = {
    .kind = "nvidia-smi",
    .drain = smi_drain,
    .stats = smi_stats,
    .close = smi_close,
};

void lj_smi_options_default(lj_smi_options *o) {
  memset(o, 0, sizeof *o);
  o->period_ms = 20;
  o->respect_cuda_visible_devices = 1;
}

// Parses the discovery output into records; returns how many.
static int parse_discovery(const lj_smi_layout *l, char *text, lj_smi_record *rec, int max) {
  int n = 0, line_no = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    LJ_TRY(lj_smi_parse_line(l, line, strlen(line), "nvidia-smi", line_no, &rec[n]));
    n++;
  }
  return n;
}

int lj_source_open_smi(lj_source **out, const lj_smi_options *opt) {
  *out = NULL;
  lj_smi_options o;
  if (opt) o = *opt; else lj_smi_options_default(&o);
  if (o.period_ms <= 0) o.period_ms = 20;
  const char *cmd = o.command ? o.command : "nvidia-smi";
  char path[512];
  if (find_in_path(cmd, path, sizeof path) != 0)
    return LJ_FAIL(LJ_ENODEV, "%s not found%s (no NVIDIA driver installed?)", cmd, strchr(cmd, '/') ? "" : " in PATH");
  // discovery, with the older field names when the driver does not know the new ones
  static char output[1 << 16];
  const lj_smi_layout *layout = lj_smi_layout_default();
  int status;
  LJ_TRY(run_once(path, layout, output, sizeof output, &status));
  if (status != 0 && strstr(output, "not a valid field")) {
    layout = lj_smi_layout_legacy();
    LJ_TRY(run_once(path, layout, output, sizeof output, &status));
  }
  if (status != 0) {
    char *nl = strchr(output, '\n');
    if (nl) *nl = '\0';
    return LJ_FAIL(LJ_ENODEV, "%s failed (exit %d): %s", path, status,
                   output[0] ? output : "no output");
  }
  lj_smi_record rec[MAX_GPUS];
  int n_rec = parse_discovery(layout, output, rec, MAX_GPUS);
  if (n_rec < 0) return lj_fail_context(n_rec, "reading %s's GPU list", path);
  if (n_rec == 0) return LJ_FAIL(LJ_ENODEV, "%s lists no GPU", path);
  // CUDA_VISIBLE_DEVICES: by index or UUID, in its order
  int chosen[MAX_GPUS], n = 0;
  char tokens[LJ_VISIBLE_MAX][LJ_VISIBLE_TOKEN];
  int n_tok = lj_visible_split(o.respect_cuda_visible_devices ? getenv("CUDA_VISIBLE_DEVICES") : NULL, tokens, LJ_VISIBLE_MAX);
  if (n_tok < 0) {
    for (int i = 0; i < n_rec; i++) chosen[n++] = i;
  } else {
    const char *uuids[MAX_GPUS];
    for (int i = 0; i < n_rec; i++) uuids[i] = rec[i].uuid;
    for (int t = 0; t < n_tok; t++) {
      int idx = lj_visible_match(tokens[t], uuids, n_rec);
      if (idx < 0) {
        if (idx == -3) lj_warn("CUDA_VISIBLE_DEVICES entry '%s': MIG ids need the NVML source", tokens[t]);
        else lj_warn("CUDA_VISIBLE_DEVICES entry '%s' names no GPU: ignoring it and the entries after it", tokens[t]);
        break;
      }
      chosen[n++] = idx;
    }
    if (n == 0) return LJ_FAIL(LJ_ENODEV, "CUDA_VISIBLE_DEVICES leaves no GPU of %s visible", path);
  }
  lj_source *src;
  LJ_TRY(lj_source_alloc(&src, &smi_ops, n));
  smi_impl *m = calloc(1, sizeof *m);
  if (m) m->dev = calloc((size_t)n, sizeof *m->dev);
  if (!m || !m->dev) {
    free(m);
    lj_source_close(src);
    return LJ_FAIL(LJ_ENOMEM, "out of memory opening nvidia-smi");
  }
  pthread_mutex_init(&m->lock, NULL);
  src->impl = m;
  m->layout = layout;
  snprintf(m->command, sizeof m->command, "%s", path);
  for (int i = 0; i < MAX_GPUS; i++) m->smi_to_dev[i] = -1;
  for (int i = 0; i < n; i++) {
    const lj_smi_record *r = &rec[chosen[i]];
    lj_device_info *info = &src->devices[i];
    info->index = i;
    info->nvml_index = r->index;
    info->cuda_index = i;
    snprintf(info->name, sizeof info->name, "GPU %d", r->index);
    snprintf(info->uuid, sizeof info->uuid, "%s", r->uuid);
    snprintf(info->pci_bus_id, sizeof info->pci_bus_id, "%s", r->pci_bus_id);
    snprintf(info->source, sizeof info->source, "nvidia-smi");
    info->power_limit_w = (r->present & LJ_READING_BIT(LJ_READING_POWER_LIMIT)) ? r->value[LJ_READING_POWER_LIMIT] : 0;
    info->supported = r->present;
    if (r->present & (LJ_READING_BIT(LJ_READING_POWER_INSTANT) | LJ_READING_BIT(LJ_READING_POWER_AVG)))
      info->supported |= LJ_READING_BIT(LJ_READING_ENERGY);
    info->streamed = info->supported;
    if (r->index >= 0 && r->index < MAX_GPUS) m->smi_to_dev[r->index] = i;
    m->dev[i].q = malloc(QUEUE_CAP * sizeof *m->dev[i].q);
    if (!m->dev[i].q) {
      lj_source_close(src);
      return LJ_FAIL(LJ_ENOMEM, "out of memory opening nvidia-smi");
    }
  }
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  m->local_offset_us = (int64_t)tm.tm_gmtoff * 1000000;
  lj_clock_map_update(&m->clock, 5);
  char q[600], period[32];
  query_arg(layout, q, sizeof q);
  snprintf(period, sizeof period, "--loop-ms=%d", o.period_ms);
  char *argv[] = {m->command, q, (char *)"--format=csv,noheader,nounits", period, NULL};
  int rc = spawn(m->command, argv, 0, &m->pid, &m->pipe);
  if (rc == 0 && pthread_create(&m->reader, NULL, reader_main, src) != 0)
    rc = LJ_FAIL(LJ_ENOMEM, "cannot start the nvidia-smi reader thread");
  else if (rc == 0)
    m->reader_started = 1;
  if (rc < 0) {
    lj_source_close(src);
    return rc;
  }
  *out = src;
  return 0;
}
