// The stage interface between the engines and the profiler (design.md).
// Every unit of work the engine does has one of these ids and a layer index
// (-1 for stages outside the decoder layers). Stage names are what NVTX
// ranges, the store and the reports show.
#pragma once

typedef enum {
  LJ_STAGE_EMBED = 0,
  LJ_STAGE_ATTN_NORM,
  LJ_STAGE_QKV,
  LJ_STAGE_ROPE,
  LJ_STAGE_ATTN,
  LJ_STAGE_O_PROJ,
  LJ_STAGE_FFN_NORM,
  LJ_STAGE_GATE_UP,
  LJ_STAGE_SWIGLU,
  LJ_STAGE_DOWN,
  LJ_STAGE_FINAL_NORM,
  LJ_STAGE_LM_HEAD,
  LJ_STAGE_SAMPLE,
  LJ_STAGE_COUNT
} lj_stage;

typedef enum {
  LJ_PHASE_LOAD = 0,
  LJ_PHASE_TOKENIZE,
  LJ_PHASE_PREFILL,
  LJ_PHASE_DECODE,
  LJ_PHASE_DETOKENIZE,
  LJ_PHASE_COUNT
} lj_phase;

static inline const char *lj_stage_name(lj_stage s) {
  static const char *const names[LJ_STAGE_COUNT] = {
      "embed", "attn_norm", "qkv", "rope", "attn", "o_proj", "ffn_norm",
      "gate_up", "swiglu", "down", "final_norm", "lm_head", "sample"};
  return (unsigned)s < LJ_STAGE_COUNT ? names[s] : "?";
}

static inline const char *lj_phase_name(lj_phase p) {
  static const char *const names[LJ_PHASE_COUNT] = {"load", "tokenize", "prefill", "decode", "detokenize"};
  return (unsigned)p < LJ_PHASE_COUNT ? names[p] : "?";
}

// 1 for the stages that run once per decoder layer.
static inline int lj_stage_is_per_layer(lj_stage s) { return s >= LJ_STAGE_ATTN_NORM && s <= LJ_STAGE_DOWN; }
