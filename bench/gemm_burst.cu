// gemm_burst: a known GPU load for checking the power meter from outside.
//
//   gemm_burst --seconds S [--burst-ms B --period-ms P] [--size N] [--device D]
//
// Runs random bf16 (N,N) x (N,N) GEMMs (cuBLASLt, fp32 accumulation) back to
// back for S seconds, or in bursts of B ms starting every P ms, and prints
// what it did: GEMMs, bursts, GPU-busy time and TFLOP/s while busy.
//   llamajoule meter -- gemm_burst --seconds 5
//   llamajoule meter -- gemm_burst --seconds 5 --burst-ms 20 --period-ms 100
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {  // a C header without its own guard
#include "common/error.h"
}
#include "loadgen/gemm_burst.h"

static volatile int g_stop;
static void on_signal(int sig) { g_stop = sig; }

static int usage(FILE *f, int code) {
  fprintf(f,
          "usage: gemm_burst --seconds S [--burst-ms B --period-ms P] [--size N] [--device D]\n"
          "  --seconds S     run time (required)\n"
          "  --burst-ms B    GEMMs for B ms, starting every P ms (default: continuous)\n"
          "  --period-ms P   burst period (default 100 when --burst-ms is given)\n"
          "  --size N        GEMM size, multiple of 64 (default 8192)\n"
          "  --device D      CUDA device (default 0)\n");
  return code;
}

static int parse_double(const char *s, double *out) {
  char *end;
  *out = strtod(s, &end);
  return end != s && *end == '\0';
}

int main(int argc, char **argv) {
  lj_gemm_burst_plan plan = {0};
  double size = 8192, device = 0;
  plan.stop = &g_stop;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout, 0);
    double *target = !strcmp(a, "--seconds")     ? &plan.seconds
                     : !strcmp(a, "--burst-ms")  ? &plan.burst_ms
                     : !strcmp(a, "--period-ms") ? &plan.period_ms
                     : !strcmp(a, "--size")      ? &size
                     : !strcmp(a, "--device")    ? &device
                                                 : NULL;
    if (!target) {
      fprintf(stderr, "gemm_burst: unknown option '%s'\n", a);
      return usage(stderr, 2);
    }
    if (i + 1 >= argc || !parse_double(argv[i + 1], target)) {
      fprintf(stderr, "gemm_burst: %s needs a number\n", a);
      return 2;
    }
    i++;
  }
  if (!(plan.seconds > 0)) return usage(stderr, 2);
  if (plan.burst_ms > 0 && plan.period_ms == 0) plan.period_ms = 100;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  lj_gemm_burst *g = NULL;
  lj_gemm_burst_result r;
  int rc = lj_gemm_burst_build((int)device, (int)size, &g);
  if (rc == 0) rc = lj_gemm_burst_run(g, &plan, &r);
  lj_gemm_burst_free(g);
  if (rc < 0) return lj_report_error(rc);
  printf("gemm_burst: N=%d bf16, %.3f ms per GEMM, %lld GEMMs in %lld burst(s), wall %.3f s, GPU busy %.3f s, "
         "%.1f TFLOP/s while busy%s\n",
         r.size, r.ms_per_gemm, (long long)r.gemms, (long long)r.bursts, r.wall_s, r.busy_s, r.tflops_busy,
         g_stop ? " (stopped by a signal)" : "");
  return g_stop ? 128 + g_stop : 0;
}
