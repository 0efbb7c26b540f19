// The FP8 GEMM's fallback scaling (cuBLASLt without outer-vector scales): y(n, out) bf16, each
// element y[t, o] = bf16(lj_fp8_scale_sum(y[t, o], w_scale[o], x_scale[t])) (model/fp8_quant.h).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// In place. 16-byte vectors (8 outputs per thread) where out % 8 == 0 and y and w_scale are
// 16-byte aligned, one element per thread otherwise; the same bits either way.
int lj_cuda_fp8_scale_outer(__nv_bfloat16 *y, const float *x_scale, const float *w_scale, int n, int out,
                            cudaStream_t stream);
