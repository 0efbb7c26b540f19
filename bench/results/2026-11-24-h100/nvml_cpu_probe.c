// What each NVML call the sampler makes costs, in wall time and in CPU time
// of the calling thread (user and system), called at the sampler's own
// periods. Answers: which reading makes up the sampler's CPU cost, and is the
// energy counter cheaper through nvmlDeviceGetFieldValues (field 83) than
// through nvmlDeviceGetTotalEnergyConsumption?
//
// Built against the project's NVML loader (src/meter/nvml_api.h):
//   gcc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc nvml_cpu_probe.c
//       build/liblj_core.a -ldl -lm -lpthread -o nvml_cpu_probe     (one line)
//   ./nvml_cpu_probe [seconds per call kind, default 2]
#define _GNU_SOURCE  // RUSAGE_THREAD
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "meter/nvml_api.h"

enum { kFieldTotalEnergy = 83 };  // NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, mJ

static lj_nvml_api g_api;
static nvmlDevice_t g_dev;
static unsigned long long g_last_seen;

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double rusage_us(int sys) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  struct timeval tv = sys ? ru.ru_stime : ru.ru_utime;
  return tv.tv_sec * 1e6 + tv.tv_usec;
}

static double value_of(const nvmlFieldValue_t *f) {
  switch (f->valueType) {
    case NVML_VALUE_TYPE_DOUBLE: return f->value.dVal;
    case NVML_VALUE_TYPE_UNSIGNED_INT: return f->value.uiVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG: return (double)f->value.ulVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: return (double)f->value.ullVal;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG: return (double)f->value.sllVal;
    case NVML_VALUE_TYPE_SIGNED_INT: return f->value.siVal;
    default: return f->value.usVal;
  }
}

// Each returns the value read (or -1 on failure).
static double call_energy(void) {
  unsigned long long mj = 0;
  return g_api.DeviceGetTotalEnergyConsumption(g_dev, &mj) == NVML_SUCCESS ? (double)mj : -1;
}
static double call_field(unsigned id, unsigned scope) {
  nvmlFieldValue_t f;
  memset(&f, 0, sizeof f);
  f.fieldId = id;
  f.scopeId = scope;
  if (g_api.DeviceGetFieldValues(g_dev, 1, &f) != NVML_SUCCESS || f.nvmlReturn != NVML_SUCCESS) return -1;
  return value_of(&f);
}
static double call_field_energy(void) { return call_field(kFieldTotalEnergy, 0); }
static double call_field_instant(void) { return call_field(NVML_FI_DEV_POWER_INSTANT, 0); }
static double call_field_memory(void) { return call_field(NVML_FI_DEV_POWER_AVERAGE, NVML_POWER_SCOPE_MEMORY); }
static double call_power_usage(void) {
  unsigned mw = 0;
  return g_api.DeviceGetPowerUsage(g_dev, &mw) == NVML_SUCCESS ? (double)mw : -1;
}
static double call_samples(void) {
  static nvmlSample_t buf[256];
  unsigned count = 256;
  int type = 0;
  nvmlReturn_t rc = g_api.DeviceGetSamples(g_dev, NVML_TOTAL_POWER_SAMPLES, g_last_seen, &type, &count, buf);
  if (rc != NVML_SUCCESS) return rc == NVML_ERROR_NOT_FOUND ? 0 : -1;
  for (unsigned i = 0; i < count; i++)
    if (buf[i].timeStamp > g_last_seen) g_last_seen = buf[i].timeStamp;
  return count;
}
static double call_clock_sm(void) {
  unsigned mhz = 0;
  return g_api.DeviceGetClockInfo(g_dev, NVML_CLOCK_SM, &mhz) == NVML_SUCCESS ? (double)mhz : -1;
}
static double call_temperature(void) {
  unsigned c = 0;
  return g_api.DeviceGetTemperature(g_dev, NVML_TEMPERATURE_GPU, &c) == NVML_SUCCESS ? (double)c : -1;
}
static double call_utilization(void) {
  nvmlUtilization_t u;
  return g_api.DeviceGetUtilizationRates(g_dev, &u) == NVML_SUCCESS ? (double)u.gpu : -1;
}
static double call_throttle(void) {
  unsigned long long r = 0;
  if (g_api.DeviceGetCurrentClocksEventReasons)
    return g_api.DeviceGetCurrentClocksEventReasons(g_dev, &r) == NVML_SUCCESS ? (double)r : -1;
  return -1;
}

typedef struct {
  const char *name;
  double (*call)(void);
  int period_ms;  // as the sampler calls it by default
} probe;

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  if (lj_nvml_api_load(&g_api, NULL) < 0 || g_api.Init_v2() != NVML_SUCCESS ||
      g_api.DeviceGetHandleByIndex_v2(0, &g_dev) != NVML_SUCCESS) {
    fprintf(stderr, "nvml_cpu_probe: no NVML device: %s\n", lj_error_message());
    return 4;
  }
  const probe probes[] = {
      {"GetTotalEnergyConsumption", call_energy, 100},
      {"FieldValues(83 energy)", call_field_energy, 100},
      {"GetSamples(total power)", call_samples, 250},
      {"GetPowerUsage", call_power_usage, 10},
      {"FieldValues(186 instant)", call_field_instant, 10},
      {"FieldValues(185 memory)", call_field_memory, 10},
      {"GetClockInfo(SM)", call_clock_sm, 10},
      {"GetTemperature", call_temperature, 10},
      {"GetUtilizationRates", call_utilization, 10},
      {"GetCurrentClocksEventReasons", call_throttle, 10},
  };
  printf("%-30s %6s %7s %10s %10s %10s %9s %9s %12s %14s\n", "call", "period", "calls", "wall_med", "wall_mean",
         "cpu_mean", "user_mean", "sys_mean", "cpu_%_core", "first..last");
  printf("%-30s %6s %7s %10s %10s %10s %9s %9s %12s %14s\n", "", "ms", "", "us", "us", "us", "us", "us",
         "at period", "value");
  for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
    int n = (int)(seconds * 1000 / probes[p].period_ms);
    int64_t *wall = calloc((size_t)n, sizeof *wall);
    int64_t cpu_total = 0;
    double user0 = rusage_us(0), sys0 = rusage_us(1), first = 0, last = 0;
    int64_t next = lj_mono_ns();
    for (int i = 0; i < n; i++) {
      lj_sleep_ns(next - lj_mono_ns());
      next += (int64_t)probes[p].period_ms * 1000000;
      int64_t c0 = thread_cpu_ns(), w0 = lj_mono_ns();
      double v = probes[p].call();
      wall[i] = lj_mono_ns() - w0;
      cpu_total += thread_cpu_ns() - c0;
      if (i == 0) first = v;
      last = v;
    }
    double user = rusage_us(0) - user0, sys = rusage_us(1) - sys0;
    qsort(wall, (size_t)n, sizeof *wall, cmp_i64);
    int64_t wall_sum = 0;
    for (int i = 0; i < n; i++) wall_sum += wall[i];
    double cpu_mean_us = (double)cpu_total / n / 1e3;
    printf("%-30s %6d %7d %10.1f %10.1f %10.1f %9.1f %9.1f %12.3f %g..%g\n", probes[p].name, probes[p].period_ms, n,
           wall[n / 2] / 1e3, (double)wall_sum / n / 1e3, cpu_mean_us, user / n, sys / n,
           cpu_mean_us / 1e3 / probes[p].period_ms * 100, first, last);
    free(wall);
  }
  g_api.Shutdown();
  return 0;
}
