// The sampler's read schedule: the energy counter read at every window
// boundary on top of a slow background period, and the slowly-changing
// fields read with each drain instead of every field period. A replay source
// whose counter and fields are polled stands in for the driver: a read
// returns the latest recorded value at or before the clock, stamped with the
// read time, as NVML does (its counter updates every ~100 ms).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "llamajoule/meter.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define T0 (1000 * SEC)

static int64_t at(double secs) { return T0 + (int64_t)llround(secs * 1e9); }

static void add(lj_trace *t, lj_reading r, int64_t t_ns, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns;
  s.reading = (uint8_t)r;
  s.value = v;
  assert_int_equal(lj_trace_append(t, &s, 1), 0);
}

// A step: 100 W until STEP_S, 400 W after. E(t) is its exact integral.
#define STEP_S 2.4
#define P_MAX 400.0
static double step_power(double t) { return t < STEP_S ? 100.0 : 400.0; }
static double step_energy(double t) { return t < STEP_S ? 100.0 * t : 100.0 * STEP_S + 400.0 * (t - STEP_S); }

// Driver buffer every 10 ms and counter updates every 100 ms, for `secs`.
static void build_step_trace(lj_trace *t, double secs) {
  for (int k = 0; k <= (int)(secs * 100 + 0.5); k++) add(t, LJ_READING_POWER_SAMPLE, at(k * 0.01), step_power(k * 0.01));
  for (int k = 0; k <= (int)(secs * 10 + 0.5); k++) add(t, LJ_READING_ENERGY, at(k * 0.1), 5000.0 + step_energy(k * 0.1));
}

static int collect(void *user, const lj_sample *x, size_t n) { return lj_trace_append(user, x, n) < 0 ? -1 : 0; }

typedef struct {
  lj_source *src;
  lj_sampler *s;
  lj_trace got;  // everything delivered
} rig;

static void rig_open(rig *r, const lj_trace *t, uint32_t polled, int realtime, const lj_sampler_config *base) {
  memset(r, 0, sizeof *r);
  lj_trace_init(&r->got);
  assert_int_equal(lj_source_open_replay_polled(&r->src, t, realtime, polled), 0);
  lj_sampler_config c;
  if (base) c = *base; else lj_sampler_config_default(&c);
  c.sink = collect;
  c.sink_user = &r->got;
  assert_int_equal(lj_sampler_create(&r->s, r->src, &c), 0);
}

static void rig_close(rig *r) {
  lj_sampler_free(r->s);
  lj_source_close(r->src);
  lj_trace_free(&r->got);
}

// A 100 W -> 400 W step of `secs` with a polled counter, default sampler.
static void open_step_rig(rig *r, lj_trace *t, double secs) {
  lj_trace_init(t);
  build_step_trace(t, secs);
  rig_open(r, t, LJ_READING_BIT(LJ_READING_ENERGY), 0, NULL);
}

// Times of the delivered samples of one reading, in seconds from T0.
static int times_of(const lj_trace *t, lj_reading r, double *out, int cap) {
  int n = 0;
  for (size_t i = 0; i < t->n_samples; i++)
    if (t->samples[i].reading == r && n < cap) out[n++] = (double)(t->samples[i].t_ns - T0) * 1e-9;
  return n;
}

// Manual clock, polls every 10 ms; one window [begin_s, end_s] through lj_meter_*.
static lj_window_result run_window(rig *r, double begin_s, double end_s, double until_s) {
  int h = -1;
  for (int k = 0; k <= (int)(until_s * 100 + 0.5); k++) {
    double ts = k * 0.01;
    assert_int_equal(lj_sampler_poll(r->s, at(ts)), 0);
    if (fabs(ts - begin_s) < 1e-9) h = lj_meter_begin(r->s, "w");
    if (fabs(ts - end_s) < 1e-9) assert_int_equal(lj_meter_end(r->s, "w"), h);
  }
  assert_true(h >= 0);
  assert_int_equal(lj_sampler_stop(r->s), 0);
  lj_window_result w;
  assert_int_equal(lj_windows_result(lj_sampler_windows(r->s), h, 0, &w), 0);
  return w;
}

