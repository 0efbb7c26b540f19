// The run's time series for the power chart, written as plain numbers: the
// driver's power samples, instant power, SM clock and temperature of the
// profiled GPU, times in s from the first sample; and the spans in which the
// driver held the clocks down (throttle reasons that limit them). Numbers
// only, so nothing in them needs escaping; ~200,000 samples stay a few MB.
#include <math.h>
#include <stdio.h>

#include "common/error.h"
#include "report/report_page.h"

static const struct {
  lj_reading reading;
  const char *name, *unit;
  int decimals;  // the reading's resolution
} kSeries[] = {
    {LJ_READING_POWER_SAMPLE, "power (driver samples)", "W", 2},
    {LJ_READING_POWER_INSTANT, "power (instant)", "W", 2},
    {LJ_READING_CLOCK_SM, "SM clock", "MHz", 0},
    {LJ_READING_TEMPERATURE, "temperature", "\u00b0C", 1},
};

// NVML clocks-event reasons that hold the clocks below what the work asks for: software power
// cap, hardware slowdown, software and hardware thermal, power brake (not idle, application
// clocks, sync boost, display clock).
#define LIMITING_REASONS ((1u << 2) | (1u << 3) | (1u << 5) | (1u << 6) | (1u << 7))

// [begin_s, end_s, mask] for each run of throttle readings with a limiting reason; a span lasts
// until the next reading (the last one: until the last sample).
static void write_throttle(FILE *f, const lj_trace *t, int dev, int64_t t0) {
  int64_t begin = 0, end_all = t->n_samples ? t->samples[t->n_samples - 1].t_ns : 0;
  uint32_t open = 0;
  int first = 1;
  for (size_t i = 0; i <= t->n_samples; i++) {
    const lj_sample *s = i < t->n_samples ? &t->samples[i] : NULL;
    if (s && (s->device != dev || s->reading != LJ_READING_THROTTLE || !isfinite(s->value))) continue;
    uint32_t mask = s ? (uint32_t)s->value & LIMITING_REASONS : 0;
    int64_t now = s ? s->t_ns : end_all;
    if (open && mask != open) {
      fprintf(f, "%s[%.4f,%.4f,%u]", first ? "" : ",", (double)(begin - t0) * 1e-9, (double)(now - t0) * 1e-9, open);
      first = 0;
    }
    if (mask != open) begin = now;
    open = mask;
  }
}

int lj_report_write_series(FILE *f, const lj_report_run *r) {
  const lj_trace *t = &r->trace;
  int dev = r->prof.cond.device.index >= 0 && r->prof.cond.device.index < t->n_devices ? r->prof.cond.device.index : 0;
  int64_t t0 = t->n_samples ? t->samples[0].t_ns : 0;
  fprintf(f, "{\"t0_ns\":%lld,\"series\":[", (long long)t0);
  int first_series = 1;
  for (size_t k = 0; k < sizeof kSeries / sizeof kSeries[0]; k++) {
    size_t n = 0;
    for (size_t i = 0; i < t->n_samples; i++)
      n += t->samples[i].device == dev && t->samples[i].reading == kSeries[k].reading && isfinite(t->samples[i].value);
    if (!n) continue;
    fprintf(f, "%s{\"name\":\"%s\",\"unit\":\"%s\",\"data\":[", first_series ? "" : ",", kSeries[k].name,
            kSeries[k].unit);
    first_series = 0;
    int first = 1;
    for (size_t i = 0; i < t->n_samples; i++) {
      const lj_sample *s = &t->samples[i];
      if (s->device != dev || s->reading != kSeries[k].reading || !isfinite(s->value)) continue;
      if (!first) fputc(',', f);
      first = 0;
      fprintf(f, "%.4f,%.*f", (double)(s->t_ns - t0) * 1e-9, kSeries[k].decimals, s->value);
    }
    fputs("]}", f);
  }
  fputs("],\"throttle\":[", f);
  write_throttle(f, t, dev, t0);
  fputs("]}", f);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "report: writing the power series failed") : 0;
}
