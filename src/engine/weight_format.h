// How the linear layers' weights are stored on the GPU: bf16 (the default), or FP8 E4M3
// with one fp32 scale per output row or per tensor (lj_fp8_scale_mode, model/fp8_quant.h;
// embeddings, norms and the LM head stay bf16).
// Shared by the CUDA engine, its memory plan and every command that creates one.
#pragma once
#include "model/fp8_quant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LJ_WEIGHTS_BF16 = 0, LJ_WEIGHTS_FP8 = 1 } lj_weight_format;

// "bf16" / "fp8"; NULL for an unknown value.
const char *lj_weight_format_name(int f);
// -1 for an unknown name.
int lj_weight_format_parse(const char *name);
// "row" / "tensor"; NULL for an unknown value.
const char *lj_fp8_scale_name(int mode);
// -1 for an unknown name.
int lj_fp8_scale_parse(const char *name);
// What a run record says of its linear layers: "bf16", "fp8" (per-row scales, as before the
// option) or "fp8-tensor"; NULL for an unknown format or mode. Fits LJ_WEIGHTS_LABEL_MAX.
const char *lj_weights_label(int format, int fp8_scale);
#define LJ_WEIGHTS_LABEL_MAX 16
// The CLI's check of --fp8-scale: given (1) with weights that are not FP8 is LJ_EINVAL, naming it.
int lj_fp8_scale_check(int format, int fp8_scale, int given);

#ifdef __cplusplus
}
#endif
