// Several GPUs on one sampler (a tensor-parallel run): each device read on its
// own schedule and threads, windows at one timestamp for all of them, each
// device's figure apart and their sum, a device whose readings stop marked
// incomplete but kept in the sum, devices left out, windows begun and ended by
// a barrier of one thread per GPU, and idle measured per GPU.
// Power traces are piecewise linear between their samples, so the trapezoid
// integral is exact; counters are the exact integral of the power at each
// reading. Tolerances: 1e-9 relative where the answer is exact; where a
// boundary falls between two counter readings of a ramp, the linear
// interpolation of its quadratic integral is off by at most
// P' x dt^2 / 8 = 200 W/s x (0.1 s)^2 / 8 = 0.25 J per boundary.
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "llamajoule/meter.h"
#include "trace_add.h"
#include "meter/source_impl.h"
#include "near.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define T0 (1000 * SEC)
#define EXACT(a, b) REL(a, b, 1e-9)

static int64_t at(double secs) { return T0 + (int64_t)llround(secs * 1e9); }

// Power P(t) = a + b t (W, t in s from T0) and its integral.
typedef struct {
  double a, b;
} line;
static double line_power(line l, double t) { return l.a + l.b * t; }
static double line_energy(line l, double t) { return l.a * t + 0.5 * l.b * t * t; }

// Device `dev`: power samples every `ps_ms` from `off_ms`, counter readings every 100 ms from
// `coff_ms`, up to `secs`.
static void build(lj_trace *t, int dev, line l, int ps_ms, int off_ms, int coff_ms, double secs) {
  for (int k = 0; off_ms + k * ps_ms <= (int)(secs * 1000 + 0.5); k++) {
    double ts = (off_ms + k * ps_ms) / 1000.0;
    trace_add(t, dev, LJ_READING_POWER_SAMPLE, at(ts), line_power(l, ts));
  }
  for (int k = 0; coff_ms + k * 100 <= (int)(secs * 1000 + 0.5); k++) {
    double ts = (coff_ms + k * 100) / 1000.0;
    trace_add(t, dev, LJ_READING_ENERGY, at(ts), 7000.0 + 1000.0 * dev + line_energy(l, ts));
  }
}

// Three devices whose power samples (every 20, 17, 23 ms) and counter readings (every 100 ms,
// from 0, 37, 71 ms) fall at different times.
static void build_staggered(lj_trace *t, const line l[3], double secs) {
  lj_trace_init(t);
  build(t, 0, l[0], 20, 0, 0, secs);
  build(t, 1, l[1], 17, 3, 37, secs);
  build(t, 2, l[2], 23, 11, 71, secs);
}

typedef struct {
  lj_source *src;
  lj_sampler *s;
  lj_trace got;  // everything delivered
  pthread_mutex_t lock;
} rig;

static int collect(void *user, const lj_sample *x, size_t n) {
  rig *r = user;
  pthread_mutex_lock(&r->lock);
  int rc = lj_trace_append(&r->got, x, n) < 0 ? -1 : 0;
  pthread_mutex_unlock(&r->lock);
  return rc;
}

static void rig_open(rig *r, const lj_trace *t, int realtime, uint64_t devices) {
  memset(r, 0, sizeof *r);
  lj_trace_init(&r->got);
  pthread_mutex_init(&r->lock, NULL);
  assert_int_equal(lj_source_open_replay(&r->src, t, realtime), 0);
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.drain_period_ns = 50 * MS;
  c.devices = devices;
  c.sink = collect;
  c.sink_user = r;
  assert_int_equal(lj_sampler_create(&r->s, r->src, &c), 0);
}

static void rig_close(rig *r) {
  lj_sampler_free(r->s);
  lj_source_close(r->src);
  lj_trace_free(&r->got);
  pthread_mutex_destroy(&r->lock);
}

static void run_until(rig *r, double from, double until) {
  for (int64_t t = at(from); t <= at(until); t += 10 * MS) assert_int_equal(lj_sampler_poll(r->s, t), 0);
}

