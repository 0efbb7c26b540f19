// The stage interface between the engines and the profiler (design.md).
// Every unit of work the engine does has one of these ids and a layer index
// (-1 for stages outside the decoder layers). Stage names are what NVTX
// ranges, the store and the reports show.
//
// Composite stages: in the engine's fused modes (LJ_FUSION_PRODUCTION, LJ_FUSION_NORM_ONCE), or with the
// decode attention variant that fuses RoPE ("one_rope"), one kernel does the work of
// several consecutive simple stages of a layer; it is a stage of its own
// (id >= LJ_STAGE_COUNT, name "a+b+c") that covers those parts, so a profiler can
// measure and report it as one unit. Arrays indexed by the simple
// stages stay LJ_STAGE_COUNT long; LJ_STAGE_ALL_COUNT counts both kinds.
// LJ_STAGE_NONE is "no one stage" (a trial of the whole layer, the calibration copy alone,
// a budget of a whole phase): no stage has it, simple or composite; the store names it "none".
//
// Tensor parallelism (docs/tensor-parallel.md §3): the all-reduce stages sum the ranks' partial
// outputs of o_proj and down. They run only at degree > 1; at degree 1 they are absent from the
// run's stage list (as a composite's parts are in the fused mode), so a degree-1 run's stages,
// and the store's rows (stages are stored by name), are what they were before the stages existed.
#pragma once
#include <stdint.h>

typedef enum {
  LJ_STAGE_EMBED = 0,
  LJ_STAGE_ATTN_NORM,
  LJ_STAGE_QKV,
  LJ_STAGE_ROPE,
  LJ_STAGE_ATTN,
  LJ_STAGE_O_PROJ,
  LJ_STAGE_ATTN_ALLREDUCE,  // sum of the ranks' o_proj partials (degree > 1 only)
  LJ_STAGE_FFN_NORM,
  LJ_STAGE_GATE_UP,
  LJ_STAGE_SWIGLU,
  LJ_STAGE_DOWN,
  LJ_STAGE_MLP_ALLREDUCE,  // sum of the ranks' down partials (degree > 1 only)
  LJ_STAGE_FINAL_NORM,
  LJ_STAGE_LM_HEAD,
  LJ_STAGE_SAMPLE,
  LJ_STAGE_COUNT,  // simple stages
  // composite stages (fused mode)
  LJ_STAGE_ATTN_NORM_QKV = LJ_STAGE_COUNT,  // attn_norm + qkv
  LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU,         // ffn_norm + gate_up + swiglu
  LJ_STAGE_ROPE_ATTN,                       // rope + attn (decode, attention variant one_rope)
  LJ_STAGE_O_PROJ_FFN_NORM,                 // o_proj + ffn_norm (norm once: residual, sum of squares)
  LJ_STAGE_GATE_UP_SWIGLU,                  // gate_up + swiglu (norm once: the scale applied on the fly)
  LJ_STAGE_ALL_COUNT,
  LJ_STAGE_NONE = 0xFF,  // no one stage (above every id; arrays are never indexed by it)
  // a decoder layer's simple stages, in run order: attn_norm .. mlp_allreduce
  LJ_STAGE_LAYER_FIRST = LJ_STAGE_ATTN_NORM,
  LJ_STAGE_LAYER_LAST = LJ_STAGE_MLP_ALLREDUCE
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
  static const char *const names[LJ_STAGE_ALL_COUNT] = {
      "embed", "attn_norm", "qkv", "rope", "attn", "o_proj", "attn_allreduce", "ffn_norm",
      "gate_up", "swiglu", "down", "mlp_allreduce", "final_norm", "lm_head", "sample",
      "attn_norm+qkv", "ffn_norm+gate_up+swiglu", "rope+attn", "o_proj+ffn_norm", "gate_up+swiglu"};
  return (unsigned)s < LJ_STAGE_ALL_COUNT ? names[s] : "?";
}

static inline const char *lj_phase_name(lj_phase p) {
  static const char *const names[LJ_PHASE_COUNT] = {"load", "tokenize", "prefill", "decode", "detokenize"};
  return (unsigned)p < LJ_PHASE_COUNT ? names[p] : "?";
}

static inline int lj_stage_is_composite(lj_stage s) {
  return (unsigned)s >= LJ_STAGE_COUNT && (unsigned)s < LJ_STAGE_ALL_COUNT;
}

