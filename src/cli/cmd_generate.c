// PLACEHOLDER: replaced by the real implementation of `llamajoule generate`.
#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

int lj_cmd_generate(int argc, char **argv) {
  fprintf(stderr, "llamajoule: generate: not built yet\n");
  return LJ_EXIT_FAILURE;
}
