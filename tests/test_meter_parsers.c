// The CSV trace parser and the nvidia-smi line parser on good and bad input:
// values exact, and every error names file, line and column; a trace is written whole or not at all.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "llamajoule/meter.h"
#include "meter/smi_parse.h"

static int parse(const char *text, lj_trace *t) { return lj_trace_parse_csv(text, strlen(text), "t.csv", t); }

static void expect_error(const char *text, const char *where, const char *what) {
  lj_trace t;
  int rc = parse(text, &t);
  if (rc != LJ_EINVAL) fail_msg("accepted bad trace:\n%s", text);
  if (strncmp(lj_error_message(), where, strlen(where)) != 0 || !strstr(lj_error_message(), what))
    fail_msg("error '%s' does not start with '%s' and say '%s'", lj_error_message(), where, what);
  assert_int_equal(t.n_samples, 0);
}

static void test_trace_good(void **state) {
  lj_trace t;
  const char *text =
      "# llamajoule trace v1\n"
      "#device,0,GPU-aaaa,00000000:18:00.0,700,NVIDIA H100 80GB HBM3, SXM\n"
      "#device,1,GPU-bbbb,,0,\n"
      "\n"
      "t_ns,device,reading,value,read_ns,read_dur_ns,source_us,flags\n"
      "2000,1,power_sample,250.5,0,0,1732470000000000,1\r\n"
      "1000,0,energy,12.25,990,3800000,0,0\n"
      "-5,0,throttle,4,0,0,0,0";  // no newline at the end; negative times allowed
  assert_int_equal(parse(text, &t), 0);
  assert_int_equal(t.n_devices, 2);
  assert_string_equal(t.devices[0].name, "NVIDIA H100 80GB HBM3, SXM");  // the name keeps its commas
  assert_string_equal(t.devices[0].pci_bus_id, "00000000:18:00.0");
  assert_true(t.devices[0].power_limit_w == 700.0);
  assert_string_equal(t.devices[1].uuid, "GPU-bbbb");
  assert_int_equal(t.n_samples, 3);
  // sorted by time
  assert_int_equal(t.samples[0].t_ns, -5);
  assert_int_equal(t.samples[0].reading, LJ_READING_THROTTLE);
  assert_int_equal(t.samples[1].reading, LJ_READING_ENERGY);
  assert_true(t.samples[1].value == 12.25);
  assert_int_equal(t.samples[1].read_dur_ns, 3800000);
  assert_int_equal(t.samples[2].device, 1);
  assert_int_equal(t.samples[2].flags, 1);
  assert_int_equal(t.samples[2].source_us, 1732470000000000LL);
  assert_true(t.devices[1].supported == LJ_READING_BIT(LJ_READING_POWER_SAMPLE));

  // write and read back: identical samples
  char path[] = "/tmp/lj_trace_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(lj_trace_write_csv(&t, path), 0);
  lj_trace back;
  assert_int_equal(lj_trace_read_csv(path, &back), 0);
  unlink(path);
  assert_int_equal(back.n_samples, t.n_samples);
  assert_memory_equal(back.samples, t.samples, t.n_samples * sizeof(lj_sample));
  assert_string_equal(back.devices[0].name, t.devices[0].name);
  lj_trace_free(&back);
  lj_trace_free(&t);

  // the short header; devices created from the rows
  assert_int_equal(parse("t_ns,device,reading,value\n1,3,power_instant,1e2\n", &t), 0);
  assert_int_equal(t.n_devices, 4);
  assert_true(t.samples[0].value == 100.0);
  lj_trace_free(&t);
}

// A trace cut short by a full disk (a file-size limit, SIGXFSZ ignored, in a child) is not left
// behind: the write fails, the file it was to replace keeps its old bytes and no temporary stays
// (meter's fallback for samples the store could not take once left a shorter trace).
static void test_trace_write_whole(void **state) {
  (void)state;
  char dir[] = "/tmp/lj_trace_dir_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/t.csv", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("old\n", f);
  fclose(f);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
    lj_trace t;
    lj_trace_init(&t);
    lj_device_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.name, sizeof info.name, "gpu");
    lj_sample s[1000];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 1000; i++) s[i].t_ns = i, s[i].reading = LJ_READING_POWER_SAMPLE, s[i].value = 100.0 + i;
    if (lj_trace_add_device(&t, &info) != 0 || lj_trace_append(&t, s, 1000) != 0) _exit(11);
    _exit(lj_trace_write_csv(&t, path) < 0 ? 0 : 12);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  char buf[16] = {0};
  f = fopen(path, "r");
  assert_non_null(f);
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_string_equal(buf, "old\n");
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  assert_int_equal(n, 1);  // t.csv alone
  unlink(path);
  rmdir(dir);
}

