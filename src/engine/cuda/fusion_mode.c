// Names of the CUDA engine's execution modes (lj_cuda_fusion_mode), for the command
// line and reports; built with and without CUDA.
#include <string.h>

#include "engine/cuda/cuda_engine.h"

const char *lj_cuda_fusion_name(int mode) {
  switch (mode) {
    case LJ_FUSION_NONE: return "none";
    case LJ_FUSION_PRODUCTION: return "production";
    case LJ_FUSION_NORM_ONCE: return "norm-once";
    default: return NULL;
  }
}

int lj_cuda_fusion_parse(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "none")) return LJ_FUSION_NONE;
  if (!strcmp(name, "production")) return LJ_FUSION_PRODUCTION;
  if (!strcmp(name, "norm-once")) return LJ_FUSION_NORM_ONCE;
  return -1;
}
