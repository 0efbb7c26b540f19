// A profile written to a new store and read back, for the cmocka tests of a table's round trip.
// Include after cmocka.h.
#pragma once
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "store/store.h"

// A new directory from the mkdtemp template dir, and path the file name inside it.
static inline void scratch_store(char *dir, char *path, size_t cap, const char *name) {
  assert_non_null(mkdtemp(dir));
  snprintf(path, cap, "%s/%s", dir, name);
}

// scratch_store in $TMPDIR (else P_tmpdir), the directory named PREFIX_XXXXXX; dir holds 200 bytes.
static inline void scratch_store_tmp(char *dir, const char *prefix, char *path, size_t cap, const char *name) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, 200, "%s/%s_XXXXXX", tmp && *tmp ? tmp : P_tmpdir, prefix);
  scratch_store(dir, path, cap, name);
}

// Removes the directory scratch_store made, with what is in it.
static inline void scratch_remove(const char *dir) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

// Writes w as the profile of a new run of the store at path and reads it back into g (the caller
// frees it); returns the store, still open, for further checks (the caller closes it).
static lj_store *store_round_trip(const char *path, const lj_profile_result *w, lj_profile_result *g) {
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  if (lj_store_add_profile(st, run, w) < 0) fail_msg("%s", lj_error_message());
  if (lj_store_read_profile(st, run, g) < 0) fail_msg("%s", lj_error_message());
  return st;
}
