// Named measurement windows that may nest and overlap. The engine keeps, per
// device, the energy-counter readings and the streamed power samples (the
// driver buffer, and instant power for sources without a buffer) from the
// begin of the oldest unfinished window on, and computes a window's energy
// two ways when asked (series.h). A device's figure for a window is final
// once a sample past its end has arrived for every series of that device
// that delivers samples (or at finish); each device's sampler threads run
// apart, so one that lags holds back only its own figure and the sum. Final
// figures are cached, and once every device's is, the history before the
// window can go.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "llamajoule/meter.h"
#include "meter/series.h"

// History kept even when no window is open: a window begun "now" may need
// the readings of the last seconds (samples arrive late, by a drain period).
#define RETAIN_NS (5 * 1000000000LL)
#define PRUNE_EVERY 1024

typedef struct {
  lj_series counter, power_sample, power_instant;
  double idle_w;
  int64_t counter_period_ns;  // 0 = estimate
  int integrated;             // lj_reading, or -1 = auto
  int expect_set;
  uint32_t expect;            // LJ_READING_BIT mask of readings that keep arriving
  int64_t latest_ns;          // newest sample time of any reading
  int excluded;               // not metered: no figures, not in the sum
} wdev;

typedef struct {
  char name[64];
  int64_t begin_ns, end_ns;
  int open;
  int final;                 // every device's figure (and the sum) is cached
  lj_window_result *cached;  // (n_devices + 1) once a device is final; [n_devices] = total
  unsigned char *dev_final;  // (n_devices) with cached: that device's figure is cached
} window;

struct lj_windows {
  pthread_mutex_t lock;
  int n_dev;
  wdev *dev;
  window *w;
  int n_w, cap_w;
  int finished;
  int adds_since_prune;
  lj_window_boundary_fn on_boundary;  // called after every begin/end, outside the lock
  void *on_boundary_user;
};

int lj_windows_create(lj_windows **out, int n_devices) {
  *out = NULL;
  if (n_devices <= 0) return LJ_FAIL(LJ_EINVAL, "windows need at least one device (got %d)", n_devices);
  lj_windows *w = calloc(1, sizeof *w);
  if (w) w->dev = calloc((size_t)n_devices, sizeof *w->dev);
  if (!w || !w->dev) {
    free(w);
    return LJ_FAIL(LJ_ENOMEM, "out of memory creating windows");
  }
  pthread_mutex_init(&w->lock, NULL);
  w->n_dev = n_devices;
  for (int d = 0; d < n_devices; d++) w->dev[d].integrated = -1;
  *out = w;
  return 0;
}

