// lj_stage_sequence: the stages a forward call runs when the fused mode puts a composite at its
// first part. Before it, the fused decode's isolation listed qkv, gate_up and swiglu beside the
// composites that cover them, so their energy counted twice (closure +47% on an H100).
// The all-reduce stages (tensor parallelism): absent from a degree-1 run's list (LJ_STAGE_NONE in
// at[]), in place after o_proj and down above it; the layer orders likewise.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/stage.h"
#include "store/profile_result.h"

// What runs at each simple stage at tensor-parallel degree `degree`, unfused.
static void identity(lj_stage *at, int degree) {
  for (int st = 0; st < LJ_STAGE_COUNT; st++)
    at[st] = lj_stage_runs_at_degree((lj_stage)st, degree) ? (lj_stage)st : LJ_STAGE_NONE;
}

static void test_unfused_lists_every_stage(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at, 2);
  assert_int_equal(lj_stage_sequence(at, LJ_STAGE_EMBED, LJ_STAGE_SAMPLE, out), LJ_STAGE_COUNT);
  for (int i = 0; i < LJ_STAGE_COUNT; i++) assert_int_equal(out[i], i);
}

// Degree 1: the thirteen stages of a run before the all-reduce stages existed, by name (the store
// keeps stages by name, so a degree-1 run's rows are what they were).
static void test_degree1_has_no_allreduce(void **state) {
  (void)state;
  static const char *const want[] = {"embed",   "attn_norm", "qkv",           "rope",       "attn",
                                     "o_proj",  "ffn_norm",  "gate_up",       "swiglu",     "down",
                                     "final_norm", "lm_head", "sample"};
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at, 1);
  int n = lj_stage_sequence(at, LJ_STAGE_EMBED, LJ_STAGE_SAMPLE, out);
  assert_int_equal(n, 13);
  for (int i = 0; i < n; i++) assert_string_equal(lj_stage_name(out[i]), want[i]);
  // the layer alone, as the GPU methods replay it
  n = lj_stage_sequence(at, LJ_STAGE_LAYER_FIRST, LJ_STAGE_LAYER_LAST, out);
  assert_int_equal(n, LJ_LAYER_STAGES);
  for (int i = 0; i < n; i++) assert_int_equal(out[i], lj_layer_order_stage(0, i));
}

// Degree 2: attn_allreduce right after o_proj, mlp_allreduce right after down, both per layer,
// in the communication group, never a composite's part.
static void test_degree2_places_allreduce(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at, 2);
  int n = lj_stage_sequence(at, LJ_STAGE_LAYER_FIRST, LJ_STAGE_LAYER_LAST, out);
  assert_int_equal(n, 11);
  assert_int_equal(out[4], LJ_STAGE_O_PROJ);
  assert_string_equal(lj_stage_name(out[5]), "attn_allreduce");
  assert_int_equal(out[9], LJ_STAGE_DOWN);
  assert_string_equal(lj_stage_name(out[10]), "mlp_allreduce");
  for (int s = LJ_STAGE_COUNT; s < LJ_STAGE_ALL_COUNT; s++) {
    assert_int_equal(lj_stage_part_mask((lj_stage)s) & (1u << LJ_STAGE_ATTN_ALLREDUCE), 0);
    assert_int_equal(lj_stage_part_mask((lj_stage)s) & (1u << LJ_STAGE_MLP_ALLREDUCE), 0);
  }
  for (int k = 0; k < 2; k++) {
    lj_stage ar = k ? LJ_STAGE_MLP_ALLREDUCE : LJ_STAGE_ATTN_ALLREDUCE;
    assert_true(lj_stage_is_per_layer(ar));
    assert_false(lj_stage_reads_cache(ar));
    assert_int_equal(lj_stage_group_of(ar), LJ_GROUP_COMM);
    assert_false(lj_stage_runs_at_degree(ar, 1));
    assert_true(lj_stage_runs_at_degree(ar, 8));
  }
  assert_string_equal(lj_stage_group_name(LJ_GROUP_COMM), "communication");
  assert_false(lj_stage_is_per_layer(LJ_STAGE_FINAL_NORM));
}

