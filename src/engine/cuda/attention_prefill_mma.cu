// Prefill attention, FlashAttention-2 style on mma.sync m16n8k16 (bf16 in, fp32 accumulation):
// the same arguments, layout and result as the wmma kernel (attention_prefill.cu), for head_dim
// 64 and 128.
//   grid (n_heads, n_seqs, query tiles), the query tile index reversed so that every head's
//   longest tile (the most keys) is dispatched first; WARPS warps, warp w owns 16 query rows.
//   Q is read once into A fragments (ldmatrix). For each BK-key tile up to the block's last
//   position (K/V tiles double-buffered with cp.async, zero-filled past the last key):
//     S = Q K^T (K as B fragments by ldmatrix), the causal mask only on tiles that cross the
//     diagonal, online softmax on the S accumulators (running max per row in log2 units: the
//     1/sqrt(hd) * log2(e) scale folded into one FMA before ex2), then P = bf16(S) is directly
//     the A operand of O += P V (V as B fragments by ldmatrix.trans). No shared-memory round
//     trip for scores; a warp skips tiles that lie wholly past its last row's position.
//   O / l is staged through the warp's own Q rows for 16-byte stores.
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16", .bf16), g = lane / 4, t = lane % 4:
//   A 16x16 (row):  a0 = (g, 2t..2t+1)  a1 = (g+8, 2t..)  a2 = (g, 2t+8..)  a3 = (g+8, 2t+8..)
//   B 16x8 (k x n): b0 = (k 2t..2t+1, n g)  b1 = (k 2t+8.., n g)
//   C 16x8 (fp32):  c0, c1 = (g, 2t..2t+1)  c2, c3 = (g+8, 2t..2t+1)
// so the C fragments of the 8-key tiles 2j and 2j+1 of S, packed in bf16 pairs, are
// {c0c1, c2c3} of 2j and {c0c1, c2c3} of 2j+1 = a0, a1, a2, a3 of P for keys 16j..16j+15.
#include <math.h>
#include <stdint.h>

#include "engine/cuda/attention_prefill_mma.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"

