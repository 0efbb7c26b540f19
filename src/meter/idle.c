// Idle baseline: mean and spread of a device's power while nothing runs,
// from the energy counter (delta / time; spread over its update intervals)
// and from the power samples (driver buffer, else instant power).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "llamajoule/meter.h"

int lj_idle_from_samples(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns, lj_idle_result *out) {
  memset(out, 0, sizeof *out);
  out->device = dev;
  out->begin_ns = begin_ns;
  out->end_ns = end_ns;
  out->seconds = (double)(end_ns - begin_ns) * 1e-9;
  int have_buffer = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i].device == dev && s[i].reading == LJ_READING_POWER_SAMPLE && s[i].t_ns >= begin_ns && s[i].t_ns <= end_ns)
      have_buffer = 1;
  int sample_reading = have_buffer ? LJ_READING_POWER_SAMPLE : LJ_READING_POWER_INSTANT;
  // counter: energy between value changes; Welford for the spread
  double energy = 0, span = 0, mean = 0, m2 = 0;
  int have_prev = 0, n_int = 0;
  double prev_v = 0;
  int64_t prev_t = 0;
  double s_sum = 0, s_sq = 0, temp_sum = 0;
  int n_temp = 0;
  for (size_t i = 0; i < n; i++) {
    const lj_sample *x = &s[i];
    if (x->device != dev || x->t_ns < begin_ns || x->t_ns > end_ns) continue;
    if (x->reading == LJ_READING_ENERGY) {
      if (!have_prev) {
        have_prev = 1;
        prev_v = x->value;
        prev_t = x->t_ns;
        continue;
      }
      if (x->value == prev_v || x->t_ns <= prev_t) continue;  // not updated yet
      double de = x->value > prev_v ? x->value - prev_v : x->value;  // below: counter reset
      double dt = (double)(x->t_ns - prev_t) * 1e-9;
      energy += de;
      span += dt;
      double p = de / dt, d = p - mean;
      n_int++;
      mean += d / n_int;
      m2 += d * (p - mean);
      prev_v = x->value;
      prev_t = x->t_ns;
    } else if (x->reading == sample_reading) {
      s_sum += x->value;
      s_sq += x->value * x->value;
      out->n_samples++;
    } else if (x->reading == LJ_READING_TEMPERATURE) {
      temp_sum += x->value;
      n_temp++;
    }
  }
  out->n_counter_updates = n_int;
  if (span > 0) out->counter_mean_w = energy / span;
  if (n_int > 1) out->counter_stddev_w = sqrt(m2 / (n_int - 1));
  if (out->n_samples) {
    out->sample_mean_w = s_sum / out->n_samples;
    double var = out->n_samples > 1 ? (s_sq - s_sum * s_sum / out->n_samples) / (out->n_samples - 1) : 0;
    out->sample_stddev_w = var > 0 ? sqrt(var) : 0;
  }
  if (n_temp) out->temperature_c = temp_sum / n_temp;
  out->mean_w = n_int > 0 ? out->counter_mean_w : out->sample_mean_w;
  if (n_int == 0 && out->n_samples == 0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "idle baseline of device %d: no counter updates and no power samples in %.2f s",
                   dev, out->seconds);
  return 0;
}

typedef struct {
  lj_trace trace;
  uint64_t devs;  // bit d: keep device d's samples
} idle_sink_state;

static int idle_sink(void *user, const lj_sample *s, size_t n) {
  idle_sink_state *st = user;
  for (size_t i = 0; i < n; i++)
    if (s[i].device < 64 && ((st->devs >> s[i].device) & 1) && lj_trace_append(&st->trace, &s[i], 1) < 0)
      return LJ_ENOMEM;
  return 0;
}

int lj_measure_idle(lj_source *src, int dev, double seconds, lj_idle_result *out) {
  return lj_measure_idle_kept(src, dev, seconds, NULL, out);
}

int lj_measure_idle_kept(lj_source *src, int dev, double seconds, lj_trace *keep, lj_idle_result *out) {
  return lj_measure_idle_devices(src, &dev, 1, seconds, keep, out);
}

int lj_measure_idle_devices(lj_source *src, const int *devs, int n_devs, double seconds, lj_trace *keep,
                            lj_idle_result *out) {
  memset(out, 0, (size_t)(n_devs > 0 ? n_devs : 0) * sizeof *out);
  if (n_devs < 1) return LJ_FAIL(LJ_EINVAL, "idle: no device to measure");
  idle_sink_state st;
  memset(&st, 0, sizeof st);
  for (int i = 0; i < n_devs; i++) {
    if (devs[i] < 0 || devs[i] >= lj_source_device_count(src) || devs[i] >= 64)
      return LJ_FAIL(LJ_EINVAL, "idle: no device %d (the source has %d)", devs[i], lj_source_device_count(src));
    if ((st.devs >> devs[i]) & 1) return LJ_FAIL(LJ_EINVAL, "idle: device %d named twice", devs[i]);
    st.devs |= 1ull << devs[i];
  }
  if (!(seconds > 0) || seconds > 3600) return LJ_FAIL(LJ_EINVAL, "idle: seconds must be in (0, 3600], got %g", seconds);
  lj_trace_init(&st.trace);
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.field_readings = LJ_READING_BIT(LJ_READING_TEMPERATURE) | LJ_READING_BIT(LJ_READING_POWER_INSTANT);
  c.field_period_ns = 100 * 1000000LL;  // idle: no need for 10 ms fields
  c.counter_period_ns = 100 * 1000000LL; // every counter update: the spread is over update intervals
  c.devices = st.devs;                   // the GPUs asked for, all at once, each on its own threads
  c.sink = idle_sink;
  c.sink_user = &st;
  lj_sampler *s;
  LJ_TRY(lj_sampler_create(&s, src, &c));
  int rc = lj_sampler_start(s);
  int64_t begin = lj_sampler_now(s);
  if (rc == 0) lj_sleep_ns((int64_t)(seconds * 1e9));
  int64_t end = lj_sampler_now(s);
  int stop_rc = lj_sampler_stop(s);
  if (rc == 0) rc = stop_rc;
  lj_sampler_free(s);
  if (rc == 0) {
    lj_trace_sort(&st.trace);
    for (int i = 0; i < n_devs && rc == 0; i++)
      rc = lj_idle_from_samples(st.trace.samples, st.trace.n_samples, devs[i], begin, end, &out[i]);
    if (rc == 0 && keep) rc = lj_trace_append(keep, st.trace.samples, st.trace.n_samples);
  }
  lj_trace_free(&st.trace);
  return rc;
}
