// The GPU profile: measures a model's phases, replays every stage in
// isolation and the layer's stages in sequence, records the in-situ timeline, runs the ablation, the
// attention-head fit and the overhead check, then analyses it all
// (profile_analyze.c). Order of the run, and why:
//   idle baseline (before anything loads) -> sampler on -> load windows ->
//   warm-up (cuBLASLt plans, decode graph) -> R x (tokenize, prefill, decode,
//   detokenize windows), interleaved so that drift spreads over the phases ->
//   in-situ timeline (stage marks on) -> replay: prefill stages, prefill stages in
//   context (amplified units against plain ones, with --context), the prefill's layer
//   prefixes (sequence replay), decode stages at the first KV length, attention at the
//   others, the decode layer's prefixes and the head fit at the middle one -> ablation ->
//   sampler off -> overhead pairs (they need the sampler off) -> analysis.
// Window results are read after the sampler has stopped, so no trial waits for
// the driver's buffer to catch up.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/cuda_generate.h"
#include "model/random_init.h"
#include "model/weights.h"
#include "profile/profile_analyze.h"
#include "profile/profile_meter.h"
#include "profile/profile_plan.h"
#include "profile/profile_prompt.h"
#include "profile/profile_run.h"

typedef struct {
  const lj_profile_options *o;
  lj_profile_result *r;
  lj_profile_meter m;
  lj_cuda_engine *e;
  lj_profile_prompt prompt;
  const char *ckpt_dir;      // NULL for a preset
  int *n_tokens;             // (batch) prompt_len each
  int *prompt_lens;          // (batch) prompt_len each, for rewinds
  int32_t *gen_steps;        // (gen_len, batch) as lj_cuda_generate writes them
  int32_t *gen_ids;          // (batch, gen_len) for detokenize
  int *window_handles;       // parallel to r->windows
  int *trial_handles;        // parallel to r->trials
  int abl_handles[2][LJ_PROFILE_MAX_PAIRS];
  int64_t abl_units[2][LJ_PROFILE_MAX_PAIRS];
  int n_abl[2];
  lj_profile_raw raw;
  lj_progress progress;
  int64_t done;
  uint64_t rng;
  int store_warned;          // a window write failed (warned once)
} gpu_run;

static int interrupted(const gpu_run *g) { return g->o->interrupted && *g->o->interrupted; }
#define STOP_IF_INTERRUPTED(g) \
  do { if (interrupted(g)) return LJ_FAIL(LJ_EINTERRUPTED, "profile: interrupted"); } while (0)

static void step_done(gpu_run *g) { lj_progress_update(&g->progress, ++g->done); }

// ---------------------------------------------------------------- units of work

static int unit_tokenize(gpu_run *g) { return lj_profile_tokenize_unit(&g->prompt); }
static int unit_detokenize(gpu_run *g) {
  return lj_profile_detokenize_unit(&g->prompt, g->gen_ids, g->o->gen_len);
}
static int unit_prefill(gpu_run *g) {
  int *zeros = g->prompt_lens + g->o->batch;  // batch zeros after the lengths
  LJ_TRY(lj_cuda_rewind(g->e, g->o->batch, zeros));
  LJ_TRY(lj_cuda_prefill_graphed(g->e, g->o->batch, g->prompt.ids, g->n_tokens));
  return lj_cuda_synchronize(g->e);
}
// One generation from the prompt's cache (lj_cuda_generate synchronises).
static int unit_decode(gpu_run *g) {
  LJ_TRY(lj_cuda_rewind(g->e, g->o->batch, g->prompt_lens));
  lj_cuda_sampling sp = {0.0f, 1.0f, g->o->seed, 0};
  return lj_cuda_generate(g->e, g->o->batch, g->o->gen_len, &sp, g->gen_steps);
}

static void keep_generated(gpu_run *g) {
  int B = g->o->batch, G = g->o->gen_len;
  for (int s = 0; s < B; s++)
    for (int i = 0; i < G; i++) g->gen_ids[(size_t)s * G + i] = g->gen_steps[(size_t)i * B + s];
}

typedef int (*unit_fn)(gpu_run *g);

// Seconds of the same work run just before a GPU window opens. The energy counter
// updates every ~100 ms and a read returns its last update, so a window's begin
// reading counts up to 100 ms of what ran before it and its end reading misses up to
// 100 ms of its own work. After idle that bias is -(busy - idle power) x 50 ms a
// window (about -4% of a 1 s prefill window); after two updates of the same work
// the two ends cancel on average.
static const double k_preroll_s = 0.2;

// Units for at least `seconds` (at least one), outside any window.
static int preroll_units(gpu_run *g, unit_fn fn, double seconds) {
  int64_t t0 = lj_mono_ns();
  do {
    LJ_TRY(fn(g));
  } while ((double)(lj_mono_ns() - t0) < seconds * 1e9 && !interrupted(g));
  return 0;
}

