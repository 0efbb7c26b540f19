// FP8 GEMV (decode, <= 8 tokens): y(n, out) = x(n, in) @ (scale * Q)(out, in)^T with Q E4M3
// codes and one fp32 scale per output row. Every variant reads 16 codes per 16-byte load,
// converts them in registers (cvt.rn.f16x2.e4m3x2 on Hopper: E4M3 -> half is exact, then
// fp32), multiplies them with the matching 16 bf16 inputs of every x row, accumulates in fp32
// and applies the row's scale once, after the reduction (one multiply per output). W is read
// exactly once, streamed past L2 (__ldcs); with programmatic dependent launch a block prefetches
// its weight bytes into L2 before it waits for the previous kernel. The variants
// (fp8_gemv_variant.h) differ in how rows and loads are spread over the GPU:
//  base   gemv.cu's scheme: a block of 256 threads owns R rows (8 for 1-2 tokens: a 4096-wide
//         FP8 row is one chunk per thread, so more rows keep as many bytes in flight as the bf16
//         kernel; 4 otherwise); thread t reads chunks t, t + 256, ... of each row, 2 per row in
//         flight; warp + block reduction.
//  warp   a warp owns 2 rows and all their chunks (lane l: l, l + 32, ...), 4 chunks per row in
//         flight (8 loads per lane); a warp reduction only: no shared memory, no barrier.
//  pipe   persistent: as many blocks as fit on the GPU at once walk the row groups of R rows
//         (grid-stride); the next pass's loads (the next chunk of each row, or the first of the
//         next group) are issued before the current pass's math, so loads stay in flight across
//         the block reduction and only the first group of a block starts cold. R and the passes
//         loaded ahead (D) are a run-time configuration (gemv_config.h; default R as base, D 1);
//         each thread adds its chunks in the same order whatever R and D: the same bits.
//  splitk rows of in >= 8192 (down_proj, every 70B layer) are split over a cluster of
//         S = min(in / 4096, 4) blocks, each running base's loop on a slice of the R rows; the
//         cluster's first block adds the S partial sums through distributed shared memory in a
//         fixed order (deterministic). More, shorter blocks: less tail when a grid is ~2 waves.
//         Shorter rows run base.
#include <cooperative_groups.h>
#include <cuda_fp8.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/gemv_loop.cuh"
#include "engine/cuda/gemv_fp8.h"
#include "engine/cuda/pdl.h"

namespace cg = cooperative_groups;

#define F8_THREADS 256
#define F8_WARPS (F8_THREADS / 32)
static_assert(F8_WARPS == LJ_GEMV_WARPS, "block_reduce (gemv_loop.cuh) sums LJ_GEMV_WARPS partials");
#define F8_UNROLL 2
#define W8_THREADS 128  // warp variant: 4 warps per block
#define W8_ROWS 2       // rows per warp
#define W8_UNROLL 4     // chunks per row in flight

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

// Row `row` of the codes as 16-byte chunks; rows past the end read the last row (never stored).
static __device__ __forceinline__ const int4 *row_ptr(const uint8_t *w, int row, int out, int in) {
  return reinterpret_cast<const int4 *>(w + (size_t)(row < out ? row : out - 1) * in);
}

// Thread t of nt prefetches the 128-byte lines t, t + nt, ... of [p, p + bytes) into L2.
static __device__ __forceinline__ void prefetch_l2(const void *p, long bytes, int t, int nt) {
  for (long off = (long)t * 128; off < bytes; off += (long)nt * 128)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(reinterpret_cast<const char *>(p) + off));
}

template <typename OutT>
static __device__ __forceinline__ void store(OutT *y, size_t i, float v) {
  if constexpr (sizeof(OutT) == 4)
    y[i] = v;
  else
    y[i] = __float2bfloat16(v);
}

template <int N, int R>
static __device__ __forceinline__ void zero_acc(float (&acc)[R][N]) {
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int b = 0; b < N; b++) acc[r][b] = 0.0f;
}

