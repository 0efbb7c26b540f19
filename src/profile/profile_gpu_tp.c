// The GPU profile at tensor-parallel degree N (`profile --tp N`, or any degree with --tp-backend;
// docs/tensor-parallel.md §4): the ranks of lj_cuda_tp (nccl: rank r on GPU r; loopback: every
// rank on one GPU), metered together. What it measures:
//   idle of every rank's GPU at once -> sampler over those GPUs -> load windows -> warm-up ->
//   R x (tokenize, prefill, decode, detokenize windows) -> isolation replays of every stage the
//   ranks run (the all-reduce stages included; prefill, decode at its KV lengths), each trial all
//   ranks together -> the Shapley rounds -> sampler off -> every GPU idles at once (the cool-down:
//   each GPU's idle curve) -> per-GPU phase figures, each trial per GPU
//   and summed over the GPUs.
// Every window opens and closes with every rank's stream synchronised (one host thread drives the
// ranks, so that is the shared barrier), so each GPU's figure covers the same work; the run's
// figures are their sum and each GPU's phase summaries are stored as its rank's (schema 14).
// The Shapley rounds (the whole layer, the layer without each stage, the other orders; all ranks
// together) run in prefill and at decode's middle KV length, and each GPU's own reading of every
// trial gives its rank's split and additive check (analyze_shapley_tp.c).
// Not yet (lj_profile_gpu_tp_check refuses what is asked for, the defaults are left out with a
// note): the timeline, sequence replay, the layer's own game, ablation, per-layer, head fit, known
// answer and overhead pairs, the fused mode. After the sampler stops, every GPU idles at once (the
// cool-down) and each GPU's idle curve, fitted from its own samples, gives the idle its windows and
// trials subtract at its own temperature (docs/tensor-parallel.md §5).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "engine/cuda/tp_comm.h"
#include "profile/gpu_run.h"
#include "profile/idle_at_temperature.h"
#include "profile/profile_plan.h"
#include "profile/tp_rank_windows.h"

int lj_profile_gpu_tp_check(const lj_profile_options *o) {
  const char *opt = o->per_layer                ? "--per-layer"
                    : o->head_fit                 ? "--head-fit"
                    : o->known_answer_mb != 0     ? "--known-answer"
                    : o->fusion != LJ_FUSION_NONE ? "--fusion production"
                                                  : NULL;
  if (opt)
    return LJ_FAIL(LJ_EUNSUPPORTED, "%s with --tp on the GPU: not built for tensor parallelism yet (the ranks' "
                   "profile has phase windows per GPU and isolation replays; docs/tensor-parallel.md §7)", opt);
  if (o->tp_backend == LJ_TP_BACKEND_NCCL && o->device != 0)
    return LJ_FAIL(LJ_EINVAL, "--device %d with --tp-backend nccl: rank r runs on GPU r (CUDA_VISIBLE_DEVICES "
                   "picks the GPUs)", o->device);
  if (o->tp_backend == LJ_TP_BACKEND_NCCL && o->tp_degree > LJ_PROFILE_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "--tp %d over NCCL: the profile stores at most %d GPUs", o->tp_degree,
                   LJ_PROFILE_MAX_RANKS);
  // Before any run is stored: the meter would otherwise fail first, on a GPU it cannot see.
  int n_dev = lj_cuda_device_count();
  if (o->tp_backend == LJ_TP_BACKEND_NCCL && n_dev < o->tp_degree)
    return LJ_FAIL(LJ_EINVAL, "--tp %d over NCCL needs %d GPUs (one per rank); %d visible (--tp-backend "
                   "loopback runs every rank on one GPU, for testing)", o->tp_degree, o->tp_degree, n_dev);
  return 0;
}

static int measure(gpu_run *g) {
  const lj_profile_options *o = g->o;
  lj_profile_result *r = g->r;
  lj_progress_begin(&g->progress, "profile", 1 + 4 * o->repeats + 2 * LJ_STAGE_COUNT + r->plan.n_decode_kv +
                                                  (o->shapley ? 2 * o->trials : 0));
  LJ_TRY(lj_profile_meter_start(&g->m));
  LJ_TRY(lj_gpu_phase_window(g, LJ_PHASE_LOAD, 0, 0, lj_gpu_tp_unit_load, 5));
  STOP_IF_INTERRUPTED(g);
  if (!g->tp) return LJ_FAIL(LJ_EINVAL, "profile: the model did not load");
  lj_profile_note(r, "Tensor parallelism on the GPU: %s.", lj_cuda_tp_describe(g->tp));
  LJ_TRY(lj_profile_prompt_build(o, &r->plan.config, g->ckpt_dir, &g->prompt, r));
  LJ_TRY(lj_gpu_phase_rounds(g, lj_gpu_tp_unit_prefill, lj_gpu_tp_unit_decode));
  // Isolation replays (gpu_isolation.c) on the ranks: g->e is rank 0, whose stage list and stream
  // the harness reads (lj_gpu_replay_prepare makes the ranks' replay).
  g->e = lj_cuda_tp_rank(g->tp, 0);
  LJ_TRY(lj_gpu_replay_prefill(g));
  // The Shapley rounds (gpu_loo.c: the whole layer, the layer without each stage, the other orders,
  // every rank together, each GPU reading each window): prefill here, decode at its middle KV length.
  if (o->shapley) LJ_TRY(lj_gpu_sequence_prefill(g));
  LJ_TRY(lj_gpu_replay_decode(g));
  return 0;
}

