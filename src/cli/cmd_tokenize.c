// PLACEHOLDER: replaced by the real implementation of `llamajoule tokenize`.
#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

int lj_cmd_tokenize(int argc, char **argv) {
  fprintf(stderr, "llamajoule: tokenize: not built yet\n");
  return LJ_EXIT_FAILURE;
}
