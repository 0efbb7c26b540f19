// nvidia-smi source (through a stand-in script), replay reads, the idle
// baseline and the characterisation statistics, against known answers.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/error.h"
#include "llamajoule/meter.h"
#include "meter/characterize.h"

#define MS 1000000LL
#define SEC 1000000000LL

static char fake_smi[1024];

static int setup(void **state) {
  const char *dir = getenv("LLAMAJOULE_SOURCE_DIR");
  snprintf(fake_smi, sizeof fake_smi, "%s/tests/data/traces/fake_nvidia_smi.sh", dir ? dir : ".");
  unsetenv("FAKE_SMI_MODE");
  unsetenv("CUDA_VISIBLE_DEVICES");
  return 0;
}

static lj_smi_options smi_options(void) {
  lj_smi_options o;
  lj_smi_options_default(&o);
  o.command = fake_smi;
  o.period_ms = 20;
  return o;
}

static void test_smi_stream_and_energy(void **state) {
  // local time east of UTC: nvidia-smi's timestamps are local, the source must undo that
  setenv("TZ", "XYZ-5:30", 1);
  tzset();
  lj_smi_options o = smi_options();
  lj_source *src;
  assert_int_equal(lj_source_open_smi(&src, &o), 0);
  assert_string_equal(lj_source_kind(src), "nvidia-smi");
  assert_int_equal(lj_source_device_count(src), 2);
  lj_device_info info;
  lj_source_device_info(src, 1, &info);
  assert_string_equal(info.uuid, "GPU-bbbb1111-2222-3333-4444-555566667777");
  assert_string_equal(info.pci_bus_id, "00000000:19:00.0");
  assert_true(info.power_limit_w == 700.0);
  assert_true(info.supported & LJ_READING_BIT(LJ_READING_ENERGY));  // integrated from power
  assert_false(info.supported & LJ_READING_BIT(LJ_READING_POWER_MEMORY));  // nvidia-smi has no HBM power
  assert_int_equal(info.streamed, info.supported);

  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.drain_period_ns = 50 * MS;
  lj_sampler *s;
  assert_int_equal(lj_sampler_create(&s, src, &c), 0);
  assert_int_equal(lj_sampler_start(s), 0);
  lj_sleep_ns(200 * MS);  // the stream is running
  int h = lj_meter_begin(s, "w");
  lj_sleep_ns(600 * MS);
  assert_int_equal(lj_meter_end(s, "w"), h);
  lj_window_result r0, r1;
  assert_int_equal(lj_meter_result(s, h, 1, &r1, 2 * SEC), 0);
  assert_int_equal(lj_sampler_stop(s), 0);
  assert_int_equal(lj_windows_result(lj_sampler_windows(s), h, 0, &r0), 0);
  // constant power: both energies are power x duration (the stream's times are ms-resolved: 2%)
  assert_true(r0.n_samples >= 2);  // the stand-in script is slow on a loaded machine
  assert_int_equal(r0.integrated_reading, LJ_READING_POWER_INSTANT);
  assert_true(fabs(r0.sample_energy_j - 200.0 * r0.duration_s) < 0.02 * 200.0 * r0.duration_s);
  assert_true(fabs(r0.counter_energy_j - 200.0 * r0.duration_s) < 0.02 * 200.0 * r0.duration_s);
  assert_true(fabs(r1.sample_energy_j - 300.0 * r1.duration_s) < 0.02 * 300.0 * r1.duration_s);
  assert_false(r0.flags & LJ_WINDOW_EXTRAPOLATED);  // timestamps mapped right, not hours off
  lj_sampler_free(s);
  lj_source_close(src);
  unsetenv("TZ");
  tzset();
}

static void test_smi_legacy_and_visible(void **state) {
  setenv("FAKE_SMI_MODE", "legacy", 1);
  setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb", 1);
  lj_smi_options o = smi_options();
  lj_source *src;
  assert_int_equal(lj_source_open_smi(&src, &o), 0);
  assert_int_equal(lj_source_device_count(src), 1);
  lj_device_info info;
  lj_source_device_info(src, 0, &info);
  assert_int_equal(info.nvml_index, 1);
  // the legacy power.draw is instant power on old GPUs
  assert_true(info.supported & LJ_READING_BIT(LJ_READING_POWER_INSTANT));
  lj_source_close(src);
}

static void test_smi_errors(void **state) {
  lj_smi_options o = smi_options();
  lj_source *src;
  setenv("FAKE_SMI_MODE", "nodriver", 1);
  assert_int_equal(lj_source_open_smi(&src, &o), LJ_ENODEV);
  assert_non_null(strstr(lj_error_message(), "couldn't communicate with the NVIDIA driver"));
  unsetenv("FAKE_SMI_MODE");
  o.command = "llamajoule-no-such-nvidia-smi";
  assert_int_equal(lj_source_open_smi(&src, &o), LJ_ENODEV);
  assert_non_null(strstr(lj_error_message(), "llamajoule-no-such-nvidia-smi not found in PATH"));
}

static void add(lj_trace *t, lj_reading r, int64_t t_ns, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns;
  s.reading = (uint8_t)r;
  s.value = v;
  assert_int_equal(lj_trace_append(t, &s, 1), 0);
}

