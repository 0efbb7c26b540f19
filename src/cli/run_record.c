#include "cli/run_record.h"

#include <stdio.h>
#include <sys/stat.h>

#include "common/error.h"

// "llamajoule <argv[0]> <argv[1]> ...", truncated to cap.
static void command_line(int argc, char **argv, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "llamajoule");
  size_t used = n > 0 ? (size_t)n : 0;
  for (int i = 0; i < argc && used < cap; i++) {
    n = snprintf(buf + used, cap - used, " %s", argv[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}

int lj_cli_begin_run(const char *path, const char *kind, const char *source, int argc, char **argv, lj_store **st,
                     int64_t *run, char *path_used, size_t cap) {
  *st = NULL;
  if (path) {
    if ((size_t)snprintf(path_used, cap, "%s", path) >= cap) return LJ_FAIL(LJ_EINVAL, "store path too long: %s", path);
  } else {
    LJ_TRY(lj_store_default_path(path_used, cap, 1));
  }
  // A store this call creates and cannot start its run in is removed again (never one that was there).
  struct stat sb;
  int existed = stat(path_used, &sb) == 0;
  int rc = lj_store_open(path_used, st);
  if (rc == 0) {
    char cmdline[4096];
    command_line(argc, argv, cmdline, sizeof cmdline);
    lj_run_info info = {.kind = kind, .command_line = cmdline, .source = source ? source : "nvml"};
    rc = lj_store_begin_run(*st, &info, run);
  }
  if (rc < 0) {
    lj_store_close(*st);
    *st = NULL;
    if (!existed) lj_store_remove_unused(path_used);
  }
  return rc;
}
