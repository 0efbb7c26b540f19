// The GPU profile's runner: schedules the measurement methods (one file each,
// gpu_*.c) and hands what they measured to the analysis (profile_analyze.c).
// Order of the run, and why:
//   idle baseline (before anything loads) -> sampler on -> load windows ->
//   warm-up (cuBLASLt plans, decode graph) -> R x (tokenize, prefill, decode,
//   detokenize windows), interleaved so that drift spreads over the phases ->
//   in-situ timeline (stage marks on) -> replay: prefill stages, the prefill's layer
//   prefixes (sequence replay), decode stages at the first KV length, attention at the
//   others, the decode layer's prefixes and the Shapley rounds (gpu_loo.c) at the middle one,
//   the attention-head grid (--head-fit, on K and V of its own) -> the known answer (--known-answer) -> ablation, prefill and decode ->
//   sampler off -> overhead pairs (they need the sampler off) -> analysis.
// Window results are read after the sampler has stopped, so no trial waits for
// the driver's buffer to catch up.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "profile/ablation_windows.h"
#include "profile/gpu_run.h"
#include "profile/idle_at_temperature.h"
#include "profile/profile_plan.h"
#include "profile/trial_conditions.h"

static int plan(gpu_run *g) {
  LJ_TRY(lj_profile_plan_make(g->o, &g->r->plan, &g->ckpt_dir));
  snprintf(g->r->plan.engine, sizeof g->r->plan.engine, "cuda");
  if (g->ckpt_dir && g->o->device != 0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--device %d with a checkpoint directory: use CUDA_VISIBLE_DEVICES=%d instead",
                   g->o->device, g->o->device);
  return 0;
}

// Runs one part of the profile and adds its wall time to the part's total (the run's notes).
#define PART(g, name, expr)                        \
  do {                                             \
    lj_part_start(&(g)->parts, lj_mono_ns());      \
    int part_rc_ = (expr);                         \
    lj_part_end(&(g)->parts, name, lj_mono_ns());  \
    if (part_rc_ < 0) return part_rc_;             \
  } while (0)

static int measure(gpu_run *g) {
  const lj_profile_options *o = g->o;
  lj_profile_result *r = g->r;
  int R = o->repeats;
  // The fused mode (docs/attribution.md): decode runs 3 stages fewer per layer (composites), and the
  // methods whose replays list the layer's simple stages run on prefill only.
  int fused = lj_gpu_fused(g), phases = fused ? 1 : 2;
  int n_replays = 13 + 14 - (fused ? 3 : 0) + (r->plan.n_decode_kv - 1) + (o->head_fit ? lj_gpu_head_grid_trials(o, &r->plan.config) : 0);
  int n_sequence = (o->sequence || o->shapley ? phases * o->trials : 0) +
                   (o->per_layer ? phases * (o->trials + o->skip_rounds) +
                                       (o->layer_stages ? phases * r->plan.config.n_layers : 0)
                                 : 0);
  lj_progress_begin(&g->progress, "profile", 1 + 4 * R + (o->timeline ? 1 : 0) + n_replays + n_sequence +
                                                  (o->ablation ? 2 * o->ablation_rounds : 0) + (o->overhead ? 1 : 0) +
                                                  (r->plan.known_answer_bytes > 0 ? 2 * phases : 0));
  LJ_TRY(lj_profile_meter_start(&g->m));
  // Load: repeated (at most 5 times) until the window is long enough.
  PART(g, "load", lj_gpu_phase_window(g, LJ_PHASE_LOAD, 0, 0, lj_gpu_unit_load, 5));
  STOP_IF_INTERRUPTED(g);
  if (!g->e) return LJ_FAIL(LJ_EINVAL, "profile: the model did not load");
  LJ_TRY(lj_profile_prompt_build(o, &r->plan.config, g->ckpt_dir, &g->prompt, r));
  // Warm-up: cuBLASLt plans, the decode graph, the generated ids for detokenize.
  PART(g, "phase windows", lj_gpu_phase_rounds(g, lj_gpu_unit_prefill, lj_gpu_unit_decode));
  if (fused)
    lj_profile_note(r, "--fusion %s: decode runs the composite stages attn_norm+qkv and ffn_norm+gate_up+swiglu; its "
                       "stage table (timeline, isolation, head fit) lists them and the stages that stay unfused. Prefill "
                       "(over 8 tokens a call) is unfused in either mode and gets every method. Not run on decode: the "
                       "sequence prefixes and the Shapley rounds (their layer orders are of the nine simple stages), "
                       "--per-layer's layers, layers x stages and layer skips, the known answer (its layer lists the "
                       "simple stages) and the MLP ablation (with gate_up, swiglu and down skipped the composite runs "
                       "its norm alone, so the saving would mix the stages' cost with the fusion's); the attention "
                       "ablation runs.", r->plan.fusion);
  if (o->timeline) PART(g, "timeline", lj_gpu_run_timeline(g));
  STOP_IF_INTERRUPTED(g);
  PART(g, "prefill isolation", lj_gpu_replay_prefill(g));
  if (o->sequence || o->shapley) PART(g, "prefill rounds", lj_gpu_sequence_prefill(g));
  PART(g, "decode isolation and rounds", lj_gpu_replay_decode(g));
  if (o->per_layer) PART(g, "per-layer", lj_gpu_layers(g));
  if (o->per_layer) PART(g, "layer skips", lj_gpu_layer_skips(g));
  if (r->plan.known_answer_bytes > 0) PART(g, "known answer", lj_gpu_known_answer(g));
  if (o->ablation) PART(g, "ablations", lj_gpu_run_ablation(g));
  return 0;
}

