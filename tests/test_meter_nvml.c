// The NVML source against a fake NVML (a hand-filled function table): device
// identity, units, unsupported readings and missing symbols, the driver
// buffer (new samples only, gaps), CUDA_VISIBLE_DEVICES, and the errors for
// no driver / no permission.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "llamajoule/meter.h"
#include "meter/nvml_api.h"
#include "meter/source_impl.h"

// ---- the fake driver: two GPUs

static struct nvmlDevice_st {
  int index;
} fake_gpu[2] = {{0}, {1}};
static const char *fake_uuid[2] = {"GPU-aaaa1111-2222-3333-4444-555566667777", "GPU-bbbb1111-2222-3333-4444-555566667777"};
static nvmlReturn_t fake_init_result;
static unsigned long long fake_energy_mj[2];
// driver buffer: timestamps (us since the epoch) and mW
#define FAKE_BUF 8
static nvmlSample_t fake_buf[FAKE_BUF];
static unsigned fake_buf_n;

static nvmlReturn_t f_init(void) { return fake_init_result; }
static nvmlReturn_t f_shutdown(void) { return NVML_SUCCESS; }
static const char *f_error_string(nvmlReturn_t r) { return r == NVML_ERROR_NO_PERMISSION ? "Insufficient Permissions" : "fake error"; }
static nvmlReturn_t f_driver(char *b, unsigned n) { snprintf(b, n, "580.159.04"); return NVML_SUCCESS; }
static nvmlReturn_t f_nvml(char *b, unsigned n) { snprintf(b, n, "13.580.159.04"); return NVML_SUCCESS; }
static nvmlReturn_t f_count(unsigned *n) { *n = 2; return NVML_SUCCESS; }
static nvmlReturn_t f_by_index(unsigned i, nvmlDevice_t *h) {
  if (i > 1) return NVML_ERROR_INVALID_ARGUMENT;
  *h = &fake_gpu[i];
  return NVML_SUCCESS;
}
static nvmlReturn_t f_name(nvmlDevice_t h, char *b, unsigned n) { snprintf(b, n, "Fake H100 #%d", h->index); return NVML_SUCCESS; }
static nvmlReturn_t f_uuid(nvmlDevice_t h, char *b, unsigned n) { snprintf(b, n, "%s", fake_uuid[h->index]); return NVML_SUCCESS; }
static nvmlReturn_t f_pci(nvmlDevice_t h, nvmlPciInfo_t *p) {
  snprintf(p->busId, sizeof p->busId, "00000000:%02X:00.0", 0x18 + h->index);
  return NVML_SUCCESS;
}
static int fake_energy_field, fake_slow_energy;
static nvmlReturn_t f_energy(nvmlDevice_t h, unsigned long long *mj) {
  if (fake_slow_energy) usleep(2000);  // like the real call: milliseconds
  fake_energy_mj[h->index] += 12345;
  *mj = fake_energy_mj[h->index];
  return NVML_SUCCESS;
}
static int fake_field_calls, fake_slow_fields;
static nvmlReturn_t f_fields(nvmlDevice_t h, int n, nvmlFieldValue_t *v) {
  fake_field_calls++;
  if (fake_slow_fields) usleep(2000);
  for (int i = 0; i < n; i++) {
    v[i].timestamp = lj_wall_ns() / 1000;
    v[i].valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
    v[i].nvmlReturn = NVML_SUCCESS;
    if (v[i].fieldId == NVML_FI_DEV_POWER_AVERAGE && v[i].scopeId == NVML_POWER_SCOPE_GPU) v[i].value.uiVal = 250000;
    else if (v[i].fieldId == NVML_FI_DEV_POWER_INSTANT) v[i].value.uiVal = 300500;
    else if (v[i].fieldId == NVML_FI_DEV_POWER_AVERAGE && v[i].scopeId == NVML_POWER_SCOPE_MEMORY && h->index == 0) v[i].value.uiVal = 47600;
    else if (v[i].fieldId == NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION && fake_energy_field) {
      v[i].valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
      v[i].value.ullVal = fake_energy_mj[h->index];
    }
    else v[i].nvmlReturn = NVML_ERROR_NOT_SUPPORTED;  // HBM power only on GPU 0
  }
  return NVML_SUCCESS;
}
static nvmlReturn_t f_samples(nvmlDevice_t h, int type, unsigned long long last, int *vt, unsigned *count, nvmlSample_t *out) {
  *vt = NVML_VALUE_TYPE_UNSIGNED_INT;
  if (!out) {
    *count = FAKE_BUF;
    return NVML_SUCCESS;
  }
  unsigned n = 0;
  // like the driver, it may return samples at or before lastSeen: the source must drop them
  for (unsigned i = 0; i < fake_buf_n && n < *count; i++)
    if (fake_buf[i].timeStamp + 1 >= last) out[n++] = fake_buf[i];
  *count = n;
  return n ? NVML_SUCCESS : NVML_ERROR_NOT_FOUND;
}
static nvmlReturn_t f_clock(nvmlDevice_t h, int which, unsigned *mhz) { *mhz = which == NVML_CLOCK_SM ? 1980 : 2619; return NVML_SUCCESS; }
static nvmlReturn_t f_temp(nvmlDevice_t h, int s, unsigned *c) { *c = 41; return NVML_SUCCESS; }
static nvmlReturn_t f_throttle(nvmlDevice_t h, unsigned long long *r) { *r = 0x4; return NVML_SUCCESS; }
static nvmlReturn_t f_limit(nvmlDevice_t h, unsigned *mw) { *mw = 700000; return NVML_SUCCESS; }

