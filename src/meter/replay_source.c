// Replay source: plays a recorded trace back on its own clock (in real time from the first
// question of the time: a reading, a drain, the clock). Every reading
// of the trace is a stream: lj_source_drain returns, per device, the samples
// whose time has come (t_ns <= the replay clock), exactly as recorded.
// lj_source_read returns the latest recorded sample of a reading at or
// before the clock (for the idle baseline and characterisation).
// lj_source_open_replay_polled makes some readings polled instead, as a
// driver gives them: a read returns the latest recorded value at or before
// the clock, stamped with the read time (tests of the sampler's schedule).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "meter/source_impl.h"

typedef struct {
  lj_sample *samples;  // this device's samples, time order
  size_t n;
  size_t cursor;       // next sample to drain
} replay_device;

typedef struct {
  pthread_mutex_t lock;
  replay_device *devices;  // (n_devices)
  int64_t now_ns;
  int realtime;
  uint32_t polled;  // LJ_READING_BIT mask of readings given by read only, stamped at the read
  int64_t origin_trace_ns, origin_mono_ns;  // realtime: now = origin_trace + (mono - origin_mono)
  int anchored;  // realtime: the clock starts at the first question of the time, not at the open, so
                 // that what a command does before it measures (a store to create) shifts nothing
} replay_impl;

static int64_t replay_now_locked(replay_impl *r) {
  if (r->realtime && !r->anchored) r->origin_mono_ns = lj_mono_ns(), r->anchored = 1;
  if (r->realtime) return r->origin_trace_ns + (lj_mono_ns() - r->origin_mono_ns);
  return r->now_ns;
}

static int64_t replay_now(lj_source *src) {
  replay_impl *r = src->impl;
  pthread_mutex_lock(&r->lock);
  int64_t now = replay_now_locked(r);
  pthread_mutex_unlock(&r->lock);
  return now;
}

static int replay_set_now(lj_source *src, int64_t now_ns) {
  replay_impl *r = src->impl;
  pthread_mutex_lock(&r->lock);
  if (r->realtime) {
    r->origin_trace_ns = now_ns;
    r->origin_mono_ns = lj_mono_ns();
    r->anchored = 1;
  } else {
    r->now_ns = now_ns;
  }
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static int replay_read(lj_source *src, int dev, lj_reading reading, lj_sample *out) {
  replay_impl *r = src->impl;
  pthread_mutex_lock(&r->lock);
  const replay_device *d = &r->devices[dev];
  int64_t now = replay_now_locked(r);
  // first sample after now (binary search), then walk back to the reading
  size_t lo = 0, hi = d->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->samples[mid].t_ns <= now) lo = mid + 1; else hi = mid;
  }
  int found = 0;
  for (size_t i = lo; i-- > 0;)
    if (d->samples[i].reading == (uint8_t)reading) {
      *out = d->samples[i];
      if (r->polled & LJ_READING_BIT(reading)) {
        out->t_ns = out->read_ns = now;
        out->source_us = 0;
        out->read_dur_ns = 0;
      }
      found = 1;
      break;
    }
  pthread_mutex_unlock(&r->lock);
  if (!found) return LJ_FAIL(LJ_EUNSUPPORTED, "replay: no %s sample of device %d at or before t=%lld ns",
                             lj_reading_name(reading), dev, (long long)now);
  return 0;
}

static int replay_drain(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out) {
  replay_impl *r = src->impl;
  pthread_mutex_lock(&r->lock);
  replay_device *d = &r->devices[dev];
  int64_t now = replay_now_locked(r);
  size_t n = 0;
  while (n < cap && d->cursor < d->n && d->samples[d->cursor].t_ns <= now) {
    const lj_sample *x = &d->samples[d->cursor++];
    if (!(r->polled & LJ_READING_BIT(x->reading))) out[n++] = *x;
  }
  pthread_mutex_unlock(&r->lock);
  *n_out = n;
  return 0;
}

