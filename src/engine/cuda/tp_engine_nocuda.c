// The tensor-parallel CUDA engine's C API in a build without CUDA: every entry point says so.
#ifndef LLAMAJOULE_HAVE_CUDA
#include <stddef.h>

#include "common/error.h"
#include "engine/cuda/tp_engine.h"

#define NO_CUDA() LJ_FAIL(LJ_ENODEV, "this llamajoule was built without CUDA (nvcc not found at build time)")

int lj_cuda_tp_create(int degree, int backend, int device, lj_cuda_rank_builder build, void *ctx, lj_cuda_tp **out) {
  *out = NULL;
  return NO_CUDA();
}
void lj_cuda_tp_free(lj_cuda_tp *tp) {}
int lj_cuda_tp_degree(const lj_cuda_tp *tp) { return 0; }
lj_cuda_engine *lj_cuda_tp_rank(const lj_cuda_tp *tp, int rank) { return NULL; }
const char *lj_cuda_tp_describe(const lj_cuda_tp *tp) { return ""; }
int lj_cuda_tp_forward_batch(lj_cuda_tp *tp, const int32_t *tokens, const int32_t *seq, const int32_t *pos, int n,
                             const int32_t *logit_rows, int n_logits, float *logits) {
  return NO_CUDA();
}
int lj_cuda_tp_sample(lj_cuda_tp *tp, int n_rows, const lj_cuda_sampling *s, int *out_tokens) { return NO_CUDA(); }
int lj_cuda_tp_set_fusion(lj_cuda_tp *tp, int mode) { return NO_CUDA(); }
void lj_cuda_tp_set_skip_allreduce(lj_cuda_tp *tp, int on) {}
int lj_cuda_tp_prepare_batch(lj_cuda_tp *tp, int n_seqs, const int *tokens, const int *n_tokens, lj_cuda_batch *b0) {
  return NO_CUDA();
}
int lj_cuda_tp_replay_create(lj_cuda_tp *tp, lj_stage stage, int calls, lj_cuda_tp_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_tp_replay_create_order(lj_cuda_tp *tp, const lj_stage *order, int n, int calls, lj_cuda_tp_replay **out) {
  *out = NULL;
  return NO_CUDA();
}
int lj_cuda_tp_replay_launch(lj_cuda_tp_replay *r, int n) { return NO_CUDA(); }
int lj_cuda_tp_replay_calls(const lj_cuda_tp_replay *r) { return 0; }
void lj_cuda_tp_replay_free(lj_cuda_tp_replay *r) {}
#else
typedef int lj_tp_engine_nocuda_unused;  // ISO C forbids an empty translation unit
#endif
