// FP8 E4M3 quantisation on the device with one fp32 scale per row, or per tensor stored in
// every row's slot (model/fp8_quant.h: the same codes and scales as the host quantiser, bit
// for bit).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "model/dtype.h"

// Rows of `cols` elements of src (F32, F16 or BF16, device) -> q (rows, cols) codes + scale (rows).
int lj_cuda_quantize_rows(uint8_t *q, float *scale, const void *src, lj_dtype dtype, size_t rows, int cols,
                          cudaStream_t stream);
// Per tensor in passes, for a tensor that arrives in chunks of rows: lj_cuda_rows_amax of every
// chunk into amax (rows), then lj_cuda_tensor_scale (amax -> the tensor's scale in every slot),
// then lj_cuda_quantize_rows_given of every chunk with those slots.
int lj_cuda_rows_amax(float *amax, const void *src, lj_dtype dtype, size_t rows, int cols, cudaStream_t stream);
int lj_cuda_tensor_scale(float *scale, size_t rows, cudaStream_t stream);
int lj_cuda_quantize_rows_given(uint8_t *q, const float *scale, const void *src, lj_dtype dtype, size_t rows, int cols,
                                cudaStream_t stream);
// The random weights of tensor_id (model/random_init.h, rounded to bf16), quantised per row or
// per tensor (scale_mode: lj_fp8_scale_mode).
int lj_cuda_fill_random_fp8(uint8_t *q, float *scale, size_t rows, int cols, uint64_t seed, uint32_t tensor_id,
                            int scale_mode, cudaStream_t stream);
// Activations x (n, in) bf16 quantised per token (row) for an FP8 GEMM.
int lj_cuda_quantize_act(uint8_t *q, float *scale, const __nv_bfloat16 *x, int n, int in, cudaStream_t stream);
// out[i] = lj_f32_to_e4m3(in[i]) on the device (tests compare it with the host and with CUDA's intrinsic).
int lj_cuda_e4m3_encode(uint8_t *out, const float *in, size_t n, cudaStream_t stream);