static void test_trace_bad(void **state) {
  expect_error("", "t.csv:1:1:", "no header line");
  expect_error("# only a comment\n", "t.csv:2:1:", "no header line");
  expect_error("t_ns,device,reading\n", "t.csv:1:1:", "header must be");
  expect_error("t_ns,device,kind,value\n", "t.csv:1:13:", "header column 3 must be 'reading'");
  expect_error("t_ns,device,reading,value\n1,0,energy\n", "t.csv:2:", "expected 4 columns, found 3");
  expect_error("t_ns,device,reading,value\n1,0,energy,1,2\n", "t.csv:2:", "expected 4 columns, found 5");
  expect_error("t_ns,device,reading,value\nx,0,energy,1\n", "t.csv:2:1:", "t_ns");
  expect_error("t_ns,device,reading,value\n99999999999999999999,0,energy,1\n", "t.csv:2:1:", "t_ns");
  expect_error("t_ns,device,reading,value\n1,-1,energy,1\n", "t.csv:2:3:", "device");
  expect_error("t_ns,device,reading,value\n1,0,energy,1\n2,0,watts,1\n", "t.csv:3:5:", "unknown reading");
  expect_error("t_ns,device,reading,value\n1,0,energy,nan\n", "t.csv:2:12:", "finite decimal");
  expect_error("t_ns,device,reading,value\n1,0,energy,0x10\n", "t.csv:2:12:", "finite decimal");
  expect_error("t_ns,device,reading,value\n1,0,energy, 1\n", "t.csv:2:12:", "finite decimal");
  expect_error("t_ns,device,reading,value\n1,0,energy,1e999\n", "t.csv:2:12:", "finite decimal");
  expect_error("t_ns,device,reading,value,read_ns,read_dur_ns,source_us,flags\n1,0,energy,1,0,-3,0,0\n", "t.csv:2:16:", "read_dur_ns");
  expect_error("t_ns,device,reading,value,read_ns,read_dur_ns,source_us,flags\n1,0,energy,1,0,0,0,256\n", "t.csv:2:20:", "flags");
  expect_error("#device,0,GPU-a,,700,x\nt_ns,device,reading,value\n1,1,energy,1\n", "t.csv:3:3:", "not declared");
  expect_error("#device,1,GPU-a,,700,x\n", "t.csv:1:9:", "out of order");
  expect_error("#device,0,GPU-a,,-1,x\n", "t.csv:1:18:", "power_limit_w");
  expect_error("#device,0,,,700,x\n", "t.csv:1:11:", "empty uuid");
  expect_error("#device,0,GPU-a\n", "t.csv:1:", "needs 6 fields");
  expect_error("t_ns,device,reading,value\n#device,0,GPU-a,,700,x\n", "t.csv:2:1:", "before the header");
  lj_trace t;
  assert_int_equal(lj_trace_read_csv("/nonexistent/trace.csv", &t), LJ_EIO);
  assert_non_null(strstr(lj_error_message(), "/nonexistent/trace.csv"));
}

