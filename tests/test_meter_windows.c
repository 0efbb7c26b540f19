// Window energies through the replay source and the sampler (manual clock),
// against analytic answers. Power traces are piecewise linear between their
// samples, so the trapezoid integral is exact; counters are the exact
// integral of the power at each reading. Tolerance: 1e-9 relative (rounding).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/error.h"
#include "llamajoule/meter.h"
#include "trace_add.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define T0 (1000 * SEC)  // traces start at an arbitrary monotonic time
#define EXACT(a, b)                                                                   \
  do {                                                                                \
    double got_ = (a), want_ = (b);                                                   \
    if (!(fabs(got_ - want_) <= 1e-9 * (fabs(want_) + 1.0)))                          \
      fail_msg("%s = %.12g, expected %s = %.12g", #a, got_, #b, want_);              \
  } while (0)

// ---- signals: power P(t) and its integral E(t), t in seconds from T0

typedef double (*signal_fn)(double t);

// Square wave as the driver sees it every 10 ms: 100 W for t mod 0.1 < 0.05, else 300 W.
static double square_power(double t) { return fmod(t + 1e-12, 0.1) < 0.05 ? 100.0 : 300.0; }
static double ramp_power(double t) { return 100.0 + 200.0 * t; }         // 100 -> 300 W over 1 s
static double ramp_energy(double t) { return 100.0 * t + 100.0 * t * t; }  // integral of ramp_power
static double const_power(double t) { return 250.0; }
static double const_energy(double t) { return 250.0 * t; }

// The piecewise-linear interpolation of square_power sampled every 10 ms
// integrates to 20 J per 100 ms period: 0.04*100 + 0.01*200 + 0.04*300 + 0.01*200.
static double square_sampled_energy(double t) {
  double periods = floor(t / 0.1 + 1e-9);
  double rem = t - periods * 0.1, e = periods * 20.0;
  // within a period: 100 W to 0.04, ramp to 300 by 0.05, 300 W to 0.09, ramp to 100 by 0.1
  if (rem <= 0.04) return e + 100 * rem;
  e += 4.0;
  if (rem <= 0.05) { double x = rem - 0.04; return e + 100 * x + 10000 * x * x; }
  e += 2.0;
  if (rem <= 0.09) return e + 300 * (rem - 0.05);
  e += 12.0;
  double x = rem - 0.09;
  return e + 300 * x - 10000 * x * x;
}

// Power samples every `ps` ms, counter readings every `cs` ms, for `secs`.
static void build_trace(lj_trace *t, int dev, signal_fn power, signal_fn energy, int ps, int cs, double secs) {
  for (int k = 0; k * ps <= (int)(secs * 1000 + 0.5); k++) {
    double ts = k * ps / 1000.0;
    trace_add(t, dev, LJ_READING_POWER_SAMPLE, T0 + (int64_t)k * ps * MS, power(ts));
  }
  for (int k = 0; k * cs <= (int)(secs * 1000 + 0.5); k++) {
    double ts = k * cs / 1000.0;
    trace_add(t, dev, LJ_READING_ENERGY, T0 + (int64_t)k * cs * MS, 5000.0 + energy(ts));
  }
}

static int64_t at(double secs) { return T0 + (int64_t)llround(secs * 1e9); }

typedef struct {
  lj_source *src;
  lj_sampler *s;
  size_t sink_samples;
} rig;

static int count_sink(void *user, const lj_sample *x, size_t n) {
  ((rig *)user)->sink_samples += n;
  return 0;
}

static void rig_open(rig *r, lj_trace *t, size_t ring) {
  memset(r, 0, sizeof *r);
  assert_int_equal(lj_source_open_replay(&r->src, t, 0), 0);
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.sink = count_sink;
  c.sink_user = r;
  if (ring) c.ring_capacity = ring;
  assert_int_equal(lj_sampler_create(&r->s, r->src, &c), 0);
}

static void rig_close(rig *r) {
  lj_sampler_free(r->s);
  lj_source_close(r->src);
}

// Polls every 10 ms from T0 to `until` seconds.
static void run_until(rig *r, double from, double until) {
  for (int64_t t = at(from); t <= at(until); t += 10 * MS) assert_int_equal(lj_sampler_poll(r->s, t), 0);
}

static lj_window_result result(rig *r, int h, int dev) {
  lj_window_result w;
  assert_int_equal(lj_windows_result(lj_sampler_windows(r->s), h, dev, &w), 0);
  return w;
}

static int window(rig *r, const char *name, double b, double e) {
  lj_windows *w = lj_sampler_windows(r->s);
  int h = lj_windows_begin(w, name, at(b));
  assert_true(h >= 0);
  assert_int_equal(lj_windows_end(w, h, at(e)), 0);
  return h;
}

static void test_square_wave(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, square_power, square_sampled_energy, 10, 100, 3.0);
  rig r;
  rig_open(&r, &t, 0);
  int whole = window(&r, "whole", 0.0, 2.0);
  int offset = window(&r, "offset", 0.025, 2.025);   // a whole number of periods, shifted
  int part = window(&r, "part", 0.3, 0.37);          // shorter than the counter period
  run_until(&r, 0.0, 3.0);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  assert_int_equal(r.sink_samples, t.n_samples);

  lj_window_result w = result(&r, whole, 0);
  EXACT(w.counter_energy_j, 400.0);
  EXACT(w.sample_energy_j, 400.0);
  EXACT(w.mean_power_w, 200.0);
  EXACT(w.peak_power_w, 300.0);
  EXACT(w.duration_s, 2.0);
  assert_int_equal(w.n_samples, 201);
  assert_int_equal(w.counter_updates, 20);
  assert_int_equal(w.integrated_reading, LJ_READING_POWER_SAMPLE);
  assert_int_equal(w.flags, 0);

  w = result(&r, offset, 0);
  EXACT(w.counter_energy_j, 400.0);  // counter readings are exact at 100 ms: linear between them
  EXACT(w.sample_energy_j, 400.0);

  w = result(&r, part, 0);
  EXACT(w.sample_energy_j, square_sampled_energy(0.37) - square_sampled_energy(0.3));  // 2 + 12*... analytic
  EXACT(w.counter_energy_j, 0.07 * 200.0);  // interpolated inside one counter step
  assert_true(w.flags & LJ_WINDOW_SHORT);
  assert_int_equal(w.counter_updates, 0);
  rig_close(&r);
  lj_trace_free(&t);
}