// n devices of constant power watts[d] for secs[d], samples every 20 ms and counter readings every
// 100 ms from 0, replayed on a manual clock; a sampler reads `devices` (0: all).
static void rig_constant(rig *r, lj_trace *t, int n, const double *watts, const double *secs, uint64_t devices) {
  lj_trace_init(t);
  for (int d = 0; d < n; d++) build(t, d, (line){watts[d], 0}, 20, 0, 0, secs[d]);
  rig_open(r, t, 0, devices);
}

// Window [begin, end] (seconds) ended at 0.5 s on the clock, polled from 0 to 1 s.
static int polled_window(rig *r, double begin, double end) {
  lj_windows *w = lj_sampler_windows(r->s);
  int h = lj_windows_begin(w, "w", at(begin));
  assert_true(h >= 0);
  run_until(r, 0.0, 0.5);
  assert_int_equal(lj_windows_end(w, h, at(end)), 0);
  run_until(r, 0.51, 1.0);
  return h;
}

static lj_window_result result(lj_windows *w, int h, int dev) {
  lj_window_result x;
  assert_int_equal(lj_windows_result(w, h, dev, &x), 0);
  return x;
}

static const line kConst250 = {250, 0}, kRamp = {100, 200}, kConst80 = {80, 0}, kConst100 = {100, 0};

// Three devices whose samples and counter reads fall at different times; one window at shared
// timestamps: each device's energy is its own integral, the sum is theirs.
static void test_devices_apart_shared_window(void **state) {
  lj_trace t;
  build_staggered(&t, (const line[]){kConst250, kRamp, kConst80}, 1.0);
  rig r;
  rig_open(&r, &t, 0, 0);
  lj_windows *w = lj_sampler_windows(r.s);
  int h = polled_window(&r, 0.25, 0.85);
  lj_window_result d0 = result(w, h, 0), d1 = result(w, h, 1), d2 = result(w, h, 2), all = result(w, h, -1);
  assert_int_equal(d0.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_EXTRAPOLATED | LJ_WINDOW_INCOMPLETE), 0);
  assert_int_equal(all.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_INCOMPLETE), 0);
  // hand-integrated: 250 W x 0.6 s; 100 t + 100 t^2 from 0.25 to 0.85; 80 W x 0.6 s
  double e0 = 150.0, e1 = (85.0 + 72.25) - (25.0 + 6.25), e2 = 48.0;
  EXACT(d0.sample_energy_j, e0);
  EXACT(d1.sample_energy_j, e1);
  EXACT(d2.sample_energy_j, e2);
  EXACT(d0.counter_energy_j, e0);
  NEAR(d1.counter_energy_j, e1, 0.5);  // two boundaries between reads of a ramp: 0.25 J each
  EXACT(d2.counter_energy_j, e2);
  EXACT(all.sample_energy_j, d0.sample_energy_j + d1.sample_energy_j + d2.sample_energy_j);
  EXACT(all.counter_energy_j, d0.counter_energy_j + d1.counter_energy_j + d2.counter_energy_j);
  EXACT(all.sample_energy_j, e0 + e1 + e2);
  assert_int_equal(all.device, -1);
  EXACT(all.duration_s, 0.6);
  EXACT(d1.duration_s, 0.6);
  assert_int_equal(d1.begin_ns, d0.begin_ns);
  assert_int_equal(d2.end_ns, d0.end_ns);
  rig_close(&r);
  lj_trace_free(&t);
}

