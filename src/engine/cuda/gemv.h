// Own bf16 GEMV for small batches (decode): the same product as gemm_lt,
//   y(n, out) = x(n, in) @ W(out, in)^T,  n <= LJ_GEMV_MAX_N, in % 8 == 0,
// streaming W once with 16-byte loads, each weight chunk reused for all n rows of x.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#define LJ_GEMV_MAX_N 8

// 1 when lj_cuda_gemv can run this shape.
int lj_cuda_gemv_supported(int n, int in);
int lj_cuda_gemv(void *y, int y_fp32, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n,
                 int in, int out, cudaStream_t stream);
