// A known GPU load: bf16 GEMMs (cuBLASLt) run back to back or in bursts.
//
// Used to calibrate the power meter (counter vs driver-buffer agreement in
// `llamajoule devices --characterize`) and by bench/gemm_burst, which meters
// it from outside. Inputs are random (never zeros: input values change power).
// Only built with CUDA (LLAMAJOULE_HAVE_CUDA); callers guard with #ifdef.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lj_gemm_burst lj_gemm_burst;

typedef struct {
  double seconds;    // total run time
  double burst_ms;   // 0: one continuous burst for `seconds`
  double period_ms;  // one burst starts every period_ms (>= burst_ms)
  volatile int *stop; // optional: set non-zero (e.g. by a signal handler) to stop early
} lj_gemm_burst_plan;

typedef struct {
  int size;             // N of the (N,N) x (N,N) GEMM
  int64_t gemms;        // GEMMs run
  int64_t bursts;       // bursts run
  double flops;         // 2 N^3 per GEMM
  double wall_s;        // host time from first launch to the last completion
  double busy_s;        // GPU time inside bursts (CUDA events)
  double ms_per_gemm;   // measured in the warm-up
  double tflops_busy;   // flops / busy_s / 1e12
} lj_gemm_burst_result;

// Allocates A, B (random bf16 in [-1, 1)) and D on `device`, picks a cuBLASLt
// algorithm, warms up and times one GEMM. Opens the CUDA context.
int lj_gemm_burst_build(int device, int size, lj_gemm_burst **out);
int lj_gemm_burst_run(lj_gemm_burst *g, const lj_gemm_burst_plan *plan, lj_gemm_burst_result *out);
void lj_gemm_burst_free(lj_gemm_burst *g);

#ifdef __cplusplus
}
#endif