static void test_smi_good(void **state) {
  const lj_smi_layout *l = lj_smi_layout_default();
  char q[600];
  lj_smi_query_string(l, q, sizeof q);
  assert_string_equal(q,
                      "timestamp,index,uuid,pci.bus_id,power.draw,power.draw.average,power.draw.instant,"
                      "enforced.power.limit,clocks.sm,clocks.mem,temperature.gpu,utilization.gpu,utilization.memory,"
                      "clocks_event_reasons.active");
  const char *line =
      "2026/11/24 18:33:39.123, 0, GPU-8932f937-d72c-4106-c12f-20bd9faed9f6, 00000000:18:00.0, 125.31, 124.90, "
      "131.02, 700.00, 1980, 2619, 41, 7, 0, 0x0000000000000004";
  lj_smi_record r;
  assert_int_equal(lj_smi_parse_line(l, line, strlen(line), "smi", 1, &r), 0);
  // 2026-11-24 18:33:39.123 as if UTC: 1795545219.123 s since the epoch (date -u -d ... +%s)
  assert_int_equal(r.local_us, 1795545219123000LL);
  assert_int_equal(r.index, 0);
  assert_string_equal(r.uuid, "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6");
  assert_string_equal(r.pci_bus_id, "00000000:18:00.0");
  assert_true(r.value[LJ_READING_POWER_AVG] == 124.90);  // power.draw.average wins over power.draw
  assert_true(r.value[LJ_READING_POWER_INSTANT] == 131.02);
  assert_true(r.value[LJ_READING_POWER_LIMIT] == 700.0);
  assert_true(r.value[LJ_READING_CLOCK_MEM] == 2619.0);
  assert_true(r.value[LJ_READING_THROTTLE] == 4.0);
  assert_true(r.value[LJ_READING_UTIL_GPU] == 7.0);

  const char *na =
      "2026/11/24 18:33:39.5, 1, GPU-b, 00000000:19:00.0, 71.5, [N/A], [Not Supported], 400.00, 1410, 1215, 35, "
      "[N/A], N/A, 0x0\r";
  assert_int_equal(lj_smi_parse_line(l, na, strlen(na), "smi", 2, &r), 0);
  assert_int_equal(r.local_us % 1000000, 500000);
  assert_true(r.present & LJ_READING_BIT(LJ_READING_POWER_AVG));
  assert_true(r.value[LJ_READING_POWER_AVG] == 71.5);
  assert_false(r.present & LJ_READING_BIT(LJ_READING_POWER_INSTANT));
  assert_false(r.present & LJ_READING_BIT(LJ_READING_UTIL_GPU));
  assert_false(r.present & LJ_READING_BIT(LJ_READING_UTIL_MEM));

  const char *old = "2021/01/02 03:04:05.678, 0, GPU-1234, 00000000:3B:00.0, 55.12, 250.00, 1380, 877, 38, 3, 1, 0x1";
  assert_int_equal(lj_smi_parse_line(lj_smi_layout_legacy(), old, strlen(old), "smi", 3, &r), 0);
  assert_true(r.value[LJ_READING_POWER_INSTANT] == 55.12);
  assert_int_equal(r.local_us, 1609556645678000LL);  // date -u -d '2021-01-02 03:04:05.678' +%s%N / 1000
}

static void expect_smi_error(const char *line, const char *where, const char *what) {
  lj_smi_record r;
  int rc = lj_smi_parse_line(lj_smi_layout_default(), line, strlen(line), "smi", 4, &r);
  if (rc != LJ_EINVAL) fail_msg("accepted bad line: %s", line);
  if (strncmp(lj_error_message(), where, strlen(where)) != 0 || !strstr(lj_error_message(), what))
    fail_msg("error '%s' does not start with '%s' and say '%s'", lj_error_message(), where, what);
}

static void test_smi_bad(void **state) {
  expect_smi_error("", "smi:4:1:", "expected 14 comma-separated columns");
  expect_smi_error("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", "smi:4:1:", "found 1");
  expect_smi_error("2026/11/24 18:33, 0, GPU-a, 0000:18:00.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x0", "smi:4:1:", "timestamp");
  expect_smi_error("2026/13/24 18:33:39, 0, GPU-a, 0000:18:00.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x0", "smi:4:1:", "timestamp");
  expect_smi_error("2026/11/24 18:33:39, x, GPU-a, 0000:18:00.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x0", "smi:4:22:", "index");
  expect_smi_error("2026/11/24 18:33:39, 0, , 0000:18:00.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x0", "smi:4:25:", "uuid");
  expect_smi_error("2026/11/24 18:33:39, 0, GPU-a, 0000:18:00.0, 1 W, 1, 1, 1, 1, 1, 1, 1, 1, 0x0", "smi:4:46:", "power.draw");
  expect_smi_error("2026/11/24 18:33:39, 0, GPU-a, 0000:18:00.0, -1, 1, 1, 1, 1, 1, 1, 1, 1, 0x0", "smi:4:46:", "non-negative");
  expect_smi_error("2026/11/24 18:33:39, 0, GPU-a, 0000:18:00.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4", "smi:4:73:", "hex mask");
  expect_smi_error("2026/11/24 18:33:39, 0, GPU-a, 0000:18:00.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x0, 5", "smi:4:1:", "found 15");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trace_good),
      cmocka_unit_test(test_trace_bad),
      cmocka_unit_test(test_trace_write_whole),
      cmocka_unit_test(test_smi_good),
      cmocka_unit_test(test_smi_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