static lj_nvml_api fake_api(void) {
  lj_nvml_api a;
  memset(&a, 0, sizeof a);
  a.Init_v2 = f_init;
  a.Shutdown = f_shutdown;
  a.ErrorString = f_error_string;
  a.SystemGetDriverVersion = f_driver;
  a.SystemGetNVMLVersion = f_nvml;
  a.DeviceGetCount_v2 = f_count;
  a.DeviceGetHandleByIndex_v2 = f_by_index;
  a.DeviceGetName = f_name;
  a.DeviceGetUUID = f_uuid;
  a.DeviceGetPciInfo_v3 = f_pci;
  a.DeviceGetTotalEnergyConsumption = f_energy;
  a.DeviceGetFieldValues = f_fields;
  a.DeviceGetSamples = f_samples;
  a.DeviceGetClockInfo = f_clock;
  a.DeviceGetTemperature = f_temp;
  // an older driver: only the throttle-reasons name, no utilisation call
  a.DeviceGetCurrentClocksThrottleReasons = f_throttle;
  a.DeviceGetEnforcedPowerLimit = f_limit;
  return a;
}

static int setup(void **state) {
  fake_init_result = NVML_SUCCESS;
  fake_energy_field = fake_slow_energy = fake_slow_fields = 0;
  fake_buf_n = 0;
  unsetenv("CUDA_VISIBLE_DEVICES");
  return 0;
}

static void test_identity_and_supported(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  assert_int_equal(lj_source_device_count(src), 2);
  assert_string_equal(lj_source_kind(src), "nvml");
  lj_device_info i0, i1;
  assert_int_equal(lj_source_device_info(src, 0, &i0), 0);
  assert_int_equal(lj_source_device_info(src, 1, &i1), 0);
  assert_string_equal(i0.name, "Fake H100 #0");
  assert_string_equal(i1.uuid, fake_uuid[1]);
  assert_string_equal(i1.pci_bus_id, "00000000:19:00.0");
  assert_string_equal(i0.driver_version, "580.159.04");
  assert_string_equal(i0.nvml_version, "13.580.159.04");
  assert_true(i0.power_limit_w == 700.0);
  uint32_t always = LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_AVG) |
                    LJ_READING_BIT(LJ_READING_POWER_INSTANT) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE) |
                    LJ_READING_BIT(LJ_READING_CLOCK_SM) | LJ_READING_BIT(LJ_READING_CLOCK_MEM) |
                    LJ_READING_BIT(LJ_READING_TEMPERATURE) | LJ_READING_BIT(LJ_READING_THROTTLE) |
                    LJ_READING_BIT(LJ_READING_POWER_LIMIT);
  assert_int_equal(i0.supported, always | LJ_READING_BIT(LJ_READING_POWER_MEMORY));
  assert_int_equal(i1.supported, always);  // no HBM power; no utilisation call at all
  assert_int_equal(i0.streamed, LJ_READING_BIT(LJ_READING_POWER_SAMPLE));
  lj_source_close(src);
}

