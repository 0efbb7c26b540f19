// Flash-attention style prefill on tensor cores (wmma bf16 16x16x16, fp32 accumulation).
//   grid (ceil(max_q_len / 128), n_heads, n_seqs), 8 warps; warp w owns 16 query rows
//   (128 queries share each K/V tile load).
//   For each 64-key tile up to the block's last query position:
//     S = Q K^T (wmma) -> shared fp32; online softmax per row in registers (running
//     max m and sum l, exp2 with the 1/sqrt(hd) * log2(e) scale folded in, causal
//     and length masks); P (bf16) -> shared; O = O * alpha + P V with O held in
//     wmma accumulators in registers (rows rescaled through a row map read off a
//     fragment). Finally O / l -> bf16. Query tiles run longest first.
// The head dim is padded to HDP (16, 32, 64, 128) with zeros, so any head_dim <= 128 works.
#include <math.h>
#include <stdint.h>
#include <mma.h>

#include "engine/cuda/attention_prefill.h"
#include "engine/cuda/attention_prefill_mma.h"
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"

using namespace nvcuda;

#define PF_BQ 128
#define PF_BK 64
#define PF_WARPS 8

template <int HDP>
struct pf_smem {
  static constexpr int LD_H = HDP + 8;    // bf16 tiles, padded against bank conflicts
  static constexpr int LD_S = PF_BK + 4;  // fp32 scores
  static constexpr int LD_P = PF_BK + 8;  // bf16 probabilities
  static constexpr int LD_O = HDP + 4;    // fp32 output accumulator
  // The Q tile is read once into registers, so it shares its space with the scores.
  static constexpr size_t s_bytes = sizeof(float) * PF_BQ * LD_S, q_bytes = sizeof(__nv_bfloat16) * PF_BQ * LD_H;
  static constexpr size_t k = 0;
  static constexpr size_t v = k + sizeof(__nv_bfloat16) * PF_BK * LD_H;
  static constexpr size_t sc = v + sizeof(__nv_bfloat16) * PF_BK * LD_H;
  static constexpr size_t q = sc;
  static constexpr size_t p = sc + (s_bytes > q_bytes ? s_bytes : q_bytes);
  static constexpr size_t bytes = p + sizeof(__nv_bfloat16) * PF_BQ * LD_P;  // O lives in registers
};

// Copies ROWS rows of a (rows, hd) matrix with row stride `stride` into a
// zero-padded (ROWS, HDP) bf16 tile; rows >= n_rows become zeros.
template <int HDP, int ROWS>
static __device__ void load_tile(__nv_bfloat16 *tile, const __nv_bfloat16 *src, size_t stride,
                                 int n_rows, int hd) {
  constexpr int LD = pf_smem<HDP>::LD_H;
  if ((hd & 7) == 0 && (stride & 7) == 0) {
    constexpr int CH = HDP / 8;
    for (int idx = threadIdx.x; idx < ROWS * CH; idx += blockDim.x) {
      int r = idx / CH, c = idx % CH;
      bf16x8 v = {};
      if (r < n_rows && c * 8 < hd) v = *reinterpret_cast<const bf16x8 *>(src + (size_t)r * stride + c * 8);
      *reinterpret_cast<bf16x8 *>(tile + r * LD + c * 8) = v;
    }
  } else {
    for (int idx = threadIdx.x; idx < ROWS * HDP; idx += blockDim.x) {
      int r = idx / HDP, c = idx % HDP;
      tile[r * LD + c] = (r < n_rows && c < hd) ? src[(size_t)r * stride + c] : __float2bfloat16(0.0f);
    }
  }
}

