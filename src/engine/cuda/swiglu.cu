// SwiGLU: 8 elements per thread with 16-byte loads when hidden % 8 == 0. The FP8 prefill's
// variants scale gate and up first (gate|up's fallback scaling folded in, model/fp8_quant.h) and
// quantise h per token for down's FP8 GEMM (down's activation quantisation folded in).
#include <stdint.h>
#include <string.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_quant.cuh"
#include "engine/cuda/pdl.h"
#include "engine/cuda/row_grid.h"
#include "engine/cuda/swiglu.h"
#include "engine/cuda/weight_fp8.h"
#include "model/fp8_quant.h"

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

// gu[t, c] scaled by w_scale[c] * x_scale[t] and rounded to bf16: what gate|up's scale pass writes.
static __device__ __forceinline__ float scaled_bf16(float y, float w, float xs) {
  return __bfloat162float(__float2bfloat16(lj_fp8_scale_sum(y, w, xs)));
}

// h of 8 columns c*8 .. c*8+7 from their gate and up values: scaled by gate|up's scales and rounded
// to bf16 first when x_scale is non-NULL (the fold), then silu(gate) * up.
static __device__ __forceinline__ void swiglu8(float *o, float *g, float *u, const float *w_scale, int hidden, int c,
                                               const float *x_scale, float xs) {
  if (x_scale) {
    const float4 *wg = reinterpret_cast<const float4 *>(w_scale) + 2 * c;
    const float4 *wu = reinterpret_cast<const float4 *>(w_scale + hidden) + 2 * c;
    float4 a = wg[0], b = wg[1], d = wu[0], e = wu[1];
    float sg[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w}, su[8] = {d.x, d.y, d.z, d.w, e.x, e.y, e.z, e.w};
#pragma unroll
    for (int j = 0; j < 8; j++) g[j] = scaled_bf16(g[j], sg[j], xs), u[j] = scaled_bf16(u[j], su[j], xs);
  }
#pragma unroll
  for (int j = 0; j < 8; j++) o[j] = silu_bf16(g[j]) * u[j];
}

#define SF_THREADS 256
#define SF_BLOCKS 4096  // lj_row_grid: blocks to fill the GPU

// (column chunks of 8, rows) grid: 16-byte loads of gate, up and their 16 scales, read once per
// thread; no division per element.
static __global__ void __launch_bounds__(SF_THREADS)
swiglu_fp8_kernel8(__nv_bfloat16 *out, const __nv_bfloat16 *gu, const float *x_scale, const float *w_scale,
                   int n_tokens, int hidden) {
  pdl_trigger();
  int c = blockIdx.x * SF_THREADS + threadIdx.x;
  if (c >= hidden / 8) return;
  const float4 *wg = reinterpret_cast<const float4 *>(w_scale) + 2 * c;
  const float4 *wu = reinterpret_cast<const float4 *>(w_scale + hidden) + 2 * c;
  float4 a = wg[0], b = wg[1], d = wu[0], e = wu[1];
  float sg[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w}, su[8] = {d.x, d.y, d.z, d.w, e.x, e.y, e.z, e.w};
  pdl_wait();  // gu and x_scale come from the previous kernels
  for (int t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    const __nv_bfloat16 *row = gu + (size_t)t * 2 * hidden;
    float xs = x_scale[t], g[8], u[8], o[8];
    bf16x8_to_float(reinterpret_cast<const bf16x8 *>(row)[c], g);
    bf16x8_to_float(reinterpret_cast<const bf16x8 *>(row + hidden)[c], u);
#pragma unroll
    for (int j = 0; j < 8; j++) o[j] = silu_bf16(scaled_bf16(g[j], sg[j], xs)) * scaled_bf16(u[j], su[j], xs);
    reinterpret_cast<bf16x8 *>(out + (size_t)t * hidden)[c] = float_to_bf16x8(o);
  }
}

