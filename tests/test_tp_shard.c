// The tensor-parallel sharding plan (model/tp_shard.h) and a rank's weights built from it
// (model/tp_weights.h):
//   - every split weight's rows or columns are owned by exactly one rank (a partition), every
//     replicated weight is whole on every rank, for the presets and tiny models at each valid
//     degree;
//   - a rank's query heads read only KV heads it holds (GQA groups whole), o_proj's columns are
//     its query heads, down_proj's columns its gate/up rows;
//   - which degrees the presets take (1, 2, 4, 8 for all four; 3 and 16 refused naming the
//     field) and the refusals of degree 0 and of an intermediate_size it does not divide;
//   - bytes per rank by hand (70B bf16 at 8 ranks; a tiny model with FP8 row scales) and summed
//     over ranks against the parameter count;
//   - a rank's tensors hold exactly the full tensor's elements at their slice (views and
//     copies, bf16 and FP8 with row scales), and degree 1 keeps the very same tensors.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "model/fp8_quant.h"
#include "model/tp_shard.h"
#include "model/tp_weights.h"
#include "model/weights.h"
#include "tp_models.h"

static void check_partition(const lj_model_config *c, int degree) {
  for (int w = 0; w < LJ_TP_WEIGHT_COUNT; w++) {
    int64_t rows, cols;
    lj_tp_weight_shape(c, (lj_tp_weight)w, &rows, &cols);
    lj_tp_slice first = lj_tp_shard(c, degree, 0, (lj_tp_weight)w);
    int64_t extent = first.split == LJ_TP_COLS ? cols : rows;
    int *owners = calloc((size_t)extent, sizeof *owners);
    assert_non_null(owners);
    for (int r = 0; r < degree; r++) {
      lj_tp_slice s = lj_tp_shard(c, degree, r, (lj_tp_weight)w);
      assert_int_equal(s.split, first.split);
      if (s.begin < 0 || s.end > extent || s.begin >= s.end)
        fail_msg("%s %s rank %d/%d: slice [%lld, %lld) outside [0, %lld)", c->name, lj_tp_weight_name(w), r, degree,
                 (long long)s.begin, (long long)s.end, (long long)extent);
      for (int64_t i = s.begin; i < s.end; i++) owners[i]++;
    }
    for (int64_t i = 0; i < extent; i++) {
      int want = first.split == LJ_TP_REPLICATED ? degree : 1;
      if (owners[i] != want)
        fail_msg("%s at degree %d: %s %s %lld held by %d ranks, want %d", c->name, degree, lj_tp_weight_name(w),
                 first.split == LJ_TP_COLS ? "column" : "row", (long long)i, owners[i], want);
    }
    free(owners);
  }
}

// Query head h reads KV head h / group (HF repeat_kv); the rank that holds h must hold it.
static void check_heads(const lj_model_config *c, int degree) {
  int group = c->n_heads / c->n_kv_heads, hd = c->head_dim;
  for (int r = 0; r < degree; r++) {
    lj_tp_slice q = lj_tp_shard(c, degree, r, LJ_TP_WQ), k = lj_tp_shard(c, degree, r, LJ_TP_WK),
                v = lj_tp_shard(c, degree, r, LJ_TP_WV), o = lj_tp_shard(c, degree, r, LJ_TP_WO),
                g = lj_tp_shard(c, degree, r, LJ_TP_W_GATE), u = lj_tp_shard(c, degree, r, LJ_TP_W_UP),
                d = lj_tp_shard(c, degree, r, LJ_TP_W_DOWN);
    assert_int_equal(q.begin % hd, 0);  // whole heads
    assert_int_equal(k.begin % hd, 0);
    for (int64_t h = q.begin / hd; h < q.end / hd; h++) {
      int64_t kvh = h / group;
      if (kvh * hd < k.begin || (kvh + 1) * hd > k.end)
        fail_msg("%s degree %d rank %d: query head %lld reads KV head %lld, not held", c->name, degree, r, (long long)h,
                 (long long)kvh);
    }
    assert_true(k.begin == v.begin && k.end == v.end);
    assert_true(o.begin == q.begin && o.end == q.end);  // o_proj's input columns: the rank's heads
    assert_true(g.begin == u.begin && g.end == u.end && d.begin == g.begin && d.end == g.end);
    assert_int_equal(q.split, LJ_TP_ROWS);
    assert_int_equal(o.split, LJ_TP_COLS);
    assert_int_equal(d.split, LJ_TP_COLS);
  }
}

