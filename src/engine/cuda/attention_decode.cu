// Split-KV decode attention (flash-decoding):
//   grid (n_kv_heads, n_splits, n_tokens), 4 warps per block.
//   Phase 1: LPK lanes share one key (each lane 8 dims, 16-byte loads); a warp
//            scores 32/LPK keys at a time for all G query heads of the group.
//   Phase 2: softmax of the chunk per head (max and sum kept for the combine).
//   Phase 3: the same lanes read V once and accumulate p * v for all G heads.
//   Combine: per (token, head), rescale the splits' partial outputs by
//            exp2(m_s - M) and divide by the total sum: a second kernel ("split"; not
//            launched when the plan has one split: the block divides by its own sum), or
//            in the same launch ("one", "one_rope"): each block counts itself on a
//            device counter of its (token, kv head) after writing its partials; the
//            last one reads them all, writes the output and resets the counter.
//   "one_rope" also does rope.cu's work for its group in a prologue: q rotated into
//   shared memory, the new k (rotated) and v appended to the cache by the block
//   whose keys include the new position.
#include <math.h>

#include "engine/cuda/attention_decode.h"
#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/rope_pair.cuh"
#include "engine/cuda/smem_optin.cuh"

#define DEC_WARPS 4
#define DEC_MAX_SPLIT LJ_ATTN_DECODE_MAX_TARGET_SPLIT_KEYS  // the scores' shared memory: <= 64 KB
#define DEC_UNROLL 4       // keys per lane with loads in flight at once

// The split count is fixed (a captured graph keeps its grid); each split's share of
// the keys is ceil(kv_len / n_splits), computed in the kernel from the current
// length, so every block has work at short contexts too.
lj_attn_decode_shape lj_attn_decode_plan(int n_heads, int n_kv_heads, int head_dim, int ctx_cap,
                                         int n_seq, int n_sms, int target_splits) {
  lj_attn_decode_shape s = {n_heads, n_kv_heads, head_dim, ctx_cap, 16, 1};
  int splits = lj_attn_decode_splits(n_kv_heads, ctx_cap, n_seq, n_sms, target_splits);
  s.n_splits = splits;
  s.split_keys = ((ctx_cap + splits - 1) / splits + 15) / 16 * 16;  // largest share
  return s;
}

size_t lj_attn_decode_scratch_bytes(const lj_attn_decode_shape *s, int n_tokens) {
  return (size_t)n_tokens * s->n_heads * s->n_splits * (s->head_dim + 2) * sizeof(float);
}

