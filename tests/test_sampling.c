// Sampling: the splitmix64 stream against the reference sequence (Vigna's
// splitmix64.c, seed 0), greedy, determinism per seed, and the empirical
// distribution of temperature / top-k / top-p sampling against the exact
// probabilities (computed here from the definitions).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/greedy.h"
#include "engine/sampling.h"

static void test_splitmix64_reference(void **state) {
  (void)state;
  lj_rng r = lj_rng_seed(0);
  // First outputs of splitmix64 seeded with 0 (the published reference implementation).
  assert_true(lj_rng_next(&r) == 0xE220A8397B1DCDAFull);
  assert_true(lj_rng_next(&r) == 0x6E789E6AA1B965F4ull);
  assert_true(lj_rng_next(&r) == 0x06C45D188009454Full);
  for (int i = 0; i < 1000; i++) {
    double u = lj_rng_uniform(&r);
    assert_true(u >= 0 && u < 1);
  }
}

enum { V = 6, DRAWS = 200000 };
static const float logits[V] = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 1.0f};

// Frequencies of DRAWS samples vs `p`: every |freq - p| within 5 sigma.
static void expect_distribution(const lj_sampling_params *sp, const double *p) {
  lj_token_sampler *s;
  assert_int_equal(lj_token_sampler_create(V, sp, &s), 0);
  lj_rng r = lj_rng_seed(42);
  int count[V] = {0};
  for (int i = 0; i < DRAWS; i++) count[lj_sample(s, logits, &r)]++;
  for (int k = 0; k < V; k++) {
    double f = (double)count[k] / DRAWS, sigma = sqrt(p[k] * (1 - p[k]) / DRAWS);
    if (fabs(f - p[k]) > 5 * sigma + 1e-12)
      fail_msg("token %d: frequency %.4f, expected %.4f (T %.2f, k %d, p %.2f)", k, f, p[k], sp->temperature,
               sp->top_k, sp->top_p);
  }
  lj_token_sampler_free(s);
}

static void softmax_of(const int *keep, double t, double *p) {
  double z = 0;
  for (int k = 0; k < V; k++) z += keep[k] ? exp(logits[k] / t) : 0;
  for (int k = 0; k < V; k++) p[k] = keep[k] ? exp(logits[k] / t) / z : 0;
}

static void test_distributions(void **state) {
  (void)state;
  double p[V];
  int all[V] = {1, 1, 1, 1, 1, 1};
  softmax_of(all, 1.0, p);
  expect_distribution(&(lj_sampling_params){1.0f, 0, 1.0f}, p);
  softmax_of(all, 0.5, p);
  expect_distribution(&(lj_sampling_params){0.5f, 0, 1.0f}, p);
  // top-k 3: tokens 0, 1 and 5 (tie at 1.0: both kept? k = 3 keeps 0, then 1 and 5 by id).
  int top3[V] = {1, 1, 0, 0, 0, 1};
  softmax_of(top3, 1.0, p);
  expect_distribution(&(lj_sampling_params){1.0f, 3, 1.0f}, p);
  // top-p 0.7 at T = 1: p0 = 0.466, then token 1 (0.172, ties by id) -> 0.638 < 0.7, then token 5 -> kept.
  softmax_of(all, 1.0, p);
  int nucleus[V] = {1, 1, 0, 0, 0, 1};
  assert_true(p[0] + p[1] < 0.7 && p[0] + p[1] + p[5] >= 0.7);
  softmax_of(nucleus, 1.0, p);
  expect_distribution(&(lj_sampling_params){1.0f, 0, 0.7f}, p);
  // top-p 0.4: token 0 alone reaches it.
  int only0[V] = {1, 0, 0, 0, 0, 0};
  softmax_of(only0, 1.0, p);
  expect_distribution(&(lj_sampling_params){1.0f, 0, 0.4f}, p);
}