static double window_temperature(gpu_run *g, const lj_window_result *wr) {
  return lj_window_temperature(g->m.readings, g->m.n_readings, g->m.dev, wr->begin_ns, wr->end_ns);
}

// Idle power at window wr's mean temperature by the curve, else the flat idle.
static double idle_at(gpu_run *g, const lj_idle_curve *curve, const lj_window_result *wr) {
  return lj_idle_curve_at(curve, window_temperature(g, wr), g->m.idle_w);
}

// Dynamic J per unit of one paired window (ablation, layer skip), idle at its own temperature: by the
// counter (NAN without a reading) and by the samples (NAN where they cannot stand for it, >= 10 s).
// Returns 1 with the window's result in *out (idle rebased), 0 when it has none.
static int ordered_window(gpu_run *g, lj_windows *w, const lj_idle_curve *curve, int handle, int64_t n_units,
                          double *j, double *sample_j, lj_window_result *out) {
  *j = *sample_j = NAN;
  lj_window_result wr;
  if (lj_windows_result(w, handle, g->m.dev, &wr) < 0 || n_units <= 0) return 0;
  lj_window_rebase_idle(&wr, idle_at(g, curve, &wr));
  lj_replay_trial as_trial;
  lj_replay_trial_from_window(&wr, n_units, NAN, 0, &as_trial);
  if (!(wr.flags & LJ_WINDOW_NO_COUNTER)) *j = wr.counter_above_idle_j / (double)n_units;
  if (lj_trial_samples_usable(&as_trial)) *sample_j = wr.sample_above_idle_j / (double)n_units;
  if (out) *out = wr;
  return 1;
}

