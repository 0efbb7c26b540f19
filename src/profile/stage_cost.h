// Analytic work of one stage call: floating-point operations and bytes moved,
// so that J/FLOP and J/byte say whether a stage is compute- or memory-bound in
// energy terms (docs/attribution.md lists every formula).
//
// One call = one stage for one layer (per-layer stages) over the whole batch.
// Bytes are the compulsory traffic of an ideal kernel: every weight, input
// activation and KV-cache element read once, every output written once
// (a lower bound; a real kernel may move more). Conventions of the CUDA engine
// (src/engine/cuda/cuda_engine.h, stage inputs and outputs):
//   - the residual add is fused into the norms: ATTN_NORM (layer > 0),
//     FFN_NORM and FINAL_NORM read the residual stream x and the previous
//     projection's output delta and write x back and the normed xn; O_PROJ and
//     DOWN are plain GEMMs writing delta; ATTN_NORM of layer 0 has no delta;
//   - QKV and GATE_UP are one fused GEMM each;
//   - ROPE rotates q in place and writes the rotated k and v into the KV cache
//     (cos and sin computed in the kernel: not counted);
//   - attention is causal: a query at position p attends to keys 0..p;
//   - FINAL_NORM, LM_HEAD and SAMPLE run on the last token of each sequence
//     (`logits_all_tokens` = 1: on every token);
//   - SAMPLE is greedy (one comparison per logit);
//   - ATTN_ALLREDUCE and MLP_ALLREDUCE (tensor-parallel degree N > 1, per rank): a ring all-reduce
//     of the (N_tok, D) update; each rank sends and receives 2 (N-1)/N N_tok D elements and adds
//     (N-1)/N N_tok D of them. Those bytes cross the link between GPUs (NVLink), not HBM: they are
//     link_bytes, and `bytes` stays 0. At degree 1 the stages do not run: all zero.
#pragma once
#include <stdint.h>

#include "common/stage.h"
#include "model/config.h"
#include "store/attribution_records.h"  // lj_stage_cost

typedef struct {
  int batch;                // sequences in the call
  int n_tokens;             // new tokens per sequence in this call: prompt length (prefill) or 1 (decode)
  int64_t kv_past;          // positions already in each sequence's KV cache before the call
  int logits_all_tokens;    // 1: final norm, LM head and sampling on every token
  int weight_bytes;         // bytes per weight element: 2 (bf16)
  int act_bytes;            // bytes per activation and KV-cache element: 2 (bf16)
  int logit_bytes;          // bytes per logit: 4 (fp32)
  int token_bytes;          // bytes per token id: 4 (int32)
  int tp_degree;            // tensor-parallel ranks: 1 (the all-reduce stages' cost only)
} lj_stage_shape;

// batch 1, one decode token after `kv_past` positions, bf16, fp32 logits, degree 1.
void lj_stage_shape_default(lj_stage_shape *s);

// Per call of stage `s` in decoder layer `layer` (0..n_layers-1; ignored for
// stages outside the layers: pass -1). LJ_EINVAL for an unknown stage, a
// layer out of range, or a shape that does not fit the model (n_tokens < 1,
// kv_past + n_tokens > max_seq_len, ...).
int lj_stage_cost_compute(const lj_model_config *c, lj_stage s, int layer, const lj_stage_shape *sh,
                          lj_stage_cost *out);

// Sum over one forward pass (every stage, per-layer stages times n_layers).
int lj_stage_cost_forward(const lj_model_config *c, const lj_stage_shape *sh, lj_stage_cost *out);
