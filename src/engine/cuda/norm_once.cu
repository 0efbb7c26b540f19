// The fused mode "norm once" (norm_once.h): o_proj's GEMV with the residual add and the FFN norm's
// sum of squares in its epilogue, and the gate|up GEMV that applies the norm on the fly.
//
// Both GEMVs are gemv.cu's: a block of 256 threads per R weight rows, thread t adding chunks t,
// t + 256, ... of every row (U in flight), so any (R, U) gives the same bits as lj_cuda_gemv_cfg.
// Unlike v6's norm_gemv.cu no block normalises the whole row: the residual x += delta is
// elementwise (each block adds its own R outputs), and only the sum of squares needs the whole row:
// every block counts itself on a device counter after its writes, and the last one reads the
// updated rows back from L2 and reduces them in rmsnorm.cu's order (thread t: chunks t, t + 256,
// ..., then block_sum), one rstd per token. The next GEMV reads x, rstd and the norm weight chunk
// by chunk (the chunks its thread multiplies anyway): no shared copy of the row, no second pass.
// With programmatic dependent launch each block prefetches its weight rows into L2 before waiting.
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/gemv_loop.cuh"
#include "engine/cuda/norm_once.h"
#include "engine/cuda/pdl.h"

#define NO_THREADS LJ_GEMV_THREADS
#define NO_WARPS LJ_GEMV_WARPS
#define NO_MAX_CHUNKS 4  // rmsnorm.cu's: rows of up to 256 * 8 * 4 = 8192
#define NO_MAX_DIM (NO_THREADS * 8 * NO_MAX_CHUNKS)

static __device__ __forceinline__ float bf16r(float v) { return __bfloat162float(__float2bfloat16(v)); }

template <int N, int R, int U>
static __global__ void __launch_bounds__(NO_THREADS)
gemv_residual_kernel(__nv_bfloat16 *delta, __nv_bfloat16 *x, float *rstd, const __nv_bfloat16 *a,
                     const __nv_bfloat16 *w, int in, int dim, float eps, int *counter) {
  __shared__ float red[NO_WARPS][R][N];
  __shared__ float scratch[32];
  __shared__ int is_last;
  int row0 = blockIdx.x * R, n8 = in / 8;
  const bf16x8 *w8[R];
  weight_rows<R>(w8, w, row0, dim, in);
  prefetch_rows<R>(w8, in);
  const bf16x8 *a8 = reinterpret_cast<const bf16x8 *>(a);
  float v = gemv_rows<N, R, U>(w8, n8, [&](int b, int c, float *xf) { bf16x8_to_float(a8[(size_t)b * n8 + c], xf); },
                               red);
  // The residual, rmsnorm.cu's rounding: x = bf16(x + bf16(delta)).
  if (threadIdx.x < R * N) {
    int r = threadIdx.x / N, b = threadIdx.x % N;
    if (row0 + r < dim) {
      size_t i = (size_t)b * dim + row0 + r;
      __nv_bfloat16 d = __float2bfloat16(v);
      delta[i] = d;
      x[i] = __float2bfloat16(__bfloat162float(x[i]) + __bfloat162float(d));
    }
  }
  __threadfence();  // this thread's x before the block's count
  __syncthreads();
  if (threadIdx.x == 0) is_last = atomicAdd(counter, 1) == (int)gridDim.x - 1;
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  // The last block: every row of x is final. rstd per token in rmsnorm.cu's summation order,
  // x read from L2 (__ldcg: this SM's L1 may hold lines other blocks have since written).
  int d8 = dim / 8;
#pragma unroll
  for (int b = 0; b < N; b++) {
    const int4 *xi = reinterpret_cast<const int4 *>(x + (size_t)b * dim);
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < NO_MAX_CHUNKS; k++) {
      int c = threadIdx.x + k * NO_THREADS;
      if (c < d8) {
        int4 raw = __ldcg(xi + c);
        float f[8];
        bf16x8_to_float(*reinterpret_cast<const bf16x8 *>(&raw), f);
#pragma unroll
        for (int j = 0; j < 8; j++) ss += f[j] * f[j];
      }
    }
    ss = block_sum(ss, scratch);
    if (threadIdx.x == 0) rstd[b] = rsqrtf(ss / (float)dim + eps);
  }
  if (threadIdx.x == 0) *counter = 0;  // every block has counted: ready for the next launch
}

