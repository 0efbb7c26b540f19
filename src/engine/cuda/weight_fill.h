// Filling device weights: random (model/random_init.h, the same values the CPU
// engine computes, rounded to bf16) or converted from checkpoint dtypes.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

// dst[i] = bf16(lj_random_matrix_weight(seed, tensor_id, i)) (norm = 0) or
// bf16(lj_random_norm_weight(...)) (norm = 1), i < n.
int lj_cuda_fill_random(__nv_bfloat16 *dst, size_t n, uint64_t seed, uint32_t tensor_id, int norm,
                        cudaStream_t stream);
// A block of a random matrix of full_cols columns: rows [row0, row0 + rows), columns
// [col0, col0 + cols), dst (rows, cols) row-major; element (i, j) is the full tensor's element
// (row0 + i) * full_cols + col0 + j. A tensor-parallel rank generates its slice (model/tp_shard.h)
// with the values the whole tensor has there.
int lj_cuda_fill_random_block(__nv_bfloat16 *dst, size_t rows, size_t cols, size_t full_cols, size_t row0,
                              size_t col0, uint64_t seed, uint32_t tensor_id, int norm, cudaStream_t stream);
// dst[i] = bf16(src[i]) (round to nearest even), both on the device.
int lj_cuda_f32_to_bf16(__nv_bfloat16 *dst, const float *src, size_t n, cudaStream_t stream);
// dst[i] = bf16(f16 src[i]) (exact widening, then round to nearest even), both on the device.
int lj_cuda_f16_to_bf16(__nv_bfloat16 *dst, const uint16_t *src, size_t n, cudaStream_t stream);
