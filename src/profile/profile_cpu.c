// The CPU profile: timing only. No power source here can see a CPU's energy,
// so the phases (and, from the CPU engine's own per-stage clocks, the stages
// inside prefill and decode) are timed, with the same windows, repeats and
// intervals as on a GPU, and the result says plainly that it has no joules.
// It shares the phase-window loop with the GPU runner (profile_window_units.c);
// What can prove its times wrong: calls x stage time per call, summed, against
// the phase window's time (the engine clocks its stages inside the window).
// With --tp N the engine emulates N tensor-parallel ranks (docs/tensor-parallel.md): every stage
// runs each rank's share in turn, and the all-reduce stages (attn_allreduce, mlp_allreduce) get
// rows of their own.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"
#include "engine/cpu/cpu_engine.h"
#include "engine/greedy.h"
#include "engine/weight_format.h"
#include "engine/cpu/thread_pool.h"
#include "model/weights.h"
#include "profile/head_grid.h"
#include "profile/profile_analyze.h"
#include "profile/profile_plan.h"
#include "profile/profile_prompt.h"
#include "profile/profile_run.h"
#include "profile/profile_window_units.h"

typedef struct {
  const lj_profile_options *o;
  lj_profile_result *r;
  const char *ckpt_dir;
  lj_weights w;
  int have_weights;
  lj_cpu_engine *e;
  lj_profile_prompt prompt;
  int32_t *seq, *pos, *rows, *tokens;  // batch arrays (batch * prompt_len)
  float *logits;                       // (batch, vocab)
  int32_t *gen_ids;                    // (batch, gen_len)
  int64_t stage_ns[LJ_PHASE_COUNT][LJ_STAGE_COUNT];
  int64_t stage_calls[LJ_PHASE_COUNT][LJ_STAGE_COUNT];
  lj_progress progress;
  int64_t done;
  int store_warned;                    // a window write failed (warned once)
  int dequant_said;                    // an FP8 checkpoint dequantised for bf16 (said once)
} cpu_run;

static int interrupted(const cpu_run *c) { return c->o->interrupted && *c->o->interrupted; }

static int unit_load(cpu_run *c) {
  lj_cpu_engine_free(c->e);
  c->e = NULL;
  if (c->have_weights) lj_weights_free(&c->w);
  c->have_weights = 0;
  int threads = c->o->threads > 0 ? c->o->threads : lj_default_threads();
  if (c->ckpt_dir) LJ_TRY(lj_weights_load(c->ckpt_dir, &c->w));
  else LJ_TRY(lj_weights_random(&c->r->plan.config, c->o->seed, threads, &c->w));
  c->have_weights = 1;
  if (c->o->weights == LJ_WEIGHTS_FP8) LJ_TRY(lj_weights_quantize_fp8(&c->w, threads, c->o->fp8_scale));  // the FP8 reference
  else if (lj_weights_is_fp8(&c->w)) {  // bf16 asked of an FP8 checkpoint: bf16(code x scale), as generate
    LJ_TRY(lj_weights_dequantize_fp8(&c->w, threads));
    if (!c->dequant_said++)
      lj_info("%s: FP8 linear layers dequantised to bf16 (code x scale, rounded to bf16) for --weights bf16",
              c->w.config.name);
  }
  int B = c->o->batch;
  return lj_cpu_engine_create_tp(&c->w, B, c->o->prompt_len + c->o->gen_len + 1, threads, c->o->tp_degree, &c->e);
}

static int unit_tokenize(cpu_run *c) { return lj_profile_tokenize_unit(&c->prompt); }
static int unit_detokenize(cpu_run *c) { return lj_profile_detokenize_unit(&c->prompt, c->gen_ids, c->o->gen_len); }

