// The FP8 GEMV kernels the engine can run for decode with FP8 weights (gemv_fp8.cu), so that
// bench_engine can measure them side by side on one card. Plain C; built with and without CUDA.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LJ_FP8_GEMV_BASE = 0,  // "base": 256 threads split each row, 8 rows per block (1-2 tokens), 4 otherwise
  LJ_FP8_GEMV_WARP,      // "warp": one warp per 2 rows, 4 chunks per row in flight, no block reduction
  LJ_FP8_GEMV_PIPE,      // "pipe": persistent blocks, the next pass's loads issued before this pass's math
  LJ_FP8_GEMV_SPLITK,    // "splitk": long rows split over a cluster of 2-4 blocks, reduced in shared memory
  LJ_FP8_GEMV_COUNT
} lj_fp8_gemv_variant;

// What the engine runs unless told otherwise: `pipe`, the fastest at batch 1, 4 and 8 on 1B and 8B
// in bench_engine --fp8-gemv all on an H100 (2026-12-06, docs/engine-cuda.md; 70B: a tie with base).
#define LJ_FP8_GEMV_DEFAULT LJ_FP8_GEMV_PIPE

// "base", "warp", "pipe", "splitk"; NULL for an unknown variant.
const char *lj_fp8_gemv_name(int variant);
// The variant of a name; -1 for an unknown one.
int lj_fp8_gemv_parse(const char *name);

#ifdef __cplusplus
}
#endif
