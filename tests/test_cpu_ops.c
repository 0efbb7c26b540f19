// The CPU reference ops against analytic answers: dtype conversions with
// known bit patterns, RMSNorm, matmul in HF layout for every weight dtype,
// RoPE (rotation closed form, llama3 frequency bands from the published
// formula), causal GQA attention on hand-made caches, SwiGLU, softmax, argmax.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/cpu/cpu_ops.h"
#include "model/config.h"
#include "model/dtype.h"

static void test_bf16(void **state) {
  (void)state;
  assert_int_equal(lj_f32_to_bf16(1.0f), 0x3F80);
  assert_int_equal(lj_f32_to_bf16(-2.0f), 0xC000);
  assert_true(lj_bf16_to_f32(0x3F80) == 1.0f);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties to even (1.0).
  assert_int_equal(lj_f32_to_bf16(1.0f + 1.0f / 256), 0x3F80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up to even.
  assert_int_equal(lj_f32_to_bf16(1.0f + 3.0f / 256), 0x3F82);
  assert_int_equal(lj_f32_to_bf16(1.0f + 1.0f / 256 + 1.0f / 65536), 0x3F81);  // above halfway
  assert_int_equal(lj_f32_to_bf16(INFINITY), 0x7F80);
  assert_true(isnan(lj_bf16_to_f32(lj_f32_to_bf16(NAN))));
  assert_true(lj_round_bf16(3.14159265f) == 3.140625f);
}

static void test_f16(void **state) {
  (void)state;
  assert_true(lj_f16_to_f32(0x3C00) == 1.0f);
  assert_true(lj_f16_to_f32(0xC000) == -2.0f);
  assert_true(lj_f16_to_f32(0x7BFF) == 65504.0f);          // largest half
  assert_true(lj_f16_to_f32(0x0001) == ldexpf(1.0f, -24));  // smallest subnormal
  assert_true(lj_f16_to_f32(0x0400) == ldexpf(1.0f, -14));  // smallest normal
  assert_true(isinf(lj_f16_to_f32(0x7C00)));
  assert_int_equal(lj_f32_to_f16(1.0f), 0x3C00);
  assert_int_equal(lj_f32_to_f16(65504.0f), 0x7BFF);
  assert_int_equal(lj_f32_to_f16(65520.0f), 0x7C00);  // rounds to inf
  assert_int_equal(lj_f32_to_f16(ldexpf(1.0f, -24)), 0x0001);
  assert_int_equal(lj_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);       // halfway to 0: even
  assert_int_equal(lj_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);       // 1.5 ulp: to even (2)
  assert_int_equal(lj_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3C00);  // tie to even
  // Every half value survives the round trip.
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaN payloads
    assert_int_equal(lj_f32_to_f16(lj_f16_to_f32((uint16_t)h)), h);
  }
}

static void test_rmsnorm(void **state) {
  (void)state;
  // x = (3, 4): mean square 12.5; with eps 0 the row becomes x / sqrt(12.5), times w.
  float x[2] = {3, 4}, w[2] = {2, 0.5f}, out[2];
  lj_tensor wt = lj_tensor_f32(w, 2, 0);
  lj_cpu_rmsnorm(x, &wt, 0.0f, 1, 2, out);
  assert_float_equal(out[0], 2 * 3 / sqrtf(12.5f), 1e-6);
  assert_float_equal(out[1], 0.5f * 4 / sqrtf(12.5f), 1e-6);
  // eps enters under the root.
  lj_cpu_rmsnorm(x, &wt, 1.0f, 1, 2, out);
  assert_float_equal(out[0], 2 * 3 / sqrtf(13.5f), 1e-6);
}

