// SwiGLU: 8 elements per thread with 16-byte loads when hidden % 8 == 0.
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/swiglu.h"

static __device__ __forceinline__ float silu_bf16(float g) {
  return __bfloat162float(__float2bfloat16(g / (1.0f + __expf(-g))));
}

static __global__ void swiglu_kernel8(__nv_bfloat16 *out, const __nv_bfloat16 *gu, int n_tokens,
                                      int hidden) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  int n8 = hidden / 8;
  size_t total = (size_t)n_tokens * n8;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
       idx += (size_t)gridDim.x * blockDim.x) {
    size_t t = idx / n8, c = idx % n8;
    const bf16x8 *g8 = reinterpret_cast<const bf16x8 *>(gu + t * 2 * hidden);
    const bf16x8 *u8 = reinterpret_cast<const bf16x8 *>(gu + t * 2 * hidden + hidden);
    float g[8], u[8], o[8];
    bf16x8_to_float(g8[c], g);
    bf16x8_to_float(u8[c], u);
#pragma unroll
    for (int j = 0; j < 8; j++) o[j] = silu_bf16(g[j]) * u[j];
    reinterpret_cast<bf16x8 *>(out + t * hidden)[c] = float_to_bf16x8(o);
  }
}

static __global__ void swiglu_kernel1(__nv_bfloat16 *out, const __nv_bfloat16 *gu, int n_tokens,
                                      int hidden) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  size_t total = (size_t)n_tokens * hidden;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
       idx += (size_t)gridDim.x * blockDim.x) {
    size_t t = idx / hidden, c = idx % hidden;
    float g = __bfloat162float(gu[t * 2 * hidden + c]), u = __bfloat162float(gu[t * 2 * hidden + hidden + c]);
    out[idx] = __float2bfloat16(silu_bf16(g) * u);
  }
}

int lj_cuda_swiglu(__nv_bfloat16 *out, const __nv_bfloat16 *gu, int n_tokens, int hidden,
                   cudaStream_t stream) {
  if (n_tokens <= 0) return 0;
  size_t work = (size_t)n_tokens * (hidden % 8 == 0 ? hidden / 8 : hidden);
  size_t blocks = (work + 255) / 256;
  if (blocks > 132 * 16) blocks = 132 * 16;
  if (hidden % 8 == 0)
    lj_launch(swiglu_kernel8, dim3((unsigned)blocks), dim3(256), 0, stream, out, gu, n_tokens, hidden);
  else
    lj_launch(swiglu_kernel1, dim3((unsigned)blocks), dim3(256), 0, stream, out, gu, n_tokens, hidden);
  CUDA_CHECK_LAUNCH("swiglu");
  return 0;
}
