// The decode GEMVs' tuning knobs (gemv.cu, gemv_fp8.cu's pipe variant), selectable at run time
// per engine and per GEMV shape class, so that one bench_engine --tune call can sweep them on a
// GPU instead of a guess being compiled in. Plain C; built with and without CUDA.
//
// bf16 (gemv.cu): a block of 256 threads computes R output rows, U 16-byte chunks per row in
// flight. Every configuration gives the same bits: a thread adds its chunks c, c + 256, ... in
// the same order whatever R and U, and the reductions do not depend on them.
// Both apply to calls of 1-2 tokens (LJ_GEMV_TUNED_MAX_N); larger calls run the default.
// FP8 pipe (gemv_fp8.cu): persistent blocks of R rows with D passes of loads issued ahead of the
// math; "auto" is the kernel before the knob (R = 8 for 1-2 tokens, else 4; D = 1). The same bits
// for every configuration too (each thread's chunks in the same order).
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// The GEMVs of a decode step, by the stage that runs them: each class can have its own
// configuration (small qkv / o_proj matrices against long gate_up / down / lm_head ones).
typedef enum {
  LJ_GEMV_CLASS_QKV = 0,
  LJ_GEMV_CLASS_O_PROJ,
  LJ_GEMV_CLASS_GATE_UP,
  LJ_GEMV_CLASS_DOWN,
  LJ_GEMV_CLASS_LM_HEAD,  // bf16 in either weight format (FP8 covers the linear layers only)
  LJ_GEMV_CLASS_COUNT
} lj_gemv_class;

// bf16 configurations: index = 3 * log2(R) + log2(U) for R in 1, 2, 4, 8 and U in 1, 2, 4.
#define LJ_GEMV_CONFIG_COUNT 12
#define LJ_GEMV_CONFIG_DEFAULT 7  // "r4u2": the kernel before the knob (measured v2 .. v8)
// FP8 pipe configurations: 0 = "auto", then 1 + 2 * log2(R / 2) + (D - 1) for R in 2, 4, 8, 16
// and D in 1, 2.
#define LJ_FP8_PIPE_CONFIG_COUNT 9
#define LJ_FP8_PIPE_CONFIG_DEFAULT 0

// What an engine runs per class unless told otherwise is a function of the matrix shape
// (gemv_defaults.h: the settings measured fastest per model on an H100, the nearest measured shape
// for the others). LJ_GEMV_CONFIG_DEFAULT / LJ_FP8_PIPE_CONFIG_DEFAULT remain the kernels calls of
// more than LJ_GEMV_TUNED_MAX_N tokens and the plain launchers run.

// "qkv", "o_proj", "gate_up", "down", "lm_head"; NULL for an unknown class.
const char *lj_gemv_class_name(int cls);

// "r1u1" .. "r8u4"; NULL for an unknown configuration. Rows and loads in flight of one.
const char *lj_gemv_config_name(int cfg);
int lj_gemv_config_parse(const char *name);  // -1 for an unknown name
int lj_gemv_config_rows(int cfg);
int lj_gemv_config_unroll(int cfg);

// "auto", "r2d1" .. "r16d2"; NULL for an unknown configuration. Rows 0 / depth 0 for auto.
const char *lj_fp8_pipe_config_name(int cfg);
int lj_fp8_pipe_config_parse(const char *name);  // -1 for an unknown name
int lj_fp8_pipe_config_rows(int cfg);
int lj_fp8_pipe_config_depth(int cfg);

// A configuration per class from a spec: "NAME" (every class), or a comma-separated list of
// CLASS=NAME, where CLASS is a class name, "small" (qkv, o_proj) or "large" (gate_up, down,
// lm_head); classes not named get `dflt`. fp8: names of the FP8 pipe table, else bf16's.
// 0, or LJ_EINVAL naming the part of the spec that is wrong.
int lj_gemv_spec_parse(const char *spec, int fp8, int dflt, int cfg[LJ_GEMV_CLASS_COUNT]);
// The spec back: "NAME" when every class has the same configuration, else the five CLASS=NAME.
void lj_gemv_spec_format(const int cfg[LJ_GEMV_CLASS_COUNT], int fp8, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