static void test_matmul_layouts(void **state) {
  (void)state;
  // W (3 out, 20 in) in HF layout; y = x W^T for 5 tokens, every weight dtype, 1 and 4 threads.
  enum { IN = 20, OUT = 3, N = 5 };
  float w[OUT * IN], x[N * IN], want[N * OUT];
  uint16_t wb[OUT * IN], wh[OUT * IN];
  for (int i = 0; i < OUT * IN; i++) {
    w[i] = lj_round_bf16((float)((i * 7) % 11) / 4 - 1);  // exact in bf16 and f16
    wb[i] = lj_f32_to_bf16(w[i]);
    wh[i] = lj_f32_to_f16(w[i]);
  }
  for (int i = 0; i < N * IN; i++) x[i] = (float)((i * 5) % 9) - 4;
  for (int t = 0; t < N; t++)
    for (int o = 0; o < OUT; o++) {
      double s = 0;
      for (int k = 0; k < IN; k++) s += (double)x[t * IN + k] * w[o * IN + k];
      want[t * OUT + o] = (float)s;
    }
  lj_thread_pool *pool;
  assert_int_equal(lj_thread_pool_create(4, &pool), 0);
  const void *datas[3] = {w, wb, wh};
  lj_dtype types[3] = {LJ_DTYPE_F32, LJ_DTYPE_BF16, LJ_DTYPE_F16};
  for (int d = 0; d < 3; d++)
    for (int n = 1; n <= N; n += N - 1)  // 1 token (inline widening) and 5 (row widening)
      for (int p = 0; p < 2; p++) {
        lj_tensor wt = {datas[d], types[d], 2, {OUT, IN}, "w", NULL};
        float y[N * OUT];
        lj_cpu_matmul(x, &wt, n, y, p ? pool : NULL);
        for (int i = 0; i < n * OUT; i++) assert_float_equal(y[i], want[i], 1e-5);  // small integers: exact
      }
  lj_thread_pool_free(pool);
}

// HF _compute_llama3_parameters, evaluated by hand for head_dim 16, theta 10000,
// factor 8, low 1, high 4, original context 64: wavelengths 2*pi*10000^(2i/16).
static void test_rope_llama3_bands(void **state) {
  (void)state;
  lj_model_config c = {.head_dim = 16, .rope_theta = 10000, .rope_type = LJ_ROPE_LLAMA3, .rope_factor = 8,
                       .rope_low_freq_factor = 1, .rope_high_freq_factor = 4, .rope_original_max_pos = 64};
  float f[8];
  lj_rope_inv_freq(&c, f);
  for (int i = 0; i < 8; i++) {
    double base = pow(10000.0, -2.0 * i / 16), wl = 2 * M_PI / base, want;
    if (wl < 16) want = base;                 // high frequency: kept
    else if (wl > 64) want = base / 8;        // low frequency: divided by factor
    else {                                    // band: smooth interpolation
      double sm = (64 / wl - 1) / (4 - 1);
      want = (1 - sm) * base / 8 + sm * base;
    }
    assert_float_equal(f[i], want, 1e-6 * want);
  }
  // i = 0 (wavelength 6.3) is kept, i = 1 (19.9) and 2 (62.8) are in the band, i >= 3 divided.
  assert_float_equal(f[0], 1.0, 1e-7);
  assert_float_equal(f[3], pow(10000.0, -6.0 / 16) / 8, 1e-9);
  c.rope_type = LJ_ROPE_DEFAULT;
  lj_rope_inv_freq(&c, f);
  assert_float_equal(f[3], pow(10000.0, -6.0 / 16), 1e-8);
}

static void test_rope_rotation(void **state) {
  (void)state;
  // One head of 4: pairs (0, 2) and (1, 3) rotate by pos * inv_freq[i] (HF rotate_half).
  float inv[2] = {0.5f, 0.25f};
  float x[2 * 4] = {1, 2, 3, 4, 1, 2, 3, 4};
  int32_t pos[2] = {0, 3};
  lj_cpu_rope(x, pos, 2, 1, 4, inv);
  assert_memory_equal(x, ((float[]){1, 2, 3, 4}), 4 * sizeof(float));  // position 0: identity
  double a0 = 3 * 0.5, a1 = 3 * 0.25;
  assert_float_equal(x[4], 1 * cos(a0) - 3 * sin(a0), 1e-6);
  assert_float_equal(x[6], 3 * cos(a0) + 1 * sin(a0), 1e-6);
  assert_float_equal(x[5], 2 * cos(a1) - 4 * sin(a1), 1e-6);
  assert_float_equal(x[7], 4 * cos(a1) + 2 * sin(a1), 1e-6);
}

