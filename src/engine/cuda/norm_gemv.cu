// Residual add + RMSNorm folded into the own GEMV (composite stages attn_norm+qkv and
// ffn_norm+gate_up+swiglu). Grid: one block of 256 threads per R weight rows (QKV: R
// output rows; SwiGLU: R/2 gate rows and the R/2 matching up rows, so the block owns both
// halves of R/2 outputs). R = 4 as in gemv.cu, R = 8 for one token: half the blocks, so
// half the redundant norm work, with as many weight loads in flight per SM (8 per thread,
// 2 blocks per SM at 119 registers, against 4 per thread, 4 blocks per SM at R = 4).
// (Two tokens at R = 8 need 154 registers: one block per SM, too few loads in flight.)
//
// Every block first normalises the whole input itself (n rows of dim <= 8192, read from
// L2; cheaper than a kernel boundary): thread t reads 16-byte chunks t, t + 256, ... of
// x and delta, exactly the chunks it multiplies in the GEMV loop, so the normalised
// input goes to shared memory and each thread reads back only what it wrote itself.
// The sum of squares, the norm and the GEMV use the thread/chunk mapping, summation
// order and bf16 roundings of rmsnorm.cu, gemv.cu and swiglu.cu: the fused outputs are
// the unfused ones.
//
// x is updated in place (x += delta) after every block has read it: each block counts
// itself on a device counter once its reads are done; the last one writes the new x
// from its shared copy and resets the counter for the next launch.
// With programmatic dependent launch the block prefetches its weight rows into L2
// before waiting for the previous kernel.
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/gemv_loop.cuh"
#include "engine/cuda/norm_gemv.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/smem_optin.cuh"

#define NG_THREADS LJ_GEMV_THREADS
#define NG_WARPS LJ_GEMV_WARPS
#define NG_UNROLL 2
#define NG_MAX_DIM (NG_THREADS * 8 * 4)    // 8192, as rmsnorm.cu

static __device__ __forceinline__ float bf16r(float v) { return __bfloat162float(__float2bfloat16(v)); }

// Weight rows per block for N tokens.
template <int N>
struct ng_rows {
  static constexpr int value = N == 1 ? 8 : 4;
};