static void test_replay_read(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  add(&t, LJ_READING_TEMPERATURE, 100, 40);
  add(&t, LJ_READING_TEMPERATURE, 200, 41);
  add(&t, LJ_READING_ENERGY, 150, 7);
  lj_source *src;
  assert_int_equal(lj_source_open_replay(&src, &t, 0), 0);
  lj_sample s;
  assert_int_equal(lj_source_now_ns(src), 100);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_TEMPERATURE, &s), 0);
  assert_true(s.value == 40);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &s), LJ_EUNSUPPORTED);  // none yet at t=100
  lj_source_set_now(src, 199);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_ENERGY, &s), 0);
  assert_true(s.value == 7);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_TEMPERATURE, &s), 0);
  assert_true(s.value == 40);
  assert_int_equal(lj_source_read(src, 0, LJ_READING_CLOCK_SM, &s), LJ_EUNSUPPORTED);
  lj_sample out[8];
  size_t n;
  assert_int_equal(lj_source_drain(src, 0, out, 8, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(lj_source_drain(src, 0, out, 8, &n), 0);
  assert_int_equal(n, 0);
  lj_source_close(src);
  lj_trace_free(&t);
}

// Idle: counter +12 J every 100 ms (120 W), buffer samples 118/122 W alternating.
static void build_idle(lj_trace *t, int64_t t0, double secs) {
  for (int k = 0; k * 100 <= secs * 1000; k++) add(t, LJ_READING_ENERGY, t0 + k * 100 * MS, 1000.0 + 12.0 * k);
  for (int k = 0; k * 20 <= secs * 1000; k++) add(t, LJ_READING_POWER_SAMPLE, t0 + k * 20 * MS + 5 * MS, k % 2 ? 122.0 : 118.0);
  for (int k = 0; k * 100 <= secs * 1000; k++) add(t, LJ_READING_TEMPERATURE, t0 + k * 100 * MS + 1, 35.0);
}

static void test_idle_from_samples(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_idle(&t, 0, 2.0);
  lj_trace_sort(&t);
  lj_idle_result r;
  assert_int_equal(lj_idle_from_samples(t.samples, t.n_samples, 0, 0, 2 * SEC, &r), 0);
  assert_true(fabs(r.counter_mean_w - 120.0) < 1e-9);
  assert_true(fabs(r.counter_stddev_w) < 1e-9);
  assert_int_equal(r.n_counter_updates, 20);
  assert_int_equal(r.n_samples, 100);  // samples at 5 ms, 25 ms, ... 1985 ms
  assert_true(fabs(r.sample_mean_w - 120.0) < 1e-9);
  // sample stddev of 50 x 118 and 50 x 122: sqrt(100 * 4 / 99)
  assert_true(fabs(r.sample_stddev_w - sqrt(400.0 / 99.0)) < 1e-9);
  assert_true(fabs(r.temperature_c - 35.0) < 1e-9);
  assert_true(r.mean_w == r.counter_mean_w);
  assert_int_equal(lj_idle_from_samples(t.samples, t.n_samples, 1, 0, 2 * SEC, &r), LJ_EUNSUPPORTED);
  lj_trace_free(&t);
}

static void test_measure_idle_realtime_replay(void **state) {
  lj_trace t;
  lj_trace_init(&t);
  build_idle(&t, 50 * SEC, 2.0);
  lj_source *src;
  assert_int_equal(lj_source_open_replay(&src, &t, 1), 0);
  lj_idle_result r;
  assert_int_equal(lj_measure_idle(src, 0, 0.5, &r), 0);
  assert_true(fabs(r.counter_mean_w - 120.0) < 1e-6);
  assert_true(r.n_counter_updates >= 3);
  assert_true(fabs(r.sample_mean_w - 120.0) < 2.1);  // a run of 118/122 samples: within 2 W
  assert_true(r.seconds >= 0.5 && r.seconds < 1.0);
  assert_int_equal(lj_measure_idle(src, 3, 0.5, &r), LJ_EINVAL);
  assert_int_equal(lj_measure_idle(src, 0, -1, &r), LJ_EINVAL);
  lj_source_close(src);
  lj_trace_free(&t);
}

static void test_character_from_samples(void **state) {
  // a reading polled every 1 ms that steps by 0.001 J every 100 ms; reads cost 5 us, one 40 us
  lj_sample s[1000];
  memset(s, 0, sizeof s);
  for (int i = 0; i < 1000; i++) {
    s[i].t_ns = i * MS;
    s[i].value = 0.001 * (i / 100) + (i >= 500 ? 0.5 : 0);  // one larger step at 500 ms
    s[i].read_dur_ns = i == 7 ? 40000 : 5000;
  }
  lj_reading_character c;
  lj_character_from_samples(s, 1000, &c);
  assert_int_equal(c.supported, 1);
  assert_int_equal(c.n_reads, 1000);
  assert_int_equal(c.n_changes, 9);
  assert_true(fabs(c.update_median_ms - 100.0) < 1e-9);
  assert_true(fabs(c.update_min_ms - 100.0) < 1e-9 && fabs(c.update_max_ms - 100.0) < 1e-9);
  assert_true(fabs(c.resolution - 0.001) < 1e-12);
  assert_true(fabs(c.call_cost_median_us - 5.0) < 1e-9);
  assert_true(fabs(c.call_cost_max_us - 40.0) < 1e-9);
  lj_character_from_samples(s, 0, &c);
  assert_int_equal(c.supported, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_smi_stream_and_energy, setup),
      cmocka_unit_test_setup(test_smi_legacy_and_visible, setup),
      cmocka_unit_test_setup(test_smi_errors, setup),
      cmocka_unit_test_setup(test_replay_read, setup),
      cmocka_unit_test_setup(test_idle_from_samples, setup),
      cmocka_unit_test_setup(test_measure_idle_realtime_replay, setup),
      cmocka_unit_test_setup(test_character_from_samples, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
