// The decode attention variants' names and which of them fuse RoPE (no GPU needed):
// bench_engine --attn-decode, the engine's setter and lj_cuda_stage_at rely on them.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/stage.h"
#include "engine/cuda/attn_decode_variant.h"

static void test_names_round_trip(void **state) {
  (void)state;
  const char *want[LJ_ATTN_DECODE_COUNT] = {"split", "one", "one_rope"};
  for (int v = 0; v < LJ_ATTN_DECODE_COUNT; v++) {
    assert_string_equal(lj_attn_decode_name(v), want[v]);
    assert_int_equal(lj_attn_decode_parse(want[v]), v);
  }
  assert_null(lj_attn_decode_name(-1));
  assert_null(lj_attn_decode_name(LJ_ATTN_DECODE_COUNT));
  assert_int_equal(lj_attn_decode_parse("one-rope"), -1);
  assert_int_equal(lj_attn_decode_parse("all"), -1);  // bench_engine's own word, not a variant
  assert_int_equal(lj_attn_decode_parse(NULL), -1);
  // unchanged until the variants are measured on a GPU (scripts/gpu/attn_decode.sh)
  assert_int_equal(LJ_ATTN_DECODE_DEFAULT, LJ_ATTN_DECODE_SPLIT);
}

static void test_fuses_rope(void **state) {
  (void)state;
  assert_int_equal(lj_attn_decode_fuses_rope(LJ_ATTN_DECODE_SPLIT), 0);
  assert_int_equal(lj_attn_decode_fuses_rope(LJ_ATTN_DECODE_ONE), 0);
  assert_int_equal(lj_attn_decode_fuses_rope(LJ_ATTN_DECODE_ONE_ROPE), 1);
  assert_int_equal(lj_attn_decode_fuses_rope(LJ_ATTN_DECODE_COUNT), -1);
  assert_int_equal(lj_attn_decode_fuses_rope(-1), -1);
}

// The composite the fused variant runs: rope+attn covers rope .. attn, and the skip-mask bits of both.
static void test_rope_attn_stage(void **state) {
  (void)state;
  assert_string_equal(lj_stage_name(LJ_STAGE_ROPE_ATTN), "rope+attn");
  assert_true(lj_stage_is_composite(LJ_STAGE_ROPE_ATTN));
  assert_true(lj_stage_is_per_layer(LJ_STAGE_ROPE_ATTN));
  lj_stage f = LJ_STAGE_EMBED, l = LJ_STAGE_EMBED;
  assert_int_equal(lj_stage_parts(LJ_STAGE_ROPE_ATTN, &f, &l), 2);
  assert_int_equal(f, LJ_STAGE_ROPE);
  assert_int_equal(l, LJ_STAGE_ATTN);
  assert_int_equal(lj_stage_part_mask(LJ_STAGE_ROPE_ATTN), (1u << LJ_STAGE_ROPE) | (1u << LJ_STAGE_ATTN));
  assert_int_equal(LJ_STAGE_ALL_COUNT, LJ_STAGE_COUNT + 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_round_trip),
      cmocka_unit_test(test_fuses_rope),
      cmocka_unit_test(test_rope_attn_stage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
