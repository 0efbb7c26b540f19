// SWIGLU stage: out(n, hidden) = silu(gate) * up, from the fused gate|up
// projection's output gu(n, 2 * hidden) = [gate | up] per row.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// Like HF in bf16: silu(gate) rounded to bf16, then the product rounded.
int lj_cuda_swiglu(__nv_bfloat16 *out, const __nv_bfloat16 *gu, int n_tokens, int hidden,
                   cudaStream_t stream);
