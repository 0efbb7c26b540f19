// The decode GEMVs' configurations (gemv_config.h; no GPU needed): names and their rows and loads in
// flight, the defaults per matrix shape, the per-class specs bench_engine --tune prints and the engine's setter reads, and the
// errors a bad spec gets.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/cuda/gemv_config.h"
#include "engine/cuda/gemv_defaults.h"
#include "model/config.h"

static void test_bf16_names(void **state) {
  (void)state;
  const int rows[] = {1, 2, 4, 8}, unroll[] = {1, 2, 4};
  for (int v = 0; v < LJ_GEMV_CONFIG_COUNT; v++) {
    char want[16];
    snprintf(want, sizeof want, "r%du%d", rows[v / 3], unroll[v % 3]);
    assert_string_equal(lj_gemv_config_name(v), want);
    assert_int_equal(lj_gemv_config_parse(want), v);
    assert_int_equal(lj_gemv_config_rows(v), rows[v / 3]);
    assert_int_equal(lj_gemv_config_unroll(v), unroll[v % 3]);
  }
  // the kernel before the knob: 4 rows per block, 2 chunks per row in flight
  assert_string_equal(lj_gemv_config_name(LJ_GEMV_CONFIG_DEFAULT), "r4u2");
  assert_null(lj_gemv_config_name(LJ_GEMV_CONFIG_COUNT));
  assert_null(lj_gemv_config_name(-1));
  assert_int_equal(lj_gemv_config_rows(LJ_GEMV_CONFIG_COUNT), 0);
  assert_int_equal(lj_gemv_config_parse("r16u1"), -1);
  assert_int_equal(lj_gemv_config_parse("auto"), -1);  // FP8 pipe's word
  assert_int_equal(lj_gemv_config_parse(NULL), -1);
}

static void test_fp8_pipe_names(void **state) {
  (void)state;
  assert_string_equal(lj_fp8_pipe_config_name(LJ_FP8_PIPE_CONFIG_DEFAULT), "auto");
  assert_int_equal(lj_fp8_pipe_config_rows(0), 0);
  assert_int_equal(lj_fp8_pipe_config_depth(0), 0);
  const int rows[] = {2, 4, 8, 16};
  for (int v = 1; v < LJ_FP8_PIPE_CONFIG_COUNT; v++) {
    char want[16];
    snprintf(want, sizeof want, "r%dd%d", rows[(v - 1) / 2], 1 + (v - 1) % 2);
    assert_string_equal(lj_fp8_pipe_config_name(v), want);
    assert_int_equal(lj_fp8_pipe_config_parse(want), v);
    assert_int_equal(lj_fp8_pipe_config_rows(v), rows[(v - 1) / 2]);
    assert_int_equal(lj_fp8_pipe_config_depth(v), 1 + (v - 1) % 2);
  }
  assert_int_equal(lj_fp8_pipe_config_parse("r16d2"), 8);
  assert_null(lj_fp8_pipe_config_name(LJ_FP8_PIPE_CONFIG_COUNT));
  assert_int_equal(lj_fp8_pipe_config_parse("r4u2"), -1);  // bf16's word
}

static void test_class_names(void **state) {
  (void)state;
  const char *want[LJ_GEMV_CLASS_COUNT] = {"qkv", "o_proj", "gate_up", "down", "lm_head"};
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) assert_string_equal(lj_gemv_class_name(k), want[k]);
  assert_null(lj_gemv_class_name(LJ_GEMV_CLASS_COUNT));
}

// Every class of model `name` gets configuration `want` (a bf16 or FP8 pipe name); the lm_head of
// an FP8 model is bf16 and asked of the bf16 table (want_lm_head).
static void expect_model(const char *name, int fp8, const char *want, const char *want_lm_head) {
  lj_model_config c;
  assert_int_equal(lj_config_preset(name, &c), 0);
  int cfg[LJ_GEMV_CLASS_COUNT], lm[LJ_GEMV_CLASS_COUNT];
  lj_gemv_model_defaults(&c, fp8, cfg);
  lj_gemv_model_defaults(&c, 0, lm);
  for (int k = 0; k < LJ_GEMV_CLASS_LM_HEAD; k++) {
    const char *got = fp8 ? lj_fp8_pipe_config_name(cfg[k]) : lj_gemv_config_name(cfg[k]);
    if (strcmp(got, want)) fail_msg("%s %s %s: %s, expected %s", name, fp8 ? "fp8" : "bf16", lj_gemv_class_name(k), got, want);
  }
  assert_string_equal(lj_gemv_config_name(lm[LJ_GEMV_CLASS_LM_HEAD]), want_lm_head);
}