// Window [0.33 s, 2.45 s]: both boundaries fall between background reads
// (every 1 s), and the step (2.4 s) lies in the last counter update period.
static void test_boundary_reads_on_a_step(void **state) {
  (void)state;
  lj_trace t;
  lj_trace_init(&t);
  build_step_trace(&t, 4.0);
  const double b = 0.33, e = 2.45, truth = step_energy(e) - step_energy(b);  // 227 J
  // Bound: a read returns the counter as of its last update, at most one
  // update period (100 ms) old; at each boundary the error lies in
  // [-P_MAX * 0.1 s, 0], so the delta is off by at most P_MAX * 0.1 s = 40 J.
  // That is the bound of background reads every 100 ms too.
  const double bound = P_MAX * 0.1;

  // (a) defaults: background every 1000 ms, plus a read at each boundary
  rig r;
  rig_open(&r, &t, LJ_READING_BIT(LJ_READING_ENERGY), 0, NULL);
  lj_window_result w = run_window(&r, b, e, 4.0);
  double when[16];
  int n = times_of(&r.got, LJ_READING_ENERGY, when, 16);
  // start, begin, the background grid restarted at begin, end (0.12 s after
  // the last read: more than one update, so at once), one period after end
  const double want[] = {0.0, 0.33, 1.33, 2.33, 2.45, 3.45};
  assert_int_equal(n, 6);
  for (int i = 0; i < n; i++)
    if (fabs(when[i] - want[i]) > 1e-9) fail_msg("counter read %d at %.3f s, expected %.3f s", i, when[i], want[i]);
  // the reads see the updates at 0.3 s and 2.4 s: E(2.4) - E(0.3) = 210 J
  assert_true(fabs(w.counter_energy_j - (step_energy(2.4) - step_energy(0.3))) < 1e-9);
  assert_true(fabs(w.counter_energy_j - truth) <= bound);
  assert_false(w.flags & (LJ_WINDOW_SHORT | LJ_WINDOW_NO_COUNTER));
  double err_boundary = w.counter_energy_j - truth;
  rig_close(&r);

  // (b) the former default: every 100 ms, no boundary reads
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.counter_period_ns = 100 * MS;
  rig_open(&r, &t, LJ_READING_BIT(LJ_READING_ENERGY), 0, &c);
  lj_windows_on_boundary(lj_sampler_windows(r.s), NULL, NULL);
  w = run_window(&r, b, e, 4.0);
  assert_true(fabs(w.counter_energy_j - truth) <= bound);
  double err_100 = w.counter_energy_j - truth;
  rig_close(&r);

  // (c) background every 1000 ms without boundary reads: the interpolation
  // spreads the step over a whole second and misses by 66 J
  rig_open(&r, &t, LJ_READING_BIT(LJ_READING_ENERGY), 0, NULL);
  lj_windows_on_boundary(lj_sampler_windows(r.s), NULL, NULL);
  w = run_window(&r, b, e, 4.0);
  double err_slow = w.counter_energy_j - truth;
  assert_true(fabs(err_slow - 66.0) < 1e-9);
  assert_true(fabs(err_slow) > bound);
  rig_close(&r);
  print_message("counter energy error over [%.2f, %.2f] s (truth %.1f J): boundary reads %+.1f J, "
                "100 ms reads %+.1f J, 1 s reads only %+.1f J (bound %.0f J)\n",
                b, e, truth, err_boundary, err_100, err_slow, bound);
  lj_trace_free(&t);
}

// A window shorter than the background period but longer than the counter's
// update period is not SHORT; one shorter than an update is.
static void test_short_flag_follows_update_period(void **state) {
  (void)state;
  lj_trace t;
  rig r;
  open_step_rig(&r, &t, 2.0);
  int h1 = -1, h2 = -1;
  for (int k = 0; k <= 200; k++) {
    assert_int_equal(lj_sampler_poll(r.s, at(k * 0.01)), 0);
    if (k == 20) h1 = lj_meter_begin(r.s, "half-second");
    if (k == 70) lj_meter_end(r.s, "half-second");
    if (k == 100) h2 = lj_meter_begin(r.s, "50 ms");
    if (k == 105) lj_meter_end(r.s, "50 ms");
  }
  assert_int_equal(lj_sampler_stop(r.s), 0);
  lj_window_result w;
  assert_int_equal(lj_windows_result(lj_sampler_windows(r.s), h1, 0, &w), 0);
  assert_false(w.flags & LJ_WINDOW_SHORT);
  assert_true(fabs(w.counter_energy_j - 50.0) < 1e-9);  // 100 W for 0.5 s, reads at 0.2 and 0.7 s on updates
  assert_int_equal(lj_windows_result(lj_sampler_windows(r.s), h2, 0, &w), 0);
  assert_true(w.flags & LJ_WINDOW_SHORT);
  rig_close(&r);
  lj_trace_free(&t);
}

// Boundaries closer than one counter update (100 ms) to the last read wait
// for it: at most one read per update however many windows there are.
static void test_crowded_boundaries_rate_limited(void **state) {
  (void)state;
  lj_trace t;
  rig r;
  open_step_rig(&r, &t, 2.0);
  for (int k = 0; k <= 150; k++) {
    assert_int_equal(lj_sampler_poll(r.s, at(k * 0.01)), 0);
    // a 10 ms window every 20 ms from 0.5 s to 0.9 s
    if (k >= 50 && k < 90 && k % 2 == 0) assert_true(lj_meter_begin(r.s, "layer") >= 0);
    if (k > 50 && k <= 90 && k % 2 == 1) assert_true(lj_meter_end(r.s, "layer") >= 0);
  }
  assert_int_equal(lj_sampler_stop(r.s), 0);
  double when[32];
  int n = times_of(&r.got, LJ_READING_ENERGY, when, 32);
  // start 0; boundaries: 0.5 (at once), then one per 100 ms: 0.6 0.7 0.8 0.9 (for the
  // requests up to the last end, 0.89 s); the background read 1 s later (1.9) is past 1.5
  const double want[] = {0.0, 0.5, 0.6, 0.7, 0.8, 0.9};
  assert_int_equal(n, 6);
  for (int i = 0; i < n; i++)
    if (fabs(when[i] - want[i]) > 1e-9) fail_msg("counter read %d at %.3f s, expected %.3f s", i, when[i], want[i]);
  rig_close(&r);
  lj_trace_free(&t);
}

