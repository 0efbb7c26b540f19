// `llamajoule generate --device cuda` on the engine's fast path.
#pragma once
#include "engine/cuda/cuda_engine.h"
#include "engine/generate.h"

// `generate` on the engine's fast path: the prompts prefilled in one ragged batch, then
// every decode step one CUDA graph replay with sampling on the GPU (lj_cuda_generate),
// in chunks so that generation stops once every sequence has emitted a stop token (the
// batch keeps its shape until then; tokens after a sequence's stop are dropped).
// Tokens follow the GPU sampler's stream (seed, step, row): greedy equals the host
// loop's, sampled tokens differ from the CPU engine's. o->dump_logits must be NULL (the
// logits never leave the GPU; lj_generate with lj_cuda_forward_fn dumps them).
int lj_cuda_generate_fast(lj_cuda_engine *e, const int32_t *const *prompts, const int *prompt_lens, int n_seqs,
                          const lj_generate_opts *o, lj_generate_result *r);
