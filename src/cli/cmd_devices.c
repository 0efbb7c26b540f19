// llamajoule devices [--characterize] [-o file.db] [--json]
//
// Lists the GPUs the power source sees (index, name, UUID, PCI, driver, power
// limit, clocks, temperature) and which readings each gives. With
// --characterize, measures on the card itself how often each reading changes,
// what each call costs, the counter's resolution, the driver buffer's sample
// interval, and (CUDA builds) whether the energy counter and the integrated
// driver buffer agree on a known load, a bf16 GEMM burst; stores and prints it.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/run_record.h"
#include "cli/option_names.h"
#include "cli/source_option.h"
#include "common/clock.h"
#include "common/error.h"
#include "llamajoule/meter.h"
#include "meter/characterize.h"
#include "store/store.h"
#ifdef LLAMAJOULE_HAVE_CUDA
#include "loadgen/cuda_context.h"
#include "loadgen/gemm_burst.h"
#endif

typedef struct {
  int characterize, json;
  double seconds;
  const char *out_path;
  const char *source;
} devices_options;

// What a device reports now (polled once; 0 = not given).
typedef struct {
  double temperature_c, sm_clock_mhz, mem_clock_mhz, power_w;
} device_now;

// Counter vs integrated driver buffer on one GEMM load.
typedef struct {
  const char *name;        // "gemm" (continuous) or "gemm_bursts" (20 ms every 100 ms)
  double seconds, burst_ms, period_ms;
  int ran;
  lj_window_result window;
  int size;
  double tflops_busy;
} gemm_check;

enum { kGemmChecks = 2 };
static const double kGemmSeconds = 3.0;  // >= 2 s: the counter and the buffer must agree within ~2% there

typedef struct {
  lj_characterization c;
  gemm_check gemm[kGemmChecks];
  char gemm_skipped[256];  // why the GEMM part did not run ("" when it ran)
} device_character;

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule devices [--characterize [--seconds N]] [-o FILE] [--json]\n\n"
          "Lists the GPUs (index, name, UUID, PCI id, driver, power limit, clocks, temperature)\n"
          "and the power readings each supports.\n\n"
          "options:\n"
          "  --characterize   measure each reading's update period and call cost, the energy\n"
          "                   counter's resolution, the driver buffer's sample interval, and the\n"
          "                   counter-vs-buffer agreement on a bf16 GEMM burst (CUDA builds)\n"
          "  --seconds N      characterisation time per GPU (default 10)\n"
          "  -o, --output FILE  store the result in FILE (with --characterize the default is\n"
          "                   $LLAMAJOULE_STORE or ~/.local/share/llamajoule/llamajoule.db)\n"
          "  --json           print JSON on stdout instead of text\n"
          "  --source S       power source: nvml (default), nvidia-smi, or replay:FILE (a\n"
          "                   recorded CSV trace or store, played back)\n"
          "  -h, --help       this help\n"
          "exit codes: 0 ok, 1 failure, 2 bad command line, 4 no NVIDIA driver or GPU\n");
}

// 0 ok, 1 help printed, -1 usage error (printed).
static int parse_args(int argc, char **argv, devices_options *o) {
  memset(o, 0, sizeof *o);
  o->seconds = 10;
  int i = 1;
  while (i < argc) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 1;
    }
    if (!strcmp(a, "--characterize")) {
      o->characterize = 1;
      i++;
      continue;
    }
    if (!strcmp(a, "--json")) {
      o->json = 1;
      i++;
      continue;
    }
    // An unknown option is named as such, even last on the line (not as one missing its value).
    int known = !strcmp(a, "--seconds") || !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--source");
    if (!known || !v) {
      lj_cli_bad_argument("devices", a, known);
      return -1;
    }
    char *end;
    if (!strcmp(a, "--seconds")) {
      o->seconds = strtod(v, &end);
      if (end == v || *end || !(o->seconds >= 1 && o->seconds <= 600)) {
        fprintf(stderr, "llamajoule: error: devices: --seconds needs a number in [1, 600]\n");
        return -1;
      }
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      o->out_path = v;
    } else {
      o->source = v;
      if (lj_cli_check_source("devices", v)) return -1;
    }
    i += 2;  // the option and its value
  }
  return 0;
}

static double read_now(lj_source *src, int dev, lj_reading r) {
  lj_sample s;
  return lj_source_read(src, dev, r, &s) == 0 ? s.value : 0;
}

