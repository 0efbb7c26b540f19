// The profile's meter session (see profile_meter.h).
#include "profile/profile_meter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "profile/idle_at_temperature.h"
#ifdef LLAMAJOULE_HAVE_CUDA
#include "loadgen/cuda_context.h"
#endif

static void widen(double v, double *lo, double *hi) {
  if (!isfinite(v)) return;
  if (v < *lo) *lo = v;
  if (v > *hi) *hi = v;
}

// Appends x to a growing array of samples (0, or LJ_ENOMEM).
static int keep(lj_sample **a, size_t *n, size_t *cap, const lj_sample *x) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 4096;
    lj_sample *p = (lj_sample *)realloc(*a, c * sizeof *p);
    if (!p) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory keeping the sampler's readings");
    *a = p, *cap = c;
  }
  (*a)[(*n)++] = *x;
  return 0;
}

static int metered(const lj_profile_meter *m, int dev) {
  for (int k = 0; k < m->n_devs; k++)
    if (m->devs[k] == dev) return 1;
  return 0;
}

// Sampler sink (delivery thread): conditions, power samples, the readings of each trial's
// conditions (trial_conditions.h), store. Over several GPUs (tensor parallelism) the readings of
// every one are kept (each rank's trials take its own temperature), the temperature range and the
// throttle reasons seen are every GPU's, the rest the first GPU's.
static int sink(void *user, const lj_sample *s, size_t n) {
  lj_profile_meter *m = (lj_profile_meter *)user;
  pthread_mutex_lock(&m->lock);
  lj_profile_conditions *c = m->cond;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    int own = s[i].device == m->dev;
    if (!own && !metered(m, s[i].device)) continue;
    lj_reading rd = (lj_reading)s[i].reading;
    if (rd == LJ_READING_TEMPERATURE || rd == LJ_READING_CLOCK_SM || rd == LJ_READING_CLOCK_MEM ||
        rd == LJ_READING_THROTTLE || rd == LJ_READING_POWER_LIMIT)
      rc = keep(&m->readings, &m->n_readings, &m->cap_readings, &s[i]);
    if (!own && rd != LJ_READING_TEMPERATURE && rd != LJ_READING_THROTTLE) continue;
    switch (rd) {
      case LJ_READING_TEMPERATURE:
        widen(s[i].value, &c->temperature_min_c, &c->temperature_max_c);
        if (own) m->last_temperature_c = s[i].value;
        break;
      case LJ_READING_CLOCK_SM: widen(s[i].value, &c->sm_clock_min_mhz, &c->sm_clock_max_mhz); break;
      case LJ_READING_CLOCK_MEM: widen(s[i].value, &c->mem_clock_min_mhz, &c->mem_clock_max_mhz); break;
      case LJ_READING_THROTTLE: c->throttle_seen |= (uint64_t)s[i].value; break;
      case LJ_READING_POWER_LIMIT: c->power_limit_w = s[i].value; break;
      case LJ_READING_POWER_SAMPLE: rc = keep(&m->power, &m->n_power, &m->cap_power, &s[i]); break;
      default: break;
    }
  }
  c->n_samples += (int64_t)n;
  pthread_mutex_unlock(&m->lock);
  if (rc == 0 && m->writer) rc = lj_sample_writer_sink(m->writer, s, n);
  return rc;
}

// The source, the first device's description and CUDA context (m->dev and m->cuda_index).
static int open_source(lj_profile_meter *m, const lj_profile_options *o, lj_profile_result *r, int dev) {
  memset(m, 0, sizeof *m);
  pthread_mutex_init(&m->lock, NULL);
  m->cond = &r->cond;
  m->dev = dev;
  m->idle_w = NAN;
  m->last_temperature_c = NAN;
  m->idle_temperature_c = NAN;
  for (int k = 0; k < LJ_PROFILE_MAX_RANKS; k++) m->dev_idle_temperature_c[k] = NAN;
  m->n_devs = 1, m->devs[0] = dev;
  lj_trace_init(&m->idle_kept);
  LJ_TRY(lj_source_open_nvml(&m->src, NULL));
  int n = lj_source_device_count(m->src);
  if (dev < 0 || dev >= n)
    return LJ_FAIL(LJ_EINVAL, "--device %d: NVML sees %d GPU%s (respecting CUDA_VISIBLE_DEVICES)", dev, n,
                   n == 1 ? "" : "s");
  LJ_TRY(lj_source_device_info(m->src, m->dev, &r->cond.device));
  r->cond.power_limit_w = r->cond.device.power_limit_w;
#ifdef LLAMAJOULE_HAVE_CUDA
  LJ_TRY(lj_cuda_context_open(r->cond.device.uuid, r->cond.device.pci_bus_id, &m->cuda_index));
#else
  (void)o;
  return LJ_FAIL(LJ_ENODEV, "this llamajoule was built without CUDA: only the CPU engine (timing only) can run");
#endif
  return 0;
}

