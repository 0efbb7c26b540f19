// Projections and the LM head through cuBLASLt:
//   y(n, out) = x(n, in) @ W(out, in)^T     (x, W bf16; y bf16 or fp32; fp32 accumulation)
// Matmul descriptors, layouts and the chosen algorithm are cached per shape,
// and one workspace is kept, so a call after the first does no allocation or
// heuristic query (required inside CUDA-graph capture).
#pragma once
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lj_gemm_lt lj_gemm_lt;

int lj_gemm_lt_create(lj_gemm_lt **out, size_t workspace_bytes);
void lj_gemm_lt_free(lj_gemm_lt *g);

// y_fp32 selects the output type. Fails (LJ_ECUDA) if cuBLASLt has no algorithm for the shape.
int lj_gemm_lt_run(lj_gemm_lt *g, void *y, int y_fp32, const __nv_bfloat16 *x,
                   const __nv_bfloat16 *w, int n, int in, int out, cudaStream_t stream);

// FP8 (Hopper): y(n, out) bf16 = (x_scale[t] * w_scale[o]) * sum_i xq[t, i] wq[o, i], with xq the
// activations quantised per token (E4M3, (n, in)) and wq the E4M3 weights (out, in), fp32
// accumulation; cuBLASLt's outer-vector scale mode applies both scale vectors in its epilogue.
// in % 16 == 0 (16-byte leading dimensions). Where cuBLASLt has no algorithm with outer-vector
// scales for a shape (cuBLASLt 13.0 on H100 has none), the fallback: a scalar-scaled GEMM
// (scales 1) writing bf16 sums, then a kernel multiplying each by w_scale[o] * x_scale[t] and
// rounding to bf16 again (two roundings: up to ~2^-8 relative per output, against 2^-9).
int lj_gemm_lt_run_fp8(lj_gemm_lt *g, __nv_bfloat16 *y, const uint8_t *xq, const float *x_scale, const uint8_t *wq,
                       const float *w_scale, int n, int in, int out, cudaStream_t stream);
// The fallback's GEMM alone: y(n, out) bf16 = bf16(sum_i xq[t, i] wq[o, i]), the unscaled sums,
// for a caller that applies lj_fp8_scale_sum itself (the SwiGLU stage folds gate|up's scaling).
// The same plan and bits as lj_gemm_lt_run_fp8 before its scale pass. LJ_EUNSUPPORTED where the
// shape's plan scales in cuBLASLt's epilogue (lj_gemm_lt_fp8_plan 1).
int lj_gemm_lt_run_fp8_sums(lj_gemm_lt *g, __nv_bfloat16 *y, const uint8_t *xq, const uint8_t *wq, int n, int in,
                            int out, cudaStream_t stream);
// The FP8 plan of a shape under the current setting, built if there is none yet: 1 when it scales
// in cuBLASLt's epilogue, 0 when it takes the fallback, < 0 on error.
int lj_gemm_lt_fp8_plan(lj_gemm_lt *g, int n, int in, int out);
// Tests: FP8 GEMMs planned from now on take the fallback whatever cuBLASLt offers (plans are
// cached per shape and setting, so switching back reuses the outer-vector plans).
void lj_gemm_lt_set_fp8_scalar_only(lj_gemm_lt *g, int on);
// 1 when the FP8 plan of this shape (under the current setting) scales in cuBLASLt's epilogue,
// 0 when it takes the fallback, -1 when no such plan has been built.
int lj_gemm_lt_fp8_outer(const lj_gemm_lt *g, int n, int in, int out);
