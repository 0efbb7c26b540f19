// The sampler: per device one thread reads the energy counter (one call costs
// ~4 ms of CPU on H100, so it must not delay the fields: a slow background
// period, plus a read at once at every window boundary) and one polls the
// fast fields, and with each drain of the streamed samples (driver buffer)
// the slow fields. Each writes into its own
// bounded ring; a delivery thread moves batches to the windows and the sink.
// Devices never share a thread: each GPU's counter is read on its own
// schedule, side by side with the others (several GPUs read in turn would
// skew their boundary reads by ~4 ms per GPU).
// lj_sampler_poll runs the same tasks synchronously at a given time.
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "meter/ring.h"
#include "meter/source_impl.h"

#define DRAIN_CHUNK 1024
#define BATCH_CAP 8192

typedef struct lj_worker lj_worker;

struct lj_worker {
  lj_sampler *s;
  int dev;
  int is_counter;  // 1: energy counter; 0: fields + drain
  pthread_t thread;
  int started;
  lj_ring ring;
  _Atomic int64_t cpu_ns;
  int64_t next_read_ns, next_drain_ns;  // schedule (manual mode and threads)
  int64_t last_read_ns;                 // counter: when the last read started (source clock)
  _Atomic int first_round_done;         // threads: the first reads are in the ring
  int counter_wanted;                   // a window boundary asked for a read (guarded by s->lock)
  lj_sample *drain_buf;                 // (DRAIN_CHUNK), fields worker only
};

struct lj_sampler {
  lj_source *src;
  lj_sampler_config cfg;
  int n_dev;
  lj_worker *workers;     // (2 * n_dev): [2d] counter, [2d+1] fields
  uint32_t *poll_mask;    // (n_dev) polled readings every field period
  uint32_t *slow_mask;    // (n_dev) polled readings with each drain
  int *has_counter;       // (n_dev)
  int *metered;           // (n_dev) 1: read (lj_sampler_config::devices)
  lj_windows *windows;
  lj_sample *batch;       // (BATCH_CAP), delivery only
  pthread_t deliver_thread;
  int deliver_started;
  _Atomic int64_t deliver_cpu_ns;
  pthread_mutex_t lock;
  pthread_cond_t wake;    // stop and counter-read requests (CLOCK_MONOTONIC)
  int stop;               // guarded by lock
  int running, stopped;
  _Atomic int64_t manual_cpu_ns;
  _Atomic int64_t manual_now_ns;
  int manual;
  int64_t start_ns, stop_ns;
  _Atomic uint64_t delivered, read_errors, sink_batches;
  _Atomic int sink_error;
  pthread_mutex_t deliver_lock;  // one delivery at a time (manual poll vs stop)
};

void lj_sampler_config_default(lj_sampler_config *c) {
  memset(c, 0, sizeof *c);
  c->field_period_ns = 10 * 1000000LL;
  c->counter_period_ns = 1000 * 1000000LL;
  c->counter_update_ns = 100 * 1000000LL;
  c->drain_period_ns = 250 * 1000000LL;
  c->slow_readings = LJ_READING_BIT(LJ_READING_UTIL_GPU) | LJ_READING_BIT(LJ_READING_UTIL_MEM) |
                     LJ_READING_BIT(LJ_READING_CLOCK_MEM) | LJ_READING_BIT(LJ_READING_TEMPERATURE);
  c->deliver_period_ns = 50 * 1000000LL;
  c->ring_capacity = 65536;
}

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// ---- tasks (shared by the threads and lj_sampler_poll)

static void push(lj_worker *w, const lj_sample *x, size_t n) { lj_ring_push(&w->ring, x, n); }

static void read_one(lj_worker *w, lj_reading r) {
  lj_sample x;
  int rc = lj_source_read(w->s->src, w->dev, r, &x);
  if (rc == 0) push(w, &x, 1);
  else if (rc != LJ_EUNSUPPORTED) atomic_fetch_add(&w->s->read_errors, 1);
}

static void read_counter(lj_worker *w) { read_one(w, LJ_READING_ENERGY); }

static void read_fields(lj_worker *w, uint32_t mask) {
  if (!mask) return;
  lj_sample x[LJ_READING_COUNT];
  int n, errors;
  lj_source_read_many(w->s->src, w->dev, mask, x, &n, &errors);
  push(w, x, (size_t)n);
  if (errors) atomic_fetch_add(&w->s->read_errors, (uint64_t)errors);
}

