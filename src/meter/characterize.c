// Characterisation: read every polled reading back to back (the energy
// counter in its own thread, as its call takes milliseconds), drain the
// driver buffer, and derive update periods, resolutions and call costs.
#include "meter/characterize.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"

#define MAX_READS (1 << 16)
#define ROUND_GAP_NS 500000LL  // between rounds of the fast readings: 0.5 ms resolution, little CPU

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
  if (n == 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void lj_character_from_samples(const lj_sample *s, int n, lj_reading_character *out) {
  memset(out, 0, sizeof *out);
  out->supported = n > 0;
  out->n_reads = n;
  if (n == 0) return;
  double *cost = calloc((size_t)n, sizeof *cost);  // calloc: keeps -O3 -Wmaybe-uninitialized quiet
  double *dt = malloc((size_t)n * sizeof *dt);
  if (!cost || !dt) {
    free(cost);
    free(dt);
    return;
  }
  for (int i = 0; i < n; i++) cost[i] = s[i].read_dur_ns * 1e-3;
  out->call_cost_median_us = median_of(cost, n);
  out->call_cost_max_us = cost[n - 1];
  int n_dt = 0;
  int64_t last_change = 0;
  double res = 0;
  for (int i = 1; i < n; i++) {
    double step = fabs(s[i].value - s[i - 1].value);
    if (step == 0) continue;
    if (res == 0 || step < res) res = step;
    if (out->n_changes > 0) dt[n_dt++] = (double)(s[i].t_ns - last_change) * 1e-6;
    last_change = s[i].t_ns;
    out->n_changes++;
  }
  out->resolution = res;
  if (n_dt > 0) {
    out->update_median_ms = median_of(dt, n_dt);
    out->update_min_ms = dt[0];
    out->update_max_ms = dt[n_dt - 1];
  }
  free(cost);
  free(dt);
}

typedef struct {
  lj_source *src;
  int dev;
  int64_t deadline_ns;
  lj_sample *reads;  // (MAX_READS)
  int n;
} counter_job;

static void *counter_main(void *arg) {
  counter_job *j = arg;
  while (lj_mono_ns() < j->deadline_ns && j->n < MAX_READS)
    if (lj_source_read(j->src, j->dev, LJ_READING_ENERGY, &j->reads[j->n]) == 0) j->n++;
  return NULL;
}

int lj_characterize(lj_source *src, int dev, double seconds, lj_characterization *out) {
  memset(out, 0, sizeof *out);
  out->device = dev;
  lj_device_info info;
  LJ_TRY(lj_source_device_info(src, dev, &info));
  if (!(seconds > 0) || seconds > 600) return LJ_FAIL(LJ_EINVAL, "characterize: seconds must be in (0, 600], got %g", seconds);
  uint32_t polled = info.supported & ~info.streamed;
  lj_sample *reads[LJ_READING_COUNT] = {0};
  int n_reads[LJ_READING_COUNT] = {0};
  lj_sample *buffer = NULL;
  int rc = 0;
  for (int r = 0; r < LJ_READING_COUNT && rc == 0; r++)
    if ((polled & LJ_READING_BIT(r)) || (r == LJ_READING_POWER_SAMPLE && (info.streamed & LJ_READING_BIT(r)))) {
      reads[r] = malloc(MAX_READS * sizeof(lj_sample));
      if (!reads[r]) rc = LJ_FAIL(LJ_ENOMEM, "characterize: out of memory");
    }
  buffer = reads[LJ_READING_POWER_SAMPLE];
  int64_t start = lj_mono_ns(), deadline = start + (int64_t)(seconds * 1e9);
  counter_job job = {.src = src, .dev = dev, .deadline_ns = deadline, .reads = reads[LJ_READING_ENERGY]};
  pthread_t counter;
  int counter_started = 0;
  if (rc == 0 && job.reads) {
    if (pthread_create(&counter, NULL, counter_main, &job) != 0) rc = LJ_FAIL(LJ_ENOMEM, "characterize: cannot start a thread");
    else counter_started = 1;
  }
  int64_t next_drain = start;
  lj_source_stats st0;
  lj_source_stats_get(src, dev, &st0);
  while (rc == 0 && lj_mono_ns() < deadline) {
    for (int r = 0; r < LJ_READING_COUNT; r++) {
      if (r == LJ_READING_ENERGY || !(polled & LJ_READING_BIT(r)) || n_reads[r] >= MAX_READS) continue;
      if (lj_source_read(src, dev, (lj_reading)r, &reads[r][n_reads[r]]) == 0) n_reads[r]++;
    }
    if (buffer && lj_mono_ns() >= next_drain) {
      size_t got = 0;
      int left = MAX_READS - n_reads[LJ_READING_POWER_SAMPLE];
      if (left > 0 && lj_source_drain(src, dev, buffer + n_reads[LJ_READING_POWER_SAMPLE], (size_t)left, &got) == 0)
        n_reads[LJ_READING_POWER_SAMPLE] += (int)got;
      next_drain += 200 * 1000000LL;  // well inside the ~2.4 s the buffer holds
    }
    lj_sleep_ns(ROUND_GAP_NS);
  }
  if (counter_started) pthread_join(counter, NULL);
  n_reads[LJ_READING_ENERGY] = job.n;
  out->seconds = (double)(lj_mono_ns() - start) * 1e-9;
  for (int r = 0; r < LJ_READING_COUNT && rc == 0; r++) {
    if (r == LJ_READING_POWER_SAMPLE || !reads[r]) continue;
    lj_character_from_samples(reads[r], n_reads[r], &out->readings[r]);
  }
  if (rc == 0 && buffer) {
    int n = n_reads[LJ_READING_POWER_SAMPLE];
    lj_reading_character *c = &out->readings[LJ_READING_POWER_SAMPLE];
    lj_character_from_samples(buffer, n, c);
    out->buffer_samples = n;
    // the buffer's interval is between its samples, changed or not
    double *dt = malloc((size_t)(n > 1 ? n : 1) * sizeof *dt);
    if (dt && n > 1) {
      for (int i = 1; i < n; i++) dt[i - 1] = (double)(buffer[i].t_ns - buffer[i - 1].t_ns) * 1e-6;
      out->buffer_interval_median_ms = median_of(dt, n - 1);
      out->buffer_interval_min_ms = dt[0];
      out->buffer_interval_max_ms = dt[n - 2];
    }
    free(dt);
    lj_source_stats st1;
    lj_source_stats_get(src, dev, &st1);
    out->buffer_gaps = st1.buffer_gaps - st0.buffer_gaps;
  }
  out->counter_resolution_j = out->readings[LJ_READING_ENERGY].resolution;
  for (int r = 0; r < LJ_READING_COUNT; r++) free(reads[r]);
  return rc;
}