// Temperature and utilisation with each drain (250 ms), power and SM clock
// every field period (10 ms).
static void test_slow_fields_cadence(void **state) {
  (void)state;
  lj_trace t;
  lj_trace_init(&t);
  for (int k = 0; k <= 100; k++) {
    add(&t, LJ_READING_POWER_AVG, at(k * 0.01), 200.0);
    add(&t, LJ_READING_CLOCK_SM, at(k * 0.01), 1980.0);
    add(&t, LJ_READING_TEMPERATURE, at(k * 0.01), 40.0 + k * 0.01);
    add(&t, LJ_READING_UTIL_GPU, at(k * 0.01), 100.0);
  }
  uint32_t polled = LJ_READING_BIT(LJ_READING_POWER_AVG) | LJ_READING_BIT(LJ_READING_CLOCK_SM) |
                    LJ_READING_BIT(LJ_READING_TEMPERATURE) | LJ_READING_BIT(LJ_READING_UTIL_GPU);
  for (int slow = 1; slow >= 0; slow--) {
    lj_sampler_config c;
    lj_sampler_config_default(&c);
    if (!slow) c.slow_readings = 0;
    rig r;
    rig_open(&r, &t, polled, 0, &c);
    for (int k = 0; k <= 100; k++) assert_int_equal(lj_sampler_poll(r.s, at(k * 0.01)), 0);
    assert_int_equal(lj_sampler_stop(r.s), 0);
    double when[128];
    assert_int_equal(times_of(&r.got, LJ_READING_POWER_AVG, when, 128), 101);
    assert_int_equal(times_of(&r.got, LJ_READING_CLOCK_SM, when, 128), 101);
    int n_util = times_of(&r.got, LJ_READING_UTIL_GPU, when, 128);
    int n_temp = times_of(&r.got, LJ_READING_TEMPERATURE, when, 128);
    if (slow) {
      assert_int_equal(n_util, 5);
      assert_int_equal(n_temp, 5);
      for (int i = 0; i < n_temp; i++)
        if (fabs(when[i] - 0.25 * i) > 1e-9) fail_msg("temperature read %d at %.3f s, expected %.3f s", i, when[i], 0.25 * i);
    } else {
      assert_int_equal(n_util, 101);
      assert_int_equal(n_temp, 101);
    }
    rig_close(&r);
  }
  lj_trace_free(&t);
}

// Real threads: with a 10 s background period, the counter thread is woken
// at the begin and the end of a window and reads at once.
static void test_threads_wake_counter_at_boundaries(void **state) {
  (void)state;
  lj_trace t;
  lj_trace_init(&t);
  build_step_trace(&t, 30.0);
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.counter_period_ns = 10 * SEC;
  rig r;
  rig_open(&r, &t, LJ_READING_BIT(LJ_READING_ENERGY), 1, &c);
  assert_int_equal(lj_sampler_start(r.s), 0);
  lj_sleep_ns(150 * MS);  // more than one update after the start read: the begin read is not held back
  int64_t begin = lj_sampler_now(r.s);
  int h = lj_meter_begin(r.s, "w");
  lj_sleep_ns(200 * MS);
  int64_t end = lj_sampler_now(r.s);
  assert_int_equal(lj_meter_end(r.s, "w"), h);
  lj_window_result w;
  assert_int_equal(lj_meter_result(r.s, h, 0, &w, 5 * SEC), 0);
  assert_false(w.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_NO_COUNTER));
  assert_int_equal(lj_sampler_stop(r.s), 0);
  // reads: start, begin, end, stop; a read within 100 ms of each boundary
  // (it starts at once; the slack is for a loaded test machine)
  int near_begin = 0, near_end = 0, n = 0;
  for (size_t i = 0; i < r.got.n_samples; i++) {
    const lj_sample *x = &r.got.samples[i];
    if (x->reading != LJ_READING_ENERGY) continue;
    n++;
    if (x->t_ns >= begin && x->t_ns - begin < 100 * MS) near_begin = 1;
    if (x->t_ns >= end && x->t_ns - end < 100 * MS) near_end = 1;
  }
  assert_int_equal(n, 4);
  assert_true(near_begin);
  assert_true(near_end);
  rig_close(&r);
  lj_trace_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_boundary_reads_on_a_step),
      cmocka_unit_test(test_short_flag_follows_update_period),
      cmocka_unit_test(test_crowded_boundaries_rate_limited),
      cmocka_unit_test(test_slow_fields_cadence),
      cmocka_unit_test(test_threads_wake_counter_at_boundaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