static void drain_streams(lj_worker *w) {
  lj_device_info info = w->s->src->devices[w->dev];
  // slowly-changing polled readings: once per drain, not per field period
  read_fields(w, w->s->slow_mask[w->dev]);
  if (!info.streamed) return;
  for (;;) {
    size_t n = 0;
    int rc = lj_source_drain(w->s->src, w->dev, w->drain_buf, DRAIN_CHUNK, &n);
    if (rc < 0) {
      atomic_fetch_add(&w->s->read_errors, 1);
      return;
    }
    push(w, w->drain_buf, n);
    if (n < DRAIN_CHUNK) return;
  }
}

// The next deadline after `now` on the grid next + k * period (missed
// deadlines are skipped, not made up in a burst).
static int64_t advance(int64_t next, int64_t now, int64_t period) {
  if (next > now) return next;
  return now - (now - next) % period + period;
}

// Runs what is due at `now` (`wanted`: a counter read asked for by a window
// boundary); returns the time of the next task.
static int64_t run_due(lj_worker *w, int64_t now, int wanted) {
  const lj_sampler_config *c = &w->s->cfg;
  if (w->is_counter) {
    if (wanted) {
      // at once, but not sooner than one counter update after the last read:
      // crowded boundaries cost at most what reads every update would
      int64_t due = w->last_read_ns + c->counter_update_ns;
      if (due < now) due = now;
      if (due < w->next_read_ns) w->next_read_ns = due;
    }
    if (now >= w->next_read_ns) {
      read_counter(w);
      w->last_read_ns = now;
      // the background grid restarts at every read: no second read right after a boundary's
      w->next_read_ns = now + c->counter_period_ns;
    }
    return w->next_read_ns;
  }
  if (now >= w->next_read_ns) {
    read_fields(w, w->s->poll_mask[w->dev]);
    w->next_read_ns = advance(w->next_read_ns, now, c->field_period_ns);
  }
  if (now >= w->next_drain_ns) {
    drain_streams(w);
    w->next_drain_ns = advance(w->next_drain_ns, now, c->drain_period_ns);
  }
  return w->next_read_ns < w->next_drain_ns ? w->next_read_ns : w->next_drain_ns;
}

static int worker_active(const lj_sampler *s, const lj_worker *w) {
  if (!s->metered[w->dev]) return 0;
  if (w->is_counter) return s->has_counter[w->dev];
  const lj_device_info *i = &s->src->devices[w->dev];
  return s->poll_mask[w->dev] || s->slow_mask[w->dev] || i->streamed;
}

// Moves everything in the rings to the windows and the sink.
static void deliver(lj_sampler *s) {
  pthread_mutex_lock(&s->deliver_lock);
  for (;;) {
    size_t n = 0;
    for (int i = 0; i < 2 * s->n_dev && n < BATCH_CAP; i++)
      n += lj_ring_pop(&s->workers[i].ring, s->batch + n, BATCH_CAP - n);
    if (n == 0) break;
    lj_windows_add(s->windows, s->batch, n);
    atomic_fetch_add(&s->delivered, n);
    if (s->cfg.sink && atomic_load(&s->sink_error) == 0) {
      int rc = s->cfg.sink(s->cfg.sink_user, s->batch, n);
      atomic_fetch_add(&s->sink_batches, 1);
      if (rc != 0) atomic_store(&s->sink_error, rc);
    }
    if (n < BATCH_CAP) break;
  }
  pthread_mutex_unlock(&s->deliver_lock);
}

// ---- threads

// Sleeps until `deadline` (monotonic), stop, or (w not NULL) a counter-read
// request for w; returns 1 when stopping. *wanted: the request, taken.
static int sleep_until(lj_sampler *s, int64_t deadline, lj_worker *w, int *wanted) {
  struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
  pthread_mutex_lock(&s->lock);
  while (!s->stop && !(w && w->counter_wanted)) {
    int rc = pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    if (rc == ETIMEDOUT) break;
  }
  int stop = s->stop;
  if (w) {
    *wanted = w->counter_wanted;
    w->counter_wanted = 0;
  }
  pthread_mutex_unlock(&s->lock);
  return stop;
}

