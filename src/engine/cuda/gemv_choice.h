// The decode GEMV setting of a whole run, as `generate --gemv-config` and `profile --gemv-config`
// take it: the per-shape defaults (gemv_defaults.c, measured fastest) or one bf16 configuration
// (gemv_config.h) on every shape class, for instance r4u2, which decoded with less energy per
// token than the fastest on an H100 (docs/engine-cuda.md, "Decode energy"). Plain C; built with
// and without CUDA.
#pragma once
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/tp_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

// A choice: 0 = the defaults (so that a zeroed option struct keeps today's behaviour), else
// 1 + a bf16 configuration index.
#define LJ_GEMV_CHOICE_DEFAULTS 0

// "defaults" or a bf16 configuration name; LJ_EINVAL naming every valid name.
int lj_gemv_choice_parse(const char *name, int *choice);
// "defaults", "r4u2", ...; NULL for an unknown choice.
const char *lj_gemv_choice_name(int choice);
// The bf16 configuration of every class, or -1 for the defaults (and an unknown choice).
int lj_gemv_choice_config(int choice);

// The refusals of a configuration other than the defaults: on the CPU engine (cuda 0), which has
// no GEMV configurations; with FP8 weights (weights, lj_weight_format), whose linear layers run
// the FP8 GEMV and its own knob; and with a fused mode (fusion, lj_cuda_fusion_mode), whose fused
// kernels (attn_norm+qkv, ffn_norm+gate_up+swiglu) keep their own rows per block, so the setting
// would not reach every matrix the plan says it does. LJ_EUNSUPPORTED saying why; 0 for the
// defaults always.
int lj_gemv_choice_check(int choice, int cuda, int weights, int fusion);

// Applies the choice to every shape class of an engine, or of each rank of a tensor-parallel
// group; the defaults leave the engine's own (each rank's from its layer shape) untouched.
int lj_cuda_apply_gemv_choice(lj_cuda_engine *e, int choice);
int lj_cuda_tp_apply_gemv_choice(lj_cuda_tp *tp, int choice);

#ifdef __cplusplus
}
#endif
