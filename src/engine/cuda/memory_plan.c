// Byte counts of every device allocation the CUDA engine makes (cuda_engine.cu
// allocates exactly these sizes; tests/test_cuda_memory_plan.c checks the arithmetic).
#include "engine/cuda/memory_plan.h"

#include <stdio.h>

#include "common/error.h"

// Activation bytes per token of one forward call (cuda_engine.cu: struct acts).
static int64_t act_bytes_per_token(const lj_model_config *c) {
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  int64_t bf16 = 2 * (d /*x*/ + d /*xn*/ + (q + 2 * kv) /*qkv*/ + q /*attn*/ + d /*delta*/ +
                      2 * h /*gate|up*/ + h /*swiglu*/);
  int64_t ints = 4 * 4;  // tokens, seq, pos, kv_len
  return bf16 + ints + 4 /*norm-once's rstd (fp32)*/;
}

// Per sequence: final-norm row, logits (fp32), per-sequence state, decode attention scratch and
// block counters.
static int64_t act_bytes_per_seq(const lj_model_config *c, int max_ctx) {
  int64_t splits = (max_ctx + 511) / 512 + 64;  // upper bound of the decode split count
  return 2 * (int64_t)c->dim + 4 * (int64_t)c->vocab_size + 4 * 8 + 4 * (int64_t)max_ctx /*history*/ +
         4 * (int64_t)c->n_heads * splits * (c->head_dim + 2) + 4 * (int64_t)c->n_kv_heads;
}

int64_t lj_cuda_linear_params(const lj_model_config *c) {
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  return c->n_layers * ((q + 2 * kv) * d + d * q + 3 * h * d);
}

int64_t lj_cuda_linear_rows(const lj_model_config *c) {
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  return c->n_layers * ((q + 2 * kv) + d + 2 * h + d);
}

int64_t lj_cuda_weight_storage_bytes(const lj_model_config *c, int weights) {
  int64_t all = 2 * lj_config_n_params(c);
  if (weights != LJ_WEIGHTS_FP8) return all;
  return all - lj_cuda_linear_params(c) + 4 * lj_cuda_linear_rows(c);  // 2 -> 1 byte, + scales
}

// FP8 prefill: the activations of one GEMM quantised per token (1 byte each, widest input:
// hidden_dim), their scales, gate|up's own scales (read by the SwiGLU stage that scales gu), and
// h quantised by SwiGLU for down (hidden_dim bytes, a scale and the row amax word), the norms' output quantised for
// qkv and gate|up (dim bytes and attn_norm's scale) and o_proj's input scales (read by ffn_norm).
static int64_t fp8_act_bytes_per_token(const lj_model_config *c, int weights) {
  if (weights != LJ_WEIGHTS_FP8) return 0;
  int64_t w = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
  if (lj_q_dim(c) > w) w = lj_q_dim(c);
  return w + 4 + 4 + c->hidden_dim + 4 + 4 + c->dim + 4 + 4;
}

void lj_cuda_memory_plan_compute(const lj_model_config *c, int weights, int max_batch, int max_ctx,
                                 int max_tokens, lj_cuda_memory_plan *p) {
  p->weights = lj_cuda_weight_storage_bytes(c, weights);
  int64_t kv_per_seq = 2 * (int64_t)c->n_layers * max_ctx * lj_kv_dim(c) * 2;
  p->kv_cache = kv_per_seq * max_batch;
  p->activations = (act_bytes_per_token(c) + fp8_act_bytes_per_token(c, weights)) * max_tokens +
                   act_bytes_per_seq(c, max_ctx) * max_batch;
  p->workspace = LJ_CUDA_GEMM_WORKSPACE;
  p->total = p->weights + p->kv_cache + p->activations + p->workspace;
  p->per_sequence = kv_per_seq + act_bytes_per_seq(c, max_ctx);
}

int lj_cuda_memory_plan_max_batch(const lj_model_config *c, int weights, int max_ctx, int fixed_tokens,
                                  int tokens_per_seq, int64_t free_bytes) {
  lj_cuda_memory_plan p0;
  lj_cuda_memory_plan_compute(c, weights, 0, max_ctx, fixed_tokens, &p0);
  int64_t room = free_bytes - LJ_CUDA_MEMORY_MARGIN - p0.total;
  int64_t per_seq = p0.per_sequence + (act_bytes_per_token(c) + fp8_act_bytes_per_token(c, weights)) * tokens_per_seq;
  if (room < 0 || per_seq <= 0) return 0;
  int64_t b = room / per_seq;
  return b > 1 << 20 ? 1 << 20 : (int)b;
}

static double gib(int64_t b) { return (double)b / (double)(1ll << 30); }

void lj_cuda_memory_plan_print(const lj_model_config *c, int weights, int max_batch, int max_ctx, int max_tokens,
                               const lj_cuda_memory_plan *p, int64_t free_bytes) {
  fprintf(stderr,
          "llamajoule: memory plan for %s, batch %d, context %d, %d tokens per forward call:\n"
          "  weights      %8.3f GiB (%s)\n"
          "  KV cache     %8.3f GiB\n"
          "  activations  %8.3f GiB\n"
          "  workspace    %8.3f GiB\n"
          "  total        %8.3f GiB of %.3f GiB free (%.3f GiB kept aside)\n",
          c->name, max_batch, max_ctx, max_tokens, gib(p->weights), lj_weight_format_name(weights), gib(p->kv_cache),
          gib(p->activations), gib(p->workspace), gib(p->total), gib(free_bytes),
          gib(LJ_CUDA_MEMORY_MARGIN));
}

int lj_cuda_memory_plan_check(const lj_model_config *c, int weights, int max_batch, int max_ctx, int max_tokens,
                              const lj_cuda_memory_plan *p, int64_t free_bytes) {
  if (p->total + LJ_CUDA_MEMORY_MARGIN <= free_bytes) return 0;
  // The hint keeps the tokens per sequence: a smaller batch prefills fewer tokens at once.
  int per_seq = max_batch > 0 ? (max_tokens + max_batch - 1) / max_batch : max_tokens;
  int fit = lj_cuda_memory_plan_max_batch(c, weights, max_ctx, 0, per_seq, free_bytes);
  if (fit == 0)
    return LJ_FAIL(LJ_ENOMEM,
                   "%s does not fit on this GPU: %.2f GiB needed for batch %d, context %d, only "
                   "%.2f GiB free; even batch 1 does not fit (weights alone: %.2f GiB in %s%s)",
                   c->name, gib(p->total + LJ_CUDA_MEMORY_MARGIN), max_batch, max_ctx,
                   gib(free_bytes), gib(p->weights), lj_weight_format_name(weights),
                   weights == LJ_WEIGHTS_BF16 ? "; --weights fp8 halves the linear layers" : "");
  return LJ_FAIL(LJ_ENOMEM,
                 "%s with batch %d and context %d needs %.2f GiB, only %.2f GiB free: the largest "
                 "batch that fits at this context is %d",
                 c->name, max_batch, max_ctx, gib(p->total + LJ_CUDA_MEMORY_MARGIN), gib(free_bytes),
                 fit);
}