// One device's readings arrive late: the others' figures are final without it, its figure and
// the sum wait; when its readings come, everything is exact and nothing is marked.
static void test_late_device_holds_only_itself(void **state) {
  lj_trace t0, t1;
  lj_trace_init(&t0);
  lj_trace_init(&t1);
  build(&t0, 0, kConst250, 20, 0, 0, 1.0);
  build(&t1, 1, kConst100, 20, 5, 50, 1.0);
  lj_windows *w;
  assert_int_equal(lj_windows_create(&w, 2), 0);
  uint32_t fed = LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE);
  lj_windows_expect(w, 0, fed);
  lj_windows_expect(w, 1, fed);
  int h = lj_windows_begin(w, "w", at(0.2));
  assert_int_equal(lj_windows_end(w, h, at(0.8)), 0);
  assert_int_equal(lj_windows_add(w, t0.samples, t0.n_samples), 0);
  // device 1: only its first half so far
  size_t half = 0;
  lj_trace_sort(&t1);
  while (half < t1.n_samples && t1.samples[half].t_ns <= at(0.5)) half++;
  assert_int_equal(lj_windows_add(w, t1.samples, half), 0);
  lj_window_result d0 = result(w, h, 0), d1 = result(w, h, 1), all = result(w, h, -1);
  assert_int_equal(d0.flags & LJ_WINDOW_PENDING, 0);
  EXACT(d0.counter_energy_j, 150.0);
  assert_true(d1.flags & LJ_WINDOW_PENDING);
  assert_true(all.flags & LJ_WINDOW_PENDING);
  assert_int_equal(lj_windows_add(w, t1.samples + half, t1.n_samples - half), 0);
  d1 = result(w, h, 1), all = result(w, h, -1);
  assert_int_equal(d1.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_INCOMPLETE | LJ_WINDOW_EXTRAPOLATED), 0);
  assert_int_equal(all.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_INCOMPLETE), 0);
  EXACT(d1.counter_energy_j, 60.0);
  EXACT(all.counter_energy_j, 210.0);
  EXACT(all.sample_energy_j, 210.0);
  lj_windows_free(w);
  lj_trace_free(&t0);
  lj_trace_free(&t1);
}

// One device's readings stop at 0.5 s (its threads stopped) inside a window to 0.8 s: at stop its
// figure is marked incomplete and extrapolated, and the sum keeps it (not lost) and carries the mark.
static void test_stopped_device_incomplete_not_lost(void **state) {
  lj_trace t;
  rig r;
  rig_constant(&r, &t, 2, (const double[]){250, 100}, (const double[]){1.0, 0.5}, 0);
  lj_windows *w = lj_sampler_windows(r.s);
  int h = polled_window(&r, 0.2, 0.8);
  assert_int_equal(result(w, h, 0).flags & LJ_WINDOW_PENDING, 0);
  assert_true(result(w, h, 1).flags & LJ_WINDOW_PENDING);
  assert_true(result(w, h, -1).flags & LJ_WINDOW_PENDING);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  lj_window_result d0 = result(w, h, 0), d1 = result(w, h, 1), all = result(w, h, -1);
  assert_int_equal(d0.flags & (LJ_WINDOW_INCOMPLETE | LJ_WINDOW_EXTRAPOLATED | LJ_WINDOW_PENDING), 0);
  assert_true(d1.flags & LJ_WINDOW_INCOMPLETE);
  assert_true(d1.flags & LJ_WINDOW_EXTRAPOLATED);
  assert_int_equal(d1.flags & LJ_WINDOW_PENDING, 0);
  // constant power: the counter's slope carried past its last reading is exact, 100 W x 0.6 s
  EXACT(d0.counter_energy_j, 150.0);
  EXACT(d1.counter_energy_j, 60.0);
  EXACT(all.counter_energy_j, 210.0);
  assert_true(all.flags & LJ_WINDOW_INCOMPLETE);
  assert_int_equal(all.flags & LJ_WINDOW_PENDING, 0);
  rig_close(&r);
  lj_trace_free(&t);
}

