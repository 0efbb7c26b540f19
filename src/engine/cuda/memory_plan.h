// Device-memory plan of the CUDA engine, computed before any allocation, so a
// model, batch or context that does not fit is refused up front (plain C: no
// GPU needed to compute or test it).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/weight_format.h"
#include "model/config.h"

typedef struct {
  int64_t weights;      // all matrices and norms, bf16 (tied lm_head counted once); with FP8
                        // weights the linear layers at 1 byte + one fp32 scale per output row
  int64_t kv_cache;     // 2 (K, V) x layers x batch x context x kv_dim x bf16
  int64_t activations;  // per-token buffers for the largest forward call, logits, batch state
                        // (FP8: + the quantised activations of a prefill GEMM and their scales)
  int64_t workspace;    // cuBLASLt workspace + attention scratch
  int64_t total;
  int64_t per_sequence; // what one more sequence adds (KV cache + its activations)
} lj_cuda_memory_plan;

#define LJ_CUDA_GEMM_WORKSPACE (32ll << 20)
// Linear-layer parameters of the model (all layers: q, k, v, o, gate, up, down) and their
// output rows (the FP8 scales).
int64_t lj_cuda_linear_params(const lj_model_config *c);
int64_t lj_cuda_linear_rows(const lj_model_config *c);
// Bytes of the weights in this format (plan.weights).
int64_t lj_cuda_weight_storage_bytes(const lj_model_config *c, int weights);

#define LJ_CUDA_MEMORY_MARGIN (512ll << 20)  // CUDA context, cuBLASLt kernels, graphs

// max_tokens: the most tokens one forward call processes (prefill chunk).
// weights: lj_weight_format.
void lj_cuda_memory_plan_compute(const lj_model_config *c, int weights, int max_batch, int max_ctx,
                                 int max_tokens, lj_cuda_memory_plan *p);

// Largest batch b (>= 0) whose plan fits in free_bytes, with fixed_tokens + b x tokens_per_seq
// tokens per forward call (a batched prefill grows with b; bench_engine's fixed chunk does not).
int lj_cuda_memory_plan_max_batch(const lj_model_config *c, int weights, int max_ctx, int fixed_tokens,
                                  int tokens_per_seq,
                                  int64_t free_bytes);

// Prints the plan as a small table to stderr.
void lj_cuda_memory_plan_print(const lj_model_config *c, int weights, int max_batch, int max_ctx, int max_tokens,
                               const lj_cuda_memory_plan *p, int64_t free_bytes);

// 0 when it fits in free_bytes (LJ_CUDA_MEMORY_MARGIN kept aside); else LJ_ENOMEM with a
// message naming the largest batch that would fit at the same tokens per sequence
// (max_tokens / max_batch, rounded up).
int lj_cuda_memory_plan_check(const lj_model_config *c, int weights, int max_batch, int max_ctx, int max_tokens,
                              const lj_cuda_memory_plan *p, int64_t free_bytes);

#ifdef __cplusplus
}
#endif