static void poll_now(lj_source *src, int dev, device_now *n) {
  n->temperature_c = read_now(src, dev, LJ_READING_TEMPERATURE);
  n->sm_clock_mhz = read_now(src, dev, LJ_READING_CLOCK_SM);
  n->mem_clock_mhz = read_now(src, dev, LJ_READING_CLOCK_MEM);
  n->power_w = read_now(src, dev, LJ_READING_POWER_AVG);
}

// ---------------------------------------------------------------- GEMM agreement

#ifdef LLAMAJOULE_HAVE_CUDA
// Runs the GEMM loads on the GPU while the sampler records; each load is one
// window, so its counter and buffer energies come from the same machinery
// `meter` uses.
static int run_gemm_checks(lj_source *src, const lj_device_info *info, gemm_check *checks) {
  lj_info("counter vs driver buffer on a bf16 GEMM load, GPU %d (%.0f s)...", info->index, 2 * kGemmSeconds + 1);
  int cuda_index = -1;
  LJ_TRY(lj_cuda_context_open(info->uuid, info->pci_bus_id, &cuda_index));
  lj_gemm_burst *g = NULL;
  LJ_TRY(lj_gemm_burst_build(cuda_index, 8192, &g));
  lj_sampler_config cfg;
  lj_sampler_config_default(&cfg);
  lj_sampler *s = NULL;
  int rc = lj_sampler_create(&s, src, &cfg);
  if (rc == 0) rc = lj_sampler_start(s);
  int handles[kGemmChecks];
  for (int k = 0; rc == 0 && k < kGemmChecks; k++) {
    lj_sleep_ns(500000000);  // counter readings before the window; the card settles
    lj_gemm_burst_plan plan = {.seconds = checks[k].seconds, .burst_ms = checks[k].burst_ms,
                               .period_ms = checks[k].period_ms};
    lj_gemm_burst_result r;
    handles[k] = lj_meter_begin(s, checks[k].name);
    rc = handles[k] < 0 ? handles[k] : lj_gemm_burst_run(g, &plan, &r);
    if (rc == 0) rc = lj_meter_end(s, checks[k].name) < 0 ? LJ_EINVAL : 0;
    if (rc == 0) {
      checks[k].ran = 1;
      checks[k].size = r.size;
      checks[k].tflops_busy = r.tflops_busy;
    }
  }
  if (rc == 0) {
    lj_window_result ignored;
    lj_meter_result(s, handles[kGemmChecks - 1], info->index, &ignored, 1000000000);
  }
  int stop = s ? lj_sampler_stop(s) : 0;
  for (int k = 0; rc == 0 && k < kGemmChecks; k++)
    rc = lj_windows_result(lj_sampler_windows(s), handles[k], info->index, &checks[k].window);
  if (rc == 0) rc = stop;
  lj_sampler_free(s);
  lj_gemm_burst_free(g);
  return rc;
}
#endif

static int gemm_agreement(lj_source *src, const lj_device_info *info, device_character *dc) {
  dc->gemm[0] = (gemm_check){.name = "gemm", .seconds = kGemmSeconds};
  dc->gemm[1] = (gemm_check){.name = "gemm_bursts", .seconds = kGemmSeconds, .burst_ms = 20, .period_ms = 100};
  if (strcmp(lj_source_kind(src), "nvml") != 0) {
    snprintf(dc->gemm_skipped, sizeof dc->gemm_skipped, "GEMM-burst agreement skipped: needs a live NVML source, not %s",
             lj_source_kind(src));
    return 0;
  }
#ifdef LLAMAJOULE_HAVE_CUDA
  return run_gemm_checks(src, info, dc->gemm);
#else
  snprintf(dc->gemm_skipped, sizeof dc->gemm_skipped,
           "GEMM-burst agreement skipped: this build has no CUDA (rebuild with nvcc to run the GEMM load)");
  return 0;
#endif
}

// ---------------------------------------------------------------- store

