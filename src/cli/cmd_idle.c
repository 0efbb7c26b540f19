// PLACEHOLDER: replaced by the real implementation of `llamajoule idle`.
#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

int lj_cmd_idle(int argc, char **argv) {
  fprintf(stderr, "llamajoule: idle: not built yet\n");
  return LJ_EXIT_FAILURE;
}