void lj_windows_free(lj_windows *w) {
  if (!w) return;
  for (int d = 0; d < w->n_dev; d++) {
    lj_series_free(&w->dev[d].counter);
    lj_series_free(&w->dev[d].power_sample);
    lj_series_free(&w->dev[d].power_instant);
  }
  for (int i = 0; i < w->n_w; i++) {
    free(w->w[i].cached);
    free(w->w[i].dev_final);
  }
  free(w->w);
  free(w->dev);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

static int valid_dev(const lj_windows *w, int dev) { return dev >= 0 && dev < w->n_dev; }

void lj_windows_exclude(lj_windows *w, int dev) {
  if (!valid_dev(w, dev)) return;
  pthread_mutex_lock(&w->lock);
  w->dev[dev].excluded = 1;
  pthread_mutex_unlock(&w->lock);
}

void lj_windows_set_idle(lj_windows *w, int dev, double idle_w) {
  if (!valid_dev(w, dev)) return;
  pthread_mutex_lock(&w->lock);
  w->dev[dev].idle_w = idle_w;
  pthread_mutex_unlock(&w->lock);
}

void lj_windows_set_counter_period(lj_windows *w, int dev, int64_t period_ns) {
  if (!valid_dev(w, dev)) return;
  pthread_mutex_lock(&w->lock);
  w->dev[dev].counter_period_ns = period_ns;
  pthread_mutex_unlock(&w->lock);
}

void lj_windows_on_boundary(lj_windows *w, lj_window_boundary_fn fn, void *user) {
  pthread_mutex_lock(&w->lock);
  w->on_boundary = fn;
  w->on_boundary_user = user;
  pthread_mutex_unlock(&w->lock);
}

// Tells the hook (the sampler: read the counter now) that a boundary passed.
static void boundary_passed(lj_windows *w) {
  pthread_mutex_lock(&w->lock);
  lj_window_boundary_fn fn = w->on_boundary;
  void *user = w->on_boundary_user;
  pthread_mutex_unlock(&w->lock);
  if (fn) fn(user);
}

void lj_windows_set_integrated(lj_windows *w, int dev, lj_reading r) {
  if (!valid_dev(w, dev)) return;
  pthread_mutex_lock(&w->lock);
  w->dev[dev].integrated = (r == LJ_READING_POWER_SAMPLE || r == LJ_READING_POWER_INSTANT) ? (int)r : -1;
  pthread_mutex_unlock(&w->lock);
}

void lj_windows_expect(lj_windows *w, int dev, uint32_t readings) {
  if (!valid_dev(w, dev)) return;
  pthread_mutex_lock(&w->lock);
  w->dev[dev].expect_set = 1;
  w->dev[dev].expect = readings;
  pthread_mutex_unlock(&w->lock);
}

// Instant power is kept only when it is what (b) integrates: with a driver
// buffer it would triple the history for nothing.
static int keeps_instant(const wdev *d) {
  if (d->integrated >= 0) return d->integrated == LJ_READING_POWER_INSTANT;
  return !(d->expect & LJ_READING_BIT(LJ_READING_POWER_SAMPLE));
}

static const lj_series *integrated_series(const wdev *d, int *reading) {
  int r = d->integrated;
  if (r < 0)
    r = (d->power_sample.n || (d->expect & LJ_READING_BIT(LJ_READING_POWER_SAMPLE))) ? LJ_READING_POWER_SAMPLE
                                                                                    : LJ_READING_POWER_INSTANT;
  *reading = r;
  return r == LJ_READING_POWER_SAMPLE ? &d->power_sample : &d->power_instant;
}

// One device's result for a window (lock held).
static void compute(const lj_windows *w, const window *win, int dev, lj_window_result *out) {
  const wdev *d = &w->dev[dev];
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", win->name);
  out->device = dev;
  out->begin_ns = win->begin_ns;
  out->end_ns = win->open ? (d->latest_ns > win->begin_ns ? d->latest_ns : win->begin_ns) : win->end_ns;
  out->duration_s = (double)(out->end_ns - out->begin_ns) * 1e-9;
  lj_integral c = lj_counter_delta(&d->counter, out->begin_ns, out->end_ns);
  int reading;
  const lj_series *ps = integrated_series(d, &reading);
  lj_integral p = lj_power_integral(ps, out->begin_ns, out->end_ns);
  out->counter_energy_j = c.energy_j;
  out->counter_updates = c.updates;
  out->sample_energy_j = p.energy_j;
  out->n_samples = p.n_inside;
  out->integrated_reading = reading;
  out->peak_power_w = p.peak;
  out->flags = c.flags | p.flags;
  if (out->duration_s > 0) {
    if (!(p.flags & LJ_WINDOW_NO_SAMPLES)) out->mean_power_w = p.energy_j / out->duration_s;
    else if (!(c.flags & LJ_WINDOW_NO_COUNTER)) out->mean_power_w = c.energy_j / out->duration_s;
  }
  // With a known update period the length decides: counter reads at the
  // boundaries make a window longer than one update exact to about one update
  // even with no background read inside. Estimated: also < 2 updates seen.
  int64_t period = d->counter_period_ns ? d->counter_period_ns : lj_counter_update_period(&d->counter);
  if ((!d->counter_period_ns && c.updates < 2) || (period > 0 && out->end_ns - out->begin_ns < period))
    out->flags |= LJ_WINDOW_SHORT;
  out->idle_power_w = d->idle_w;
  out->counter_above_idle_j = c.energy_j - d->idle_w * out->duration_s;
  out->sample_above_idle_j = p.energy_j - d->idle_w * out->duration_s;
  if (win->open) out->flags |= LJ_WINDOW_OPEN;
  else if (!(win->dev_final && win->dev_final[dev])) out->flags |= LJ_WINDOW_PENDING;
  // finished before any reading of this device reached the end: its sampler
  // threads lagged or stopped, and the figure holds what came before
  if (!win->open && w->finished && d->latest_ns < win->end_ns) out->flags |= LJ_WINDOW_INCOMPLETE;
}

// The sum over the metered devices of their figures per_dev[0..n_dev).
static void sum_devices(const lj_windows *w, const lj_window_result *per_dev, lj_window_result *out) {
  int first = 1;
  for (int d = 0; d < w->n_dev; d++) {
    if (w->dev[d].excluded) continue;
    const lj_window_result *r = &per_dev[d];
    if (first) {
      *out = *r;
      out->device = -1;
      first = 0;
      continue;
    }
    out->counter_energy_j += r->counter_energy_j;
    out->counter_updates += r->counter_updates;
    out->sample_energy_j += r->sample_energy_j;
    out->n_samples += r->n_samples;
    out->mean_power_w += r->mean_power_w;
    out->peak_power_w += r->peak_power_w;  // an upper bound of the peak of the sum
    out->idle_power_w += r->idle_power_w;
    out->counter_above_idle_j += r->counter_above_idle_j;
    out->sample_above_idle_j += r->sample_above_idle_j;
    out->flags |= r->flags;
    if (r->end_ns > out->end_ns) out->end_ns = r->end_ns;
  }
  if (first) {  // no device metered: nothing measured
    memset(out, 0, sizeof *out);
    out->device = -1;
    out->flags = LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES;
  }
  out->duration_s = (double)(out->end_ns - out->begin_ns) * 1e-9;
}

// An expected series has a sample at or past `t`.
static int series_reached(const wdev *d, lj_reading r, const lj_series *s, int64_t t) {
  if (!(d->expect & LJ_READING_BIT(r))) return 1;
  return s->n && s->p[s->n - 1].t_ns >= t;
}

// Device d's figure for an ended window can be cached: every series it
// expects has passed the end (or no more samples will come).
static int device_ready(const lj_windows *w, const window *win, int d) {
  if (win->open) return 0;
  const wdev *dv = &w->dev[d];
  if (w->finished || dv->excluded) return 1;
  if (!dv->expect_set) return 0;
  return series_reached(dv, LJ_READING_ENERGY, &dv->counter, win->end_ns) &&
         series_reached(dv, LJ_READING_POWER_SAMPLE, &dv->power_sample, win->end_ns) &&
         (!keeps_instant(dv) || series_reached(dv, LJ_READING_POWER_INSTANT, &dv->power_instant, win->end_ns));
}

// Caches the figures of the devices that are ready, and the sum once all are.
static int finalize(lj_windows *w, window *win) {
  if (!win->cached) {
    win->cached = calloc((size_t)w->n_dev + 1, sizeof *win->cached);
    win->dev_final = calloc((size_t)w->n_dev, 1);
    if (!win->cached || !win->dev_final) {
      free(win->cached);
      free(win->dev_final);
      win->cached = NULL;
      win->dev_final = NULL;
      return LJ_FAIL(LJ_ENOMEM, "out of memory finishing window %s", win->name);
    }
  }
  int all = 1;
  for (int d = 0; d < w->n_dev; d++) {
    if (win->dev_final[d]) continue;
    if (!device_ready(w, win, d)) {
      all = 0;
      continue;
    }
    win->dev_final[d] = 1;
    if (!w->dev[d].excluded) compute(w, win, d, &win->cached[d]);
  }
  if (!all) return 0;
  win->final = 1;
  sum_devices(w, win->cached, &win->cached[w->n_dev]);
  return 0;
}

static int finalize_ready(lj_windows *w) {
  for (int i = 0; i < w->n_w; i++)
    if (!w->w[i].final && !w->w[i].open) LJ_TRY(finalize(w, &w->w[i]));
  return 0;
}

static void prune(lj_windows *w) {
  for (int d = 0; d < w->n_dev; d++) {
    wdev *dv = &w->dev[d];
    int64_t horizon = dv->latest_ns - RETAIN_NS;
    for (int i = 0; i < w->n_w; i++)
      if (!(w->w[i].dev_final && w->w[i].dev_final[d]) && w->w[i].begin_ns < horizon) horizon = w->w[i].begin_ns;
    lj_series_prune(&dv->counter, horizon);
    lj_series_prune(&dv->power_sample, horizon);
    lj_series_prune(&dv->power_instant, horizon);
  }
}

int lj_windows_add(lj_windows *w, const lj_sample *s, size_t n) {
  int rc = 0;
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < n && rc >= 0; i++) {
    if (s[i].device >= w->n_dev || w->dev[s[i].device].excluded) continue;  // not metered here
    wdev *d = &w->dev[s[i].device];
    lj_series *series = NULL;
    switch (s[i].reading) {
      case LJ_READING_ENERGY: series = &d->counter; break;
      case LJ_READING_POWER_SAMPLE: series = &d->power_sample; break;
      case LJ_READING_POWER_INSTANT: series = keeps_instant(d) ? &d->power_instant : NULL; break;
      default: break;
    }
    if (s[i].t_ns > d->latest_ns) d->latest_ns = s[i].t_ns;
    if (series) rc = lj_series_add(series, s[i].t_ns, s[i].value, s[i].flags);
  }
  if (rc >= 0) rc = finalize_ready(w);
  w->adds_since_prune += (int)n;
  if (w->adds_since_prune >= PRUNE_EVERY) {
    prune(w);
    w->adds_since_prune = 0;
  }
  pthread_mutex_unlock(&w->lock);
  return rc < 0 ? rc : 0;
}

