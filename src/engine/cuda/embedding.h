// EMBED stage: out(n_tokens, dim) = table(vocab, dim)[tokens[i]] (bf16 rows copied).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

// tokens: device (n_tokens,). Ids outside [0, vocab) give a zero row (the
// host checks ids before; the kernel never reads out of bounds).
int lj_cuda_embedding(__nv_bfloat16 *out, const __nv_bfloat16 *table, const int *tokens,
                      int n_tokens, int dim, int vocab, cudaStream_t stream);
