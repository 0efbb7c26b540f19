// Weight fill kernels: grid-stride loops, one element per step.
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/weight_fill.h"
#include "model/dtype.h"
#include "model/random_init.h"

static __global__ void fill_random_kernel(__nv_bfloat16 *dst, size_t rows, size_t cols, size_t full_cols,
                                          size_t row0, size_t col0, uint64_t seed, uint32_t tensor_id, int norm) {
  size_t n = rows * cols;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    size_t src = (row0 + i / cols) * full_cols + col0 + i % cols;
    float v = norm ? lj_random_norm_weight(seed, tensor_id, src) : lj_random_matrix_weight(seed, tensor_id, src);
    dst[i] = __float2bfloat16(v);
  }
}

static __global__ void f32_to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16(src[i]);
}

// Through f32: f16 -> f32 is exact, then one rounding to bf16 (the only loss: 11 -> 8
// significant bits; bf16's range covers f16's, subnormals included).
static __global__ void f16_to_bf16_kernel(__nv_bfloat16 *dst, const uint16_t *src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16(lj_f16_to_f32(src[i]));
}

static unsigned grid_for(size_t n) {
  size_t b = (n + 255) / 256;
  return (unsigned)(b > 4096 ? 4096 : (b ? b : 1));
}

int lj_cuda_fill_random_block(__nv_bfloat16 *dst, size_t rows, size_t cols, size_t full_cols, size_t row0,
                              size_t col0, uint64_t seed, uint32_t tensor_id, int norm, cudaStream_t stream) {
  fill_random_kernel<<<grid_for(rows * cols), 256, 0, stream>>>(dst, rows, cols, full_cols, row0, col0, seed,
                                                                tensor_id, norm);
  CUDA_CHECK_LAUNCH("fill_random");
  return 0;
}

// The whole tensor: one row of n.
int lj_cuda_fill_random(__nv_bfloat16 *dst, size_t n, uint64_t seed, uint32_t tensor_id, int norm,
                        cudaStream_t stream) {
  return lj_cuda_fill_random_block(dst, 1, n, n, 0, 0, seed, tensor_id, norm, stream);
}

int lj_cuda_f32_to_bf16(__nv_bfloat16 *dst, const float *src, size_t n, cudaStream_t stream) {
  f32_to_bf16_kernel<<<grid_for(n), 256, 0, stream>>>(dst, src, n);
  CUDA_CHECK_LAUNCH("f32_to_bf16");
  return 0;
}

int lj_cuda_f16_to_bf16(__nv_bfloat16 *dst, const uint16_t *src, size_t n, cudaStream_t stream) {
  f16_to_bf16_kernel<<<grid_for(n), 256, 0, stream>>>(dst, src, n);
  CUDA_CHECK_LAUNCH("f16_to_bf16");
  return 0;
}
