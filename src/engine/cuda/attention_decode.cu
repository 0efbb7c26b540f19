// Split-KV decode attention (flash-decoding):
//   grid (n_kv_heads, n_splits, n_tokens), 4 warps per block.
//   Phase 1: LPK lanes share one key (each lane 8 dims, 16-byte loads); a warp
//            scores 32/LPK keys at a time for all G query heads of the group.
//   Phase 2: softmax of the chunk per head (max and sum kept for the combine).
//   Phase 3: the same lanes read V once and accumulate p * v for all G heads.
//   Combine: per (token, head), rescale the splits' partial outputs by
//            exp2(m_s - M) and divide by the total sum.
#include <math.h>

#include "engine/cuda/attention_decode.h"
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"

#define DEC_WARPS 4
#define DEC_MAX_SPLIT 512  // keeps dynamic + static shared memory under 48 KB
#define DEC_UNROLL 4       // keys per lane with loads in flight at once

// The split count is fixed (a captured graph keeps its grid); each split's share of
// the keys is ceil(kv_len / n_splits), computed in the kernel from the current
// length, so every block has work at short contexts too.
lj_attn_decode_shape lj_attn_decode_plan(int n_heads, int n_kv_heads, int head_dim, int ctx_cap,
                                         int n_seq, int n_sms) {
  lj_attn_decode_shape s = {n_heads, n_kv_heads, head_dim, ctx_cap, 16, 1};
  int per_seq = n_kv_heads * (n_seq > 0 ? n_seq : 1);
  int splits = (2 * n_sms + per_seq - 1) / per_seq;       // fill the GPU
  int min_splits = (ctx_cap + DEC_MAX_SPLIT - 1) / DEC_MAX_SPLIT;  // fit shared memory
  if (splits < min_splits) splits = min_splits;
  if (splits > (ctx_cap + 15) / 16) splits = (ctx_cap + 15) / 16;
  if (splits < 1) splits = 1;
  s.n_splits = splits;
  s.split_keys = ((ctx_cap + splits - 1) / splits + 15) / 16 * 16;  // largest share
  return s;
}

size_t lj_attn_decode_scratch_bytes(const lj_attn_decode_shape *s, int n_tokens) {
  return (size_t)n_tokens * s->n_heads * s->n_splits * (s->head_dim + 2) * sizeof(float);
}

// 8 consecutive head dims starting at d0 (zero past hd), 16-byte load when possible.
static __device__ __forceinline__ void load8(const __nv_bfloat16 *p, int d0, int hd, float f[8]) {
  if ((hd & 7) == 0) {
    if (d0 < hd) {
      bf16x8_to_float(*reinterpret_cast<const bf16x8 *>(p + d0), f);
    } else {
#pragma unroll
      for (int j = 0; j < 8; j++) f[j] = 0.0f;
    }
  } else {
#pragma unroll
    for (int j = 0; j < 8; j++) f[j] = d0 + j < hd ? __bfloat162float(p[d0 + j]) : 0.0f;
  }
}

template <int G, int LPK>
static __global__ void __launch_bounds__(DEC_WARPS * 32)
attn_decode_kernel(float *o_part, float *ml_part, const __nv_bfloat16 *qkv,
                   const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache, const int *seq,
                   const int *kv_len, lj_attn_decode_shape s, float scale_log2) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  extern __shared__ float smem[];
  float *sc = smem;  // (G, split_keys) scores, then probabilities
  __shared__ float red[DEC_WARPS][G][8 * LPK];
  __shared__ float m_s[G], l_s[G];
  constexpr int KPW = 32 / LPK;  // keys a warp handles at once
  int kvh = blockIdx.x, split = blockIdx.y, t = blockIdx.z;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int hd = s.head_dim, q_dim = s.n_heads * hd, kv_dim = s.n_kv_heads * hd;
  int len = kv_len[t];
  int share = ((len + s.n_splits - 1) / s.n_splits + 15) / 16 * 16;  // <= split_keys
  int k0 = split * share, k1 = min(k0 + share, len);
  size_t part = ((size_t)t * s.n_heads + (size_t)kvh * G) * s.n_splits + split;
  if (k0 >= k1) {  // this split is past the sequence's end
    if (threadIdx.x < G) {
      size_t p = part + (size_t)threadIdx.x * s.n_splits;
      ml_part[2 * p] = -INFINITY;
      ml_part[2 * p + 1] = 0.0f;
    }
    return;
  }
  int sub = lane % LPK, key_in_warp = lane / LPK, d0 = sub * 8;
  float q[G][8];
  const __nv_bfloat16 *qrow = qkv + (size_t)t * (q_dim + 2 * kv_dim) + (size_t)kvh * G * hd;