// acc[r][b] += the dot product of chunk c of row r (16 codes, wv[r]) with token b's inputs.
template <int N, int R>
static __device__ __forceinline__ void fma_chunk(float (&acc)[R][N], const int4 (&wv)[R], const bf16x8 *x8, int n8,
                                                 int c) {
#pragma unroll
  for (int b = 0; b < N; b++) {
    float xf[16];
    bf16x8_to_float(x8[(size_t)b * n8 + 2 * c], xf);
    bf16x8_to_float(x8[(size_t)b * n8 + 2 * c + 1], xf + 8);
#pragma unroll
    for (int r = 0; r < R; r++) {
      float wf[16];
      fp8x16_to_float(wv[r], wf);
#pragma unroll
      for (int j = 0; j < 16; j++) acc[r][b] += wf[j] * xf[j];
    }
  }
}

// Chunks c0, c0 + 256, ... (< c1) of each of the R rows, F8_UNROLL chunks per row in flight.
template <int N, int R>
static __device__ __forceinline__ void dot_chunks(float (&acc)[R][N], const int4 *const (&w16)[R], const bf16x8 *x8,
                                                  int n8, int c0, int c1) {
  for (int c = c0; c < c1; c += F8_THREADS * F8_UNROLL) {
    int4 wv[F8_UNROLL][R];
#pragma unroll
    for (int u = 0; u < F8_UNROLL; u++) {
      int cc = c + u * F8_THREADS;
#pragma unroll
      for (int r = 0; r < R; r++) wv[u][r] = cc < c1 ? __ldcs(w16[r] + cc) : make_int4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < F8_UNROLL; u++) {
      int cc = c + u * F8_THREADS;
      if (cc < c1) fma_chunk<N, R>(acc, wv[u], x8, n8, cc);
    }
  }
}

template <int N, typename OutT>
static __global__ void __launch_bounds__(F8_THREADS)
gemv_fp8_base(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out) {
  constexpr int R = f8_rows<N>::value;
  __shared__ float red[F8_WARPS][R][N];
  int row0 = blockIdx.x * R, n16 = in / 16, n8 = in / 8;
  const int4 *w16[R];
#pragma unroll
  for (int r = 0; r < R; r++) w16[r] = row_ptr(w, row0 + r, out, in);
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < R; r++) prefetch_l2(w16[r], in, threadIdx.x, F8_THREADS);
  pdl_wait();
  float acc[R][N];
  zero_acc<N, R>(acc);
  dot_chunks<N, R>(acc, w16, reinterpret_cast<const bf16x8 *>(x), n8, threadIdx.x, n16);
  float v = block_reduce<N, R>(acc, red);
  int r = threadIdx.x / N, b = threadIdx.x % N;
  if (threadIdx.x < R * N && row0 + r < out) store(y, (size_t)b * out + row0 + r, v * scale[row0 + r]);
}

template <int N, typename OutT>
static __global__ void __launch_bounds__(W8_THREADS)
gemv_fp8_warp(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int row0 = (blockIdx.x * (W8_THREADS / 32) + warp) * W8_ROWS, n16 = in / 16, n8 = in / 8;
  const int4 *w16[W8_ROWS];
#pragma unroll
  for (int r = 0; r < W8_ROWS; r++) w16[r] = row_ptr(w, row0 + r, out, in);
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < W8_ROWS; r++) prefetch_l2(w16[r], in, lane, 32);
  pdl_wait();
  const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(x);
  float acc[W8_ROWS][N];
  zero_acc<N, W8_ROWS>(acc);
  for (int c = lane; c < n16; c += 32 * W8_UNROLL) {
    int4 wv[W8_UNROLL][W8_ROWS];
#pragma unroll
    for (int u = 0; u < W8_UNROLL; u++) {
      int cc = c + u * 32;
#pragma unroll
      for (int r = 0; r < W8_ROWS; r++) wv[u][r] = cc < n16 ? __ldcs(w16[r] + cc) : make_int4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < W8_UNROLL; u++) {
      int cc = c + u * 32;
      if (cc < n16) fma_chunk<N, W8_ROWS>(acc, wv[u], x8, n8, cc);
    }
  }
#pragma unroll
  for (int r = 0; r < W8_ROWS; r++)
#pragma unroll
    for (int b = 0; b < N; b++) {
      float v = warp_sum(acc[r][b]);  // every lane holds the sum; lane r * N + b stores it
      if (lane == r * N + b && row0 + r < out) store(y, (size_t)b * out + row0 + r, v * scale[row0 + r]);
    }
}

