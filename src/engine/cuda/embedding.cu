// Embedding gather: one block per token, 16-byte copies when dim % 8 == 0.
//   out(n_tokens, dim) = table(vocab, dim)[tokens[i], :]
#include "engine/cuda/embedding.h"

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"

static __global__ void embedding_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *table,
                                        const int *tokens, int dim, int vocab) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  int i = blockIdx.x;
  int tok = tokens[i];
  bool valid = tok >= 0 && tok < vocab;
  const __nv_bfloat16 *src = table + (size_t)(valid ? tok : 0) * dim;
  __nv_bfloat16 *dst = out + (size_t)i * dim;
  if ((dim & 7) == 0) {
    const bf16x8 *s8 = reinterpret_cast<const bf16x8 *>(src);
    bf16x8 *d8 = reinterpret_cast<bf16x8 *>(dst);
    bf16x8 zero = {};
    for (int c = threadIdx.x; c < dim / 8; c += blockDim.x) d8[c] = valid ? s8[c] : zero;
  } else {
    for (int c = threadIdx.x; c < dim; c += blockDim.x) dst[c] = valid ? src[c] : __float2bfloat16(0.0f);
  }
}

int lj_cuda_embedding(__nv_bfloat16 *out, const __nv_bfloat16 *table, const int *tokens,
                      int n_tokens, int dim, int vocab, cudaStream_t stream) {
  if (n_tokens <= 0) return 0;
  lj_launch(embedding_kernel, dim3(n_tokens), dim3(256), 0, stream, out, table, tokens, dim, vocab);
  CUDA_CHECK_LAUNCH("embedding");
  return 0;
}
