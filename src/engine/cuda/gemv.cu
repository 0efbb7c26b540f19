// bf16 GEMV: a block of 8 warps computes R output rows; its 256 threads
// split the input dimension (thread t reads 16-byte chunks t, t + 256, ... of
// every row, so a warp reads 512 contiguous bytes), U chunks per row
// in flight, each weight chunk multiplied with the matching chunk of every x
// row (x is small and stays in L1/L2), fp32 accumulation, then a warp + block
// reduction (gemv_loop.cuh, shared with the fused kernels). W is read exactly once. Many small blocks keep enough loads in
// flight for short rows too (in = 2048: one chunk per thread per row).
// (R, U) is a run-time choice among gemv_config.h's twelve (default 4, 2): a thread adds
// its chunks in the same order whatever R and U, so every configuration gives the same bits.
// With programmatic dependent launch, the block prefetches its weight rows into
// L2 before waiting for the previous kernel.
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/gemv_loop.cuh"
#include "engine/cuda/pdl.h"

#define GEMV_THREADS LJ_GEMV_THREADS
#define GEMV_WARPS LJ_GEMV_WARPS

template <int N, int R, int U, typename OutT>
static __global__ void __launch_bounds__(GEMV_THREADS)
gemv_kernel(OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int in, int out) {
  __shared__ float red[GEMV_WARPS][R][N];
  int row0 = blockIdx.x * R;
  int n8 = in / 8;
  const bf16x8 *w8[R];
  weight_rows<R>(w8, w, row0, out, in);
  prefetch_rows<R>(w8, in);
  const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(x);
  float v = gemv_rows<N, R, U>(w8, n8, [&](int b, int c, float *xf) { bf16x8_to_float(x8[(size_t)b * n8 + c], xf); },
                               red);
  if (threadIdx.x < R * N) {
    int r = threadIdx.x / N, b = threadIdx.x % N;
    if (row0 + r < out) {
      if constexpr (sizeof(OutT) == 4)
        y[(size_t)b * out + row0 + r] = v;
      else
        y[(size_t)b * out + row0 + r] = __float2bfloat16(v);
    }
  }
}

int lj_cuda_gemv_supported(int n, int in) { return n >= 1 && n <= LJ_GEMV_MAX_N && in % 8 == 0; }

// Calls of more than LJ_GEMV_TUNED_MAX_N tokens run the default (the same bits), so that only
// 1-2 tokens (batch-1 decode) are instantiated for the other configurations.
template <int R, int U, typename OutT>
static void launch_ru(OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                      cudaStream_t s) {
  dim3 grid((out + R - 1) / R), block(GEMV_THREADS);
  if (n == 1)
    lj_launch(gemv_kernel<1, R, U, OutT>, grid, block, 0, s, y, x, w, in, out);
  else
    lj_launch(gemv_kernel<2, R, U, OutT>, grid, block, 0, s, y, x, w, in, out);
}

template <typename OutT>
static void launch_default(OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                           cudaStream_t s) {
  constexpr int R = 4, U = 2;  // LJ_GEMV_CONFIG_DEFAULT
  static_assert(LJ_GEMV_CONFIG_DEFAULT == 7, "r4u2");
  dim3 grid((out + R - 1) / R), block(GEMV_THREADS);
  switch (n) {
    case 1: lj_launch(gemv_kernel<1, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    case 2: lj_launch(gemv_kernel<2, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    case 3: lj_launch(gemv_kernel<3, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    case 4: lj_launch(gemv_kernel<4, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    case 5: lj_launch(gemv_kernel<5, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    case 6: lj_launch(gemv_kernel<6, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    case 7: lj_launch(gemv_kernel<7, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
    default: lj_launch(gemv_kernel<8, R, U, OutT>, grid, block, 0, s, y, x, w, in, out); break;
  }
}

template <int R, typename OutT>
static void launch_r(int unroll, OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                     cudaStream_t s) {
  if (unroll == 1)
    launch_ru<R, 1>(y, x, w, n, in, out, s);
  else if (unroll == 2)
    launch_ru<R, 2>(y, x, w, n, in, out, s);
  else
    launch_ru<R, 4>(y, x, w, n, in, out, s);
}

template <typename OutT>
static void launch(int cfg, OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                   cudaStream_t s) {
  int rows = lj_gemv_config_rows(cfg), unroll = lj_gemv_config_unroll(cfg);
  if (cfg == LJ_GEMV_CONFIG_DEFAULT || n > LJ_GEMV_TUNED_MAX_N)
    launch_default(y, x, w, n, in, out, s);
  else if (rows == 1)
    launch_r<1>(unroll, y, x, w, n, in, out, s);
  else if (rows == 2)
    launch_r<2>(unroll, y, x, w, n, in, out, s);
  else if (rows == 4)
    launch_r<4>(unroll, y, x, w, n, in, out, s);
  else
    launch_r<8>(unroll, y, x, w, n, in, out, s);
}

int lj_cuda_gemv_cfg(void *y, int y_fp32, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                     int cfg, cudaStream_t stream) {
  if (!lj_cuda_gemv_supported(n, in))
    return LJ_FAIL(LJ_EUNSUPPORTED, "gemv: n=%d in=%d (needs 1 <= n <= %d, in %% 8 == 0)", n, in,
                   LJ_GEMV_MAX_N);
  if (!lj_gemv_config_name(cfg))
    return LJ_FAIL(LJ_EINVAL, "gemv: configuration %d (expected 0 .. %d)", cfg, LJ_GEMV_CONFIG_COUNT - 1);
  if (y_fp32)
    launch(cfg, (float *)y, x, w, n, in, out, stream);
  else
    launch(cfg, (__nv_bfloat16 *)y, x, w, n, in, out, stream);
  CUDA_CHECK_LAUNCH("gemv");
  return 0;
}

int lj_cuda_gemv(void *y, int y_fp32, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n,
                 int in, int out, cudaStream_t stream) {
  return lj_cuda_gemv_cfg(y, y_fp32, x, w, n, in, out, LJ_GEMV_CONFIG_DEFAULT, stream);
}
