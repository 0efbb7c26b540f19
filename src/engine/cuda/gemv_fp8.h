// FP8-weight GEMV for small batches (decode):
//   y(n, out) = x(n, in) @ W^T,  W[o, i] = e4m3(q[o, i]) * scale[o]
// x bf16, q E4M3 codes (out, in) row-major, one fp32 scale per output row, fp32
// accumulation, y bf16 or fp32. n <= LJ_GEMV_FP8_MAX_N, in % 16 == 0 (16-byte loads).
// Several kernels compute it (lj_fp8_gemv_variant); every one applies the row's scale once,
// after the dot product.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "engine/cuda/fp8_gemv_variant.h"
#include "engine/cuda/gemv_config.h"
#include "model/fp8_quant.h"

#define LJ_GEMV_FP8_MAX_N LJ_FP8_W8A16_MAX_TOKENS  // beyond: the FP8 GEMM on quantised activations

int lj_cuda_gemv_fp8_supported(int n, int in);
// variant: lj_fp8_gemv_variant (LJ_EINVAL for an unknown one).
int lj_cuda_gemv_fp8(void *y, int y_fp32, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n,
                     int in, int out, int variant, cudaStream_t stream);
// The same with the pipe variant's configuration (gemv_config.h, LJ_FP8_PIPE_CONFIG_*; read by
// pipe only; every configuration gives pipe's bits). LJ_EINVAL for an unknown one.
int lj_cuda_gemv_fp8_cfg(void *y, int y_fp32, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n,
                         int in, int out, int variant, int pipe_cfg, cudaStream_t stream);