// Per-stage time of one call of fn, added to phase ph (the stages that run at the engine's degree).
static void stage_delta(cpu_run *c, lj_phase ph, const int64_t *before, int calls_scale) {
  const int64_t *now = lj_cpu_engine_stage_ns(c->e);
  int L = c->r->plan.config.n_layers;
  for (int s = 0; s < LJ_STAGE_COUNT; s++) {
    if (!lj_stage_runs_at_degree((lj_stage)s, lj_cpu_engine_tp_degree(c->e))) continue;
    c->stage_ns[ph][s] += now[s] - before[s];
    c->stage_calls[ph][s] += (int64_t)calls_scale * (lj_stage_is_per_layer((lj_stage)s) ? L : 1);
  }
}

static int unit_prefill(cpu_run *c) {
  int B = c->o->batch, P = c->o->prompt_len;
  for (int s = 0; s < B; s++) lj_cpu_engine_reset_seq(c->e, s);
  for (int s = 0; s < B; s++)
    for (int i = 0; i < P; i++) c->seq[s * P + i] = s, c->pos[s * P + i] = i;
  for (int s = 0; s < B; s++) c->rows[s] = s * P + P - 1;
  lj_batch b = {c->prompt.ids, c->seq, c->pos, B * P, c->rows, B};
  int64_t before[LJ_STAGE_COUNT];
  memcpy(before, lj_cpu_engine_stage_ns(c->e), sizeof before);
  LJ_TRY(lj_cpu_forward(c->e, &b, c->logits));
  stage_delta(c, LJ_PHASE_PREFILL, before, 1);
  return 0;
}

// Each sequence's greedy token of step i from c->logits; non-finite logits stop the run as they stop
// generate (lj_greedy_token), never a token.
static int greedy_tokens(cpu_run *c, int i) {
  int B = c->o->batch, G = c->o->gen_len, V = c->r->plan.config.vocab_size;
  for (int s = 0; s < B; s++) {
    int tok = lj_greedy_token(c->logits + (size_t)s * V, V);
    if (tok < 0) return lj_fail_context(tok, "profile: step %d (%s), sequence %d", i, i ? "decode" : "prefill", s);
    c->gen_ids[(size_t)s * G + i] = tok;
  }
  return 0;
}

// gen_len tokens per sequence from the prompt's cache: the first from the
// prefill's logits, then gen_len - 1 forward steps (greedy).
static int unit_decode(cpu_run *c) {
  int B = c->o->batch, P = c->o->prompt_len, G = c->o->gen_len;
  LJ_TRY(greedy_tokens(c, 0));
  int64_t before[LJ_STAGE_COUNT];
  memcpy(before, lj_cpu_engine_stage_ns(c->e), sizeof before);
  for (int i = 1; i < G; i++) {
    for (int s = 0; s < B; s++)
      c->tokens[s] = c->gen_ids[(size_t)s * G + i - 1], c->seq[s] = s, c->pos[s] = P + i - 1, c->rows[s] = s;
    lj_batch b = {c->tokens, c->seq, c->pos, B, c->rows, B};
    LJ_TRY(lj_cpu_forward(c->e, &b, c->logits));
    LJ_TRY(greedy_tokens(c, i));
  }
  stage_delta(c, LJ_PHASE_DECODE, before, G - 1);
  return 0;
}

typedef int (*unit_fn)(cpu_run *c);

typedef struct {
  unit_fn fn;
  cpu_run *c;
} unit_call;

static int call_unit(void *ctx) {
  unit_call *u = ctx;
  return u->fn(u->c);
}