static void test_greedy_and_determinism(void **state) {
  (void)state;
  lj_token_sampler *g, *s;
  assert_int_equal(lj_token_sampler_create(V, &(lj_sampling_params){0.0f, 0, 1.0f}, &g), 0);
  lj_rng r = lj_rng_seed(1);
  assert_int_equal(lj_sample(g, logits, &r), 0);
  assert_int_equal(lj_token_sampler_create(V, &(lj_sampling_params){0.8f, 4, 0.9f}, &s), 0);
  int a[64], b[64];
  lj_rng r1 = lj_rng_seed(7), r2 = lj_rng_seed(7), r3 = lj_rng_seed(8);
  int differ = 0;
  for (int i = 0; i < 64; i++) {
    a[i] = lj_sample(s, logits, &r1);
    b[i] = lj_sample(s, logits, &r2);
    differ |= a[i] != lj_sample(s, logits, &r3);
  }
  assert_memory_equal(a, b, sizeof a);
  assert_true(differ);  // another seed gives another stream
  lj_token_sampler_free(g);
  lj_token_sampler_free(s);
}

static void test_bad_params(void **state) {
  (void)state;
  lj_token_sampler *s;
  assert_int_equal(lj_token_sampler_create(V, &(lj_sampling_params){-1.0f, 0, 1.0f}, &s), -1);
  assert_int_equal(lj_token_sampler_create(V, &(lj_sampling_params){1.0f, -2, 1.0f}, &s), -1);
  assert_int_equal(lj_token_sampler_create(V, &(lj_sampling_params){1.0f, 0, 0.0f}, &s), -1);
  assert_int_equal(lj_token_sampler_create(V, &(lj_sampling_params){1.0f, 0, 1.5f}, &s), -1);
}

// NaN or infinite logits are an error naming the token, never a token: all
// +Inf with top-p < 1 once read order[-1]; greedy on NaN returned token 0.
static void test_non_finite_logits(void **state) {
  (void)state;
  const lj_sampling_params configs[] = {{0.0f, 0, 1.0f}, {0.7f, 0, 1.0f}, {0.7f, 3, 1.0f},
                                        {0.7f, 0, 0.9f}, {0.7f, 3, 0.9f}};
  const float bad[] = {NAN, INFINITY, -INFINITY};
  const char *names[] = {"NaN", "+Inf", "-Inf"};
  for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
    lj_token_sampler *s;
    assert_int_equal(lj_token_sampler_create(V, &configs[c], &s), 0);
    for (int b = 0; b < 3; b++) {
      float all[V], one[V];
      for (int k = 0; k < V; k++) all[k] = bad[b], one[k] = logits[k];
      one[4] = bad[b];
      lj_rng r = lj_rng_seed(3);
      assert_int_equal(lj_sample(s, all, &r), LJ_EINVAL);
      assert_non_null(strstr(lj_error_message(), "token 0 is"));
      assert_non_null(strstr(lj_error_message(), names[b]));
      assert_int_equal(lj_sample(s, one, &r), LJ_EINVAL);
      assert_non_null(strstr(lj_error_message(), "token 4 is"));
    }
    lj_token_sampler_free(s);
  }
}

// The greedy pick the profile's decode takes (the CPU engine's, and the tensor-parallel prefill's)
// makes generate's check: a NaN logit once gave token 0 and the profile stored a whole run.
static void test_greedy_token(void **state) {
  (void)state;
  float l[V];
  memcpy(l, logits, sizeof l);
  int best = 0;
  for (int k = 1; k < V; k++)
    if (l[k] > l[best]) best = k;
  assert_int_equal(lj_greedy_token(l, V), best);
  assert_int_equal(lj_logits_check_finite(l, V), 0);
  const float bad[] = {NAN, INFINITY, -INFINITY};
  const char *names[] = {"token 2 is NaN", "token 2 is +Inf", "token 2 is -Inf"};
  for (int b = 0; b < 3; b++) {
    l[2] = bad[b];
    assert_int_equal(lj_greedy_token(l, V), LJ_EINVAL);
    assert_non_null(strstr(lj_error_message(), names[b]));
    assert_non_null(strstr(lj_error_message(), "(the model's output overflowed)"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_splitmix64_reference),
      cmocka_unit_test(test_distributions),
      cmocka_unit_test(test_greedy_and_determinism),
      cmocka_unit_test(test_bad_params),
      cmocka_unit_test(test_non_finite_logits),
      cmocka_unit_test(test_greedy_token),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