static int store_character(lj_store *st, int64_t run, const lj_device_info *info, const device_character *dc) {
  const lj_characterization *c = &dc->c;
  char q[96];
#define ADD(name, value, unit) \
  LJ_TRY(lj_store_add_characterization(st, run, info->index, info->uuid, (name), (value), (unit), NULL))
  for (int r = 0; r < LJ_READING_COUNT; r++) {
    const lj_reading_character *rc = &c->readings[r];
    const char *n = lj_reading_name((lj_reading)r);
    snprintf(q, sizeof q, "%s.supported", n);
    ADD(q, rc->supported, "bool");
    if (!rc->supported) continue;
    snprintf(q, sizeof q, "%s.update_median_ms", n);
    ADD(q, rc->update_median_ms, "ms");
    snprintf(q, sizeof q, "%s.update_min_ms", n);
    ADD(q, rc->update_min_ms, "ms");
    snprintf(q, sizeof q, "%s.update_max_ms", n);
    ADD(q, rc->update_max_ms, "ms");
    snprintf(q, sizeof q, "%s.call_cost_median_us", n);
    ADD(q, rc->call_cost_median_us, "us");
    snprintf(q, sizeof q, "%s.call_cost_max_us", n);
    ADD(q, rc->call_cost_max_us, "us");
    snprintf(q, sizeof q, "%s.resolution", n);
    ADD(q, rc->resolution, lj_reading_unit((lj_reading)r));
    snprintf(q, sizeof q, "%s.reads", n);
    ADD(q, rc->n_reads, "count");
  }
  ADD("characterize.seconds", c->seconds, "s");
  ADD("buffer.samples", c->buffer_samples, "count");
  ADD("buffer.interval_median_ms", c->buffer_interval_median_ms, "ms");
  ADD("buffer.interval_min_ms", c->buffer_interval_min_ms, "ms");
  ADD("buffer.interval_max_ms", c->buffer_interval_max_ms, "ms");
  ADD("buffer.gaps", (double)c->buffer_gaps, "count");
  ADD("counter.resolution_j", c->counter_resolution_j, "J");
  for (int k = 0; k < kGemmChecks; k++) {
    const gemm_check *g = &dc->gemm[k];
    if (!g->ran) continue;
    const lj_window_result *w = &g->window;
    snprintf(q, sizeof q, "%s.counter_j", g->name);
    ADD(q, w->flags & LJ_WINDOW_NO_COUNTER ? NAN : w->counter_energy_j, "J");
    snprintf(q, sizeof q, "%s.buffer_j", g->name);
    ADD(q, w->flags & LJ_WINDOW_NO_SAMPLES ? NAN : w->sample_energy_j, "J");
    snprintf(q, sizeof q, "%s.buffer_vs_counter_percent", g->name);
    ADD(q, w->counter_energy_j != 0 ? (w->sample_energy_j / w->counter_energy_j - 1) * 100 : NAN, "%");
    snprintf(q, sizeof q, "%s.seconds", g->name);
    ADD(q, w->duration_s, "s");
    snprintf(q, sizeof q, "%s.mean_w", g->name);
    ADD(q, w->mean_power_w, "W");
    snprintf(q, sizeof q, "%s.peak_w", g->name);
    ADD(q, w->peak_power_w, "W");
    snprintf(q, sizeof q, "%s.tflops_busy", g->name);
    ADD(q, g->tflops_busy, "TFLOP/s");
  }
#undef ADD
  return 0;
}

// ---------------------------------------------------------------- output

static void supported_names(uint32_t mask, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int r = 0; r < LJ_READING_COUNT && used < cap; r++)
    if (mask & LJ_READING_BIT(r))
      used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? " " : "", lj_reading_name((lj_reading)r));
}

