// The host side of the CUDA engine's tensor parallelism, testable without a GPU:
//   - the NCCL library search order ($LLAMAJOULE_NCCL, libnccl.so.2, the Python wheels' dist- and
//     site-packages found by glob, the CUDA toolkit's), on a fake root;
//   - the error when no candidate loads names every path tried and why, and LLAMAJOULE_NCCL;
//   - NCCL_NVLS_ENABLE is set to 0 unless the user set it;
//   - NCCL's version code as text (2.28.9 is 22809; before 2.9: 2.8.4 is 2804);
//   - the loopback all-reduce's sum (tp_sum.h, the kernel's own function): fp32 in rank order,
//     one bf16 rounding at the end (a ring's per-hop bf16 roundings would differ);
//   - each rank's CUDA memory plan holds the weight bytes of model/tp_shard.h's plan (bf16), for
//     every preset and degree 1, 2, 4, 8;
//   - --tp-backend names;
//   - which replays of the ranks average their all-reduces (lj_tp_order_averages): those where an
//     all-reduce meets delta already reduced round the cycle (alone, or the layer without o_proj or
//     down, or the interleaved order's two in a row), not the run's order or the reversed one;
//   - the ranks' arrivals at an all-reduce (tp_arrivals.h): a call that fails after one rank
//     arrived leaves none behind, so the next call neither refuses that rank nor completes the
//     collective without the others.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/cuda/memory_plan.h"
#include "engine/cuda/nccl_api.h"
#include "engine/cuda/tp_arrivals.h"
#include "engine/cuda/tp_comm.h"
#include "engine/cuda/tp_engine.h"
#include "engine/cuda/tp_sum.h"
#include "model/config.h"
#include "model/tp_shard.h"
#include "store/profile_result.h"