void lj_sampler_read_counter_now(lj_sampler *s) {
  if (s->stopped) return;
  if (s->manual) {  // the caller's thread is the producer: read at the last poll time
    for (int d = 0; d < s->n_dev; d++)
      if (s->has_counter[d]) run_due(&s->workers[2 * d], atomic_load(&s->manual_now_ns), 1);
    return;
  }
  if (!s->running) return;
  pthread_mutex_lock(&s->lock);
  for (int d = 0; d < s->n_dev; d++)
    if (s->workers[2 * d].started) s->workers[2 * d].counter_wanted = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
}

static void on_window_boundary(void *user) { lj_sampler_read_counter_now(user); }

static void *worker_main(void *arg) {
  lj_worker *w = arg;
  lj_sampler *s = w->s;
  int64_t now = lj_source_now_ns(s->src);
  w->next_read_ns = w->next_drain_ns = now;
  int wanted = 0;
  for (;;) {
    int64_t next = run_due(w, now, wanted);
    atomic_store(&w->first_round_done, 1);
    atomic_store(&w->cpu_ns, thread_cpu_ns());
    // the source's clock is the monotonic clock, except a replay in real time:
    // sleep the same span on the monotonic clock
    int64_t mono = lj_mono_ns();
    if (sleep_until(s, mono + (next - now), w->is_counter ? w : NULL, &wanted)) break;
    now = lj_source_now_ns(s->src);
  }
  // a last reading so that windows ending at stop have a bracket after them
  if (w->is_counter) read_counter(w);
  else drain_streams(w);
  atomic_store(&w->cpu_ns, thread_cpu_ns());
  return NULL;
}

static void *deliver_main(void *arg) {
  lj_sampler *s = arg;
  for (;;) {
    int stopping = sleep_until(s, lj_mono_ns() + s->cfg.deliver_period_ns, NULL, NULL);
    deliver(s);
    atomic_store(&s->deliver_cpu_ns, thread_cpu_ns());
    if (stopping) break;
  }
  return NULL;
}

// ---- life cycle

int lj_sampler_create(lj_sampler **out, lj_source *src, const lj_sampler_config *cfg) {
  *out = NULL;
  lj_sampler_config c;
  if (cfg) c = *cfg; else lj_sampler_config_default(&c);
  lj_sampler_config d;
  lj_sampler_config_default(&d);
  if (c.field_period_ns <= 0) c.field_period_ns = d.field_period_ns;
  if (c.counter_period_ns <= 0) c.counter_period_ns = d.counter_period_ns;
  if (c.drain_period_ns <= 0) c.drain_period_ns = d.drain_period_ns;
  if (c.deliver_period_ns <= 0) c.deliver_period_ns = d.deliver_period_ns;
  if (c.ring_capacity == 0) c.ring_capacity = d.ring_capacity;
  int n = lj_source_device_count(src);
  if (n <= 0) return LJ_FAIL(LJ_ENODEV, "the %s source has no devices", lj_source_kind(src));
  if (n < 64 && (c.devices >> n))
    return LJ_FAIL(LJ_EINVAL, "sampler: devices mask 0x%llx names a device past the %s source's %d",
                   (unsigned long long)c.devices, lj_source_kind(src), n);
  lj_sampler *s = calloc(1, sizeof *s);
  if (!s) return LJ_FAIL(LJ_ENOMEM, "out of memory creating the sampler");
  s->src = src;
  s->cfg = c;
  s->n_dev = n;
  s->workers = calloc((size_t)(2 * n), sizeof *s->workers);
  s->poll_mask = calloc((size_t)n, sizeof *s->poll_mask);
  s->slow_mask = calloc((size_t)n, sizeof *s->slow_mask);
  s->has_counter = calloc((size_t)n, sizeof *s->has_counter);
  s->metered = calloc((size_t)n, sizeof *s->metered);
  s->batch = malloc(BATCH_CAP * sizeof *s->batch);
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->deliver_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->wake, &ca);
  pthread_condattr_destroy(&ca);
  int rc = (s->workers && s->poll_mask && s->slow_mask && s->has_counter && s->metered && s->batch) ? 0 : LJ_FAIL(LJ_ENOMEM, "out of memory creating the sampler");
  if (rc == 0) rc = lj_windows_create(&s->windows, n);
  for (int i = 0; i < 2 * n && rc == 0; i++) {
    lj_worker *w = &s->workers[i];
    w->s = s;
    w->dev = i / 2;
    w->is_counter = (i % 2) == 0;
    rc = lj_ring_init(&w->ring, c.ring_capacity);
    if (rc == 0 && !w->is_counter) {
      w->drain_buf = malloc(DRAIN_CHUNK * sizeof *w->drain_buf);
      if (!w->drain_buf) rc = LJ_FAIL(LJ_ENOMEM, "out of memory creating the sampler");
    }
  }
  for (int dv = 0; dv < n && rc == 0; dv++) {
    s->metered[dv] = !c.devices || (dv < 64 && ((c.devices >> dv) & 1));
    if (!s->metered[dv]) {
      lj_windows_exclude(s->windows, dv);
      continue;
    }
    const lj_device_info *info = &src->devices[dv];
    uint32_t polled = info->supported & ~info->streamed;
    s->has_counter[dv] = (polled & LJ_READING_BIT(LJ_READING_ENERGY)) != 0;
    uint32_t mask = polled & ~(LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_LIMIT));
    if (c.field_readings) mask &= c.field_readings;
    s->poll_mask[dv] = mask & ~c.slow_readings;
    s->slow_mask[dv] = (mask & c.slow_readings) | (polled & LJ_READING_BIT(LJ_READING_POWER_LIMIT));
    // the counter's own update period; a replayed counter was read on the same schedule
    int counter_of_driver = s->has_counter[dv] || (!strcmp(lj_source_kind(src), "replay") &&
                                                   (info->supported & LJ_READING_BIT(LJ_READING_ENERGY)));
    if (counter_of_driver && c.counter_update_ns > 0) lj_windows_set_counter_period(s->windows, dv, c.counter_update_ns);
    uint32_t fed = LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE) |
                   LJ_READING_BIT(LJ_READING_POWER_INSTANT);
    // polled instant power arrives only when in the field mask
    uint32_t arriving = (info->streamed | mask | (s->has_counter[dv] ? LJ_READING_BIT(LJ_READING_ENERGY) : 0)) & fed;
    lj_windows_expect(s->windows, dv, arriving);
  }
  if (rc < 0) {
    lj_sampler_free(s);
    return rc;
  }
  lj_windows_on_boundary(s->windows, on_window_boundary, s);
  *out = s;
  return 0;
}