static void test_ramp(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, ramp_power, ramp_energy, 20, 100, 1.0);
  rig r;
  rig_open(&r, &t, 0);
  int a = window(&r, "a", 0.1, 0.9);
  int b = window(&r, "b", 0.15, 0.85);
  run_until(&r, 0.0, 1.0);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  lj_window_result w = result(&r, a, 0);
  EXACT(w.sample_energy_j, 160.0);
  EXACT(w.counter_energy_j, 160.0);
  EXACT(w.peak_power_w, 280.0);
  w = result(&r, b, 0);
  EXACT(w.sample_energy_j, 140.0);
  // the counter is interpolated linearly inside a step: both ends err by +0.25 J, which cancels
  EXACT(w.counter_energy_j, 140.0);
  EXACT(w.peak_power_w, 270.0);
  rig_close(&r);
  lj_trace_free(&t);
}

static void test_nested_overlapping_idle(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, const_power, const_energy, 20, 100, 2.0);
  rig r;
  rig_open(&r, &t, 0);
  lj_windows *ws = lj_sampler_windows(r.s);
  lj_windows_set_idle(ws, 0, 100.0);
  // begin/end by name at the sampler's clock, nested and overlapping
  run_until(&r, 0.0, 0.2);
  int outer = lj_meter_begin(r.s, "outer");
  run_until(&r, 0.21, 0.4);
  int inner = lj_meter_begin(r.s, "inner");
  run_until(&r, 0.41, 0.6);
  int over = lj_meter_begin(r.s, "overlap");
  run_until(&r, 0.61, 0.8);
  assert_int_equal(lj_meter_end_handle(r.s, inner), 0);
  run_until(&r, 0.81, 1.2);
  assert_int_equal(lj_meter_end(r.s, "outer"), outer);
  run_until(&r, 1.21, 1.5);
  assert_int_equal(lj_meter_end(r.s, "overlap"), over);
  assert_true(lj_meter_end(r.s, "overlap") < 0);  // no open window of that name any more
  run_until(&r, 1.51, 2.0);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  struct { int h; double b, e; } want[] = {{outer, 0.2, 1.2}, {inner, 0.4, 0.8}, {over, 0.6, 1.5}};
  for (int i = 0; i < 3; i++) {
    lj_window_result w = result(&r, want[i].h, 0);
    double d = want[i].e - want[i].b;
    EXACT(w.duration_s, d);
    EXACT(w.counter_energy_j, 250.0 * d);
    EXACT(w.sample_energy_j, 250.0 * d);
    EXACT(w.counter_above_idle_j, 150.0 * d);
    EXACT(w.sample_above_idle_j, 150.0 * d);
    EXACT(w.idle_power_w, 100.0);
  }
  rig_close(&r);
  lj_trace_free(&t);
}