// The sample writer and the sampler over m->devs, each device's idle set (m->dev_idle_w).
static int open_sampler(lj_profile_meter *m, const lj_profile_options *o) {
  if (o->store) LJ_TRY(lj_sample_writer_create(o->store, o->run_id, &m->writer));
  lj_sampler_config cfg;
  lj_sampler_config_default(&cfg);
  cfg.sink = sink;
  cfg.sink_user = m;
  // the run's own GPUs only: the host's other GPUs cost sampler time and hold back no window
  cfg.devices = 0;
  for (int k = 0; k < m->n_devs; k++)
    if (m->devs[k] < 64) cfg.devices |= 1ull << m->devs[k];
  LJ_TRY(lj_sampler_create(&m->sampler, m->src, &cfg));
  for (int k = 0; k < m->n_devs; k++) lj_windows_set_idle(lj_sampler_windows(m->sampler), m->devs[k], m->dev_idle_w[k]);
  return 0;
}

int lj_profile_meter_open(lj_profile_meter *m, const lj_profile_options *o, lj_profile_result *r) {
  LJ_TRY(open_source(m, o, r, o->device));
  if (isnan(o->idle_w)) {
    lj_idle_result idle;
    LJ_TRY(lj_measure_idle_kept(m->src, m->dev, o->idle_seconds, &m->idle_kept, &idle));
    if (idle.temperature_c > 0) m->idle_temperature_c = idle.temperature_c;
    m->idle_w = idle.mean_w;
    r->cond.idle_sd_w = idle.n_counter_updates > 1 ? idle.counter_stddev_w : idle.sample_stddev_w;
    snprintf(r->cond.idle_method, sizeof r->cond.idle_method, "measured %.0f s before the run, CUDA context open (%s)",
             o->idle_seconds, idle.n_counter_updates > 1 ? "counter" : "samples");
    widen(idle.temperature_c > 0 ? idle.temperature_c : NAN, &r->cond.temperature_min_c, &r->cond.temperature_max_c);
  } else {
    m->idle_w = o->idle_w;
    snprintf(r->cond.idle_method, sizeof r->cond.idle_method, "given (--idle-w %.1f)", o->idle_w);
  }
  r->cond.idle_w = m->idle_w;
  m->dev_idle_w[0] = m->idle_w, m->dev_idle_sd_w[0] = r->cond.idle_sd_w;
  if (o->store) LJ_TRY(lj_store_add_device(o->store, o->run_id, &r->cond.device));
  return open_sampler(m, o);
}

int lj_profile_meter_open_devices(lj_profile_meter *m, const lj_profile_options *o, lj_profile_result *r,
                                  const int *devs, int n_devs) {
  if (n_devs < 1 || n_devs > LJ_PROFILE_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "profile: %d GPUs to meter, expected 1 .. %d", n_devs, LJ_PROFILE_MAX_RANKS);
  LJ_TRY(open_source(m, o, r, devs[0]));
  m->n_devs = n_devs;
  int n_nvml = lj_source_device_count(m->src);
  for (int k = 0; k < n_devs; k++) {
    if (devs[k] < 0 || devs[k] >= n_nvml)
      return LJ_FAIL(LJ_EINVAL, "profile: GPU %d of the run: NVML sees %d GPU%s (respecting CUDA_VISIBLE_DEVICES)",
                     devs[k], n_nvml, n_nvml == 1 ? "" : "s");
    m->devs[k] = devs[k];
    lj_device_info info;
    if (k == 0) info = r->cond.device;
    else LJ_TRY(lj_source_device_info(m->src, devs[k], &info));
#ifdef LLAMAJOULE_HAVE_CUDA
    int cuda_index = -1;
    if (k > 0) LJ_TRY(lj_cuda_context_open(info.uuid, info.pci_bus_id, &cuda_index));
    if (k > 0 && cuda_index != devs[k])  // rank r runs on CUDA device r; its energy must be that GPU's
      return LJ_FAIL(LJ_EINVAL, "profile: NVML device %d (%s) is CUDA device %d: the ranks' GPUs must be numbered "
                     "alike (set CUDA_DEVICE_ORDER=PCI_BUS_ID)", devs[k], info.pci_bus_id, cuda_index);
#endif
    if (o->store) LJ_TRY(lj_store_add_device(o->store, o->run_id, &info));
  }
  if (isnan(o->idle_w)) {
    lj_idle_result idle[LJ_PROFILE_MAX_RANKS];
    LJ_TRY(lj_measure_idle_devices(m->src, m->devs, n_devs, o->idle_seconds, &m->idle_kept, idle));
    double var = 0;
    for (int k = 0; k < n_devs; k++) {
      m->dev_idle_w[k] = idle[k].mean_w;
      m->dev_idle_sd_w[k] = idle[k].n_counter_updates > 1 ? idle[k].counter_stddev_w : idle[k].sample_stddev_w;
      m->dev_idle_temperature_c[k] = idle[k].temperature_c > 0 ? idle[k].temperature_c : NAN;
      var += m->dev_idle_sd_w[k] * m->dev_idle_sd_w[k];
    }
    if (idle[0].temperature_c > 0) m->idle_temperature_c = idle[0].temperature_c;
    r->cond.idle_sd_w = sqrt(var);  // each GPU's readings its own: independent
    snprintf(r->cond.idle_method, sizeof r->cond.idle_method, "measured %d s, all %d GPUs at once, contexts open%s",
             (int)lround(o->idle_seconds) % 1000, n_devs % 100, n_devs > 1 ? "; their sum" : "");
    widen(idle[0].temperature_c > 0 ? idle[0].temperature_c : NAN, &r->cond.temperature_min_c,
          &r->cond.temperature_max_c);
  } else {
    for (int k = 0; k < n_devs; k++) m->dev_idle_w[k] = o->idle_w, m->dev_idle_sd_w[k] = NAN;
    snprintf(r->cond.idle_method, sizeof r->cond.idle_method, "given (--idle-w %.1f, each GPU)", fmin(o->idle_w, 1e5));
  }
  // the run's baseline: what its windows (the sum over the GPUs, device -1) subtract
  m->idle_w = 0;
  for (int k = 0; k < n_devs; k++) m->idle_w += m->dev_idle_w[k];
  r->cond.idle_w = m->idle_w;
  return open_sampler(m, o);
}