static int replay_stats(lj_source *src, int dev, lj_source_stats *out) {
  replay_impl *r = src->impl;
  pthread_mutex_lock(&r->lock);
  out->buffer_samples = r->devices[dev].cursor;
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static void replay_close(lj_source *src) {
  replay_impl *r = src->impl;
  if (!r) return;
  for (int d = 0; d < src->n_devices; d++) free(r->devices[d].samples);
  free(r->devices);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static const lj_source_ops replay_ops = {
    .kind = "replay",
    .now = replay_now,
    .set_now = replay_set_now,
    .read = replay_read,
    .drain = replay_drain,
    .stats = replay_stats,
    .close = replay_close,
};

int lj_source_open_replay(lj_source **out, const lj_trace *trace, int realtime) {
  *out = NULL;
  int n_dev = trace->n_devices;
  for (size_t i = 0; i < trace->n_samples; i++)
    if (trace->samples[i].device >= n_dev) n_dev = trace->samples[i].device + 1;
  if (n_dev == 0) return LJ_FAIL(LJ_EINVAL, "replay: the trace has no devices and no samples");
  lj_source *src;
  LJ_TRY(lj_source_alloc(&src, &replay_ops, n_dev));
  replay_impl *r = calloc(1, sizeof *r);
  if (r) r->devices = calloc((size_t)n_dev, sizeof *r->devices);
  if (!r || !r->devices) {
    free(r);
    lj_source_close(src);
    return LJ_FAIL(LJ_ENOMEM, "replay: out of memory");
  }
  pthread_mutex_init(&r->lock, NULL);
  src->impl = r;
  // copy and sort: per device, time order (stable, so recorded order breaks ties)
  lj_trace copy;
  lj_trace_init(&copy);
  if (trace->n_samples && lj_trace_append(&copy, trace->samples, trace->n_samples) < 0) {
    lj_source_close(src);
    return LJ_ENOMEM;
  }
  lj_trace_sort(&copy);
  for (size_t i = 0; i < copy.n_samples; i++) r->devices[copy.samples[i].device].n++;
  for (int d = 0; d < n_dev; d++) {
    r->devices[d].samples = malloc((r->devices[d].n ? r->devices[d].n : 1) * sizeof(lj_sample));
    if (!r->devices[d].samples) {
      lj_trace_free(&copy);
      lj_source_close(src);
      return LJ_FAIL(LJ_ENOMEM, "replay: out of memory");
    }
    r->devices[d].n = 0;
  }
  int64_t first = copy.n_samples ? copy.samples[0].t_ns : 0;
  for (size_t i = 0; i < copy.n_samples; i++) {
    replay_device *d = &r->devices[copy.samples[i].device];
    d->samples[d->n++] = copy.samples[i];
  }
  lj_trace_free(&copy);
  for (int d = 0; d < n_dev; d++) {
    lj_device_info *info = &src->devices[d];
    if (d < trace->n_devices) *info = trace->devices[d];
    else {
      snprintf(info->name, sizeof info->name, "replayed device %d", d);
      info->nvml_index = info->cuda_index = -1;
    }
    info->index = d;
    snprintf(info->source, sizeof info->source, "replay");
    info->supported = info->streamed = 0;
    for (size_t i = 0; i < r->devices[d].n; i++) info->supported |= LJ_READING_BIT(r->devices[d].samples[i].reading);
    info->streamed = info->supported;
  }
  r->realtime = realtime;
  r->now_ns = first;
  r->origin_trace_ns = first;
  r->origin_mono_ns = lj_mono_ns();
  *out = src;
  return 0;
}

int lj_source_open_replay_polled(lj_source **out, const lj_trace *trace, int realtime, uint32_t polled) {
  LJ_TRY(lj_source_open_replay(out, trace, realtime));
  replay_impl *r = (*out)->impl;
  r->polled = polled;
  for (int d = 0; d < (*out)->n_devices; d++) (*out)->devices[d].streamed &= ~polled;
  return 0;
}