// SWIGLU false: y (n, out) = xn @ W^T. SWIGLU true: out = hidden, W = [gate; up] (2 out, dim),
// y (n, out) = silu(gate) * up.
template <int N, bool SWIGLU>
static __global__ void __launch_bounds__(NG_THREADS)
norm_gemv_kernel(__nv_bfloat16 *y, __nv_bfloat16 *x, const __nv_bfloat16 *delta, const __nv_bfloat16 *norm_w,
                 const __nv_bfloat16 *w, int dim, int out, float eps, int *counter) {
  constexpr int NG_ROWS = ng_rows<N>::value, NG_PAIRS = NG_ROWS / 2;
  extern __shared__ bf16x8 xs[];  // (N, dim / 8): v = x + delta, then the normalised input
  __shared__ float red[NG_WARPS][NG_ROWS][N];
  __shared__ float ss_warp[N][NG_WARPS];
  __shared__ float row_out[NG_ROWS][N];
  __shared__ int is_last;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int n8 = dim / 8;

  // This block's weight rows (a row past the end duplicates the last one and is never stored).
  int first = SWIGLU ? blockIdx.x * NG_PAIRS : blockIdx.x * NG_ROWS;
  const bf16x8 *w8[NG_ROWS];
#pragma unroll
  for (int r = 0; r < NG_ROWS; r++) {
    int row;
    if (SWIGLU) {
      int i = first + (r % NG_PAIRS);
      row = (i < out ? i : out - 1) + (r < NG_PAIRS ? 0 : out);  // gate rows, then up rows
    } else {
      row = first + r < out ? first + r : out - 1;
    }
    w8[r] = reinterpret_cast<const bf16x8 *>(w + (size_t)row * dim);
  }
  prefetch_rows<NG_ROWS>(w8, dim);  // x and delta come from the previous kernels

  // 1. v = bf16(x + delta) (exact in bf16) into shared memory; sum of squares per row,
  //    per thread in rmsnorm.cu's order.
  float ss[N];
#pragma unroll
  for (int b = 0; b < N; b++) {
    const bf16x8 *xi = reinterpret_cast<const bf16x8 *>(x + (size_t)b * dim);
    const bf16x8 *di = delta ? reinterpret_cast<const bf16x8 *>(delta + (size_t)b * dim) : nullptr;
    ss[b] = 0.0f;
#pragma unroll
    for (int k = 0; k < NG_MAX_DIM / (NG_THREADS * 8); k++) {
      int c = threadIdx.x + k * NG_THREADS;
      if (c < n8) {
        float v[8];
        bf16x8_to_float(xi[c], v);
        if (di) {
          float d[8];
          bf16x8_to_float(di[c], d);
#pragma unroll
          for (int j = 0; j < 8; j++) v[j] = bf16r(v[j] + d[j]);
        }
#pragma unroll
        for (int j = 0; j < 8; j++) ss[b] += v[j] * v[j];
        xs[(size_t)b * n8 + c] = float_to_bf16x8(v);
      }
    }
  }
  // Block sums as block_sum() computes them (warp butterflies, then the warps' partials).
#pragma unroll
  for (int b = 0; b < N; b++) {
    float s = warp_sum(ss[b]);
    if (lane == 0) ss_warp[b][warp] = s;
  }
  __syncthreads();  // also: every read of x and delta by this block is done
  float rstd[N];
#pragma unroll
  for (int b = 0; b < N; b++) {
    float s = warp_sum(lane < NG_WARPS ? ss_warp[b][lane] : 0.0f);
    rstd[b] = rsqrtf(s / (float)dim + eps);
  }

  // 2. The residual: the last block to finish reading x writes x = v.
  if (delta) {
    if (threadIdx.x == 0) {
      __threadfence();  // this block's reads of x are ordered before its count
      int prev = atomicAdd(counter, 1);
      is_last = prev == (int)gridDim.x - 1;
      if (is_last) *counter = 0;  // every block has counted: ready for the next launch
    }
    __syncthreads();
    if (is_last) {
      __threadfence();
#pragma unroll
      for (int b = 0; b < N; b++) {
        bf16x8 *xo = reinterpret_cast<bf16x8 *>(x + (size_t)b * dim);
        for (int c = threadIdx.x; c < n8; c += NG_THREADS) xo[c] = xs[(size_t)b * n8 + c];
      }
    }
  }

  // 3. Normalise in place: xn = bf16(norm_w * bf16(v * rstd)), as rmsnorm.cu.
  const bf16x8 *nw8 = reinterpret_cast<const bf16x8 *>(norm_w);
  for (int c = threadIdx.x; c < n8; c += NG_THREADS) {
    float wf[8];
    bf16x8_to_float(nw8[c], wf);
#pragma unroll
    for (int b = 0; b < N; b++) {
      float v[8], o[8];
      bf16x8_to_float(xs[(size_t)b * n8 + c], v);
#pragma unroll
      for (int j = 0; j < 8; j++) o[j] = wf[j] * bf16r(v[j] * rstd[b]);
      xs[(size_t)b * n8 + c] = float_to_bf16x8(o);
    }
  }
  __syncthreads();

  // 4. The GEMV, gemv.cu's loop with x read from shared memory.
  float v = gemv_rows<N, NG_ROWS, NG_UNROLL>(
      w8, n8, [&](int b, int c, float *xf) { bf16x8_to_float(xs[(size_t)b * n8 + c], xf); }, red);

  // 5. Epilogue: bf16 rows (QKV), or silu(gate) * up from the block's own gate and up rows.
  if (threadIdx.x < NG_ROWS * N) {
    int r = threadIdx.x / N, b = threadIdx.x % N;
    if (SWIGLU)
      row_out[r][b] = v;
    else if (first + r < out)
      y[(size_t)b * out + first + r] = __float2bfloat16(v);
  }
  if (SWIGLU) {
    __syncthreads();
    if (threadIdx.x < NG_PAIRS * N) {
      int p = threadIdx.x / N, b = threadIdx.x % N;
      if (first + p < out) {
        float g = bf16r(row_out[p][b]), u = bf16r(row_out[NG_PAIRS + p][b]);
        float silu = bf16r(g / (1.0f + __expf(-g)));  // as swiglu.cu
        y[(size_t)b * out + first + p] = __float2bfloat16(silu * u);
      }
    }
  }
}