// P gate rows and their P up rows per block (R = 2P weight rows).
template <int N, int P, int U>
static __global__ void __launch_bounds__(NO_THREADS)
scaled_gemv_swiglu_kernel(__nv_bfloat16 *h, const __nv_bfloat16 *x, const float *rstd, const __nv_bfloat16 *norm_w,
                          const __nv_bfloat16 *w, int dim, int hidden) {
  constexpr int R = 2 * P;
  __shared__ float red[NO_WARPS][R][N];
  __shared__ float row_out[R][N];
  int first = blockIdx.x * P, n8 = dim / 8;
  const bf16x8 *w8[R];
#pragma unroll
  for (int r = 0; r < R; r++) {
    int i = first + r % P;
    int row = (i < hidden ? i : hidden - 1) + (r < P ? 0 : hidden);  // gate rows, then up rows
    w8[r] = reinterpret_cast<const bf16x8 *>(w + (size_t)row * dim);
  }
  prefetch_rows<R>(w8, dim);
  float rs[N];
#pragma unroll
  for (int b = 0; b < N; b++) rs[b] = rstd[b];
  const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(x), *nw8 = reinterpret_cast<const bf16x8 *>(norm_w);
  // xn = bf16(norm_w * bf16(x * rstd)), rmsnorm.cu's roundings, for the chunk this thread multiplies
  float v = gemv_rows<N, R, U>(w8, n8,
                               [&](int b, int c, float *xf) {
                                 float xv[8], wf[8];
                                 bf16x8_to_float(x8[(size_t)b * n8 + c], xv);
                                 bf16x8_to_float(nw8[c], wf);
#pragma unroll
                                 for (int j = 0; j < 8; j++) xf[j] = bf16r(wf[j] * bf16r(xv[j] * rs[b]));
                               },
                               red);
  if (threadIdx.x < R * N) row_out[threadIdx.x / N][threadIdx.x % N] = v;
  __syncthreads();
  if (threadIdx.x < P * N) {  // silu(gate) * up, swiglu.cu's roundings
    int p = threadIdx.x / N, b = threadIdx.x % N;
    if (first + p < hidden) {
      float g = bf16r(row_out[p][b]), u = bf16r(row_out[P + p][b]);
      float silu = bf16r(g / (1.0f + __expf(-g)));
      h[(size_t)b * hidden + first + p] = __float2bfloat16(silu * u);
    }
  }
}

int lj_cuda_norm_once_supported(int n, int in, int dim) {
  return n >= 1 && n <= LJ_GEMV_MAX_N && in > 0 && in % 8 == 0 && dim > 0 && dim % 8 == 0 && dim <= NO_MAX_DIM;
}

// Launches kernel K<N, A, U> for configuration (A, U) at 1-2 tokens, else K<N, DA, 2>: the
// configurations apply to batch-1/2 decode, as in gemv.cu (the same bits either way).
#define NO_DISPATCH(K, DA, A_OF_CFG, GRID, ...)                                                          \
  do {                                                                                                 \
    int a_ = A_OF_CFG, u_ = lj_gemv_config_unroll(cfg);                                                \
    if (n > LJ_GEMV_TUNED_MAX_N) a_ = DA, u_ = 2;                                                      \
    dim3 grid_((unsigned)(GRID)), block_(NO_THREADS);                                                  \
    switch (n * 100 + a_ * 10 + u_) {                                                                  \
      NO_CASES_TUNED(K, 1, __VA_ARGS__)                                                                \
      NO_CASES_TUNED(K, 2, __VA_ARGS__)                                                                \
      case 300 + DA * 10 + 2: err_ = lj_launch(K<3, DA, 2>, grid_, block_, 0, stream, __VA_ARGS__); break; \
      case 400 + DA * 10 + 2: err_ = lj_launch(K<4, DA, 2>, grid_, block_, 0, stream, __VA_ARGS__); break; \
      case 500 + DA * 10 + 2: err_ = lj_launch(K<5, DA, 2>, grid_, block_, 0, stream, __VA_ARGS__); break; \
      case 600 + DA * 10 + 2: err_ = lj_launch(K<6, DA, 2>, grid_, block_, 0, stream, __VA_ARGS__); break; \
      case 700 + DA * 10 + 2: err_ = lj_launch(K<7, DA, 2>, grid_, block_, 0, stream, __VA_ARGS__); break; \
      case 800 + DA * 10 + 2: err_ = lj_launch(K<8, DA, 2>, grid_, block_, 0, stream, __VA_ARGS__); break; \
      default: return LJ_FAIL(LJ_EINVAL, "norm once: no kernel for %d tokens, shape %d, unroll %d", n, a_, u_); \
    }                                                                                                  \
  } while (0)