// What the plan says was not run, so the report expects none of it.
static void plan_tp_methods(lj_profile_result *r) {
  lj_profile_plan *p = &r->plan;
  p->ablation = p->sequence = p->head_fit = 0;
  p->known_answer_bytes = 0;
  lj_profile_note(r, "Tensor-parallel degree %d on the GPU: the phase windows measured on every rank's GPU at the "
                     "same boundaries (each GPU's figures in the per-GPU table, the run's are their sum), the "
                     "isolation replay of every stage%s with all ranks replaying it together, the all-reduce stages "
                     "included; every trial is read by each GPU's meter at that GPU's idle (its per-GPU estimates "
                     "and Shapley check) and summed (the run's). Not built for the ranks yet, so not run: the "
                     "timeline (in-situ times), sequence replay, the layer's own game, ablation and overhead pairs. "
                     "Each GPU's idle is its own curve from a cool-down of every GPU at once where the fit holds. "
                     "The ranks run eagerly (no CUDA graphs), the replays "
                     "too: a stage of a few microseconds is bound by the host's launches, so its time per call reads "
                     "high; the phases' tokens/s is not the graphed single-GPU engine's.", p->tp_degree,
                  p->shapley ? " and the Shapley rounds" : "");
}

static int alloc_run(gpu_run *g) {
  LJ_TRY(lj_gpu_run_alloc(g));
  int B = g->o->batch;
  g->tp_logits = malloc(sizeof(float) * (size_t)B * (size_t)g->r->plan.config.vocab_size);
  g->tp_next = calloc((size_t)B, sizeof(int32_t));
  g->tp_work = malloc(sizeof(int32_t) * 5 * (size_t)B);
  if (!g->tp_logits || !g->tp_next || !g->tp_work) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  return 0;
}

static int open_meter(gpu_run *g) {
  const lj_profile_options *o = g->o;
  int devs[LJ_PROFILE_MAX_RANKS], n = 1;
  devs[0] = o->device;
  if (g->tp_backend == LJ_TP_BACKEND_NCCL)
    for (n = 0; n < o->tp_degree; n++) devs[n] = n;
  LJ_TRY(lj_profile_meter_open_devices(&g->m, o, g->r, devs, n));
  if (g->tp_backend == LJ_TP_BACKEND_NCCL && g->m.cuda_index != 0)
    return LJ_FAIL(LJ_EINVAL, "profile: NVML device 0 is CUDA device %d: the ranks' GPUs must be numbered alike "
                   "(set CUDA_DEVICE_ORDER=PCI_BUS_ID)", g->m.cuda_index);
  if (n == 1 && o->tp_degree > 1)
    lj_profile_note(g->r, "--tp-backend loopback: all %d ranks ran on one GPU (device %d), so the per-GPU figures "
                          "are that one device's, once (its energy is not counted per rank); the per-GPU table has "
                          "no row per rank.", o->tp_degree, o->device);
  return 0;
}

// Each GPU's idle curve (docs/tensor-parallel.md §5): the cool-down on every rank's GPU at once, each
// GPU's curve from its own samples. Loopback meters one GPU for every rank: no per-GPU curve.
static void cooldown(gpu_run *g) {
  lj_profile_result *r = g->r;
  if (g->m.n_devs < 2 || r->plan.tp_degree < 2) return;
  if (lj_profile_meter_cooldown_devices(&g->m, g->o->cooldown_seconds, r) < 0) {
    lj_profile_note(r, "No idle curve per GPU: the cool-down failed (%s).", lj_error_message());
    lj_clear_error();
    for (int k = 0; k < g->m.n_devs; k++) r->ranks[k].idle_curve_valid = 0;
    return;
  }
  for (int k = 0; k < g->m.n_devs; k++) {
    const lj_profile_rank *rk = &r->ranks[k];
    if (rk->idle_curve_valid && !rk->idle_curve.fit.usable)
      lj_profile_note(r, "GPU %d: idle against temperature not used: %s; its flat idle measured before the run is "
                         "subtracted from its windows and trials.", k, rk->idle_curve.fit.why);
  }
}

