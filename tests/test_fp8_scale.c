// FP8 scale granularity (--fp8-scale row|tensor): the host quantiser's per-tensor mode against
// hand-computed codes and scales (an all-zero tensor, a row far smaller than the rest, which per
// row is exact and per tensor loses codes), an FP8 checkpoint refused per tensor, and the CPU
// engine's logits per row, per tensor and in bf16 on a tiny model: equal bit for bit where every
// row has the same amax (then both modes give the same scales), cosine and KL printed otherwise.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/cpu/cpu_engine.h"
#include "engine/weight_format.h"
#include "model/fp8_quant.h"
#include "model/weights.h"

static lj_model_config tiny(void) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  c.vocab_size = 300;
  c.bos_id = 1;
  c.eos_id = 2;
  c.tie_embeddings = 0;
  return c;
}

// Random weights live in host memory w owns (writable; the tensor's view is const).
// Matrix k (wq, wk, wv, wo, w_gate, w_up, w_down) of layer l.
static lj_tensor *linear(lj_weights *w, int l, int k) {
  lj_layer_weights *L = &w->layers[l];
  lj_tensor *ts[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
  return ts[k];
}

// Calls fn on every linear-layer matrix of w.
static void each_linear(lj_weights *w, void (*fn)(lj_tensor *t, void *ctx), void *ctx) {
  for (int l = 0; l < w->config.n_layers; l++)
    for (int k = 0; k < 7; k++) fn(linear(w, l, k), ctx);
}

static void set_bf16(lj_tensor *t, int64_t row, int64_t col, float v) {
  assert_int_equal(t->dtype, LJ_DTYPE_BF16);
  assert_true(lj_bf16_to_f32(lj_f32_to_bf16(v)) == v);  // the hand values are exact in bf16
  ((uint16_t *)t->data)[row * t->shape[1] + col] = lj_f32_to_bf16(v);
}

// Layer 0's wq (96 x 64) set by hand: row 0 holds the tensor's amax 3.5 (scale 3.5 / 448 = 2^-7
// exactly), row 1 is 2^-8 of the rest: per row its scale is 2^-15 (amax 3.5 x 2^-8) and its values
// are E4M3 values x 2^-15, exact; per tensor they are E4M3 values x 2^-8, deep in the subnormals
// (steps of 2^-9), where four of them round to the same code. Every other row is 0.
static const float ROW1[8] = {448, -416, 1.125f, 1.25f, 1.375f, 1.5f, -0.5f, 0.001953125f /* 2^-9 */};

static void hand_tensor(lj_weights *w) {
  lj_tensor *t = &w->layers[0].wq;
  memset((void *)t->data, 0, (size_t)(t->shape[0] * t->shape[1]) * 2);
  set_bf16(t, 0, 0, 1.0f), set_bf16(t, 0, 1, -3.5f), set_bf16(t, 0, 2, 0.5f);
  for (int i = 0; i < 8; i++) set_bf16(t, 1, i, ROW1[i] * 0x1p-15f);
  lj_tensor *z = &w->layers[0].wk;  // all zero: scale 1 in both modes, every code 0
  memset((void *)z->data, 0, (size_t)(z->shape[0] * z->shape[1]) * 2);
}

static int distinct_codes(const uint8_t *q, int n) {
  int seen[256] = {0}, k = 0;
  for (int i = 0; i < n; i++) k += !seen[q[i]]++;
  return k;
}

static void test_tensor_scale_by_hand(void **state) {
  (void)state;
  lj_model_config c = tiny();
  lj_weights row, ten;
  assert_int_equal(lj_weights_random(&c, 3, 1, &row), 0);
  assert_int_equal(lj_weights_random(&c, 3, 1, &ten), 0);
  hand_tensor(&row), hand_tensor(&ten);
  assert_int_equal(lj_weights_quantize_fp8(&row, 2, LJ_FP8_SCALE_ROW), 0);
  assert_int_equal(lj_weights_quantize_fp8(&ten, 3, LJ_FP8_SCALE_TENSOR), 0);
  const lj_tensor *r = &row.layers[0].wq, *t = &ten.layers[0].wq;
  const uint8_t *rq = r->data, *tq = t->data;
  int64_t cols = t->shape[1];
  // Per tensor: one scale, 2^-7, in every row's slot (the zero rows too).
  for (int64_t k = 0; k < t->shape[0]; k++)
    if (t->scale[k] != 0x1p-7f) fail_msg("per tensor: scale[%lld] = %a, want 2^-7", (long long)k, (double)t->scale[k]);
  // Row 0: 1 -> 128 (0x70), -3.5 -> -448 (0xFE), 0.5 -> 64 (0x68); the same per row (its amax is the tensor's).
  assert_int_equal(tq[0], 0x70), assert_int_equal(tq[1], 0xFE), assert_int_equal(tq[2], 0x68);
  assert_true(r->scale[0] == 0x1p-7f);
  assert_memory_equal(rq, tq, (size_t)cols);
  // Row 1 per row: scale 2^-15, codes exactly the E4M3 values of ROW1 (0 error).
  assert_true(r->scale[1] == 0x1p-15f);
  static const uint8_t want_row[8] = {0x7E, 0xFD, 0x39, 0x3A, 0x3B, 0x3C, 0xB0, 0x01};
  assert_memory_equal(rq + cols, want_row, 8);
  // Row 1 per tensor: ROW1 x 2^-8 in units of E4M3's subnormal step 2^-9: 896 -> 1.75 (normal,
  // exact, 0x3E); -832 -> -1.625 (0xBD); 2.25, 2.5, 2.75, 3 units -> 2, 2 (tie to even), 3, 3
  // (0x02, 0x02, 0x03, 0x03); -1 unit -> 0x81; 2^-9 x 2^-8 -> 0.
  static const uint8_t want_tensor[8] = {0x3E, 0xBD, 0x02, 0x02, 0x03, 0x03, 0x81, 0x00};
  assert_memory_equal(tq + cols, want_tensor, 8);
  // The property per-row scales are for: that row keeps 8 distinct codes (9 with its zeros) per
  // row and 6 (with 0) per tensor, and what per row is exact per tensor is not.
  assert_int_equal(distinct_codes(rq + cols, (int)cols), 9);
  assert_int_equal(distinct_codes(tq + cols, (int)cols), 6);
  double err_row = 0, err_tensor = 0;
  for (int i = 0; i < 8; i++) {
    double v = ROW1[i] * 0x1p-15;
    err_row += fabs(lj_tensor_at(r, 1, i) - v) / fabs(v);
    err_tensor += fabs(lj_tensor_at(t, 1, i) - v) / fabs(v);
  }
  printf("the small row's mean relative error: per row %.4f, per tensor %.4f\n", err_row / 8, err_tensor / 8);
  assert_true(err_row == 0.0);
  assert_true(fabs(err_tensor / 8 - (0.25 / 2.25 + 0.5 / 2.5 + 0.25 / 2.75 + 0 + 0 + 0 + 0 + 1) / 8) < 1e-12);
  // All-zero wk: scale 1 everywhere, codes 0, in both modes.
  const lj_tensor *zr = &row.layers[0].wk, *zt = &ten.layers[0].wk;
  for (int64_t k = 0; k < zt->shape[0]; k++) assert_true(zr->scale[k] == 1.0f && zt->scale[k] == 1.0f);
  for (int64_t i = 0; i < zt->shape[0] * zt->shape[1]; i++)
    assert_true(((const uint8_t *)zr->data)[i] == 0 && ((const uint8_t *)zt->data)[i] == 0);
  lj_weights_free(&row);
  lj_weights_free(&ten);
}

// Every matrix of random weights: one scale = max over rows of the row's amax / 448, every code
// e4m3(w / scale); an FP8 checkpoint (already F8_E4M3) is refused per tensor, naming the tensor.
static void test_tensor_scale_random(void **state) {
  (void)state;
  lj_model_config c = tiny();
  lj_weights w, ref;
  assert_int_equal(lj_weights_random(&c, 11, 1, &w), 0);
  assert_int_equal(lj_weights_random(&c, 11, 1, &ref), 0);
  assert_int_equal(lj_weights_quantize_fp8(&w, 4, LJ_FP8_SCALE_TENSOR), 0);
  int differs_from_row = 0;
  for (int l = 0; l < c.n_layers; l++)
    for (int k = 0; k < 7; k++) {
      const lj_tensor *q = linear(&w, l, k), *o = linear(&ref, l, k);
      float amax = 0;
      for (int64_t r = 0; r < o->shape[0]; r++)
        for (int64_t i = 0; i < o->shape[1]; i++) amax = fmaxf(amax, fabsf(lj_tensor_at(o, r, i)));
      float s = amax / 448.0f;
      for (int64_t r = 0; r < q->shape[0]; r++) {
        assert_true(q->scale[r] == s);
        float row_amax = 0;
        for (int64_t i = 0; i < o->shape[1]; i++) {
          float v = lj_tensor_at(o, r, i);
          row_amax = fmaxf(row_amax, fabsf(v));
          assert_int_equal(((const uint8_t *)q->data)[r * q->shape[1] + i], lj_f32_to_e4m3(v / s));
        }
        differs_from_row += row_amax != amax;
      }
    }
  assert_true(differs_from_row > 0);  // random rows' amax differ: the mode is not a no-op here
  lj_weights_free(&ref);
  // Already FP8: its own scales; per tensor is refused with the tensor's name.
  assert_int_equal(lj_weights_quantize_fp8(&w, 1, LJ_FP8_SCALE_TENSOR), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "already F8_E4M3"));
  assert_non_null(strstr(lj_error_message(), w.layers[0].wq.name));
  assert_int_equal(lj_weights_quantize_fp8(&w, 1, LJ_FP8_SCALE_ROW), 0);
  assert_int_equal(lj_weights_quantize_fp8(&w, 1, 7), LJ_EINVAL);
  lj_weights_free(&w);
}

