// The layer's rounds on the GPU (prefill, and decode at the middle KV length):
// in each round, the sequence method's prefixes (attn_norm, attn_norm..qkv, ...),
// the whole layer, the layer with each stage left out (leave-one-out: the run's
// order without it, every other stage on its captured inputs) and the whole
// layer in the other legal orders (lj_layer_order_stage). All back to back,
// cycling all layers, so the whole layer's mean power is the run's own; a round
// holds everything the Shapley split pairs, measured close in time. No prefix
// here wraps into the next layer's attn_norm except the whole layer's own
// junction (down -> attn_norm), which the run has. What proves the split
// wrong: its additive check (analyze_shapley.c), the known answer and the ablations.
#include <stdio.h>

#include "profile/gpu_run.h"

#define LJ_GPU_LAYER_ROUND_FRACTION 0.4  // of --replay-seconds: 0.8 s windows by default

static int one(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_stage *order, int n,
               lj_stage key_stage, lj_profile_method m, int variant, const char *name, int round, double seconds) {
  lj_gpu_replay_what w = {order[0], order[n - 1], order, n, key_stage, variant, name, 0, NULL, 0};
  return lj_gpu_replay_run(g, ph, &w, kv, b, 0, m, round, 1, seconds, 1);
}

int lj_gpu_layer_rounds(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  // The Shapley rounds hold 20 windows instead of 9: each shorter, so that the default profile
  // keeps its time (docs/cli.md); the counter's quantisation then widens the intervals.
  double seconds = o->shapley ? LJ_GPU_LAYER_ROUND_FRACTION * o->replay_seconds : o->replay_seconds;
  enum { N = LJ_LAYER_STAGES };
  lj_stage run[N];
  for (int k = 0; k < N; k++) run[k] = lj_layer_order_stage(0, k);
  for (int round = 0; round < o->trials; round++) {
    for (int k = 0; o->sequence && k < N - 1; k++) {
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(lj_gpu_replay_span(g, ph, LJ_STAGE_ATTN_NORM, run[k], kv, b, 0, LJ_METHOD_SEQUENCE, round, 1, seconds, 1));
    }
    STOP_IF_INTERRUPTED(g);
    if (!o->shapley) {  // the sequence method's whole layer, as before
      LJ_TRY(lj_gpu_replay_span(g, ph, LJ_STAGE_ATTN_NORM, LJ_STAGE_DOWN, kv, b, 0, LJ_METHOD_SEQUENCE, round, 1,
                                seconds, 1));
      lj_gpu_step_done(g);
      continue;
    }
    LJ_TRY(one(g, ph, kv, b, run, N, LJ_STAGE_COUNT, LJ_METHOD_LOO, 0, "layer", round, seconds));
    for (int out = 0; out < N; out++) {
      STOP_IF_INTERRUPTED(g);
      lj_stage without[N - 1];
      int n = 0;
      for (int k = 0; k < N; k++)
        if (k != out) without[n++] = run[k];
      char name[48];
      snprintf(name, sizeof name, "without-%s", lj_stage_name(run[out]));
      LJ_TRY(one(g, ph, kv, b, without, n, run[out], LJ_METHOD_LOO, 0, name, round, seconds));
    }
    for (int v = 1; v < LJ_LAYER_ORDERS; v++) {
      STOP_IF_INTERRUPTED(g);
      lj_stage order[N];
      for (int k = 0; k < N; k++) order[k] = lj_layer_order_stage(v, k);
      LJ_TRY(one(g, ph, kv, b, order, N, LJ_STAGE_COUNT, LJ_METHOD_ORDER, v, lj_layer_order_name(v), round, seconds));
    }
    lj_gpu_step_done(g);
  }
  return 0;
}
