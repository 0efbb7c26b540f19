// Stream-ordered upload of checkpoint tensors (see weight_upload.h).
// Chunk k uses slot k % 2: wait for the slot's last conversion (event), memcpy the
// chunk into its pinned buffer on the CPU, then queue H2D copy + conversion on the
// stream and record the slot's event. The CPU copy of chunk k+1 overlaps the DMA of k.
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/weight_fill.h"
#include "engine/cuda/weight_fp8.h"
#include "engine/cuda/weight_upload.h"
#include "model/fp8_quant.h"

struct lj_cuda_uploader {
  cudaStream_t stream;
  size_t chunk_bytes;
  void *host[2];    // pinned
  void *dev[2];     // raw F32/F16 chunks before conversion
  cudaEvent_t done[2];
  int used[2];      // slot has a recorded event
  unsigned next;    // slot of the next chunk
};

int lj_cuda_uploader_create(lj_cuda_uploader **out, cudaStream_t stream, size_t chunk_bytes) {
  *out = NULL;
  lj_cuda_uploader *u = (lj_cuda_uploader *)calloc(1, sizeof *u);
  if (!u) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  *out = u;
  u->stream = stream;
  u->chunk_bytes = chunk_bytes / 4 * 4;
  for (int s = 0; s < 2; s++) {
    CUDA_CHECK(cudaHostAlloc(&u->host[s], u->chunk_bytes, cudaHostAllocDefault));
    CUDA_CHECK(cudaMalloc(&u->dev[s], u->chunk_bytes));
    CUDA_CHECK(cudaEventCreateWithFlags(&u->done[s], cudaEventDisableTiming));
  }
  return 0;
}

// Claims the next slot: waits for its last use, copies `bytes` of src into its pinned buffer.
static int next_slot(lj_cuda_uploader *u, const void *src, size_t bytes, unsigned *slot) {
  unsigned s = u->next++ & 1u;
  if (u->used[s]) CUDA_CHECK(cudaEventSynchronize(u->done[s]));
  memcpy(u->host[s], src, bytes);
  *slot = s;
  return 0;
}

static int slot_done(lj_cuda_uploader *u, unsigned s) {
  CUDA_CHECK(cudaEventRecord(u->done[s], u->stream));
  u->used[s] = 1;
  return 0;
}

int lj_cuda_upload(lj_cuda_uploader *u, __nv_bfloat16 *dst, const void *src, size_t n, lj_dtype dtype) {
  const size_t es = lj_dtype_size(dtype);
  const size_t per_chunk = u->chunk_bytes / es;
  for (size_t i = 0; i < n; i += per_chunk) {
    size_t m = n - i < per_chunk ? n - i : per_chunk;
    unsigned s;
    LJ_TRY(next_slot(u, (const char *)src + i * es, m * es, &s));
    if (dtype == LJ_DTYPE_BF16) {
      CUDA_CHECK(cudaMemcpyAsync(dst + i, u->host[s], m * es, cudaMemcpyHostToDevice, u->stream));
    } else {
      CUDA_CHECK(cudaMemcpyAsync(u->dev[s], u->host[s], m * es, cudaMemcpyHostToDevice, u->stream));
      if (dtype == LJ_DTYPE_F32)
        LJ_TRY(lj_cuda_f32_to_bf16(dst + i, (const float *)u->dev[s], m, u->stream));
      else
        LJ_TRY(lj_cuda_f16_to_bf16(dst + i, (const uint16_t *)u->dev[s], m, u->stream));
    }
    LJ_TRY(slot_done(u, s));
  }
  return 0;
}

// Bytes copied as they are (FP8 codes, fp32 scales).
static int upload_raw(lj_cuda_uploader *u, void *dst, const void *src, size_t bytes) {
  for (size_t i = 0; i < bytes; i += u->chunk_bytes) {
    size_t m = bytes - i < u->chunk_bytes ? bytes - i : u->chunk_bytes;
    unsigned s;
    LJ_TRY(next_slot(u, (const char *)src + i, m, &s));
    CUDA_CHECK(cudaMemcpyAsync((char *)dst + i, u->host[s], m, cudaMemcpyHostToDevice, u->stream));
    LJ_TRY(slot_done(u, s));
  }
  return 0;
}

