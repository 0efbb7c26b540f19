// The kernel boundaries' cost per token (report/fusion_cost.h): which pairs of profiles form one,
// and the arithmetic of the difference and its interval, against hand-computed values.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
// cmocka after the standard headers
#include <cmocka.h>

#include "common/error.h"
#include "common/stats.h"
#include "report/fusion_cost.h"

// A profile with only a decode phase: windows j per unit (gen tokens per unit).
static void make(lj_profile_result *r, const char *fusion, const double *j, int n, int64_t tokens) {
  lj_profile_result_init(r);
  snprintf(r->plan.model_name, sizeof r->plan.model_name, "llama-3.2-1b");
  snprintf(r->plan.engine, sizeof r->plan.engine, "cuda");
  snprintf(r->plan.weights, sizeof r->plan.weights, "bf16");
  snprintf(r->plan.fusion, sizeof r->plan.fusion, "%s", fusion);
  snprintf(r->cond.device.name, sizeof r->cond.device.name, "NVIDIA H100 80GB HBM3");
  r->plan.batch = 1, r->plan.prompt_len = 128, r->plan.gen_len = 128, r->plan.level = 0.95;
  lj_phase_summary *d = &r->phases[LJ_PHASE_DECODE];
  d->n = n, d->tokens_per_unit = tokens;
  assert_int_equal(lj_stats_mean_ci(j, (size_t)n, 0.95, &d->dynamic_j), 0);
  double gross[8];
  for (int i = 0; i < n; i++) gross[i] = j[i] + 10.0;  // 10 J of idle per unit in both
  assert_int_equal(lj_stats_mean_ci(gross, (size_t)n, 0.95, &d->gross_j), 0);
}

static void test_pair(void **state) {
  (void)state;
  const double j[3] = {30, 31, 32};
  lj_profile_result a, b;
  const lj_profile_result *u = NULL, *f = NULL;
  make(&a, "production", j, 3, 128);
  make(&b, "none", j, 3, 128);
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 1);
  assert_ptr_equal(u, &b);
  assert_ptr_equal(f, &a);
  snprintf(b.plan.fusion, sizeof b.plan.fusion, "%s", "");  // a store from before --fusion: none
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 1);
  snprintf(b.plan.fusion, sizeof b.plan.fusion, "production");  // same mode: no pair
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  snprintf(b.plan.fusion, sizeof b.plan.fusion, "none");
  b.plan.batch = 8;  // another shape
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  b.plan.batch = 1;
  snprintf(b.cond.device.name, sizeof b.cond.device.name, "NVIDIA H200");  // another card
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  lj_profile_result_free(&a);
  lj_profile_result_free(&b);
}

static void test_arithmetic(void **state) {
  (void)state;
  // Unfused 30, 31, 32 J per 128 tokens; fused 28, 28.5, 29 J: difference 2.5 J / 128 tokens.
  const double ju[3] = {30, 31, 32}, jf[3] = {28, 28.5, 29};
  lj_profile_result u, f;
  make(&u, "none", ju, 3, 128);
  make(&f, "production", jf, 3, 128);
  lj_fusion_cost c;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), 0);
  assert_float_equal(c.dynamic_j.estimate, 2.5 / 128, 1e-12);
  assert_float_equal(c.gross_j.estimate, 2.5 / 128, 1e-12);  // the same idle cancels
  // se: sqrt(1/3 + 0.25/3) / 128 (sd 1 and 0.5 over 3 windows each)
  double se = sqrt(1.0 / 3 + 0.25 / 3) / 128;
  assert_float_equal(c.dynamic_j.se, se, 1e-12);
  // Welch df: (1/3 + 1/12)^2 / ((1/3)^2/2 + (1/12)^2/2) = 2.9412
  double va = 1.0 / 3, vb = 0.25 / 3, df = (va + vb) * (va + vb) / (va * va / 2 + vb * vb / 2);
  assert_float_equal(c.dynamic_j.df, df, 1e-9);
  double h = lj_student_t_quantile(0.975, df) * se;
  assert_float_equal(c.dynamic_j.lo, 2.5 / 128 - h, 1e-12);
  assert_float_equal(c.dynamic_j.hi, 2.5 / 128 + h, 1e-12);
  assert_true(c.dynamic_j.lo > 0);  // a saving this clear is resolved at 3 windows each
  // No stage estimates in either run: no group figure (not a zero).
  for (int g = 0; g < LJ_GROUP_COUNT; g++) assert_true(isnan(c.group_dynamic_j[g].estimate));
  // Different tokens per unit are divided out before the difference.
  f.phases[LJ_PHASE_DECODE].tokens_per_unit = 64;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), 0);
  assert_float_equal(c.dynamic_j.estimate, 31.0 / 128 - 28.5 / 64, 1e-12);
  // A run without its decode phase is named.
  f.phases[LJ_PHASE_DECODE].n = 0;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "fused (fusion production)"));
  lj_clear_error();
  lj_profile_result_free(&u);
  lj_profile_result_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_pair), cmocka_unit_test(test_arithmetic)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
