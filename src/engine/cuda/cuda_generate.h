// Glue between the CUDA engine and the shared generate loop (engine/generate.h):
// an engine built from the model loader's weights, and its forward function.
#pragma once
#include "engine/cpu/cpu_engine.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/tp_engine.h"
#include "model/weights.h"

// max_seqs slots of max_ctx positions; max_tokens per forward call (the longest prefill).
// Weights may be F32, F16 or BF16, tensor by tensor; each becomes bf16 on the device, or with
// weights LJ_WEIGHTS_FP8 each linear layer FP8 (fp8_scale: lj_fp8_scale_mode).
int lj_cuda_engine_from_weights(const lj_weights *w, int weights, int fp8_scale, int max_seqs, int max_ctx,
                                int max_tokens, lj_cuda_engine **out);
// lj_cuda_forward_batch as an lj_forward_fn.
int lj_cuda_forward_fn(void *engine, const lj_batch *b, float *logits);


// The tensor-parallel CUDA engine (tp_engine.h) at `degree` over `backend` (lj_tp_backend): each
// rank built from its slices of the host weights (lj_tp_rank_weights_build), or generated on its
// device (random: every rank the same values as the whole model has there). opt: each rank's
// options (device: loopback's one device; nccl puts rank r on device r). bf16 weights only: FP8
// with tensor parallelism is refused. A degree that does not split the model fails naming the field.
int lj_cuda_tp_from_weights(const lj_weights *w, int degree, int backend, const lj_cuda_options *opt, lj_cuda_tp **out);
int lj_cuda_tp_random(const lj_model_config *c, uint64_t seed, int degree, int backend, const lj_cuda_options *opt,
                      lj_cuda_tp **out);
// lj_cuda_tp_forward_batch as an lj_forward_fn.
int lj_cuda_tp_forward_fn(void *tp, const lj_batch *b, float *logits);
