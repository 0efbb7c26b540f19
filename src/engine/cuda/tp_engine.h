// The CUDA engine with tensor parallelism (docs/tensor-parallel.md §6): N lj_cuda_engine ranks,
// each holding its rank's slices (model/tp_shard.h), its own KV cache of its KV heads and its
// own activations, driven stage by stage from one host thread; after every layer's o_proj and
// down the ranks' delta (the partial sums of the residual update) is all-reduced in place
// (tp_comm.h: NCCL across GPUs, or loopback on one GPU). Norms, residual, final norm, LM head
// and sampling are replicated: every rank computes the same logits; rank 0's are returned.
// Eager (no CUDA graphs yet). Plain C API; without CUDA every call is LJ_ENODEV.
#pragma once
#include <stdint.h>

#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/tp_comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lj_cuda_tp lj_cuda_tp;

// Builds rank `rank` of `degree` on CUDA device `device` (called once per rank, in rank order).
typedef int (*lj_cuda_rank_builder)(void *ctx, int degree, int rank, int device, lj_cuda_engine **out);

// degree ranks over `backend` (lj_tp_backend); loopback puts every rank on `device`, nccl rank r
// on device r. The communicator is created first, so a missing NCCL fails before any weight moves.
int lj_cuda_tp_create(int degree, int backend, int device, lj_cuda_rank_builder build, void *ctx, lj_cuda_tp **out);
void lj_cuda_tp_free(lj_cuda_tp *tp);
int lj_cuda_tp_degree(const lj_cuda_tp *tp);
lj_cuda_engine *lj_cuda_tp_rank(const lj_cuda_tp *tp, int rank);
// The communicator, in one line (tp_comm.h's lj_tp_comm_describe).
const char *lj_cuda_tp_describe(const lj_cuda_tp *tp);
// lj_cuda_forward_batch over the ranks (same shapes); logits are rank 0's.
int lj_cuda_tp_forward_batch(lj_cuda_tp *tp, const int32_t *tokens, const int32_t *seq, const int32_t *pos, int n,
                             const int32_t *logit_rows, int n_logits, float *logits);
// lj_cuda_set_fusion on every rank.
int lj_cuda_tp_set_fusion(lj_cuda_tp *tp, int mode);
// Tests: 1 skips the all-reduce (each rank keeps its own partial delta), to show that it matters.
void lj_cuda_tp_set_skip_allreduce(lj_cuda_tp *tp, int on);

#ifdef __cplusplus
}
#endif
