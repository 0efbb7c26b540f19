// The replay harness every replay method shares: a CUDA graph of one stage (or
// of a span of the layer's stages) on the run's real activations and KV
// length, cycling through all layers' weights, launched for --replay-seconds
// per trial inside one meter window, after a pre-roll of random length (so
// windows start at random points of the counter's 100 ms grid). With a duty
// below 1 it runs in ~2 ms bursts with idle gaps. What proves the harness
// wrong: the whole layer replayed against the measured phase (the sequence
// closure), and the replayed time per call against the in-situ time
// (time_ratio far from 1: the replay did not run like the real run).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "engine/cuda/device_memory.h"
#include "profile/gpu_run.h"

// n launches of p's replay: its graph, or the tensor-parallel ranks' (whose launch ends with rank 0's
// stream, g->e's, waiting for every rank).
static int launch(const lj_gpu_replay_prep *p, int n) {
  return p->trp ? lj_cuda_tp_replay_launch(p->trp, n) : lj_cuda_replay_launch(p->rp, n);
}

static int timed_launches(gpu_run *g, const lj_gpu_replay_prep *p, int n, double *seconds) {
  LJ_TRY(lj_cuda_synchronize(g->e));
  int64_t t0 = lj_mono_ns();
  LJ_TRY(launch(p, n));
  LJ_TRY(lj_cuda_synchronize(g->e));
  *seconds = (double)(lj_mono_ns() - t0) * 1e-9;
  return 0;
}

int lj_gpu_keep_trial(gpu_run *g, int h, const lj_profile_trial *tr) {
  int *hs = realloc(g->trial_handles, sizeof(int) * (g->r->n_trials + 1));
  if (!hs) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  g->trial_handles = hs;
  hs[g->r->n_trials] = h;
  return lj_profile_add_trial(g->r, tr);
}

// Launches of rp at `duty`: back to back, `launches` of them (duty 1); or bursts of
// `burst` launches, each followed by gap_ns idle, for `seconds`. Counts what it did.
static int play(gpu_run *g, const lj_gpu_replay_prep *rp, double duty, int launches, double seconds, int burst,
                int64_t gap_ns, int64_t *done, int64_t *gap_ns_total) {
  if (duty >= 1) {
    LJ_TRY(launch(rp, launches));
    LJ_TRY(lj_cuda_synchronize(g->e));
    *done += launches;
    return 0;
  }
  int64_t t0 = lj_mono_ns();
  while ((double)(lj_mono_ns() - t0) < seconds * 1e9) {
    LJ_TRY(launch(rp, burst));
    LJ_TRY(lj_cuda_synchronize(g->e));
    *done += burst;
    int64_t a = lj_mono_ns();
    lj_sleep_ns(gap_ns);
    *gap_ns_total += lj_mono_ns() - a;
  }
  return 0;
}

// Replays the stages first .. last on batch b (one stage: isolation; a span of the
// layer: a sequence-replay prefix): a graph of enough calls to run >= 2 ms, launched
// for `seconds` per trial at `duty`, n_trials windows (numbered from trial0), each
// after a pre-roll of random length.
int lj_gpu_replay_span(gpu_run *g, lj_phase ph, lj_stage first, lj_stage last, int64_t kv, const lj_cuda_batch *b,
                       int groups, lj_profile_method method, int trial0, int n_trials, double seconds, double duty) {
  lj_gpu_replay_what w = {first, last, NULL, 0, last, 0, NULL, 0, NULL, 0, 0, 0};
  return lj_gpu_replay_run(g, ph, &w, kv, b, groups, method, trial0, n_trials, seconds, duty);
}

static int create(gpu_run *g, const lj_gpu_replay_what *w, int64_t kv, int groups, const lj_cuda_batch *b, int calls,
                  lj_gpu_replay_prep *p) {
  lj_cuda_replay **rp = &p->rp;
  if (g->tp) {  // the ranks: one stage alone (isolation), or an order of the layer's (the Shapley rounds)
    if (w->in || w->grid_batch > 0 || w->one_layer > 0 || (!w->order && w->first != w->last))
      return LJ_FAIL(LJ_EUNSUPPORTED, "profile with --tp on the GPU: the ranks replay one stage alone or an order of "
                     "the layer's stages, not a span, one layer or captured inputs");
    if (w->order) return lj_cuda_tp_replay_create_order(g->tp, w->order, w->n, calls, &p->trp);
    return lj_cuda_tp_replay_create(g->tp, w->first, calls, &p->trp);
  }
  if (w->grid_batch > 0) return lj_cuda_replay_create_attn_grid(g->e, w->grid_batch, (int)kv, groups, calls, rp);
  if (w->in && w->head > 0) return lj_cuda_replay_create_head_input(g->e, w->head - 1, w->in, b, calls, rp);
  if (w->in && w->one_layer > 0 && !w->order)
    return lj_cuda_replay_create_layer_stage(g->e, w->key_stage, w->one_layer - 1, w->in, b, calls, rp);
  if (w->in && w->one_layer > 0)
    return lj_cuda_replay_create_layer_input(g->e, w->order, w->n, w->one_layer - 1, w->in, b, calls, rp);
  if (w->order && w->one_layer > 0)
    return lj_cuda_replay_create_layer(g->e, w->order, w->n, w->one_layer - 1, b, calls, rp);
  if (w->order) return lj_cuda_replay_create_order(g->e, w->order, w->n, b, calls, rp);
  return lj_cuda_replay_create_span(g->e, w->first, w->last, b, calls, rp);
}

