// llamajoule idle [--seconds N] [--device N] [-o file.db]
//
// Measures each GPU's idle power with a CUDA context open (the state a
// workload leaves the card in between kernels), stores it as a reusable
// baseline keyed by the GPU's UUID (meter and profile take the newest), and
// prints mean, standard deviation, temperature and clocks.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/run_record.h"
#include "cli/option_names.h"
#include "cli/source_option.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"
#include "llamajoule/meter.h"
#include "store/store.h"
#ifdef LLAMAJOULE_HAVE_CUDA
#include "loadgen/cuda_context.h"
#endif

typedef struct {
  double seconds;
  int device;  // -1 = every visible GPU
  const char *out_path;
  const char *source;
} idle_options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule idle [--seconds N] [--device N] [-o FILE]\n\n"
          "Measures idle power with a CUDA context open and stores it as the baseline that\n"
          "meter and profile subtract ('energy above idle'); the newest baseline per GPU UUID wins.\n\n"
          "options:\n"
          "  --seconds N          how long to measure each GPU (default 10, at least 1)\n"
          "  --device N           only this GPU (index as listed by llamajoule devices)\n"
          "  -o, --output FILE    store to FILE (default: $LLAMAJOULE_STORE or\n"
          "                       ~/.local/share/llamajoule/llamajoule.db)\n"
          "  --source S           power source: nvml (default), nvidia-smi, or replay:FILE\n"
          "                       (a recorded CSV trace or store, played back)\n"
          "  -h, --help           this help\n"
          "exit codes: 0 ok, 1 failure, 2 bad command line, 4 no NVIDIA driver or GPU\n");
}

// 0 ok, 1 help printed, -1 usage error (printed).
static int parse_args(int argc, char **argv, idle_options *o) {
  memset(o, 0, sizeof *o);
  o->seconds = 10;
  o->device = -1;
  for (int i = 1; i < argc; i += 2) {  // every option takes a value
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 1;
    }
    char *end = NULL;
    // An unknown option is named as such, even last on the line (not as one missing its value).
    int known = !strcmp(a, "--seconds") || !strcmp(a, "--device") || !strcmp(a, "-o") || !strcmp(a, "--output") ||
                !strcmp(a, "--source");
    if (!known || !v) {
      lj_cli_bad_argument("idle", a, known);
      return -1;
    }
    if (!strcmp(a, "--seconds")) {
      o->seconds = strtod(v, &end);
      if (end == v || *end || !(o->seconds >= 1 && o->seconds <= 3600)) {
        fprintf(stderr, "llamajoule: error: idle: --seconds needs a number in [1, 3600]\n");
        return -1;
      }
    } else if (!strcmp(a, "--device")) {
      long d = strtol(v, &end, 10);
      if (end == v || *end || d < 0 || d > 1023) {
        fprintf(stderr, "llamajoule: error: idle: --device needs a GPU index (0, 1, ...)\n");
        return -1;
      }
      o->device = (int)d;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      o->out_path = v;
    } else {
      o->source = v;
      if (lj_cli_check_source("idle", v)) return -1;
    }
  }
  return 0;
}

// Progress while the measurement blocks: a thread redraws once per 100 ms.
typedef struct {
  lj_progress bar;
  int64_t start_ns, total_ns;
  volatile int done;
} idle_progress;

static void *draw_progress(void *arg) {
  idle_progress *p = arg;
  while (!p->done) {
    lj_progress_update(&p->bar, (lj_mono_ns() - p->start_ns) * 100 / p->total_ns);
    lj_sleep_ns(100000000);
  }
  return NULL;
}

// Mean of the reads that worked (clocks before and after the measurement).
static double read_mean(lj_source *src, int dev, lj_reading r, double *acc, int *n) {
  lj_sample s;
  if (lj_source_read(src, dev, r, &s) == 0) {
    *acc += s.value;
    (*n)++;
  }
  return *n ? *acc / *n : 0;
}