static void test_names(void **state) {
  (void)state;
  assert_int_equal(lj_fp8_scale_parse("row"), LJ_FP8_SCALE_ROW);
  assert_int_equal(lj_fp8_scale_parse("tensor"), LJ_FP8_SCALE_TENSOR);
  assert_int_equal(lj_fp8_scale_parse("block"), -1);
  assert_string_equal(lj_weights_label(LJ_WEIGHTS_BF16, LJ_FP8_SCALE_ROW), "bf16");
  assert_string_equal(lj_weights_label(LJ_WEIGHTS_FP8, LJ_FP8_SCALE_ROW), "fp8");  // as stored before the option
  assert_string_equal(lj_weights_label(LJ_WEIGHTS_FP8, LJ_FP8_SCALE_TENSOR), "fp8-tensor");
  assert_true(strlen("fp8-tensor") < LJ_WEIGHTS_LABEL_MAX);
  assert_null(lj_weights_label(LJ_WEIGHTS_FP8, 5));
  assert_int_equal(lj_fp8_scale_check(LJ_WEIGHTS_FP8, LJ_FP8_SCALE_TENSOR, 1), 0);
  assert_int_equal(lj_fp8_scale_check(LJ_WEIGHTS_BF16, LJ_FP8_SCALE_ROW, 0), 0);
  assert_int_equal(lj_fp8_scale_check(LJ_WEIGHTS_BF16, LJ_FP8_SCALE_ROW, 1), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "--weights fp8"));
}

