// Each decoder layer replayed alone (--per-layer; docs/attribution.md §2f): the
// whole layer, its stages in the run's order, every call on that layer's own
// weights and on that layer's own input, captured in a real forward call of the
// phase's state (lj_cuda_layer_inputs_capture) and restored before every call.
// Trials of LJ_GPU_LAYER_TRIAL_S, whose energy comes from the power samples
// (§1b), after a short pre-roll. Each round runs every layer once, in a new
// random order (seeded by --seed), so drift spreads over all layers alike.
// Prefill on the prompt's state, decode at the middle replayed KV length. Then each stage of each layer alone on the same inputs
// (gpu_layer_stages.c). What proves it wrong: with random weights the layers
// must agree (lj_layer_agreement_compute); the layer-skip check against the run.
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "profile/gpu_run.h"

#define LJ_GPU_LAYER_TRIAL_S 0.3
// The captured inputs held at once (one phase's): 1B, 128 tokens: 17 MiB; 70B, 2048 tokens: 5.1 GiB.
#define LJ_GPU_LAYER_INPUTS_MAX_BYTES ((int64_t)2 << 30)

// What skipping the last layer changes in the head (the layer-skip check's last layer, §2f): the
// final norm and the LM head replayed on the last layer's own input (variant 1: their input when that
// layer is a no-op) and on their input in the run (variant 0), in interleaved rounds; trials filed
// under the last layer, stage lm_head.
static int head_change(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_cuda_layer_inputs *in) {
  int n_layers = g->r->plan.config.n_layers, n = 0, rc = 0;
  if (n_layers < 2) return 0;  // one layer: its skip leaves the final norm no delta to add
  lj_gpu_replay_prep p[2];
  for (int v = 0; v < 2 && rc == 0; v++) {
    char name[32];
    snprintf(name, sizeof name, "head-on-slot-%d", n_layers - v);
    lj_gpu_replay_what w = {LJ_STAGE_FINAL_NORM, LJ_STAGE_LM_HEAD, NULL, 0, LJ_STAGE_LM_HEAD, v, name, n_layers, in, 1,
                            1 + n_layers - v, 0};
    rc = lj_gpu_replay_prepare(g, ph, &w, kv, b, 0, LJ_METHOD_LAYER, LJ_GPU_LAYER_TRIAL_S, 1, &p[n]);
    if (rc == 0) n++;
  }
  if (rc == 0) rc = lj_gpu_replay_rounds(g, p, n, g->o->trials, 0);
  for (int i = 0; i < n; i++) lj_gpu_replay_release(&p[i]);
  return rc;
}

// secs[0] += seconds of the layers alone, secs[1] += of the layers x stages (the run's notes say them).
static int phase_layers(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, const lj_cuda_layer_inputs *in,
                        double secs[2]) {
  int64_t t0 = lj_mono_ns();
  const lj_profile_options *o = g->o;
  enum { N = LJ_LAYER_STAGES };
  lj_stage run[N];
  for (int k = 0; k < N; k++) run[k] = lj_layer_order_stage(0, k);
  int n_layers = g->r->plan.config.n_layers, n = 0, rc = 0;
  lj_gpu_replay_prep *p = malloc(sizeof *p * (size_t)n_layers);
  if (!p) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  for (int L = 0; rc == 0 && L < n_layers; L++) {
    char name[32];
    snprintf(name, sizeof name, "layer-%d", L);
    lj_gpu_replay_what w = {run[0], run[N - 1], run, N, LJ_STAGE_NONE, 0, name, L + 1, in, 1, 0, 0};
    rc = lj_gpu_replay_prepare(g, ph, &w, kv, b, 0, LJ_METHOD_LAYER, LJ_GPU_LAYER_TRIAL_S, 1, &p[n]);
    if (rc == 0) n++;
  }
  // every round: each layer once, in a new random order (gpu_replay_span.c)
  if (rc == 0) rc = lj_gpu_replay_rounds(g, p, n, o->trials, 1);
  for (int i = 0; i < n; i++) lj_gpu_replay_release(&p[i]);
  free(p);
  LJ_TRY(rc);
  LJ_TRY(head_change(g, ph, kv, b, in));
  int64_t t1 = lj_mono_ns();
  secs[0] += (double)(t1 - t0) * 1e-9;
  rc = o->layer_stages ? lj_gpu_layer_stages(g, ph, kv, b, in) : 0;
  secs[1] += (double)(lj_mono_ns() - t1) * 1e-9;
  return rc;
}

// The phase's layers on the inputs captured from the state b describes.
static int phase(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b, double secs[2]) {
  lj_cuda_layer_inputs *in = NULL;
  int rc = lj_cuda_layer_inputs_capture(g->e, b, LJ_GPU_LAYER_INPUTS_MAX_BYTES, &in);
  if (rc == LJ_EINVAL || rc == LJ_ENOMEM) {  // too many tokens for the limit, or no memory: the rest goes on
    lj_profile_note(g->r, "No per-layer replay of %s: %s.", lj_phase_name(ph), lj_error_message());
    return 0;
  }
  LJ_TRY(rc);
  rc = phase_layers(g, ph, kv, b, in, secs);
  lj_cuda_layer_inputs_free(in);
  return rc;
}

int lj_gpu_layers(gpu_run *g) {
  double secs[2] = {0, 0};
  lj_cuda_batch b;
  LJ_TRY(lj_gpu_prefill_state(g, &b));
  LJ_TRY(phase(g, LJ_PHASE_PREFILL, 0, &b, secs));
  const lj_profile_plan *p = &g->r->plan;
  int64_t kv = p->decode_kv[p->n_decode_kv / 2];
  // each layer's replay lists its nine simple stages: not what the fused decode runs
  if (!lj_gpu_fused(g)) LJ_TRY(lj_gpu_decode_state_at(g, kv, &b));
  if (!lj_gpu_fused(g)) LJ_TRY(phase(g, LJ_PHASE_DECODE, kv, &b, secs));
  lj_profile_note(g->r, "--per-layer: each layer alone took %.0f s, the layers x stages %.0f s.", secs[0], secs[1]);
  return 0;
}