// One pass of a row group: chunk c of each of the R rows from row0 (zeros past the row's end).
template <int R>
static __device__ __forceinline__ void load_pass(int4 (&v)[R], const uint8_t *w, int row0, int c, int n16, int in,
                                                 int out) {
#pragma unroll
  for (int r = 0; r < R; r++) v[r] = c < n16 ? __ldcs(row_ptr(w, row0 + r, out, in) + c) : make_int4(0, 0, 0, 0);
}

// The pass after (g, p): the next chunk column of group g, or the first of the block's next group.
static __device__ __forceinline__ void next_pass(int &g, int &p, int passes) {
  if (++p == passes) g += gridDim.x, p = 0;
}

// R rows per group, D passes' loads in flight ahead of the pass being computed (D = 1: the next
// pass's loads issued before this pass's math).
template <int N, int R, int D, typename OutT>
static __global__ void __launch_bounds__(F8_THREADS)
gemv_fp8_pipe(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out) {
  __shared__ float red[2][F8_WARPS][R][N];  // alternate groups: one barrier per group suffices
  int n16 = in / 16, n8 = in / 8, passes = (n16 + F8_THREADS - 1) / F8_THREADS, groups = (out + R - 1) / R;
  int g = blockIdx.x, p = 0;  // the pass computed next; the grid has at most `groups` blocks
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < R; r++) prefetch_l2(row_ptr(w, g * R + r, out, in), in, threadIdx.x, F8_THREADS);
  pdl_wait();
  const bf16x8 *x8 = reinterpret_cast<const bf16x8 *>(x);
  int4 buf[D + 1][R];  // buf[0]: the pass computed now; buf[1 ..]: the passes after it
  int lg = g, lp = 0;  // the next pass to load
#pragma unroll
  for (int i = 0; i < D; i++) {
    if (lg < groups) load_pass<R>(buf[i], w, lg * R, lp * F8_THREADS + threadIdx.x, n16, in, out);
    next_pass(lg, lp, passes);
  }
  float acc[R][N];
  zero_acc<N, R>(acc);
  for (int sel = 0;;) {
    if (lg < groups) load_pass<R>(buf[D], w, lg * R, lp * F8_THREADS + threadIdx.x, n16, in, out);
    next_pass(lg, lp, passes);
    int c = p * F8_THREADS + threadIdx.x;
    if (c < n16) fma_chunk<N, R>(acc, buf[0], x8, n8, c);
    if (p == passes - 1) {  // the group's last pass: reduce, scale, store; the next group starts from 0
      float v = block_reduce<N, R>(acc, red[sel]);
      int r = threadIdx.x / N, b = threadIdx.x % N, row = g * R + r;
      if (threadIdx.x < R * N && row < out) store(y, (size_t)b * out + row, v * scale[row]);
      sel ^= 1;
      zero_acc<N, R>(acc);
    }
    next_pass(g, p, passes);
    if (g >= groups) break;
#pragma unroll
    for (int i = 0; i < D; i++)
#pragma unroll
      for (int r = 0; r < R; r++) buf[i][r] = buf[i + 1][r];
  }
}

template <int N, typename OutT>
static __global__ void __launch_bounds__(F8_THREADS)
gemv_fp8_splitk(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out) {
  constexpr int R = f8_rows<N>::value;
  __shared__ float red[F8_WARPS][R][N];
  __shared__ float part[R * N];
  cg::cluster_group cluster = cg::this_cluster();
  int S = (int)cluster.num_blocks(), s = (int)cluster.block_rank();
  int row0 = (int)(blockIdx.x / S) * R, n16 = in / 16, n8 = in / 8;
  int per = (n16 + S - 1) / S, c0 = s * per, c1 = min(n16, c0 + per);
  const int4 *w16[R];
#pragma unroll
  for (int r = 0; r < R; r++) w16[r] = row_ptr(w, row0 + r, out, in);
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < R; r++) prefetch_l2(w16[r] + c0, 16l * (c1 - c0), threadIdx.x, F8_THREADS);
  pdl_wait();
  float acc[R][N];
  zero_acc<N, R>(acc);
  dot_chunks<N, R>(acc, w16, reinterpret_cast<const bf16x8 *>(x), n8, c0 + (int)threadIdx.x, c1);
  float v = block_reduce<N, R>(acc, red);
  if (threadIdx.x < R * N) part[threadIdx.x] = v;
  cluster.sync();
  if (s == 0 && threadIdx.x < R * N) {
    float t = 0.0f;
    for (int k = 0; k < S; k++) t += cluster.map_shared_rank(part, (unsigned)k)[threadIdx.x];
    int r = threadIdx.x / N, b = threadIdx.x % N;
    if (row0 + r < out) store(y, (size_t)b * out + row0 + r, t * scale[row0 + r]);
  }
  cluster.sync();  // the other blocks' partial sums stay readable until the first block has read them
}