template <int HDP, int MIN_BLOCKS>
static __global__ void __launch_bounds__(PF_WARPS * 32, MIN_BLOCKS)
attn_prefill_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *qkv, const __nv_bfloat16 *k_cache,
                    const __nv_bfloat16 *v_cache, const int *q_start, const int *q_len_a,
                    const int *ctx_start_a, lj_attn_prefill_shape s, float scale_log2) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  using L = pf_smem<HDP>;
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16 *Qs = reinterpret_cast<__nv_bfloat16 *>(smem + L::q);
  __nv_bfloat16 *Ks = reinterpret_cast<__nv_bfloat16 *>(smem + L::k);
  __nv_bfloat16 *Vs = reinterpret_cast<__nv_bfloat16 *>(smem + L::v);
  float *Ss = reinterpret_cast<float *>(smem + L::sc);
  __nv_bfloat16 *Ps = reinterpret_cast<__nv_bfloat16 *>(smem + L::p);

  __shared__ float alpha_s[PF_WARPS][16];  // per-row rescale of this tile, then 1 / l
  // Longest blocks (last query tiles: most keys) first, so they do not form the tail.
  int qb = gridDim.x - 1 - blockIdx.x, h = blockIdx.y, sq = blockIdx.z;
  int q_len = q_len_a[sq], ctx0 = ctx_start_a[sq];
  int row0 = qb * PF_BQ;
  if (row0 >= q_len) return;
  int hd = s.head_dim, G = s.n_heads / s.n_kv_heads, kvh = h / G;
  int q_dim = s.n_heads * hd, kv_dim = s.n_kv_heads * hd;
  size_t stride = (size_t)q_dim + 2 * kv_dim;
  int rows = min(PF_BQ, q_len - row0);
  const __nv_bfloat16 *qsrc = qkv + (size_t)(q_start[sq] + row0) * stride + (size_t)h * hd;
  load_tile<HDP, PF_BQ>(Qs, qsrc, stride, rows, hd);

  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int my_row = warp * 16 + lane / 2, half = lane & 1;  // softmax: 2 lanes per row
  int my_pos = ctx0 + row0 + my_row;                   // this row's query position
  bool row_ok = my_row < rows;
  float m = -INFINITY, l = 0.0f;
  int last_pos = ctx0 + row0 + rows - 1;
  int n_tiles = last_pos / PF_BK + 1;
  size_t cache_base = ((size_t)sq * s.n_kv_heads + kvh) * s.ctx_cap * hd;
  float *Sw = Ss + warp * 16 * L::LD_S;  // this warp's 16 score rows

  __syncthreads();  // Q tile complete
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> q_frag[HDP / 16];
#pragma unroll
  for (int k = 0; k < HDP / 16; k++) wmma::load_matrix_sync(q_frag[k], Qs + warp * 16 * L::LD_H + k * 16, L::LD_H);
  __syncthreads();  // every warp holds its Q fragments: the Q tile's space becomes the scores

  // O stays in registers as wmma accumulators. Their element -> row mapping is not
  // documented, so it is read off a fragment loaded from a matrix holding row numbers.
  using acc_frag = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  acc_frag o_acc[HDP / 16];
  int row_of[acc_frag::num_elements];
  {
    for (int idx = lane; idx < 256; idx += 32) Sw[(idx / 16) * L::LD_S + idx % 16] = (float)(idx / 16);
    __syncwarp();
    acc_frag map;
    wmma::load_matrix_sync(map, Sw, L::LD_S, wmma::mem_row_major);
#pragma unroll
    for (int i = 0; i < acc_frag::num_elements; i++) row_of[i] = (int)map.x[i];
#pragma unroll
    for (int i = 0; i < HDP / 16; i++) wmma::fill_fragment(o_acc[i], 0.0f);
    __syncwarp();
  }


  for (int kt = 0; kt < n_tiles; kt++) {
    int key0 = kt * PF_BK;
    int n_keys = min(PF_BK, last_pos + 1 - key0);
    __syncthreads();  // previous tile's K/V fully consumed
    load_tile<HDP, PF_BK>(Ks, k_cache + cache_base + (size_t)key0 * hd, hd, n_keys, hd);
    load_tile<HDP, PF_BK>(Vs, v_cache + cache_base + (size_t)key0 * hd, hd, n_keys, hd);
    __syncthreads();

    // S_w (16 x 64) = Q_w (16 x HDP) K^T
#pragma unroll
    for (int j = 0; j < PF_BK / 16; j++) {
      acc_frag acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int k = 0; k < HDP / 16; k++) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
        wmma::load_matrix_sync(b, Ks + j * 16 * L::LD_H + k * 16, L::LD_H);
        wmma::mma_sync(acc, q_frag[k], b, acc);
      }
      wmma::store_matrix_sync(Sw + j * 16, acc, L::LD_S, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax in registers: lane pair (my_row, half) holds 32 columns each.
    const float *srow = Ss + my_row * L::LD_S + half * 32;
    __nv_bfloat16 *prow = Ps + my_row * L::LD_P + half * 32;
    float v[32];
    float mx = -INFINITY;
    int lim = min(my_pos - key0 - half * 32 + 1, n_keys - half * 32);  // valid columns: c < lim
    if (!row_ok) lim = 0;
#pragma unroll
    for (int c = 0; c < 32; c += 4) {
      float4 f = *reinterpret_cast<const float4 *>(srow + c);
      v[c] = c < lim ? f.x * scale_log2 : -INFINITY;
      v[c + 1] = c + 1 < lim ? f.y * scale_log2 : -INFINITY;
      v[c + 2] = c + 2 < lim ? f.z * scale_log2 : -INFINITY;
      v[c + 3] = c + 3 < lim ? f.w * scale_log2 : -INFINITY;
      mx = fmaxf(mx, fmaxf(fmaxf(v[c], v[c + 1]), fmaxf(v[c + 2], v[c + 3])));
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    float m_new = fmaxf(m, mx);
    float alpha = m_new == -INFINITY ? 1.0f : exp2f(m - m_new);
    float base = m_new == -INFINITY ? 0.0f : m_new;  // exp2(-inf - 0) = 0 for masked columns
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < 32; c += 2) {
      float p0 = exp2f(v[c] - base), p1 = exp2f(v[c + 1] - base);
      *reinterpret_cast<__nv_bfloat162 *>(prow + c) = __floats2bfloat162_rn(p0, p1);
      sum += p0 + p1;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * alpha + sum;
    m = m_new;
    if (half == 0) alpha_s[warp][lane / 2] = alpha;
    __syncwarp();

    // O_w = O_w * alpha(row) + P_w (16 x 64) V (64 x HDP); P and the row scales loaded once.
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> p_frag[PF_BK / 16];
#pragma unroll
    for (int k = 0; k < PF_BK / 16; k++) wmma::load_matrix_sync(p_frag[k], Ps + warp * 16 * L::LD_P + k * 16, L::LD_P);
    float scale[acc_frag::num_elements];
#pragma unroll
    for (int e = 0; e < acc_frag::num_elements; e++) scale[e] = alpha_s[warp][row_of[e]];
#pragma unroll
    for (int i = 0; i < HDP / 16; i++) {
#pragma unroll
      for (int e = 0; e < acc_frag::num_elements; e++) o_acc[i].x[e] *= scale[e];
#pragma unroll
      for (int k = 0; k < PF_BK / 16; k++) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
        wmma::load_matrix_sync(b, Vs + k * 16 * L::LD_H + i * 16, L::LD_H);
        wmma::mma_sync(o_acc[i], p_frag[k], b, o_acc[i]);
      }
    }
    __syncwarp();
  }

  // O / l, 16 columns at a time through the warp's score rows.
  if (half == 0) alpha_s[warp][lane / 2] = l > 0.0f ? 1.0f / l : 0.0f;
  __syncwarp();
  __nv_bfloat16 *dst = out + (size_t)(q_start[sq] + row0 + my_row) * q_dim + (size_t)h * hd;