static void print_text(const lj_device_info *info, const device_now *now, const device_character *dc) {
  char names[512];
  printf("GPU %d  %s\n", info->index, info->name);
  printf("  uuid %s  pci %s  driver %s  nvml %s  source %s\n", info->uuid, info->pci_bus_id, info->driver_version,
         info->nvml_version, info->source);
  printf("  power limit %.0f W  power %.1f W  temperature %.0f C  clocks SM %.0f MHz, memory %.0f MHz\n",
         info->power_limit_w, now->power_w, now->temperature_c, now->sm_clock_mhz, now->mem_clock_mhz);
  supported_names(info->supported, names, sizeof names);
  printf("  readings: %s\n", names[0] ? names : "(none)");
  supported_names(info->streamed, names, sizeof names);
  if (names[0]) printf("  streamed: %s\n", names);
  if (!dc) return;
  const lj_characterization *c = &dc->c;
  printf("  characterisation (%.1f s):\n", c->seconds);
  printf("    %-15s %22s %22s %12s %6s\n", "reading", "changes every ms", "call cost us", "resolution", "reads");
  printf("    %-15s %22s %22s %12s %6s\n", "", "(median, min-max)", "(median, max)", "", "");
  for (int r = 0; r < LJ_READING_COUNT; r++) {
    const lj_reading_character *rc = &c->readings[r];
    if (!rc->supported) continue;
    char upd[64], cost[64];
    if (rc->n_changes >= 2)
      snprintf(upd, sizeof upd, "%.1f (%.1f-%.1f)", rc->update_median_ms, rc->update_min_ms, rc->update_max_ms);
    else
      snprintf(upd, sizeof upd, "%s", rc->n_changes ? "changed once" : "never changed");
    snprintf(cost, sizeof cost, "%.1f (%.1f)", rc->call_cost_median_us, rc->call_cost_max_us);
    printf("    %-15s %22s %22s %8.4g %-3s %6d\n", lj_reading_name((lj_reading)r), upd, cost, rc->resolution,
           lj_reading_unit((lj_reading)r), rc->n_reads);
  }
  if (c->buffer_samples > 0)
    printf("    driver buffer: %d samples, one every %.1f ms (median; %.1f-%.1f), %llu gaps\n", c->buffer_samples,
           c->buffer_interval_median_ms, c->buffer_interval_min_ms, c->buffer_interval_max_ms,
           (unsigned long long)c->buffer_gaps);
  printf("    energy counter resolution: %.4g J\n", c->counter_resolution_j);
  if (dc->gemm_skipped[0]) printf("    %s\n", dc->gemm_skipped);
  for (int k = 0; k < kGemmChecks; k++) {
    const gemm_check *g = &dc->gemm[k];
    if (!g->ran) continue;
    const lj_window_result *w = &g->window;
    char shape[64];
    if (g->burst_ms > 0)
      snprintf(shape, sizeof shape, "%.0f ms every %.0f ms", g->burst_ms, g->period_ms);
    else
      snprintf(shape, sizeof shape, "continuous");
    printf("    GEMM %d^3 bf16, %s, %.2f s: counter %.1f J, buffer %.1f J (%+.2f%%), mean %.1f W, peak %.1f W, "
           "%.0f TFLOP/s while busy\n",
           g->size, shape, w->duration_s, w->counter_energy_j, w->sample_energy_j,
           w->counter_energy_j != 0 ? (w->sample_energy_j / w->counter_energy_j - 1) * 100 : 0.0, w->mean_power_w,
           w->peak_power_w, g->tflops_busy);
  }
}

static json_t *names_json(uint32_t mask) {
  json_t *a = json_array();
  for (int r = 0; r < LJ_READING_COUNT; r++)
    if (mask & LJ_READING_BIT(r)) json_array_append_new(a, json_string(lj_reading_name((lj_reading)r)));
  return a;
}

static json_t *character_json(const device_character *dc) {
  const lj_characterization *c = &dc->c;
  json_t *o = json_object(), *readings = json_object();
  json_object_set_new(o, "seconds", json_real(c->seconds));
  for (int r = 0; r < LJ_READING_COUNT; r++) {
    const lj_reading_character *rc = &c->readings[r];
    if (!rc->supported) continue;
    json_object_set_new(readings, lj_reading_name((lj_reading)r),
                        json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "reads", rc->n_reads, "changes",
                                  rc->n_changes, "update_median_ms", rc->update_median_ms, "update_min_ms",
                                  rc->update_min_ms, "update_max_ms", rc->update_max_ms, "call_cost_median_us",
                                  rc->call_cost_median_us, "call_cost_max_us", rc->call_cost_max_us, "resolution",
                                  rc->resolution));
  }
  json_object_set_new(o, "readings", readings);
  json_object_set_new(o, "buffer",
                      json_pack("{s:i, s:f, s:f, s:f, s:I}", "samples", c->buffer_samples, "interval_median_ms",
                                c->buffer_interval_median_ms, "interval_min_ms", c->buffer_interval_min_ms,
                                "interval_max_ms", c->buffer_interval_max_ms, "gaps", (json_int_t)c->buffer_gaps));
  json_object_set_new(o, "counter_resolution_j", json_real(c->counter_resolution_j));
  if (dc->gemm_skipped[0]) json_object_set_new(o, "gemm_skipped", json_string(dc->gemm_skipped));
  for (int k = 0; k < kGemmChecks; k++) {
    const gemm_check *g = &dc->gemm[k];
    if (!g->ran) continue;
    const lj_window_result *w = &g->window;
    json_object_set_new(o, g->name,
                        json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "size", g->size, "burst_ms",
                                  g->burst_ms, "period_ms", g->period_ms, "seconds", w->duration_s, "counter_j",
                                  w->counter_energy_j, "buffer_j", w->sample_energy_j, "mean_w", w->mean_power_w,
                                  "peak_w", w->peak_power_w, "tflops_busy", g->tflops_busy));
  }
  return o;
}

