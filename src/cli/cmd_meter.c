// PLACEHOLDER: replaced by the real implementation of `llamajoule meter`.
#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

int lj_cmd_meter(int argc, char **argv) {
  fprintf(stderr, "llamajoule: meter: not built yet\n");
  return LJ_EXIT_FAILURE;
}
