// ATTN_NORM / FFN_NORM / FINAL_NORM stages: RMSNorm fused with the residual add.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

// For each row r (n_rows, dim):
//   x = x_in[src_row(r)] + (delta ? delta[src_row(r)] : 0)     (rounded to bf16, as HF does)
//   if x_out: x_out[src_row(r)] = x                            (x_out may equal x_in)
//   y[r] = bf16( w * bf16( x * rsqrt(mean(x^2) + eps) ) )        (HF LlamaRMSNorm in bf16)
// rows: device (n_rows,) row indices into x_in/delta/x_out, or NULL for r itself
// (the final norm uses it to normalise only each sequence's last token).
int lj_cuda_rmsnorm(__nv_bfloat16 *y, __nv_bfloat16 *x_out, const __nv_bfloat16 *x_in,
                    const __nv_bfloat16 *delta, const __nv_bfloat16 *w, const int *rows,
                    int n_rows, int dim, float eps, cudaStream_t stream);
// The FP8 prefill's norm (docs/engine-cuda.md, FP8 prefill), lj_cuda_rmsnorm with two folds:
// - delta_xs (by source row) and delta_ws (dim) non-NULL: delta holds an FP8 GEMM's unscaled bf16
//   sums (lj_gemm_lt_run_fp8_sums); each is first scaled and rounded to bf16 exactly as the GEMM's
//   scale pass would (bf16(lj_fp8_scale_sum(d, delta_ws[i], delta_xs[src]))), then added;
// - q (n_rows, dim) and q_scale (n_rows) non-NULL: y's row quantised per token, the codes and
//   scale lj_cuda_quantize_act makes of y (the next FP8 GEMM's input); y may then be NULL (not
//   written). delta_ws 16-byte and q 8-byte aligned. The same bits as the unfolded passes.
int lj_cuda_rmsnorm_fp8(__nv_bfloat16 *y, uint8_t *q, float *q_scale, __nv_bfloat16 *x_out,
                        const __nv_bfloat16 *x_in, const __nv_bfloat16 *delta, const float *delta_xs,
                        const float *delta_ws, const __nv_bfloat16 *w, const int *rows, int n_rows, int dim,
                        float eps, cudaStream_t stream);
