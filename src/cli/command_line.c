#include "cli/command_line.h"

#include <stdio.h>

void lj_cli_command_line(int argc, char **argv, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "llamajoule");
  size_t used = n > 0 ? (size_t)n : 0;
  for (int i = 0; i < argc && used < cap; i++) {
    n = snprintf(buf + used, cap - used, " %s", argv[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}
