// PLACEHOLDER: replaced by the real implementation of `llamajoule devices`.
#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

int lj_cmd_devices(int argc, char **argv) {
  fprintf(stderr, "llamajoule: devices: not built yet\n");
  return LJ_EXIT_FAILURE;
}