size_t lj_attn_decode_counter_bytes(const lj_attn_decode_shape *s, int n_tokens) {
  return (size_t)n_tokens * s->n_kv_heads * sizeof(unsigned);
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

// Output dim d of one head from the n splits' partials at p0 .. p0 + n - 1 (splits past the
// sequence's end carry m = -inf). L2 loads (__ldcg): in the one-kernel variants other blocks
// wrote them during this launch.
static __device__ __forceinline__ float combine_at(const float *o_part, const float *ml_part, size_t p0, int n,
                                                   int hd, int d) {
  float M = -INFINITY;
  for (int i = 0; i < n; i++) M = fmaxf(M, __ldcg(&ml_part[2 * (p0 + i)]));
  float L = 0.0f, acc = 0.0f;
  for (int i = 0; i < n; i++) {
    float m = __ldcg(&ml_part[2 * (p0 + i)]);
    if (m == -INFINITY) continue;
    float w = exp2f(m - M);
    L += w * __ldcg(&ml_part[2 * (p0 + i) + 1]);
    acc += w * __ldcg(&o_part[(p0 + i) * hd + d]);
  }
  return L > 0.0f ? acc / L : 0.0f;
}

// What the one-kernel variants need besides the split kernel's inputs.
struct dec_one_args {
  unsigned *counters;      // (n_tokens, n_kv_heads), 0 between launches
  const int *pos;          // "one_rope": position of each token's new key (NULL: no RoPE)
  const float *inv_freq;   // "one_rope": (head_dim / 2)
  __nv_bfloat16 *out;      // (n_tokens, n_heads * head_dim): written here by one, one_rope and one split
};

template <int G, int LPK, bool ONE>
static __global__ void __launch_bounds__(DEC_WARPS * 32)
attn_decode_kernel(float *o_part, float *ml_part, const __nv_bfloat16 *qkv,
                   __nv_bfloat16 *k_cache, __nv_bfloat16 *v_cache, const int *seq,
                   const int *kv_len, lj_attn_decode_shape s, float scale_log2, dec_one_args one) {
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
  int n_active = share > 0 ? (len + share - 1) / share : 0;  // splits with keys: those that count
  size_t part = ((size_t)t * s.n_heads + (size_t)kvh * G) * s.n_splits + split;
  // The output written here, not by a combine: the one-kernel variants, and a single split
  // (no combine kernel is launched; its weight would be 1: the same bits).
  const bool direct = ONE || s.n_splits == 1;
  const __nv_bfloat16 *row = qkv + (size_t)t * (q_dim + 2 * kv_dim);
  if (k0 >= k1) {  // this split is past the sequence's end
    if (!ONE && threadIdx.x < G) {
      size_t p = part + (size_t)threadIdx.x * s.n_splits;
      ml_part[2 * p] = -INFINITY;
      ml_part[2 * p + 1] = 0.0f;
    }
    if (direct && n_active == 0 && split == 0)  // no keys at all: zeros, as the combine kernel writes
      for (int i = threadIdx.x; i < G * hd; i += blockDim.x)
        one.out[(size_t)t * q_dim + (size_t)kvh * G * hd + i] = __float2bfloat16(0.0f);
    return;
  }
  int sub = lane % LPK, key_in_warp = lane / LPK, d0 = sub * 8;
  size_t base = (((size_t)seq[t] * s.n_kv_heads + kvh) * s.ctx_cap) * hd;
  __nv_bfloat16 *kc = k_cache + base, *vc = v_cache + base;
  float q[G][8];
  const __nv_bfloat16 *qrow = row + (size_t)kvh * G * hd;
  if (ONE && one.pos) {  // RoPE of the group's q (into shared memory) and the new key's append
    __shared__ float qs[G][128];
    int p = one.pos[t], half = hd / 2;
    for (int i = threadIdx.x; i < G * half; i += blockDim.x) {
      int g = i / half, j = i % half;
      __nv_bfloat16 o1, o2;
      rope_pair(__bfloat162float(qrow[g * hd + j]), __bfloat162float(qrow[g * hd + j + half]), p, one.inv_freq[j],
                &o1, &o2);
      qs[g][j] = __bfloat162float(o1);
      qs[g][j + half] = __bfloat162float(o2);
    }
    if (k0 <= p && p < k1) {  // the one block that reads key p writes it first
      const __nv_bfloat16 *krow = row + q_dim + (size_t)kvh * hd, *vrow = krow + kv_dim;
      for (int j = threadIdx.x; j < half; j += blockDim.x)
        rope_pair(__bfloat162float(krow[j]), __bfloat162float(krow[j + half]), p, one.inv_freq[j],
                  &kc[(size_t)p * hd + j], &kc[(size_t)p * hd + j + half]);
      for (int j = threadIdx.x; j < hd; j += blockDim.x) vc[(size_t)p * hd + j] = vrow[j];
    }
    __syncthreads();  // q in shared memory, the appended key and value visible to the block
#pragma unroll
    for (int g = 0; g < G; g++)
#pragma unroll
      for (int j = 0; j < 8; j++) q[g][j] = d0 + j < hd ? qs[g][d0 + j] * scale_log2 : 0.0f;
  } else {
#pragma unroll
    for (int g = 0; g < G; g++) {
      load8(qrow + g * hd, d0, hd, q[g]);
#pragma unroll
      for (int j = 0; j < 8; j++) q[g][j] *= scale_log2;
    }
  }
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
  __nv_bfloat16 *out_t = direct ? one.out + (size_t)t * q_dim + (size_t)kvh * G * hd : NULL;
  for (int idx = threadIdx.x; idx < G * hd; idx += blockDim.x) {
    int g = idx / hd, d = idx % hd;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) v += red[w][g][d];
    if (direct && n_active == 1) {  // the only split: its sum is the total (the combine's weight is 1)
      out_t[idx] = __float2bfloat16(l_s[g] > 0.0f ? v / l_s[g] : 0.0f);
      continue;
    }
    size_t p = part + (size_t)g * s.n_splits;
    o_part[p * hd + d] = v;
    if (d == 0) {
      ml_part[2 * p] = m_s[g];
      ml_part[2 * p + 1] = l_s[g];
    }
  }
  if (!ONE || n_active == 1) return;

  // The last of the group's n_active blocks to get here combines their partials.
  __shared__ int is_last;
  __threadfence();  // this thread's partials are visible GPU-wide before the block counts
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned *ctr = one.counters + (size_t)t * s.n_kv_heads + kvh;
    is_last = atomicAdd(ctr, 1u) == (unsigned)n_active - 1;
    if (is_last) *ctr = 0;  // every block of the group has counted: ready for the next launch
  }
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  size_t p_group = ((size_t)t * s.n_heads + (size_t)kvh * G) * s.n_splits;
  for (int idx = threadIdx.x; idx < G * hd; idx += blockDim.x) {
    int g = idx / hd, d = idx % hd;
    out_t[idx] = __float2bfloat16(combine_at(o_part, ml_part, p_group + (size_t)g * s.n_splits, n_active, hd, d));
  }
}