// A sampler on devices 0 and 2 of three: device 1 is never read, has no figure, is not summed.
static void test_devices_left_out(void **state) {
  lj_trace t;
  rig r;
  rig_constant(&r, &t, 3, (const double[]){250, 100, 80}, (const double[]){1.0, 1.0, 1.0}, (1u << 0) | (1u << 2));
  lj_windows *w = lj_sampler_windows(r.s);
  int h = polled_window(&r, 0.1, 0.9);
  lj_window_result x;
  assert_int_equal(lj_windows_result(w, h, 1, &x), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "device 1 is not metered"));
  lj_window_result all = result(w, h, -1);
  assert_int_equal(all.flags & LJ_WINDOW_PENDING, 0);
  EXACT(all.counter_energy_j, 200.0 + 64.0);
  EXACT(all.sample_energy_j, 200.0 + 64.0);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  size_t dev1 = 0;
  for (size_t i = 0; i < r.got.n_samples; i++) dev1 += r.got.samples[i].device == 1;
  assert_int_equal(dev1, 0);
  assert_true(r.got.n_samples > 0);
  rig_close(&r);
  // a device past the source's is refused, by name
  lj_source *src;
  assert_int_equal(lj_source_open_replay(&src, &t, 0), 0);
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.devices = 1u << 3;
  lj_sampler *s;
  assert_int_equal(lj_sampler_create(&s, src, &c), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "past the replay source's 3"));
  lj_source_close(src);
  lj_trace_free(&t);
}

// ---- one thread per GPU: the barrier

#define N_RANKS 3

typedef struct {
  lj_meter_barrier *b;
  lj_sampler *s;
  int rank;
  int64_t arrived_begin, arrived_end;  // the sampler's clock just before each arrival
  int handle, end_rc, bad_rc;
  int64_t begin_ns, end_ns;
  char bad_message[256];
} rank_state;

static void *rank_main(void *arg) {
  rank_state *r = arg;
  lj_sleep_ns(r->rank * 30 * MS);  // the ranks' streams finish at different times
  r->arrived_begin = lj_sampler_now(r->s);
  r->handle = lj_meter_barrier_begin(r->b, "step", &r->begin_ns);
  lj_sleep_ns(200 * MS + (N_RANKS - 1 - r->rank) * 30 * MS);
  r->arrived_end = lj_sampler_now(r->s);
  r->end_rc = lj_meter_barrier_end(r->b, r->handle, &r->end_ns);
  // ending it again fails in every thread, each with the message
  r->bad_rc = lj_meter_barrier_end(r->b, r->handle, NULL);
  snprintf(r->bad_message, sizeof r->bad_message, "%s", lj_error_message());
  return NULL;
}

static void test_barrier_one_timestamp(void **state) {
  lj_trace t;
  build_staggered(&t, (const line[]){kConst250, kConst100, kConst80}, 3.0);
  rig r;
  rig_open(&r, &t, 1, 0);
  assert_int_equal(lj_sampler_start(r.s), 0);
  lj_sleep_ns(100 * MS);  // past every device's first counter reading
  lj_meter_barrier *b;
  assert_int_equal(lj_meter_barrier_create(&b, r.s, 0), LJ_EINVAL);
  assert_int_equal(lj_meter_barrier_create(&b, r.s, N_RANKS), 0);
  rank_state ranks[N_RANKS];
  pthread_t th[N_RANKS];
  for (int i = 0; i < N_RANKS; i++) {
    memset(&ranks[i], 0, sizeof ranks[i]);
    ranks[i].b = b;
    ranks[i].s = r.s;
    ranks[i].rank = i;
    assert_int_equal(pthread_create(&th[i], NULL, rank_main, &ranks[i]), 0);
  }
  for (int i = 0; i < N_RANKS; i++) pthread_join(th[i], NULL);
  assert_int_equal(lj_windows_count(lj_sampler_windows(r.s)), 1);
  int64_t last_begin = 0, last_end = 0;
  for (int i = 0; i < N_RANKS; i++) {
    assert_int_equal(ranks[i].handle, 0);
    assert_int_equal(ranks[i].end_rc, 0);
    assert_int_equal(ranks[i].begin_ns, ranks[0].begin_ns);
    assert_int_equal(ranks[i].end_ns, ranks[0].end_ns);
    assert_int_equal(ranks[i].bad_rc, LJ_EINVAL);
    assert_non_null(strstr(ranks[i].bad_message, "already ended"));
    if (ranks[i].arrived_begin > last_begin) last_begin = ranks[i].arrived_begin;
    if (ranks[i].arrived_end > last_end) last_end = ranks[i].arrived_end;
  }
  // the boundaries come after every rank arrived: the window covers all the ranks' work
  assert_true(ranks[0].begin_ns >= last_begin);
  assert_true(ranks[0].end_ns >= last_end);
  lj_window_result d[N_RANKS], all;
  for (int i = 0; i < N_RANKS; i++) assert_int_equal(lj_meter_result(r.s, 0, i, &d[i], 2 * SEC), 0);
  assert_int_equal(lj_meter_result(r.s, 0, -1, &all, 2 * SEC), 0);
  const double watts[N_RANKS] = {250, 100, 80};
  double dur = (double)(ranks[0].end_ns - ranks[0].begin_ns) * 1e-9;
  assert_true(dur > 0.2);
  for (int i = 0; i < N_RANKS; i++) {
    assert_int_equal(d[i].begin_ns, ranks[0].begin_ns);
    assert_int_equal(d[i].end_ns, ranks[0].end_ns);
    assert_int_equal(d[i].flags & (LJ_WINDOW_PENDING | LJ_WINDOW_INCOMPLETE), 0);
    REL(d[i].counter_energy_j, watts[i] * dur, 1e-9);
  }
  REL(all.counter_energy_j, (250.0 + 100.0 + 80.0) * dur, 1e-9);
  lj_meter_barrier_free(b);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  rig_close(&r);
  lj_trace_free(&t);
}

