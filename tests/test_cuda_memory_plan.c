// The CUDA engine's memory plan (no GPU needed): byte counts against sizes
// computed by hand from the published configurations, and the refusal message.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/cuda/memory_plan.h"
#include "model/config.h"

// Llama 3.2 1B: 1,235,814,400 parameters (tied embeddings), so 2,471,628,800 bytes in bf16;
// KV cache per sequence and position: 2 (K, V) x 16 layers x 8 kv heads x 64 x 2 bytes = 32 KiB.
static void test_plan_1b(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &c), 0);
  lj_cuda_memory_plan p;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, 4, 1000, 512, &p);
  assert_int_equal(p.weights, 2471628800ll);
  assert_int_equal(p.kv_cache, 4ll * 1000 * 32768);
  assert_int_equal(p.total, p.weights + p.kv_cache + p.activations + p.workspace);
  assert_true(p.activations > 512ll * 2 * 2048);  // at least x for every token
}

// Llama 3.1 8B at context 4096: 2 x 32 x 8 x 128 x 2 = 128 KiB per position, 512 MiB per
// sequence; 80 GiB less 14.96 GiB of weights and 0.5 GiB kept aside leaves ~64.5 GiB: about
// 128 sequences (a little less for activations and logits), not 256.
static void test_refusal_names_largest_batch(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.1-8b", &c), 0);
  int64_t free_bytes = 80ll << 30;
  lj_cuda_memory_plan p;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, 256, 4096, 256, &p);
  assert_int_equal(p.kv_cache, 256ll * 4096 * 131072);
  int fit = lj_cuda_memory_plan_max_batch(&c, LJ_WEIGHTS_BF16, 4096, 256, 0, free_bytes);
  assert_true(fit >= 120 && fit <= 129);
  lj_cuda_memory_plan q;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, fit, 4096, 256, &q);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, fit, 4096, 256, &q, free_bytes), 0);
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, fit + 1, 4096, 256, &q);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, fit + 1, 4096, 256, &q, free_bytes), LJ_ENOMEM);
  // 256 tokens over 256 sequences: one token each, so the hint's batch prefills `fit` tokens.
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, 256, 4096, 256, &p, free_bytes), LJ_ENOMEM);
  char want[64];
  snprintf(want, sizeof want, "the largest batch that fits at this context is %d", fit);
  assert_non_null(strstr(lj_error_message(), want));
}

// 70B does not fit an 80 GB card at all: the message says even batch 1 does not.
static void test_70b_does_not_fit(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.3-70b", &c), 0);
  lj_cuda_memory_plan p;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, 1, 2048, 2048, &p);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, 1, 2048, 2048, &p, 80ll << 30), LJ_ENOMEM);
  assert_non_null(strstr(lj_error_message(), "even batch 1 does not fit"));
  assert_int_equal(lj_cuda_memory_plan_max_batch(&c, LJ_WEIGHTS_BF16, 2048, 2048, 0, 80ll << 30), 0);
}

// A batched prefill's tokens grow with the batch: 8B with 256 prompts of 2048 tokens (524,288
// tokens in one call, ~64 GiB of activations) does not fit 78.66 GiB, but batch 1 plainly
// does. The hint must name the largest batch at 2048 tokens per sequence, and that batch must
// fit with its own prefill, the next one not. (It said "even batch 1 does not fit" by keeping
// all 524,288 tokens at every batch.)
static void test_hint_scales_prefill_tokens(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.1-8b", &c), 0);
  int64_t free_bytes = (int64_t)(78.66 * (double)(1ll << 30));
  int ctx = 2048 + 128 + 1;
  lj_cuda_memory_plan p, q;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, 256, ctx, 256 * 2048, &p);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, 256, ctx, 256 * 2048, &p, free_bytes), LJ_ENOMEM);
  int fit = lj_cuda_memory_plan_max_batch(&c, LJ_WEIGHTS_BF16, ctx, 0, 2048, free_bytes);
  assert_true(fit >= 64 && fit < 256);
  char want[64];
  snprintf(want, sizeof want, "the largest batch that fits at this context is %d", fit);
  assert_non_null(strstr(lj_error_message(), want));
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, fit, ctx, fit * 2048, &q);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, fit, ctx, fit * 2048, &q, free_bytes), 0);
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, fit + 1, ctx, (fit + 1) * 2048, &q);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, fit + 1, ctx, (fit + 1) * 2048, &q, free_bytes), LJ_ENOMEM);
}