#pragma unroll
  for (int g = 0; g < G; g++) {
    load8(qrow + g * hd, d0, hd, q[g]);
#pragma unroll
    for (int j = 0; j < 8; j++) q[g][j] *= scale_log2;
  }
  size_t base = (((size_t)seq[t] * s.n_kv_heads + kvh) * s.ctx_cap) * hd;
  const __nv_bfloat16 *kc = k_cache + base, *vc = v_cache + base;
  int n_keys = k1 - k0;

  // Phase 1: scores (already in log2 units); DEC_UNROLL keys per lane loaded before use.
  constexpr int STEP = DEC_WARPS * KPW;
  for (int j0 = warp * KPW + key_in_warp; j0 - key_in_warp < n_keys; j0 += DEC_UNROLL * STEP) {
    float kf[DEC_UNROLL][8];
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      int j = j0 + u * STEP;
      load8(kc + (size_t)(k0 + (j < n_keys ? j : 0)) * hd, d0, hd, kf[u]);
    }
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      int j = j0 + u * STEP;
#pragma unroll
      for (int g = 0; g < G; g++) {
        float d = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; e++) d += q[g][e] * kf[u][e];
#pragma unroll
        for (int o = LPK / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        if (j < n_keys && sub == 0) sc[g * s.split_keys + j] = d;
      }
    }
  }
  __syncthreads();

  // Phase 2: per-head max and sum over the chunk.
  for (int g = warp; g < G; g += DEC_WARPS) {
    float m = -INFINITY;
    for (int j = lane; j < n_keys; j += 32) m = fmaxf(m, sc[g * s.split_keys + j]);
    m = warp_max(m);
    float l = 0.0f;
    for (int j = lane; j < n_keys; j += 32) {
      float p = exp2f(sc[g * s.split_keys + j] - m);
      sc[g * s.split_keys + j] = p;
      l += p;
    }
    l = warp_sum(l);
    if (lane == 0) m_s[g] = m, l_s[g] = l;
  }
  __syncthreads();

  // Phase 3: p @ V for all heads of the group, V read once.
  float acc[G][8];
#pragma unroll
  for (int g = 0; g < G; g++)
#pragma unroll
    for (int e = 0; e < 8; e++) acc[g][e] = 0.0f;
  for (int j0 = warp * KPW + key_in_warp; j0 < n_keys; j0 += DEC_UNROLL * STEP) {
    float vf[DEC_UNROLL][8];
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      int j = j0 + u * STEP;
      load8(vc + (size_t)(k0 + (j < n_keys ? j : 0)) * hd, d0, hd, vf[u]);
    }
#pragma unroll
    for (int u = 0; u < DEC_UNROLL; u++) {
      int j = j0 + u * STEP;
      if (j < n_keys) {
#pragma unroll
        for (int g = 0; g < G; g++) {
          float p = sc[g * s.split_keys + j];
#pragma unroll
          for (int e = 0; e < 8; e++) acc[g][e] += p * vf[u][e];
        }
      }
    }
  }
  // Lanes with the same `sub` hold the same dims: reduce over key_in_warp, then over warps.
#pragma unroll
  for (int g = 0; g < G; g++)
#pragma unroll
    for (int e = 0; e < 8; e++) {
      float v = acc[g][e];
#pragma unroll
      for (int o = 16; o >= LPK; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[g][e] = v;
    }
  if (key_in_warp == 0) {
#pragma unroll
    for (int g = 0; g < G; g++)
#pragma unroll
      for (int e = 0; e < 8; e++) red[warp][g][d0 + e] = acc[g][e];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < G * hd; idx += blockDim.x) {
    int g = idx / hd, d = idx % hd;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) v += red[w][g][d];
    size_t p = part + (size_t)g * s.n_splits;
    o_part[p * hd + d] = v;
    if (d == 0) {
      ml_part[2 * p] = m_s[g];
      ml_part[2 * p + 1] = l_s[g];
    }
  }
}

