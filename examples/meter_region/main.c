// meter_region: measures the GPU energy of a region of this program's own
// code with llamajoule's public meter API (include/llamajoule/meter.h only).
//
//   meter_region [--source nvml|nvidia-smi|replay:FILE] [--idle W | --idle-seconds S] [--work-ms N]
//
// 1. open a source (the GPUs through NVML, nvidia-smi, or a recorded trace);
// 2. start a sampler on it (threads; the program's own thread is never blocked);
// 3. idle baseline: given (--idle W), or measured as a window over a quiet
//    period of this program (--idle-seconds, default 1 s);
// 4. mark a window around the region (here: --work-ms of arithmetic on the
//    CPU, where a GPU program would launch and synchronise its kernels);
// 5. read the window's energy, gross and above idle, both ways the meter
//    measures it, and the flags that say what the figures rest on.
//
// Exit codes: 0 measured, 1 the meter failed, 2 bad command line, 4 no GPU or
// driver (as llamajoule's own commands; docs/cli.md).
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llamajoule/meter.h"

#define NS_PER_S 1000000000LL

static int usage(void) {
  fprintf(stderr,
          "usage: meter_region [--source nvml|nvidia-smi|replay:FILE] [--idle W | --idle-seconds S] [--work-ms N]\n");
  return 2;
}

static int fail(int rc, const char *what) {
  fprintf(stderr, "meter_region: %s: %s (%s)\n", what, lj_error_message(), lj_status_name(rc));
  return rc == LJ_ENODEV ? 4 : 1;
}

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// The measured region: arithmetic for `ms` milliseconds of wall time (time,
// not a fixed count, so that the region lasts as long on any machine).
static double work(long ms) {
  long long end = mono_ns() + ms * 1000000LL;
  double x = 0.5, sum = 0;
  while (mono_ns() < end)
    for (int i = 0; i < 10000; i++) {
      x = 3.9 * x * (1 - x);  // logistic map: nothing for the compiler to fold
      sum += x;
    }
  return sum;
}

static int open_source(const char *spec, lj_source **src) {
  if (!strcmp(spec, "nvml")) return lj_source_open_nvml(src, NULL);
  if (!strcmp(spec, "nvidia-smi")) return lj_source_open_smi(src, NULL);
  if (!strncmp(spec, "replay:", 7)) {
    lj_trace trace;
    lj_trace_init(&trace);
    int rc = lj_trace_read_csv(spec + 7, &trace);
    // realtime = 1: the trace's clock runs with this program's, from its first sample
    if (rc == 0) rc = lj_source_open_replay(src, &trace, 1);
    lj_trace_free(&trace);
    return rc;
  }
  *src = NULL;
  return LJ_EINVAL;  // not reached: main() checked the spec
}

static const char *flags_text(uint32_t f, char *buf, size_t cap) {
  static const char *names[] = {"open", "pending", "short", "no-counter", "no-samples", "counter-reset", "gap",
                                "extrapolated"};
  buf[0] = '\0';
  for (unsigned b = 0; b < sizeof names / sizeof *names; b++)
    if (f & (1u << b)) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "," : "", names[b]);
  return buf[0] ? buf : "none";
}

