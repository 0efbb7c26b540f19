// Small device helpers shared by the kernels: 16-byte bf16 vectors and warp
// reductions. Included by .cu files only.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

// 8 bf16 values moved as one 16-byte load/store.
struct __align__(16) bf16x8 {
  __nv_bfloat162 h[4];
};

static __device__ __forceinline__ void bf16x8_to_float(const bf16x8 &v, float out[8]) {
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 f = __bfloat1622float2(v.h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

static __device__ __forceinline__ bf16x8 float_to_bf16x8(const float in[8]) {
  bf16x8 v;
#pragma unroll
  for (int i = 0; i < 4; i++) v.h[i] = __floats2bfloat162_rn(in[2 * i], in[2 * i + 1]);
  return v;
}

static __device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

static __device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a whole block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
static __device__ __forceinline__ float block_sum(float v, float *scratch /* [32] */) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < n_warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

static __device__ __forceinline__ float block_max(float v, float *scratch /* [32] */) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < n_warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}