// The last position's logits of a 7-token prompt on the CPU engine.
static void logits_of(const lj_weights *w, float *logits) {
  lj_cpu_engine *e;
  assert_int_equal(lj_cpu_engine_create(w, 1, 16, 1, &e), 0);
  int32_t tok[7] = {1, 17, 42, 7, 299, 3, 150}, seq[7] = {0}, pos[7] = {0, 1, 2, 3, 4, 5, 6}, rows[1] = {6};
  lj_batch b = {tok, seq, pos, 7, rows, 1};
  if (lj_cpu_forward(e, &b, logits) < 0) fail_msg("%s", lj_error_message());
  lj_cpu_engine_free(e);
}

static double cosine(const float *a, const float *b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  return ab / sqrt(aa * bb);
}

// KL(softmax(p) || softmax(q)) in nats.
static double kl(const float *p, const float *q, size_t n) {
  double mp = -INFINITY, mq = -INFINITY, zp = 0, zq = 0, k = 0;
  for (size_t i = 0; i < n; i++) mp = fmax(mp, p[i]), mq = fmax(mq, q[i]);
  for (size_t i = 0; i < n; i++) zp += exp(p[i] - mp), zq += exp(q[i] - mq);
  for (size_t i = 0; i < n; i++) {
    double lp = p[i] - mp - log(zp), lq = q[i] - mq - log(zq);
    k += exp(lp) * (lp - lq);
  }
  return k;
}