static void test_pending_until_sample_after_end(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, const_power, const_energy, 20, 100, 2.0);
  rig r;
  rig_open(&r, &t, 0);
  run_until(&r, 0.0, 0.5);
  int h = lj_meter_begin(r.s, "w");
  run_until(&r, 0.51, 0.75);
  lj_window_result w;
  assert_int_equal(lj_meter_result(r.s, h, 0, &w, 0), 0);
  assert_true(w.flags & LJ_WINDOW_OPEN);
  lj_meter_end(r.s, "w");
  // the drain period is 250 ms: the samples after the end are not in yet
  w = result(&r, h, 0);
  assert_true(w.flags & LJ_WINDOW_PENDING);
  run_until(&r, 0.76, 1.1);
  w = result(&r, h, 0);
  assert_false(w.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_OPEN));
  EXACT(w.counter_energy_j, 250.0 * 0.25);
  EXACT(w.sample_energy_j, 250.0 * 0.25);
  rig_close(&r);
  lj_trace_free(&t);
}

// Feeding the window engine directly: out-of-order, duplicate and missing samples.
static void test_out_of_order_missing_duplicate(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, ramp_power, ramp_energy, 20, 100, 1.0);
  // drop every third power sample and the counter reading at 0.5 s: a linear
  // power stays exact under the trapezoid; the counter is interpolated across the hole
  lj_trace kept;
  lj_trace_init(&kept);
  for (size_t i = 0; i < t.n_samples; i++) {
    const lj_sample *s = &t.samples[i];
    if (s->reading == LJ_READING_POWER_SAMPLE && i % 3 == 1 && s->t_ns != at(0.1) && s->t_ns != at(0.9)) continue;
    if (s->reading == LJ_READING_ENERGY && s->t_ns == at(0.5)) continue;
    assert_int_equal(lj_trace_append(&kept, s, 1), 0);
  }
  // reverse the order and add every sample twice
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 1), 0);
  int h = lj_windows_begin(w, "w", at(0.1));
  assert_int_equal(lj_windows_end(w, h, at(0.9)), 0);
  for (size_t i = kept.n_samples; i-- > 0;) {
    assert_int_equal(lj_windows_add(w, &kept.samples[i], 1), 0);
    assert_int_equal(lj_windows_add(w, &kept.samples[i], 1), 0);
  }
  lj_windows_finish(w);
  lj_window_result r;
  assert_int_equal(lj_windows_result(w, h, 0, &r), 0);
  EXACT(r.sample_energy_j, 160.0);
  // counter: 0.4 -> 0.6 interpolated linearly, both boundaries on readings: exact
  EXACT(r.counter_energy_j, 160.0);
  assert_int_equal(r.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_OPEN | LJ_WINDOW_EXTRAPOLATED), 0);
  lj_windows_free(w);
  lj_trace_free(&kept);
  lj_trace_free(&t);
}

static void test_counter_reset(void **state) {
  // 200 W; the driver reloads at 0.45 s and the counter restarts from 0
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 1), 0);
  for (int k = 0; k <= 10; k++) {
    double ts = k * 0.1;
    double v = ts < 0.45 ? 1000.0 + 200.0 * ts : 200.0 * (ts - 0.45);
    lj_sample s = {.t_ns = at(ts), .reading = LJ_READING_ENERGY, .value = v};
    assert_int_equal(lj_windows_add(w, &s, 1), 0);
  }
  int all = lj_windows_begin(w, "all", at(0.0));
  lj_windows_end(w, all, at(1.0));
  int before = lj_windows_begin(w, "before", at(0.0));
  lj_windows_end(w, before, at(0.4));
  lj_windows_finish(w);
  lj_window_result r;
  lj_windows_result(w, all, 0, &r);
  // the reset segment (0.4, 0.5] counts only the 10 J since the reset: 200 - 20 + 10
  EXACT(r.counter_energy_j, 190.0);
  assert_true(r.flags & LJ_WINDOW_COUNTER_RESET);
  lj_windows_result(w, before, 0, &r);
  EXACT(r.counter_energy_j, 80.0);
  assert_false(r.flags & LJ_WINDOW_COUNTER_RESET);
  lj_windows_free(w);
}

