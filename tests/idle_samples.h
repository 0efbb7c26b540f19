// Synthetic idle samples for the idle-curve tests: a GPU idling with its temperature falling
// linearly, its power a line in temperature plus deterministic noise. Include after cmocka.h.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "llamajoule/meter.h"

static inline lj_sample idle_reading(int dev, int64_t t_ns, lj_reading what, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.device = (uint8_t)dev, s.t_ns = t_ns, s.reading = (uint8_t)what, s.value = v;
  return s;
}

// Deterministic noise in [-0.5, 0.5] W.
static inline double idle_noise(unsigned i) { return ((i * 2654435761u) % 1001u) / 1000.0 - 0.5; }

// GPU dev idling `secs` s from t0_ns, its temperature falling linearly from t_from to t_to (whole
// degrees, as NVML reports them, every 100 ms), a power sample every 20 ms of
// a_w + slope x (T - tref) + noise. Returns the count written at out.
static inline size_t idle_samples(lj_sample *out, int dev, int64_t t0_ns, double secs, double t_from, double t_to,
                                  double a_w, double tref, double slope) {
  size_t k = 0;
  int steps = (int)(secs * 50);
  double temp = NAN;
  for (int i = 0; i < steps; i++) {
    int64_t t = t0_ns + (int64_t)i * 20000000LL;
    if (i % 5 == 0) {
      temp = round(t_from + (t_to - t_from) * i / steps);
      out[k++] = idle_reading(dev, t, LJ_READING_TEMPERATURE, temp);
    }
    double p = a_w + slope * (temp - tref) + idle_noise((unsigned)k);
    out[k++] = idle_reading(dev, t + 1000 + dev, LJ_READING_POWER_SAMPLE, p);
  }
  return k;
}
