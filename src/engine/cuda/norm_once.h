// The fused mode "norm once" (LJ_FUSION_NORM_ONCE; docs/engine-cuda.md, v9): the FFN's residual
// add and RMSNorm done once per token instead of in every GEMV block (v6's cost), split over the
// two kernels around it:
//   O_PROJ_FFN_NORM  o_proj's GEMV; its epilogue adds each output to x (the residual), and the
//                    last block to finish reduces the updated rows' sums of squares into one
//                    rstd per token
//   GATE_UP_SWIGLU   the gate|up GEMV reading x, rstd and the norm weight (the normalised input
//                    made on the fly, chunk by chunk), SwiGLU in the epilogue
// Every intermediate is rounded as the unfused sequence rounds it (gemv.cu, rmsnorm.cu, swiglu.cu),
// in the same order: the last block sums the squares in rmsnorm.cu's thread/chunk order, so rstd,
// x, delta and h equal the unfused ones (up to the compiler contracting the same products into
// FMAs the same way).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// 1 when the kernels take this shape: 1 <= n <= LJ_GEMV_MAX_N tokens, in and dim multiples of 8,
// dim <= 8192 (rmsnorm.cu's widest row).
int lj_cuda_norm_once_supported(int n, int in, int dim);

// O_PROJ_FFN_NORM. For each token t < n:
//   delta[t] = bf16(a[t] @ W^T)   W (dim, in) row-major, as lj_cuda_gemv_cfg (configuration cfg)
//   x[t]     = bf16(x[t] + delta[t])                         (in place)
//   rstd[t]  = rsqrt(mean(x[t]^2) + eps)                      (fp32, rmsnorm.cu's summation order)
// counter: a device int that is 0 between launches (the kernel leaves it 0); the last block to
// count itself computes rstd.
int lj_cuda_gemv_residual_norm(__nv_bfloat16 *delta, __nv_bfloat16 *x, float *rstd, const __nv_bfloat16 *a,
                               const __nv_bfloat16 *w, int n, int in, int dim, float eps, int *counter, int cfg,
                               cudaStream_t stream);

// GATE_UP_SWIGLU, W = [gate; up] (2 hidden, dim):
//   xn[t]   = bf16(norm_w * bf16(x[t] * rstd[t]))            (never stored; rmsnorm.cu's roundings)
//   h[t, i] = bf16(silu_bf16(bf16(xn . gate_i)) * bf16(xn . up_i))   (swiglu.cu's)
// cfg: gate_up's configuration; a block owns R/2 gate rows and their up rows (R = 1 runs as 2).
int lj_cuda_scaled_gemv_swiglu(__nv_bfloat16 *h, const __nv_bfloat16 *x, const float *rstd,
                               const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w_gu, int n, int dim, int hidden,
                               int cfg, cudaStream_t stream);
