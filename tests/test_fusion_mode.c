// The CUDA engine's execution modes by name (fusion_mode.c; no GPU needed): what generate,
// bench_engine and profile accept for --fusion, and what the store and reports print.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/cuda/cuda_engine.h"

static void test_names_round_trip(void **state) {
  (void)state;
  const char *want[] = {"none", "production", "norm-once"};
  for (int m = LJ_FUSION_NONE; m <= LJ_FUSION_NORM_ONCE; m++) {
    assert_string_equal(lj_cuda_fusion_name(m), want[m]);
    assert_int_equal(lj_cuda_fusion_parse(want[m]), m);
  }
  assert_null(lj_cuda_fusion_name(LJ_FUSION_NORM_ONCE + 1));
  assert_null(lj_cuda_fusion_name(-1));
  assert_int_equal(lj_cuda_fusion_parse("norm_once"), -1);
  assert_int_equal(lj_cuda_fusion_parse("both"), -1);  // bench_engine's word, not a mode
  assert_int_equal(lj_cuda_fusion_parse(NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_names_round_trip)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