static int phase_window(cpu_run *c, lj_phase ph, int repeat, int64_t tokens_per_unit, unit_fn fn, int max_units) {
  lj_phase_window w;
  lj_profile_window_init(&w, ph, repeat, tokens_per_unit);
  w.w.flags = LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES;
  w.w.counter_energy_j = w.w.sample_energy_j = w.w.mean_power_w = w.w.peak_power_w = NAN;
  w.w.counter_above_idle_j = w.w.sample_above_idle_j = NAN;
  w.w.device = -1;
  unit_call call = {fn, c};
  int64_t t0 = 0, t1 = 0;
  int rc = lj_profile_units_for(call_unit, &call, c->o->phase_seconds, max_units, c->o->interrupted, &w.units, &t0,
                                &t1);
  w.w.begin_ns = t0;
  w.w.end_ns = t1;
  w.host_s = w.w.duration_s = (double)(t1 - t0) * 1e-9;
  if (w.units > 0) LJ_TRY(lj_profile_keep_window(c->o, c->r, &w, &c->store_warned));
  lj_progress_update(&c->progress, ++c->done);
  return rc;
}

static int measure(cpu_run *c) {
  const lj_profile_options *o = c->o;
  int B = o->batch, R = o->repeats;
  lj_progress_begin(&c->progress, "profile (CPU, timing only)", 1 + 4 * R);
  LJ_TRY(phase_window(c, LJ_PHASE_LOAD, 0, 0, unit_load, 1));
  LJ_TRY(lj_profile_prompt_build(o, &c->r->plan.config, c->ckpt_dir, &c->prompt, c->r));
  size_t n = (size_t)B * o->prompt_len;
  c->seq = malloc(sizeof(int32_t) * n), c->pos = malloc(sizeof(int32_t) * n);
  c->rows = malloc(sizeof(int32_t) * (size_t)B), c->tokens = malloc(sizeof(int32_t) * (size_t)B);
  c->logits = malloc(sizeof(float) * (size_t)B * c->r->plan.config.vocab_size);
  c->gen_ids = malloc(sizeof(int32_t) * (size_t)B * o->gen_len);
  if (!c->seq || !c->pos || !c->rows || !c->tokens || !c->logits || !c->gen_ids)
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  LJ_TRY(unit_prefill(c));  // generated ids for the first detokenize
  LJ_TRY(unit_decode(c));
  memset(c->stage_ns, 0, sizeof c->stage_ns);
  memset(c->stage_calls, 0, sizeof c->stage_calls);
  for (int rep = 0; rep < R && !interrupted(c); rep++) {
    if (c->prompt.tok)
      LJ_TRY(phase_window(c, LJ_PHASE_TOKENIZE, rep, (int64_t)B * c->prompt.text_tokens, unit_tokenize, 1 << 30));
    // Decode continues the prefill's cache, so the two alternate one unit at a time here.
    LJ_TRY(phase_window(c, LJ_PHASE_PREFILL, rep, (int64_t)B * o->prompt_len, unit_prefill, 1 << 30));
    LJ_TRY(phase_window(c, LJ_PHASE_DECODE, rep, (int64_t)B * o->gen_len, unit_decode, 1));
    if (c->prompt.tok)
      LJ_TRY(phase_window(c, LJ_PHASE_DETOKENIZE, rep, (int64_t)B * o->gen_len, unit_detokenize, 1 << 30));
  }
  if (interrupted(c)) return LJ_FAIL(LJ_EINTERRUPTED, "profile: interrupted");
  if (o->head_fit) LJ_TRY(lj_head_grid_run_cpu(o, c->r));
  return 0;
}