static __global__ void attn_combine_kernel(__nv_bfloat16 *out, const float *o_part,
                                           const float *ml_part, lj_attn_decode_shape s) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  int h = blockIdx.x, t = blockIdx.y, hd = s.head_dim;
  size_t p0 = ((size_t)t * s.n_heads + h) * s.n_splits;
  float M = -INFINITY;
  for (int i = 0; i < s.n_splits; i++) M = fmaxf(M, ml_part[2 * (p0 + i)]);
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float L = 0.0f, acc = 0.0f;
    for (int i = 0; i < s.n_splits; i++) {
      float m = ml_part[2 * (p0 + i)];
      if (m == -INFINITY) continue;
      float w = exp2f(m - M);
      L += w * ml_part[2 * (p0 + i) + 1];
      acc += w * o_part[(p0 + i) * hd + d];
    }
    out[(size_t)t * s.n_heads * hd + (size_t)h * hd + d] = __float2bfloat16(L > 0.0f ? acc / L : 0.0f);
  }
}

template <int G>
static void launch_g(dim3 grid, size_t smem, cudaStream_t st, int lpk, float *o_part, float *ml,
                     const __nv_bfloat16 *qkv, const __nv_bfloat16 *kc, const __nv_bfloat16 *vc,
                     const int *seq, const int *kv_len, const lj_attn_decode_shape &s, float sl2) {
  switch (lpk) {
    case 1: lj_launch(attn_decode_kernel<G, 1>, dim3(grid), dim3(DEC_WARPS * 32), smem, st, o_part, ml, qkv, kc, vc, seq, kv_len, s, sl2); break;
    case 2: lj_launch(attn_decode_kernel<G, 2>, dim3(grid), dim3(DEC_WARPS * 32), smem, st, o_part, ml, qkv, kc, vc, seq, kv_len, s, sl2); break;
    case 4: lj_launch(attn_decode_kernel<G, 4>, dim3(grid), dim3(DEC_WARPS * 32), smem, st, o_part, ml, qkv, kc, vc, seq, kv_len, s, sl2); break;
    case 8: lj_launch(attn_decode_kernel<G, 8>, dim3(grid), dim3(DEC_WARPS * 32), smem, st, o_part, ml, qkv, kc, vc, seq, kv_len, s, sl2); break;
    default: lj_launch(attn_decode_kernel<G, 16>, dim3(grid), dim3(DEC_WARPS * 32), smem, st, o_part, ml, qkv, kc, vc, seq, kv_len, s, sl2); break;
  }
}

int lj_cuda_attention_decode(__nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                             const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                             const int *seq, const int *kv_len, int n_tokens,
                             const lj_attn_decode_shape *s, float *scratch, cudaStream_t stream) {
  int G = s->n_heads / s->n_kv_heads;
  if (s->n_heads % s->n_kv_heads != 0 || G > LJ_ATTN_DECODE_MAX_GROUP || s->head_dim > 128 ||
      s->split_keys > DEC_MAX_SPLIT)
    return LJ_FAIL(LJ_EUNSUPPORTED,
                   "attention_decode: %d heads / %d kv heads, head_dim %d (needs group <= %d, head_dim <= 128)",
                   s->n_heads, s->n_kv_heads, s->head_dim, LJ_ATTN_DECODE_MAX_GROUP);
  if (n_tokens <= 0) return 0;
  int chunks = (s->head_dim + 7) / 8, lpk = 1;
  while (lpk < chunks) lpk *= 2;
  float *o_part = scratch;
  float *ml_part = scratch + (size_t)n_tokens * s->n_heads * s->n_splits * s->head_dim;
  dim3 grid(s->n_kv_heads, s->n_splits, n_tokens);
  size_t smem = (size_t)G * s->split_keys * sizeof(float);
  float scale_log2 = (float)(1.0 / sqrt((double)s->head_dim) * 1.4426950408889634);
  switch (G) {
    case 1: launch_g<1>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    case 2: launch_g<2>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    case 3: launch_g<3>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    case 4: launch_g<4>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    case 5: launch_g<5>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    case 6: launch_g<6>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    case 7: launch_g<7>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
    default: launch_g<8>(grid, smem, stream, lpk, o_part, ml_part, qkv, k_cache, v_cache, seq, kv_len, *s, scale_log2); break;
  }
  CUDA_CHECK_LAUNCH("attention_decode");
  lj_launch(attn_combine_kernel, dim3(dim3(s->n_heads, n_tokens)), dim3(128), 0, stream, out, o_part, ml_part, *s);
  CUDA_CHECK_LAUNCH("attention_combine");
  return 0;
}