static void test_empty_and_unbracketed(void **state) {
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 2), 0);
  int none = lj_windows_begin(w, "no samples", at(0.0));
  lj_windows_end(w, none, at(1.0));
  for (int k = 0; k <= 5; k++) {
    lj_sample s = {.t_ns = at(1.0 + k * 0.1), .device = 1, .reading = LJ_READING_POWER_SAMPLE, .value = 150.0};
    lj_windows_add(w, &s, 1);
  }
  int empty = lj_windows_begin(w, "empty", at(1.2));
  lj_windows_end(w, empty, at(1.2));
  int beyond = lj_windows_begin(w, "beyond", at(1.4));
  lj_windows_end(w, beyond, at(2.0));
  lj_windows_finish(w);
  lj_window_result r;
  assert_int_equal(lj_windows_result(w, none, 0, &r), 0);
  assert_true(r.flags & LJ_WINDOW_NO_COUNTER);
  assert_true(r.flags & LJ_WINDOW_NO_SAMPLES);
  EXACT(r.counter_energy_j, 0.0);
  assert_int_equal(lj_windows_result(w, empty, 1, &r), 0);
  EXACT(r.duration_s, 0.0);
  EXACT(r.sample_energy_j, 0.0);
  EXACT(r.mean_power_w, 0.0);
  assert_true(r.flags & LJ_WINDOW_SHORT);
  assert_int_equal(lj_windows_result(w, beyond, 1, &r), 0);
  EXACT(r.sample_energy_j, 150.0 * 0.6);  // held at the last value
  assert_true(r.flags & LJ_WINDOW_EXTRAPOLATED);
  assert_true(lj_windows_result(w, 99, 0, &r) < 0);
  assert_true(lj_windows_result(w, none, 2, &r) < 0);
  assert_true(lj_windows_end(w, none, at(3.0)) < 0);  // already ended
  int bad = lj_windows_begin(w, "bad", at(5.0));
  assert_true(lj_windows_end(w, bad, at(4.0)) < 0);   // ends before it begins
  assert_true(strstr(lj_error_message(), "before it begins") != NULL);
  lj_windows_free(w);
}

// A gap in the driver buffer inside a window is flagged; a window shorter than
// the counter's update period is flagged even with counter updates inside.
static void test_gap_and_short_flags(void **state) {
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 1), 0);
  for (int k = 0; k <= 20; k++) {
    if (k == 9) continue;  // lost
    lj_sample s = {.t_ns = at(k * 0.05), .reading = LJ_READING_POWER_SAMPLE, .value = 100.0,
                   .flags = k == 10 ? LJ_SAMPLE_AFTER_GAP : 0};
    lj_windows_add(w, &s, 1);
  }
  for (int k = 0; k <= 10; k++) {
    lj_sample s = {.t_ns = at(k * 0.1), .reading = LJ_READING_ENERGY, .value = 10.0 * k};
    lj_windows_add(w, &s, 1);
  }
  int inside = lj_windows_begin(w, "gap inside", at(0.3));
  lj_windows_end(w, inside, at(0.7));
  int before = lj_windows_begin(w, "before the gap", at(0.0));
  lj_windows_end(w, before, at(0.4));
  lj_windows_set_counter_period(w, 0, 500 * MS);
  lj_windows_finish(w);
  lj_window_result r;
  lj_windows_result(w, inside, 0, &r);
  assert_true(r.flags & LJ_WINDOW_GAP);
  EXACT(r.sample_energy_j, 40.0);  // constant power: the hole changes nothing
  EXACT(r.counter_energy_j, 40.0);
  assert_int_equal(r.counter_updates, 4);
  assert_true(r.flags & LJ_WINDOW_SHORT);  // 0.4 s < the 0.5 s period set above
  lj_windows_result(w, before, 0, &r);
  assert_false(r.flags & LJ_WINDOW_GAP);
  lj_windows_free(w);
}

// With a driver buffer expected, (b) integrates the buffer and instant power
// is neither kept nor waited for.
static void test_buffer_preferred_over_instant(void **state) {
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 1), 0);
  lj_windows_expect(w, 0, LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE) |
                              LJ_READING_BIT(LJ_READING_POWER_INSTANT));
  int h = lj_windows_begin(w, "w", at(0.1));
  lj_windows_end(w, h, at(0.5));
  for (int k = 0; k <= 10; k++) {
    lj_sample c = {.t_ns = at(k * 0.1), .reading = LJ_READING_ENERGY, .value = 10.0 * k};
    lj_sample b = {.t_ns = at(k * 0.1), .reading = LJ_READING_POWER_SAMPLE, .value = 100.0};
    lj_sample i = {.t_ns = at(k * 0.01), .reading = LJ_READING_POWER_INSTANT, .value = 500.0};  // stops at 0.1 s
    lj_windows_add(w, &c, 1);
    lj_windows_add(w, &b, 1);
    lj_windows_add(w, &i, 1);
  }
  lj_window_result r;
  assert_int_equal(lj_windows_result(w, h, 0, &r), 0);
  assert_false(r.flags & LJ_WINDOW_PENDING);  // final without instant samples past the end
  assert_int_equal(r.integrated_reading, LJ_READING_POWER_SAMPLE);
  EXACT(r.sample_energy_j, 40.0);
  lj_windows_free(w);
}