static json_t *device_json(const lj_device_info *info, const device_now *now, const device_character *dc) {
  json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f}", "index", info->index, "name",
                        info->name, "uuid", info->uuid, "pci_bus_id", info->pci_bus_id, "driver_version",
                        info->driver_version, "nvml_version", info->nvml_version, "source", info->source,
                        "power_limit_w", info->power_limit_w, "power_w", now->power_w, "temperature_c",
                        now->temperature_c, "sm_clock_mhz", now->sm_clock_mhz, "mem_clock_mhz", now->mem_clock_mhz);
  json_object_set_new(o, "supported", names_json(info->supported));
  json_object_set_new(o, "streamed", names_json(info->streamed));
  if (dc) json_object_set_new(o, "characterization", character_json(dc));
  return o;
}

// ---------------------------------------------------------------- the command

static int run_devices(const devices_options *o, int argc, char **argv) {
  lj_source *src = NULL;
  lj_store *st = NULL;
  json_t *doc = o->json ? json_object() : NULL, *list = o->json ? json_array() : NULL;
  device_character *dc = NULL;
  int64_t run = 0;
  char path[1024] = "";
  int rc = lj_cli_open_source(o->source, &src);
  int n_dev = rc == 0 ? lj_source_device_count(src) : 0;
  if (rc == 0 && n_dev <= 0) rc = LJ_FAIL(LJ_ENODEV, "devices: no GPU visible to the %s source", lj_source_kind(src));
  // The store opens first, so an unwritable path fails before minutes of measuring.
  if (rc == 0 && (o->out_path || o->characterize))
    rc = lj_cli_begin_run(o->out_path, o->characterize ? "characterize" : "devices", o->source, argc, argv, &st, &run,
                          path, sizeof path);
  if (rc == 0 && o->characterize && !(dc = calloc(1, sizeof *dc))) rc = LJ_FAIL(LJ_ENOMEM, "devices: out of memory");
  for (int d = 0; rc == 0 && d < n_dev; d++) {
    lj_device_info info;
    device_now now;
    if ((rc = lj_source_device_info(src, d, &info)) < 0) break;
    poll_now(src, d, &now);
    if (st && (rc = lj_store_add_device(st, run, &info)) < 0) break;
    if (dc) {
      memset(dc, 0, sizeof *dc);
      lj_info("characterising GPU %d for %.0f s...", d, o->seconds);
      if ((rc = lj_characterize(src, d, o->seconds, &dc->c)) < 0) break;
      if ((rc = gemm_agreement(src, &info, dc)) < 0) break;
      if ((rc = store_character(st, run, &info, dc)) < 0) break;
    }
    if (o->json)
      json_array_append_new(list, device_json(&info, &now, dc));
    else
      print_text(&info, &now, dc);
  }
  if (doc && rc == 0) {
    json_object_set_new(doc, "devices", list);
    list = NULL;
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    printf("\n");
  }
  if (st) {
    int end = lj_store_end_run(st, run, rc == 0 ? LJ_RUN_COMPLETE : LJ_RUN_FAILED, lj_exit_code(rc));
    if (rc == 0) rc = end;
    fflush(stdout);  // the listing first, then where it went
    if (rc == 0) fprintf(stderr, "stored: %s, run %lld\n", path, (long long)run);
  }
  json_decref(list);
  json_decref(doc);
  free(dc);
  lj_store_close(st);
  lj_source_close(src);
  return rc;
}

int lj_cmd_devices(int argc, char **argv) {
  devices_options o;
  int parsed = parse_args(argc, argv, &o);
  if (parsed != 0) return parsed > 0 ? LJ_EXIT_OK : LJ_EXIT_USAGE;
  int rc = run_devices(&o, argc, argv);
  return rc < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
}
