// The own bf16 GEMV's core, shared by its kernels (gemv.cu, norm_gemv.cu, norm_once.cu) so that
// they sum in one order: a block of 256 threads per R weight rows, thread t adding the 16-byte
// chunks t, t + 256, ... of every row (U chunks per row in flight) with the matching chunk of
// each of the N input rows, fp32 accumulation, then warp butterflies and the warps' partials in
// order. Any (R, U) gives the same bits. Included by .cu files only.
#pragma once
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/pdl.h"

#define LJ_GEMV_THREADS 256
#define LJ_GEMV_WARPS (LJ_GEMV_THREADS / 32)

// Rows row0 .. row0 + R - 1 of w (rows of len), a row past `rows` duplicating the last one (never stored).
template <int R>
static __device__ __forceinline__ void weight_rows(const bf16x8 *(&w8)[R], const __nv_bfloat16 *w, int row0, int rows,
                                                   int len) {
#pragma unroll
  for (int r = 0; r < R; r++) {
    int row = row0 + r < rows ? row0 + r : rows - 1;
    w8[r] = reinterpret_cast<const bf16x8 *>(w + (size_t)row * len);
  }
}

// Weight rows and their L2 prefetch before waiting for the previous kernel (gemv.cu's prologue).
template <int R>
static __device__ __forceinline__ void prefetch_rows(const bf16x8 *const (&w8)[R], int len) {
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < R; r++)
    for (int off = threadIdx.x * 128; off < len * 2; off += LJ_GEMV_THREADS * 128)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(reinterpret_cast<const char *>(w8[r]) + off));
  pdl_wait();
}

// The block's sums: thread k < R * N returns output (r, b) = (k / N, k % N), summed over the
// warps in order; the others return 0. red: LJ_GEMV_WARPS x R x N floats of shared memory.
// (Also the FP8 GEMV's, gemv_fp8.cu.)
template <int N, int R>
static __device__ __forceinline__ float block_reduce(float (&acc)[R][N], float (*red)[R][N]) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int b = 0; b < N; b++) {
      float v = warp_sum(acc[r][b]);
      if (lane == 0) red[warp][r][b] = v;
    }
  __syncthreads();
  float v = 0.0f;
  if (threadIdx.x < R * N) {
    int r = threadIdx.x / N, b = threadIdx.x % N;
#pragma unroll
    for (int k = 0; k < LJ_GEMV_WARPS; k++) v += red[k][r][b];
  }
  return v;
}

// gemv.cu's loop and reduction: out[r][b] (valid in threads < R * N, r = t / N, b = t % N) is
// row r's dot product with x row b, whose chunk c xload(b, c, xf) gives as 8 floats.
template <int N, int R, int U, typename XLoad>
static __device__ __forceinline__ float gemv_rows(const bf16x8 *const (&w8)[R], int n8, XLoad xload,
                                                  float (&red)[LJ_GEMV_WARPS][R][N]) {
  float acc[R][N];
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int b = 0; b < N; b++) acc[r][b] = 0.0f;
  for (int c0 = threadIdx.x; c0 < n8; c0 += LJ_GEMV_THREADS * U) {
    bf16x8 wv[U][R];
#pragma unroll
    for (int u = 0; u < U; u++) {
      int c = c0 + u * LJ_GEMV_THREADS;
#pragma unroll
      for (int r = 0; r < R; r++) {
        if (c < n8) {
          int4 t = __ldcs(reinterpret_cast<const int4 *>(w8[r] + c));  // streamed, not kept in L2
          wv[u][r] = *reinterpret_cast<bf16x8 *>(&t);
        } else {
          wv[u][r] = bf16x8{};
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      int c = c0 + u * LJ_GEMV_THREADS;
      if (c < n8) {
#pragma unroll
        for (int b = 0; b < N; b++) {
          float xf[8];
          xload(b, c, xf);
#pragma unroll
          for (int r = 0; r < R; r++) {
            float wf[8];
            bf16x8_to_float(wv[u][r], wf);
#pragma unroll
            for (int j = 0; j < 8; j++) acc[r][b] += wf[j] * xf[j];
          }
        }
      }
    }
  }
  return block_reduce<N, R>(acc, red);
}