int lj_profile_run_cpu(const lj_profile_options *o, lj_profile_result *r) {
  cpu_run c;
  memset(&c, 0, sizeof c);
  c.o = o, c.r = r;
  r->cond.begin_wall_ns = lj_wall_ns();
  int rc = lj_profile_plan_make(o, &r->plan, &c.ckpt_dir);
  snprintf(r->plan.engine, sizeof r->plan.engine, "cpu");
  r->plan.timing_only = 1;
  r->plan.ablation = r->plan.sequence = r->plan.shapley = 0;  // head_fit: the grid runs, timed
  r->plan.known_answer_bytes = 0;
  r->plan.n_decode_kv = 0;
  snprintf(r->cond.device.name, sizeof r->cond.device.name, "CPU (%d threads)",
           o->threads > 0 ? o->threads : lj_default_threads());
  snprintf(r->cond.idle_method, sizeof r->cond.idle_method, "none (timing only)");
  if (o->tp_degree > 1)
    lj_profile_note(r, "Tensor parallelism emulated on the CPU at degree %d (docs/tensor-parallel.md): each stage "
                       "runs the %d ranks' shares one after the other, and attn_allreduce and mlp_allreduce add "
                       "their partial o_proj and down outputs (and the residual).", o->tp_degree, o->tp_degree);
  if (rc == 0) lj_profile_keep_plan(o, r);
  if (rc == 0) rc = measure(&c);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", lj_error_message());
  lj_progress_end(&c.progress);
  r->cond.end_wall_ns = lj_wall_ns();
  r->cond.temperature_min_c = r->cond.temperature_max_c = NAN;
  r->cond.sm_clock_min_mhz = r->cond.sm_clock_max_mhz = r->cond.mem_clock_min_mhz = r->cond.mem_clock_max_mhz = NAN;
  snprintf(r->cond.throttle_text, sizeof r->cond.throttle_text, "n/a");
  lj_profile_note(r, "Timing only: the CPU engine ran and no power source can measure a CPU's energy here; "
                     "energy per phase, layer and stage needs an NVIDIA GPU with its driver (NVML).");
  if (rc < 0) lj_profile_note(r, "The run stopped early: %s.", msg);
  r->complete = rc == 0;
  // Stage times per phase from the engine's own clocks: one row per stage, per call.
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE && rc != LJ_ENOMEM; ph++)
    for (int st = 0; st < LJ_STAGE_COUNT; st++) {
      if (c.stage_calls[ph][st] <= 0 || c.stage_ns[ph][st] <= 0) continue;
      lj_profile_stage s;
      memset(&s, 0, sizeof s);
      s.est.key.phase = (lj_phase)ph, s.est.key.stage = (lj_stage)st, s.est.key.layer = -1;
      s.est.key.kv_len = ph == LJ_PHASE_DECODE ? o->prompt_len : 0;
      double per_call = (double)c.stage_ns[ph][st] * 1e-9 / (double)c.stage_calls[ph][st];
      lj_stats_mean_ci(&per_call, 1, r->plan.level, &s.est.time_per_call_s);
      s.est.insitu_time_per_call_s = s.est.time_ratio = s.est.counter_vs_sample_pct = NAN;
      s.est.temperature_min_c = s.est.temperature_max_c = NAN;
      s.est.n_trials = 0;
      lj_stage_shape sh;
      lj_stage_shape_default(&sh);
      sh.batch = o->batch, sh.n_tokens = ph == LJ_PHASE_PREFILL ? o->prompt_len : 1;
      sh.kv_past = s.est.key.kv_len;
      sh.tp_degree = o->tp_degree;
      int layer = lj_stage_is_per_layer((lj_stage)st) ? (r->plan.config.n_layers > 1 ? 1 : 0) : -1;
      lj_stage_cost_compute(&r->plan.config, (lj_stage)st, layer, &sh, &s.cost);
      s.calls_per_unit = lj_profile_calls_per_unit(&r->plan, (lj_phase)ph, (lj_stage)st, 0);
      s.share_gross = s.share_dynamic = NAN;
      if (lj_profile_add_stage(r, &s) < 0) break;
    }
  lj_clear_error();
  int arc = lj_profile_analyze(r, NULL, NULL, 0, -1);
  lj_profile_prompt_free(&c.prompt);
  lj_cpu_engine_free(c.e);
  if (c.have_weights) lj_weights_free(&c.w);
  free(c.seq), free(c.pos), free(c.rows), free(c.tokens), free(c.logits), free(c.gen_ids);
  if (rc < 0) return LJ_FAIL(rc, "%s", msg);
  return arc;
}