// FP8 linear layers: 70B's 68.45 G linear parameters take 1 byte each plus one fp32 scale per
// output row (80 x 51200 rows); embeddings, lm_head and norms stay bf16 (2 x 128256 x 8192 x 2
// bytes + norms): 63.78 + 3.92 = 67.69 GiB. An 80 GB H100 shows ~79 GiB free: batch 1 at context 8192 and
// batch 8 at context 2048 fit (KV cache 320 KiB per position), batch 8 at 8192 does not.
static void test_70b_fp8_fits_h100(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.3-70b", &c), 0);
  assert_int_equal(lj_cuda_linear_params(&c), 80ll * (10240ll * 8192 + 8192ll * 8192 + 3ll * 28672 * 8192));
  assert_int_equal(lj_cuda_linear_rows(&c), 80ll * (10240 + 8192 + 2 * 28672 + 8192));
  int64_t bf16 = 2 * lj_config_n_params(&c);
  int64_t fp8 = lj_cuda_weight_storage_bytes(&c, LJ_WEIGHTS_FP8);
  assert_int_equal(fp8, bf16 - lj_cuda_linear_params(&c) + 4 * lj_cuda_linear_rows(&c));
  double gib = (double)fp8 / (double)(1ll << 30);
  assert_true(gib > 67.68 && gib < 67.70);
  int64_t h100_free = 79ll << 30;
  lj_cuda_memory_plan p;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_FP8, 1, 8192, 2048, &p);
  assert_int_equal(p.weights, fp8);
  assert_int_equal(p.kv_cache, 8192ll * 2 * 80 * 1024 * 2);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_FP8, 1, 8192, 2048, &p, h100_free), 0);
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_FP8, 8, 2048, 2048, &p);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_FP8, 8, 2048, 2048, &p, h100_free), 0);
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_FP8, 8, 8192, 2048, &p);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_FP8, 8, 8192, 2048, &p, h100_free), LJ_ENOMEM);
  int fit = lj_cuda_memory_plan_max_batch(&c, LJ_WEIGHTS_FP8, 8192, 2048, 0, h100_free);
  assert_true(fit >= 3 && fit <= 4);  // (79 - 67.69 - 0.5 - ~0.6) GiB / 2.5 GiB per sequence
  // The bf16 refusal points at FP8.
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, 1, 2048, 2048, &p);
  assert_int_equal(lj_cuda_memory_plan_check(&c, LJ_WEIGHTS_BF16, 1, 2048, 2048, &p, h100_free), LJ_ENOMEM);
  assert_non_null(strstr(lj_error_message(), "--weights fp8 halves the linear layers"));
  // FP8 prefill buffers: the widest GEMM input (hidden 28672) quantised per token + its scale,
  // gate|up's own scale (read by SwiGLU, which applies gate|up's scaling), and h quantised by SwiGLU
  // for down (28672 + a scale + the row amax word), the norms' output quantised for qkv and gate|up (dim 8192 +
  // attn_norm's scale), and o_proj's input scales (read by ffn_norm, which applies o_proj's scaling).
  lj_cuda_memory_plan q;
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_BF16, 1, 2048, 2048, &q);
  lj_cuda_memory_plan_compute(&c, LJ_WEIGHTS_FP8, 1, 2048, 2048, &p);
  assert_int_equal(p.activations - q.activations, 2048ll * (28672 + 4 + 4 + 28672 + 4 + 4 + 8192 + 4 + 4));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_1b),
      cmocka_unit_test(test_refusal_names_largest_batch),
      cmocka_unit_test(test_70b_does_not_fit),
      cmocka_unit_test(test_hint_scales_prefill_tokens),
      cmocka_unit_test(test_70b_fp8_fits_h100),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