// Measures every GPU of devs[] at once, each on its own sampler threads, and fills a baseline each.
static int measure_all(lj_source *src, const lj_device_info *devs, int n, const idle_options *o,
                       const char *const *context, lj_idle_baseline *b) {
  double *sm_acc = calloc((size_t)n, sizeof *sm_acc), *mem_acc = calloc((size_t)n, sizeof *mem_acc);
  int *sm_n = calloc((size_t)n, sizeof *sm_n), *mem_n = calloc((size_t)n, sizeof *mem_n), *idx = calloc((size_t)n, sizeof *idx);
  lj_idle_result *r = calloc((size_t)n, sizeof *r);
  int rc = sm_acc && mem_acc && sm_n && mem_n && idx && r ? 0 : LJ_FAIL(LJ_ENOMEM, "idle: out of memory");
  for (int i = 0; rc == 0 && i < n; i++) {
    idx[i] = devs[i].index;
    read_mean(src, idx[i], LJ_READING_CLOCK_SM, &sm_acc[i], &sm_n[i]);
    read_mean(src, idx[i], LJ_READING_CLOCK_MEM, &mem_acc[i], &mem_n[i]);
  }
  if (rc == 0) {
    char label[160];
    if (n == 1) snprintf(label, sizeof label, "idle GPU %d, %.0f s (%%)", idx[0], o->seconds);
    else snprintf(label, sizeof label, "idle %d GPUs at once, %.0f s (%%)", n, o->seconds);
    idle_progress p = {.start_ns = lj_mono_ns(), .total_ns = (int64_t)(o->seconds * 1e9)};
    lj_progress_begin(&p.bar, label, 100);
    pthread_t thread;
    int drawing = p.bar.enabled && pthread_create(&thread, NULL, draw_progress, &p) == 0;
    rc = lj_measure_idle_devices(src, idx, n, o->seconds, NULL, r);
    p.done = 1;
    if (drawing) pthread_join(thread, NULL);
    lj_progress_end(&p.bar);
    if (rc < 0) rc = lj_fail_context(rc, "measuring idle power of GPU%s %d%s", n == 1 ? "" : "s", idx[0],
                                     n == 1 ? "" : "...");
  }
  for (int i = 0; rc == 0 && i < n; i++) {
    lj_idle_baseline *bi = &b[i];
    memset(bi, 0, sizeof *bi);
    snprintf(bi->device_uuid, sizeof bi->device_uuid, "%s", devs[i].uuid);
    snprintf(bi->device_name, sizeof bi->device_name, "%s", devs[i].name);
    bi->measured_wall_ns = lj_wall_ns();
    bi->seconds = r[i].seconds;
    bi->mean_w = r[i].mean_w;
    int by_counter = r[i].n_counter_updates > 0 && r[i].mean_w == r[i].counter_mean_w;
    bi->stddev_w = by_counter ? r[i].counter_stddev_w : r[i].sample_stddev_w;
    bi->counter_mean_w = r[i].counter_mean_w;
    bi->counter_stddev_w = r[i].counter_stddev_w;
    bi->sample_mean_w = r[i].sample_mean_w;
    bi->sample_stddev_w = r[i].sample_stddev_w;
    bi->n_counter_updates = r[i].n_counter_updates;
    bi->n_samples = r[i].n_samples;
    bi->temperature_c = r[i].temperature_c;
    bi->sm_clock_mhz = read_mean(src, idx[i], LJ_READING_CLOCK_SM, &sm_acc[i], &sm_n[i]);
    bi->mem_clock_mhz = read_mean(src, idx[i], LJ_READING_CLOCK_MEM, &mem_acc[i], &mem_n[i]);
    snprintf(bi->method, sizeof bi->method, "%s", by_counter ? "counter" : "samples");
    snprintf(bi->context, sizeof bi->context, "%s", context[i]);
  }
  free(sm_acc);
  free(mem_acc);
  free(sm_n);
  free(mem_n);
  free(idx);
  free(r);
  return rc;
}