// What each GPU's windows and trials subtract: its usable curve, else its flat idle.
static void tp_idle_of(gpu_run *g, lj_tp_idle *idle) {
  memset(idle, 0, sizeof *idle);
  idle->readings = g->m.readings, idle->n_readings = g->m.n_readings;
  for (int k = 0; k < g->m.n_devs; k++) {
    const lj_profile_rank *rk = &g->r->ranks[k];
    idle->flat_w[k] = g->m.dev_idle_w[k];
    idle->curve[k] = rk->idle_curve_valid && rk->idle_curve.fit.usable ? &rk->idle_curve.fit : NULL;
  }
}

int lj_profile_run_gpu_tp(const lj_profile_options *o, lj_profile_result *r) {
  // the methods the ranks do not have are off (their defaults; asked-for ones are refused below)
  lj_profile_options to = *o;
  to.sequence = to.head_fit = to.per_layer = to.timeline = to.overhead = 0;
  to.ablation = 0;
  gpu_run g;
  memset(&g, 0, sizeof g);
  g.o = &to, g.r = r;
  g.tp_backend = o->tp_backend;
  g.rng = o->seed ^ 0x9E3779B97F4A7C15ull;
  r->cond.begin_wall_ns = lj_wall_ns();
  lj_cuda_driver_version(r->cond.cuda_driver, (int)sizeof r->cond.cuda_driver);
  int rc = lj_profile_gpu_tp_check(o);
  if (rc == 0) rc = lj_profile_plan_make(&to, &r->plan, &g.ckpt_dir);
  snprintf(r->plan.engine, sizeof r->plan.engine, "cuda");
  plan_tp_methods(r);
  if (rc == 0) rc = alloc_run(&g);
  if (rc == 0) lj_profile_keep_plan(o, r);  // before the idle measurement: a run killed in it reads back
  if (rc == 0) rc = open_meter(&g);
  if (rc == 0) rc = measure(&g);
  int keep_rc = rc;
  char keep_msg[1024];
  snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  if (g.m.sampler) {
    int src = lj_profile_meter_stop(&g.m, r);
    // each GPU's cool-down, all at once (only after a whole run)
    if (keep_rc == 0 && src == 0 && !(o->interrupted && *o->interrupted)) cooldown(&g);
    lj_tp_idle idle;
    tp_idle_of(&g, &idle);
    lj_windows *w = lj_sampler_windows(g.m.sampler);
    int crc = lj_profile_tp_collect(r, w, g.window_handles, g.m.devs, g.m.n_devs, &idle);
    if (crc == 0) crc = lj_profile_tp_collect_trials(r, w, g.trial_handles, g.m.devs, g.m.n_devs, &idle);
    for (int k = 0; k < r->n_ranks; k++) r->ranks[k].idle_w = g.m.dev_idle_w[k], r->ranks[k].idle_sd_w = g.m.dev_idle_sd_w[k];
    if (src == 0) src = crc;
    for (size_t i = 0; i < r->n_windows; i++)
      r->windows[i].temperature_c = lj_window_temperature(g.m.readings, g.m.n_readings, g.m.dev,
                                                          r->windows[i].w.begin_ns, r->windows[i].w.end_ns);
    // each GPU's own, for the sum's budget (each GPU leaks at its own heat) and each rank's
    lj_profile_tp_temperatures(r, g.m.devs, g.m.dev_idle_temperature_c, g.m.readings, g.m.n_readings);
    if (keep_rc == 0 && src < 0) keep_rc = src, snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_progress_end(&g.progress);
  r->cond.end_wall_ns = lj_wall_ns();
  lj_gpu_finish_conditions(r);
  if (keep_rc < 0) lj_profile_note(r, "The run stopped early: %s.", keep_msg);
  r->complete = keep_rc == 0;
  int arc = lj_profile_analyze(r, &g.raw, g.m.power, g.m.n_power, g.m.dev);
  if (arc < 0) {
    lj_profile_note(r, "Analysis failed: %s.", lj_error_message());
    if (keep_rc == 0) keep_rc = arc, snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_profile_prompt_free(&g.prompt);
  g.e = NULL;  // rank 0's, freed with the ranks
  lj_cuda_tp_free(g.tp);
  lj_profile_meter_close(&g.m);
  lj_gpu_run_free(&g);
  if (keep_rc < 0) return LJ_FAIL(keep_rc, "%s", keep_msg);
  return 0;
}
