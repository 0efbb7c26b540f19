#include "engine/cuda/tp_engine.h"

#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"
#include "engine/cuda/tp_arrivals.h"
extern "C" {
#include "common/error.h"
}

struct lj_cuda_tp {
  int degree, skip_allreduce;
  lj_tp_comm *comm;
  lj_cuda_engine *ranks[LJ_CUDA_MAX_RANKS];
  lj_cuda_group group;
  lj_tp_arrivals arrivals;  // this all-reduce's ranks so far (cleared at the end of every group call)
  lj_cuda_batch bs[LJ_CUDA_MAX_RANKS];  // the last lj_cuda_tp_prepare_batch's, one per rank
  int have_batch;
};

// Rank `rank`'s run of an all-reduce stage (attn_allreduce, mlp_allreduce): the one place the
// ranks communicate. The collective is enqueued for every rank when the last one arrives, on each
// rank's stream, in place on delta (the partial sums of o_proj or down).
static int tp_allreduce_rank(void *ctx, int rank, int n_tokens) {
  lj_cuda_tp *tp = (lj_cuda_tp *)ctx;
  int last = lj_tp_arrive(&tp->arrivals, tp->degree, rank, n_tokens);
  if (last <= 0) return last;
  if (tp->skip_allreduce) return 0;
  void *bufs[LJ_CUDA_MAX_RANKS], *streams[LJ_CUDA_MAX_RANKS];
  for (int r = 0; r < tp->degree; r++) bufs[r] = tp->ranks[r]->acts.delta, streams[r] = tp->ranks[r]->stream;
  return lj_tp_comm_allreduce_bf16(tp->comm, bufs, (size_t)n_tokens * (size_t)tp->ranks[0]->cfg.dim, streams);
}

int lj_cuda_tp_create(int degree, int backend, int device, lj_cuda_rank_builder build, void *ctx, lj_cuda_tp **out) {
  *out = NULL;
  if (degree < 1 || degree > LJ_CUDA_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "tensor-parallel degree %d outside 1 .. %d", degree, LJ_CUDA_MAX_RANKS);
  lj_cuda_tp *tp = (lj_cuda_tp *)calloc(1, sizeof *tp);
  if (!tp) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  tp->degree = degree;
  tp->group.allreduce_rank = tp_allreduce_rank;
  tp->group.ctx = tp;
  int rc = lj_tp_comm_create(&tp->comm, backend, degree, device);
  for (int r = 0; rc == 0 && r < degree; r++) {
    rc = build(ctx, degree, r, lj_tp_comm_device(tp->comm, r), &tp->ranks[r]);
    if (rc < 0) rc = lj_fail_context(rc, "tensor-parallel rank %d of %d", r, degree);
    else lj_cuda_engine_join_group(tp->ranks[r], &tp->group, degree, r);
  }
  if (rc < 0) {
    lj_cuda_tp_free(tp);
    return rc;
  }
  *out = tp;
  return 0;
}

void lj_cuda_tp_free(lj_cuda_tp *tp) {
  if (!tp) return;
  for (int r = 0; r < tp->degree; r++) {
    if (!tp->ranks[r]) continue;
    cudaSetDevice(tp->ranks[r]->opt.device);  // its stream and memory live there
    lj_cuda_engine_free(tp->ranks[r]);
  }
  lj_tp_comm_free(tp->comm);
  free(tp);
}

int lj_cuda_tp_degree(const lj_cuda_tp *tp) { return tp->degree; }
lj_cuda_engine *lj_cuda_tp_rank(const lj_cuda_tp *tp, int rank) {
  return rank >= 0 && rank < tp->degree ? tp->ranks[rank] : NULL;
}
const char *lj_cuda_tp_describe(const lj_cuda_tp *tp) { return lj_tp_comm_describe(tp->comm); }

