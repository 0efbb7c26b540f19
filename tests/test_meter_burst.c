// A GEMM burst as the driver shows it, built from an analytic power signal:
// 120 W idle, 625 W for [1.0 s, 3.0 s). The driver buffer samples the true
// power at jittered 9..47 ms intervals; the energy counter updates every
// 100 ms (at phase 37 ms) and is read every 100 ms (at phase 3 ms), so each
// read returns the energy as of the last update: the counter lags. Windows
// are computed from the committed CSV trace (tests/data/traces/
// gemm_burst_synthetic.csv), which the test also regenerates and compares.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "llamajoule/meter.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define T0 (10 * SEC)

static double power_at(double t) { return (t >= 1.0 && t < 3.0) ? 625.0 : 120.0; }
static double energy_at(double t) {  // integral of power_at from 0
  double burst = t < 1.0 ? 0 : (t < 3.0 ? t - 1.0 : 2.0);
  return 120.0 * t + 505.0 * burst;
}

static void add(lj_trace *t, lj_reading r, double secs, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = T0 + (int64_t)llround(secs * 1e9);
  s.reading = (uint8_t)r;
  s.value = v;
  assert_int_equal(lj_trace_append(t, &s, 1), 0);
}

static void build(lj_trace *t) {
  lj_trace_init(t);
  lj_device_info d;
  memset(&d, 0, sizeof d);
  snprintf(d.uuid, sizeof d.uuid, "GPU-00000000-0000-0000-0000-000000000001");
  snprintf(d.pci_bus_id, sizeof d.pci_bus_id, "00000000:18:00.0");
  snprintf(d.name, sizeof d.name, "Synthetic H100");
  d.power_limit_w = 700;
  assert_int_equal(lj_trace_add_device(t, &d), 0);
  // driver buffer: intervals 9..47 ms from a fixed linear congruential sequence
  uint32_t x = 12345;
  for (double ts = 0.0; ts <= 4.0;) {
    add(t, LJ_READING_POWER_SAMPLE, ts, power_at(ts));
    x = x * 1103515245u + 12345u;
    ts += (9 + (x >> 16) % 39) * 1e-3;
  }
  // counter: read at 3 ms + k * 100 ms; the value is the energy at the last update (37 ms + j * 100 ms)
  for (int k = 0; k <= 40; k++) {
    double read = 0.003 + 0.1 * k;
    double update = floor((read - 0.037) / 0.1) * 0.1 + 0.037;
    add(t, LJ_READING_ENERGY, read, 50000.0 + energy_at(update > 0 ? update : 0));
  }
  lj_trace_sort(t);
}

static lj_window_result window(lj_windows *w, double b, double e) {
  int h = lj_windows_begin(w, "w", T0 + (int64_t)llround(b * 1e9));
  assert_int_equal(lj_windows_end(w, h, T0 + (int64_t)llround(e * 1e9)), 0);
  lj_windows_finish(w);
  lj_window_result r;
  assert_int_equal(lj_windows_result(w, h, 0, &r), 0);
  return r;
}

static lj_windows *feed(const lj_trace *t) {
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 1), 0);
  assert_int_equal(lj_windows_add(w, t->samples, t->n_samples), 0);
  return w;
}

static void test_committed_trace_matches_generator(void **state) {
  const char *dir = getenv("LLAMAJOULE_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/traces/gemm_burst_synthetic.csv", dir ? dir : ".");
  lj_trace gen, file;
  build(&gen);
  if (getenv("LLAMAJOULE_WRITE_FIXTURES")) assert_int_equal(lj_trace_write_csv(&gen, path), 0);
  assert_int_equal(lj_trace_read_csv(path, &file), 0);
  assert_int_equal(file.n_samples, gen.n_samples);
  assert_memory_equal(file.samples, gen.samples, gen.n_samples * sizeof(lj_sample));
  assert_string_equal(file.devices[0].name, "Synthetic H100");
  lj_trace_free(&gen);
  lj_trace_free(&file);
}

static void test_burst_window_both_ways(void **state) {
  lj_trace t;
  build(&t);
  // the whole burst plus idle on both sides: 120 x 3 + 505 x 2 = 1370 J
  lj_windows *w = feed(&t);
  lj_window_result r = window(w, 0.5, 3.5);
  // counter: the lag (here 66 ms) is the same at both ends, in idle: exact
  assert_true(fabs(r.counter_energy_j - 1370.0) < 1e-6);
  // buffer: the step edges fall between samples 9..47 ms apart: <= 505 W x 47 ms / 2 per edge
  assert_true(fabs(r.sample_energy_j - 1370.0) < 2 * 505.0 * 0.047 / 2);
  assert_true(fabs(r.counter_energy_j - r.sample_energy_j) < 0.03 * 1370.0);  // the 3% agreement
  assert_true(r.peak_power_w == 625.0);
  assert_int_equal(r.counter_updates, 30);
  assert_int_equal(r.flags, 0);
  lj_windows_free(w);

  // inside the burst: constant power, exact again
  w = feed(&t);
  r = window(w, 1.5, 2.5);
  assert_true(fabs(r.counter_energy_j - 625.0) < 1e-6);
  assert_true(fabs(r.sample_energy_j - 625.0) < 1e-6);
  lj_windows_free(w);

  // a window that ends 10 ms after the burst: the lagging counter misses the
  // last 66 ms of burst (up to one update period of error), the buffer does not
  w = feed(&t);
  r = window(w, 0.5, 3.01);
  double truth = energy_at(3.01) - energy_at(0.5);
  assert_true(fabs(r.sample_energy_j - truth) < 2 * 505.0 * 0.047 / 2);
  assert_true(r.counter_energy_j < truth - 505.0 * 0.03);      // the lag shows...
  assert_true(r.counter_energy_j > truth - 625.0 * 0.1);       // ...but stays within one update period
  lj_windows_free(w);

  // 100 ms around the step: shorter than the counter's update period
  w = feed(&t);
  r = window(w, 0.95, 1.05);
  assert_true(r.flags & LJ_WINDOW_SHORT);
  lj_windows_free(w);
  lj_trace_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_committed_trace_matches_generator),
      cmocka_unit_test(test_burst_window_both_ways),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