static void touch(const char *path) {
  char dir[1024];
  snprintf(dir, sizeof dir, "mkdir -p \"$(dirname '%s')\"", path);
  assert_int_equal(system(dir), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("not a library\n", f);
  fclose(f);
}

static void test_search_order(void **state) {
  (void)state;
  char root[] = "/tmp/lj_nccl_XXXXXX", p1[512], p2[512];
  assert_non_null(mkdtemp(root));
  snprintf(p1, sizeof p1, "%s/usr/local/lib/python3.12/dist-packages/nvidia/nccl/lib/libnccl.so.2", root);
  snprintf(p2, sizeof p2, "%s/usr/local/lib/python3.11/site-packages/nvidia/nccl/lib/libnccl.so.2", root);
  touch(p1);
  touch(p2);
  char out[LJ_NCCL_MAX_CANDIDATES][512];
  int n = lj_nccl_candidates("/opt/my/libnccl.so.2", root, out, LJ_NCCL_MAX_CANDIDATES);
  assert_int_equal(n, 5);
  assert_string_equal(out[0], "/opt/my/libnccl.so.2");
  assert_string_equal(out[1], "libnccl.so.2");
  assert_string_equal(out[2], p1);  // dist-packages before site-packages
  assert_string_equal(out[3], p2);
  assert_string_equal(out[4], "/usr/local/cuda/lib64/libnccl.so.2");
  // No env (unset or empty): the search starts at the loader's.
  assert_int_equal(lj_nccl_candidates("", root, out, LJ_NCCL_MAX_CANDIDATES), 4);
  assert_string_equal(out[0], "libnccl.so.2");
  assert_int_equal(lj_nccl_candidates(NULL, root, out, 2), 2);  // capped

  // Nothing loads: every path named with its reason, and the way out.
  const char paths[3][512] = {"/nonexistent/libnccl.so.2", "libnccl-not-here.so.9", ""};
  char fake[3][512];
  memcpy(fake, paths, sizeof paths);
  snprintf(fake[2], 512, "%s", p1);  // exists, but not a shared object
  lj_nccl_api api;
  assert_int_equal(lj_nccl_api_load_from(&api, (const char (*)[512])fake, 3), LJ_ENODEV);
  const char *msg = lj_error_message();
  assert_non_null(strstr(msg, "NCCL (libnccl.so.2) not found; tried:"));
  assert_non_null(strstr(msg, "/nonexistent/libnccl.so.2: "));
  assert_non_null(strstr(msg, "libnccl-not-here.so.9: "));
  assert_non_null(strstr(msg, p1));
  assert_non_null(strstr(msg, "set LLAMAJOULE_NCCL"));
  assert_null(api.dl);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
}

static void test_nvls_and_version(void **state) {
  (void)state;
  unsetenv("NCCL_NVLS_ENABLE");
  assert_string_equal(lj_nccl_nvls_default(), "0");
  assert_string_equal(getenv("NCCL_NVLS_ENABLE"), "0");
  setenv("NCCL_NVLS_ENABLE", "1", 1);  // the user's choice stays
  assert_string_equal(lj_nccl_nvls_default(), "1");
  assert_string_equal(getenv("NCCL_NVLS_ENABLE"), "1");
  unsetenv("NCCL_NVLS_ENABLE");
  char v[32];
  lj_nccl_version_string(22809, v, sizeof v);
  assert_string_equal(v, "2.28.9");
  lj_nccl_version_string(2804, v, sizeof v);
  assert_string_equal(v, "2.8.4");
}

static uint16_t bf(float f) { return lj_f32_to_bf16(f); }

static void test_loopback_sum(void **state) {
  (void)state;
  // Rank order: 2^24 + 1 rounds back to 2^24 in fp32, so 0 + 1 + 2 gives 0, the reverse order 1.
  uint16_t a[1] = {bf(16777216.0f)}, b[1] = {bf(1.0f)}, c[1] = {bf(-16777216.0f)};
  const uint16_t *fwd[3] = {a, b, c}, *rev[3] = {c, b, a};
  assert_true(lj_bf16_to_f32(lj_tp_sum_bf16(fwd, 3, 0)) == 0.0f);
  assert_true(lj_bf16_to_f32(lj_tp_sum_bf16(rev, 3, 0)) == 1.0f);
  // One rounding at the end: 1 + 2^-8 + 2^-8 = 1 + 2^-7 exactly (a bf16 value); rounding after
  // each addition (1 + 2^-8 ties to even: 1) would give 1.
  uint16_t one[2] = {bf(3.0f), bf(1.0f)}, e1[2] = {bf(0.0f), bf(0.00390625f)}, e2[2] = {bf(0.0f), bf(0.00390625f)};
  const uint16_t *p[3] = {one, e1, e2};
  assert_true(lj_bf16_to_f32(lj_tp_sum_bf16(p, 3, 1)) == 1.0078125f);
  assert_true(lj_bf16_to_f32(lj_tp_sum_bf16(p, 3, 0)) == 3.0f);  // element i reads index i of every rank
  assert_true(lj_bf16_to_f32(lj_tp_sum_bf16(p, 1, 1)) == 1.0f);  // degree 1: the rank's own value
}

static void test_rank_memory_plan(void **state) {
  (void)state;
  for (const char *const *name = lj_config_preset_names(); *name; name++) {
    lj_model_config c;
    assert_int_equal(lj_config_preset(*name, &c), 0);
    for (int n = 1; n <= 8; n *= 2) {
      if (lj_tp_check(&c, n, c.name) < 0) continue;
      lj_model_config rank;
      lj_tp_rank_config(&c, n, &rank);
      lj_tp_rank_bytes want;
      lj_tp_rank_bytes_compute(&c, n, 0, &want);
      lj_cuda_memory_plan p;
      lj_cuda_memory_plan_compute(&rank, LJ_WEIGHTS_BF16, 1, 4096, 512, &p);
      if (p.weights != want.weights)
        fail_msg("%s at degree %d: the rank's CUDA plan holds %lld weight bytes, the sharding plan %lld", c.name, n,
                 (long long)p.weights, (long long)want.weights);
      lj_cuda_memory_plan one;
      lj_cuda_memory_plan_compute(&rank, LJ_WEIGHTS_BF16, 1, 1, 512, &one);
      lj_cuda_memory_plan two;
      lj_cuda_memory_plan_compute(&rank, LJ_WEIGHTS_BF16, 1, 2, 512, &two);
      assert_int_equal(two.kv_cache - one.kv_cache, want.kv_per_token);  // one position: its KV heads only
    }
  }
}

static void test_backend_names(void **state) {
  (void)state;
  int b = -1;
  assert_int_equal(lj_tp_backend_parse("nccl", &b), 0);
  assert_int_equal(b, LJ_TP_BACKEND_NCCL);
  assert_int_equal(lj_tp_backend_parse("loopback", &b), 0);
  assert_int_equal(b, LJ_TP_BACKEND_LOOPBACK);
  assert_string_equal(lj_tp_backend_name(b), "loopback");
  assert_int_equal(lj_tp_backend_parse("mpi", &b), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "--tp-backend 'mpi': expected nccl or loopback"));
}