static void test_attention(void **state) {
  (void)state;
  // 4 query heads, 2 KV heads (GQA 2:1), head_dim 2, 3 cached positions.
  enum { NH = 4, NKV = 2, HD = 2, CTX = 3 };
  float k[CTX * NKV * HD], v[CTX * NKV * HD];
  for (int p = 0; p < CTX; p++)
    for (int h = 0; h < NKV; h++) {
      k[(p * NKV + h) * HD + 0] = (float)(p + 1);
      k[(p * NKV + h) * HD + 1] = (float)h;
      v[(p * NKV + h) * HD + 0] = (float)(10 * p + h);
      v[(p * NKV + h) * HD + 1] = (float)-p;
    }
  float q[2 * NH * HD], out[2 * NH * HD];
  for (int i = 0; i < 2 * NH * HD; i++) q[i] = 0.1f * (float)(i % 5);
  int32_t pos[2] = {0, 2};  // token 0 sees position 0 only; token 1 sees 0..2
  lj_cpu_attention(q, k, v, pos, 2, NH, NKV, HD, out, NULL);
  for (int t = 0; t < 2; t++)
    for (int h = 0; h < NH; h++) {
      int kvh = h / 2;
      double s[CTX], m = -1e30, z = 0, o0 = 0, o1 = 0;
      const float *qq = q + (t * NH + h) * HD;
      for (int p = 0; p <= pos[t]; p++) {
        s[p] = (qq[0] * k[(p * NKV + kvh) * HD] + qq[1] * k[(p * NKV + kvh) * HD + 1]) / sqrt(HD);
        if (s[p] > m) m = s[p];
      }
      for (int p = 0; p <= pos[t]; p++) {
        double e = exp(s[p] - m);
        z += e;
        o0 += e * v[(p * NKV + kvh) * HD];
        o1 += e * v[(p * NKV + kvh) * HD + 1];
      }
      assert_float_equal(out[(t * NH + h) * HD], o0 / z, 1e-5);
      assert_float_equal(out[(t * NH + h) * HD + 1], o1 / z, 1e-5);
    }
  // Token 0 sees one position: its output is that value row exactly.
  assert_float_equal(out[0], 0.0f, 0);
  assert_float_equal(out[2 * HD], 1.0f, 0);  // head 2 -> KV head 1: v = (10*0 + 1, 0)
}

static void test_elementwise(void **state) {
  (void)state;
  float g[3] = {0, 1, -2}, u[3] = {5, 2, 3}, o[3];
  lj_cpu_swiglu(g, u, 3, o);
  assert_float_equal(o[0], 0, 0);
  assert_float_equal(o[1], 2.0 / (1 + exp(-1.0)), 1e-6);
  assert_float_equal(o[2], 3 * -2.0 / (1 + exp(2.0)), 1e-6);
  float x[3] = {1, 2, 3};
  lj_cpu_add(x, u, 3);
  assert_memory_equal(x, ((float[]){6, 4, 6}), sizeof x);
  float s[3] = {1000, 1000, 1000 + logf(2)};  // large values: max subtraction keeps it finite
  lj_cpu_softmax(s, 3);
  assert_float_equal(s[0], 0.25, 1e-4);  // 1000 + ln 2 is only kept to 6e-5 in f32
  assert_float_equal(s[2], 0.5, 1e-4);
  assert_int_equal(lj_cpu_argmax((float[]){1, 3, 3, 2}, 4), 1);  // first of ties
  assert_int_equal(lj_cpu_argmax((float[]){NAN, -1, 5, NAN}, 4), 2);
}

static void test_embed(void **state) {
  (void)state;
  uint16_t e[3 * 2];
  for (int i = 0; i < 6; i++) e[i] = lj_f32_to_bf16((float)i);
  lj_tensor et = {e, LJ_DTYPE_BF16, 2, {3, 2}, "embed", NULL};
  float out[4];
  assert_int_equal(lj_cpu_embed(&et, (int32_t[]){2, 0}, 2, out), 0);
  assert_memory_equal(out, ((float[]){4, 5, 0, 1}), sizeof out);
  assert_int_equal(lj_cpu_embed(&et, (int32_t[]){3}, 1, out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bf16),          cmocka_unit_test(test_f16),
      cmocka_unit_test(test_rmsnorm),       cmocka_unit_test(test_matmul_layouts),
      cmocka_unit_test(test_rope_llama3_bands), cmocka_unit_test(test_rope_rotation),
      cmocka_unit_test(test_attention),     cmocka_unit_test(test_elementwise),
      cmocka_unit_test(test_embed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
