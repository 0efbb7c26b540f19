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
  assert_int_equal(LJ_STAGE_ROPE_ATTN, LJ_STAGE_COUNT + 2);  // its id; norm-once's two composites follow
  assert_int_equal(LJ_STAGE_ALL_COUNT, LJ_STAGE_COUNT + 5);
}

// The split count of decode attention: the rule (one sequence fills the SMs once, a batch twice) by default, a target when
// given; shared memory and the one-split-per-16-positions cap bound both.
static void test_split_rule(void **state) {
  (void)state;
  // 1B / 3B / 8B at batch 1 on an H100 (132 SMs, 8 KV heads): 132 / 8 = 16, whatever the context
  assert_int_equal(lj_attn_decode_splits(8, 4608, 1, 132, 0), 16);    // one sequence: 132 / 8 blocks, once per SM
  assert_int_equal(lj_attn_decode_splits(8, 1024, 1, 132, 0), 16);
  assert_int_equal(lj_attn_decode_splits(8, 1024, 2, 132, 0), 17);    // batches: two per SM, ceil(264 / 16)
  assert_int_equal(lj_attn_decode_splits(24, 1024, 1, 132, 0), 5);    // 132 / 24
  assert_int_equal(lj_attn_decode_splits(8, 100, 1, 4, 0), 1);        // fewer SMs than KV heads: at least one
  assert_int_equal(lj_attn_decode_splits(8, 4608, 4, 132, 0), 9);     // ceil(264 / 32); 4608 / 512 = 9
  assert_int_equal(lj_attn_decode_splits(8, 4104, 256, 132, 0), 9);   // shared memory: ceil(4104 / 512)
  assert_int_equal(lj_attn_decode_splits(8, 100, 1, 132, 0), 7);      // one split per 16 positions: ceil(100 / 16)
  // a target: as asked, at least ctx / 2048 (scores in shared memory), at most one per 16 positions
  assert_int_equal(lj_attn_decode_splits(8, 1024, 1, 132, 8), 8);
  assert_int_equal(lj_attn_decode_splits(8, 1024, 1, 132, 1), 1);
  assert_int_equal(lj_attn_decode_splits(8, 4608, 1, 132, 1), 3);     // ceil(4608 / 2048)
  assert_int_equal(lj_attn_decode_splits(8, 2048, 64, 132, 1), 1);
  assert_int_equal(lj_attn_decode_splits(8, 1024, 1, 132, 100), 64);  // 1024 / 16
  assert_int_equal(lj_attn_decode_splits(8, 1, 1, 132, 0), 1);
  assert_true(LJ_ATTN_DECODE_MAX_TARGET_SPLIT_KEYS * 8 * 4 <= 64 * 1024);  // scores of a group of 8
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_round_trip),
      cmocka_unit_test(test_fuses_rope),
      cmocka_unit_test(test_rope_attn_stage),
      cmocka_unit_test(test_split_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
