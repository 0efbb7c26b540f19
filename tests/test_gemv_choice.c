// The decode GEMV setting of a run (engine/cuda/gemv_choice.c; no GPU needed): what generate and
// profile accept for --gemv-config, the error a bad name gets, the refusals (the CPU engine, FP8
// weights), and what profile's plan records.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/cuda/gemv_config.h"
#include "engine/weight_format.h"
#include "profile/profile_plan.h"

static void test_names(void **state) {
  (void)state;
  int c = -7;
  assert_int_equal(lj_gemv_choice_parse("defaults", &c), 0);
  assert_int_equal(c, LJ_GEMV_CHOICE_DEFAULTS);
  assert_int_equal(c, 0);  // a zeroed option struct runs the defaults
  assert_string_equal(lj_gemv_choice_name(c), "defaults");
  assert_int_equal(lj_gemv_choice_config(c), -1);
  for (int k = 0; k < LJ_GEMV_CONFIG_COUNT; k++) {
    const char *name = lj_gemv_config_name(k);
    assert_int_equal(lj_gemv_choice_parse(name, &c), 0);
    assert_int_equal(lj_gemv_choice_config(c), k);
    assert_string_equal(lj_gemv_choice_name(c), name);
  }
  assert_int_equal(lj_gemv_choice_parse("r4u2", &c), 0);
  assert_int_equal(lj_gemv_config_rows(lj_gemv_choice_config(c)), 4);
  assert_int_equal(lj_gemv_config_unroll(lj_gemv_choice_config(c)), 2);
  assert_null(lj_gemv_choice_name(1 + LJ_GEMV_CONFIG_COUNT));
  assert_null(lj_gemv_choice_name(-1));
}

static void test_bad_name(void **state) {
  (void)state;
  int c = 5;
  const char *bad[] = {"r4u3", "R4U2", "default", "auto", "r2d1", "", "qkv=r4u2"};  // auto, r2d1: FP8's names
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(lj_gemv_choice_parse(bad[i], &c), LJ_EINVAL);
    assert_int_equal(c, 5);  // untouched
  }
  assert_int_equal(lj_gemv_choice_parse("r4u3", &c), LJ_EINVAL);
  assert_string_equal(lj_error_message(),
                      "--gemv-config 'r4u3': expected defaults (the per-shape settings) or one of r1u1, r1u2, r1u4, "
                      "r2u1, r2u2, r2u4, r4u1, r4u2, r4u4, r8u1, r8u2, r8u4");
  assert_int_equal(lj_gemv_choice_parse(NULL, &c), LJ_EINVAL);
  lj_clear_error();
}

static void test_refusals(void **state) {
  (void)state;
  int r4u2 = 1 + lj_gemv_config_parse("r4u2");
  assert_int_equal(lj_gemv_choice_check(r4u2, 1, LJ_WEIGHTS_BF16, LJ_FUSION_NONE), 0);
  assert_int_equal(lj_gemv_choice_check(r4u2, 0, LJ_WEIGHTS_BF16, LJ_FUSION_NONE), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "--gemv-config r4u2: the CPU engine has no GEMV configurations"));
  assert_int_equal(lj_gemv_choice_check(r4u2, 1, LJ_WEIGHTS_FP8, LJ_FUSION_NONE), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "--gemv-config r4u2 with FP8 weights: the configurations are the bf16"));
  assert_non_null(strstr(lj_error_message(), "--fp8-pipe"));
  // the defaults: every engine and format; a checkpoint's unknown format (-1) is not FP8 yet
  for (int cuda = 0; cuda < 2; cuda++)
    for (int w = -1; w <= LJ_WEIGHTS_FP8; w++)
      for (int f = LJ_FUSION_NONE; f <= LJ_FUSION_NORM_ONCE; f++)
        assert_int_equal(lj_gemv_choice_check(LJ_GEMV_CHOICE_DEFAULTS, cuda, w, f), 0);
  assert_int_equal(lj_gemv_choice_check(r4u2, 1, -1, LJ_FUSION_NONE), 0);
  assert_int_equal(lj_gemv_choice_check(99, 1, LJ_WEIGHTS_BF16, LJ_FUSION_NONE), LJ_EINVAL);
  // a fused mode: its fused kernels keep their own rows per block (qkv, gate_up)
  assert_int_equal(lj_gemv_choice_check(r4u2, 1, LJ_WEIGHTS_BF16, LJ_FUSION_PRODUCTION), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "--gemv-config r4u2 with --fusion production: the fused kernels"));
  assert_int_equal(lj_gemv_choice_check(r4u2, 1, LJ_WEIGHTS_BF16, LJ_FUSION_NORM_ONCE), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "with --fusion norm-once"));
  // the defaults touch no engine (and need none)
  assert_int_equal(lj_cuda_apply_gemv_choice(NULL, LJ_GEMV_CHOICE_DEFAULTS), 0);
  lj_clear_error();
}

// The plan of options o (tiny by default), made afresh: its status.
static int plan_of(const lj_profile_options *o, lj_profile_plan *p) {
  const char *ckpt = NULL;
  memset(p, 0, sizeof *p);
  return lj_profile_plan_make(o, p, &ckpt);
}

// profile's plan: the setting by name, FP8 refused before anything runs, the CPU engine refused by
// the preflight (the engine is known there).
static void test_plan(void **state) {
  (void)state;
  lj_profile_options o;
  lj_profile_options_default(&o);
  o.model = "tiny";
  lj_profile_plan p;
  assert_int_equal(plan_of(&o, &p), 0);
  assert_string_equal(p.gemv, "defaults");
  assert_int_equal(lj_profile_preflight(&o, &p, NULL, 0), 0);
  assert_int_equal(lj_gemv_choice_parse("r4u2", &o.gemv), 0);
  assert_int_equal(plan_of(&o, &p), 0);
  assert_string_equal(p.gemv, "r4u2");
  assert_string_equal(p.fusion, "none");
  assert_int_equal(lj_profile_preflight(&o, &p, NULL, 0), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "--gemv-config r4u2: the CPU engine has no GEMV configurations"));
  o.weights = LJ_WEIGHTS_FP8;
  assert_int_equal(plan_of(&o, &p), LJ_EUNSUPPORTED);
  assert_non_null(strstr(lj_error_message(), "--gemv-config r4u2 with FP8 weights"));
  o.gemv = LJ_GEMV_CHOICE_DEFAULTS;
  assert_int_equal(plan_of(&o, &p), 0);
  assert_string_equal(p.gemv, "defaults");
  assert_string_equal(p.weights, "fp8");
  // tensor parallelism: each rank's engine takes the setting, so it is not refused
  o.weights = LJ_WEIGHTS_BF16, o.tp_degree = 2;
  assert_int_equal(lj_gemv_choice_parse("r1u1", &o.gemv), 0);
  assert_int_equal(plan_of(&o, &p), 0);
  assert_string_equal(p.gemv, "r1u1");
  lj_clear_error();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_names), cmocka_unit_test(test_bad_name),
                                     cmocka_unit_test(test_refusals), cmocka_unit_test(test_plan)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