int lj_gpu_replay_prepare(gpu_run *g, lj_phase ph, const lj_gpu_replay_what *w, int64_t kv, const lj_cuda_batch *b,
                          int groups, lj_profile_method method, double seconds, double duty, lj_gpu_replay_prep *p) {
  memset(p, 0, sizeof *p);
  p->w = *w;
  if (w->order) {  // kept: the caller's array may not outlive it
    int cap = (int)(sizeof p->order / sizeof p->order[0]);  // the known answer's layer + copy: 10
    if (w->n < 1 || w->n > cap) return LJ_FAIL(LJ_EINVAL, "replay of %d stages: expected 1 .. %d", w->n, cap);
    for (int k = 0; k < w->n; k++) p->order[k] = w->order[k];
    p->w.order = p->order;
  }
  if (w->name) snprintf(p->name, sizeof p->name, "%s", w->name), p->w.name = p->name;
  p->ph = ph, p->kv = kv, p->groups = groups, p->method = method, p->seconds = seconds;
  int L = g->r->plan.config.n_layers, per_layer = w->order || lj_stage_is_per_layer(w->first);
  if ((w->in && w->one_layer > 0) || w->grid_batch > 0) per_layer = 0;  // one layer, the grid: any number of calls
  int calls = per_layer ? L : 4;
  LJ_TRY(create(g, &p->w, kv, groups, b, calls, p));
  double t = 0;
  int rc = timed_launches(g, p, 1, &t);
  if (rc == 0) {
    double per_call = t / calls;
    int want = (int)ceil(2e-3 / (per_call > 0 ? per_call : 1e-6));
    if (per_layer) want = (want + L - 1) / L * L;
    // the attention grid: a call for every copy of its K and V, so that the graph cycles through them all
    if (w->grid_batch > 0 && want < lj_cuda_replay_weight_copies(p->rp)) want = lj_cuda_replay_weight_copies(p->rp);
    int cap = per_layer ? (4096 / L) * L : 4096;
    if (want > cap) want = cap;
    if (want > calls) {
      lj_gpu_replay_release(p);
      calls = want;
      rc = create(g, &p->w, kv, groups, b, calls, p);
    }
  }
  if (rc == 0) rc = timed_launches(g, p, 3, &t);
  if (rc < 0) {
    lj_gpu_replay_release(p);
    return rc;
  }
  p->calls = calls;
  p->per_launch = t / 3 > 1e-7 ? t / 3 : 1e-7;
  p->launches = (int)ceil(seconds / p->per_launch);
  if (p->launches < 1) p->launches = 1;
  // Duty below 1: bursts of ~2 ms, each followed by an idle gap, so that the mean
  // power stays near the real run's instead of sitting at the power cap.
  p->duty = duty > 0 && duty < 1 ? duty : 1;
  p->burst = (int)ceil(2e-3 / p->per_launch);
  if (p->burst < 1) p->burst = 1;
  p->gap_ns = (int64_t)(p->burst * p->per_launch * (1 - p->duty) / p->duty * 1e9);
  return 0;
}

void lj_gpu_replay_release(lj_gpu_replay_prep *p) {
  lj_cuda_replay_free(p->rp);
  lj_cuda_tp_replay_free(p->trp);
  p->rp = NULL, p->trp = NULL;
}