int lj_cuda_gemv_fp8_supported(int n, int in) { return n >= 1 && n <= LJ_GEMV_FP8_MAX_N && in % 16 == 0; }

// Blocks of a split-K cluster for rows of `in` codes (1: run base).
static int splitk_slices(int in) {
  int s = in / 4096;
  return s < 2 ? 1 : s > 4 ? 4 : s;
}

// kernel<<<grid, block, 0, s>>> in clusters of `cluster` blocks along x, with PDL when enabled.
template <typename... KArgs, typename... Args>
static cudaError_t launch_cluster(void (*kernel)(KArgs...), dim3 grid, dim3 block, int cluster, cudaStream_t s,
                                  Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.stream = s;
  cudaLaunchAttribute attr[2];
  int k = 0;
  attr[k].id = cudaLaunchAttributeClusterDimension;
  attr[k].val.clusterDim.x = (unsigned)cluster;
  attr[k].val.clusterDim.y = 1;
  attr[k].val.clusterDim.z = 1;
  k++;
  if (lj_cuda_pdl_enabled()) {
    attr[k].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[k].val.programmaticStreamSerializationAllowed = 1;
    k++;
  }
  cfg.attrs = attr;
  cfg.numAttrs = (unsigned)k;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
}

// The persistent grid of the pipe variant: blocks resident on the whole GPU at once (queried once
// per instantiation; the engine uses one device per process).
template <int N, int R, int D, typename OutT>
static unsigned pipe_grid(unsigned groups) {
  static int resident = 0;
  if (!resident) {
    int dev = 0, sms = 0, per_sm = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, gemv_fp8_pipe<N, R, D, OutT>, F8_THREADS, 0) != cudaSuccess ||
        per_sm < 1)
      sms = 132, per_sm = 1;
    resident = sms * per_sm;
  }
  return groups < (unsigned)resident ? groups : (unsigned)resident;
}

template <int N, int R, int D, typename OutT>
static cudaError_t launch_pipe(OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in, int out,
                               cudaStream_t s) {
  unsigned groups = (unsigned)((out + R - 1) / R);
  return lj_launch(gemv_fp8_pipe<N, R, D, OutT>, dim3(pipe_grid<N, R, D, OutT>(groups)), dim3(F8_THREADS), 0, s, y, x,
                   w, scale, in, out);
}

// The pipe variant in configuration cfg (gemv_config.h; 0: R = f8_rows<N>, D = 1).
// fp32 outputs (tests) and calls of more than LJ_GEMV_TUNED_MAX_N tokens run the default: every
// configuration gives its bits, so only the engine's bf16 outputs of 1-2 tokens (batch-1 decode)
// are instantiated for the others.
template <int N, typename OutT>
static cudaError_t launch_pipe_cfg(int cfg, OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale,
                                   int in, int out, cudaStream_t s) {
  if constexpr (sizeof(OutT) == 4 || N > LJ_GEMV_TUNED_MAX_N) {
    (void)cfg;
    return launch_pipe<N, (f8_rows<N>::value), 1>(y, x, w, scale, in, out, s);
  } else {
    int rows = cfg ? lj_fp8_pipe_config_rows(cfg) : f8_rows<N>::value, d2 = lj_fp8_pipe_config_depth(cfg) == 2;
    switch (rows) {
      case 2: return d2 ? launch_pipe<N, 2, 2>(y, x, w, scale, in, out, s) : launch_pipe<N, 2, 1>(y, x, w, scale, in, out, s);
      case 4: return d2 ? launch_pipe<N, 4, 2>(y, x, w, scale, in, out, s) : launch_pipe<N, 4, 1>(y, x, w, scale, in, out, s);
      case 8: return d2 ? launch_pipe<N, 8, 2>(y, x, w, scale, in, out, s) : launch_pipe<N, 8, 1>(y, x, w, scale, in, out, s);
      default:
        return d2 ? launch_pipe<N, 16, 2>(y, x, w, scale, in, out, s) : launch_pipe<N, 16, 1>(y, x, w, scale, in, out, s);
    }
  }
}