static_assert(LJ_CUDA_FUSED_MAX_TOKENS == LJ_GEMV_MAX_N, "the fused calls are the GEMV's");

int lj_cuda_norm_gemv_supported(int n, int dim) {
  return n >= 1 && n <= LJ_GEMV_MAX_N && dim % 8 == 0 && dim > 0 && dim <= NG_MAX_DIM;
}

template <int N, bool SWIGLU>
static cudaError_t launch_n(__nv_bfloat16 *y, __nv_bfloat16 *x, const __nv_bfloat16 *delta,
                            const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w, int dim, int out, float eps,
                            int *counter, cudaStream_t s) {
  // Rows of up to 8 x 8192 bf16 (128 KiB) beside the static reductions: 8 rows of 3072 (48 KiB) need
  // the opt-in too.
  size_t smem = (size_t)N * dim * 2;
  static const size_t static_bytes = lj_static_smem(norm_gemv_kernel<N, SWIGLU>);
  cudaError_t err = lj_smem_optin(norm_gemv_kernel<N, SWIGLU>, static_bytes, smem);
  if (err != cudaSuccess) return err;
  int per_block = SWIGLU ? ng_rows<N>::value / 2 : ng_rows<N>::value;
  dim3 grid((unsigned)((out + per_block - 1) / per_block)), block(NG_THREADS);
  return lj_launch(norm_gemv_kernel<N, SWIGLU>, grid, block, smem, s, y, x, delta, norm_w, w, dim, out, eps,
                   counter);
}

template <bool SWIGLU>
static cudaError_t launch(__nv_bfloat16 *y, __nv_bfloat16 *x, const __nv_bfloat16 *delta,
                          const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w, int n, int dim, int out,
                          float eps, int *counter, cudaStream_t s) {
  switch (n) {
    case 1: return launch_n<1, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    case 2: return launch_n<2, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    case 3: return launch_n<3, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    case 4: return launch_n<4, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    case 5: return launch_n<5, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    case 6: return launch_n<6, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    case 7: return launch_n<7, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
    default: return launch_n<8, SWIGLU>(y, x, delta, norm_w, w, dim, out, eps, counter, s);
  }
}

static int check(const char *what, int n, int dim, int out, const void *delta, const int *counter) {
  if (!lj_cuda_norm_gemv_supported(n, dim))
    return LJ_FAIL(LJ_EUNSUPPORTED, "%s: %d tokens of dim %d (the fused kernels take 1 .. %d tokens, dim a "
                   "multiple of 8 up to %d)", what, n, dim, LJ_GEMV_MAX_N, NG_MAX_DIM);
  if (out <= 0) return LJ_FAIL(LJ_EINVAL, "%s: %d output rows", what, out);
  if (delta && !counter) return LJ_FAIL(LJ_EINVAL, "%s: a residual update needs the block counter", what);
  return 0;
}

int lj_cuda_norm_gemv(__nv_bfloat16 *y, __nv_bfloat16 *x, const __nv_bfloat16 *delta,
                      const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w, int n, int dim, int out,
                      float eps, int *counter, cudaStream_t stream) {
  LJ_TRY(check("attn_norm+qkv", n, dim, out, delta, counter));
  CUDA_CHECK(launch<false>(y, x, delta, norm_w, w, n, dim, out, eps, counter, stream));
  CUDA_CHECK_LAUNCH("norm_gemv");
  return 0;
}

int lj_cuda_norm_gemv_swiglu(__nv_bfloat16 *h, __nv_bfloat16 *x, const __nv_bfloat16 *delta,
                             const __nv_bfloat16 *norm_w, const __nv_bfloat16 *w_gu, int n, int dim,
                             int hidden, float eps, int *counter, cudaStream_t stream) {
  LJ_TRY(check("ffn_norm+gate_up+swiglu", n, dim, hidden, delta, counter));
  CUDA_CHECK(launch<true>(h, x, delta, norm_w, w_gu, n, dim, hidden, eps, counter, stream));
  CUDA_CHECK_LAUNCH("norm_gemv_swiglu");
  return 0;
}