// Phase pi's ablation windows into raw (their J per unit, in order) and into r (each window with its
// conditions, ablation_windows.h).
static void collect_ablation(gpu_run *g, lj_windows *w, const lj_idle_curve *curve, int pi) {
  lj_profile_raw *raw = &g->raw;
  lj_ablation_window aw[LJ_ABL_MAX_WINDOWS];
  int n = g->n_abl[pi] < LJ_ABL_MAX_WINDOWS ? g->n_abl[pi] : LJ_ABL_MAX_WINDOWS;
  for (int i = 0; i < n; i++) {
    int k = raw->n_abl[pi]++;
    raw->abl_kind[pi][k] = g->abl_kind[pi][i];
    lj_window_result wr;
    lj_ablation_window_init(&aw[i], pi ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL, i, g->abl_kind[pi][i]);
    if (ordered_window(g, w, curve, g->abl_handles[pi][i], g->abl_units[pi][i], &raw->abl_j[pi][k],
                       &raw->abl_sample_j[pi][k], &wr))
      lj_ablation_window_measure(&wr, g->abl_units[pi][i], raw->abl_j[pi][k], raw->abl_sample_j[pi][k],
                                 g->m.readings, g->m.n_readings, g->m.dev, g->r->cond.power_limit_w, &aw[i]);
  }
  lj_ablation_windows_number(aw, (size_t)n);
  for (int i = 0; i < n; i++)
    if (lj_profile_add_ablation_window(g->r, &aw[i]) < 0) lj_clear_error();
}

// Window results into the result (after the sampler stopped: every window is final).
static void collect(gpu_run *g) {
  lj_profile_result *r = g->r;
  lj_windows *w = lj_sampler_windows(g->m.sampler);
  // Idle at each window's own temperature where the run's idle curve holds (docs/attribution.md §1c).
  const lj_idle_curve *curve = r->idle_curve_valid ? &r->idle_curve.fit : NULL;
  for (size_t i = 0; i < r->n_windows; i++)
    if (lj_windows_result(w, g->window_handles[i], g->m.dev, &r->windows[i].w) == 0) {
      r->windows[i].temperature_c = window_temperature(g, &r->windows[i].w);  // the budget's idle term
      lj_window_rebase_idle(&r->windows[i].w, idle_at(g, curve, &r->windows[i].w));
    }
  for (size_t i = 0; i < r->n_trials; i++) {
    lj_window_result wr;
    lj_profile_trial *t = &r->trials[i];
    if (lj_windows_result(w, g->trial_handles[i], g->m.dev, &wr) < 0) continue;
    lj_replay_trial keep = t->t;
    lj_replay_trial_from_window(&wr, keep.calls, keep.temperature_c, keep.idle_w, &t->t);
    t->t.start_offset_ns = keep.start_offset_ns;
    t->t.gap_s = keep.gap_s;
    // its clocks, throttle reasons, temperature and power against the cap (trial_conditions.h)
    lj_trial_conditions c;
    if (lj_trial_conditions_from_readings(g->m.readings, g->m.n_readings, g->m.dev, wr.begin_ns, wr.end_ns,
                                          wr.mean_power_w, r->cond.power_limit_w, &c)) {
      c.trial = (int)i;
      if (isfinite(c.temperature_c)) t->t.temperature_c = c.temperature_c;  // the window's mean
      t->t.idle_w = lj_idle_curve_at(curve, c.temperature_c, keep.idle_w);
      if (c.at_cap) t->t.window_flags |= LJ_WINDOW_POWER_CAP;
      if (lj_profile_add_trial_conditions(r, &c) < 0) lj_clear_error();
    }
    lj_replay_trial_take_gaps(&t->t);
  }
  // The ablation and skip windows keep their order (each ablated or skipped one is paired with the
  // full ones around it): a window without a reading stays in place as NAN.
  lj_profile_raw *raw = &g->raw;
  for (int pi = 0; pi < 2; pi++) {
    collect_ablation(g, w, curve, pi);
    for (int i = 0; i < g->n_skip[pi]; i++) {
      int k = raw->n_skip[pi]++;
      raw->skip_slot[pi][k] = g->skip_slot[pi][i];
      ordered_window(g, w, curve, g->skip_handles[pi][i], g->skip_units[pi][i], &raw->skip_j[pi][k],
                     &raw->skip_sample_j[pi][k], NULL);
    }
  }
  lj_clear_error();
}