// The simple stages a stage covers, a run of consecutive ids first .. last in the run's
// order (a simple stage covers itself). Returns how many; 0 for an unknown id.
static inline int lj_stage_parts(lj_stage s, lj_stage *first, lj_stage *last) {
  lj_stage f = s, l = s;
  switch ((int)s) {
    case LJ_STAGE_ATTN_NORM_QKV: f = LJ_STAGE_ATTN_NORM, l = LJ_STAGE_QKV; break;
    case LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU: f = LJ_STAGE_FFN_NORM, l = LJ_STAGE_SWIGLU; break;
    case LJ_STAGE_ROPE_ATTN: f = LJ_STAGE_ROPE, l = LJ_STAGE_ATTN; break;
    // covers the all-reduce between them, which runs only at degree > 1, where this one is not used
    case LJ_STAGE_O_PROJ_FFN_NORM: f = LJ_STAGE_O_PROJ, l = LJ_STAGE_FFN_NORM; break;
    case LJ_STAGE_GATE_UP_SWIGLU: f = LJ_STAGE_GATE_UP, l = LJ_STAGE_SWIGLU; break;
    default:
      if ((unsigned)s >= LJ_STAGE_COUNT) return 0;
  }
  if (first) *first = f;
  if (last) *last = l;
  return (int)l - (int)f + 1;
}

// The stages a forward call runs from first to last (simple ids), in order, given what runs at
// each simple stage: at[st] is st itself, or in the fused mode a composite whose first part is
// st, or LJ_STAGE_NONE for a stage that does not run (an all-reduce at degree 1): skipped. A
// composite is listed once, in place of all its parts. Returns how many went to out.
static inline int lj_stage_sequence(const lj_stage *at, lj_stage first, lj_stage last, lj_stage *out) {
  int n = 0;
  for (int st = (int)first; st <= (int)last; st++) {
    if (at[st] == LJ_STAGE_NONE) continue;
    lj_stage begin = at[st], end = at[st];
    out[n++] = at[st];
    if (lj_stage_parts(at[st], &begin, &end) > 0 && (int)end > st) st = (int)end;  // past its parts
  }
  return n;
}

// Bit (1u << part) for every simple stage s covers (the skip-mask convention). A composite's run
// may span the all-reduce after o_proj (o_proj+ffn_norm), which is never a part: composites run
// at degree 1 only.
static inline uint32_t lj_stage_part_mask(lj_stage s) {
  lj_stage f, l;
  int n = lj_stage_parts(s, &f, &l);
  uint32_t comm = s == f ? 0u : (1u << LJ_STAGE_ATTN_ALLREDUCE) | (1u << LJ_STAGE_MLP_ALLREDUCE);
  return n > 0 ? ((2u << l) - (1u << f)) & ~comm : 0u;
}

// 1 for the stages that run once per decoder layer (composites included: all of theirs do).
static inline int lj_stage_is_per_layer(lj_stage s) {
  return (s >= LJ_STAGE_LAYER_FIRST && s <= LJ_STAGE_LAYER_LAST) || lj_stage_is_composite(s);
}

// 1 for the all-reduce stages (tensor parallelism's communication).
static inline int lj_stage_is_allreduce(lj_stage s) {
  return s == LJ_STAGE_ATTN_ALLREDUCE || s == LJ_STAGE_MLP_ALLREDUCE;
}

// 1 when stage s runs in a forward pass at tensor-parallel degree `degree` (the all-reduce
// stages only above 1; every other stage at every degree).
static inline int lj_stage_runs_at_degree(lj_stage s, int degree) { return degree > 1 || !lj_stage_is_allreduce(s); }

// The simple stage after s that runs at `degree` (LJ_STAGE_COUNT past the last), for loops over a
// degree's stages: for (int s = first; s <= last; s = lj_stage_next(s, degree)).
static inline int lj_stage_next(int s, int degree) {
  do s++;
  while (s < LJ_STAGE_COUNT && !lj_stage_runs_at_degree((lj_stage)s, degree));
  return s;
}

// 1 for the stages whose work grows with the KV cache: attention and a composite that covers it.
static inline int lj_stage_reads_cache(lj_stage s) { return (int)((lj_stage_part_mask(s) >> LJ_STAGE_ATTN) & 1u); }
