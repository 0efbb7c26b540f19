// The attention-head grid's design and fit (profile/head_grid.h, lj_head_grid_fit_compute), without a
// device: the default lists for 1B (63 points, 126 trials, ~58 s by the estimate), every trial once
// in an order that is random, the same for the same seed; points beyond the free memory skipped with
// the arithmetic in the reason, exactly those whose K and V exceed it; a fit that holds gives the
// per-head cost at its smallest and largest cells (its arithmetic checked), one that does not gives none.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "profile/attribution.h"
#include "profile/head_grid.h"
#include "profile/profile_plan.h"

static void plan_1b(int64_t avail, uint64_t seed, lj_model_config *c, lj_head_grid_plan *p) {
  lj_profile_options o;
  lj_profile_options_default(&o);
  assert_int_equal(lj_config_preset("llama-3.2-1b", c), 0);
  assert_int_equal(lj_head_grid_plan_make(&o, c, 2, avail, seed, p), 0);
}

static void test_defaults_and_order(void **state) {
  (void)state;
  lj_model_config c;
  lj_head_grid_plan p, q, s;
  plan_1b(-1, 5, &c, &p);
  assert_int_equal(p.n_points, 7 * 3 * 3);
  assert_int_equal(p.n_order, 126);
  assert_int_equal(p.n_skipped, 0);
  // 126 x (0.3 s + 0.16 s): under the 90 s the default must keep to for 1B
  assert_true(fabs(lj_head_grid_estimate_s(&p, 0.3, LJ_HEAD_GRID_GPU_OVERHEAD_S) - 57.96) < 1e-9);
  // the groups: 1, half and all of 1B's 8 KV heads; bytes of b32 x KV 32768 x 8 groups: 2 GiB
  int seen[3] = {0, 0, 0}, count[63] = {0}, runs = 0;
  for (size_t i = 0; i < p.n_points; i++) seen[p.points[i].groups == 1 ? 0 : p.points[i].groups == 4 ? 1 : 2]++;
  assert_int_equal(seen[0], 21), assert_int_equal(seen[1], 21), assert_int_equal(seen[2], 21);
  assert_int_equal(lj_head_grid_kv_bytes(&c, 32, 32768, 8, 2), 2LL << 30);
  for (size_t k = 0; k < p.n_order; k++) {
    count[p.order[k].point]++;
    runs += k > 0 && p.order[k].point == p.order[k - 1].point;
  }
  for (int i = 0; i < 63; i++) assert_int_equal(count[i], 2);  // every point twice
  assert_true(runs < 10);  // interleaved: a point's two trials rarely side by side (~2 expected)
  plan_1b(-1, 5, &c, &q);
  plan_1b(-1, 6, &c, &s);
  int same = 1, differ = 0;
  for (size_t k = 0; k < p.n_order; k++) {
    same &= p.order[k].point == q.order[k].point && p.order[k].rep == q.order[k].rep;
    differ |= p.order[k].point != s.order[k].point;
  }
  assert_true(same && differ);
  lj_head_grid_plan_free(&p), lj_head_grid_plan_free(&q), lj_head_grid_plan_free(&s);
}

static void test_memory_skips(void **state) {
  (void)state;
  lj_model_config c;
  lj_head_grid_plan p;
  int64_t avail = 1LL << 30;
  plan_1b(avail, 1, &c, &p);
  int want = 0;
  for (size_t i = 0; i < p.n_points; i++) {
    const lj_head_grid_point *x = &p.points[i];
    int over = (int64_t)x->batch * x->groups * x->kv_len * 64 * 2 * 2 > avail;
    want += over;
    assert_int_equal(!!x->skipped[0], over);
    if (x->batch == 32 && x->kv_len == 32768 && x->groups == 8)
      assert_string_equal(x->skipped, "K and V of one layer, 32 x 8 x 32768 x 64 x 2 x 2 B = 2.00 GiB, exceed the "
                                      "1.00 GiB free");
  }
  assert_int_equal(p.n_skipped, want);
  assert_int_equal(p.n_order, 2 * (63 - want));
  for (size_t k = 0; k < p.n_order; k++) assert_int_equal(p.points[p.order[k].point].skipped[0], 0);
  lj_head_grid_plan_free(&p);
  // a group count the model does not have: named
  lj_profile_options o;
  lj_profile_options_default(&o);
  o.head_groups[0] = 9, o.n_head_groups = 1;
  assert_int_equal(lj_head_grid_plan_make(&o, &c, 2, -1, 1, &p), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "--head-fit-groups: 9 groups"));
  // tiny has 2 KV heads: groups 1 and 2 (half is 1, listed once)
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  int kv[16], b[16], g[16], nk, nb, ng;
  lj_profile_options_default(&o);
  lj_head_grid_lists(&o, &c, kv, &nk, b, &nb, g, &ng);
  assert_int_equal(ng, 2);
  assert_int_equal(g[0] + g[1], 3);
}

