// The wall time by part of a profile (part_times.c): parts of one name add up in the order they
// first ran, the rest of the run's wall time is "other", a short buffer truncates but the length
// is the whole text's (as snprintf), an end after an end takes the time since the last end, and
// past LJ_PART_MAX names the last slot becomes "more".
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "profile/part_times.h"

#define S(x) ((int64_t)((x) * 1e9))

static void test_parts_add_up(void **state) {
  (void)state;
  lj_part_times p;
  lj_part_times_init(&p, S(100));
  lj_part_end(&p, "plan", S(101.5));  // from the run's start
  lj_part_start(&p, S(102));
  lj_part_end(&p, "a", S(104));
  lj_part_start(&p, S(104));
  lj_part_end(&p, "b", S(104.5));
  lj_part_start(&p, S(105));
  lj_part_end(&p, "a", S(106.25));
  lj_part_end(&p, "c", S(107));  // an end after an end: the time since the last end
  char buf[256];
  int n = lj_part_times_format(&p, S(110), buf, sizeof buf);
  assert_string_equal(buf, "plan 1.5 s, a 3.2 s, b 0.5 s, c 0.8 s, other 4.0 s (of 10.0 s)");
  assert_int_equal(n, (int)strlen(buf));
  char small[12];
  assert_int_equal(lj_part_times_format(&p, S(110), small, sizeof small), n);
  assert_string_equal(small, "plan 1.5 s,");
}

static void test_too_many_parts(void **state) {
  (void)state;
  static const char *names[LJ_PART_MAX + 2] = {"p0", "p1", "p2",  "p3",  "p4",  "p5",  "p6",  "p7", "p8",
                                               "p9", "p10", "p11", "p12", "p13", "p14", "p15", "p16", "p17"};
  lj_part_times p;
  lj_part_times_init(&p, 0);
  for (int i = 0; i < LJ_PART_MAX + 2; i++) {
    lj_part_start(&p, S(i));
    lj_part_end(&p, names[i], S(i + 1));
  }
  assert_int_equal(p.n, LJ_PART_MAX);
  assert_string_equal(p.name[LJ_PART_MAX - 1], "more");
  assert_true(p.s[LJ_PART_MAX - 1] > 2.999 && p.s[LJ_PART_MAX - 1] < 3.001);  // p15, p16, p17
  double sum = 0;
  for (int i = 0; i < p.n; i++) sum += p.s[i];
  assert_true(sum > LJ_PART_MAX + 1.999 && sum < LJ_PART_MAX + 2.001);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parts_add_up),
      cmocka_unit_test(test_too_many_parts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