int lj_windows_begin(lj_windows *w, const char *name, int64_t t_ns) {
  pthread_mutex_lock(&w->lock);
  if (w->n_w == w->cap_w) {
    int cap = w->cap_w ? 2 * w->cap_w : 16;
    window *p = realloc(w->w, (size_t)cap * sizeof *p);
    if (!p) {
      pthread_mutex_unlock(&w->lock);
      return LJ_FAIL(LJ_ENOMEM, "out of memory beginning window %s", name ? name : "");
    }
    w->w = p;
    w->cap_w = cap;
  }
  window *win = &w->w[w->n_w];
  memset(win, 0, sizeof *win);
  snprintf(win->name, sizeof win->name, "%s", name ? name : "");
  win->begin_ns = win->end_ns = t_ns;
  win->open = 1;
  int handle = w->n_w++;
  pthread_mutex_unlock(&w->lock);
  boundary_passed(w);
  return handle;
}

static int end_locked(lj_windows *w, int handle, int64_t t_ns) {
  if (handle < 0 || handle >= w->n_w) return LJ_FAIL(LJ_EINVAL, "no window with handle %d", handle);
  window *win = &w->w[handle];
  if (!win->open) return LJ_FAIL(LJ_EINVAL, "window %s (handle %d) was already ended", win->name, handle);
  if (t_ns < win->begin_ns)
    return LJ_FAIL(LJ_EINVAL, "window %s ends (t=%lld ns) before it begins (t=%lld ns)", win->name, (long long)t_ns,
                   (long long)win->begin_ns);
  win->end_ns = t_ns;
  win->open = 0;
  LJ_TRY(finalize_ready(w));
  return handle;
}

