// The profile's text (json 0) or JSON (json 1) into a string the caller frees; LJ_REPORT_PRINT=text
// or json also prints it. For the cmocka tests that check what the report says.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

// Not inlined: GCC 12 otherwise takes the returned heap buffer for the local pointer it was written
// through (-Wdangling-pointer).
__attribute__((noinline)) static char *render(const lj_profile_result *r, int json) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(json ? lj_profile_report_json(f, r) : lj_profile_report_text(f, r), 0);
  assert_int_equal(fclose(f), 0);
  const char *print = getenv("LJ_REPORT_PRINT");
  if (print && (strcmp(print, "json") == 0) == json) fputs(buf, stdout);
  return buf;
}
