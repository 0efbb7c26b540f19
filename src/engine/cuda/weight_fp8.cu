// FP8 quantisation on the device, model/fp8_quant.h's arithmetic (so the codes and scales
// equal the CPU reference's bit for bit): one block of 256 threads per row finds the row's
// amax, then writes e4m3(v / scale). Per tensor, three passes: each row's amax into the scale
// slots, one block reduces them to the tensor's scale and writes it to every slot, then each row
// is quantised with its (given) slot. Sources: checkpoint rows (F32/F16/BF16 on the device),
// the random weights of model/random_init.h (rounded to bf16 first, as the CPU engine stores
// them), and bf16 activations (per token, before an FP8 GEMM).
#include <stdint.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_quant.cuh"
#include "engine/cuda/weight_fp8.h"
#include "model/fp8_quant.h"
#include "model/random_init.h"

#define Q_THREADS 256

struct src_raw {
  const void *p;
  lj_dtype t;
  __device__ float operator()(size_t i) const { return lj_load_f32(p, t, i); }
};

struct src_random {
  uint64_t seed;
  uint32_t id;
  __device__ float operator()(size_t i) const { return lj_round_bf16(lj_random_matrix_weight(seed, id, i)); }
};

// What a pass of quantize_rows_kernel does with row r.
enum { Q_ROW = 0, Q_AMAX = 1, Q_GIVEN = 2 };  // amax + scale + codes; scale[r] = amax only; codes with scale[r]

template <typename Src>
static __global__ void __launch_bounds__(Q_THREADS)
quantize_rows_kernel(uint8_t *q, float *scale, Src src, int cols, int pass) {
  __shared__ float scratch[32];
  size_t base = (size_t)blockIdx.x * cols;
  float s;
  if (pass == Q_GIVEN) {
    s = scale[blockIdx.x];
  } else {
    float amax = 0.0f;
    for (int i = threadIdx.x; i < cols; i += Q_THREADS) amax = fmaxf(amax, fabsf(src(base + i)));
    amax = block_max(amax, scratch);  // max is exact in any order
    if (pass == Q_AMAX) {
      if (threadIdx.x == 0) scale[blockIdx.x] = amax;
      return;
    }
    s = lj_fp8_row_scale(amax);
    if (threadIdx.x == 0) scale[blockIdx.x] = s;
  }
  for (int i = threadIdx.x; i < cols; i += Q_THREADS) q[base + i] = lj_fp8_quantize(src(base + i), s);
}

// scale[0 .. rows) holds the rows' amax: one block reduces it and writes the tensor's scale to every slot.
static __global__ void __launch_bounds__(1024) tensor_scale_kernel(float *scale, size_t rows) {
  __shared__ float scratch[32];
  float amax = 0.0f;
  for (size_t r = threadIdx.x; r < rows; r += blockDim.x) amax = fmaxf(amax, scale[r]);
  float s = lj_fp8_row_scale(block_max(amax, scratch));
  __syncthreads();  // every read of scale[] before any write
  for (size_t r = threadIdx.x; r < rows; r += blockDim.x) scale[r] = s;
}

// bf16 rows with in % 8 == 0 and aligned pointers: 16-byte loads of 8 values, 8-byte stores of 8
// codes. C > 0: a thread keeps its C chunks (chunks t, t + 256, ...) in registers between the amax
// and the quantisation, so the row is read from memory once (rows up to C x 2048 values); C == 0:
// longer rows, read twice. The codes are model/fp8_quant.h's: the max is exact in any order and
// the quantisation is elementwise.
template <int C>
static __global__ void __launch_bounds__(Q_THREADS)
quantize_bf16_rows_kernel(uint8_t *q, float *scale, const __nv_bfloat16 *x, int cols) {
  __shared__ float scratch[32];
  int chunks = cols / 8;
  const uint4 *src = reinterpret_cast<const uint4 *>(x + (size_t)blockIdx.x * cols);
  float amax = 0.0f;
  if (C > 0) {
    uint4 v[C > 0 ? C : 1];
#pragma unroll
    for (int k = 0; k < C; k++) {  // every load issued before the first use
      int c = threadIdx.x + k * Q_THREADS;
      if (c < chunks) v[k] = src[c];
    }
#pragma unroll
    for (int k = 0; k < C; k++)
      if (threadIdx.x + k * Q_THREADS < chunks) amax = fp8_amax8(v[k], amax);
    fp8_store_row<(C > 0 ? C : 1), Q_THREADS>(q + (size_t)blockIdx.x * cols, scale + blockIdx.x, v, amax, chunks,
                                              scratch);
  } else {  // the row read twice
    for (int c = threadIdx.x; c < chunks; c += Q_THREADS) amax = fp8_amax8(src[c], amax);
    amax = block_max(amax, scratch);
    float s = lj_fp8_row_scale(amax);
    if (threadIdx.x == 0) scale[blockIdx.x] = s;
    uint2 *dst = reinterpret_cast<uint2 *>(q + (size_t)blockIdx.x * cols);
    for (int c = threadIdx.x; c < chunks; c += Q_THREADS) dst[c] = fp8_quantize8(src[c], s);
  }
}