int lj_gpu_replay_trial(gpu_run *g, lj_gpu_replay_prep *p, int k) {
  const lj_gpu_replay_what *w = &p->w;
  // Pre-roll of the same pattern, its length random over one update of the counter
  // so that the window's start falls at a random point of the counter's 100 ms grid (short
  // trials read from the samples: of one sample period, after a shorter pre-roll).
  double grid_s = w->short_preroll ? LJ_GPU_SAMPLE_PERIOD_S : LJ_GPU_COUNTER_PERIOD_S;
  int64_t offset = (int64_t)(lj_gpu_uniform01(g) * grid_s * 1e9), pre_done = 0, pre_gap = 0;
  double pre_s = (w->short_preroll ? LJ_GPU_SHORT_PREROLL_S : LJ_GPU_REPLAY_PREROLL_S) + (double)offset * 1e-9;
  // By the clock, not a launch count: launches timed at prepare run up to ~13% faster later, and a
  // pre-roll shorter than one counter period would let the begin read reach back before it.
  int64_t pre_t0 = lj_mono_ns();
  for (double left = pre_s; left > 0; left = pre_s - (double)(lj_mono_ns() - pre_t0) * 1e-9)
    LJ_TRY(play(g, p, p->duty, (int)ceil(left / p->per_launch), left, p->burst, p->gap_ns, &pre_done, &pre_gap));
  char name[96];
  if (w->name)
    snprintf(name, sizeof name, "%s:%s:%s#%d", lj_profile_method_name(p->method), lj_phase_name(p->ph), w->name, k);
  else if (p->method == LJ_METHOD_SEQUENCE)
    snprintf(name, sizeof name, "sequence:%s:%s..%s#%d", lj_phase_name(p->ph), lj_stage_name(w->first),
             lj_stage_name(w->last), k);
  else
    snprintf(name, sizeof name, "replay:%s:%s:%lld:g%d#%d", lj_phase_name(p->ph), lj_stage_name(w->last),
             (long long)p->kv, p->groups, k);
  int h = lj_profile_meter_begin(&g->m, name);  // play() synchronised: the pre-roll is done
  if (h < 0) return h;
  int64_t done = 0, gap_ns_total = 0;
  int rc = play(g, p, p->duty, p->launches, p->seconds, p->burst, p->gap_ns, &done, &gap_ns_total);
  int erc = lj_profile_meter_end(&g->m, h);
  if (rc == 0) rc = erc;
  if (rc < 0) return rc;
  lj_profile_trial tr;
  memset(&tr, 0, sizeof tr);
  tr.key.phase = p->ph, tr.key.stage = w->key_stage, tr.key.layer = w->one_layer - 1, tr.key.kv_len = p->kv;
  tr.trial = k, tr.groups = p->groups, tr.method = p->method, tr.variant = w->variant, tr.batch = w->grid_batch;
  tr.t.gap_s = (double)gap_ns_total * 1e-9;
  tr.t.calls = done * p->calls;
  tr.t.temperature_c = lj_profile_meter_temperature(&g->m);
  tr.t.start_offset_ns = offset;
  tr.t.idle_w = g->m.idle_w;
  return lj_gpu_keep_trial(g, h, &tr);
}

int lj_gpu_replay_run(gpu_run *g, lj_phase ph, const lj_gpu_replay_what *w, int64_t kv, const lj_cuda_batch *b,
                      int groups, lj_profile_method method, int trial0, int n_trials, double seconds, double duty) {
  lj_gpu_replay_prep p;
  LJ_TRY(lj_gpu_replay_prepare(g, ph, w, kv, b, groups, method, seconds, duty, &p));
  int rc = 0;
  for (int k = trial0; rc == 0 && k < trial0 + n_trials && !lj_gpu_interrupted(g); k++) rc = lj_gpu_replay_trial(g, &p, k);
  lj_gpu_replay_release(&p);
  return rc;
}

int lj_gpu_replay_rounds(gpu_run *g, lj_gpu_replay_prep *p, int n, int rounds, int per_round_done) {
  int *order = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  if (!order) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int rc = 0;
  for (int k = 0; rc == 0 && k < rounds; k++) {
    // a new random order each round (Fisher-Yates on the run's seeded stream): drift and
    // temperature spread over every variant alike, and no variant always follows the same one
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
      int j = (int)(lj_gpu_uniform01(g) * (i + 1));
      if (j > i) j = i;
      int x = order[i];
      order[i] = order[j], order[j] = x;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
      if (lj_gpu_interrupted(g)) rc = LJ_FAIL(LJ_EINTERRUPTED, "profile: interrupted");
      else rc = lj_gpu_replay_trial(g, &p[order[i]], k);
    }
    if (per_round_done) lj_gpu_step_done(g);
  }
  free(order);
  return rc;
}

void lj_gpu_drop_stage_inputs(gpu_run *g) {
  if (g->e) lj_cuda_set_stage_inputs(g->e, NULL);
  lj_cuda_stage_inputs_free(g->stage_in);
  g->stage_in = NULL;
}