static void test_readings_in_si_units(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  lj_sample s;
  int64_t before = lj_mono_ns();
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &s), 0);
  int64_t after = lj_mono_ns();
  assert_true(s.value == (double)fake_energy_mj[0] * 1e-3);
  assert_true(s.read_ns >= before && s.t_ns >= s.read_ns && s.t_ns <= after);
  assert_int_equal(s.reading, LJ_READING_ENERGY);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_POWER_INSTANT, &s), 0);
  assert_true(s.value == 300.5);
  assert_true(s.source_us > 0);  // NVML's own timestamp kept
  assert_int_equal(lj_source_read(src, 0, LJ_READING_POWER_MEMORY, &s), 0);
  assert_true(s.value == 47.6);
  assert_int_equal(lj_source_read(src, 1, LJ_READING_POWER_MEMORY, &s), LJ_EUNSUPPORTED);
  assert_int_equal(lj_source_read(src, 1, LJ_READING_UTIL_GPU, &s), LJ_EUNSUPPORTED);
  assert_int_equal(lj_source_read(src, 1, LJ_READING_THROTTLE, &s), 0);
  assert_true(s.value == 4.0);
  assert_int_equal(lj_source_read(src, 1, LJ_READING_CLOCK_MEM, &s), 0);
  assert_true(s.value == 2619.0);
  assert_true(lj_source_read(src, 2, LJ_READING_ENERGY, &s) == LJ_EINVAL);
  lj_source_close(src);
}

// The sampler's field round: all power fields in one call, one sample each.
static void test_read_many(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  lj_sample out[LJ_READING_COUNT];
  int n, errors;
  uint32_t mask = LJ_READING_BIT(LJ_READING_POWER_AVG) | LJ_READING_BIT(LJ_READING_POWER_INSTANT) |
                  LJ_READING_BIT(LJ_READING_POWER_MEMORY) | LJ_READING_BIT(LJ_READING_TEMPERATURE) |
                  LJ_READING_BIT(LJ_READING_UTIL_GPU) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE);
  fake_field_calls = 0;
  lj_source_read_many(src, 0, mask, out, &n, &errors);
  assert_int_equal(errors, 0);
  assert_int_equal(fake_field_calls, 1);
  // util (no such call) and the streamed buffer are not polled: avg, instant, memory, temperature
  assert_int_equal(n, 4);
  double seen[LJ_READING_COUNT] = {0};
  for (int i = 0; i < n; i++) seen[out[i].reading] = out[i].value;
  assert_true(seen[LJ_READING_POWER_AVG] == 250.0 && seen[LJ_READING_POWER_INSTANT] == 300.5);
  assert_true(seen[LJ_READING_POWER_MEMORY] == 47.6 && seen[LJ_READING_TEMPERATURE] == 41.0);
  lj_source_read_many(src, 1, mask, out, &n, &errors);  // GPU 1: no HBM power
  assert_int_equal(n, 3);
  assert_int_equal(errors, 0);
  lj_source_close(src);
}

// The energy counter through the cheaper call: the field when the direct
// call is slow and the field gives the same counter; else the direct call.
static void test_energy_call_choice(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  lj_sample a, b;
  fake_energy_field = 1;
  fake_slow_energy = 1;
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  fake_field_calls = 0;
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &a), 0);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &b), 0);
  assert_int_equal(fake_field_calls, 2);
  assert_true(a.value == (double)fake_energy_mj[0] * 1e-3 && b.value == a.value);  // the field does not tick the fake
  assert_true(a.source_us > 0);
  lj_source_close(src);
  // The field as slow as the direct call: keep the direct call. (Both slow, not both
  // free: at microseconds, timing noise alone can put one below 80% of the other.)
  fake_slow_fields = 1;
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  fake_slow_energy = fake_slow_fields = 0;
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &a), 0);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &b), 0);
  assert_true(b.value - a.value > 12.0);  // 12.345 J per direct call
  lj_source_close(src);
}