// ---- boundary reads side by side: a counter read that takes 60 ms

#define SLOW_READ_NS (60 * MS)
static lj_source_ops g_slow_ops;
static const lj_source_ops *g_replay_ops;

// The replayed read (stamped when it starts), then the driver's slowness.
static int slow_read(lj_source *src, int dev, lj_reading r, lj_sample *out) {
  int rc = g_replay_ops->read(src, dev, r, out);
  if (r == LJ_READING_ENERGY) lj_sleep_ns(SLOW_READ_NS);
  return rc;
}

// Four devices whose counter read takes 60 ms each: a window boundary wakes every device's counter
// thread, so the four boundary reads start together. Read in turn they would start 60, 120 and 180 ms
// apart.
static void test_boundary_reads_side_by_side(void **state) {
  enum { N = 4 };
  lj_trace t;
  lj_trace_init(&t);
  for (int d = 0; d < N; d++) build(&t, d, kConst100, 20, 0, 0, 3.0);
  rig r;
  memset(&r, 0, sizeof r);
  lj_trace_init(&r.got);
  pthread_mutex_init(&r.lock, NULL);
  assert_int_equal(lj_source_open_replay_polled(&r.src, &t, 1, LJ_READING_BIT(LJ_READING_ENERGY)), 0);
  g_replay_ops = r.src->ops;
  g_slow_ops = *r.src->ops;
  g_slow_ops.read = slow_read;
  r.src->ops = &g_slow_ops;
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.counter_period_ns = 100 * SEC;  // no background read: only the boundary's
  c.counter_update_ns = 1 * MS;
  c.sink = collect;
  c.sink_user = &r;
  assert_int_equal(lj_sampler_create(&r.s, r.src, &c), 0);
  assert_int_equal(lj_sampler_start(r.s), 0);
  lj_sleep_ns(150 * MS);
  int h = lj_meter_begin(r.s, "w");
  assert_true(h >= 0);
  lj_sleep_ns(300 * MS);
  assert_int_equal(lj_sampler_stop(r.s), 0);
  int64_t t_b = result(lj_sampler_windows(r.s), h, -1).begin_ns;
  int64_t first[N];
  for (int d = 0; d < N; d++) first[d] = INT64_MAX;
  for (size_t i = 0; i < r.got.n_samples; i++) {
    const lj_sample *x = &r.got.samples[i];
    if (x->reading == LJ_READING_ENERGY && x->t_ns >= t_b && x->t_ns < first[x->device]) first[x->device] = x->t_ns;
  }
  int64_t lo = INT64_MAX, hi = 0;
  for (int d = 0; d < N; d++) {
    assert_true(first[d] < INT64_MAX);
    if (first[d] < lo) lo = first[d];
    if (first[d] > hi) hi = first[d];
  }
  printf("boundary reads of %d devices start %.2f to %.2f ms after the boundary (in turn: >= %.0f ms apart)\n", N,
         (double)(lo - t_b) / 1e6, (double)(hi - t_b) / 1e6, (double)((N - 1) * SLOW_READ_NS) / 1e6);
  assert_true(hi - t_b < 2 * SLOW_READ_NS);  // read at the boundary, not at the next background read
  assert_true(hi - lo < SLOW_READ_NS);
  rig_close(&r);
  lj_trace_free(&t);
}