static __global__ void attn_combine_kernel(__nv_bfloat16 *out, const float *o_part,
                                           const float *ml_part, lj_attn_decode_shape s) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  int h = blockIdx.x, t = blockIdx.y, hd = s.head_dim;
  size_t p0 = ((size_t)t * s.n_heads + h) * s.n_splits;
  for (int d = threadIdx.x; d < hd; d += blockDim.x)
    out[(size_t)t * s.n_heads * hd + (size_t)h * hd + d] = __float2bfloat16(combine_at(o_part, ml_part, p0, s.n_splits, hd, d));
}

// Everything a launch passes to attn_decode_kernel.
struct dec_launch {
  dim3 grid;
  size_t smem;
  cudaStream_t st;
  float *o_part, *ml;
  const __nv_bfloat16 *qkv;
  __nv_bfloat16 *kc, *vc;
  const int *seq, *kv_len;
  lj_attn_decode_shape s;
  float sl2;
  dec_one_args one;
};

template <int G, int LPK>
static void launch_gl(const dec_launch &a, bool one) {
  auto k = one ? attn_decode_kernel<G, LPK, true> : attn_decode_kernel<G, LPK, false>;
  // A target split count's long splits: opt in (static arrays counted); a failure is the thread's
  // last error, which the caller's CUDA_CHECK_LAUNCH reports.
  static const size_t static_one = lj_static_smem(attn_decode_kernel<G, LPK, true>),
                      static_split = lj_static_smem(attn_decode_kernel<G, LPK, false>);
  (void)lj_smem_optin(k, one ? static_one : static_split, a.smem);
  lj_launch(k, a.grid, dim3(DEC_WARPS * 32), a.smem, a.st, a.o_part, a.ml, a.qkv, a.kc, a.vc, a.seq, a.kv_len, a.s,
            a.sl2, a.one);
}

template <int G>
static void launch_g(const dec_launch &a, int lpk, bool one) {
  switch (lpk) {
    case 1: launch_gl<G, 1>(a, one); break;
    case 2: launch_gl<G, 2>(a, one); break;
    case 4: launch_gl<G, 4>(a, one); break;
    case 8: launch_gl<G, 8>(a, one); break;
    default: launch_gl<G, 16>(a, one); break;
  }
}