void lj_gpu_finish_conditions(lj_profile_result *r) {
  lj_throttle_names(r->cond.throttle_seen, r->cond.throttle_text, sizeof r->cond.throttle_text);
  if (r->cond.temperature_min_c > r->cond.temperature_max_c) r->cond.temperature_min_c = r->cond.temperature_max_c = NAN;
  if (r->cond.sm_clock_min_mhz > r->cond.sm_clock_max_mhz) r->cond.sm_clock_min_mhz = r->cond.sm_clock_max_mhz = NAN;
  if (r->cond.mem_clock_min_mhz > r->cond.mem_clock_max_mhz) r->cond.mem_clock_min_mhz = r->cond.mem_clock_max_mhz = NAN;
}

int lj_profile_run_gpu(const lj_profile_options *o, lj_profile_result *r) {
  gpu_run g;
  memset(&g, 0, sizeof g);
  g.o = o, g.r = r;
  g.rng = o->seed ^ 0x9E3779B97F4A7C15ull;
  r->cond.begin_wall_ns = lj_wall_ns();
  lj_cuda_driver_version(r->cond.cuda_driver, (int)sizeof r->cond.cuda_driver);
  lj_part_times_init(&g.parts, lj_mono_ns());
  int rc = plan(&g);
  if (rc == 0) rc = lj_gpu_run_alloc(&g);
  if (rc == 0) lj_profile_keep_plan(o, r);  // before the idle measurement: a run killed in it reads back
  if (rc == 0) rc = lj_profile_meter_open(&g.m, o, r);
  lj_part_end(&g.parts, "plan, meter and idle", lj_mono_ns());
  if (rc == 0) rc = measure(&g);
  // Whatever happened, keep what was measured: stop, collect, analyse.
  int keep_rc = rc;
  char keep_msg[1024];
  snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  lj_part_start(&g.parts, lj_mono_ns());
  if (g.m.sampler) {
    int src = lj_profile_meter_stop(&g.m, r);
    // the cool-down: the card at its warmest, the context open (only after a whole run)
    if (keep_rc == 0 && src == 0 && !(o->interrupted && *o->interrupted) &&
        lj_profile_meter_cooldown(&g.m, o->cooldown_seconds, r) < 0) {
      lj_profile_note(r, "No idle curve: the cool-down failed (%s).", lj_error_message());
      lj_clear_error();
    }
    lj_profile_idle_curve_note(r);
    collect(&g);
    if (keep_rc == 0 && src < 0) keep_rc = src, snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_part_end(&g.parts, "cool-down", lj_mono_ns());
  if (keep_rc == 0 && o->overhead && g.e) {
    keep_rc = lj_gpu_run_overhead(&g);
    if (keep_rc < 0) snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_progress_end(&g.progress);
  r->cond.end_wall_ns = lj_wall_ns();
  lj_gpu_finish_conditions(r);
  if (keep_rc < 0) lj_profile_note(r, "The run stopped early: %s.", keep_msg);
  r->complete = keep_rc == 0;
  lj_part_end(&g.parts, "overhead", lj_mono_ns());
  int arc = lj_profile_analyze(r, &g.raw, g.m.power, g.m.n_power, g.m.dev);
  lj_part_end(&g.parts, "analysis", lj_mono_ns());
  char parts[768];
  lj_part_times_format(&g.parts, lj_mono_ns(), parts, sizeof parts);
  lj_profile_note(r, "Wall time by part: %s.", parts);
  if (arc == 0 && isfinite(r->stamp_cost_s))
    lj_profile_note(r, "In-situ times per call have %.2f us taken off each stage call: the cost of one timestamp "
                       "kernel, from the timeline's overhead.", r->stamp_cost_s * 1e6);
  if (arc < 0) {
    lj_profile_note(r, "Analysis failed: %s.", lj_error_message());
    if (keep_rc == 0) keep_rc = arc, snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_profile_prompt_free(&g.prompt);
  lj_gpu_drop_stage_inputs(&g);
  lj_cuda_engine_free(g.e);
  lj_profile_meter_close(&g.m);
  lj_gpu_run_free(&g);
  if (keep_rc < 0) return LJ_FAIL(keep_rc, "%s", keep_msg);
  return 0;
}