int lj_cuda_tp_forward_batch(lj_cuda_tp *tp, const int32_t *tokens, const int32_t *seq, const int32_t *pos, int n,
                             const int32_t *logit_rows, int n_logits, float *logits) {
  // a rank's failure between two arrivals leaves the others waiting: cleared on every exit
  return lj_tp_arrivals_end(&tp->arrivals, lj_cuda_forward_group(tp->ranks, tp->degree, tokens, seq, pos, n,
                                                                 logit_rows, n_logits, logits));
}

int lj_cuda_tp_sample(lj_cuda_tp *tp, int n_rows, const lj_cuda_sampling *s, int *out_tokens) {
  // rank 0 last: its tokens' copy synchronises its stream alone, the others are already enqueued
  for (int r = tp->degree - 1; r >= 0; r--) {
    CUDA_CHECK(cudaSetDevice(tp->ranks[r]->opt.device));
    LJ_TRY(lj_cuda_sample_tokens(tp->ranks[r], n_rows, s, r == 0 ? out_tokens : NULL));
  }
  return 0;
}

int lj_cuda_tp_set_fusion(lj_cuda_tp *tp, int mode) {
  for (int r = 0; r < tp->degree; r++) LJ_TRY(lj_cuda_set_fusion(tp->ranks[r], mode));
  return 0;
}

void lj_cuda_tp_set_skip_allreduce(lj_cuda_tp *tp, int on) { tp->skip_allreduce = on; }

int lj_cuda_tp_prepare_batch(lj_cuda_tp *tp, int n_seqs, const int *tokens, const int *n_tokens, lj_cuda_batch *b0) {
  tp->have_batch = 0;
  for (int r = 0; r < tp->degree; r++) {
    CUDA_CHECK(cudaSetDevice(tp->ranks[r]->opt.device));
    LJ_TRY(lj_cuda_prepare_batch(tp->ranks[r], n_seqs, tokens, n_tokens, &tp->bs[r]));
  }
  tp->have_batch = 1;
  CUDA_CHECK(cudaSetDevice(tp->ranks[0]->opt.device));
  if (b0) *b0 = tp->bs[0];
  return 0;
}

struct lj_cuda_tp_replay {
  lj_cuda_tp *tp;
  lj_stage order[LJ_STAGE_COUNT];  // what one call runs, in order (one stage: isolation)
  int n, calls, per_layer, average;
  cudaEvent_t ev[LJ_CUDA_MAX_RANKS];  // rank r's end of a launch, on its device (r >= 1)
};

int lj_cuda_tp_replay_create_order(lj_cuda_tp *tp, const lj_stage *order, int n, int calls, lj_cuda_tp_replay **out) {
  *out = NULL;
  if (!tp->have_batch) return LJ_FAIL(LJ_EINVAL, "tensor-parallel replay: no batch (lj_cuda_tp_prepare_batch first)");
  if (n < 1 || n > LJ_STAGE_COUNT || calls < 1)
    return LJ_FAIL(LJ_EINVAL, "tensor-parallel replay of %d stages in %d calls: 1 .. %d stages, >= 1 call", n, calls,
                   LJ_STAGE_COUNT);
  int per_layer = 0;
  for (int j = 0; j < n; j++) {
    lj_stage st = order[j], first = st;
    if ((unsigned)st >= LJ_STAGE_ALL_COUNT)
      return LJ_FAIL(LJ_EINVAL, "tensor-parallel replay of stage %d: not a known stage", (int)st);
    lj_stage_parts(st, &first, NULL);  // a composite is what the forward call runs at its first part
    if (lj_cuda_stage_at(tp->ranks[0], &tp->bs[0], first) != st)
      return LJ_FAIL(LJ_EINVAL, "tensor-parallel replay of stage %s: the ranks' forward call does not run it as itself",
                     lj_stage_name(st));
    if (n > 1 && !lj_stage_is_per_layer(st))
      return LJ_FAIL(LJ_EINVAL, "tensor-parallel replay of an order: stage %s is not one of the layer's",
                     lj_stage_name(st));
    per_layer |= lj_stage_is_per_layer(st);
  }
  lj_cuda_tp_replay *r = (lj_cuda_tp_replay *)calloc(1, sizeof *r);
  if (!r) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  r->tp = tp, r->n = n, r->calls = calls, r->per_layer = per_layer;
  memcpy(r->order, order, sizeof(lj_stage) * (size_t)n);
  r->average = lj_tp_order_averages(order, n);
  for (int k = 1; k < tp->degree; k++) {
    cudaSetDevice(tp->ranks[k]->opt.device);
    cudaError_t err = cudaEventCreateWithFlags(&r->ev[k], cudaEventDisableTiming);
    if (err != cudaSuccess) {
      lj_cuda_tp_replay_free(r);
      return LJ_FAIL(LJ_ECUDA, "tensor-parallel replay: event on rank %d: %s", k, cudaGetErrorString(err));
    }
  }
  cudaSetDevice(tp->ranks[0]->opt.device);
  *out = r;
  return 0;
}

