// ATTN stage for prefill: causal GQA attention of a packed batch of prompts
// (each sequence may continue an existing cache), on tensor cores.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

typedef struct {
  int n_heads, n_kv_heads, head_dim;  // head_dim <= 128
  int ctx_cap;                        // cache positions per sequence
} lj_attn_prefill_shape;

// Sequence s (0 <= s < n_seqs, also its cache slot) has q_len[s] new tokens at
// rows q_start[s] .. of the packed qkv (row stride q_dim + 2 kv_dim), at
// positions ctx_start[s] .. ctx_start[s] + q_len[s] - 1; its keys and values
// (all positions up to the last new one) are already in the caches (rope_kv).
//   out[row, h, :] = softmax_{k <= pos(row)}(q . K_k / sqrt(hd)) V
// out: (n_tokens, n_heads * head_dim). max_q_len: the largest q_len (grid size).
// q_start, q_len, ctx_start: device arrays (n_seqs,).
int lj_cuda_attention_prefill(__nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                              const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                              const int *q_start, const int *q_len, const int *ctx_start,
                              int n_seqs, int max_q_len, const lj_attn_prefill_shape *s,
                              cudaStream_t stream);
// The same with a chosen kernel (lj_attn_prefill_variant, attn_prefill_variant.h): the mma
// variants (attention_prefill_mma.cu) for head_dim 64 and 128 with 16-byte aligned pointers,
// lj_cuda_attention_prefill (wmma) otherwise. LJ_EINVAL for an unknown variant.
int lj_cuda_attention_prefill_variant(int variant, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                                      const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache,
                                      const int *q_start, const int *q_len, const int *ctx_start,
                                      int n_seqs, int max_q_len, const lj_attn_prefill_shape *s,
                                      cudaStream_t stream);
