// How the linear layers' weights are stored on the GPU: bf16 (the default), or FP8 E4M3
// with one fp32 scale per output row (embeddings, norms and the LM head stay bf16).
// Shared by the CUDA engine, its memory plan and every command that creates one.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LJ_WEIGHTS_BF16 = 0, LJ_WEIGHTS_FP8 = 1 } lj_weight_format;

// "bf16" / "fp8"; NULL for an unknown value.
const char *lj_weight_format_name(int f);
// -1 for an unknown name.
int lj_weight_format_parse(const char *name);

#ifdef __cplusplus
}
#endif
