// NVML source: polled readings through the NVML calls of nvml_api.h, and the
// driver's power-sample buffer (nvmlDeviceGetSamples, ~2.4 s deep) as a
// stream, each sample's wall-clock timestamp mapped onto CLOCK_MONOTONIC.
// A reading the driver cannot give (too old, not supported on this GPU, the
// symbol missing) is unsupported, never a failure.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "meter/clock_map.h"
#include "meter/nvml_api.h"
#include "meter/source_impl.h"
#include "meter/visible_devices.h"

typedef struct {
  nvmlDevice_t handle;
  int parent_of_mig;             // opened through a MIG id: readings are the whole GPU's
  // driver buffer
  nvmlSample_t *buf;             // (buf_cap)
  unsigned int buf_cap;
  unsigned int driver_cap;       // samples the driver's buffer holds (~119 on H100)
  lj_sample *pending;            // converted samples not yet returned (buf_cap)
  size_t n_pending, pending_pos;
  unsigned long long last_seen_us;
  int64_t interval_est_us;       // running estimate of the buffer's sample interval
  int throttle_event_api;        // 1: ClocksEventReasons, 0: ThrottleReasons
  lj_source_stats stats;
} nvml_device;

typedef struct {
  lj_nvml_api api;
  nvml_device *dev;  // (n_devices)
  pthread_mutex_t lock;  // clock map and stats
  lj_clock_map clock;
} nvml_impl;

// ---- one reading

static double value_as_double(int type, nvmlValue_t v) {
  switch (type) {
    case NVML_VALUE_TYPE_DOUBLE: return v.dVal;
    case NVML_VALUE_TYPE_UNSIGNED_INT: return (double)v.uiVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG: return (double)v.ulVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: return (double)v.ullVal;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG: return (double)v.sllVal;
    case NVML_VALUE_TYPE_SIGNED_INT: return (double)v.siVal;
    case NVML_VALUE_TYPE_UNSIGNED_SHORT: return (double)v.usVal;
    default: return (double)v.uiVal;
  }
}

static int read_field(const lj_nvml_api *api, nvmlDevice_t h, unsigned field, unsigned scope, double *mw,
                      long long *ts_us) {
  if (!api->DeviceGetFieldValues) return LJ_FAIL(LJ_EUNSUPPORTED, "nvmlDeviceGetFieldValues missing (driver too old)");
  nvmlFieldValue_t fv;
  memset(&fv, 0, sizeof fv);
  fv.fieldId = field;
  fv.scopeId = scope;
  NVML_CHECK(api, api->DeviceGetFieldValues(h, 1, &fv), "nvmlDeviceGetFieldValues");
  char what[64];
  snprintf(what, sizeof what, "nvmlDeviceGetFieldValues(field %u, scope %u)", field, scope);
  NVML_CHECK(api, fv.nvmlReturn, what);
  *mw = value_as_double(fv.valueType, fv.value);
  *ts_us = fv.timestamp;
  return 0;
}

#define NEED(fn, name)                                                                  \
  do {                                                                                  \
    if (!api->fn) return LJ_FAIL(LJ_EUNSUPPORTED, name " missing (NVIDIA driver too old)"); \
  } while (0)

