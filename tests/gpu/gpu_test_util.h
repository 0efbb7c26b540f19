// Shared helpers of the GPU tests (included by .cu test files): skip when there
// is no GPU, host bf16 rounding, random inputs, poisoned device buffers and
// the normalised error ||out - ref|| / ||ref||.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/no_device_reason.h"
#include "model/random_init.h"

#define GPU_OK(call)                                                                      \
  do {                                                                                    \
    cudaError_t rc_ = (call);                                                             \
    if (rc_ != cudaSuccess) {                                                             \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(rc_)); \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

// Exit 77 (CTest skip) with the reason when no CUDA device can be used.
static inline void gpu_test_require_device(void) {
  int n = 0;
  cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess || n == 0) {
    printf("no CUDA device: %s\n", lj_cuda_no_device_reason(rc, rc != cudaSuccess ? cudaGetErrorString(rc) : NULL));
    exit(77);
  }
}

static inline float bf16_round(float x) { return __bfloat162float(__float2bfloat16(x)); }

// Deterministic but fresh per call site: uniform in [-scale, scale), rounded to bf16.
static inline void random_bf16(__nv_bfloat16 *h, size_t n, uint64_t seed, float scale) {
  for (size_t i = 0; i < n; i++) h[i] = __float2bfloat16(scale * lj_random_unit(seed, 7, i));
}

static inline float *to_float(const __nv_bfloat16 *h, size_t n) {
  float *f = (float *)malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) f[i] = __bfloat162float(h[i]);
  return f;
}

// Device copy of a host array.
static inline void *dev_copy(const void *h, size_t bytes) {
  void *d = NULL;
  GPU_OK(cudaMalloc(&d, bytes));
  GPU_OK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
  return d;
}

// Device buffer filled with 0xFF bytes: NaN in bf16 and fp32, -1 in int. An element
// the kernel does not write stays NaN and fails the comparison.
static inline void *dev_poisoned(size_t bytes) {
  void *d = NULL;
  GPU_OK(cudaMalloc(&d, bytes));
  GPU_OK(cudaMemset(d, 0xFF, bytes));
  return d;
}

static inline float *dev_to_float_bf16(const void *d, size_t n) {
  __nv_bfloat16 *h = (__nv_bfloat16 *)malloc(n * sizeof(__nv_bfloat16));
  GPU_OK(cudaDeviceSynchronize());
  GPU_OK(cudaMemcpy(h, d, n * sizeof(__nv_bfloat16), cudaMemcpyDeviceToHost));
  float *f = to_float(h, n);
  free(h);
  return f;
}

// ||out - ref|| / ||ref||; any NaN/Inf in out gives +inf.
static inline double rel_err(const float *out, const double *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(out[i])) return INFINITY;
    double d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

// rel_err at a tolerance of 1e-2 where an output may be a cancellation (|ref| far below its terms):
// cond[i] is the root-sum-square of output i's terms. Rounding the inputs to bf16 (2^-9 relative,
// uniform) gives output i an error of standard deviation 2^-9 / sqrt(3) x cond[i], which no relative
// error of a near-zero output bounds; so each output's scale adds, in quadrature, the 1e-2-th part
// of five of those deviations (0.56 cond[i]; about |ref| for random terms, so a typical output is
// held 1.2x looser than by rel_err).
static inline double rel_err_cond(const float *out, const double *ref, const double *cond, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(out[i])) return INFINITY;
    double d = out[i] - ref[i], c = cond[i] * 5 * ldexp(1.0, -9) / sqrt(3.0) / 1e-2;
    num += d * d;
    den += ref[i] * ref[i] + c * c;
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}
