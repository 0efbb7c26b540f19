// ATTN_NORM / FFN_NORM / FINAL_NORM stages: RMSNorm fused with the residual add.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// For each row r (n_rows, dim):
//   x = x_in[src_row(r)] + (delta ? delta[src_row(r)] : 0)     (rounded to bf16, as HF does)
//   if x_out: x_out[src_row(r)] = x                            (x_out may equal x_in)
//   y[r] = bf16( w * bf16( x * rsqrt(mean(x^2) + eps) ) )        (HF LlamaRMSNorm in bf16)
// rows: device (n_rows,) row indices into x_in/delta/x_out, or NULL for r itself
// (the final norm uses it to normalise only each sequence's last token).
int lj_cuda_rmsnorm(__nv_bfloat16 *y, __nv_bfloat16 *x_out, const __nv_bfloat16 *x_in,
                    const __nv_bfloat16 *delta, const __nv_bfloat16 *w, const int *rows,
                    int n_rows, int dim, float eps, cudaStream_t stream);