int main(int argc, char **argv) {
  const char *spec = "nvml";
  double idle_given = -1, idle_seconds = 1.0;
  long work_ms = 1000;
  for (int i = 1; i < argc; i += 2) {  // every option takes a value
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end = NULL;
    if (!strcmp(a, "--source") && v) {
      spec = v;
      if (strcmp(v, "nvml") && strcmp(v, "nvidia-smi") && (strncmp(v, "replay:", 7) || !v[7])) return usage();
    } else if (!strcmp(a, "--idle") && v) {
      idle_given = strtod(v, &end);
      if (*end || !(idle_given >= 0)) return usage();
    } else if (!strcmp(a, "--idle-seconds") && v) {
      idle_seconds = strtod(v, &end);
      if (*end || !(idle_seconds > 0 && idle_seconds <= 60)) return usage();
    } else if (!strcmp(a, "--work-ms") && v) {
      work_ms = strtol(v, &end, 10);
      if (*end || work_ms < 1 || work_ms > 600000) return usage();
    } else {
      return usage();
    }
  }

  lj_source *src;
  int rc = open_source(spec, &src);
  if (rc < 0) return fail(rc, "opening the source");
  int n_dev = lj_source_device_count(src);
  printf("source: %s, %d device%s\n", lj_source_kind(src), n_dev, n_dev == 1 ? "" : "s");
  for (int d = 0; d < n_dev; d++) {
    lj_device_info info;
    lj_source_device_info(src, d, &info);
    printf("  GPU %d: %s %s\n", d, info.name, info.uuid);
  }

  lj_sampler *s;
  if ((rc = lj_sampler_create(&s, src, NULL)) < 0) {  // defaults: docs/meter.md, Sampler
    lj_source_close(src);
    return fail(rc, "creating the sampler");
  }
  if ((rc = lj_sampler_start(s)) < 0) goto out;

  // Idle baseline: a window over a quiet stretch of this program. A CUDA
  // program would open its context first: an idle GPU with a context draws
  // more than one without (docs/limitations.md).
  for (int d = 0; d < n_dev; d++) {
    if (idle_given >= 0) {
      lj_windows_set_idle(lj_sampler_windows(s), d, idle_given);
      printf("idle   GPU %d  %.3f W  given (--idle)\n", d, idle_given);
    }
  }
  if (idle_given < 0) {
    int hi = lj_meter_begin(s, "idle");
    if (hi < 0) { rc = hi; goto out; }
    sleep_s(idle_seconds);
    if ((rc = lj_meter_end(s, "idle")) < 0) goto out;
    for (int d = 0; d < n_dev; d++) {
      lj_window_result r;
      if ((rc = lj_meter_result(s, hi, d, &r, 2 * NS_PER_S)) < 0) goto out;
      // The counter's delta is the better mean over a second; the samples stand in without it.
      int by_counter = !(r.flags & LJ_WINDOW_NO_COUNTER);
      double w = (by_counter ? r.counter_energy_j : r.sample_energy_j) / r.duration_s;
      lj_windows_set_idle(lj_sampler_windows(s), d, w);
      printf("idle   GPU %d  %.3f W  measured: %s over t = %.9f .. %.9f s (%.3f s), %d counter updates\n", d, w,
             by_counter ? "energy counter" : "power samples", (double)r.begin_ns / 1e9, (double)r.end_ns / 1e9,
             r.duration_s, r.counter_updates);
    }
  }

  // The region.
  int h = lj_meter_begin(s, "region");
  if (h < 0) { rc = h; goto out; }
  double checksum = work(work_ms);
  if ((rc = lj_meter_end(s, "region")) < 0) goto out;
  printf("region: %ld ms of arithmetic (checksum %.6g)\n", work_ms, checksum);

  for (int d = n_dev > 1 ? -1 : 0; d < n_dev; d++) {
    lj_window_result r;
    // Waits until readings after the end have arrived (the counter's next update, the next drain).
    if ((rc = lj_meter_result(s, h, d, &r, 2 * NS_PER_S)) < 0) goto out;
    char fl[160];
    if (d < 0) printf("all GPUs\n");
    else printf("region GPU %d  t = %.9f .. %.9f s (%.3f s on the source's clock)\n", d, (double)r.begin_ns / 1e9,
                (double)r.end_ns / 1e9, r.duration_s);
    printf("  energy counter  %12.3f J gross  %12.3f J above idle (%.3f W)  %d counter updates\n",
           r.counter_energy_j, r.counter_above_idle_j, r.idle_power_w, r.counter_updates);
    printf("  power samples   %12.3f J gross  %12.3f J above idle  %d samples of %s, trapezoid\n", r.sample_energy_j,
           r.sample_above_idle_j, r.n_samples, lj_reading_name((lj_reading)r.integrated_reading));
    printf("  mean %.1f W, peak %.1f W, flags: %s\n", r.mean_power_w, r.peak_power_w,
           flags_text(r.flags, fl, sizeof fl));
    if (r.flags & LJ_WINDOW_SHORT)
      printf("  (shorter than the counter's update period: its counter energy is an interpolation)\n");
  }

  lj_sampler_stats st;
  lj_sampler_stats_get(s, &st);
  printf("sampler: %.2f%% of one core, %llu samples, %llu dropped\n", st.cpu_percent,
         (unsigned long long)st.samples, (unsigned long long)st.dropped);

out:
  if (rc >= 0) rc = lj_sampler_stop(s);
  else lj_sampler_stop(s);
  lj_sampler_free(s);
  lj_source_close(src);
  if (rc < 0) return fail(rc, "measuring");
  return 0;
}
