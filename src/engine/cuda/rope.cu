// RoPE + KV-cache append: grid (token, work chunk); each thread either rotates one
// (i, i + hd/2) pair of a q or k head or copies one v element. Angles in fp32 as HF.
// Many small blocks: a decode step has one token, whose work must still spread;
// a long prefill gives each block 8 tokens (fewer, longer blocks).
#include <math.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/rope.h"
#include "engine/cuda/rope_pair.cuh"

void lj_rope_inv_freq(const lj_model_config *c, float *inv_freq) {
  int half = c->head_dim / 2;
  for (int i = 0; i < half; i++) {
    float f = 1.0f / powf((float)c->rope_theta, (float)(2 * i) / (float)c->head_dim);
    if (c->rope_type == LJ_ROPE_LLAMA3) {
      float factor = (float)c->rope_factor, lo = (float)c->rope_low_freq_factor,
            hi = (float)c->rope_high_freq_factor, old_ctx = (float)c->rope_original_max_pos;
      float low_wavelen = old_ctx / lo, high_wavelen = old_ctx / hi;
      float wavelen = 2.0f * (float)M_PI / f;
      if (wavelen > low_wavelen) {
        f = f / factor;
      } else if (wavelen >= high_wavelen) {  // medium: smooth interpolation
        float smooth = (old_ctx / wavelen - lo) / (hi - lo);
        f = (1.0f - smooth) * f / factor + smooth * f;
      }
    }
    inv_freq[i] = f;
  }
}

static __global__ void rope_kv_kernel(__nv_bfloat16 *qkv, const __nv_bfloat16 *qkv_in, __nv_bfloat16 *k_cache,
                                      __nv_bfloat16 *v_cache, const int *seq, const int *pos,
                                      const float *inv_freq, int n_tokens, int n_heads, int n_kv_heads,
                                      int hd, int ctx_cap) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  int tokens_per_block = (n_tokens + gridDim.x - 1) / gridDim.x;
  for (int t = blockIdx.x * tokens_per_block; t < min(n_tokens, (int)(blockIdx.x + 1) * tokens_per_block); t++) {
    int half = hd / 2;
    int q_dim = n_heads * hd, kv_dim = n_kv_heads * hd;
    __nv_bfloat16 *row = qkv + (size_t)t * (q_dim + 2 * kv_dim);
    const __nv_bfloat16 *in = qkv_in + (size_t)t * (q_dim + 2 * kv_dim);
    int p = pos[t], s = seq[t];
    size_t cache_seq = (size_t)s * n_kv_heads * ctx_cap * hd;
    int n_pairs = (n_heads + n_kv_heads) * half;
    int idx = blockIdx.y * blockDim.x + threadIdx.x;
    if (idx < n_pairs) {
      int head = idx / half, i = idx % half;
      __nv_bfloat16 *x = row + head * hd;  // q heads then k heads, contiguous
      const __nv_bfloat16 *xi = in + head * hd;
      __nv_bfloat16 o1, o2;
      rope_pair(__bfloat162float(xi[i]), __bfloat162float(xi[i + half]), p, inv_freq[i], &o1, &o2);
      if (head < n_heads) {
        x[i] = o1;
        x[i + half] = o2;
      } else {
        int kh = head - n_heads;
        __nv_bfloat16 *dst = k_cache + cache_seq + ((size_t)kh * ctx_cap + p) * hd;
        dst[i] = o1;
        dst[i + half] = o2;
      }
    }
    const __nv_bfloat16 *v = in + q_dim + kv_dim;
    int vi = idx - n_pairs;
    if (vi >= 0 && vi < kv_dim) {
      int kh = vi / hd, d = vi % hd;
      v_cache[cache_seq + ((size_t)kh * ctx_cap + p) * hd + d] = v[vi];
    }
  }
}

int lj_cuda_rope_kv_from(__nv_bfloat16 *qkv, const __nv_bfloat16 *qkv_in, __nv_bfloat16 *k_cache,
                         __nv_bfloat16 *v_cache, const int *seq, const int *pos, const float *inv_freq, int n_tokens,
                         int n_heads, int n_kv_heads, int head_dim, int ctx_cap, cudaStream_t stream) {
  if (head_dim % 2 != 0) return LJ_FAIL(LJ_EUNSUPPORTED, "rope: head_dim %d must be even", head_dim);
  if (n_tokens <= 0) return 0;
  int work = (n_heads + n_kv_heads) * head_dim / 2 + n_kv_heads * head_dim, threads = 128;
  int token_blocks = n_tokens > 256 ? (n_tokens + 7) / 8 : n_tokens;  // long prefills: 8 tokens a block
  lj_launch(rope_kv_kernel, dim3(token_blocks, (work + threads - 1) / threads), dim3(threads), 0, stream, qkv, qkv_in, k_cache, v_cache, seq, pos,
            inv_freq, n_tokens, n_heads, n_kv_heads, head_dim, ctx_cap);
  CUDA_CHECK_LAUNCH("rope_kv");
  return 0;
}

int lj_cuda_rope_kv(__nv_bfloat16 *qkv, __nv_bfloat16 *k_cache, __nv_bfloat16 *v_cache,
                    const int *seq, const int *pos, const float *inv_freq, int n_tokens,
                    int n_heads, int n_kv_heads, int head_dim, int ctx_cap, cudaStream_t stream) {
  return lj_cuda_rope_kv_from(qkv, qkv, k_cache, v_cache, seq, pos, inv_freq, n_tokens, n_heads, n_kv_heads,
                              head_dim, ctx_cap, stream);
}
