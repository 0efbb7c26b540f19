// fp32 reference operations of the Llama forward pass, one function per
// operation, explicit inputs and outputs, no hidden state. The CPU engine is
// built from them and the CUDA kernels are tested against them one by one.
// Activations are f32, row-major, one row per token; weights are lj_tensor
// views of any dtype (F32/F16/BF16), widened to f32 on the fly.
#pragma once
#include <stdint.h>

#include "engine/cpu/thread_pool.h"
#include "model/config.h"
#include "model/weights.h"

// out[t, :] = embed[ids[t], :]. Fails naming the id when it is outside the vocabulary.
int lj_cpu_embed(const lj_tensor *embed /* (vocab, dim) */, const int32_t *ids, int n,
                 float *out /* (n, dim) */);

// HF LlamaRMSNorm: out = (x * rsqrt(mean(x^2) + eps)) * weight, per row. out may equal x.
void lj_cpu_rmsnorm(const float *x /* (n, dim) */, const lj_tensor *weight /* (dim) */, float eps,
                    int n, int dim, float *out /* (n, dim) */);

// nn.Linear without bias: y = x W^T with W in HF layout (out_features, in_features).
// Split over output rows across the pool (NULL: calling thread only). y must not alias x.
void lj_cpu_matmul(const float *x /* (n, in) */, const lj_tensor *w /* (out, in) */, int n,
                   float *y /* (n, out) */, lj_thread_pool *pool);

// The activations of a W8A8 FP8 linear layer (calls of more than LJ_FP8_W8A16_MAX_TOKENS tokens):
// each token's row quantised with model/fp8_quant.h's rule (scale = amax / 448, E4M3 round to
// nearest even), the GPU's lj_cuda_quantize_act, and written back as code * scale in fp32.
void lj_cpu_fp8_quantize_act(const float *x /* (n, in) */, int n, int in, float *out /* (n, in) */);

// RoPE inverse frequencies of HF's rope_init_fn: theta^(-2i/head_dim), then
// the llama3 rescaling (low/high frequency factors, smooth band) when
// c->rope_type == LJ_ROPE_LLAMA3.
void lj_rope_inv_freq(const lj_model_config *c, float *inv_freq /* (head_dim/2) */);

// Rotates every head of x in place, HF's half-split convention (rotate_half):
// for i < h = head_dim/2 and angle a = pos[t] * inv_freq[i]:
//   x'[i]   = x[i]   cos a - x[i+h] sin a
//   x'[i+h] = x[i+h] cos a + x[i]   sin a
void lj_cpu_rope(float *x /* (n, n_heads, head_dim) */, const int32_t *pos /* (n) */, int n,
                 int n_heads, int head_dim, const float *inv_freq /* (head_dim/2) */);

// Causal grouped-query attention of n query tokens of ONE sequence against
// that sequence's KV cache, which already holds the keys/values of positions
// 0..max(pos) (the new tokens' included). Query t sees positions 0..pos[t].
// Query head h reads KV head h / (n_heads / n_kv_heads) (HF repeat_kv).
// Scores are scaled by 1/sqrt(head_dim); softmax in f32.
void lj_cpu_attention(const float *q /* (n, n_heads, head_dim) */,
                      const float *k_cache /* (ctx, n_kv_heads, head_dim) */,
                      const float *v_cache /* (ctx, n_kv_heads, head_dim) */,
                      const int32_t *pos /* (n) */, int n, int n_heads, int n_kv_heads, int head_dim,
                      float *out /* (n, n_heads * head_dim) */, lj_thread_pool *pool);

// out = silu(gate) * up, silu(x) = x / (1 + exp(-x)). out may equal gate or up.
void lj_cpu_swiglu(const float *gate /* (n) */, const float *up /* (n) */, int64_t n, float *out /* (n) */);

// x += y (the residual stream).
void lj_cpu_add(float *x /* (n) */, const float *y /* (n) */, int64_t n);

// In-place softmax over n values (max-subtracted).
void lj_cpu_softmax(float *x /* (n) */, int n);

// Index of the largest value; the first one on ties (torch.argmax). NaN never wins.
int lj_cpu_argmax(const float *x /* (n) */, int n);