static void test_driver_buffer(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  // of the history before opening, only the last 5 samples come (a bracket for windows begun at start)
  int64_t wall_us = lj_wall_ns() / 1000;
  fake_buf_n = 7;
  for (int i = 0; i < 7; i++)
    fake_buf[i] = (nvmlSample_t){.timeStamp = (unsigned long long)(wall_us - 200000 + 20000 * i), .sampleValue.uiVal = 100000};
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  lj_sample out[16];
  size_t n;
  assert_int_equal(lj_source_drain(src, 0, out, 16, &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(out[4].source_us, wall_us - 80000);
  assert_int_equal(lj_source_drain(src, 0, out, 16, &n), 0);
  assert_int_equal(n, 0);
  fake_buf[0] = fake_buf[6];  // the driver's buffer now starts at the last one seen
  fake_buf_n = 1;
  // three new samples 20 ms apart, then one 500 ms later (samples were lost)
  for (int i = 0; i < 3; i++)
    fake_buf[1 + i] = (nvmlSample_t){.timeStamp = (unsigned long long)(wall_us - 20000 + 20000 * i), .sampleValue.uiVal = 200000 + 1000 * i};
  fake_buf_n = 4;
  assert_int_equal(lj_source_drain(src, 0, out, 16, &n), 0);
  assert_int_equal(n, 3);
  assert_true(out[0].value == 200.0 && out[2].value == 202.0);
  assert_int_equal(out[1].t_ns - out[0].t_ns, 20000000);
  // mapped onto the monotonic clock: the sample taken 20 ms before "now"
  int64_t expect = lj_mono_ns() - 20000000 - (lj_wall_ns() / 1000 - wall_us) * 1000;
  assert_true(llabs(out[0].t_ns - expect) < 5000000);
  assert_true(out[0].flags & LJ_SAMPLE_SOURCE_TIME);
  assert_false(out[0].flags & LJ_SAMPLE_AFTER_GAP);
  fake_buf[4] = (nvmlSample_t){.timeStamp = (unsigned long long)(wall_us + 540000), .sampleValue.uiVal = 150000};
  fake_buf_n = 5;
  // a small output buffer: the rest comes on the next call
  assert_int_equal(lj_source_drain(src, 0, out, 1, &n), 0);
  assert_int_equal(n, 1);
  assert_true(out[0].flags & LJ_SAMPLE_AFTER_GAP);
  assert_int_equal(lj_source_drain(src, 0, out, 16, &n), 0);
  assert_int_equal(n, 0);
  lj_source_stats st;
  assert_int_equal(lj_source_stats_get(src, 0, &st), 0);
  assert_int_equal(st.buffer_samples, 9);
  assert_int_equal(st.buffer_gaps, 1);
  assert_true(st.buffer_dups >= 1);
  lj_source_close(src);
}

static void test_cuda_visible_devices(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  lj_device_info info;
  setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb", 1);  // a unique UUID prefix
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  assert_int_equal(lj_source_device_count(src), 1);
  lj_source_device_info(src, 0, &info);
  assert_string_equal(info.uuid, fake_uuid[1]);
  assert_int_equal(info.nvml_index, 1);
  assert_int_equal(info.cuda_index, 0);
  lj_source_close(src);

  setenv("CUDA_VISIBLE_DEVICES", "1, 0", 1);
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  assert_int_equal(lj_source_device_count(src), 2);
  lj_source_device_info(src, 0, &info);
  assert_int_equal(info.nvml_index, 1);
  lj_source_close(src);

  setenv("CUDA_VISIBLE_DEVICES", "0,7,1", 1);  // stops at the first unknown entry, like CUDA
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), 0);
  assert_int_equal(lj_source_device_count(src), 1);
  lj_source_close(src);

  setenv("CUDA_VISIBLE_DEVICES", "", 1);
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), LJ_ENODEV);
  assert_non_null(strstr(lj_error_message(), "CUDA_VISIBLE_DEVICES"));

  lj_nvml_options o;
  lj_nvml_options_default(&o);
  o.respect_cuda_visible_devices = 0;
  assert_int_equal(lj_source_open_nvml_api(&src, &api, &o), 0);
  assert_int_equal(lj_source_device_count(src), 2);
  lj_source_close(src);
  unsetenv("CUDA_VISIBLE_DEVICES");
}

static void test_errors(void **state) {
  lj_source *src;
  lj_nvml_api api = fake_api();
  fake_init_result = NVML_ERROR_NO_PERMISSION;
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), LJ_EPERM);
  assert_non_null(strstr(lj_error_message(), "Insufficient Permissions"));
  fake_init_result = NVML_ERROR_DRIVER_NOT_LOADED;
  assert_int_equal(lj_source_open_nvml_api(&src, &api, NULL), LJ_ENODEV);
  lj_nvml_options o;
  lj_nvml_options_default(&o);
  o.library = "/nonexistent/libnvidia-ml.so.1";
  assert_int_equal(lj_source_open_nvml(&src, &o), LJ_ENODEV);
  assert_non_null(strstr(lj_error_message(), "was not found (no NVIDIA driver)"));
}

// On this machine: either a driver answers, or the error is the clear "no driver" one.
static void test_real_library(void **state) {
  lj_source *src;
  int rc = lj_source_open_nvml(&src, NULL);
  if (rc == 0) {
    assert_true(lj_source_device_count(src) > 0);
    lj_source_close(src);
  } else {
    assert_int_equal(rc, LJ_ENODEV);
    assert_true(strlen(lj_error_message()) > 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_identity_and_supported, setup),
      cmocka_unit_test_setup(test_readings_in_si_units, setup),
      cmocka_unit_test_setup(test_read_many, setup),
      cmocka_unit_test_setup(test_energy_call_choice, setup),
      cmocka_unit_test_setup(test_driver_buffer, setup),
      cmocka_unit_test_setup(test_cuda_visible_devices, setup),
      cmocka_unit_test_setup(test_errors, setup),
      cmocka_unit_test_setup(test_real_library, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
