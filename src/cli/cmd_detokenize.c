// PLACEHOLDER: replaced by the real implementation of `llamajoule detokenize`.
#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

int lj_cmd_detokenize(int argc, char **argv) {
  fprintf(stderr, "llamajoule: detokenize: not built yet\n");
  return LJ_EXIT_FAILURE;
}