// Every linear layer's rows scaled: row r of each matrix by 2^-(step x (r % 7)) (powers of two, exact
// in bf16), a spread of row norms (random init has nearly none).
static void spread_rows_of(lj_tensor *t, void *step) {
  for (int64_t r = 0; r < t->shape[0]; r++)
    for (int64_t i = 0; i < t->shape[1]; i++)
      set_bf16(t, r, i, ldexpf(lj_tensor_at(t, r, i), -*(const int *)step * (int)(r % 7)));
}
static void spread_rows(lj_weights *w) { each_linear(w, spread_rows_of, &(int){1}); }       // up to 2^-6: E4M3's normals still
static void spread_rows_wide(lj_weights *w) { each_linear(w, spread_rows_of, &(int){2}); }  // up to 2^-12: its subnormals

// Every row's first weight set to 0.5, above every random weight: each row's amax is the tensor's,
// so per tensor and per row give the same scales and codes, and the logits are equal bit for bit.
static void equal_amax_of(lj_tensor *t, void *ctx) {
  (void)ctx;
  for (int64_t r = 0; r < t->shape[0]; r++) {
    for (int64_t i = 0; i < t->shape[1]; i++) assert_true(fabsf(lj_tensor_at(t, r, i)) < 0.5f);
    set_bf16(t, r, 0, 0.5f);
  }
}
static void equal_amax_rows(lj_weights *w) { each_linear(w, equal_amax_of, NULL); }

typedef void (*shape_fn)(lj_weights *w);

// Logits of the bf16 model, FP8 per row and FP8 per tensor, on seed 21 shaped by fn (or not).
static void three_logits(shape_fn fn, float *bf, float *row, float *ten) {
  lj_model_config c = tiny();
  lj_weights w[3];
  for (int m = 0; m < 3; m++) {
    assert_int_equal(lj_weights_random(&c, 21, 1, &w[m]), 0);
    if (fn) fn(&w[m]);
  }
  assert_int_equal(lj_weights_quantize_fp8(&w[1], 2, LJ_FP8_SCALE_ROW), 0);
  assert_int_equal(lj_weights_quantize_fp8(&w[2], 2, LJ_FP8_SCALE_TENSOR), 0);
  logits_of(&w[0], bf), logits_of(&w[1], row), logits_of(&w[2], ten);
  for (int m = 0; m < 3; m++) lj_weights_free(&w[m]);
}

static void test_engine_logits(void **state) {
  (void)state;
  size_t V = (size_t)tiny().vocab_size;
  float *bf = malloc(4 * V), *row = malloc(4 * V), *ten = malloc(4 * V);
  assert_true(bf && row && ten);
  struct { const char *name; shape_fn fn; } cases[] = {
      {"random init", NULL}, {"rows scaled by 2^-(r mod 7)", spread_rows}, {"rows scaled by 4^-(r mod 7)", spread_rows_wide}};
  for (size_t k = 0; k < 3; k++) {
    three_logits(cases[k].fn, bf, row, ten);
    double cr = cosine(bf, row, V), ct = cosine(bf, ten, V), kr = kl(bf, row, V), kt = kl(bf, ten, V);
    printf("tiny, %s: logits cosine vs bf16: per row %.6f, per tensor %.6f; KL(bf16 || fp8): per row %.3e, "
           "per tensor %.3e nats\n", cases[k].name, cr, ct, kr, kt);
    // docs/engine-cuda.md's FP8-vs-bf16 bounds (mean KL <= 0.02 nats, cosine >= 0.985), per position here.
    assert_true(cr >= 0.985 && kr <= 0.02);
    assert_true(ct >= 0.985 && kt <= 0.02);
    assert_true(memcmp(row, ten, 4 * V) != 0);  // the modes quantise differently on these weights
  }
  three_logits(equal_amax_rows, bf, row, ten);
  assert_memory_equal(row, ten, 4 * V);
  printf("tiny, every row's amax equal: per row and per tensor logits equal bit for bit\n");
  free(bf), free(row), free(ten);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tensor_scale_by_hand), cmocka_unit_test(test_tensor_scale_random),
      cmocka_unit_test(test_names), cmocka_unit_test(test_engine_logits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