static void test_partition_and_heads(void **state) {
  (void)state;
  const char *names[] = {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "llama-3.3-70b", "tiny", "tiny-untied"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    lj_model_config c = tp_test_preset(names[i]);
    for (int degree = 1; degree <= 8; degree++) {
      if (lj_tp_check(&c, degree, c.name) < 0) continue;
      check_partition(&c, degree);
      check_heads(&c, degree);
    }
  }
  lj_model_config c = tp_test_tiny_kv4();
  for (int degree = 1; degree <= 4; degree *= 2) {
    assert_int_equal(lj_tp_check(&c, degree, c.name), 0);
    check_partition(&c, degree);
    check_heads(&c, degree);
  }
}

static void expect_refused(const lj_model_config *c, int degree, const char *field) {
  if (lj_tp_check(c, degree, c->name) != LJ_EINVAL) fail_msg("%s at degree %d accepted", c->name, degree);
  const char *m = lj_error_message();
  if (!strstr(m, field) || !strstr(m, c->name)) fail_msg("%s degree %d: '%s' does not name %s", c->name, degree, m, field);
}

// The presets: 70B (64 heads, 8 KV), 8B and 1B (32, 8), 3B (24, 8) take 1, 2, 4 and 8.
static void test_valid_degrees(void **state) {
  (void)state;
  const char *names[] = {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "llama-3.3-70b"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    lj_model_config c = tp_test_preset(names[i]);
    for (int degree = 1; degree <= 8; degree *= 2)
      if (lj_tp_check(&c, degree, c.name) < 0) fail_msg("%s", lj_error_message());
  }
  lj_model_config c1 = tp_test_preset("llama-3.2-1b"), c3 = tp_test_preset("llama-3.2-3b");
  lj_model_config c70 = tp_test_preset("llama-3.3-70b");
  expect_refused(&c1, 3, "'num_attention_heads' = 32");  // 32 % 3
  expect_refused(&c3, 3, "'num_key_value_heads' = 8");   // 24 % 3 = 0, 8 % 3
  expect_refused(&c3, 16, "'num_attention_heads' = 24");
  expect_refused(&c70, 16, "'num_key_value_heads' = 8");  // 64 % 16 = 0, 8 % 16
  expect_refused(&c70, 0, "at least 1");
  lj_model_config t = tp_test_tiny_kv4();
  t.hidden_dim = 202;  // 8 heads, 4 KV heads: only the MLP does not split 4 ways
  expect_refused(&t, 4, "'intermediate_size' = 202");
  lj_model_config tiny = tp_test_preset("tiny");  // 2 KV heads
  expect_refused(&tiny, 4, "'num_key_value_heads' = 2");
}

static void test_rank_config(void **state) {
  (void)state;
  lj_model_config c = tp_test_preset("llama-3.3-70b"), r;
  lj_tp_rank_config(&c, 8, &r);
  assert_int_equal(r.n_heads, 8);
  assert_int_equal(r.n_kv_heads, 1);
  assert_int_equal(r.hidden_dim, 3584);
  assert_int_equal(r.dim, 8192);
  assert_int_equal(r.head_dim, 128);
  assert_int_equal(r.vocab_size, 128256);
  assert_int_equal(r.n_layers, 80);
}

// 70B in bf16 on 8 ranks, by hand: embed and lm_head 128256 x 8192 x 2 B = 2,101,346,304 B each,
// 161 norms of 8192 x 2 B = 2,637,824 B; the linear layers 855,638,016 parameters a layer
// (2 x 8192^2 + 2 x 8192 x 1024 + 3 x 8192 x 28672), x 80 layers x 2 B / 8 ranks; the KV cache
// 2 x 80 layers x 128 (1 KV head of 128) x 2 B per position.
static void test_bytes(void **state) {
  (void)state;
  lj_model_config c = tp_test_preset("llama-3.3-70b");
  lj_tp_rank_bytes b;
  lj_tp_rank_bytes_compute(&c, 8, 0, &b);
  assert_int_equal(b.replicated, 2ll * 2101346304 + 2637824);
  assert_int_equal(b.sharded, 855638016ll * 80 * 2 / 8);
  assert_int_equal(b.sharded, 17112760320ll);
  assert_int_equal(b.weights, b.replicated + b.sharded);
  assert_int_equal(b.kv_per_token, 40960);
  printf("70B bf16 per rank: tp 8 %.2f GB", (double)b.weights / 1e9);
  lj_tp_rank_bytes_compute(&c, 2, 0, &b);
  printf(", tp 2 %.2f GB\n", (double)b.weights / 1e9);
  // Over all ranks the shards add up to the model once (bf16, ties counted once).
  const char *names[] = {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "llama-3.3-70b", "tiny", "tiny-untied"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    lj_model_config m = tp_test_preset(names[i]);
    for (int degree = 1; degree <= 8; degree *= 2) {
      if (lj_tp_check(&m, degree, m.name) < 0) continue;
      lj_tp_rank_bytes_compute(&m, degree, 0, &b);
      assert_int_equal(b.replicated + degree * b.sharded, 2 * lj_config_n_params(&m));
    }
  }
  // tiny (dim 64, q 96, kv 48, hidden 160, 2 layers) with FP8 linear layers on 2 ranks: codes
  // wq 48x64, wk 24x64, wv 24x64, wo 64x48, gate 80x64, up 80x64, down 64x80 (24,576 B) and one
  // fp32 scale per row held: 48 + 24 + 24 + 64 + 80 + 80 + 64 rows (o_proj's and down's 64 rows
  // each: all of them, replicated) = 384 x 4 B; per layer 26,112 B.
  lj_model_config t = tp_test_preset("tiny");
  lj_tp_rank_bytes_compute(&t, 2, 1, &b);
  assert_int_equal(b.sharded, 2 * (24576 + 384 * 4));
  assert_int_equal(b.replicated, (128256ll * 64 + 5 * 64) * 2);  // tied: one embedding, 5 norms
}