int lj_cuda_tp_replay_create(lj_cuda_tp *tp, lj_stage st, int calls, lj_cuda_tp_replay **out) {
  return lj_cuda_tp_replay_create_order(tp, &st, 1, calls, out);
}

int lj_cuda_tp_replay_launch(lj_cuda_tp_replay *r, int n) {
  lj_cuda_tp *tp = r->tp;
  int L = tp->ranks[0]->cfg.n_layers, rc = 0;
  // An all-reduce replayed alone (or after another, no producer between) averages: a sum would
  // multiply delta by N on every call (lj_tp_order_averages); the same traffic and work.
  if (r->average) lj_tp_comm_set_average(tp->comm, 1);
  for (int k = 0; k < n && rc == 0; k++)
    for (int i = 0; i < r->calls && rc == 0; i++)
      for (int j = 0; j < r->n && rc == 0; j++)
        for (int q = 0; q < tp->degree && rc == 0; q++) {
          if (tp->degree > 1 && cudaSetDevice(tp->ranks[q]->opt.device) != cudaSuccess)
            rc = LJ_FAIL(LJ_ECUDA, "tensor-parallel replay: cudaSetDevice(%d)", tp->ranks[q]->opt.device);
          if (rc == 0) rc = lj_cuda_run_stage(tp->ranks[q], r->order[j], r->per_layer ? i % L : -1, &tp->bs[q], NULL);
        }
  if (r->average) lj_tp_comm_set_average(tp->comm, 0);
  LJ_TRY(lj_tp_arrivals_end(&tp->arrivals, rc));  // a rank's failure mid-layer leaves the others waiting
  for (int q = 1; q < tp->degree; q++) {  // rank 0's stream waits for the others: one synchronize covers all
    CUDA_CHECK(cudaSetDevice(tp->ranks[q]->opt.device));
    CUDA_CHECK(cudaEventRecord(r->ev[q], tp->ranks[q]->stream));
    CUDA_CHECK(cudaSetDevice(tp->ranks[0]->opt.device));
    CUDA_CHECK(cudaStreamWaitEvent(tp->ranks[0]->stream, r->ev[q], 0));
  }
  return 0;
}

int lj_cuda_tp_replay_calls(const lj_cuda_tp_replay *r) { return r->calls; }

void lj_cuda_tp_replay_free(lj_cuda_tp_replay *r) {
  if (!r) return;
  for (int q = 0; q < r->tp->degree; q++) {
    cudaSetDevice(r->tp->ranks[q]->opt.device);
    cudaStreamSynchronize(r->tp->ranks[q]->stream);
    if (q > 0 && r->ev[q]) cudaEventDestroy(r->ev[q]);
  }
  cudaSetDevice(r->tp->ranks[0]->opt.device);
  free(r);
}