// The vector kernel for bf16 rows where it applies, with the fewest register chunks that hold a row.
static int quantize_bf16_rows(uint8_t *q, float *scale, const __nv_bfloat16 *x, size_t rows, int cols,
                              cudaStream_t s) {
  unsigned g = (unsigned)rows;
  int per_thread = (cols / 8 + Q_THREADS - 1) / Q_THREADS;
  if (per_thread <= 2) quantize_bf16_rows_kernel<2><<<g, Q_THREADS, 0, s>>>(q, scale, x, cols);
  else if (per_thread <= 4) quantize_bf16_rows_kernel<4><<<g, Q_THREADS, 0, s>>>(q, scale, x, cols);
  else if (per_thread <= 8) quantize_bf16_rows_kernel<8><<<g, Q_THREADS, 0, s>>>(q, scale, x, cols);
  else if (per_thread <= 16) quantize_bf16_rows_kernel<16><<<g, Q_THREADS, 0, s>>>(q, scale, x, cols);
  else quantize_bf16_rows_kernel<0><<<g, Q_THREADS, 0, s>>>(q, scale, x, cols);
  return 0;
}

template <typename Src>
static int run(uint8_t *q, float *scale, Src src, size_t rows, int cols, cudaStream_t s, const char *what,
               int pass = Q_ROW) {
  if (rows == 0) return 0;
  if (rows > 0x7FFFFFFFu) return LJ_FAIL(LJ_EUNSUPPORTED, "%s: %zu rows", what, rows);
  quantize_rows_kernel<Src><<<(unsigned)rows, Q_THREADS, 0, s>>>(q, scale, src, cols, pass);
  CUDA_CHECK_LAUNCH(what);
  return 0;
}

int lj_cuda_rows_amax(float *amax, const void *src, lj_dtype dtype, size_t rows, int cols, cudaStream_t stream) {
  return run((uint8_t *)NULL, amax, src_raw{src, dtype}, rows, cols, stream, "rows_amax", Q_AMAX);
}

int lj_cuda_tensor_scale(float *scale, size_t rows, cudaStream_t stream) {
  if (rows == 0) return 0;
  tensor_scale_kernel<<<1, 1024, 0, stream>>>(scale, rows);
  CUDA_CHECK_LAUNCH("tensor_scale");
  return 0;
}

int lj_cuda_quantize_rows_given(uint8_t *q, const float *scale, const void *src, lj_dtype dtype, size_t rows, int cols,
                                cudaStream_t stream) {
  return run(q, (float *)scale, src_raw{src, dtype}, rows, cols, stream, "quantize_rows_given", Q_GIVEN);
}

// src_raw rows, bf16 ones by the vector kernel where their width and the pointers allow it.
static int run_raw(uint8_t *q, float *scale, const void *src, lj_dtype dtype, size_t rows, int cols,
                   cudaStream_t s, const char *what) {
  int vec = dtype == LJ_DTYPE_BF16 && cols > 0 && cols % 8 == 0 && (uintptr_t)src % 16 == 0 && (uintptr_t)q % 8 == 0;
  if (!vec || rows == 0 || rows > 0x7FFFFFFFu) return run(q, scale, src_raw{src, dtype}, rows, cols, s, what);
  quantize_bf16_rows(q, scale, (const __nv_bfloat16 *)src, rows, cols, s);
  CUDA_CHECK_LAUNCH(what);
  return 0;
}

int lj_cuda_quantize_rows(uint8_t *q, float *scale, const void *src, lj_dtype dtype, size_t rows, int cols,
                          cudaStream_t stream) {
  return run_raw(q, scale, src, dtype, rows, cols, stream, "quantize_rows");
}

int lj_cuda_fill_random_fp8(uint8_t *q, float *scale, size_t rows, int cols, uint64_t seed, uint32_t tensor_id,
                            int scale_mode, cudaStream_t stream) {
  src_random src{seed, tensor_id};
  if (scale_mode == LJ_FP8_SCALE_ROW) return run(q, scale, src, rows, cols, stream, "fill_random_fp8");
  if (scale_mode != LJ_FP8_SCALE_TENSOR) return LJ_FAIL(LJ_EINVAL, "fill_random_fp8: unknown scale mode %d", scale_mode);
  LJ_TRY(run(q, scale, src, rows, cols, stream, "fill_random_fp8 (amax)", Q_AMAX));
  LJ_TRY(lj_cuda_tensor_scale(scale, rows, stream));
  return run(q, scale, src, rows, cols, stream, "fill_random_fp8", Q_GIVEN);
}

int lj_cuda_quantize_act(uint8_t *q, float *scale, const __nv_bfloat16 *x, int n, int in, cudaStream_t stream) {
  return run_raw(q, scale, x, LJ_DTYPE_BF16, n < 0 ? 0 : (size_t)n, in, stream, "quantize_act");
}

static __global__ void e4m3_encode_kernel(uint8_t *out, const float *in, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    out[i] = lj_f32_to_e4m3(in[i]);
}

int lj_cuda_e4m3_encode(uint8_t *out, const float *in, size_t n, cudaStream_t stream) {
  e4m3_encode_kernel<<<1024, 256, 0, stream>>>(out, in, n);
  CUDA_CHECK_LAUNCH("e4m3_encode");
  return 0;
}
