// The CUDA engine with tensor parallelism (docs/tensor-parallel.md §6): N lj_cuda_engine ranks,
// each holding its rank's slices (model/tp_shard.h), its own KV cache of its KV heads and its
// own activations, driven stage by stage from one host thread; each layer's stages
// attn_allreduce and mlp_allreduce (after o_proj and down) all-reduce the ranks' delta (the partial
// sums of the residual update) in place (tp_comm.h: NCCL across GPUs, or loopback on one GPU):
// every rank runs the stage (lj_cuda_run_stage), and the last rank's run enqueues the collective.
// Norms, residual, final norm, LM head and sampling are replicated: every rank computes the same
// logits; rank 0's are returned.
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
// lj_cuda_forward_batch over the ranks (same shapes); logits are rank 0's (NULL: left on the devices).
int lj_cuda_tp_forward_batch(lj_cuda_tp *tp, const int32_t *tokens, const int32_t *seq, const int32_t *pos, int n,
                             const int32_t *logit_rows, int n_logits, float *logits);
// The sample stage on every rank, as the single-GPU decode step runs it: each rank samples n_rows
// tokens from its own logits on its GPU (lj_cuda_sample_tokens; replicated, like the LM head), and
// rank 0's come back to out_tokens (NULL: none copied).
int lj_cuda_tp_sample(lj_cuda_tp *tp, int n_rows, const lj_cuda_sampling *s, int *out_tokens);
// lj_cuda_set_fusion on every rank.
int lj_cuda_tp_set_fusion(lj_cuda_tp *tp, int mode);
// Stage by stage (the profile's replays; docs/tensor-parallel.md §4). Prepares every rank's batch
// (lj_cuda_prepare_batch on each) and keeps them for the group's replays; b0 receives rank 0's.
int lj_cuda_tp_prepare_batch(lj_cuda_tp *tp, int n_seqs, const int *tokens, const int *n_tokens, lj_cuda_batch *b0);
// A replay of one stage (as the ranks' forward call runs it: a composite in place of its parts)
// on every rank together, `calls` calls (per-layer stages cycle
// through the layers, as lj_cuda_replay_create), on the batches of the last lj_cuda_tp_prepare_batch.
// Eager, not a CUDA graph: each launch enqueues calls x ranks stages from the host, the all-reduce
// stages joining the ranks, and ends with rank 0's stream waiting for every rank's, so that
// lj_cuda_synchronize of rank 0 waits for the whole launch.
typedef struct lj_cuda_tp_replay lj_cuda_tp_replay;
int lj_cuda_tp_replay_create(lj_cuda_tp *tp, lj_stage stage, int calls, lj_cuda_tp_replay **out);
// The same for n stages of the layer in the given order (the Shapley rounds' whole layer, the layer
// without one stage, another order), each call every stage of one layer on every rank, the calls
// cycling through the layers (as lj_cuda_replay_create_order on one GPU).
int lj_cuda_tp_replay_create_order(lj_cuda_tp *tp, const lj_stage *order, int n, int calls, lj_cuda_tp_replay **out);
// 1 when a replay of `order` must average its all-reduces (lj_tp_comm_set_average): an all-reduce
// that meets delta already reduced, with neither o_proj nor down between them round the cycle,
// multiplies it by N. Alone it does so on every call and reaches inf; in the layer without o_proj
// or down, or the interleaved order, delta stays bounded (another stage rewrites it each cycle) but
// at up to N^2 times the run's values. Averaging keeps the run's values at the same traffic; NCCL's
// average is a sum with a scale folded in, so these windows run a slightly different collective
// from the whole layer's they are compared with. An order whose every all-reduce follows its
// producer sums, as the run does. Host code, in every build (tp_replay_order.c).
int lj_tp_order_averages(const lj_stage *order, int n);
int lj_cuda_tp_replay_launch(lj_cuda_tp_replay *r, int n);
int lj_cuda_tp_replay_calls(const lj_cuda_tp_replay *r);
void lj_cuda_tp_replay_free(lj_cuda_tp_replay *r);
// Tests: 1 skips the all-reduce (each rank keeps its own partial delta), to show that it matters.
void lj_cuda_tp_set_skip_allreduce(lj_cuda_tp *tp, int on);

#ifdef __cplusplus
}
#endif