int lj_windows_end(lj_windows *w, int handle, int64_t t_ns) {
  pthread_mutex_lock(&w->lock);
  int rc = end_locked(w, handle, t_ns);
  pthread_mutex_unlock(&w->lock);
  if (rc >= 0) boundary_passed(w);
  return rc < 0 ? rc : 0;
}

int lj_windows_end_by_name(lj_windows *w, const char *name, int64_t t_ns) {
  pthread_mutex_lock(&w->lock);
  int handle = -1;
  for (int i = w->n_w - 1; i >= 0 && handle < 0; i--)
    if (w->w[i].open && strncmp(w->w[i].name, name ? name : "", sizeof w->w[i].name - 1) == 0) handle = i;
  int rc = handle < 0 ? LJ_FAIL(LJ_EINVAL, "no open window named %s", name ? name : "") : end_locked(w, handle, t_ns);
  pthread_mutex_unlock(&w->lock);
  if (rc >= 0) boundary_passed(w);
  return rc;
}

int lj_windows_result(lj_windows *w, int handle, int device, lj_window_result *out) {
  pthread_mutex_lock(&w->lock);
  int rc = 0;
  if (handle < 0 || handle >= w->n_w) {
    rc = LJ_FAIL(LJ_EINVAL, "no window with handle %d", handle);
  } else if (device < -1 || device >= w->n_dev) {
    rc = LJ_FAIL(LJ_EINVAL, "window %s: no device %d (0..%d, or -1 for all)", w->w[handle].name, device, w->n_dev - 1);
  } else {
    window *win = &w->w[handle];
    if (device >= 0 && w->dev[device].excluded) {
      rc = LJ_FAIL(LJ_EINVAL, "window %s: device %d is not metered", win->name, device);
    } else if (win->final) {
      *out = win->cached[device < 0 ? w->n_dev : device];
    } else if (device >= 0) {
      if (win->dev_final && win->dev_final[device]) *out = win->cached[device];
      else compute(w, win, device, out);
    } else {
      lj_window_result *per = calloc((size_t)w->n_dev, sizeof *per);
      if (!per) {
        rc = LJ_FAIL(LJ_ENOMEM, "out of memory");
      } else {
        for (int d = 0; d < w->n_dev; d++) {
          if (w->dev[d].excluded) continue;
          if (win->dev_final && win->dev_final[d]) per[d] = win->cached[d];
          else compute(w, win, d, &per[d]);
        }
        sum_devices(w, per, out);
        free(per);
      }
    }
    if (rc == 0) out->handle = handle;
  }
  pthread_mutex_unlock(&w->lock);
  return rc;
}

int lj_windows_count(const lj_windows *w) {
  pthread_mutex_lock((pthread_mutex_t *)&w->lock);
  int n = w->n_w;
  pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
  return n;
}

void lj_windows_finish(lj_windows *w) {
  pthread_mutex_lock(&w->lock);
  w->finished = 1;
  finalize_ready(w);
  pthread_mutex_unlock(&w->lock);
}