int lj_profile_meter_start(lj_profile_meter *m) {
  LJ_TRY(lj_sampler_start(m->sampler));
  m->running = 1;
  return 0;
}

int lj_profile_meter_stop(lj_profile_meter *m, lj_profile_result *r) {
  if (!m->sampler) return 0;
  int rc = m->running ? lj_sampler_stop(m->sampler) : 0;
  m->running = 0;
  lj_sampler_stats st;
  lj_sampler_stats_get(m->sampler, &st);
  r->cond.sampler_cpu_percent = st.cpu_percent;
  r->cond.buffer_gaps = st.buffer_gaps;
  if (m->writer) {
    int wrc = lj_sample_writer_finish(m->writer);
    if (wrc < 0 && rc == 0) rc = wrc;
  }
  return rc;
}

void lj_profile_meter_close(lj_profile_meter *m) {
  lj_sampler_free(m->sampler);
  lj_sample_writer_free(m->writer);
  lj_source_close(m->src);
  free(m->power);
  free(m->readings);
  lj_trace_free(&m->idle_kept);
  pthread_mutex_destroy(&m->lock);
  memset(m, 0, sizeof *m);
}

int lj_profile_meter_cooldown(lj_profile_meter *m, double seconds, lj_profile_result *r) {
  if (!(seconds > 0) || m->running) return 0;
  lj_idle_result idle;
  LJ_TRY(lj_measure_idle_kept(m->src, m->dev, seconds, &m->idle_kept, &idle));
  lj_trace_sort(&m->idle_kept);  // the start's samples, then the cool-down's: one clock
  r->idle_curve_valid = 1;
  return lj_idle_curve_from_cooldown(m->idle_kept.samples, m->idle_kept.n_samples, m->dev, idle.begin_ns,
                                     idle.end_ns, m->idle_temperature_c, r->plan.level, &r->idle_curve);
}

int lj_profile_meter_cooldown_devices(lj_profile_meter *m, double seconds, lj_profile_result *r) {
  if (!(seconds > 0) || m->running) return 0;
  lj_idle_result idle[LJ_PROFILE_MAX_RANKS];
  LJ_TRY(lj_measure_idle_devices(m->src, m->devs, m->n_devs, seconds, &m->idle_kept, idle));
  lj_trace_sort(&m->idle_kept);  // the start's samples, then the cool-down's: one clock
  for (int k = 0; k < m->n_devs; k++) {
    r->ranks[k].idle_curve_valid = 1;
    LJ_TRY(lj_idle_curve_from_cooldown(m->idle_kept.samples, m->idle_kept.n_samples, m->devs[k], idle[k].begin_ns,
                                       idle[k].end_ns, m->dev_idle_temperature_c[k], r->plan.level,
                                       &r->ranks[k].idle_curve));
  }
  return 0;
}

int lj_profile_meter_begin(lj_profile_meter *m, const char *name) { return lj_meter_begin(m->sampler, name); }
int lj_profile_meter_end(lj_profile_meter *m, int handle) { return lj_meter_end_handle(m->sampler, handle); }

double lj_profile_meter_temperature(lj_profile_meter *m) {
  pthread_mutex_lock(&m->lock);
  double t = m->last_temperature_c;
  pthread_mutex_unlock(&m->lock);
  return t;
}