int lj_cuda_attention_decode_variant(int variant, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                                     __nv_bfloat16 *k_cache, __nv_bfloat16 *v_cache, const int *seq,
                                     const int *pos, const int *kv_len, const float *inv_freq, int n_tokens,
                                     const lj_attn_decode_shape *s, float *scratch, unsigned *counters,
                                     cudaStream_t stream) {
  int G = s->n_heads / s->n_kv_heads;
  if (s->n_heads % s->n_kv_heads != 0 || G > LJ_ATTN_DECODE_MAX_GROUP || s->head_dim > 128 ||
      s->split_keys > DEC_MAX_SPLIT)
    return LJ_FAIL(LJ_EUNSUPPORTED,
                   "attention_decode: %d heads / %d kv heads, head_dim %d (needs group <= %d, head_dim <= 128)",
                   s->n_heads, s->n_kv_heads, s->head_dim, LJ_ATTN_DECODE_MAX_GROUP);
  int rope = lj_attn_decode_fuses_rope(variant);
  if (rope < 0)
    return LJ_FAIL(LJ_EINVAL, "decode attention variant %d: expected 0 .. %d (split, one, one_rope)", variant,
                   LJ_ATTN_DECODE_COUNT - 1);
  int one = variant != LJ_ATTN_DECODE_SPLIT;
  if (one && !counters)
    return LJ_FAIL(LJ_EINVAL, "attention_decode %s: needs its block counters", lj_attn_decode_name(variant));
  if (rope && (!pos || !inv_freq || s->head_dim % 2))
    return LJ_FAIL(LJ_EINVAL, "attention_decode one_rope: needs positions, the RoPE table and an even head_dim (%d)",
                   s->head_dim);
  if (n_tokens <= 0) return 0;
  int chunks = (s->head_dim + 7) / 8, lpk = 1;
  while (lpk < chunks) lpk *= 2;
  dec_launch a;
  a.grid = dim3(s->n_kv_heads, s->n_splits, n_tokens);
  a.smem = (size_t)G * s->split_keys * sizeof(float);
  a.st = stream;
  a.o_part = scratch;
  a.ml = scratch + (size_t)n_tokens * s->n_heads * s->n_splits * s->head_dim;
  a.qkv = qkv, a.kc = k_cache, a.vc = v_cache, a.seq = seq, a.kv_len = kv_len, a.s = *s;
  a.sl2 = (float)(1.0 / sqrt((double)s->head_dim) * 1.4426950408889634);
  a.one.counters = counters;
  a.one.pos = rope ? pos : NULL;
  a.one.inv_freq = rope ? inv_freq : NULL;
  a.one.out = out;
  switch (G) {
    case 1: launch_g<1>(a, lpk, one); break;
    case 2: launch_g<2>(a, lpk, one); break;
    case 3: launch_g<3>(a, lpk, one); break;
    case 4: launch_g<4>(a, lpk, one); break;
    case 5: launch_g<5>(a, lpk, one); break;
    case 6: launch_g<6>(a, lpk, one); break;
    case 7: launch_g<7>(a, lpk, one); break;
    default: launch_g<8>(a, lpk, one); break;
  }
  CUDA_CHECK_LAUNCH("attention_decode");
  if (one || s->n_splits == 1) return 0;  // the kernel wrote the output
  lj_launch(attn_combine_kernel, dim3(dim3(s->n_heads, n_tokens)), dim3(128), 0, stream, out, a.o_part, a.ml, *s);
  CUDA_CHECK_LAUNCH("attention_combine");
  return 0;
}

int lj_cuda_attention_decode(__nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                             const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                             const int *seq, const int *kv_len, int n_tokens,
                             const lj_attn_decode_shape *s, float *scratch, cudaStream_t stream) {
  // "split" writes no cache: the casts only share the launcher's signature
  return lj_cuda_attention_decode_variant(LJ_ATTN_DECODE_SPLIT, out, qkv, (__nv_bfloat16 *)k_cache,
                                          (__nv_bfloat16 *)v_cache, seq, NULL, kv_len, NULL, n_tokens, s, scratch,
                                          NULL, stream);
}
