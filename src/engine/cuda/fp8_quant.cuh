// Device helpers of model/fp8_quant.h's per-row quantisation on 8 bf16 values moved as one
// 16-byte vector: the running amax and the 8 codes (weight_fp8.cu's rows, swiglu.cu's and rmsnorm.cu's outputs).
// Included by .cu files only.
#pragma once
#include <stdint.h>

#include "engine/cuda/bf16_util.cuh"
#include "model/fp8_quant.h"

static __device__ __forceinline__ float fp8_amax8(uint4 u, float amax) {
  float f[8];
  bf16x8_to_float(*reinterpret_cast<const bf16x8 *>(&u), f);
#pragma unroll
  for (int j = 0; j < 8; j++) amax = fmaxf(amax, fabsf(f[j]));
  return amax;
}

// The codes of 8 values, byte j of the result code j (an 8-byte store).
static __device__ __forceinline__ uint2 fp8_quantize8(uint4 u, float s) {
  float f[8];
  bf16x8_to_float(*reinterpret_cast<const bf16x8 *>(&u), f);
  uint32_t lo = 0, hi = 0;
#pragma unroll
  for (int j = 0; j < 4; j++) {
    lo |= (uint32_t)lj_fp8_quantize(f[j], s) << (8 * j);
    hi |= (uint32_t)lj_fp8_quantize(f[j + 4], s) << (8 * j);
  }
  return make_uint2(lo, hi);
}

// The end of a block's row quantisation (one block per row, blockDim.x == T): the block's amax of
// the row's values (each thread's running amax of its chunks), the row's scale into *scale, and the
// codes of the thread's chunks v[k] (chunk index threadIdx.x + k T, those < chunks) into q_row.
template <int C, int T>
static __device__ __forceinline__ void fp8_store_row(uint8_t *q_row, float *scale, const uint4 (&v)[C], float amax,
                                                     int chunks, float *scratch /* [32] */) {
  amax = block_max(amax, scratch);  // max is exact in any order
  float s = lj_fp8_row_scale(amax);
  if (threadIdx.x == 0) *scale = s;
  uint2 *dst = reinterpret_cast<uint2 *>(q_row);
#pragma unroll
  for (int k = 0; k < C; k++) {
    int c = threadIdx.x + k * T;
    if (c < chunks) dst[c] = fp8_quantize8(v[k], s);
  }
}