// Units back to back in one window until it is at least phase_seconds long, after
// `preroll_s` of the same units (0: none).
static int timed_window(gpu_run *g, const char *name, unit_fn fn, int max_units, double preroll_s, int *handle,
                        int64_t *units, double *host_s) {
  *units = 0;
  if (preroll_s > 0) LJ_TRY(preroll_units(g, fn, preroll_s));
  int h = lj_profile_meter_begin(&g->m, name);
  if (h < 0) return h;
  *handle = h;
  int64_t t0 = lj_mono_ns(), t1 = t0;
  int rc = 0;
  do {
    if ((rc = fn(g)) < 0) break;
    ++*units;
    t1 = lj_mono_ns();
  } while ((double)(t1 - t0) < g->o->phase_seconds * 1e9 && *units < max_units && !interrupted(g));
  int erc = lj_profile_meter_end(&g->m, h);
  *host_s = (double)(t1 - t0) * 1e-9;
  return rc < 0 ? rc : erc;
}

// GPU phases (prefill, decode) are pre-rolled; load is not repeatable that way, and
// tokenize and detokenize leave the GPU idle before and inside their windows alike.
static int phase_window(gpu_run *g, lj_phase ph, int repeat, int64_t tokens_per_unit, unit_fn fn, int max_units) {
  char name[64];
  snprintf(name, sizeof name, "%s#%d", lj_phase_name(ph), repeat);
  lj_phase_window w;
  memset(&w, 0, sizeof w);
  w.phase = ph, w.repeat = repeat, w.tokens_per_unit = tokens_per_unit;
  int handle = -1;
  double preroll_s = ph == LJ_PHASE_PREFILL || ph == LJ_PHASE_DECODE ? k_preroll_s : 0;
  int rc = timed_window(g, name, fn, max_units, preroll_s, &handle, &w.units, &w.host_s);
  if (handle >= 0 && w.units > 0) {
    int *hs = realloc(g->window_handles, sizeof(int) * (g->r->n_windows + 1));
    if (!hs) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
    g->window_handles = hs;
    hs[g->r->n_windows] = handle;
    // Stored now as it stands (flagged pending), replaced by its final values at the end.
    if (lj_windows_result(lj_sampler_windows(g->m.sampler), handle, g->m.dev, &w.w) < 0) {
      snprintf(w.w.name, sizeof w.w.name, "%s", name);
      w.w.device = g->m.dev, w.w.flags = LJ_WINDOW_PENDING;
      lj_clear_error();
    }
    LJ_TRY(lj_profile_keep_window(g->o, g->r, &w, &g->store_warned));
  }
  step_done(g);
  return rc;
}

// ---------------------------------------------------------------- load

static int load_once(gpu_run *g) {
  const lj_profile_options *o = g->o;
  lj_cuda_engine_free(g->e);
  g->e = NULL;
  int B = o->batch, ctx = o->prompt_len + o->gen_len + 1;
  if (g->ckpt_dir) {
    lj_weights w;
    LJ_TRY(lj_weights_load(g->ckpt_dir, &w));
    int rc = lj_cuda_engine_from_weights(&w, B, ctx, B * o->prompt_len, &g->e);
    lj_weights_free(&w);
    return rc;
  }
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.device = g->m.cuda_index;
  opt.max_batch = B, opt.max_ctx = ctx, opt.max_tokens = B * o->prompt_len, opt.print_plan = 0;
  return lj_cuda_engine_create_random(&g->e, &g->r->plan.config, o->seed, &opt);
}

// ---------------------------------------------------------------- in-situ timeline

static int add_marks(gpu_run *g, lj_phase ph, int step, int decode) {
  enum { kCap = 4096 };
  static lj_cuda_mark_interval iv[kCap];
  int n = 0;
  LJ_TRY(lj_cuda_marks_read(g->e, step, decode, iv, kCap, &n));
  for (int i = 0; i < n; i++) {
    lj_stage_interval s = {iv[i].begin_ns, iv[i].end_ns, ph, iv[i].stage, iv[i].layer};
    LJ_TRY(lj_profile_add_interval(g->r, &s, step));
  }
  return 0;
}

