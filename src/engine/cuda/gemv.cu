// bf16 GEMV: one warp per ROWS output rows; each lane streams 16-byte chunks of
// the weight rows, UNROLL chunks in flight, multiplies them with the matching
// chunk of every x row (x is small and stays in L1/L2), fp32 accumulation,
// then a warp reduction. W is read exactly once: the kernel runs at the
// memory-bandwidth limit when out is large enough to fill the GPU.
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv.h"

#define GEMV_WARPS 4
#define GEMV_ROWS 2
#define GEMV_UNROLL 4

template <int N, typename OutT>
static __global__ void __launch_bounds__(GEMV_WARPS * 32)
gemv_kernel(OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int in, int out) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int row0 = (blockIdx.x * GEMV_WARPS + warp) * GEMV_ROWS;
  if (row0 >= out) return;
  int n8 = in / 8;
  const bf16x8 *w8[GEMV_ROWS];
#pragma unroll
  for (int r = 0; r < GEMV_ROWS; r++) {
    int row = row0 + r < out ? row0 + r : out - 1;  // duplicate the last row, never stored
    w8[r] = reinterpret_cast<const bf16x8 *>(w + (size_t)row * in);
  }
  const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(x);
  float acc[GEMV_ROWS][N];
#pragma unroll
  for (int r = 0; r < GEMV_ROWS; r++)
#pragma unroll
    for (int b = 0; b < N; b++) acc[r][b] = 0.0f;

  for (int c0 = lane; c0 < n8; c0 += 32 * GEMV_UNROLL) {
    bf16x8 wv[GEMV_UNROLL][GEMV_ROWS];
#pragma unroll
    for (int u = 0; u < GEMV_UNROLL; u++) {
      int c = c0 + u * 32;
#pragma unroll
      for (int r = 0; r < GEMV_ROWS; r++)
        if (c < n8) {
          int4 t = __ldcs(reinterpret_cast<const int4 *>(w8[r] + c));  // streamed, not kept in L2
          wv[u][r] = *reinterpret_cast<bf16x8 *>(&t);
        } else {
          wv[u][r] = bf16x8{};
        }
    }
#pragma unroll
    for (int u = 0; u < GEMV_UNROLL; u++) {
      int c = c0 + u * 32;
      if (c < n8) {
#pragma unroll
        for (int b = 0; b < N; b++) {
          float xf[8];
          bf16x8 xv = x8[(size_t)b * n8 + c];
          bf16x8_to_float(xv, xf);
#pragma unroll
          for (int r = 0; r < GEMV_ROWS; r++) {
            float wf[8];
            bf16x8_to_float(wv[u][r], wf);
#pragma unroll
            for (int j = 0; j < 8; j++) acc[r][b] += wf[j] * xf[j];
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < GEMV_ROWS; r++)
#pragma unroll
    for (int b = 0; b < N; b++) {
      float v = warp_sum(acc[r][b]);
      if (lane == 0 && row0 + r < out) {
        if constexpr (sizeof(OutT) == 4)
          y[(size_t)b * out + row0 + r] = v;
        else
          y[(size_t)b * out + row0 + r] = __float2bfloat16(v);
      }
    }
}

int lj_cuda_gemv_supported(int n, int in) { return n >= 1 && n <= LJ_GEMV_MAX_N && in % 8 == 0; }

template <typename OutT>
static void launch(OutT *y, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n, int in, int out,
                   cudaStream_t s) {
  int rows_per_block = GEMV_WARPS * GEMV_ROWS;
  int blocks = (out + rows_per_block - 1) / rows_per_block;
  dim3 grid(blocks), block(GEMV_WARPS * 32);
  switch (n) {
    case 1: gemv_kernel<1, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    case 2: gemv_kernel<2, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    case 3: gemv_kernel<3, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    case 4: gemv_kernel<4, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    case 5: gemv_kernel<5, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    case 6: gemv_kernel<6, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    case 7: gemv_kernel<7, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
    default: gemv_kernel<8, OutT><<<grid, block, 0, s>>>(y, x, w, in, out); break;
  }
}

int lj_cuda_gemv(void *y, int y_fp32, const __nv_bfloat16 *x, const __nv_bfloat16 *w, int n,
                 int in, int out, cudaStream_t stream) {
  if (!lj_cuda_gemv_supported(n, in))
    return LJ_FAIL(LJ_EUNSUPPORTED, "gemv: n=%d in=%d (needs 1 <= n <= %d, in %% 8 == 0)", n, in,
                   LJ_GEMV_MAX_N);
  if (y_fp32)
    launch((float *)y, x, w, n, in, out, stream);
  else
    launch((__nv_bfloat16 *)y, x, w, n, in, out, stream);
  CUDA_CHECK_LAUNCH("gemv");
  return 0;
}