static void print_baseline(const lj_device_info *info, const lj_idle_baseline *b) {
  printf("GPU %d  %s  %s\n", info->index, info->name, info->uuid);
  printf("  idle power     %.2f W  (stddev %.2f W, by %s, %.1f s, %s)\n", b->mean_w, b->stddev_w, b->method,
         b->seconds, b->context);
  if (b->n_counter_updates > 0)
    printf("  energy counter %.2f W  (stddev %.2f W over %d updates)\n", b->counter_mean_w, b->counter_stddev_w,
           b->n_counter_updates);
  if (b->n_samples > 0)
    printf("  power samples  %.2f W  (stddev %.2f W over %d samples)\n", b->sample_mean_w, b->sample_stddev_w,
           b->n_samples);
  printf("  temperature    %.1f C\n", b->temperature_c);
  if (b->sm_clock_mhz > 0 || b->mem_clock_mhz > 0)
    printf("  clocks         SM %.0f MHz, memory %.0f MHz\n", b->sm_clock_mhz, b->mem_clock_mhz);
}

// Opens a CUDA context on the GPU (CUDA builds, real GPUs): returns the
// context label stored with the baseline.
static int open_context(const lj_source *src, const lj_device_info *info, const char **context) {
  *context = "no-context";
  if (!strcmp(lj_source_kind(src), "replay")) return 0;  // a recording: no GPU to open
#ifdef LLAMAJOULE_HAVE_CUDA
  int cuda_index = -1;
  LJ_TRY(lj_cuda_context_open(info->uuid, info->pci_bus_id, &cuda_index));
  *context = "cuda-context";
#else
  lj_warn("this build has no CUDA: GPU %d's idle power is measured without a CUDA context (often lower)",
          info->index);
#endif
  return 0;
}

static int run_idle(const idle_options *o, int argc, char **argv) {
  lj_source *src = NULL;
  lj_store *st = NULL;
  int rc = lj_cli_open_source(o->source, &src);
  int n_dev = rc == 0 ? lj_source_device_count(src) : 0;
  if (rc == 0 && n_dev <= 0) rc = LJ_FAIL(LJ_ENODEV, "idle: no GPU visible");
  if (rc == 0 && o->device >= n_dev)
    rc = LJ_FAIL(LJ_EINVAL, "idle: --device %d: only %d GPU(s) visible (0..%d)", o->device, n_dev, n_dev - 1);
  // Open the store before measuring: an unwritable path fails in a second, not after N.
  char path[1024];
  int64_t run = 0;
  if (rc == 0) rc = lj_cli_begin_run(o->out_path, "idle", o->source, argc, argv, &st, &run, path, sizeof path);
  // Every GPU asked for, each with its context open, measured together over the same seconds.
  lj_device_info *devs = rc == 0 ? calloc((size_t)n_dev, sizeof *devs) : NULL;
  const char **context = rc == 0 ? calloc((size_t)n_dev, sizeof *context) : NULL;
  lj_idle_baseline *b = rc == 0 ? calloc((size_t)n_dev, sizeof *b) : NULL;
  if (rc == 0 && (!devs || !context || !b)) rc = LJ_FAIL(LJ_ENOMEM, "idle: out of memory");
  int n = 0;
  for (int d = 0; rc == 0 && d < n_dev; d++) {
    lj_device_info info;
    if ((rc = lj_source_device_info(src, d, &info)) < 0) break;
    if ((rc = lj_store_add_device(st, run, &info)) < 0) break;
    if (o->device >= 0 && d != o->device) continue;
    if ((rc = open_context(src, &info, &context[n])) < 0) break;
    devs[n++] = info;
  }
  if (rc == 0) rc = measure_all(src, devs, n, o, context, b);
  for (int i = 0; rc == 0 && i < n; i++) {
    b[i].run_id = run;
    if ((rc = lj_store_add_idle_baseline(st, &b[i])) < 0) break;
    print_baseline(&devs[i], &b[i]);
  }
  free(devs);
  free(context);
  free(b);
  if (st) {
    int end = lj_store_end_run(st, run, rc == 0 ? LJ_RUN_COMPLETE : LJ_RUN_FAILED, lj_exit_code(rc));
    if (rc == 0) rc = end;
    if (rc == 0) printf("stored: %s, run %lld\n", path, (long long)run);
  }
  lj_store_close(st);
  lj_source_close(src);
  return rc;
}

int lj_cmd_idle(int argc, char **argv) {
  idle_options o;
  int parsed = parse_args(argc, argv, &o);
  if (parsed != 0) return parsed > 0 ? LJ_EXIT_OK : LJ_EXIT_USAGE;
  int rc = run_idle(&o, argc, argv);
  return rc < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
}