// Rows [r, r + m) of the source staged on the device, then `pass` queued on them.
typedef int (*fp8_pass)(uint8_t *q, float *scale, const void *dev, lj_dtype dtype, size_t m, int cols,
                        cudaStream_t stream);

static int pass_row(uint8_t *q, float *scale, const void *dev, lj_dtype dtype, size_t m, int cols, cudaStream_t st) {
  return lj_cuda_quantize_rows(q, scale, dev, dtype, m, cols, st);
}
static int pass_amax(uint8_t *q, float *scale, const void *dev, lj_dtype dtype, size_t m, int cols, cudaStream_t st) {
  (void)q;
  return lj_cuda_rows_amax(scale, dev, dtype, m, cols, st);
}
static int pass_given(uint8_t *q, float *scale, const void *dev, lj_dtype dtype, size_t m, int cols, cudaStream_t st) {
  return lj_cuda_quantize_rows_given(q, scale, dev, dtype, m, cols, st);
}

static int upload_rows(lj_cuda_uploader *u, uint8_t *q, float *scale, const void *src, lj_dtype dtype, size_t rows,
                       int cols, fp8_pass pass) {
  const size_t row_bytes = (size_t)cols * lj_dtype_size(dtype);
  const size_t per_chunk = u->chunk_bytes / row_bytes;  // whole rows: each is quantised with its own amax
  if (per_chunk == 0) return LJ_FAIL(LJ_EUNSUPPORTED, "FP8 upload: a row of %d elements exceeds the staging buffer", cols);
  for (size_t r = 0; r < rows; r += per_chunk) {
    size_t m = rows - r < per_chunk ? rows - r : per_chunk;
    unsigned s;
    LJ_TRY(next_slot(u, (const char *)src + r * row_bytes, m * row_bytes, &s));
    CUDA_CHECK(cudaMemcpyAsync(u->dev[s], u->host[s], m * row_bytes, cudaMemcpyHostToDevice, u->stream));
    LJ_TRY(pass(q + r * (size_t)cols, scale + r, u->dev[s], dtype, m, cols, u->stream));
    LJ_TRY(slot_done(u, s));
  }
  return 0;
}

int lj_cuda_upload_fp8(lj_cuda_uploader *u, uint8_t *q, float *scale, const void *src, lj_dtype dtype,
                       const float *src_scale, size_t rows, int cols, int scale_mode) {
  if (dtype == LJ_DTYPE_F8_E4M3) {
    if (scale_mode != LJ_FP8_SCALE_ROW)
      return LJ_FAIL(LJ_EUNSUPPORTED, "FP8 upload: the tensor is already F8_E4M3 (an FP8 checkpoint) and keeps its "
                     "own scales; per-tensor scales apply to weights quantised on load only");
    LJ_TRY(upload_raw(u, q, src, rows * (size_t)cols));
    return upload_raw(u, scale, src_scale, rows * sizeof(float));
  }
  if (scale_mode == LJ_FP8_SCALE_ROW) return upload_rows(u, q, scale, src, dtype, rows, cols, pass_row);
  if (scale_mode != LJ_FP8_SCALE_TENSOR) return LJ_FAIL(LJ_EINVAL, "FP8 upload: unknown scale mode %d", scale_mode);
  // Per tensor: the amax needs every row before the first code, so the rows are staged twice
  // (load time only; the two staging buffers hold 32 MiB each, not a whole tensor).
  LJ_TRY(upload_rows(u, q, scale, src, dtype, rows, cols, pass_amax));
  LJ_TRY(lj_cuda_tensor_scale(scale, rows, u->stream));
  return upload_rows(u, q, scale, src, dtype, rows, cols, pass_given);
}

int lj_cuda_uploader_finish(lj_cuda_uploader *u) {
  if (!u) return 0;
  cudaError_t err = cudaStreamSynchronize(u->stream);
  for (int s = 0; s < 2; s++) {
    if (u->done[s]) cudaEventDestroy(u->done[s]);
    if (u->dev[s]) cudaFree(u->dev[s]);
    if (u->host[s]) cudaFreeHost(u->host[s]);
  }
  free(u);
  if (err != cudaSuccess)
    return LJ_FAIL(LJ_ECUDA, "weight upload failed: %s", cudaGetErrorString(err));
  return 0;
}