namespace {

// Shared-memory tiles: rows of HD bf16 padded by 16 bytes, so the 8 rows that one ldmatrix
// phase reads (stride 144 or 272 bytes) start in 8 different 16-byte bank groups.
template <int HD, int WARPS, int BK>
struct mma_smem {
  static constexpr int BQ = WARPS * 16, LD = HD + 8;
  static constexpr size_t q = 0;
  static constexpr size_t tile = sizeof(__nv_bfloat16) * BK * LD;  // one K or V tile
  static constexpr size_t kv = q + sizeof(__nv_bfloat16) * BQ * LD;  // K0, V0, K1, V1
  static constexpr size_t bytes = kv + 4 * tile;
};

__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

// 16 bytes global -> shared without registers; src_bytes 0 writes zeros and reads nothing.
__device__ __forceinline__ void cp_async16(void *dst, const void *src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit(void) { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait(void) {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Four 8x8 bf16 matrices; lanes 8i..8i+7 give the row addresses of matrix i, register i
// receives matrix i: lane l holds (row l/4, columns 2(l%4), 2(l%4)+1), or with .trans
// (rows 2(l%4), 2(l%4)+1, column l/4).
__device__ __forceinline__ void ldsm_x4(uint32_t r[4], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t r[4], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// c += a (16x16) b (16x8), fp32 accumulators.
__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float ex2(float x) {  // 2^x; ex2(-inf) = 0
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Two floats as a bf16 pair, the first in the low half (the lower column of a fragment).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t *>(&v);
}

// ROWS rows of HD bf16 (row stride `stride` elements) into a padded tile, 16 bytes per copy;
// rows >= n_rows become zeros (the cache past the last key may hold anything, even NaN, and
// 0 * NaN would reach O).
template <int HD, int ROWS, int THREADS>
__device__ __forceinline__ void load_rows(__nv_bfloat16 *tile, const __nv_bfloat16 *src, size_t stride,
                                          int n_rows) {
  constexpr int CH = HD / 8, LD = HD + 8;
  for (int idx = threadIdx.x; idx < ROWS * CH; idx += THREADS) {
    int r = idx / CH, c = idx % CH;
    bool ok = r < n_rows;
    cp_async16(tile + r * LD + c * 8, ok ? src + (size_t)r * stride + c * 8 : src, ok ? 16 : 0);
  }
}

template <int HD, int WARPS, int BK, int MIN_BLOCKS>
__global__ void __launch_bounds__(WARPS * 32, MIN_BLOCKS)
attn_prefill_mma_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *qkv, const __nv_bfloat16 *k_cache,
                        const __nv_bfloat16 *v_cache, const int *q_start_a, const int *q_len_a,
                        const int *ctx_start_a, lj_attn_prefill_shape s, float scale_log2) {
  using L = mma_smem<HD, WARPS, BK>;
  constexpr int BQ = L::BQ, LD = L::LD, THREADS = WARPS * 32;
  static_assert(BK % 16 == 0 && HD % 32 == 0, "tiles of 16 keys, K fragments of 32 dims");
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16 *Qs = reinterpret_cast<__nv_bfloat16 *>(smem + L::q);
  // Buffer b: K at tile 2b, V at tile 2b + 1.
  __nv_bfloat16 *tiles = reinterpret_cast<__nv_bfloat16 *>(smem + L::kv);
  constexpr int TILE = BK * LD;

  int h = blockIdx.x, sq = blockIdx.y, qb = gridDim.z - 1 - blockIdx.z;
  int q_len = q_len_a[sq], row0 = qb * BQ;
  if (row0 >= q_len) return;  // the whole block: no barrier reached yet
  int ctx0 = ctx_start_a[sq], q_start = q_start_a[sq];
  int G = s.n_heads / s.n_kv_heads, kvh = h / G;
  int q_dim = s.n_heads * HD, kv_dim = s.n_kv_heads * HD;
  size_t stride = (size_t)q_dim + 2 * kv_dim;
  int rows = min(BQ, q_len - row0);
  int last_pos = ctx0 + row0 + rows - 1;
  int n_tiles = last_pos / BK + 1;
  const __nv_bfloat16 *kbase = k_cache + ((size_t)sq * s.n_kv_heads + kvh) * s.ctx_cap * HD;
  const __nv_bfloat16 *vbase = v_cache + ((size_t)sq * s.n_kv_heads + kvh) * s.ctx_cap * HD;

  // Q and the first K/V tile in one group.
  load_rows<HD, BQ, THREADS>(Qs, qkv + (size_t)(q_start + row0) * stride + (size_t)h * HD, stride, rows);
  load_rows<HD, BK, THREADS>(tiles, kbase, HD, min(BK, last_pos + 1));
  load_rows<HD, BK, THREADS>(tiles + TILE, vbase, HD, min(BK, last_pos + 1));
  cp_async_commit();

  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  int wrow = warp * 16;                    // the warp's first row in the block
  int wpos = ctx0 + row0 + wrow;           // its position
  int pos_a = wpos + g, pos_b = pos_a + 8;  // this thread's two rows (fragment rows g, g + 8)
  // A tile starting past wlast is wholly masked for the warp; a warp of padding rows only (the
  // last tile of a sequence) skips every tile.
  int wlast = wpos <= last_pos ? wpos + 15 : -1;

  uint32_t qf[HD / 16][4];
  float o[HD / 8][4];
#pragma unroll
  for (int n = 0; n < HD / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.0f, l_b = 0.0f;  // l: this thread's columns only

  for (int kt = 0; kt < n_tiles; kt++) {
    int key0 = kt * BK, buf = kt & 1;
    // The other buffer was last read in tile kt - 1, which every warp has finished (barrier below).
    if (kt + 1 < n_tiles) {
      int next0 = key0 + BK, n_next = min(BK, last_pos + 1 - next0);
      load_rows<HD, BK, THREADS>(tiles + 2 * (buf ^ 1) * TILE, kbase + (size_t)next0 * HD, HD, n_next);
      load_rows<HD, BK, THREADS>(tiles + (2 * (buf ^ 1) + 1) * TILE, vbase + (size_t)next0 * HD, HD, n_next);
    }
    cp_async_commit();  // possibly empty, so that the wait below always leaves one group
    cp_async_wait<1>();  // this thread's copies of tile kt (and Q) have landed
    __syncthreads();     // everyone's have
    if (kt == 0) {
#pragma unroll
      for (int k = 0; k < HD / 16; k++)
        ldsm_x4(qf[k], Qs + (wrow + (lane & 15)) * LD + k * 16 + (lane >> 4) * 8);
    }
    if (key0 <= wlast) {
      const __nv_bfloat16 *K = tiles + 2 * buf * TILE, *V = tiles + (2 * buf + 1) * TILE;
      // S (16 x BK) = Q K^T: per 8-key tile j, one ldmatrix.x4 gives the B fragments of 32 dims.
      float sc[BK / 8][4];
#pragma unroll
      for (int j = 0; j < BK / 8; j++) {
        sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.0f;
#pragma unroll
        for (int kp = 0; kp < HD / 32; kp++) {
          uint32_t b[4];
          ldsm_x4(b, K + (j * 8 + (lane & 7)) * LD + kp * 32 + (lane >> 3) * 8);
          mma_bf16(sc[j], qf[2 * kp], b[0], b[1]);
          mma_bf16(sc[j], qf[2 * kp + 1], b[2], b[3]);
        }
      }
      if (key0 + BK - 1 > wpos) {  // the tile crosses the warp's diagonal: mask keys past each row
#pragma unroll
        for (int j = 0; j < BK / 8; j++) {
          int key = key0 + j * 8 + 2 * t;
          if (key > pos_a) sc[j][0] = -INFINITY;
          if (key + 1 > pos_a) sc[j][1] = -INFINITY;
          if (key > pos_b) sc[j][2] = -INFINITY;
          if (key + 1 > pos_b) sc[j][3] = -INFINITY;
        }
      }
      // Online softmax: a row's 4 threads (one quad) hold its BK columns.
      float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
      for (int j = 0; j < BK / 8; j++) {
        mx_a = fmaxf(mx_a, fmaxf(sc[j][0], sc[j][1]));
        mx_b = fmaxf(mx_b, fmaxf(sc[j][2], sc[j][3]));
      }
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
      mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
      mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
      float mn_a = fmaxf(m_a, mx_a * scale_log2), mn_b = fmaxf(m_b, mx_b * scale_log2);
      // A row with no key yet keeps base 0, so that ex2(-inf - base) = 0 everywhere.
      float base_a = mn_a == -INFINITY ? 0.0f : mn_a, base_b = mn_b == -INFINITY ? 0.0f : mn_b;
      float alpha_a = ex2(m_a - base_a), alpha_b = ex2(m_b - base_b);
      m_a = mn_a, m_b = mn_b;
      float sum_a = 0.0f, sum_b = 0.0f;
#pragma unroll
      for (int j = 0; j < BK / 8; j++) {
        sc[j][0] = ex2(fmaf(sc[j][0], scale_log2, -base_a));
        sc[j][1] = ex2(fmaf(sc[j][1], scale_log2, -base_a));
        sc[j][2] = ex2(fmaf(sc[j][2], scale_log2, -base_b));
        sc[j][3] = ex2(fmaf(sc[j][3], scale_log2, -base_b));
        sum_a += sc[j][0] + sc[j][1];
        sum_b += sc[j][2] + sc[j][3];
      }
      l_a = l_a * alpha_a + sum_a;
      l_b = l_b * alpha_b + sum_b;
#pragma unroll
      for (int n = 0; n < HD / 8; n++) {
        o[n][0] *= alpha_a, o[n][1] *= alpha_a;
        o[n][2] *= alpha_b, o[n][3] *= alpha_b;
      }
      // O += P V, 16 keys at a time; one ldmatrix.x4.trans gives the B fragments of 16 dims.
#pragma unroll
      for (int kk = 0; kk < BK / 16; kk++) {
        uint32_t pa[4];
        pa[0] = pack_bf16(sc[2 * kk][0], sc[2 * kk][1]);
        pa[1] = pack_bf16(sc[2 * kk][2], sc[2 * kk][3]);
        pa[2] = pack_bf16(sc[2 * kk + 1][0], sc[2 * kk + 1][1]);
        pa[3] = pack_bf16(sc[2 * kk + 1][2], sc[2 * kk + 1][3]);
#pragma unroll
        for (int np = 0; np < HD / 16; np++) {
          uint32_t b[4];
          ldsm_x4_trans(b, V + (kk * 16 + (lane & 15)) * LD + np * 16 + (lane >> 4) * 8);
          mma_bf16(o[2 * np], pa, b[0], b[1]);
          mma_bf16(o[2 * np + 1], pa, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // tile kt's buffer is free for tile kt + 2
  }
  cp_async_wait<0>();  // nothing left in flight (the last group is empty)

  // O / l through the warp's own Q rows (read only by this warp, long ago), 16-byte stores.
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
  l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
  l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
  float inv_a = l_a > 0.0f ? 1.0f / l_a : 0.0f, inv_b = l_b > 0.0f ? 1.0f / l_b : 0.0f;
  __nv_bfloat16 *Ow = Qs + wrow * LD;
#pragma unroll
  for (int n = 0; n < HD / 8; n++) {
    *reinterpret_cast<uint32_t *>(Ow + g * LD + n * 8 + 2 * t) = pack_bf16(o[n][0] * inv_a, o[n][1] * inv_a);
    *reinterpret_cast<uint32_t *>(Ow + (g + 8) * LD + n * 8 + 2 * t) = pack_bf16(o[n][2] * inv_b, o[n][3] * inv_b);
  }
  __syncwarp();
  constexpr int CH = HD / 8;
  __nv_bfloat16 *dst = out + (size_t)(q_start + row0 + wrow) * q_dim + (size_t)h * HD;
#pragma unroll
  for (int idx = lane; idx < 16 * CH; idx += 32) {
    int r = idx / CH, c = idx % CH;
    if (wrow + r < rows)
      *reinterpret_cast<uint4 *>(dst + (size_t)r * q_dim + c * 8) = *reinterpret_cast<const uint4 *>(Ow + r * LD + c * 8);
  }
}

template <int HD, int WARPS, int BK, int MIN_BLOCKS>
int launch(cudaStream_t st, __nv_bfloat16 *out, const __nv_bfloat16 *qkv, const __nv_bfloat16 *kc,
           const __nv_bfloat16 *vc, const int *q_start, const int *q_len, const int *ctx_start, int n_seqs,
           int max_q_len, const lj_attn_prefill_shape &s, float sl2) {
  constexpr int BQ = WARPS * 16;
  size_t smem = mma_smem<HD, WARPS, BK>::bytes;
  auto kernel = attn_prefill_mma_kernel<HD, WARPS, BK, MIN_BLOCKS>;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  dim3 grid(s.n_heads, n_seqs, (max_q_len + BQ - 1) / BQ);
  lj_launch(kernel, grid, dim3(WARPS * 32), smem, st, out, qkv, kc, vc, q_start, q_len, ctx_start, s, sl2);
  CUDA_CHECK_LAUNCH("attention_prefill_mma");
  return 0;
}

// One kernel shape per variant and head size (lj_attn_prefill_runs resolves "mma"). Registers:
// at head_dim 128 a thread holds O (64), Q (32) and S (32 at 64 keys): ptxas uses 225, so one
// 8-warp or two 4-warp blocks per SM; at 64, two 8-warp or three 4-warp blocks (shared memory
// 37-104 KB per block).
template <int HD>
int launch_hd(int variant, cudaStream_t st, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
              const __nv_bfloat16 *kc, const __nv_bfloat16 *vc, const int *qs, const int *ql, const int *cs,
              int n_seqs, int max_q, const lj_attn_prefill_shape &s, float sl2) {
  constexpr int B8 = HD >= 128 ? 1 : 2, B4 = HD >= 128 ? 2 : 3;
  switch (lj_attn_prefill_runs(variant, HD)) {
    case LJ_ATTN_PREFILL_MMA64:
      return launch<HD, 4, 64, B4>(st, out, qkv, kc, vc, qs, ql, cs, n_seqs, max_q, s, sl2);
    case LJ_ATTN_PREFILL_MMA128:
      return launch<HD, 8, 64, B8>(st, out, qkv, kc, vc, qs, ql, cs, n_seqs, max_q, s, sl2);
    case LJ_ATTN_PREFILL_MMA_K32:
      return launch<HD, 8, 32, B8>(st, out, qkv, kc, vc, qs, ql, cs, n_seqs, max_q, s, sl2);
    default:
      return LJ_FAIL(LJ_EINVAL, "attention_prefill_mma: variant %d is not an mma variant", variant);
  }
}

}  // namespace

int lj_cuda_attention_prefill_mma(int variant, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                                  const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache, const int *q_start,
                                  const int *q_len, const int *ctx_start, int n_seqs, int max_q_len,
                                  const lj_attn_prefill_shape *s, cudaStream_t stream) {
  if ((s->head_dim != 64 && s->head_dim != 128) || s->n_heads % s->n_kv_heads != 0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "attention_prefill_mma: head_dim %d (64 or 128), %d heads / %d kv heads",
                   s->head_dim, s->n_heads, s->n_kv_heads);
  if (n_seqs <= 0 || max_q_len <= 0) return 0;
  float sl2 = (float)(1.0 / sqrt((double)s->head_dim) * 1.4426950408889634);
  if (s->head_dim == 64)
    return launch_hd<64>(variant, stream, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, n_seqs, max_q_len,
                         *s, sl2);
  return launch_hd<128>(variant, stream, out, qkv, k_cache, v_cache, q_start, q_len, ctx_start, n_seqs, max_q_len,
                        *s, sl2);
}