// The defaults per shape (gemv_defaults.c): each measured model gets its own fastest setting on
// every class (H100, 2026-12-07: 1B r4u2, 3B r1u1, 8B r1u1, 8B FP8 pipe r4d1); 70B's shapes are
// nearest 8B's, the tiny test models' 1B's; FP8 has one measured model, so every FP8 shape gets r4d1.
static void test_defaults_per_preset(void **state) {
  (void)state;
  expect_model("llama-3.2-1b", 0, "r4u2", "r4u2");
  expect_model("llama-3.2-3b", 0, "r1u1", "r1u1");
  expect_model("llama-3.1-8b", 0, "r1u1", "r1u1");
  expect_model("llama-3.3-70b", 0, "r1u1", "r1u1");
  expect_model("tiny", 0, "r4u2", "r4u2");
  expect_model("tiny-untied", 0, "r4u2", "r4u2");
  expect_model("llama-3.1-8b", 1, "r4d1", "r1u1");
  expect_model("llama-3.2-1b", 1, "r4d1", "r4u2");
  expect_model("llama-3.3-70b", 1, "r4d1", "r1u1");
  // the source of a default: the measured model and its tok/s against the kernel before the knob
  const lj_gemv_measured *m = lj_gemv_nearest_measured(0, LJ_GEMV_CLASS_DOWN, 4096, 14336);
  assert_non_null(m);
  assert_string_equal(m->model, "llama-3.1-8b");
  assert_true(m->tok_s > m->before_tok_s);
  assert_null(lj_gemv_nearest_measured(0, LJ_GEMV_CLASS_COUNT, 4096, 4096));
  assert_int_equal(lj_gemv_default_config(0, LJ_GEMV_CLASS_COUNT, 4096, 4096), LJ_GEMV_CONFIG_DEFAULT);
}

// Shapes not measured: the nearest measured shape of the class in log2 rows + log2 row length.
static void test_defaults_nearest(void **state) {
  (void)state;
  int64_t rows, len;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-3b", &c), 0);
  lj_gemv_class_shape(&c, LJ_GEMV_CLASS_QKV, &rows, &len);
  assert_int_equal(rows, 24 * 128 + 2 * 8 * 128);
  assert_int_equal(len, 3072);
  lj_gemv_class_shape(&c, LJ_GEMV_CLASS_DOWN, &rows, &len);
  assert_true(rows == 3072 && len == 8192);
  lj_gemv_class_shape(&c, LJ_GEMV_CLASS_LM_HEAD, &rows, &len);
  assert_true(rows == 128256 && len == 3072);
  // down, 8192 long: 2048 rows are 1B's (r4u2), 3072 3B's (r1u1); 2400 rows lie nearer 2048 in log2
  assert_string_equal(lj_gemv_config_name(lj_gemv_default_config(0, LJ_GEMV_CLASS_DOWN, 2400, 8192)), "r4u2");
  assert_string_equal(lj_gemv_config_name(lj_gemv_default_config(0, LJ_GEMV_CLASS_DOWN, 2600, 8192)), "r1u1");
  // an 8B rank of degree 2: gate_up 14336 x 4096 and down 4096 x 7168 lie nearer 3B's (distance 0.61)
  // than 8B's (1.0); its qkv, 3072 x 4096, is 1.0 from 1B's and from 8B's: the first in the table wins
  assert_true(lj_gemv_nearest_measured(0, LJ_GEMV_CLASS_GATE_UP, 14336, 4096) ==
              lj_gemv_nearest_measured(0, LJ_GEMV_CLASS_GATE_UP, 16384, 3072));
  assert_string_equal(lj_gemv_nearest_measured(0, LJ_GEMV_CLASS_DOWN, 4096, 7168)->model, "llama-3.2-3b");
  assert_string_equal(lj_gemv_nearest_measured(0, LJ_GEMV_CLASS_QKV, 3072, 4096)->model, "llama-3.2-1b");
  // a degenerate shape is clamped, not a NaN distance
  assert_string_equal(lj_gemv_config_name(lj_gemv_default_config(0, LJ_GEMV_CLASS_QKV, 0, 0)), "r4u2");
}