// ---- idle per GPU

// Three GPUs idling at different powers, measured together: each its own baseline.
static void test_idle_per_device(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  const line idle[3] = {{60, 0}, {75, 0}, {90, 0}};
  for (int d = 0; d < 3; d++) build(&t, d, idle[d], 20, 7 * d, 13 * d, 3.0);
  lj_source *src;
  assert_int_equal(lj_source_open_replay(&src, &t, 1), 0);
  const int devs[3] = {2, 0, 1};
  lj_idle_result out[3];
  lj_trace keep;
  lj_trace_init(&keep);
  assert_int_equal(lj_measure_idle_devices(src, devs, 3, 0.6, &keep, out), 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(out[i].device, devs[i]);
    NEAR(out[i].mean_w, idle[devs[i]].a, 1e-6);  // constant power: counter and samples exact
    NEAR(out[i].sample_mean_w, idle[devs[i]].a, 1e-9);
    assert_true(out[i].n_counter_updates >= 3);
  }
  int seen[3] = {0, 0, 0};
  for (size_t i = 0; i < keep.n_samples; i++) seen[keep.samples[i].device]++;
  for (int d = 0; d < 3; d++) assert_true(seen[d] > 10);
  const int twice[2] = {1, 1}, past[1] = {3};
  assert_int_equal(lj_measure_idle_devices(src, twice, 2, 0.1, NULL, out), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "device 1 named twice"));
  assert_int_equal(lj_measure_idle_devices(src, past, 1, 0.1, NULL, out), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "no device 3"));
  lj_trace_free(&keep);
  lj_source_close(src);
  lj_trace_free(&t);
}

// Idle against temperature fitted per GPU from one mixed trace: the cards' leakage differs
// (0.5 and 1.5 W/C planted, noise-free), and each fit finds its own.
static void test_idle_curve_per_device(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  const double a[2] = {60, 70}, slope[2] = {0.5, 1.5};
  for (int k = 0; k < 200; k++) {
    double temp = 30.0 + 10.0 * k / 199.0;
    for (int d = 0; d < 2; d++) {
      trace_add(&t, d, LJ_READING_TEMPERATURE, at(k * 0.1), temp + d);
      trace_add(&t, d, LJ_READING_POWER_SAMPLE, at(k * 0.1 + 0.001), a[d] + slope[d] * (temp + d - 30.0));
    }
  }
  lj_trace_sort(&t);
  for (int d = 0; d < 2; d++) {
    lj_idle_curve c;
    assert_int_equal(lj_idle_curve_fit(t.samples, t.n_samples, d, 30.0, 0.95, &c), 0);
    assert_true(c.usable);
    NEAR(c.slope_w_per_c, slope[d], 1e-9);
    NEAR(c.a_w, a[d], 1e-9);
    NEAR(lj_idle_curve_at(&c, 35.0, 0), a[d] + slope[d] * 5.0, 1e-9);
  }
  lj_trace_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_devices_apart_shared_window),
      cmocka_unit_test(test_late_device_holds_only_itself),
      cmocka_unit_test(test_stopped_device_incomplete_not_lost),
      cmocka_unit_test(test_devices_left_out),
      cmocka_unit_test(test_barrier_one_timestamp),
      cmocka_unit_test(test_boundary_reads_side_by_side),
      cmocka_unit_test(test_idle_per_device),
      cmocka_unit_test(test_idle_curve_per_device),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