static int run_timeline(gpu_run *g) {
  const lj_profile_options *o = g->o;
  LJ_TRY(lj_cuda_marks_enable(g->e, o->gen_len + 1));
  int rc = unit_prefill(g);  // captures the prefill graph with the stamps
  // Prefill units for >= phase_seconds (as the phase window), each read before the
  // next overwrites its slot: the driver's power samples, ~10 ms apart, need many
  // units to say anything about a 1-6 ms phase.
  int64_t p0 = lj_mono_ns();
  for (int k = 0; k < 1000 && rc == 0 && !interrupted(g); k++) {
    rc = lj_cuda_marks_set_step(g->e, 0);
    if (rc == 0) rc = unit_prefill(g);
    if (rc == 0) rc = add_marks(g, LJ_PHASE_PREFILL, 0, 0);
    if ((double)(lj_mono_ns() - p0) >= o->phase_seconds * 1e9) break;
  }
  // Decode with marks: warm-up (the graph is captured again with the stamps), then timed units.
  if (rc == 0) rc = unit_decode(g);
  int64_t t0 = lj_mono_ns();
  for (int u = 0; rc == 0 && u < LJ_PROFILE_MAX_PAIRS && !interrupted(g); u++) {
    int64_t a = lj_mono_ns();
    rc = unit_decode(g);
    int64_t b = lj_mono_ns();
    if (rc == 0) g->raw.marks_on_s[g->raw.n_marks_on++] = (double)(b - a) * 1e-9 / o->gen_len;
    for (int s = 1; rc == 0 && s < o->gen_len; s++) rc = add_marks(g, LJ_PHASE_DECODE, s, 1);
    if ((double)(lj_mono_ns() - t0) >= o->phase_seconds * 1e9) break;
  }
  lj_cuda_marks_disable(g->e);
  step_done(g);
  // The same units without marks, right after, for the overhead of the marks.
  if (rc == 0) rc = unit_decode(g);  // recapture without stamps
  for (int u = 0; rc == 0 && u < g->raw.n_marks_on; u++) {
    int64_t a = lj_mono_ns();
    rc = unit_decode(g);
    int64_t b = lj_mono_ns();
    if (rc == 0) g->raw.marks_off_s[g->raw.n_marks_off++] = (double)(b - a) * 1e-9 / o->gen_len;
  }
  return rc;
}

// ---------------------------------------------------------------- isolation replay

static double uniform01(gpu_run *g) {
  g->rng = lj_splitmix64(g->rng + 0x9E3779B97F4A7C15ull);
  return (double)(g->rng >> 11) * 0x1.0p-53;
}

static int timed_launches(gpu_run *g, lj_cuda_replay *rp, int n, double *seconds) {
  LJ_TRY(lj_cuda_synchronize(g->e));
  int64_t t0 = lj_mono_ns();
  LJ_TRY(lj_cuda_replay_launch(rp, n));
  LJ_TRY(lj_cuda_synchronize(g->e));
  *seconds = (double)(lj_mono_ns() - t0) * 1e-9;
  return 0;
}

// A trial whose window (handle h) is read once the sampler stops.
static int keep_trial(gpu_run *g, int h, const lj_profile_trial *tr) {
  int *hs = realloc(g->trial_handles, sizeof(int) * (g->r->n_trials + 1));
  if (!hs) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  g->trial_handles = hs;
  hs[g->r->n_trials] = h;
  return lj_profile_add_trial(g->r, tr);
}