static void test_replay_order_averages(void **state) {
  (void)state;
  enum { N = LJ_LAYER_STAGES_TP };
  lj_stage o[N];
  for (int v = 0; v < LJ_LAYER_ORDERS; v++) {
    for (int k = 0; k < N; k++) o[k] = lj_layer_order_stage_tp(v, k, 2);
    // the run's and the reversed order sum (each all-reduce after its producer, round the cycle);
    // the interleaved one has the two all-reduces in a row
    assert_int_equal(lj_tp_order_averages(o, N), v == 2);
  }
  for (int out = 0; out < N; out++) {  // the layer without one stage, in the run's order
    int m = 0;
    for (int k = 0; k < N; k++)
      if (k != out) o[m++] = lj_layer_order_stage_tp(0, k, 2);
    lj_stage gone = lj_layer_order_stage_tp(0, out, 2);
    assert_int_equal(lj_tp_order_averages(o, m), gone == LJ_STAGE_O_PROJ || gone == LJ_STAGE_DOWN);
  }
  lj_stage alone[1] = {LJ_STAGE_MLP_ALLREDUCE}, qkv[1] = {LJ_STAGE_QKV};
  assert_int_equal(lj_tp_order_averages(alone, 1), 1);
  assert_int_equal(lj_tp_order_averages(qkv, 1), 0);
  lj_stage pair[2] = {LJ_STAGE_DOWN, LJ_STAGE_MLP_ALLREDUCE};
  assert_int_equal(lj_tp_order_averages(pair, 2), 0);
}

static void test_arrivals(void **state) {
  (void)state;
  lj_tp_arrivals a;
  memset(&a, 0, sizeof a);
  // degree 2: the collective when the second rank arrives, in either order
  assert_int_equal(lj_tp_arrive(&a, 2, 1, 6), 0);
  assert_int_equal(lj_tp_arrive(&a, 2, 0, 6), 1);
  assert_int_equal(lj_tp_arrivals_end(&a, 0), 0);
  // a call that fails after rank 0 arrived (rank 1's o_proj failed): the next call starts clean,
  // so rank 1 alone does not complete the collective, and rank 0 is not "twice"
  assert_int_equal(lj_tp_arrive(&a, 2, 0, 6), 0);
  assert_int_equal(lj_tp_arrivals_end(&a, LJ_ECUDA), LJ_ECUDA);
  assert_int_equal(lj_tp_arrive(&a, 2, 1, 6), 0);
  assert_int_equal(lj_tp_arrive(&a, 2, 0, 6), 1);
  // a call that returned with a rank still waiting is an error, and leaves nothing either
  assert_int_equal(lj_tp_arrive(&a, 4, 2, 1), 0);
  assert_int_equal(lj_tp_arrivals_end(&a, 0), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "1 rank waiting"));
  assert_int_equal(a.n, 0);
  // twice, another token count, outside the group: refused, cleared
  assert_int_equal(lj_tp_arrive(&a, 2, 0, 6), 0);
  assert_int_equal(lj_tp_arrive(&a, 2, 0, 6), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "rank 0 arrived twice"));
  assert_int_equal(lj_tp_arrive(&a, 2, 0, 6), 0);
  assert_int_equal(lj_tp_arrive(&a, 2, 1, 7), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "with another token count"));
  assert_int_equal(lj_tp_arrive(&a, 2, 2, 6), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "rank 2 outside the group of 2"));
  assert_int_equal(a.n, 0);
  lj_clear_error();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_search_order),     cmocka_unit_test(test_nvls_and_version),
      cmocka_unit_test(test_loopback_sum),     cmocka_unit_test(test_rank_memory_plan),
      cmocka_unit_test(test_backend_names),     cmocka_unit_test(test_replay_order_averages),
      cmocka_unit_test(test_arrivals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