int lj_sampler_start(lj_sampler *s) {
  if (s->running || s->stopped) return LJ_FAIL(LJ_EINVAL, "the sampler was already started");
  if (s->manual) return LJ_FAIL(LJ_EINVAL, "the sampler is in manual mode (lj_sampler_poll was called)");
  s->start_ns = lj_source_now_ns(s->src);
  s->running = 1;
  for (int i = 0; i < 2 * s->n_dev; i++) {
    lj_worker *w = &s->workers[i];
    if (!worker_active(s, w)) continue;
    int err = pthread_create(&w->thread, NULL, worker_main, w);
    if (err != 0) {
      lj_sampler_stop(s);
      return LJ_FAIL(LJ_ENOMEM, "cannot start a sampler thread: %s", strerror(err));
    }
    w->started = 1;
  }
  int err = pthread_create(&s->deliver_thread, NULL, deliver_main, s);
  if (err != 0) {
    lj_sampler_stop(s);
    return LJ_FAIL(LJ_ENOMEM, "cannot start the sampler's delivery thread: %s", strerror(err));
  }
  s->deliver_started = 1;
  // Return once every thread has read once, so that a window begun right
  // after start has readings before its begin (a bracket), not only after.
  int64_t give_up = lj_mono_ns() + 1000000000LL;
  for (int i = 0; i < 2 * s->n_dev; i++)
    while (s->workers[i].started && !atomic_load(&s->workers[i].first_round_done) && lj_mono_ns() < give_up)
      lj_sleep_ns(200000);
  return 0;
}

int lj_sampler_stop(lj_sampler *s) {
  if (s->stopped) return 0;
  s->stopped = 1;
  if (s->running) {
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < 2 * s->n_dev; i++)
      if (s->workers[i].started) pthread_join(s->workers[i].thread, NULL);
    if (s->deliver_started) pthread_join(s->deliver_thread, NULL);  // it delivers once more after the stop
    s->stop_ns = lj_source_now_ns(s->src);
  } else if (s->manual) {
    s->stop_ns = atomic_load(&s->manual_now_ns);
  }
  deliver(s);  // whatever the last worker readings added
  lj_windows_finish(s->windows);
  int err = atomic_load(&s->sink_error);
  if (err) return LJ_FAIL(err < 0 ? err : LJ_EIO, "the sample sink failed (code %d): samples after that were not stored", err);
  return 0;
}

