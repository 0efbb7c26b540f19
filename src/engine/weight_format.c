#include "engine/weight_format.h"

#include <string.h>

#include "common/error.h"
#include "model/fp8_quant.h"

const char *lj_weight_format_name(int f) {
  return f == LJ_WEIGHTS_BF16 ? "bf16" : f == LJ_WEIGHTS_FP8 ? "fp8" : NULL;
}

int lj_weight_format_parse(const char *name) {
  if (!strcmp(name, "bf16")) return LJ_WEIGHTS_BF16;
  if (!strcmp(name, "fp8")) return LJ_WEIGHTS_FP8;
  return -1;
}

const char *lj_fp8_scale_name(int mode) {
  return mode == LJ_FP8_SCALE_ROW ? "row" : mode == LJ_FP8_SCALE_TENSOR ? "tensor" : NULL;
}

int lj_fp8_scale_parse(const char *name) {
  if (!strcmp(name, "row")) return LJ_FP8_SCALE_ROW;
  if (!strcmp(name, "tensor")) return LJ_FP8_SCALE_TENSOR;
  return -1;
}

const char *lj_weights_label(int format, int fp8_scale) {
  if (format == LJ_WEIGHTS_BF16) return "bf16";
  if (format != LJ_WEIGHTS_FP8) return NULL;
  return fp8_scale == LJ_FP8_SCALE_ROW ? "fp8" : fp8_scale == LJ_FP8_SCALE_TENSOR ? "fp8-tensor" : NULL;
}

int lj_fp8_scale_check(int format, int fp8_scale, int given) {
  if (!lj_fp8_scale_name(fp8_scale))
    return LJ_FAIL(LJ_EINVAL, "--fp8-scale: unknown mode %d (expected row or tensor)", fp8_scale);
  if (given && format != LJ_WEIGHTS_FP8)
    return LJ_FAIL(LJ_EINVAL, "--fp8-scale %s: the scales of FP8 weights; the linear layers here are %s (add "
                   "--weights fp8)", lj_fp8_scale_name(fp8_scale), lj_weight_format_name(format) ? lj_weight_format_name(format) : "?");
  return 0;
}
