// The layer's rounds on the GPU (prefill, and decode at the middle KV length):
// in each round, the sequence method's prefixes (attn_norm, attn_norm..qkv, ...),
// the whole layer, the layer with each stage left out (leave-one-out: the run's
// order without it, every other stage on its recorded inputs, §2a) and the whole
// layer in the other legal orders (lj_layer_order_stage). All back to back,
// cycling all layers, so the whole layer's mean power is the run's own; a round
// holds everything the Shapley split pairs, measured close in time, in a new
// random order each round (seeded by --seed), so that drift and temperature
// spread over every variant alike. No prefix
// here wraps into the next layer's attn_norm except the whole layer's own
// junction (down -> attn_norm), which the run has. What proves the split
// wrong: its additive check (analyze_shapley.c), the known answer and the ablations.
#include <stdio.h>

#include "profile/gpu_run.h"

#define LJ_GPU_LAYER_ROUND_FRACTION 0.5  // of --replay-seconds: 0.2 s windows by default

static int prep(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_stage *order, int n,
                lj_stage key_stage, lj_profile_method m, int variant, const char *name, double seconds,
                lj_gpu_replay_prep *p) {
  lj_gpu_replay_what w = {order[0], order[n - 1], order, n, key_stage, variant, name, 0, NULL, 0, 0, 0};
  return lj_gpu_replay_prepare(g, ph, &w, kv, b, 0, m, seconds, 1, p);
}

int lj_gpu_layer_rounds(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  // The Shapley rounds hold 24 windows instead of 9: each shorter, so that the default profile
  // keeps its time (docs/cli.md); their energies are the power samples' (windows < 10 s).
  double seconds = o->shapley ? LJ_GPU_LAYER_ROUND_FRACTION * o->replay_seconds : o->replay_seconds;
  // a rank's layer at tensor-parallel degree > 1: the all-reduce stages are players too
  const int deg = g->r->plan.tp_degree, N = lj_layer_stages(deg);
  enum { NMAX = LJ_LAYER_STAGES_TP, MAX = NMAX - 1 + LJ_LAYER_WHOLE_REPEATS + NMAX + LJ_LAYER_ORDERS };
  lj_stage run[NMAX];
  for (int k = 0; k < N; k++) run[k] = lj_layer_order_stage_tp(0, k, deg);
  lj_gpu_replay_prep p[MAX];
  int n = 0, rc = 0;
  // the sequence prefixes attn_norm .. (each stage but the last)
  for (int k = 0; rc == 0 && o->sequence && k < N - 1; k++) {
    lj_gpu_replay_what w = {LJ_STAGE_ATTN_NORM, run[k], NULL, 0, run[k], 0, NULL, 0, NULL, 0, 0, 0};
    if ((rc = lj_gpu_replay_prepare(g, ph, &w, kv, b, 0, LJ_METHOD_SEQUENCE, seconds, 1, &p[n])) == 0) n++;
  }
  if (rc == 0 && !o->shapley) {  // the sequence method's whole layer, as before
    lj_gpu_replay_what w = {run[0], run[N - 1], NULL, 0, run[N - 1], 0, NULL, 0, NULL, 0, 0, 0};
    if ((rc = lj_gpu_replay_prepare(g, ph, &w, kv, b, 0, LJ_METHOD_SEQUENCE, seconds, 1, &p[n])) == 0) n++;
  }
  if (rc == 0 && o->shapley) {
    // the whole layer (LJ_LAYER_WHOLE_REPEATS windows: variants 0 ..), the layer without each stage,
    // the whole layer in the other orders
    for (int j = 0; rc == 0 && j < LJ_LAYER_WHOLE_REPEATS; j++) {
      char name[16];
      snprintf(name, sizeof name, j ? "layer-%d" : "layer", j + 1);
      if ((rc = prep(g, ph, kv, b, run, N, LJ_STAGE_NONE, LJ_METHOD_LOO, j, name, seconds, &p[n])) == 0) n++;
    }
    for (int out = 0; rc == 0 && out < N; out++) {
      lj_stage without[NMAX];
      int m = 0;
      for (int k = 0; k < N; k++)
        if (k != out) without[m++] = run[k];
      char name[48];
      snprintf(name, sizeof name, "without-%s", lj_stage_name(run[out]));
      if ((rc = prep(g, ph, kv, b, without, m, run[out], LJ_METHOD_LOO, 0, name, seconds, &p[n])) == 0) n++;
    }
    for (int v = 1; rc == 0 && v < LJ_LAYER_ORDERS; v++) {
      lj_stage order[NMAX];
      for (int k = 0; k < N; k++) order[k] = lj_layer_order_stage_tp(v, k, deg);
      rc = prep(g, ph, kv, b, order, N, LJ_STAGE_NONE, LJ_METHOD_ORDER, v, lj_layer_order_name(v), seconds, &p[n]);
      if (rc == 0) n++;
    }
  }
  // every round: each of them once, in a new random order (gpu_replay_span.c)
  if (rc == 0) rc = lj_gpu_replay_rounds(g, p, n, o->trials, 1);
  for (int i = 0; i < n; i++) lj_gpu_replay_release(&p[i]);
  return rc;
}
