// The prefill attention kernels the engine can run (attention_prefill.cu, attention_prefill_mma.cu),
// so that bench_engine can measure them side by side on one card. Plain C; built with and without CUDA.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LJ_ATTN_PREFILL_WMMA = 0,  // "wmma": wmma 16x16x16, scores and P through shared memory (any head_dim <= 128)
  LJ_ATTN_PREFILL_MMA,       // "mma": mma.sync m16n8k16, S and P in registers; 64 or 128 queries per head_dim
  LJ_ATTN_PREFILL_MMA64,     // "mma64": the same, always 64 queries (4 warps) per block, 64-key tiles
  LJ_ATTN_PREFILL_MMA128,    // "mma128": always 128 queries (8 warps) per block, 64-key tiles
  LJ_ATTN_PREFILL_MMA_K32,   // "mma_k32": 128 queries (8 warps) per block, 32-key tiles (half the score registers)
  LJ_ATTN_PREFILL_COUNT
} lj_attn_prefill_variant;

// What the engine runs unless told otherwise: change here once bench_engine --attn-prefill all
// has measured the variants (scripts/gpu/attn_prefill.sh prints the winner).
#define LJ_ATTN_PREFILL_DEFAULT LJ_ATTN_PREFILL_MMA  // measured on an H100, 2026-12-06: bench/results/2026-12-06-h100-attn-prefill

// "wmma", "mma", "mma64", "mma128", "mma_k32"; NULL for an unknown variant.
const char *lj_attn_prefill_name(int variant);
// The variant of a name; -1 for an unknown one.
int lj_attn_prefill_parse(const char *name);
// The kernel that `variant` runs for a head size: the mma variants run head_dim 64 and 128,
// every other head size runs wmma; "mma" runs mma64 at head_dim 64 and mma128 at 128 (the one
// line to change once measured). -1 for an unknown variant.
int lj_attn_prefill_runs(int variant, int head_dim);

#ifdef __cplusplus
}
#endif
