// Host checkpoint tensors (F32, F16 or BF16) -> bf16 device weights, stream-ordered.
//
// Every copy and conversion is queued on the engine's stream through pinned staging
// buffers. A plain cudaMemcpy from pageable memory may return before its DMA lands,
// and it is not ordered with a non-blocking stream: a conversion kernel queued after
// it can read the staging buffer before the bytes arrive (large fp32 checkpoints got
// wrong weights that way).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "model/dtype.h"

typedef struct lj_cuda_uploader lj_cuda_uploader;

// Two pinned host buffers and two device buffers of `chunk_bytes` each (double buffering:
// the CPU fills one while the other is copied and converted).
int lj_cuda_uploader_create(lj_cuda_uploader **out, cudaStream_t stream, size_t chunk_bytes);
// Queues dst[i] = bf16(src[i]) for i < n (round to nearest even; bf16 copied as is).
// Returns when src may be reused; the device writes may still be in flight.
int lj_cuda_upload(lj_cuda_uploader *u, __nv_bfloat16 *dst, const void *src, size_t n, lj_dtype dtype);
// Queues an FP8 matrix (rows, cols): F32/F16/BF16 host rows are quantised on the device per
// row, or per tensor (scale_mode, lj_fp8_scale_mode: the rows are staged twice, once for the
// amax, once for the codes) (weight_fp8.h: the CPU quantiser's codes and scales); F8_E4M3 codes
// are copied with their per-row scales (src_scale, host), per row only.
int lj_cuda_upload_fp8(lj_cuda_uploader *u, uint8_t *q, float *scale, const void *src, lj_dtype dtype,
                       const float *src_scale, size_t rows, int cols, int scale_mode);
// Waits for every queued upload and frees the buffers (NULL is fine). Returns the first error.
int lj_cuda_uploader_finish(lj_cuda_uploader *u);
