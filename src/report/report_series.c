// The run's time series for the power chart, written as plain numbers: the
// driver's power samples, instant power, SM clock and temperature of the
// profiled GPU, times in s from the first sample. Numbers only, so nothing
// in them needs escaping; ~200,000 samples stay a few MB.
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
  fputs("]}", f);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "report: writing the power series failed") : 0;
}
