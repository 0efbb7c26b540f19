// ROPE stage: rotary position embedding with llama3 frequency scaling (HF
// half-split rotation), fused with the KV-cache append.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

extern "C" {
#include "model/config.h"
}

// Fills inv_freq[head_dim / 2] (host) as HF computes it, llama3 scaling included.
void lj_rope_inv_freq(const lj_model_config *c, float *inv_freq);

// qkv: (n_tokens, q_dim + 2 * kv_dim), the fused projection's output, q | k | v.
// For token i of sequence seq[i] at position pos[i]:
//   q heads are rotated in place;
//   k heads are rotated and written to k_cache[seq[i], kv_head, pos[i], :];
//   v heads are copied to v_cache[seq[i], kv_head, pos[i], :].
// Caches: (n_seq_cap, n_kv_heads, ctx_cap, head_dim). inv_freq: device (head_dim / 2).
// Rotation (x1 = x[:hd/2], x2 = x[hd/2:]): out1 = x1 c - x2 s, out2 = x2 c + x1 s with
// c = bf16(cos(pos * f)), s = bf16(sin(pos * f)) in fp32 like HF.
int lj_cuda_rope_kv(__nv_bfloat16 *qkv, __nv_bfloat16 *k_cache, __nv_bfloat16 *v_cache,
                    const int *seq, const int *pos, const float *inv_freq, int n_tokens,
                    int n_heads, int n_kv_heads, int head_dim, int ctx_cap, cudaStream_t stream);
// The same from qkv_in (not written) to qkv (q rotated, k and v rows untouched): a replay on
// recorded inputs (stage_inputs.cu) rotates the same q every call instead of rotating it again.
int lj_cuda_rope_kv_from(__nv_bfloat16 *qkv, const __nv_bfloat16 *qkv_in, __nv_bfloat16 *k_cache,
                         __nv_bfloat16 *v_cache, const int *seq, const int *pos, const float *inv_freq, int n_tokens,
                         int n_heads, int n_kv_heads, int head_dim, int ctx_cap, cudaStream_t stream);