#pragma unroll
  for (int i = 0; i < HDP / 16; i++) {
#pragma unroll
    for (int e = 0; e < acc_frag::num_elements; e++) o_acc[i].x[e] *= alpha_s[warp][row_of[e]];
    wmma::store_matrix_sync(Sw, o_acc[i], L::LD_S, wmma::mem_row_major);
    __syncwarp();
    const float *orow = Ss + my_row * L::LD_S;
    if (row_ok)
      for (int c = half; c < 16 && i * 16 + c < hd; c += 2) dst[i * 16 + c] = __float2bfloat16(orow[c]);
    __syncwarp();
  }
}

template <int HDP, int MIN_BLOCKS>
static int launch_v(dim3 grid, cudaStream_t st, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                    const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, const int *q_start,
                    const int *q_len, const int *ctx_start, const lj_attn_prefill_shape &s, float sl2) {
  size_t smem = pf_smem<HDP>::bytes;
  CUDA_CHECK(cudaFuncSetAttribute(attn_prefill_kernel<HDP, MIN_BLOCKS>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  lj_launch(attn_prefill_kernel<HDP, MIN_BLOCKS>, dim3(grid), dim3(PF_WARPS * 32), smem, st, out, qkv, kc, vc,
            q_start, q_len, ctx_start, s, sl2);
  CUDA_CHECK_LAUNCH("attention_prefill");
  return 0;
}

// Register budget per head size, measured on the H100 (bench_engine, prefill 2048): head_dim 128
// runs best with one 8-warp block per SM and up to 255 registers (8B: 63.1 ms vs 63.8 ms with two
// blocks, 66.6 ms for the previous 64-query version); head_dim 64 with two blocks per SM at 128
// registers (1B: 11.4 ms vs 12.1 ms).
template <int HDP>
static int launch(dim3 grid, cudaStream_t st, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                  const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, const int *q_start,
                  const int *q_len, const int *ctx_start, const lj_attn_prefill_shape &s, float sl2) {
  constexpr int min_blocks = HDP >= 128 ? 1 : 2;
  return launch_v<HDP, min_blocks>(grid, st, out, qkv, kc, vc, q_start, q_len, ctx_start, s, sl2);
}

int lj_cuda_attention_prefill(__nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                              const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                              const int *q_start, const int *q_len, const int *ctx_start,
                              int n_seqs, int max_q_len, const lj_attn_prefill_shape *s,
                              cudaStream_t stream) {
  if (s->head_dim > 128 || s->n_heads % s->n_kv_heads != 0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "attention_prefill: head_dim %d (max 128), %d heads / %d kv heads",
                   s->head_dim, s->n_heads, s->n_kv_heads);
  if (n_seqs <= 0 || max_q_len <= 0) return 0;
  dim3 grid((max_q_len + PF_BQ - 1) / PF_BQ, s->n_heads, n_seqs);
  float sl2 = (float)(1.0 / sqrt((double)s->head_dim) * 1.4426950408889634);
  int hd = s->head_dim;
  if (hd <= 16) return launch<16>(grid, stream, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, *s, sl2);
  if (hd <= 32) return launch<32>(grid, stream, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, *s, sl2);
  if (hd <= 64) return launch<64>(grid, stream, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, *s, sl2);
  return launch<128>(grid, stream, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, *s, sl2);
}

int lj_cuda_attention_prefill_variant(int variant, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                                      const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                                      const int *q_start, const int *q_len, const int *ctx_start,
                                      int n_seqs, int max_q_len, const lj_attn_prefill_shape *s,
                                      cudaStream_t stream) {
  int runs = lj_attn_prefill_runs(variant, s->head_dim);
  if (runs < 0)
    return LJ_FAIL(LJ_EINVAL, "attention_prefill: variant %d: expected 0 .. %d", variant, LJ_ATTN_PREFILL_COUNT - 1);
  // The mma kernel copies 16 bytes at a time; head_dim 64 and 128 keep every row 16-byte aligned.
  uintptr_t any = (uintptr_t)out | (uintptr_t)qkv | (uintptr_t)k_cache | (uintptr_t)v_cache;
  if (runs != LJ_ATTN_PREFILL_WMMA && (any & 15) == 0)
    return lj_cuda_attention_prefill_mma(runs, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, n_seqs,
                                         max_q_len, s, stream);
  return lj_cuda_attention_prefill(out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, n_seqs, max_q_len, s,
                                   stream);
}
