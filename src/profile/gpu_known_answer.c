// The known-answer check on the GPU (--known-answer; docs/attribution.md §2e): a
// calibration copy (lj_cuda_set_calibration; its size by the plan) inserted after
// each layer's o_proj, between the attention and the MLP. Per phase (prefill on
// the run's prompt, decode at the middle KV length): the copy alone in long
// windows (the answer), the copy alone at the isolation replay's settings, and
// the prefix attn_norm .. o_proj and the whole layer, each with and without the
// copy (what sequence and Shapley attribute to it), all six in each round in a
// random order. The copy changes no activation, so every replay around it runs
// on the run's own data.
#include <stdio.h>

#include "profile/gpu_run.h"

#define KNOWN_LONG_FACTOR 3  // the answer's windows: this many times --replay-seconds

static int replay(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_stage *order, int n,
                  lj_stage key_stage, int variant, const char *name, int trial0, int n_trials, double seconds,
                  double duty) {
  lj_gpu_replay_what w = {order[0], order[n - 1], order, n, key_stage, variant, name, 0, NULL, 0, 0, 0};
  return lj_gpu_replay_run(g, ph, &w, kv, b, 0, LJ_METHOD_KNOWN, trial0, n_trials, seconds, duty);
}

// One window of a round: what replay() takes.
typedef struct {
  const lj_stage *order;
  int n;
  lj_stage key;
  int variant;
  const char *name;
  double seconds, duty;
} known_window;

// Per round, the six windows (the answer, the copy at isolation's settings, the prefix and the
// layer each without and with the copy) in an order drawn from the run's seed: a drift in power
// or temperature over the rounds falls on every estimate alike, not on whichever ran last.
static int phase_check(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  static const lj_stage cal[1] = {LJ_CUDA_CALIBRATION};
  enum { N = LJ_LAYER_STAGES, AT = 5, W = 6 };  // the copy runs after the fifth stage, o_proj
  lj_stage without[N], with[N + 1];
  for (int k = 0; k < N; k++) without[k] = lj_layer_order_stage(0, k);
  for (int k = 0, n = 0; k < N; k++) {
    with[n++] = without[k];
    if (k == AT - 1) with[n++] = LJ_CUDA_CALIBRATION;
  }
  double s = o->replay_seconds / 2;
  const known_window win[W] = {
      {cal, 1, LJ_STAGE_NONE, LJ_KNOWN_ALONE_LONG, "alone-long", KNOWN_LONG_FACTOR * o->replay_seconds, 1},
      {cal, 1, LJ_STAGE_NONE, LJ_KNOWN_ALONE, "alone", o->replay_seconds, o->replay_duty},
      {without, AT, LJ_STAGE_O_PROJ, LJ_KNOWN_WITHOUT, "prefix", s, 1},
      {with, AT + 1, LJ_STAGE_O_PROJ, LJ_KNOWN_WITH, "prefix+copy", s, 1},
      {without, N, LJ_STAGE_DOWN, LJ_KNOWN_WITHOUT, "layer", s, 1},
      {with, N + 1, LJ_STAGE_DOWN, LJ_KNOWN_WITH, "layer+copy", s, 1}};
  for (int round = 0; round < o->trials; round++) {
    STOP_IF_INTERRUPTED(g);
    int perm[W];
    for (int i = 0; i < W; i++) perm[i] = i;
    for (int i = W - 1; i > 0; i--) {  // Fisher-Yates
      int j = (int)(lj_gpu_uniform01(g) * (i + 1));
      int t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < W; i++) {
      const known_window *w = &win[perm[i]];
      LJ_TRY(replay(g, ph, kv, b, w->order, w->n, w->key, w->variant, w->name, round, 1, w->seconds, w->duty));
    }
    if (round == 0) lj_gpu_step_done(g);
  }
  lj_gpu_step_done(g);
  return 0;
}

int lj_gpu_known_answer(gpu_run *g) {
  const lj_profile_plan *p = &g->r->plan;
  LJ_TRY(lj_cuda_set_calibration(g->e, p->known_answer_bytes));
  lj_cuda_batch b;
  int rc = lj_gpu_prefill_state(g, &b);
  if (rc == 0) rc = phase_check(g, LJ_PHASE_PREFILL, 0, &b);
  int64_t kv = p->decode_kv[p->n_decode_kv / 2];
  // its layer lists the nine simple stages: in the fused mode, not the decode's layer
  if (rc == 0 && !lj_gpu_fused(g)) rc = lj_gpu_decode_state_at(g, kv, &b);
  if (rc == 0 && !lj_gpu_fused(g)) rc = phase_check(g, LJ_PHASE_DECODE, kv, &b);
  int off = lj_cuda_set_calibration(g->e, 0);
  return rc < 0 ? rc : off;
}