void lj_sampler_free(lj_sampler *s) {
  if (!s) return;
  if (s->running && !s->stopped) lj_sampler_stop(s);
  if (s->workers)
    for (int i = 0; i < 2 * s->n_dev; i++) {
      lj_ring_free(&s->workers[i].ring);
      free(s->workers[i].drain_buf);
    }
  lj_windows_free(s->windows);
  free(s->workers);
  free(s->poll_mask);
  free(s->slow_mask);
  free(s->has_counter);
  free(s->metered);
  free(s->batch);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->deliver_lock);
  free(s);
}

int lj_sampler_poll(lj_sampler *s, int64_t now_ns) {
  if (s->running) return LJ_FAIL(LJ_EINVAL, "lj_sampler_poll: the sampler runs its own threads");
  if (s->stopped) return LJ_FAIL(LJ_EINVAL, "lj_sampler_poll: the sampler was stopped");
  int64_t cpu0 = thread_cpu_ns();
  if (!s->manual) {
    s->manual = 1;
    s->start_ns = now_ns;
    for (int i = 0; i < 2 * s->n_dev; i++) s->workers[i].next_read_ns = s->workers[i].next_drain_ns = now_ns;
  }
  if (now_ns < atomic_load(&s->manual_now_ns))
    return LJ_FAIL(LJ_EINVAL, "lj_sampler_poll: time went backwards (%lld < %lld ns)", (long long)now_ns,
                   (long long)atomic_load(&s->manual_now_ns));
  atomic_store(&s->manual_now_ns, now_ns);
  if (strcmp(lj_source_kind(s->src), "replay") == 0) LJ_TRY(lj_source_set_now(s->src, now_ns));
  for (int i = 0; i < 2 * s->n_dev; i++)
    if (worker_active(s, &s->workers[i])) run_due(&s->workers[i], now_ns, 0);
  deliver(s);
  atomic_fetch_add(&s->manual_cpu_ns, thread_cpu_ns() - cpu0);
  return 0;
}

int64_t lj_sampler_now(lj_sampler *s) { return s->manual ? atomic_load(&s->manual_now_ns) : lj_source_now_ns(s->src); }

lj_windows *lj_sampler_windows(lj_sampler *s) { return s->windows; }

void lj_sampler_stats_get(lj_sampler *s, lj_sampler_stats *out) {
  memset(out, 0, sizeof *out);
  out->samples = atomic_load(&s->delivered);
  out->read_errors = atomic_load(&s->read_errors);
  out->sink_batches = atomic_load(&s->sink_batches);
  out->sink_error = atomic_load(&s->sink_error);
  for (int i = 0; i < 2 * s->n_dev; i++) {
    out->dropped += atomic_load(&s->workers[i].ring.dropped);
    out->cpu_ns += atomic_load(&s->workers[i].cpu_ns);
  }
  out->cpu_ns += atomic_load(&s->deliver_cpu_ns) + atomic_load(&s->manual_cpu_ns);
  for (int d = 0; d < s->n_dev; d++) {
    lj_source_stats st;
    if (s->metered[d] && lj_source_stats_get(s->src, d, &st) == 0) out->buffer_gaps += st.buffer_gaps;
  }
  int64_t end = s->stopped ? s->stop_ns : lj_sampler_now(s);
  out->wall_ns = (s->running || s->manual) ? end - s->start_ns : 0;
  out->cpu_percent = out->wall_ns > 0 ? 100.0 * (double)out->cpu_ns / (double)out->wall_ns : 0;
}

// ---- windows at the sampler's clock

int lj_meter_begin(lj_sampler *s, const char *name) { return lj_windows_begin(s->windows, name, lj_sampler_now(s)); }

int lj_meter_end(lj_sampler *s, const char *name) {
  return lj_windows_end_by_name(s->windows, name, lj_sampler_now(s));
}

int lj_meter_end_handle(lj_sampler *s, int handle) { return lj_windows_end(s->windows, handle, lj_sampler_now(s)); }

int lj_meter_result(lj_sampler *s, int handle, int device, lj_window_result *out, int64_t timeout_ns) {
  int64_t deadline = lj_mono_ns() + timeout_ns;
  for (;;) {
    LJ_TRY(lj_windows_result(s->windows, handle, device, out));
    if (!(out->flags & LJ_WINDOW_PENDING) || !s->running || s->stopped || lj_mono_ns() >= deadline) return 0;
    lj_sleep_ns(2 * 1000000LL);
  }
}
