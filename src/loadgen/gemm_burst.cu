// bf16 GEMM load for the power meter: D = A B with (N,N) bf16 operands,
// fp32 accumulation, through cuBLASLt; bursts timed with CUDA events.
#include "loadgen/gemm_burst.h"

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stdlib.h>

extern "C" {  // C headers without their own guards
#include "common/clock.h"
#include "common/error.h"
}
#include "model/random_init.h"

#define GEMM_CUDA_TRY(expr)                                                                       \
  do {                                                                                            \
    cudaError_t e_ = (expr);                                                                      \
    if (e_ != cudaSuccess)                                                                        \
      return LJ_FAIL(e_ == cudaErrorNoDevice || e_ == cudaErrorInsufficientDriver ? LJ_ENODEV     \
                                                                                 : LJ_ECUDA,      \
                     "CUDA: %s failed at %s:%d: %s", #expr, __FILE__, __LINE__,                   \
                     cudaGetErrorString(e_));                                                     \
  } while (0)

#define GEMM_CUBLAS_TRY(expr)                                                                     \
  do {                                                                                            \
    cublasStatus_t s_ = (expr);                                                                   \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                              \
      return LJ_FAIL(LJ_ECUDA, "cuBLASLt: %s failed at %s:%d: %s", #expr, __FILE__, __LINE__,    \
                     cublasLtGetStatusString(s_));                                                \
  } while (0)

static const size_t kWorkspaceBytes = 32u << 20;

struct lj_gemm_burst {
  int size;
  __nv_bfloat16 *a, *b, *d;  // (N, N) each, column-major
  void *workspace;
  cublasLtHandle_t lt;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t layout;  // the same (N, N) layout for A, B and D
  cublasLtMatmulAlgo_t algo;
  cudaStream_t stream;
  cudaEvent_t start, stop;
  double ms_per_gemm;
};

// Uniform in [-1, 1): random, reproducible, never zeros.
__global__ void fill_random_bf16(__nv_bfloat16 *x, size_t n, uint32_t tensor_id) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    x[i] = __float2bfloat16(lj_random_unit(0x6a6f756c65ull, tensor_id, i));
}

static int launch_gemms(lj_gemm_burst *g, int64_t count) {
  const float alpha = 1.0f, beta = 0.0f;
  for (int64_t i = 0; i < count; i++)
    GEMM_CUBLAS_TRY(cublasLtMatmul(g->lt, g->op, &alpha, g->a, g->layout, g->b, g->layout, &beta, g->d,
                                   g->layout, g->d, g->layout, &g->algo, g->workspace, kWorkspaceBytes,
                                   g->stream));
  return 0;
}

// Runs `count` GEMMs between two events; returns their GPU time in ms.
static int timed_gemms(lj_gemm_burst *g, int64_t count, double *ms) {
  GEMM_CUDA_TRY(cudaEventRecord(g->start, g->stream));
  LJ_TRY(launch_gemms(g, count));
  GEMM_CUDA_TRY(cudaEventRecord(g->stop, g->stream));
  GEMM_CUDA_TRY(cudaEventSynchronize(g->stop));
  float elapsed = 0;
  GEMM_CUDA_TRY(cudaEventElapsedTime(&elapsed, g->start, g->stop));
  *ms = elapsed;
  return 0;
}

static int build(lj_gemm_burst *g, int device, int n) {
  GEMM_CUDA_TRY(cudaSetDevice(device));
  size_t elems = (size_t)n * n;
  GEMM_CUDA_TRY(cudaMalloc(&g->a, elems * sizeof(__nv_bfloat16)));
  GEMM_CUDA_TRY(cudaMalloc(&g->b, elems * sizeof(__nv_bfloat16)));
  GEMM_CUDA_TRY(cudaMalloc(&g->d, elems * sizeof(__nv_bfloat16)));
  GEMM_CUDA_TRY(cudaMalloc(&g->workspace, kWorkspaceBytes));
  GEMM_CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
  GEMM_CUDA_TRY(cudaEventCreate(&g->start));
  GEMM_CUDA_TRY(cudaEventCreate(&g->stop));
  fill_random_bf16<<<1024, 256, 0, g->stream>>>(g->a, elems, 1);
  fill_random_bf16<<<1024, 256, 0, g->stream>>>(g->b, elems, 2);
  GEMM_CUDA_TRY(cudaGetLastError());

  GEMM_CUBLAS_TRY(cublasLtCreate(&g->lt));
  GEMM_CUBLAS_TRY(cublasLtMatmulDescCreate(&g->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  GEMM_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&g->layout, CUDA_R_16BF, n, n, n));
  cublasLtMatmulPreference_t pref;
  GEMM_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
  cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                          &kWorkspaceBytes, sizeof kWorkspaceBytes);
  cublasLtMatmulHeuristicResult_t heuristic;
  int found = 0;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulAlgoGetHeuristic(g->lt, g->op, g->layout, g->layout, g->layout, g->layout, pref, 1,
                                       &heuristic, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  GEMM_CUBLAS_TRY(s);
  if (found < 1) return LJ_FAIL(LJ_ECUDA, "cuBLASLt: no bf16 GEMM algorithm for N=%d", n);
  g->algo = heuristic.algo;

  // Warm up (clocks, module load), then time one GEMM.
  double ms = 0;
  LJ_TRY(timed_gemms(g, 3, &ms));
  LJ_TRY(timed_gemms(g, 5, &ms));
  g->ms_per_gemm = ms / 5;
  return 0;
}