static void test_two_devices_total(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, const_power, const_energy, 20, 100, 1.0);
  build_trace(&t, 1, ramp_power, ramp_energy, 20, 100, 1.0);
  rig r;
  rig_open(&r, &t, 0);
  int h = window(&r, "w", 0.1, 0.9);
  run_until(&r, 0.0, 1.0);
  lj_sampler_stop(r.s);
  lj_window_result w0 = result(&r, h, 0), w1 = result(&r, h, 1), all = result(&r, h, -1);
  EXACT(w0.counter_energy_j, 200.0);
  EXACT(w1.counter_energy_j, 160.0);
  EXACT(all.counter_energy_j, 360.0);
  EXACT(all.sample_energy_j, 360.0);
  assert_int_equal(all.device, -1);
  rig_close(&r);
  lj_trace_free(&t);
}

// A ring smaller than one drain: samples are dropped and counted, never blocking.
static void test_ring_overflow_counts_drops(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, const_power, const_energy, 1, 100, 0.999);  // 1000 power samples per second
  rig r;
  rig_open(&r, &t, 16);
  run_until(&r, 0.0, 1.0);
  lj_sampler_stop(r.s);
  lj_sampler_stats st;
  lj_sampler_stats_get(r.s, &st);
  assert_true(st.dropped > 0);
  assert_int_equal(st.samples + st.dropped, t.n_samples);
  assert_int_equal(r.sink_samples, st.samples);
  assert_true(st.wall_ns == SEC);
  rig_close(&r);
  lj_trace_free(&t);
}

// Real threads on a replay in real time: everything recorded arrives once.
static void test_threads_realtime_replay(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_trace(&t, 0, const_power, const_energy, 20, 100, 0.3);
  lj_source *src;
  assert_int_equal(lj_source_open_replay(&src, &t, 1), 0);
  rig r = {.src = src};
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.drain_period_ns = 50 * MS;
  c.sink = count_sink;
  c.sink_user = &r;
  assert_int_equal(lj_sampler_create(&r.s, src, &c), 0);
  assert_int_equal(lj_sampler_start(r.s), 0);
  int h = lj_meter_begin(r.s, "w");
  struct timespec ts = {0, 350 * MS};
  nanosleep(&ts, NULL);
  lj_meter_end(r.s, "w");
  lj_window_result w;
  assert_int_equal(lj_meter_result(r.s, h, 0, &w, SEC), 0);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  lj_sampler_stats st;
  lj_sampler_stats_get(r.s, &st);
  assert_int_equal(r.sink_samples, t.n_samples);
  assert_int_equal(st.dropped, 0);
  assert_true(st.cpu_ns > 0);
  assert_true(st.cpu_percent >= 0 && st.cpu_percent < 100);
  // 250 W all along; the window outlasts the 0.3 s trace, so its end is extrapolated
  assert_true(w.duration_s > 0.34 && w.duration_s < 0.6);
  EXACT(w.counter_energy_j, 250.0 * w.duration_s);
  assert_true(w.flags & LJ_WINDOW_EXTRAPOLATED);
  lj_sampler_free(r.s);
  lj_source_close(src);
  lj_trace_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_square_wave),
      cmocka_unit_test(test_ramp),
      cmocka_unit_test(test_nested_overlapping_idle),
      cmocka_unit_test(test_pending_until_sample_after_end),
      cmocka_unit_test(test_out_of_order_missing_duplicate),
      cmocka_unit_test(test_counter_reset),
      cmocka_unit_test(test_empty_and_unbracketed),
      cmocka_unit_test(test_gap_and_short_flags),
      cmocka_unit_test(test_buffer_preferred_over_instant),
      cmocka_unit_test(test_two_devices_total),
      cmocka_unit_test(test_ring_overflow_counts_drops),
      cmocka_unit_test(test_threads_realtime_replay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
