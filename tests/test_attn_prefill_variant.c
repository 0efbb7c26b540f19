// The prefill attention variants' names and which kernel each runs per head size (no GPU
// needed): bench_engine --attn-prefill and the engine's setter rely on them.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/cuda/attn_prefill_variant.h"

static void test_names_round_trip(void **state) {
  (void)state;
  const char *want[LJ_ATTN_PREFILL_COUNT] = {"wmma", "mma", "mma64", "mma128", "mma_k32"};
  for (int v = 0; v < LJ_ATTN_PREFILL_COUNT; v++) {
    assert_string_equal(lj_attn_prefill_name(v), want[v]);
    assert_int_equal(lj_attn_prefill_parse(want[v]), v);
  }
  assert_null(lj_attn_prefill_name(-1));
  assert_null(lj_attn_prefill_name(LJ_ATTN_PREFILL_COUNT));
  assert_int_equal(lj_attn_prefill_parse("mma256"), -1);
  assert_int_equal(lj_attn_prefill_parse("all"), -1);  // bench_engine's own word, not a variant
  assert_int_equal(lj_attn_prefill_parse(NULL), -1);
  // the variant measured best on an H100 (bench/results/2026-12-06-h100-attn-prefill)
  assert_int_equal(LJ_ATTN_PREFILL_DEFAULT, LJ_ATTN_PREFILL_MMA);
}

// The mma kernels exist for head_dim 64 (1B) and 128 (3B, 8B, 70B); the tiny models' 24 and 12
// (and any other size) run wmma; "mma" resolves to 64 queries at 64 and 128 queries at 128.
static void test_runs_per_head_dim(void **state) {
  (void)state;
  assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_MMA, 64), LJ_ATTN_PREFILL_MMA64);
  assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_MMA, 128), LJ_ATTN_PREFILL_MMA128);
  int sizes[] = {64, 128};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_WMMA, sizes[i]), LJ_ATTN_PREFILL_WMMA);
    assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_MMA64, sizes[i]), LJ_ATTN_PREFILL_MMA64);
    assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_MMA128, sizes[i]), LJ_ATTN_PREFILL_MMA128);
    assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_MMA_K32, sizes[i]), LJ_ATTN_PREFILL_MMA_K32);
  }
  int others[] = {12, 24, 32, 96, 120};
  for (int i = 0; i < 5; i++)
    for (int v = 0; v < LJ_ATTN_PREFILL_COUNT; v++)
      assert_int_equal(lj_attn_prefill_runs(v, others[i]), LJ_ATTN_PREFILL_WMMA);
  assert_int_equal(lj_attn_prefill_runs(LJ_ATTN_PREFILL_COUNT, 64), -1);
  assert_int_equal(lj_attn_prefill_runs(-1, 128), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_round_trip),
      cmocka_unit_test(test_runs_per_head_dim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