// Launches of rp at `duty`: back to back, `launches` of them (duty 1); or bursts of
// `burst` launches, each followed by gap_ns idle, for `seconds`. Counts what it did.
static int play(gpu_run *g, lj_cuda_replay *rp, double duty, int launches, double seconds, int burst, int64_t gap_ns,
                int64_t *done, int64_t *gap_ns_total) {
  if (duty >= 1) {
    LJ_TRY(lj_cuda_replay_launch(rp, launches));
    LJ_TRY(lj_cuda_synchronize(g->e));
    *done += launches;
    return 0;
  }
  int64_t t0 = lj_mono_ns();
  while ((double)(lj_mono_ns() - t0) < seconds * 1e9) {
    LJ_TRY(lj_cuda_replay_launch(rp, burst));
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
static int replay_span(gpu_run *g, lj_phase ph, lj_stage first, lj_stage last, int64_t kv, const lj_cuda_batch *b,
                       int groups, lj_profile_method method, int trial0, int n_trials, double seconds, double duty) {
  int L = g->r->plan.config.n_layers, per_layer = lj_stage_is_per_layer(first);
  int calls = per_layer ? L : 4;
  lj_cuda_replay *rp = NULL;
  LJ_TRY(lj_cuda_replay_create_span(g->e, first, last, b, calls, &rp));
  double t = 0;
  int rc = timed_launches(g, rp, 1, &t);
  if (rc == 0) {
    double per_call = t / calls;
    int want = (int)ceil(2e-3 / (per_call > 0 ? per_call : 1e-6));
    if (per_layer) want = (want + L - 1) / L * L;
    int cap = per_layer ? (4096 / L) * L : 4096;
    if (want > cap) want = cap;
    if (want > calls) {
      lj_cuda_replay_free(rp);
      rp = NULL;
      calls = want;
      rc = lj_cuda_replay_create_span(g->e, first, last, b, calls, &rp);
    }
  }
  if (rc == 0) rc = timed_launches(g, rp, 3, &t);
  double per_launch = t / 3 > 1e-7 ? t / 3 : 1e-7;
  int launches = rc == 0 ? (int)ceil(seconds / per_launch) : 0;
  if (launches < 1) launches = 1;
  // Duty below 1: bursts of ~2 ms, each followed by an idle gap, so that the mean
  // power stays near the real run's instead of sitting at the power cap.
  if (!(duty > 0 && duty < 1)) duty = 1;
  int burst = (int)ceil(2e-3 / per_launch);
  if (burst < 1) burst = 1;
  int64_t gap_ns = (int64_t)(burst * per_launch * (1 - duty) / duty * 1e9);
  for (int k = trial0; rc == 0 && k < trial0 + n_trials && !interrupted(g); k++) {
    // Pre-roll of the same pattern, its length random over one update of the counter
    // so that the window's start falls at a random point of the counter's 100 ms grid.
    int64_t offset = (int64_t)(uniform01(g) * 100e6), pre_done = 0, pre_gap = 0;
    double pre_s = k_preroll_s + (double)offset * 1e-9;
    rc = play(g, rp, duty, (int)ceil(pre_s / per_launch), pre_s, burst, gap_ns, &pre_done, &pre_gap);
    if (rc < 0) break;
    char name[64];
    if (method == LJ_METHOD_SEQUENCE)
      snprintf(name, sizeof name, "sequence:%s:%s..%s#%d", lj_phase_name(ph), lj_stage_name(first),
               lj_stage_name(last), k);
    else
      snprintf(name, sizeof name, "replay:%s:%s:%lld:g%d#%d", lj_phase_name(ph), lj_stage_name(last), (long long)kv,
               groups, k);
    int h = lj_profile_meter_begin(&g->m, name);  // play() synchronised: the pre-roll is done
    if (h < 0) {
      rc = h;
      break;
    }
    int64_t done = 0, gap_ns_total = 0;
    rc = play(g, rp, duty, launches, seconds, burst, gap_ns, &done, &gap_ns_total);
    int erc = lj_profile_meter_end(&g->m, h);
    if (rc == 0) rc = erc;
    if (rc < 0) break;
    lj_profile_trial tr;
    memset(&tr, 0, sizeof tr);
    tr.key.phase = ph, tr.key.stage = last, tr.key.layer = -1, tr.key.kv_len = kv;
    tr.trial = k, tr.groups = groups, tr.method = method;
    tr.gap_s = (double)gap_ns_total * 1e-9;
    tr.t.calls = done * calls;
    tr.t.temperature_c = lj_profile_meter_temperature(&g->m);
    tr.t.start_offset_ns = offset;
    tr.t.idle_w = g->m.idle_w;
    rc = keep_trial(g, h, &tr);
  }
  lj_cuda_replay_free(rp);
  return rc;
}

// Isolation replay of `stage` (the profile's replay duty).
static int replay_stage(gpu_run *g, lj_phase ph, lj_stage st, int64_t kv, const lj_cuda_batch *b, int groups,
                        int n_trials, double seconds) {
  int rc = replay_span(g, ph, st, st, kv, b, groups, LJ_METHOD_ISOLATION, 0, n_trials, seconds, g->o->replay_duty);
  step_done(g);
  return rc;
}

// A real prefill (its activations stay in the buffers), then b set up as that prefill's batch.
static int prefill_state(gpu_run *g, lj_cuda_batch *b) {
  LJ_TRY(unit_prefill(g));
  int *zeros = g->prompt_lens + g->o->batch;
  LJ_TRY(lj_cuda_rewind(g->e, g->o->batch, zeros));
  return lj_cuda_prepare_batch(g->e, g->o->batch, g->prompt.ids, g->n_tokens, b);
}

static int replay_prefill(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(prefill_state(g, &b));
  for (int st = LJ_STAGE_EMBED; st <= LJ_STAGE_LM_HEAD; st++) {
    STOP_IF_INTERRUPTED(g);
    LJ_TRY(replay_stage(g, LJ_PHASE_PREFILL, (lj_stage)st, 0, &b, 0, g->o->trials, g->o->replay_seconds));
  }
  return 0;
}

// ---------------------------------------------------------------- context (prefill)

// The stages measured in context: every per-layer stage and the LM head (embed and the
// final norm run once per prefill for ~2 us: their difference would drown in the noise).
static const lj_stage k_context_stages[] = {LJ_STAGE_ATTN_NORM, LJ_STAGE_QKV,     LJ_STAGE_ROPE,   LJ_STAGE_ATTN,
                                            LJ_STAGE_O_PROJ,    LJ_STAGE_FFN_NORM, LJ_STAGE_GATE_UP, LJ_STAGE_SWIGLU,
                                            LJ_STAGE_DOWN,      LJ_STAGE_LM_HEAD};
#define N_CONTEXT_STAGES ((int)(sizeof k_context_stages / sizeof *k_context_stages))

// Seconds per prefill unit, over >= 20 ms of units (after one to capture the graph).
static int unit_seconds(gpu_run *g, double *s) {
  LJ_TRY(unit_prefill(g));
  LJ_TRY(unit_prefill(g));
  int64_t t0 = lj_mono_ns(), n = 0;
  do {
    LJ_TRY(unit_prefill(g));
    n++;
  } while (lj_mono_ns() - t0 < 20000000);
  *s = (double)(lj_mono_ns() - t0) * 1e-9 / (double)n;
  return 0;
}

// Copies per call of st: enough that the extra calls add ~30% to the unit's time (a
// difference well above the windows' noise), at most 16, and at most ~25 us of copies in
// a row (no longer than the heaviest single stage call), so the GPU around them stays
// as busy as in the run.
static int context_copies(gpu_run *g, lj_stage st, double plain_s, int *copies) {
  LJ_TRY(lj_cuda_set_stage_copies(g->e, st, 1));
  double one = 0;
  LJ_TRY(unit_seconds(g, &one));
  double calls = lj_profile_calls_per_unit(&g->r->plan, LJ_PHASE_PREFILL, st, 0);
  double per_call = (one - plain_s) / calls;
  int k = 1;
  if (per_call > 0) {
    double by_share = 0.3 * plain_s / (per_call * calls), by_run = 25e-6 / per_call;
    double want = by_share < by_run ? by_share : by_run;
    k = want < 1 ? 1 : want > 16 ? 16 : (int)want;
  }
  *copies = k;
  return 0;
}

// One context window: prefill units with st copied `copies` times (st LJ_STAGE_COUNT:
// the plain unit) for replay_seconds, after a pre-roll of random length.
static int context_window(gpu_run *g, lj_stage st, int copies, int trial) {
  LJ_TRY(lj_cuda_set_stage_copies(g->e, st == LJ_STAGE_COUNT ? LJ_STAGE_EMBED : st, copies));
  LJ_TRY(unit_prefill(g));  // eager, and the graph captured with the copies
  LJ_TRY(preroll_units(g, unit_prefill, k_preroll_s + uniform01(g) * 0.1));
  char name[64];
  snprintf(name, sizeof name, "context:prefill:%s:x%d#%d", st == LJ_STAGE_COUNT ? "none" : lj_stage_name(st),
           copies, trial);
  int h = lj_profile_meter_begin(&g->m, name);
  if (h < 0) return h;
  int64_t t0 = lj_mono_ns(), units = 0;
  int rc = 0;
  do {
    rc = unit_prefill(g);
    units++;
  } while (rc == 0 && (double)(lj_mono_ns() - t0) < g->o->replay_seconds * 1e9 && !interrupted(g));
  int erc = lj_profile_meter_end(&g->m, h);
  LJ_TRY(rc);
  LJ_TRY(erc);
  lj_profile_trial tr;
  memset(&tr, 0, sizeof tr);
  tr.key.phase = LJ_PHASE_PREFILL, tr.key.stage = st, tr.key.layer = -1, tr.key.kv_len = 0;
  tr.trial = trial, tr.method = LJ_METHOD_CONTEXT, tr.copies = copies, tr.units = units;
  double calls = st == LJ_STAGE_COUNT ? 1 : lj_profile_calls_per_unit(&g->r->plan, LJ_PHASE_PREFILL, st, 0);
  tr.t.calls = st == LJ_STAGE_COUNT ? units : (int64_t)llround((double)units * calls * copies);
  tr.t.temperature_c = lj_profile_meter_temperature(&g->m);
  tr.t.idle_w = g->m.idle_w;
  return keep_trial(g, h, &tr);
}

// Each trial round: the plain unit, then every context stage amplified; rounds alternate
// so that drift (temperature) spreads over all of them.
static int context_prefill(gpu_run *g) {
  double plain_s = 0;
  LJ_TRY(lj_cuda_set_stage_copies(g->e, LJ_STAGE_EMBED, 0));
  LJ_TRY(unit_seconds(g, &plain_s));
  int copies[N_CONTEXT_STAGES];
  for (int i = 0; i < N_CONTEXT_STAGES; i++) LJ_TRY(context_copies(g, k_context_stages[i], plain_s, &copies[i]));
  for (int k = 0; k < g->o->trials; k++) {
    STOP_IF_INTERRUPTED(g);
    LJ_TRY(context_window(g, LJ_STAGE_COUNT, 0, k));
    for (int i = 0; i < N_CONTEXT_STAGES; i++) {
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(context_window(g, k_context_stages[i], copies[i], k));
    }
    step_done(g);
  }
  return lj_cuda_set_stage_copies(g->e, LJ_STAGE_EMBED, 0);
}

// ---------------------------------------------------------------- sequence replay

// Every prefix of the layer (attn_norm, attn_norm..qkv, ..., the whole layer) on batch b,
// cycling all layers back to back: stage k's energy is then what it adds after the stages
// before it, transitions between stages included. Back to back, because the whole layer's
// mean power is the run's own. Each round replays every prefix once, so that drift shares
// the rounds.
static int sequence_rounds(gpu_run *g, lj_phase ph, int64_t kv, const lj_cuda_batch *b) {
  for (int k = 0; k < g->o->trials; k++) {
    for (int st = LJ_STAGE_ATTN_NORM; st <= LJ_STAGE_DOWN; st++) {
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(replay_span(g, ph, LJ_STAGE_ATTN_NORM, (lj_stage)st, kv, b, 0, LJ_METHOD_SEQUENCE, k, 1,
                         g->o->replay_seconds, 1));
    }
    step_done(g);
  }
  return 0;
}

static int sequence_prefill(gpu_run *g) {
  lj_cuda_batch b;
  LJ_TRY(prefill_state(g, &b));
  return sequence_rounds(g, LJ_PHASE_PREFILL, 0, &b);
}

// The engine brought to `kv` cached positions by a real prefill and generation;
// b then describes the next decode step.
static int decode_state_at(gpu_run *g, int64_t kv, lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  LJ_TRY(unit_prefill(g));
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
  return rc;
}

static int replay_decode(gpu_run *g) {
  const lj_profile_plan *p = &g->r->plan;
  int mid = p->n_decode_kv / 2;
  for (int j = 0; j < p->n_decode_kv; j++) {
    STOP_IF_INTERRUPTED(g);
    int64_t kv = p->decode_kv[j];
    lj_cuda_batch b;
    LJ_TRY(decode_state_at(g, kv, &b));
    for (int st = LJ_STAGE_EMBED; st <= LJ_STAGE_SAMPLE; st++) {
      if (j > 0 && st != LJ_STAGE_ATTN) continue;  // only attention's work grows with the cache
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(replay_stage(g, LJ_PHASE_DECODE, (lj_stage)st, kv, &b, 0, g->o->trials, g->o->replay_seconds));
    }
    if (j == mid && g->o->sequence) LJ_TRY(sequence_rounds(g, LJ_PHASE_DECODE, kv, &b));
    if (j == mid && g->o->head_fit) {
      // Attention with 1 .. n_kv_heads KV groups: energy = fixed + per group x groups.
      double secs = g->o->replay_seconds / 2 > 1 ? g->o->replay_seconds / 2 : 1;
      int rc = 0;
      for (int grp = 1; rc == 0 && grp <= p->config.n_kv_heads && !interrupted(g); grp++) {
        rc = lj_cuda_set_attn_groups(g->e, grp);
        if (rc == 0) rc = replay_stage(g, LJ_PHASE_DECODE, LJ_STAGE_ATTN, kv, &b, grp, 1, secs);
      }
      lj_cuda_set_attn_groups(g->e, 0);
      LJ_TRY(rc);
    }
  }
  return 0;
}

// ---------------------------------------------------------------- ablation and overhead

static int run_ablation(gpu_run *g) {
  uint32_t mask = g->o->ablation == 2 ? (1u << LJ_STAGE_GATE_UP) | (1u << LJ_STAGE_SWIGLU) | (1u << LJ_STAGE_DOWN)
                                      : 1u << LJ_STAGE_ATTN;
  for (int rep = 0; rep < g->o->repeats && rep < LJ_PROFILE_MAX_PAIRS && !interrupted(g); rep++) {
    for (int ablated = 0; ablated < 2; ablated++) {
      lj_cuda_set_skip_mask(g->e, ablated ? mask : 0);
      LJ_TRY(unit_decode(g));  // capture the graph for this mask outside the window
      char name[64];
      snprintf(name, sizeof name, "ablation:%s#%d", ablated ? (g->o->ablation == 2 ? "no_mlp" : "no_attn") : "full",
               rep);
      int h = -1;
      int64_t units = 0;
      double host_s = 0;
      int rc = timed_window(g, name, unit_decode, 1 << 20, k_preroll_s, &h, &units, &host_s);
      if (rc < 0) {
        lj_cuda_set_skip_mask(g->e, 0);
        return rc;
      }
      int i = g->n_abl[ablated]++;
      g->abl_handles[ablated][i] = h;
      g->abl_units[ablated][i] = units;
    }
    step_done(g);
  }
  lj_cuda_set_skip_mask(g->e, 0);
  return 0;
}

// Decode units for >= 0.5 s; seconds per decode step.
static int decode_rate(gpu_run *g, double *s_per_step) {
  int64_t t0 = lj_mono_ns(), t1 = t0, units = 0;
  do {
    LJ_TRY(unit_decode(g));
    units++;
    t1 = lj_mono_ns();
  } while (t1 - t0 < 500000000);
  *s_per_step = (double)(t1 - t0) * 1e-9 / ((double)units * g->o->gen_len);
  return 0;
}

// The meter's sampler is off here; a second sampler on the same source stands in for it.
static int run_overhead(gpu_run *g) {
  LJ_TRY(unit_decode(g));
  for (int pair = 0; pair < 3 && !interrupted(g); pair++) {
    double off = 0, on = 0;
    LJ_TRY(decode_rate(g, &off));
    lj_sampler_config cfg;
    lj_sampler_config_default(&cfg);
    lj_sampler *s = NULL;
    LJ_TRY(lj_sampler_create(&s, g->m.src, &cfg));
    int rc = lj_sampler_start(s);
    if (rc == 0) rc = decode_rate(g, &on);
    lj_sampler_free(s);
    LJ_TRY(rc);
    g->raw.sampler_off_s[g->raw.n_sampler_off++] = off;
    g->raw.sampler_on_s[g->raw.n_sampler_on++] = on;
  }
  step_done(g);
  return 0;
}

// ---------------------------------------------------------------- the run

static int plan(gpu_run *g) {
  LJ_TRY(lj_profile_plan_make(g->o, &g->r->plan, &g->ckpt_dir));
  snprintf(g->r->plan.engine, sizeof g->r->plan.engine, "cuda");
  if (g->ckpt_dir && g->o->device != 0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--device %d with a checkpoint directory: use CUDA_VISIBLE_DEVICES=%d instead",
                   g->o->device, g->o->device);
  return 0;
}

static int measure(gpu_run *g) {
  const lj_profile_options *o = g->o;
  lj_profile_result *r = g->r;
  int R = o->repeats, B = o->batch;
  int n_replays = 13 + 14 + (r->plan.n_decode_kv - 1) + (o->head_fit ? r->plan.config.n_kv_heads : 0);
  int n_context = o->context ? o->trials : 0, n_sequence = o->sequence ? 2 * o->trials : 0;
  lj_progress_begin(&g->progress, "profile", 1 + 4 * R + (o->timeline ? 1 : 0) + n_replays + n_context + n_sequence +
                                                  (o->ablation ? R : 0) + (o->overhead ? 1 : 0));
  LJ_TRY(lj_profile_meter_start(&g->m));
  // Load: repeated (at most 5 times) until the window is long enough.
  LJ_TRY(phase_window(g, LJ_PHASE_LOAD, 0, 0, load_once, 5));
  STOP_IF_INTERRUPTED(g);
  if (!g->e) return LJ_FAIL(LJ_EINVAL, "profile: the model did not load");
  LJ_TRY(lj_profile_prompt_build(o, &r->plan.config, g->ckpt_dir, &g->prompt, r));
  // Warm-up: cuBLASLt plans, the decode graph, the generated ids for detokenize.
  LJ_TRY(unit_prefill(g));
  LJ_TRY(unit_decode(g));
  keep_generated(g);
  int64_t prompt_tokens = (int64_t)B * o->prompt_len, gen_tokens = (int64_t)B * o->gen_len;
  for (int rep = 0; rep < R; rep++) {
    STOP_IF_INTERRUPTED(g);
    if (g->prompt.tok)
      LJ_TRY(phase_window(g, LJ_PHASE_TOKENIZE, rep, (int64_t)B * g->prompt.text_tokens, unit_tokenize, 1 << 30));
    else
      step_done(g);
    LJ_TRY(phase_window(g, LJ_PHASE_PREFILL, rep, prompt_tokens, unit_prefill, 1 << 30));
    STOP_IF_INTERRUPTED(g);
    LJ_TRY(phase_window(g, LJ_PHASE_DECODE, rep, gen_tokens, unit_decode, 1 << 30));
    keep_generated(g);
    if (g->prompt.tok)
      LJ_TRY(phase_window(g, LJ_PHASE_DETOKENIZE, rep, gen_tokens, unit_detokenize, 1 << 30));
    else
      step_done(g);
  }
  if (o->timeline) LJ_TRY(run_timeline(g));
  STOP_IF_INTERRUPTED(g);
  LJ_TRY(replay_prefill(g));
  if (o->context) LJ_TRY(context_prefill(g));
  if (o->sequence) LJ_TRY(sequence_prefill(g));
  LJ_TRY(replay_decode(g));
  if (o->ablation) LJ_TRY(run_ablation(g));
  return 0;
}

// Window results into the result (after the sampler stopped: every window is final).
static void collect(gpu_run *g) {
  lj_profile_result *r = g->r;
  lj_windows *w = lj_sampler_windows(g->m.sampler);
  for (size_t i = 0; i < r->n_windows; i++) lj_windows_result(w, g->window_handles[i], g->m.dev, &r->windows[i].w);
  for (size_t i = 0; i < r->n_trials; i++) {
    lj_window_result wr;
    lj_profile_trial *t = &r->trials[i];
    if (lj_windows_result(w, g->trial_handles[i], g->m.dev, &wr) < 0) continue;
    lj_replay_trial keep = t->t;
    lj_replay_trial_from_window(&wr, keep.calls, keep.temperature_c, keep.idle_w, &t->t);
    t->t.start_offset_ns = keep.start_offset_ns;
    if (t->gap_s > 0) {  // the idle gaps of a duty-cycled trial: neither the stage's time nor its energy
      t->t.counter_energy_j -= keep.idle_w * t->gap_s;
      t->t.sample_energy_j -= keep.idle_w * t->gap_s;
      t->t.duration_s -= t->gap_s;
    }
  }
  for (int a = 0; a < 2; a++)
    for (int i = 0; i < g->n_abl[a]; i++) {
      lj_window_result wr;
      if (lj_windows_result(w, g->abl_handles[a][i], g->m.dev, &wr) < 0 || g->abl_units[a][i] <= 0) continue;
      if (wr.flags & LJ_WINDOW_NO_COUNTER) continue;
      double per_unit = wr.counter_above_idle_j / (double)g->abl_units[a][i];
      if (a) g->raw.ablated_j[g->raw.n_ablated++] = per_unit;
      else g->raw.full_j[g->raw.n_full++] = per_unit;
    }
  lj_clear_error();
}

static void throttle_names(uint64_t mask, char *buf, size_t cap) {
  static const char *const names[] = {"gpu_idle", "applications_clocks", "sw_power_cap", "hw_slowdown",
                                      "sync_boost", "sw_thermal", "hw_thermal", "hw_power_brake", "display_clock"};
  buf[0] = '\0';
  size_t used = 0;
  for (unsigned b = 0; b < sizeof names / sizeof *names; b++)
    if (mask & (1ull << b)) used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s", used ? "," : "", names[b]);
  if (!used) snprintf(buf, cap, "none");
}

int lj_profile_run_gpu(const lj_profile_options *o, lj_profile_result *r) {
  gpu_run g;
  memset(&g, 0, sizeof g);
  g.o = o, g.r = r;
  g.rng = o->seed ^ 0x9E3779B97F4A7C15ull;
  r->cond.begin_wall_ns = lj_wall_ns();
  lj_cuda_driver_version(r->cond.cuda_driver, (int)sizeof r->cond.cuda_driver);
  int rc = plan(&g);
  int B = o->batch;
  g.n_tokens = malloc(sizeof(int) * (size_t)B);
  g.prompt_lens = malloc(sizeof(int) * 2 * (size_t)B);
  g.gen_steps = malloc(sizeof(int32_t) * (size_t)B * (size_t)o->gen_len);
  g.gen_ids = malloc(sizeof(int32_t) * (size_t)B * (size_t)o->gen_len);
  if (rc == 0 && (!g.n_tokens || !g.prompt_lens || !g.gen_steps || !g.gen_ids))
    rc = LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  if (rc == 0)
    for (int s = 0; s < B; s++) g.n_tokens[s] = o->prompt_len, g.prompt_lens[s] = o->prompt_len, g.prompt_lens[B + s] = 0;
  if (rc == 0) rc = lj_profile_meter_open(&g.m, o, r);
  if (rc == 0) rc = measure(&g);
  // Whatever happened, keep what was measured: stop, collect, analyse.
  int keep_rc = rc;
  char keep_msg[1024];
  snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  if (g.m.sampler) {
    int src = lj_profile_meter_stop(&g.m, r);
    collect(&g);
    if (keep_rc == 0 && src < 0) keep_rc = src, snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  if (keep_rc == 0 && o->overhead && g.e) {
    keep_rc = run_overhead(&g);
    if (keep_rc < 0) snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_progress_end(&g.progress);
  r->cond.end_wall_ns = lj_wall_ns();
  throttle_names(r->cond.throttle_seen, r->cond.throttle_text, sizeof r->cond.throttle_text);
  if (r->cond.temperature_min_c > r->cond.temperature_max_c) r->cond.temperature_min_c = r->cond.temperature_max_c = NAN;
  if (r->cond.sm_clock_min_mhz > r->cond.sm_clock_max_mhz) r->cond.sm_clock_min_mhz = r->cond.sm_clock_max_mhz = NAN;
  if (r->cond.mem_clock_min_mhz > r->cond.mem_clock_max_mhz) r->cond.mem_clock_min_mhz = r->cond.mem_clock_max_mhz = NAN;
  if (keep_rc < 0) lj_profile_note(r, "The run stopped early: %s.", keep_msg);
  r->complete = keep_rc == 0;
  int arc = lj_profile_analyze(r, &g.raw, g.m.power, g.m.n_power, g.m.dev);
  if (arc == 0 && isfinite(r->stamp_cost_s))
    lj_profile_note(r, "In-situ times per call have %.2f us taken off each stage call: the cost of one timestamp "
                       "kernel, from the timeline's overhead.", r->stamp_cost_s * 1e6);
  if (arc < 0) {
    lj_profile_note(r, "Analysis failed: %s.", lj_error_message());
    if (keep_rc == 0) keep_rc = arc, snprintf(keep_msg, sizeof keep_msg, "%s", lj_error_message());
  }
  lj_profile_prompt_free(&g.prompt);
  lj_cuda_engine_free(g.e);
  lj_profile_meter_close(&g.m);
  free(g.n_tokens);
  free(g.prompt_lens);
  free(g.gen_steps);
  free(g.gen_ids);
  free(g.window_handles);
  free(g.trial_handles);
  if (keep_rc < 0) return LJ_FAIL(keep_rc, "%s", keep_msg);
  return 0;
}
