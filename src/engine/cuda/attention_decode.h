// ATTN stage for decode (one new query token per sequence): attention over
// the KV cache, split over the KV length, then a combine.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "engine/cuda/attn_decode_variant.h"

#define LJ_ATTN_DECODE_MAX_GROUP 8  // n_heads / n_kv_heads (Llama 3: 3, 4 or 8)

typedef struct {
  int n_heads, n_kv_heads, head_dim;
  int ctx_cap;      // cache positions per sequence
  int split_keys;   // keys per split (multiple of 16)
  int n_splits;     // ceil(ctx_cap / split_keys): fixed, so a captured graph fits any length
} lj_attn_decode_shape;

// Picks split_keys / n_splits for n_seq sequences: target_splits splits when > 0, else so that
// the grid fills the GPU (lj_attn_decode_splits). One split: the split kernel writes the output
// itself and no combine kernel runs.
lj_attn_decode_shape lj_attn_decode_plan(int n_heads, int n_kv_heads, int head_dim, int ctx_cap,
                                         int n_seq, int n_sms, int target_splits);

// Bytes of fp32 scratch needed for n_tokens queries (partial outputs + max/sum).
size_t lj_attn_decode_scratch_bytes(const lj_attn_decode_shape *s, int n_tokens);

// Block counters of the one-kernel variants for n_tokens queries (one per token and KV head):
// zeroed once when allocated; each launch leaves them 0.
size_t lj_attn_decode_counter_bytes(const lj_attn_decode_shape *s, int n_tokens);

// For token t (n_tokens,) of sequence seq[t] with kv_len[t] cached positions
// (its own included): q = qkv[t, head * hd .. ] (row stride q_dim + 2 kv_dim),
//   out[t, head, :] = softmax(q . K[0:kv_len] / sqrt(hd)) V[0:kv_len]
// Each block reads one KV head's chunk once for all the heads of its query group.
// out: (n_tokens, n_heads * head_dim) bf16. Caches: (n_seq_cap, n_kv_heads, ctx_cap, hd).
int lj_cuda_attention_decode(__nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                             const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                             const int *seq, const int *kv_len, int n_tokens,
                             const lj_attn_decode_shape *s, float *scratch, cudaStream_t stream);

// The same attention by one variant (attn_decode_variant.h):
//   split    what lj_cuda_attention_decode does (two kernels; q already rotated, the new key
//            already in the cache by lj_cuda_rope_kv);
//   one      one kernel: the last block of each (token, kv head) combines the splits' partials
//            (counters: lj_attn_decode_counter_bytes, zero on entry, zero on return);
//   one_rope one kernel that also does lj_cuda_rope_kv's work for decode: q of the group rotated
//            in shared memory (qkv is not written), the new key rotated and written with its value
//            to k_cache / v_cache at pos[t] (pos[t] = kv_len[t] - 1 in decode).
// pos and inv_freq (device, head_dim / 2) are read by one_rope only; counters by one and one_rope.
// The three give the same bits: the same sums in the same order, RoPE through rope_pair.cuh.
int lj_cuda_attention_decode_variant(int variant, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                                     __nv_bfloat16 *k_cache, __nv_bfloat16 *v_cache, const int *seq,
                                     const int *pos, const int *kv_len, const float *inv_freq, int n_tokens,
                                     const lj_attn_decode_shape *s, float *scratch, unsigned *counters,
                                     cudaStream_t stream);