#define NO_CASE(K, N, A, U, ...) \
  case N * 100 + A * 10 + U: err_ = lj_launch(K<N, A, U>, grid_, block_, 0, stream, __VA_ARGS__); break;
#define NO_CASES_U(K, N, A, ...) NO_CASE(K, N, A, 1, __VA_ARGS__) NO_CASE(K, N, A, 2, __VA_ARGS__) NO_CASE(K, N, A, 4, __VA_ARGS__)

int lj_cuda_gemv_residual_norm(__nv_bfloat16 *delta, __nv_bfloat16 *x, float *rstd, const __nv_bfloat16 *a,
                               const __nv_bfloat16 *w, int n, int in, int dim, float eps, int *counter, int cfg,
                               cudaStream_t stream) {
  if (!lj_cuda_norm_once_supported(n, in, dim))
    return LJ_FAIL(LJ_EUNSUPPORTED, "o_proj+ffn_norm: %d tokens, in %d, dim %d (1 .. %d tokens, multiples of 8, dim "
                   "<= %d)", n, in, dim, LJ_GEMV_MAX_N, NO_MAX_DIM);
  if (!lj_gemv_config_name(cfg) || !counter)
    return LJ_FAIL(LJ_EINVAL, "o_proj+ffn_norm: configuration %d, counter %p", cfg, (const void *)counter);
  cudaError_t err_ = cudaSuccess;
  int R = lj_gemv_config_rows(cfg);
  int grid_rows = n > LJ_GEMV_TUNED_MAX_N ? 4 : R;
#define NO_CASES_TUNED(K, N, ...)                                                                        \
  NO_CASES_U(K, N, 1, __VA_ARGS__) NO_CASES_U(K, N, 2, __VA_ARGS__) NO_CASES_U(K, N, 4, __VA_ARGS__)    \
  NO_CASES_U(K, N, 8, __VA_ARGS__)
  NO_DISPATCH(gemv_residual_kernel, 4, R, (dim + grid_rows - 1) / grid_rows, delta, x, rstd, a, w, in, dim, eps,
              counter);
#undef NO_CASES_TUNED
  CUDA_CHECK(err_);
  CUDA_CHECK_LAUNCH("gemv_residual_norm");
  return 0;
}

int lj_cuda_scaled_gemv_swiglu(__nv_bfloat16 *h, const __nv_bfloat16 *x, const float *rstd,
                               const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w_gu, int n, int dim, int hidden,
                               int cfg, cudaStream_t stream) {
  if (!lj_cuda_norm_once_supported(n, dim, dim) || hidden <= 0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "gate_up+swiglu: %d tokens, dim %d, hidden %d (1 .. %d tokens, dim a multiple "
                   "of 8 up to %d)", n, dim, hidden, LJ_GEMV_MAX_N, NO_MAX_DIM);
  if (!lj_gemv_config_name(cfg)) return LJ_FAIL(LJ_EINVAL, "gate_up+swiglu: configuration %d", cfg);
  cudaError_t err_ = cudaSuccess;
  int rows = lj_gemv_config_rows(cfg), P = rows < 2 ? 1 : rows / 2;
  int grid_pairs = n > LJ_GEMV_TUNED_MAX_N ? 2 : P;
#define NO_CASES_TUNED(K, N, ...) \
  NO_CASES_U(K, N, 1, __VA_ARGS__) NO_CASES_U(K, N, 2, __VA_ARGS__) NO_CASES_U(K, N, 4, __VA_ARGS__)
  NO_DISPATCH(scaled_gemv_swiglu_kernel, 2, P, (hidden + grid_pairs - 1) / grid_pairs, h, x, rstd, norm_w, w_gu, dim,
              hidden);
#undef NO_CASES_TUNED
  CUDA_CHECK(err_);
  CUDA_CHECK_LAUNCH("scaled_gemv_swiglu");
  return 0;
}