// The call itself: value in the reading's unit, NVML's timestamp when it gives one.
static int call_reading(nvml_impl *m, nvml_device *d, lj_reading r, double *value, long long *ts_us) {
  const lj_nvml_api *api = &m->api;
  nvmlDevice_t h = d->handle;
  unsigned int u = 0;
  unsigned long long ull = 0;
  *ts_us = 0;
  switch (r) {
    case LJ_READING_ENERGY:
      NEED(DeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption");
      NVML_CHECK(api, api->DeviceGetTotalEnergyConsumption(h, &ull), "nvmlDeviceGetTotalEnergyConsumption");
      *value = (double)ull * 1e-3;  // mJ -> J
      return 0;
    case LJ_READING_POWER_AVG: {
      double mw;
      int rc = read_field(api, h, NVML_FI_DEV_POWER_AVERAGE, NVML_POWER_SCOPE_GPU, &mw, ts_us);
      if (rc == LJ_EUNSUPPORTED && api->DeviceGetPowerUsage) {  // older drivers: the same 1 s average
        NVML_CHECK(api, api->DeviceGetPowerUsage(h, &u), "nvmlDeviceGetPowerUsage");
        mw = u;
        rc = 0;
      }
      LJ_TRY(rc);
      *value = mw * 1e-3;
      return 0;
    }
    case LJ_READING_POWER_INSTANT:
    case LJ_READING_POWER_MEMORY: {
      double mw;
      if (r == LJ_READING_POWER_INSTANT) LJ_TRY(read_field(api, h, NVML_FI_DEV_POWER_INSTANT, NVML_POWER_SCOPE_GPU, &mw, ts_us));
      else LJ_TRY(read_field(api, h, NVML_FI_DEV_POWER_AVERAGE, NVML_POWER_SCOPE_MEMORY, &mw, ts_us));
      *value = mw * 1e-3;
      return 0;
    }
    case LJ_READING_CLOCK_SM:
    case LJ_READING_CLOCK_MEM:
      NEED(DeviceGetClockInfo, "nvmlDeviceGetClockInfo");
      NVML_CHECK(api, api->DeviceGetClockInfo(h, r == LJ_READING_CLOCK_SM ? NVML_CLOCK_SM : NVML_CLOCK_MEM, &u),
                 "nvmlDeviceGetClockInfo");
      *value = u;
      return 0;
    case LJ_READING_TEMPERATURE:
      NEED(DeviceGetTemperature, "nvmlDeviceGetTemperature");
      NVML_CHECK(api, api->DeviceGetTemperature(h, NVML_TEMPERATURE_GPU, &u), "nvmlDeviceGetTemperature");
      *value = u;
      return 0;
    case LJ_READING_THROTTLE:
      if (d->throttle_event_api && api->DeviceGetCurrentClocksEventReasons) {
        NVML_CHECK(api, api->DeviceGetCurrentClocksEventReasons(h, &ull), "nvmlDeviceGetCurrentClocksEventReasons");
      } else {
        NEED(DeviceGetCurrentClocksThrottleReasons, "nvmlDeviceGetCurrentClocksThrottleReasons");
        NVML_CHECK(api, api->DeviceGetCurrentClocksThrottleReasons(h, &ull), "nvmlDeviceGetCurrentClocksThrottleReasons");
      }
      *value = (double)ull;
      return 0;
    case LJ_READING_UTIL_GPU:
    case LJ_READING_UTIL_MEM: {
      NEED(DeviceGetUtilizationRates, "nvmlDeviceGetUtilizationRates");
      nvmlUtilization_t ut;
      NVML_CHECK(api, api->DeviceGetUtilizationRates(h, &ut), "nvmlDeviceGetUtilizationRates");
      *value = r == LJ_READING_UTIL_GPU ? ut.gpu : ut.memory;
      return 0;
    }
    case LJ_READING_POWER_LIMIT:
      NEED(DeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit");
      NVML_CHECK(api, api->DeviceGetEnforcedPowerLimit(h, &u), "nvmlDeviceGetEnforcedPowerLimit");
      *value = u * 1e-3;
      return 0;
    default:
      return LJ_FAIL(LJ_EUNSUPPORTED, "NVML source: %s is not a polled reading", lj_reading_name(r));
  }
}

static int nvml_read(lj_source *src, int dev, lj_reading r, lj_sample *out) {
  nvml_impl *m = src->impl;
  nvml_device *d = &m->dev[dev];
  double value = 0;
  long long ts_us = 0;
  int64_t t0 = lj_mono_ns();
  int rc = call_reading(m, d, r, &value, &ts_us);
  int64_t t1 = lj_mono_ns();
  if (rc < 0) {
    if (rc != LJ_EUNSUPPORTED) {
      pthread_mutex_lock(&m->lock);
      d->stats.read_errors++;
      pthread_mutex_unlock(&m->lock);
    }
    return lj_fail_context(rc, "device %d (%s): %s", dev, src->devices[dev].name, lj_reading_name(r));
  }
  memset(out, 0, sizeof *out);
  out->t_ns = t0 + (t1 - t0) / 2;
  out->read_ns = t0;
  out->read_dur_ns = (int32_t)(t1 - t0 < INT32_MAX ? t1 - t0 : INT32_MAX);
  out->source_us = ts_us;
  out->value = value;
  out->device = (uint16_t)dev;
  out->reading = (uint8_t)r;
  return 0;
}

// ---- the driver's power-sample buffer

// Fetches everything newer than last_seen into d->pending (converted).
static int fetch_buffer(lj_source *src, nvml_impl *m, int dev) {
  nvml_device *d = &m->dev[dev];
  const lj_nvml_api *api = &m->api;
  unsigned int count = d->buf_cap;
  int type = NVML_VALUE_TYPE_UNSIGNED_INT;
  int64_t t0 = lj_mono_ns();
  nvmlReturn_t ret = api->DeviceGetSamples(d->handle, NVML_TOTAL_POWER_SAMPLES, d->last_seen_us, &type, &count, d->buf);
  int64_t t1 = lj_mono_ns();
  if (ret == NVML_ERROR_NOT_FOUND) return 0;  // nothing new since last_seen
  if (ret != NVML_SUCCESS) {
    pthread_mutex_lock(&m->lock);
    d->stats.read_errors++;
    pthread_mutex_unlock(&m->lock);
    return lj_nvml_fail(api, ret, __FILE__, __LINE__, "nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES)");
  }
  if (count > d->buf_cap) count = d->buf_cap;
  pthread_mutex_lock(&m->lock);
  // keep the wall->monotonic offset fresh (NTP slews the wall clock)
  if (!m->clock.valid || t1 - m->clock.updated_ns > 1000000000LL) lj_clock_map_update(&m->clock, 3);
  lj_clock_map map = m->clock;
  m->dev[dev].stats.wall_offset_ns = (double)map.offset_ns;
  m->dev[dev].stats.wall_offset_uncertainty_ns = map.uncertainty_ns;
  pthread_mutex_unlock(&m->lock);
  // the driver returns its samples oldest first; keep only the new ones, in order
  size_t n = 0;
  unsigned long long prev = d->last_seen_us;
  uint64_t dups = 0;
  int gap = 0;
  // every slot of the driver's buffer new: the oldest may have been overwritten
  unsigned n_new = 0;
  for (unsigned i = 0; i < count; i++) n_new += d->buf[i].timeStamp > prev;
  int overrun = prev && n_new >= d->driver_cap;
  for (unsigned i = 0; i < count; i++) {
    const nvmlSample_t *x = &d->buf[i];
    if (x->timeStamp <= prev) {
      dups++;
      continue;
    }
    lj_sample *s = &d->pending[n++];
    memset(s, 0, sizeof *s);
    s->t_ns = lj_clock_map_wall_us_to_mono_ns(&map, (int64_t)x->timeStamp);
    s->read_ns = t0;
    s->read_dur_ns = (int32_t)(t1 - t0 < INT32_MAX ? t1 - t0 : INT32_MAX);
    s->source_us = (int64_t)x->timeStamp;
    s->value = value_as_double(type, x->sampleValue) * 1e-3;  // mW -> W
    s->device = (uint16_t)dev;
    s->reading = LJ_READING_POWER_SAMPLE;
    s->flags = LJ_SAMPLE_SOURCE_TIME;
    if (prev) {
      int64_t dt = (int64_t)(x->timeStamp - prev);
      // loss: a full buffer (the oldest were overwritten) or a hole much longer than usual
      int64_t limit = 4 * d->interval_est_us > 100000 ? 4 * d->interval_est_us : 100000;
      if ((n == 1 && overrun) || dt > limit) {
        s->flags |= LJ_SAMPLE_AFTER_GAP;
        gap++;
      } else {
        d->interval_est_us = d->interval_est_us ? (7 * d->interval_est_us + dt) / 8 : dt;
      }
    }
    prev = x->timeStamp;
  }
  d->last_seen_us = prev;
  d->n_pending = n;
  d->pending_pos = 0;
  pthread_mutex_lock(&m->lock);
  d->stats.buffer_gaps += (uint64_t)gap;
  d->stats.buffer_dups += dups;
  d->stats.buffer_samples += n;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static int nvml_drain(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out) {
  nvml_impl *m = src->impl;
  nvml_device *d = &m->dev[dev];
  *n_out = 0;
  if (!(src->devices[dev].streamed & LJ_READING_BIT(LJ_READING_POWER_SAMPLE))) return 0;
  if (d->pending_pos == d->n_pending) LJ_TRY(fetch_buffer(src, m, dev));
  size_t k = d->n_pending - d->pending_pos;
  if (k > cap) k = cap;
  memcpy(out, d->pending + d->pending_pos, k * sizeof *out);
  d->pending_pos += k;
  *n_out = k;
  return 0;
}

static int nvml_stats(lj_source *src, int dev, lj_source_stats *out) {
  nvml_impl *m = src->impl;
  pthread_mutex_lock(&m->lock);
  *out = m->dev[dev].stats;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static void nvml_close(lj_source *src) {
  nvml_impl *m = src->impl;
  if (!m) return;
  if (m->dev)
    for (int i = 0; i < src->n_devices; i++) {
      free(m->dev[i].buf);
      free(m->dev[i].pending);
    }
  free(m->dev);
  if (m->api.Shutdown) m->api.Shutdown();
  lj_nvml_api_unload(&m->api);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

static const lj_source_ops nvml_ops = {
    .kind = "nvml",
    .read = nvml_read,
    .drain = nvml_drain,
    .stats = nvml_stats,
    .close = nvml_close,
};

// ---- opening

static void copy_string(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src); }

// Which readings answer, and the driver buffer's size.
static void probe(lj_source *src, nvml_impl *m, int dev) {
  lj_device_info *info = &src->devices[dev];
  nvml_device *d = &m->dev[dev];
  const lj_nvml_api *api = &m->api;
  d->throttle_event_api = 1;
  for (int r = 0; r < LJ_READING_COUNT; r++) {
    if (r == LJ_READING_POWER_SAMPLE) continue;
    double v;
    long long ts;
    int rc = call_reading(m, d, (lj_reading)r, &v, &ts);
    if (r == LJ_READING_THROTTLE && rc < 0) {  // older drivers: the throttle-reasons name
      d->throttle_event_api = 0;
      rc = call_reading(m, d, (lj_reading)r, &v, &ts);
    }
    if (rc == 0) info->supported |= LJ_READING_BIT(r);
    if (rc == 0 && r == LJ_READING_POWER_LIMIT) info->power_limit_w = v;
  }
  lj_clear_error();
  if (api->DeviceGetSamples) {
    unsigned int count = 0;
    int type;
    nvmlReturn_t ret = api->DeviceGetSamples(d->handle, NVML_TOTAL_POWER_SAMPLES, 0, &type, &count, NULL);
    if ((ret == NVML_SUCCESS || ret == NVML_ERROR_INSUFFICIENT_SIZE) && count > 0) {
      d->driver_cap = count;
      d->buf_cap = count + 16;  // the driver may add a sample between the two calls
      d->buf = calloc(d->buf_cap, sizeof *d->buf);
      d->pending = calloc(d->buf_cap, sizeof *d->pending);
      if (d->buf && d->pending) {
        info->supported |= LJ_READING_BIT(LJ_READING_POWER_SAMPLE);
        info->streamed |= LJ_READING_BIT(LJ_READING_POWER_SAMPLE);
        // start from now: older samples predate the measurement
        unsigned int c = d->buf_cap;
        if (api->DeviceGetSamples(d->handle, NVML_TOTAL_POWER_SAMPLES, 0, &type, &c, d->buf) == NVML_SUCCESS && c > 0)
          d->last_seen_us = d->buf[(c < d->buf_cap ? c : d->buf_cap) - 1].timeStamp;
      }
    }
  }
}

static int fill_identity(lj_source *src, nvml_impl *m, int dev, int nvml_index, const char *driver, const char *nvml) {
  lj_device_info *info = &src->devices[dev];
  const lj_nvml_api *api = &m->api;
  nvmlDevice_t h = m->dev[dev].handle;
  info->index = dev;
  info->nvml_index = nvml_index;
  info->cuda_index = -1;
  copy_string(info->source, sizeof info->source, "nvml");
  copy_string(info->driver_version, sizeof info->driver_version, driver);
  copy_string(info->nvml_version, sizeof info->nvml_version, nvml);
  if (api->DeviceGetName) NVML_CHECK(api, api->DeviceGetName(h, info->name, sizeof info->name), "nvmlDeviceGetName");
  if (api->DeviceGetUUID) NVML_CHECK(api, api->DeviceGetUUID(h, info->uuid, sizeof info->uuid), "nvmlDeviceGetUUID");
  if (api->DeviceGetPciInfo_v3) {
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof pci);
    NVML_CHECK(api, api->DeviceGetPciInfo_v3(h, &pci), "nvmlDeviceGetPciInfo_v3");
    pci.busId[sizeof pci.busId - 1] = '\0';
    copy_string(info->pci_bus_id, sizeof info->pci_bus_id, pci.busId);
  }
  info->name[sizeof info->name - 1] = info->uuid[sizeof info->uuid - 1] = '\0';
  return 0;
}

// The NVML indices to open, in CUDA's order (CUDA_VISIBLE_DEVICES), MIG ids
// resolved to their parent GPU.
static int select_devices(const lj_nvml_api *api, unsigned count, int respect_cvd, int *chosen, int *n_chosen,
                          int *from_mig) {
  *n_chosen = 0;
  const char *env = respect_cvd ? getenv("CUDA_VISIBLE_DEVICES") : NULL;
  char tokens[LJ_VISIBLE_MAX][LJ_VISIBLE_TOKEN];
  int n_tok = lj_visible_split(env, tokens, LJ_VISIBLE_MAX);
  if (n_tok < 0) {
    for (unsigned i = 0; i < count && i < LJ_VISIBLE_MAX; i++) chosen[(*n_chosen)++] = (int)i, from_mig[i] = 0;
    return 0;
  }
  char uuid_store[LJ_VISIBLE_MAX][96];
  const char *uuids[LJ_VISIBLE_MAX];
  unsigned n = count < LJ_VISIBLE_MAX ? count : LJ_VISIBLE_MAX;
  for (unsigned i = 0; i < n; i++) {
    nvmlDevice_t h;
    uuid_store[i][0] = '\0';
    if (api->DeviceGetHandleByIndex_v2((unsigned)i, &h) == NVML_SUCCESS && api->DeviceGetUUID)
      api->DeviceGetUUID(h, uuid_store[i], sizeof uuid_store[i]);
    uuids[i] = uuid_store[i];
  }
  for (int t = 0; t < n_tok; t++) {
    int idx = lj_visible_match(tokens[t], uuids, (int)n);
    int mig = 0;
    if (idx == -3 && api->DeviceGetHandleByUUID && api->DeviceGetDeviceHandleFromMigDeviceHandle) {
      nvmlDevice_t mh, ph;
      char parent_uuid[96] = "";
      if (api->DeviceGetHandleByUUID(tokens[t], &mh) == NVML_SUCCESS &&
          api->DeviceGetDeviceHandleFromMigDeviceHandle(mh, &ph) == NVML_SUCCESS && api->DeviceGetUUID &&
          api->DeviceGetUUID(ph, parent_uuid, sizeof parent_uuid) == NVML_SUCCESS)
        idx = lj_visible_match(parent_uuid, uuids, (int)n);
      mig = 1;
    }
    if (idx < 0) {
      lj_warn("CUDA_VISIBLE_DEVICES entry '%s' names no GPU%s: ignoring it and the entries after it (as CUDA does)",
              tokens[t], idx == -2 ? " (ambiguous UUID prefix)" : "");
      break;
    }
    int seen = 0;
    for (int k = 0; k < *n_chosen; k++) seen |= chosen[k] == idx;
    if (seen) continue;  // several MIG instances of one GPU: meter the GPU once
    from_mig[*n_chosen] = mig;
    chosen[(*n_chosen)++] = idx;
  }
  if (*n_chosen == 0)
    return LJ_FAIL(LJ_ENODEV, "CUDA_VISIBLE_DEVICES='%s' leaves no NVIDIA GPU visible", env);
  return 0;
}

int lj_source_open_nvml_api(lj_source **out, const lj_nvml_api *api_in, const lj_nvml_options *opt) {
  *out = NULL;
  lj_nvml_options o;
  if (opt) o = *opt; else lj_nvml_options_default(&o);
  nvml_impl *m = calloc(1, sizeof *m);
  if (!m) return LJ_FAIL(LJ_ENOMEM, "out of memory opening NVML");
  m->api = *api_in;
  pthread_mutex_init(&m->lock, NULL);
  const lj_nvml_api *api = &m->api;
  nvmlReturn_t ret = api->Init_v2();
  if (ret != NVML_SUCCESS) {
    int rc = lj_nvml_fail(api, ret, __FILE__, __LINE__, "nvmlInit_v2 (is the NVIDIA driver loaded?)");
    lj_nvml_api_unload(&m->api);
    pthread_mutex_destroy(&m->lock);
    free(m);
    return rc;
  }
  char driver[80] = "", nvml[80] = "";
  if (api->SystemGetDriverVersion) api->SystemGetDriverVersion(driver, sizeof driver);
  if (api->SystemGetNVMLVersion) api->SystemGetNVMLVersion(nvml, sizeof nvml);
  unsigned count = 0;
  int chosen[LJ_VISIBLE_MAX], from_mig[LJ_VISIBLE_MAX], n = 0;
  int rc = 0;
  ret = api->DeviceGetCount_v2(&count);
  if (ret != NVML_SUCCESS) rc = lj_nvml_fail(api, ret, __FILE__, __LINE__, "nvmlDeviceGetCount_v2");
  else if (count == 0) rc = LJ_FAIL(LJ_ENODEV, "the NVIDIA driver (%s) sees no GPU", driver);
  if (rc == 0) rc = select_devices(api, count, o.respect_cuda_visible_devices, chosen, &n, from_mig);
  lj_source *src = NULL;
  if (rc == 0) rc = lj_source_alloc(&src, &nvml_ops, n);
  if (rc < 0) {
    if (api->Shutdown) api->Shutdown();
    lj_nvml_api_unload(&m->api);
    pthread_mutex_destroy(&m->lock);
    free(m);
    return rc;
  }
  src->impl = m;
  m->dev = calloc((size_t)n, sizeof *m->dev);
  if (!m->dev) {
    lj_source_close(src);
    return LJ_FAIL(LJ_ENOMEM, "out of memory opening NVML");
  }
  lj_clock_map_update(&m->clock, 5);
  for (int i = 0; i < n && rc == 0; i++) {
    ret = api->DeviceGetHandleByIndex_v2((unsigned)chosen[i], &m->dev[i].handle);
    if (ret != NVML_SUCCESS) {
      char what[64];
      snprintf(what, sizeof what, "nvmlDeviceGetHandleByIndex_v2(%d)", chosen[i]);
      rc = lj_nvml_fail(api, ret, __FILE__, __LINE__, what);
      break;
    }
    m->dev[i].parent_of_mig = from_mig[i];
    rc = fill_identity(src, m, i, chosen[i], driver, nvml);
    if (rc == 0) {
      src->devices[i].cuda_index = (o.respect_cuda_visible_devices && getenv("CUDA_VISIBLE_DEVICES")) ? i : chosen[i];
      probe(src, m, i);
      if (!(src->devices[i].supported & ~LJ_READING_BIT(LJ_READING_POWER_LIMIT)))
        lj_warn("GPU %d (%s): NVML gives none of the power readings (permission or driver too old?)", chosen[i],
                src->devices[i].name);
      if (from_mig[i])
        lj_warn("GPU %d (%s) was named by a MIG id: power and energy are those of the whole GPU", chosen[i],
                src->devices[i].name);
    }
  }
  if (rc < 0) {
    lj_source_close(src);
    return rc;
  }
  *out = src;
  return 0;
}

void lj_nvml_options_default(lj_nvml_options *o) {
  memset(o, 0, sizeof *o);
  o->respect_cuda_visible_devices = 1;
}

int lj_source_open_nvml(lj_source **out, const lj_nvml_options *opt) {
  *out = NULL;
  lj_nvml_api api;
  LJ_TRY(lj_nvml_api_load(&api, opt ? opt->library : NULL));
  return lj_source_open_nvml_api(out, &api, opt);
}
