// Names of the FP8 GEMV variants (fp8_gemv_variant.h), for bench_engine and the docs;
// built with and without CUDA.
#include <string.h>

#include "engine/cuda/fp8_gemv_variant.h"

static const char *const names[LJ_FP8_GEMV_COUNT] = {"base", "warp", "pipe", "splitk"};

const char *lj_fp8_gemv_name(int variant) {
  return variant >= 0 && variant < LJ_FP8_GEMV_COUNT ? names[variant] : NULL;
}

int lj_fp8_gemv_parse(const char *name) {
  for (int v = 0; name && v < LJ_FP8_GEMV_COUNT; v++)
    if (!strcmp(name, names[v])) return v;
  return -1;
}