extern "C" int lj_gemm_burst_build(int device, int size, lj_gemm_burst **out) {
  *out = NULL;
  if (size < 256 || size > 32768 || size % 64)
    return LJ_FAIL(LJ_EINVAL, "GEMM size %d: expected a multiple of 64 in [256, 32768]", size);
  lj_gemm_burst *g = (lj_gemm_burst *)calloc(1, sizeof *g);
  if (!g) return LJ_FAIL(LJ_ENOMEM, "GEMM burst: out of host memory");
  g->size = size;
  int rc = build(g, device, size);
  if (rc < 0) {
    lj_gemm_burst_free(g);
    return rc;
  }
  *out = g;
  return 0;
}

static int stopped(const lj_gemm_burst_plan *plan) { return plan->stop && *plan->stop; }

extern "C" int lj_gemm_burst_run(lj_gemm_burst *g, const lj_gemm_burst_plan *plan, lj_gemm_burst_result *out) {
  if (!(plan->seconds > 0)) return LJ_FAIL(LJ_EINVAL, "GEMM burst: --seconds must be > 0");
  int bursty = plan->burst_ms > 0;
  if (bursty && plan->period_ms < plan->burst_ms)
    return LJ_FAIL(LJ_EINVAL, "GEMM burst: period %.1f ms is shorter than the burst %.1f ms", plan->period_ms,
                   plan->burst_ms);
  // Continuous runs go in ~50 ms chunks so the clock and the stop flag are checked often.
  double chunk_ms = bursty ? plan->burst_ms : 50.0;
  int64_t per_chunk = (int64_t)(chunk_ms / g->ms_per_gemm + 0.5);
  if (per_chunk < 1) per_chunk = 1;

  *out = (lj_gemm_burst_result){0};
  out->size = g->size;
  out->ms_per_gemm = g->ms_per_gemm;
  const int64_t t0 = lj_mono_ns(), t_end = t0 + (int64_t)(plan->seconds * 1e9);
  const int64_t period_ns = (int64_t)(plan->period_ms * 1e6);
  double busy_ms = 0;
  for (int64_t k = 0; !stopped(plan); k++) {
    if (bursty) {
      int64_t start = t0 + k * period_ns;
      if (start >= t_end) break;
      lj_sleep_ns(start - lj_mono_ns());
    } else if (lj_mono_ns() >= t_end) {
      break;
    }
    double ms = 0;
    LJ_TRY(timed_gemms(g, per_chunk, &ms));
    busy_ms += ms;
    out->gemms += per_chunk;
    out->bursts++;
  }
  out->wall_s = (double)(lj_mono_ns() - t0) / 1e9;
  if (!bursty) out->bursts = out->gemms > 0;
  out->busy_s = busy_ms / 1e3;
  out->flops = 2.0 * (double)g->size * g->size * g->size * (double)out->gemms;
  out->tflops_busy = out->busy_s > 0 ? out->flops / out->busy_s / 1e12 : 0;
  return 0;
}

extern "C" void lj_gemm_burst_free(lj_gemm_burst *g) {
  if (!g) return;
  if (g->stream) cudaStreamSynchronize(g->stream);
  cudaFree(g->a);
  cudaFree(g->b);
  cudaFree(g->d);
  cudaFree(g->workspace);
  if (g->layout) cublasLtMatrixLayoutDestroy(g->layout);
  if (g->op) cublasLtMatmulDescDestroy(g->op);
  if (g->lt) cublasLtDestroy(g->lt);
  if (g->start) cudaEventDestroy(g->start);
  if (g->stop) cudaEventDestroy(g->stop);
  if (g->stream) cudaStreamDestroy(g->stream);
  free(g);
}
