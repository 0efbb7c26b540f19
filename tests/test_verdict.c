// The one interval verdict (common/verdict.h), on cases at and across the band's edges: PASS only
// with the whole interval inside, MISS only with the whole interval outside (either side), every
// interval across an edge INCONCLUSIVE whatever side its point is on, no interval INCONCLUSIVE, no
// point NONE.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/verdict.h"

static void test_interval_verdict(void **state) {
  (void)state;
  static const struct {
    double pct, lo, hi;
    lj_verdict want;
  } cases[] = {
      {-1.2, -3.4, 1.0, LJ_VERDICT_PASS},           // inside
      {-5.0, -5.0, -5.0, LJ_VERDICT_PASS},          // on the edge counts as inside
      {10.0, 10.0, 10.0, LJ_VERDICT_MISS},          // a point interval outside
      {1.35, -8.0, 10.7, LJ_VERDICT_INCONCLUSIVE},  // point inside, interval across both edges
      {4.9, 4.8, 5.01, LJ_VERDICT_INCONCLUSIVE},    // point inside, interval across one edge
      {5.01, 4.99, 5.03, LJ_VERDICT_INCONCLUSIVE},  // point outside, interval reaching back in
      {-67.8, -1500, 1400, LJ_VERDICT_INCONCLUSIVE}, // the H100's --quick last-layer skip: no proof
      {-7.5, -9.9, -5.1, LJ_VERDICT_MISS},          // whole interval below
      {7.5, 5.01, 9.9, LJ_VERDICT_MISS},            // whole interval above
      {2.0, NAN, NAN, LJ_VERDICT_INCONCLUSIVE},     // no interval: no proof either way
      {9.0, NAN, NAN, LJ_VERDICT_INCONCLUSIVE},
      {NAN, -1, 1, LJ_VERDICT_NONE},                // not computed
      {INFINITY, 1, 2, LJ_VERDICT_NONE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(lj_interval_verdict(cases[i].pct, cases[i].lo, cases[i].hi, 5.0), cases[i].want);
  // the band is the caller's: the same interval passes +-10 and misses +-5
  assert_int_equal(lj_interval_verdict(7.5, 5.01, 9.9, 10.0), LJ_VERDICT_PASS);
  assert_string_equal(lj_verdict_name(LJ_VERDICT_PASS), "PASS");
  assert_string_equal(lj_verdict_name(LJ_VERDICT_MISS), "MISS");
  assert_string_equal(lj_verdict_name(LJ_VERDICT_INCONCLUSIVE), "INCONCLUSIVE");
  assert_null(lj_verdict_name(LJ_VERDICT_NONE));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_interval_verdict)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
