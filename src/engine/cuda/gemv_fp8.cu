// FP8 GEMV (decode, <= 8 tokens): y(n, out) = x(n, in) @ (scale * Q)(out, in)^T with Q E4M3
// codes and one fp32 scale per output row. gemv.cu's scheme with 16 codes per 16-byte load:
// a block of 256 threads owns R output rows; thread t reads 16-byte chunks t, t + 256, ...
// of each row (a warp reads 512 contiguous bytes), converts them in registers (E4M3 -> half
// is exact, then fp32), multiplies with the matching 16 bf16 inputs of every x row, and
// accumulates in fp32; warp + block reduction; the row's scale is applied once at the end
// (one multiply per output). W is read exactly once, streamed past L2.
// R = 8 rows for one or two tokens (an 4096-wide FP8 row is one chunk per thread: more rows
// keep as many bytes in flight as the bf16 kernel), 4 otherwise.
#include <cuda_fp8.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv_fp8.h"
#include "engine/cuda/pdl.h"

#define F8_THREADS 256
#define F8_WARPS (F8_THREADS / 32)
#define F8_UNROLL 2

template <int N>
struct f8_rows {
  static constexpr int value = N <= 2 ? 8 : 4;
};

// 16 E4M3 codes (one int4) -> 16 floats.
static __device__ __forceinline__ void fp8x16_to_float(const int4 &v, float out[16]) {
  const __nv_fp8x2_storage_t *p = reinterpret_cast<const __nv_fp8x2_storage_t *>(&v);
#pragma unroll
  for (int i = 0; i < 8; i++) {
    __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(p[i], __NV_E4M3);
    float2 f = __half22float2(*reinterpret_cast<__half2 *>(&h));
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

template <int N, typename OutT>
static __global__ void __launch_bounds__(F8_THREADS)
gemv_fp8_kernel(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out) {
  constexpr int R = f8_rows<N>::value;
  __shared__ float red[F8_WARPS][R][N];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int row0 = blockIdx.x * R;
  int n16 = in / 16;
  const int4 *w16[R];
#pragma unroll
  for (int r = 0; r < R; r++) {
    int row = row0 + r < out ? row0 + r : out - 1;  // duplicate the last row, never stored
    w16[r] = reinterpret_cast<const int4 *>(w + (size_t)row * in);
  }
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < R; r++)
    for (int off = threadIdx.x * 128; off < in; off += F8_THREADS * 128)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(reinterpret_cast<const char *>(w16[r]) + off));
  pdl_wait();
  const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(x);
  int n8 = in / 8;
  float acc[R][N];
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int b = 0; b < N; b++) acc[r][b] = 0.0f;

  for (int c0 = threadIdx.x; c0 < n16; c0 += F8_THREADS * F8_UNROLL) {
    int4 wv[F8_UNROLL][R];
#pragma unroll
    for (int u = 0; u < F8_UNROLL; u++) {
      int c = c0 + u * F8_THREADS;
#pragma unroll
      for (int r = 0; r < R; r++) wv[u][r] = c < n16 ? __ldcs(w16[r] + c) : make_int4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < F8_UNROLL; u++) {
      int c = c0 + u * F8_THREADS;
      if (c < n16) {
#pragma unroll
        for (int b = 0; b < N; b++) {
          float xf[16];
          bf16x8_to_float(x8[(size_t)b * n8 + 2 * c], xf);
          bf16x8_to_float(x8[(size_t)b * n8 + 2 * c + 1], xf + 8);
#pragma unroll
          for (int r = 0; r < R; r++) {
            float wf[16];
            fp8x16_to_float(wv[u][r], wf);
#pragma unroll
            for (int j = 0; j < 16; j++) acc[r][b] += wf[j] * xf[j];
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int b = 0; b < N; b++) {
      float v = warp_sum(acc[r][b]);
      if (lane == 0) red[warp][r][b] = v;
    }
  __syncthreads();
  if (threadIdx.x < R * N) {
    int r = threadIdx.x / N, b = threadIdx.x % N;
    float v = 0.0f;
#pragma unroll
    for (int k = 0; k < F8_WARPS; k++) v += red[k][r][b];
    if (row0 + r < out) {
      v *= scale[row0 + r];
      if constexpr (sizeof(OutT) == 4)
        y[(size_t)b * out + row0 + r] = v;
      else
        y[(size_t)b * out + row0 + r] = __float2bfloat16(v);
    }
  }
}

int lj_cuda_gemv_fp8_supported(int n, int in) { return n >= 1 && n <= LJ_GEMV_FP8_MAX_N && in % 16 == 0; }

template <int N, typename OutT>
static cudaError_t launch_n(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out,
                            cudaStream_t s) {
  constexpr int R = f8_rows<N>::value;
  return lj_launch(gemv_fp8_kernel<N, OutT>, dim3((unsigned)((out + R - 1) / R)), dim3(F8_THREADS), 0, s, y, x, w,
                   scale, in, out);
}

template <typename OutT>
static cudaError_t launch(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n, int in,
                          int out, cudaStream_t s) {
  switch (n) {
    case 1: return launch_n<1, OutT>(y, x, w, scale, in, out, s);
    case 2: return launch_n<2, OutT>(y, x, w, scale, in, out, s);
    case 3: return launch_n<3, OutT>(y, x, w, scale, in, out, s);
    case 4: return launch_n<4, OutT>(y, x, w, scale, in, out, s);
    case 5: return launch_n<5, OutT>(y, x, w, scale, in, out, s);
    case 6: return launch_n<6, OutT>(y, x, w, scale, in, out, s);
    case 7: return launch_n<7, OutT>(y, x, w, scale, in, out, s);
    default: return launch_n<8, OutT>(y, x, w, scale, in, out, s);
  }
}

int lj_cuda_gemv_fp8(void *y, int y_fp32, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n,
                     int in, int out, cudaStream_t stream) {
  if (!lj_cuda_gemv_fp8_supported(n, in))
    return LJ_FAIL(LJ_EUNSUPPORTED, "fp8 gemv: n=%d in=%d (needs 1 <= n <= %d, in %% 16 == 0)", n, in,
                   LJ_GEMV_FP8_MAX_N);
  if (y_fp32)
    CUDA_CHECK(launch((float *)y, x, w, scale, n, in, out, stream));
  else
    CUDA_CHECK(launch((__nv_bfloat16 *)y, x, w, scale, n, in, out, stream));
  CUDA_CHECK_LAUNCH("gemv_fp8");
  return 0;
}