static __global__ void __launch_bounds__(SF_THREADS)
swiglu_fp8_kernel1(__nv_bfloat16 *out, const __nv_bfloat16 *gu, const float *x_scale, const float *w_scale,
                   int n_tokens, int hidden) {
  pdl_trigger();
  int c = blockIdx.x * SF_THREADS + threadIdx.x;
  if (c >= hidden) return;
  float sg = w_scale[c], su = w_scale[hidden + c];
  pdl_wait();
  for (int t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    const __nv_bfloat16 *row = gu + (size_t)t * 2 * hidden;
    float xs = x_scale[t];
    float g = scaled_bf16(__bfloat162float(row[c]), sg, xs), u = scaled_bf16(__bfloat162float(row[hidden + c]), su, xs);
    out[(size_t)t * hidden + c] = __float2bfloat16(silu_bf16(g) * u);
  }
}

int lj_cuda_swiglu_fp8(__nv_bfloat16 *out, const __nv_bfloat16 *gu, const float *x_scale, const float *w_scale,
                       int n_tokens, int hidden, cudaStream_t stream) {
  if (n_tokens <= 0 || hidden <= 0) return 0;
  int vec = hidden % 8 == 0 && (uintptr_t)gu % 16 == 0 && (uintptr_t)out % 16 == 0 && (uintptr_t)w_scale % 16 == 0;
  int cols = vec ? hidden / 8 : hidden;
  dim3 grid = lj_row_grid(cols, n_tokens, SF_THREADS, SF_BLOCKS);
  if (vec)
    lj_launch(swiglu_fp8_kernel8, grid, dim3(SF_THREADS), 0, stream, out, gu, x_scale, w_scale, n_tokens, hidden);
  else
    lj_launch(swiglu_fp8_kernel1, grid, dim3(SF_THREADS), 0, stream, out, gu, x_scale, w_scale, n_tokens, hidden);
  CUDA_CHECK_LAUNCH("swiglu_fp8");
  return 0;
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

#define SQ_MAX_CHUNKS 16  // per thread of a 256-thread row block: rows up to 16 x 256 x 8 = 32768 values

// One block of T threads per token row t: h as swiglu_kernel8 (x_scale NULL) or swiglu_fp8_kernel8
// computes it, written as bf16 and kept in registers, then the row's amax, scale and E4M3 codes:
// what lj_cuda_quantize_act makes of h. All of the thread's gate and up loads are issued first.
template <int C, int T>
static __global__ void __launch_bounds__(T)
swiglu_quant_kernel(__nv_bfloat16 *__restrict__ out, uint8_t *__restrict__ q, float *__restrict__ q_scale,
                    const __nv_bfloat16 *__restrict__ gu, const float *__restrict__ x_scale,
                    const float *__restrict__ w_scale, int hidden) {
  __shared__ float scratch[32];
  pdl_trigger();
  pdl_wait();  // gu and x_scale come from the previous kernels
  int t = blockIdx.x, chunks = hidden / 8;
  const uint4 *g4 = reinterpret_cast<const uint4 *>(gu + (size_t)t * 2 * hidden), *u4 = g4 + chunks;
  uint4 g[C], u[C];
#pragma unroll
  for (int k = 0; k < C; k++) {
    int c = threadIdx.x + k * T;
    if (c < chunks) g[k] = g4[c], u[k] = u4[c];
  }
  float xs = x_scale ? x_scale[t] : 1.0f, amax = 0.0f;
#pragma unroll
  for (int k = 0; k < C; k++) {
    int c = threadIdx.x + k * T;
    if (c >= chunks) continue;
    float gf[8], uf[8], o[8];
    bf16x8_to_float(*reinterpret_cast<const bf16x8 *>(&g[k]), gf);
    bf16x8_to_float(*reinterpret_cast<const bf16x8 *>(&u[k]), uf);
    swiglu8(o, gf, uf, w_scale, hidden, c, x_scale, xs);
    bf16x8 h = float_to_bf16x8(o);
    reinterpret_cast<bf16x8 *>(out + (size_t)t * hidden)[c] = h;
    g[k] = *reinterpret_cast<const uint4 *>(&h);  // h's bits, kept for the codes
    amax = fp8_amax8(g[k], amax);
  }
  fp8_store_row<C, T>(q + (size_t)t * hidden, q_scale + t, g, amax, chunks, scratch);
}

// The split variant's first pass, on swiglu_fp8_kernel8's (columns, rows) grid: h written as bf16,
// and each row's amax of h gathered by an atomic max of the float bits (amax >= 0, where the bits
// order as the values do; the max is exact in any order) into amax[t], zeroed before.
static __global__ void __launch_bounds__(SF_THREADS)
swiglu_amax_kernel8(__nv_bfloat16 *out, unsigned *amax_bits, const __nv_bfloat16 *gu, const float *x_scale,
                    const float *w_scale, int n_tokens, int hidden) {
  pdl_trigger();
  int c = blockIdx.x * SF_THREADS + threadIdx.x, chunks = hidden / 8;
  float sg[8], su[8];
  if (x_scale && c < chunks) {
    const float4 *wg = reinterpret_cast<const float4 *>(w_scale) + 2 * c;
    const float4 *wu = reinterpret_cast<const float4 *>(w_scale + hidden) + 2 * c;
    float4 a = wg[0], b = wg[1], d = wu[0], e = wu[1];
    sg[0] = a.x, sg[1] = a.y, sg[2] = a.z, sg[3] = a.w, sg[4] = b.x, sg[5] = b.y, sg[6] = b.z, sg[7] = b.w;
    su[0] = d.x, su[1] = d.y, su[2] = d.z, su[3] = d.w, su[4] = e.x, su[5] = e.y, su[6] = e.z, su[7] = e.w;
  }
  pdl_wait();  // gu, x_scale and the zeroed amax come from before
  for (int t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    float amax = 0.0f;
    if (c < chunks) {
      const __nv_bfloat16 *row = gu + (size_t)t * 2 * hidden;
      float g[8], u[8], o[8];
      bf16x8_to_float(reinterpret_cast<const bf16x8 *>(row)[c], g);
      bf16x8_to_float(reinterpret_cast<const bf16x8 *>(row + hidden)[c], u);
      if (x_scale) {
        float xs = x_scale[t];
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = silu_bf16(scaled_bf16(g[j], sg[j], xs)) * scaled_bf16(u[j], su[j], xs);
      } else {
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = silu_bf16(g[j]) * u[j];
      }
      bf16x8 h = float_to_bf16x8(o);
      reinterpret_cast<bf16x8 *>(out + (size_t)t * hidden)[c] = h;
      amax = fp8_amax8(*reinterpret_cast<const uint4 *>(&h), 0.0f);
    }
    amax = warp_max(amax);  // every lane takes part; those past the row give 0
    if ((threadIdx.x & 31) == 0 && amax > 0.0f) atomicMax(amax_bits + t, __float_as_uint(amax));
  }
}

// The split variant's second pass: h's codes with the row's scale from its amax, as
// lj_cuda_quantize_act computes them; the first column chunk's thread writes the scale.
static __global__ void __launch_bounds__(SF_THREADS)
quant_from_amax_kernel8(uint8_t *q, float *q_scale, const __nv_bfloat16 *h, const unsigned *amax_bits, int n_tokens,
                        int hidden) {
  pdl_trigger();
  pdl_wait();  // h and the amax come from the first pass
  int c = blockIdx.x * SF_THREADS + threadIdx.x, chunks = hidden / 8;
  if (c >= chunks) return;
  for (int t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    float s = lj_fp8_row_scale(__uint_as_float(amax_bits[t]));
    uint4 v = reinterpret_cast<const uint4 *>(h + (size_t)t * hidden)[c];
    reinterpret_cast<uint2 *>(q + (size_t)t * hidden)[c] = fp8_quantize8(v, s);
    if (c == 0) q_scale[t] = s;
  }
}

static const char *const sq_names[LJ_SWIGLU_QUANT_COUNT] = {"row256", "row512", "row1024", "split"};
const char *lj_swiglu_quant_name(int variant) {
  return variant >= 0 && variant < LJ_SWIGLU_QUANT_COUNT ? sq_names[variant] : NULL;
}
int lj_swiglu_quant_parse(const char *name) {
  for (int v = 0; name && v < LJ_SWIGLU_QUANT_COUNT; v++)
    if (!strcmp(name, sq_names[v])) return v;
  return -1;
}

// One block of T threads per row: C chunks of 8 per thread, the smallest template that holds the row.
template <int T>
static void launch_rows(int per_thread, dim3 grid, cudaStream_t stream, __nv_bfloat16 *out, uint8_t *q,
                        float *q_scale, const __nv_bfloat16 *gu, const float *x_scale, const float *w_scale,
                        int hidden) {
  if (per_thread <= 1)
    lj_launch(swiglu_quant_kernel<1, T>, grid, dim3(T), 0, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  else if (per_thread <= 2)
    lj_launch(swiglu_quant_kernel<2, T>, grid, dim3(T), 0, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  else if (per_thread <= 4)
    lj_launch(swiglu_quant_kernel<4, T>, grid, dim3(T), 0, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  else if constexpr (T <= 512) {  // 32768 values per row at most: no more chunks than that
    if (per_thread <= 8)
      lj_launch(swiglu_quant_kernel<8, T>, grid, dim3(T), 0, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
    else if constexpr (T == 256)
      lj_launch(swiglu_quant_kernel<16, T>, grid, dim3(T), 0, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  }
}

int lj_cuda_swiglu_quant(__nv_bfloat16 *out, uint8_t *q, float *q_scale, const __nv_bfloat16 *gu,
                         const float *x_scale, const float *w_scale, int n_tokens, int hidden, int variant,
                         unsigned *amax, cudaStream_t stream) {
  if (n_tokens <= 0 || hidden <= 0) return 0;
  if (!lj_swiglu_quant_name(variant)) return LJ_FAIL(LJ_EINVAL, "swiglu_quant: unknown variant %d", variant);
  int threads = variant == LJ_SWIGLU_QUANT_ROW1024 ? 1024 : variant == LJ_SWIGLU_QUANT_ROW512 ? 512 : 256;
  int per_thread = (hidden / 8 + threads - 1) / threads;
  int vec = hidden % 8 == 0 && (uintptr_t)gu % 16 == 0 && (uintptr_t)out % 16 == 0 && (uintptr_t)q % 8 == 0 &&
            (!x_scale || (uintptr_t)w_scale % 16 == 0);
  if (variant == LJ_SWIGLU_QUANT_SPLIT ? !amax : per_thread * threads > SQ_MAX_CHUNKS * 256) vec = 0;
  if (!vec) {  // the two passes it replaces: the same bits
    LJ_TRY(x_scale ? lj_cuda_swiglu_fp8(out, gu, x_scale, w_scale, n_tokens, hidden, stream)
                   : lj_cuda_swiglu(out, gu, n_tokens, hidden, stream));
    return lj_cuda_quantize_act(q, q_scale, out, n_tokens, hidden, stream);
  }
  if (variant == LJ_SWIGLU_QUANT_SPLIT) {
    dim3 grid = lj_row_grid(hidden / 8, n_tokens, SF_THREADS, SF_BLOCKS);
    CUDA_CHECK(cudaMemsetAsync(amax, 0, sizeof(unsigned) * (size_t)n_tokens, stream));
    lj_launch(swiglu_amax_kernel8, grid, dim3(SF_THREADS), 0, stream, out, amax, gu, x_scale, w_scale, n_tokens,
              hidden);
    CUDA_CHECK_LAUNCH("swiglu_amax");
    lj_launch(quant_from_amax_kernel8, grid, dim3(SF_THREADS), 0, stream, q, q_scale, (const __nv_bfloat16 *)out,
              (const unsigned *)amax, n_tokens, hidden);
    CUDA_CHECK_LAUNCH("swiglu_quant split");
    return 0;
  }
  dim3 grid((unsigned)n_tokens);
  if (threads == 1024)
    launch_rows<1024>(per_thread, grid, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  else if (threads == 512)
    launch_rows<512>(per_thread, grid, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  else
    launch_rows<256>(per_thread, grid, stream, out, q, q_scale, gu, x_scale, w_scale, hidden);
  CUDA_CHECK_LAUNCH("swiglu_quant");
  return 0;
}
