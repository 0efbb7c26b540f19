// lj_getopt_exact (cli/option_names.h): long options by their full names only. getopt_long alone
// took "--f text" as --format and "--rep" (a prefix of two options) as an unknown option; here a
// prefix is unknown, argv[optind - 1] names it as given, and full names, "=" values and short
// options parse as before.
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cli/option_names.h"

static const struct option k_opts[] = {{"format", required_argument, 0, 'f'},
                                       {"repeats", required_argument, 0, 'r'},
                                       {"replay-seconds", required_argument, 0, 's'},
                                       {"quick", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};

// Parses argv (NULL-terminated) to the end or the first '?' / ':'; returns that, or -1.
static int parse(char **argv, char *got, size_t cap) {
  int argc = 0;
  while (argv[argc]) argc++;
  optind = 1;
  opterr = 0;
  size_t n = 0;
  int c;
  while ((c = lj_getopt_exact(argc, argv, ":o:h", k_opts)) != -1) {
    if (c == '?' || c == ':') return c;
    if (n + 1 < cap) got[n++] = (char)c, got[n] = '\0';
  }
  return -1;
}

static void test_full_names(void **state) {
  (void)state;
  char got[16] = "";
  char *argv[] = {"cmd", "--format", "text", "--repeats=3", "-o", "x", "--quick", "in.db", NULL};
  assert_int_equal(parse(argv, got, sizeof got), -1);
  assert_string_equal(got, "froq");
  assert_string_equal(argv[optind], "in.db");
}

static void test_prefix_is_unknown(void **state) {
  (void)state;
  char got[16] = "";
  char *sep[] = {"cmd", "--quick", "--f", "text", NULL};  // a prefix with its value as the next word
  assert_int_equal(parse(sep, got, sizeof got), '?');
  assert_string_equal(sep[optind - 1], "--f");
  char *eq[] = {"cmd", "--form=text", NULL};
  assert_int_equal(parse(eq, got, sizeof got), '?');
  assert_string_equal(eq[optind - 1], "--form=text");
  char *flag[] = {"cmd", "--qu", NULL};
  assert_int_equal(parse(flag, got, sizeof got), '?');
  assert_string_equal(flag[optind - 1], "--qu");
  char *ambiguous[] = {"cmd", "--rep", "3", NULL};
  assert_int_equal(parse(ambiguous, got, sizeof got), '?');
  assert_string_equal(ambiguous[optind - 1], "--rep");
  char *last[] = {"cmd", "--f", NULL};  // a prefix last on the line: unknown, not missing its value
  assert_int_equal(parse(last, got, sizeof got), '?');
  assert_string_equal(last[optind - 1], "--f");
}

static void test_missing_value(void **state) {
  (void)state;
  char got[16] = "";
  char *argv[] = {"cmd", "--format", NULL};
  assert_int_equal(parse(argv, got, sizeof got), ':');
  assert_string_equal(argv[optind - 1], "--format");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_full_names), cmocka_unit_test(test_prefix_is_unknown),
                                     cmocka_unit_test(test_missing_value)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
