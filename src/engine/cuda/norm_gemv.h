// Fused decode kernels for the composite stages of the fused mode (engine/stage.h):
//   ATTN_NORM_QKV            residual add + RMSNorm folded into the QKV GEMV
//   FFN_NORM_GATE_UP_SWIGLU  the same folded into the gate|up GEMV, SwiGLU in the epilogue
// Every intermediate is rounded exactly as the unfused sequence rounds it (lj_cuda_rmsnorm,
// lj_cuda_gemv, lj_cuda_swiglu), with the same summation order, so the outputs equal the
// unfused ones (up to the compiler contracting the same products into FMAs the same way).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// 1 when the fused kernels take this shape: 1 <= n <= LJ_GEMV_MAX_N tokens, dim % 8 == 0,
// dim <= 8192 (the row is normalised in shared memory).
int lj_cuda_norm_gemv_supported(int n, int dim);

// ATTN_NORM_QKV. For each token t < n (rows of x, delta, y):
//   v     = delta ? bf16(x[t] + delta[t]) : x[t]
//   x[t]  = v                                        (only when delta; in place)
//   xn    = bf16(norm_w * bf16(v * rsqrt(mean(v^2) + eps)))   (never stored)
//   y[t]  = bf16(xn @ W^T),  W (out, dim) row-major
// counter: a device int that is 0 between launches (the kernel leaves it 0); it lets the
// last block that has read x write it back. Required when delta is not NULL.
int lj_cuda_norm_gemv(__nv_bfloat16 *y, __nv_bfloat16 *x, const __nv_bfloat16 *delta,
                      const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w, int n, int dim, int out,
                      float eps, int *counter, cudaStream_t stream);

// FFN_NORM_GATE_UP_SWIGLU. The same norm (and x update), then with W = [gate; up]
// (2 hidden, dim):
//   h[t, i] = bf16(silu_bf16(bf16(xn . gate_i)) * bf16(xn . up_i)),  silu_bf16(g) = bf16(g / (1 + e^-g))
// (the gate|up output is never stored).
int lj_cuda_norm_gemv_swiglu(__nv_bfloat16 *h, __nv_bfloat16 *x, const __nv_bfloat16 *delta,
                             const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w_gu, int n, int dim,
                             int hidden, float eps, int *counter, cudaStream_t stream);
