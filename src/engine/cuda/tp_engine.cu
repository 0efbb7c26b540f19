#include "engine/cuda/tp_engine.h"

#include <stdlib.h>

#include "engine/cuda/cuda_engine_internal.h"
extern "C" {
#include "common/error.h"
}

struct lj_cuda_tp {
  int degree, skip_allreduce;
  lj_tp_comm *comm;
  lj_cuda_engine *ranks[LJ_CUDA_MAX_RANKS];
  lj_cuda_group group;
};

// The all-reduce of delta after o_proj and down: the one place the ranks communicate (the
// all-reduce stages of docs/tensor-parallel.md §3 will call it).
static int tp_allreduce_delta(void *ctx, int n_tokens) {
  lj_cuda_tp *tp = (lj_cuda_tp *)ctx;
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
  tp->group.allreduce_delta = tp_allreduce_delta;
  tp->group.ctx = tp;
  int rc = lj_tp_comm_create(&tp->comm, backend, degree, device);
  for (int r = 0; rc == 0 && r < degree; r++) {
    rc = build(ctx, degree, r, lj_tp_comm_device(tp->comm, r), &tp->ranks[r]);
    if (rc < 0) rc = lj_fail_context(rc, "tensor-parallel rank %d of %d", r, degree);
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
  return lj_cuda_forward_group(tp->ranks, tp->degree, &tp->group, tokens, seq, pos, n, logit_rows, n_logits, logits);
}

int lj_cuda_tp_set_fusion(lj_cuda_tp *tp, int mode) {
  for (int r = 0; r < tp->degree; r++) LJ_TRY(lj_cuda_set_fusion(tp->ranks[r], mode));
  return 0;
}

void lj_cuda_tp_set_skip_allreduce(lj_cuda_tp *tp, int on) { tp->skip_allreduce = on; }
