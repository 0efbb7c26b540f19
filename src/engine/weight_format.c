#include "engine/weight_format.h"

#include <string.h>

const char *lj_weight_format_name(int f) {
  return f == LJ_WEIGHTS_BF16 ? "bf16" : f == LJ_WEIGHTS_FP8 ? "fp8" : NULL;
}

int lj_weight_format_parse(const char *name) {
  if (!strcmp(name, "bf16")) return LJ_WEIGHTS_BF16;
  if (!strcmp(name, "fp8")) return LJ_WEIGHTS_FP8;
  return -1;
}