static void check_rank_tensor(const lj_tensor *full, const lj_tensor *part, lj_tp_slice s) {
  int64_t rows = s.split == LJ_TP_ROWS ? s.end - s.begin : full->shape[0];
  int64_t cols = s.split == LJ_TP_COLS ? s.end - s.begin : full->shape[1];
  assert_int_equal(part->shape[0], rows);
  assert_int_equal(part->shape[1], cols);
  assert_int_equal(part->dtype, full->dtype);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      float want = lj_tensor_at(full, s.split == LJ_TP_ROWS ? s.begin + i : i, s.split == LJ_TP_COLS ? s.begin + j : j);
      float got = lj_tensor_at(part, i, j);
      if (memcmp(&want, &got, sizeof want))
        fail_msg("%s (%lld, %lld) of the rank's slice: %g, want %g", full->name, (long long)i, (long long)j,
                 (double)got, (double)want);
    }
}

static void check_rank_weights(const lj_weights *w, int degree) {
  const lj_model_config *c = &w->config;
  for (int r = 0; r < degree; r++) {
    lj_tp_rank_weights rw;
    if (lj_tp_rank_weights_build(w, degree, r, &rw) < 0) fail_msg("%s", lj_error_message());
    assert_int_equal(rw.config.n_kv_heads, c->n_kv_heads / degree);
    for (int l = 0; l < c->n_layers; l++) {
      const lj_layer_weights *L = &w->layers[l], *R = &rw.layers[l];
      const lj_tensor *full[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
      const lj_tensor *part[] = {&R->wq, &R->wk, &R->wv, &R->wo, &R->w_gate, &R->w_up, &R->w_down};
      for (int k = 0; k < 7; k++) check_rank_tensor(full[k], part[k], lj_tp_shard(c, degree, r, (lj_tp_weight)k));
      assert_ptr_equal(R->attn_norm.data, L->attn_norm.data);
      assert_ptr_equal(R->ffn_norm.data, L->ffn_norm.data);
      if (degree == 1)  // the whole model: the very same tensors, nothing copied
        for (int k = 0; k < 7; k++) assert_memory_equal(part[k], full[k], sizeof *full[k]);
    }
    if (degree == 1) assert_int_equal(rw.n_owned, 0);
    else assert_int_equal(rw.n_owned, 2 * c->n_layers);  // o_proj and down_proj of each layer
    lj_tp_rank_weights_free(&rw);
  }
}

static void test_rank_weights(void **state) {
  (void)state;
  lj_model_config c = tp_test_tiny_kv4();
  lj_weights w;
  assert_int_equal(lj_weights_random(&c, 3, 1, &w), 0);
  for (int degree = 1; degree <= 4; degree *= 2) check_rank_weights(&w, degree);
  assert_int_equal(lj_weights_quantize_fp8(&w, 1, LJ_FP8_SCALE_ROW), 0);  // row scales follow the rows
  for (int degree = 1; degree <= 4; degree *= 2) check_rank_weights(&w, degree);
  lj_tp_rank_weights rw;
  assert_int_equal(lj_tp_rank_weights_build(&w, 8, 0, &rw), LJ_EINVAL);  // 4 KV heads
  assert_non_null(strstr(lj_error_message(), "num_key_value_heads"));
  lj_weights_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partition_and_heads), cmocka_unit_test(test_valid_degrees),
      cmocka_unit_test(test_rank_config),         cmocka_unit_test(test_bytes),
      cmocka_unit_test(test_rank_weights),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
