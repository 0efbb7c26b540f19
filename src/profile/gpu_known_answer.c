// The known-answer check on the GPU (--known-answer; docs/attribution.md §2e): a
// calibration copy of a fixed size (lj_cuda_set_calibration) inserted after
// each layer's o_proj, between the attention and the MLP. Per phase (prefill on
// the run's prompt, decode at the middle KV length): the copy alone in long
// windows (the answer), the copy alone at the isolation replay's settings, and
// in rounds the prefix attn_norm .. o_proj and the whole layer, each with and
// without the copy (what sequence and Shapley attribute to it). The copy
// changes no activation, so every replay around it runs on the run's own data.
#include <stdio.h>

#include "profile/gpu_run.h"

#define KNOWN_LONG_FACTOR 3  // the answer's windows: this many times --replay-seconds

static int replay(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_stage *order, int n,
                  lj_stage key_stage, int variant, const char *name, int trial0, int n_trials, double seconds,
                  double duty) {
  lj_gpu_replay_what w = {order[0], order[n - 1], order, n, key_stage, variant, name, 0, NULL, 0, 0, 0};
  return lj_gpu_replay_run(g, ph, &w, kv, b, 0, LJ_METHOD_KNOWN, trial0, n_trials, seconds, duty);
}

static int phase_check(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  const lj_stage cal[1] = {LJ_CUDA_CALIBRATION};
  LJ_TRY(replay(g, ph, kv, b, cal, 1, LJ_STAGE_NONE, LJ_KNOWN_ALONE_LONG, "alone-long", 0, o->trials,
                KNOWN_LONG_FACTOR * o->replay_seconds, 1));
  LJ_TRY(replay(g, ph, kv, b, cal, 1, LJ_STAGE_NONE, LJ_KNOWN_ALONE, "alone", 0, o->trials, o->replay_seconds,
                o->replay_duty));
  lj_gpu_step_done(g);
  enum { N = LJ_LAYER_STAGES, AT = 5 };  // the copy runs after the fifth stage, o_proj
  lj_stage without[N], with[N + 1];
  for (int k = 0; k < N; k++) without[k] = lj_layer_order_stage(0, k);
  for (int k = 0, n = 0; k < N; k++) {
    with[n++] = without[k];
    if (k == AT - 1) with[n++] = LJ_CUDA_CALIBRATION;
  }
  for (int round = 0; round < o->trials; round++) {
    STOP_IF_INTERRUPTED(g);
    double s = o->replay_seconds / 2;
    LJ_TRY(replay(g, ph, kv, b, without, AT, LJ_STAGE_O_PROJ, LJ_KNOWN_WITHOUT, "prefix", round, 1, s, 1));
    LJ_TRY(replay(g, ph, kv, b, with, AT + 1, LJ_STAGE_O_PROJ, LJ_KNOWN_WITH, "prefix+copy", round, 1, s, 1));
    LJ_TRY(replay(g, ph, kv, b, without, N, LJ_STAGE_DOWN, LJ_KNOWN_WITHOUT, "layer", round, 1, s, 1));
    LJ_TRY(replay(g, ph, kv, b, with, N + 1, LJ_STAGE_DOWN, LJ_KNOWN_WITH, "layer+copy", round, 1, s, 1));
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