template <int N, typename OutT>
static cudaError_t launch_n(int variant, int pipe_cfg, OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int in,
                            int out, cudaStream_t s) {
  constexpr int R = f8_rows<N>::value;
  unsigned groups = (unsigned)((out + R - 1) / R);
  int slices = splitk_slices(in);
  switch (variant) {
    case LJ_FP8_GEMV_WARP: {
      constexpr int rows = W8_THREADS / 32 * W8_ROWS;
      return lj_launch(gemv_fp8_warp<N, OutT>, dim3((unsigned)((out + rows - 1) / rows)), dim3(W8_THREADS), 0, s, y,
                       x, w, scale, in, out);
    }
    case LJ_FP8_GEMV_PIPE:
      return launch_pipe_cfg<N, OutT>(pipe_cfg, y, x, w, scale, in, out, s);
    case LJ_FP8_GEMV_SPLITK:
      if (slices > 1)
        return launch_cluster(gemv_fp8_splitk<N, OutT>, dim3(groups * (unsigned)slices), dim3(F8_THREADS), slices, s, y,
                              x, w, scale, in, out);
      [[fallthrough]];  // short rows run base
    default:
      return lj_launch(gemv_fp8_base<N, OutT>, dim3(groups), dim3(F8_THREADS), 0, s, y, x, w, scale, in, out);
  }
}

template <typename OutT>
static cudaError_t launch(int variant, int pipe_cfg, OutT *y, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n,
                          int in, int out, cudaStream_t s) {
  switch (n) {
    case 1: return launch_n<1, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    case 2: return launch_n<2, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    case 3: return launch_n<3, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    case 4: return launch_n<4, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    case 5: return launch_n<5, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    case 6: return launch_n<6, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    case 7: return launch_n<7, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
    default: return launch_n<8, OutT>(variant, pipe_cfg, y, x, w, scale, in, out, s);
  }
}

int lj_cuda_gemv_fp8(void *y, int y_fp32, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n,
                     int in, int out, int variant, cudaStream_t stream) {
  return lj_cuda_gemv_fp8_cfg(y, y_fp32, x, w, scale, n, in, out, variant, LJ_FP8_PIPE_CONFIG_DEFAULT, stream);
}

int lj_cuda_gemv_fp8_cfg(void *y, int y_fp32, const __nv_bfloat16 *x, const uint8_t *w, const float *scale, int n,
                         int in, int out, int variant, int pipe_cfg, cudaStream_t stream) {
  if (!lj_cuda_gemv_fp8_supported(n, in))
    return LJ_FAIL(LJ_EUNSUPPORTED, "fp8 gemv: n=%d in=%d (needs 1 <= n <= %d, in %% 16 == 0)", n, in,
                   LJ_GEMV_FP8_MAX_N);
  if (!lj_fp8_gemv_name(variant))
    return LJ_FAIL(LJ_EINVAL, "fp8 gemv: variant %d (expected 0 .. %d)", variant, LJ_FP8_GEMV_COUNT - 1);
  if (!lj_fp8_pipe_config_name(pipe_cfg))
    return LJ_FAIL(LJ_EINVAL, "fp8 gemv: pipe configuration %d (expected 0 .. %d)", pipe_cfg,
                   LJ_FP8_PIPE_CONFIG_COUNT - 1);
  if (y_fp32)
    CUDA_CHECK(launch(variant, pipe_cfg, (float *)y, x, w, scale, n, in, out, stream));
  else
    CUDA_CHECK(launch(variant, pipe_cfg, (__nv_bfloat16 *)y, x, w, scale, n, in, out, stream));
  CUDA_CHECK_LAUNCH("gemv_fp8");
  return 0;
}
