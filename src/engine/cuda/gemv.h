// Own bf16 GEMV for small batches (decode): the same product as gemm_lt,
//   y(n, out) = x(n, in) @ W(out, in)^T,  n <= LJ_GEMV_MAX_N, in % 8 == 0,
// streaming W once with 16-byte loads, each weight chunk reused for all n rows of x.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "engine/cuda/gemv_config.h"

#define LJ_GEMV_MAX_N 8
#define LJ_GEMV_TUNED_MAX_N 2  // calls the configurations apply to (batch-1/2 decode)

// 1 when lj_cuda_gemv can run this shape.
int lj_cuda_gemv_supported(int n, int in);
// The default configuration (LJ_GEMV_CONFIG_DEFAULT).
int lj_cuda_gemv(void *y, int y_fp32, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n,
                 int in, int out, cudaStream_t stream);
// Configuration cfg of gemv_config.h (rows per block, chunks per row in flight): the same bits
// as every other; calls of more than LJ_GEMV_TUNED_MAX_N tokens run the default. LJ_EINVAL for
// an unknown one.
int lj_cuda_gemv_cfg(void *y, int y_fp32, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                     int cfg, cudaStream_t stream);