// Points of batch 1 and 4 at KV 1024, 4096 and groups 1, 2, with two trials each.
static size_t grid(lj_head_grid_point *pts, lj_head_grid_obs *obs, int curved) {
  size_t n = 0, k = 0;
  for (int b = 1; b <= 4; b *= 4)
    for (int kv = 1024; kv <= 4096; kv *= 4)
      for (int g = 1; g <= 2; g++, n++) {
        memset(&pts[n], 0, sizeof pts[n]);
        pts[n].batch = b, pts[n].kv_len = kv, pts[n].groups = g;
        pts[n].kv_bytes = (int64_t)b * g * kv * 64 * 4;
        double by = (double)pts[n].kv_bytes, y = 1e-5 + 2e-6 * g + 1e-10 * by * (curved ? sqrt(by / 262144.0) : 1);
        for (int r = 0; r < 2; r++, k++) obs[k] = (lj_head_grid_obs){(int)n, y * (1 + (r ? 1e-3 : -1e-3))};
      }
  return k;
}

static void test_fit_per_head(void **state) {
  (void)state;
  lj_head_grid_point pts[8];
  lj_head_grid_obs obs[16];
  size_t n = grid(pts, obs, 0);
  lj_head_grid_fit f;
  assert_int_equal(lj_head_grid_fit_compute(pts, 8, obs, n, 0, 4, 0.95, "dynamic_j", &f), 0);
  assert_int_equal(f.n_obs, 16), assert_int_equal(f.n_points, 8);
  assert_true(fabs(f.per_byte.estimate - 1e-10) < 2e-12);
  assert_int_equal(f.holds, 1);  // +-0.1% replicates around a linear truth
  assert_int_equal(f.small_batch, 1), assert_int_equal(f.small_kv, 1024);
  assert_int_equal(f.large_batch, 4), assert_int_equal(f.large_kv, 4096);
  // one query head at 4 x 4096: (per group + per byte x 4 x 4096 x 64 x 4 B) / 4 heads a group
  double want = (f.per_group.estimate + f.per_byte.estimate * 4.0 * 4096 * 256) / 4;
  assert_true(fabs(f.per_head_large.estimate - want) <= 1e-12 * fabs(want));
  assert_true(f.per_head_large.lo < want && want < f.per_head_large.hi);
  // a curved truth (per-byte cost growing with the read): rejected, no per-head cost
  n = grid(pts, obs, 1);
  assert_int_equal(lj_head_grid_fit_compute(pts, 8, obs, n, 0, 4, 0.95, "dynamic_j", &f), 0);
  assert_int_equal(f.holds, 0);
  assert_true(f.lof_p < 1e-6);
  assert_true(isnan(f.per_head_small.estimate) && isnan(f.per_head_large.estimate));
  // one batch alone: 4 points, the fit of that batch
  n = grid(pts, obs, 0);
  assert_int_equal(lj_head_grid_fit_compute(pts, 8, obs, n, 4, 4, 0.95, "dynamic_j", &f), 0);
  assert_int_equal(f.n_points, 4);
  // one group count only: the design cannot separate per group from fixed
  for (size_t i = 0; i < 8; i++) pts[i].groups = 1;
  assert_int_equal(lj_head_grid_fit_compute(pts, 8, obs, n, 0, 4, 0.95, "dynamic_j", &f), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "column 1"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_order),
      cmocka_unit_test(test_memory_skips),
      cmocka_unit_test(test_fit_per_head),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
