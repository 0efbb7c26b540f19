// Glue between the CUDA engine and the shared generate loop (engine/generate.h):
// an engine built from the model loader's weights, and its forward function.
#pragma once
#include "engine/cpu/cpu_engine.h"
#include "engine/cuda/cuda_engine.h"
#include "model/weights.h"

// max_seqs slots of max_ctx positions; max_tokens per forward call (the longest prefill).
// Weights may be F32, F16 or BF16, tensor by tensor; each becomes bf16 on the device, or with
// weights LJ_WEIGHTS_FP8 each linear layer FP8 (fp8_scale: lj_fp8_scale_mode).
int lj_cuda_engine_from_weights(const lj_weights *w, int weights, int fp8_scale, int max_seqs, int max_ctx,
                                int max_tokens, lj_cuda_engine **out);
// lj_cuda_forward_batch as an lj_forward_fn.
int lj_cuda_forward_fn(void *engine, const lj_batch *b, float *logits);