static void test_spec_parse(void **state) {
  (void)state;
  int cfg[LJ_GEMV_CLASS_COUNT];
  assert_int_equal(lj_gemv_spec_parse("r2u4", 0, LJ_GEMV_CONFIG_DEFAULT, cfg), 0);
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) assert_int_equal(cfg[k], lj_gemv_config_parse("r2u4"));
  // classes not named keep the default; small and large name groups; a later part wins
  assert_int_equal(lj_gemv_spec_parse("small=r2u4,large=r8u1,down=r1u1", 0, LJ_GEMV_CONFIG_DEFAULT, cfg), 0);
  int want[LJ_GEMV_CLASS_COUNT] = {5, 5, 9, 0, 9};
  assert_memory_equal(cfg, want, sizeof want);
  assert_int_equal(lj_gemv_spec_parse("o_proj=r1u2", 0, LJ_GEMV_CONFIG_DEFAULT, cfg), 0);
  int want2[LJ_GEMV_CLASS_COUNT] = {7, 1, 7, 7, 7};
  assert_memory_equal(cfg, want2, sizeof want2);
  assert_int_equal(lj_gemv_spec_parse("gate_up=r16d1", 1, LJ_FP8_PIPE_CONFIG_DEFAULT, cfg), 0);
  int want3[LJ_GEMV_CLASS_COUNT] = {0, 0, 7, 0, 0};
  assert_memory_equal(cfg, want3, sizeof want3);
}

// A bad spec leaves cfg as it was and names what is wrong.
static void test_spec_errors(void **state) {
  (void)state;
  int cfg[LJ_GEMV_CLASS_COUNT] = {1, 2, 3, 4, 5}, keep[LJ_GEMV_CLASS_COUNT] = {1, 2, 3, 4, 5};
  assert_int_equal(lj_gemv_spec_parse("r3u2", 0, 7, cfg), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "'r3u2': unknown name"));
  assert_int_equal(lj_gemv_spec_parse("qkv=r2u2,mlp=r1u1", 0, 7, cfg), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "unknown class 'mlp'"));
  assert_int_equal(lj_gemv_spec_parse("qkv=r2u2,down=auto", 0, 7, cfg), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "'auto' is not a configuration"));
  assert_int_equal(lj_gemv_spec_parse("qkv=r2u2,down", 0, 7, cfg), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "'down' is not CLASS=NAME"));
  assert_int_equal(lj_gemv_spec_parse("", 0, 7, cfg), LJ_EINVAL);
  assert_int_equal(lj_gemv_spec_parse("r4u2", 1, 0, cfg), LJ_EINVAL);  // bf16's name in the FP8 table
  assert_memory_equal(cfg, keep, sizeof keep);
}

static void test_spec_format_round_trip(void **state) {
  (void)state;
  char buf[160];
  int same[LJ_GEMV_CLASS_COUNT] = {7, 7, 7, 7, 7};
  lj_gemv_spec_format(same, 0, buf, sizeof buf);
  assert_string_equal(buf, "r4u2");
  int mixed[LJ_GEMV_CLASS_COUNT] = {5, 5, 9, 0, 11};
  lj_gemv_spec_format(mixed, 0, buf, sizeof buf);
  assert_string_equal(buf, "qkv=r2u4,o_proj=r2u4,gate_up=r8u1,down=r1u1,lm_head=r8u4");
  int back[LJ_GEMV_CLASS_COUNT];
  assert_int_equal(lj_gemv_spec_parse(buf, 0, 7, back), 0);
  assert_memory_equal(back, mixed, sizeof mixed);
  int f8[LJ_GEMV_CLASS_COUNT] = {0, 3, 8, 8, 0};
  lj_gemv_spec_format(f8, 1, buf, sizeof buf);
  assert_string_equal(buf, "qkv=auto,o_proj=r4d1,gate_up=r16d2,down=r16d2,lm_head=auto");
  assert_int_equal(lj_gemv_spec_parse(buf, 1, 0, back), 0);
  assert_memory_equal(back, f8, sizeof f8);
  char small[8];
  lj_gemv_spec_format(mixed, 0, small, sizeof small);  // truncated, still a string
  assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bf16_names),          cmocka_unit_test(test_fp8_pipe_names),
      cmocka_unit_test(test_class_names),
      cmocka_unit_test(test_defaults_per_preset), cmocka_unit_test(test_defaults_nearest), cmocka_unit_test(test_spec_parse),
      cmocka_unit_test(test_spec_errors),         cmocka_unit_test(test_spec_format_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
