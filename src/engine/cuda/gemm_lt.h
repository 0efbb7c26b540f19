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

typedef struct lj_gemm_lt lj_gemm_lt;

int lj_gemm_lt_create(lj_gemm_lt **out, size_t workspace_bytes);
void lj_gemm_lt_free(lj_gemm_lt *g);

// y_fp32 selects the output type. Fails (LJ_ECUDA) if cuBLASLt has no algorithm for the shape.
int lj_gemm_lt_run(lj_gemm_lt *g, void *y, int y_fp32, const __nv_bfloat16 *x,
                   const __nv_bfloat16 *w, int n, int in, int out, cudaStream_t stream);
