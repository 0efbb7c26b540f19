// lj_stage_sequence: the stages a forward call runs when the fused mode puts a composite at its
// first part. Before it, the fused decode's isolation listed qkv, gate_up and swiglu beside the
// composites that cover them, so their energy counted twice (closure +47% on an H100).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/stage.h"

static void identity(lj_stage *at) {
  for (int st = 0; st < LJ_STAGE_COUNT; st++) at[st] = (lj_stage)st;
}

static void test_unfused_lists_every_stage(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at);
  assert_int_equal(lj_stage_sequence(at, LJ_STAGE_EMBED, LJ_STAGE_SAMPLE, out), LJ_STAGE_COUNT);
  for (int i = 0; i < LJ_STAGE_COUNT; i++) assert_int_equal(out[i], i);
}

static void test_fused_decode_lists_each_composite_once(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at);
  at[LJ_STAGE_ATTN_NORM] = LJ_STAGE_ATTN_NORM_QKV;  // what lj_cuda_stage_at gives in fused decode
  at[LJ_STAGE_FFN_NORM] = LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU;
  const lj_stage want[] = {LJ_STAGE_EMBED,  LJ_STAGE_ATTN_NORM_QKV, LJ_STAGE_ROPE, LJ_STAGE_ATTN,
                           LJ_STAGE_O_PROJ, LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU, LJ_STAGE_DOWN,
                           LJ_STAGE_FINAL_NORM, LJ_STAGE_LM_HEAD, LJ_STAGE_SAMPLE};
  int n = lj_stage_sequence(at, LJ_STAGE_EMBED, LJ_STAGE_SAMPLE, out);
  assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
  for (int i = 0; i < n; i++) assert_int_equal(out[i], want[i]);
  // Each simple stage is covered exactly once.
  uint32_t covered = 0;
  for (int i = 0; i < n; i++) {
    assert_int_equal(covered & lj_stage_part_mask(out[i]), 0);
    covered |= lj_stage_part_mask(out[i]);
  }
  assert_int_equal(covered, (1u << LJ_STAGE_COUNT) - 1u);
}

static void test_rope_attn_and_a_span(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at);
  at[LJ_STAGE_ROPE] = LJ_STAGE_ROPE_ATTN;
  int n = lj_stage_sequence(at, LJ_STAGE_QKV, LJ_STAGE_O_PROJ, out);
  assert_int_equal(n, 3);
  assert_int_equal(out[0], LJ_STAGE_QKV);
  assert_int_equal(out[1], LJ_STAGE_ROPE_ATTN);
  assert_int_equal(out[2], LJ_STAGE_O_PROJ);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unfused_lists_every_stage),
      cmocka_unit_test(test_fused_decode_lists_each_composite_once),
      cmocka_unit_test(test_rope_attn_and_a_span),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