// The layer orders: at degree 1 the nine stages each order had before the all-reduce stages
// existed; at degree 2 the same with the two stages placed.
static void test_layer_orders(void **state) {
  (void)state;
  enum { A = LJ_STAGE_ATTN_NORM, Q = LJ_STAGE_QKV, R = LJ_STAGE_ROPE, T = LJ_STAGE_ATTN, O = LJ_STAGE_O_PROJ,
         F = LJ_STAGE_FFN_NORM, G = LJ_STAGE_GATE_UP, S = LJ_STAGE_SWIGLU, D = LJ_STAGE_DOWN,
         X = LJ_STAGE_ATTN_ALLREDUCE, Y = LJ_STAGE_MLP_ALLREDUCE };
  static const int one[LJ_LAYER_ORDERS][9] = {
      {A, Q, R, T, O, F, G, S, D}, {D, S, G, F, O, T, R, Q, A}, {A, F, Q, G, R, S, T, D, O}};
  static const int tp[LJ_LAYER_ORDERS][11] = {{A, Q, R, T, O, X, F, G, S, D, Y},
                                              {Y, D, S, G, F, X, O, T, R, Q, A},
                                              {A, F, Q, G, R, S, T, D, O, Y, X}};
  assert_int_equal(lj_layer_stages(1), 9);
  assert_int_equal(lj_layer_stages(2), 11);
  for (int v = 0; v < LJ_LAYER_ORDERS; v++) {
    for (int k = 0; k < 9; k++) {
      assert_int_equal(lj_layer_order_stage(v, k), one[v][k]);
      assert_int_equal(lj_layer_order_stage_tp(v, k, 1), one[v][k]);
    }
    for (int k = 0; k < 11; k++) assert_int_equal(lj_layer_order_stage_tp(v, k, 2), tp[v][k]);
    assert_int_equal(lj_layer_order_stage(v, 9), LJ_STAGE_NONE);
    assert_int_equal(lj_layer_order_stage_tp(v, 11, 4), LJ_STAGE_NONE);
  }
}

static void test_fused_decode_lists_each_composite_once(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at, 1);  // the fused mode runs on one GPU
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
  uint32_t allreduce = (1u << LJ_STAGE_ATTN_ALLREDUCE) | (1u << LJ_STAGE_MLP_ALLREDUCE);
  assert_int_equal(covered, ((1u << LJ_STAGE_COUNT) - 1u) & ~allreduce);
}

// Norm once (v9): attn_norm+qkv, o_proj+ffn_norm and gate_up+swiglu with the stages left simple
// cover every simple stage once; o_proj+ffn_norm's run of ids holds attn_allreduce's, never a part
// (composites run at degree 1). Their names, groups (the heavy part's) and no KV-cache reads.
static void test_norm_once_lists_each_composite_once(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at, 1);
  at[LJ_STAGE_ATTN_NORM] = LJ_STAGE_ATTN_NORM_QKV;
  at[LJ_STAGE_O_PROJ] = LJ_STAGE_O_PROJ_FFN_NORM;
  at[LJ_STAGE_GATE_UP] = LJ_STAGE_GATE_UP_SWIGLU;
  const char *want[] = {"embed", "attn_norm+qkv", "rope", "attn", "o_proj+ffn_norm", "gate_up+swiglu", "down",
                        "final_norm", "lm_head", "sample"};
  int n = lj_stage_sequence(at, LJ_STAGE_EMBED, LJ_STAGE_SAMPLE, out);
  assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
  uint32_t covered = 0;
  for (int i = 0; i < n; i++) {
    assert_string_equal(lj_stage_name(out[i]), want[i]);
    assert_int_equal(covered & lj_stage_part_mask(out[i]), 0);
    covered |= lj_stage_part_mask(out[i]);
  }
  uint32_t allreduce = (1u << LJ_STAGE_ATTN_ALLREDUCE) | (1u << LJ_STAGE_MLP_ALLREDUCE);
  assert_int_equal(covered, ((1u << LJ_STAGE_COUNT) - 1u) & ~allreduce);
  assert_int_equal(lj_stage_part_mask(LJ_STAGE_O_PROJ_FFN_NORM), (1u << LJ_STAGE_O_PROJ) | (1u << LJ_STAGE_FFN_NORM));
  assert_int_equal(lj_stage_part_mask(LJ_STAGE_GATE_UP_SWIGLU), (1u << LJ_STAGE_GATE_UP) | (1u << LJ_STAGE_SWIGLU));
  assert_int_equal(lj_stage_part_mask(LJ_STAGE_ATTN_ALLREDUCE), 1u << LJ_STAGE_ATTN_ALLREDUCE);  // a simple stage
  for (int k = 0; k < 2; k++) {
    lj_stage st = k ? LJ_STAGE_GATE_UP_SWIGLU : LJ_STAGE_O_PROJ_FFN_NORM;
    assert_true(lj_stage_is_composite(st));
    assert_true(lj_stage_is_per_layer(st));
    assert_false(lj_stage_reads_cache(st));
    assert_int_equal(lj_stage_group_of(st), k ? LJ_GROUP_MLP : LJ_GROUP_ATTENTION);
  }
}

static void test_rope_attn_and_a_span(void **state) {
  (void)state;
  lj_stage at[LJ_STAGE_COUNT], out[LJ_STAGE_COUNT];
  identity(at, 1);
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
      cmocka_unit_test(test_degree1_has_no_allreduce),
      cmocka_unit_test(test_degree2_places_allreduce),
      cmocka_unit_test(test_layer_orders),
      cmocka_unit_test(test_fused_decode_lists_each_composite_once),
      cmocka_unit_test(test_norm_once_lists_each_composite_once),
      cmocka_unit_test(test_rope_attn_and_a_span),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