// Of the device's free memory, at most this share for the records (the rest: replays' weight copies).
#define LJ_GPU_STAGE_INPUTS_FREE_SHARE 0.25

int lj_gpu_record_stage_inputs(gpu_run *g, const lj_cuda_batch *b) {
  lj_gpu_drop_stage_inputs(g);
  int64_t free_b = 0, total_b = 0, max_bytes = (int64_t)1 << 30;
  if (lj_cuda_device_memory(g->o->device, &free_b, &total_b) == 0)
    max_bytes = (int64_t)((double)free_b * LJ_GPU_STAGE_INPUTS_FREE_SHARE);
  lj_clear_error();
  int rc = lj_cuda_stage_inputs_capture(g->e, b, max_bytes, &g->stage_in);
  if (rc == LJ_ENOMEM || rc == LJ_EUNSUPPORTED) {  // the preconditions and the memory: anything else is a failure
    if (!(g->stage_in_noted & 2))
      lj_profile_note(g->r, "Replays ran on the live buffers, not on each stage's recorded inputs: %s. A replayed "
                      "call then feeds the next (in-place norms and RoPE, stale buffers of stages left out): its "
                      "data drift from the run's (docs/attribution.md 2a).", lj_error_message());
    g->stage_in_noted |= 2;
    lj_clear_error();
    return 0;
  }
  LJ_TRY(rc);
  lj_cuda_set_stage_inputs(g->e, g->stage_in);
  if (!(g->stage_in_noted & 1))
    lj_profile_note(g->r, "Replays ran each stage on its inputs as one forward call of the replayed state gave them "
                    "(%.0f MiB recorded for the %d-token state), writing buffers no stage reads: every window computes "
                    "on the run's bytes, whatever its stages and order.",
                    (double)lj_cuda_stage_inputs_bytes(g->e, b->n_tokens) / 1048576.0, b->n_tokens);
  g->stage_in_noted |= 1;
  return 0;
}

// Tensor parallelism: the ranks' replays run on their live buffers (said once).
static void note_tp_live(gpu_run *g) {
  if (g->stage_in_noted & 2) return;
  lj_profile_note(g->r, "Replays ran on the live buffers, not on each stage's recorded inputs: the ranks of --tp %d "
                  "keep no records. A replayed call then feeds the next: its data drift from the run's "
                  "(docs/attribution.md 2a).", g->r->plan.tp_degree);
  g->stage_in_noted |= 2;
}

int lj_gpu_prefill_state(gpu_run *g, lj_cuda_batch *b) {
  if (g->tp) {
    note_tp_live(g);
    return lj_gpu_tp_prefill_state(g, b);
  }
  lj_gpu_drop_stage_inputs(g);
  LJ_TRY(lj_gpu_unit_prefill(g));
  int *zeros = g->prompt_lens + g->o->batch;
  LJ_TRY(lj_cuda_rewind(g->e, g->o->batch, zeros));
  LJ_TRY(lj_cuda_prepare_batch(g->e, g->o->batch, g->prompt.ids, g->n_tokens, b));
  return lj_gpu_record_stage_inputs(g, b);
}

int lj_gpu_decode_state_at(gpu_run *g, int64_t kv, lj_cuda_batch *b) {
  if (g->tp) {
    note_tp_live(g);
    return lj_gpu_tp_decode_state_at(g, kv, b);
  }
  const lj_profile_options *o = g->o;
  lj_gpu_drop_stage_inputs(g);
  LJ_TRY(lj_gpu_unit_prefill(g));
  int steps = (int)(kv - o->prompt_len) + 1;
  if (steps > 1) {
    LJ_TRY(lj_cuda_rewind(g->e, o->batch, g->prompt_lens));
    lj_cuda_sampling sp = {0.0f, 1.0f, o->seed, 0};
    LJ_TRY(lj_cuda_generate(g->e, o->batch, steps, &sp, NULL));
  }
  int *ones = malloc(sizeof(int) * (size_t)o->batch);
  int32_t *tokens = malloc(sizeof(int32_t) * (size_t)o->batch);
  if (!ones || !tokens) {
    free(ones);
    free(tokens);
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  }
  for (int s = 0; s < o->batch; s++) ones[s] = 1, tokens[s] = g->gen_ids[(size_t)s * o->gen_len];
  int rc = lj_cuda_prepare_batch(g->e, o->batch, tokens, ones, b);
  free(ones);
  free(tokens);
  return rc < 0 ? rc : lj_gpu_record_stage_inputs(g, b);
}
