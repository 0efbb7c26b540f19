// Attribution against a synthetic engine timeline with known per-stage power,
// played through the replay power source, the sampler and its windows
// (manual clock).
//
// The synthetic engine: 2 layers, a prefill pass and 50 decode steps; each
// stage has a constant power and a duration that is a multiple of 20 ms; idle
// is 100 W. The trace it implies: driver-buffer power samples every 20 ms
// (the power at that instant; a stage owns its begin, not its end) and the
// energy counter every 100 ms (the exact integral of the power). Then:
// isolation-replay trials of every stage (2.4 s, 3 trials with random
// offsets and powers -2, 0, +2 W around the stage's), three full and three
// ablated runs (attention skipped), and one stage replayed wrongly (+30 W,
// 20% faster) for a known closure error.
//
// Exact (tolerance 1e-9 relative, rounding): every window that starts and
// ends on the counter's 100 ms grid (phases, trials, runs), hence the replay
// per-call energies by the counter, the closure sums and errors, the ablation.
// The trials are shorter than LJ_SAMPLE_WINDOW_MAX_S, so their estimates are the
// samples' (flagged sample_energy), the counter's beside them; the closures here
// sum the counter's, whose exactness isolates the closure's arithmetic. Not exact: the
// driver-buffer integral, which interpolates linearly across a power step
// between two 20 ms samples; its error is known in closed form,
// (20 ms / 2) x (P_after - P_before) per step, and asserted as such.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>

#include "common/error.h"
#include "llamajoule/meter.h"
#include "model/config.h"
#include "profile/attribution.h"
#include "profile/budget.h"
#include "profile/profile_analyze.h"
#include "report/report.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define G (20 * MS)        // driver sample period; every duration is a multiple of it
#define T0 (1000 * SEC)    // the trace's first sample
#define IDLE_W 100.0
#define LAYERS 2
#define STEPS 50
#define REPLAY_NS (2400 * MS)  // one trial: 120 x 20 ms, divisible by every stage's length
#define TRIALS 3
#define LEVEL 0.95

#define REL(a, b, rel)                                                                          \
  do {                                                                                          \
    double got_ = (a), want_ = (b);                                                             \
    if (!(fabs(got_ - want_) <= (rel) * (fabs(want_) + 1e-300)))                                \
      fail_msg("%s = %.15g, expected %s = %.15g", #a, got_, #b, want_);                        \
  } while (0)
#define EXACT(a, b) REL(a, b, 1e-9)
#define ABS(a, b, tol)                                                                          \
  do {                                                                                          \
    double got_ = (a), want_ = (b);                                                             \
    if (!(fabs(got_ - want_) <= (tol))) fail_msg("%s = %.15g, expected %.15g", #a, got_, want_); \
  } while (0)

// Power (W) and length (multiples of 20 ms) of each stage, per phase.
typedef struct {
  double w;
  int len;
} stage_load;
// A degree-1 run: the all-reduce stages (after o_proj and down) do not run ({0, 0}); it has 13 stages.
enum { RUN_STAGES = 13 };
static const stage_load load[2][LJ_STAGE_COUNT] = {
    // prefill: one pass of 2 + 2 x 22 + 1 + 2 + 1 = 50 x 20 ms = 1 s
    {{180, 2}, {200, 1}, {600, 3}, {220, 1}, {550, 4}, {590, 2}, {0, 0}, {200, 1}, {650, 6}, {300, 1}, {620, 3},
     {0, 0}, {160, 1}, {520, 2}, {130, 1}},
    // decode: one step of 1 + 2 x 14 + 1 + 2 + 1 = 33 x 20 ms, after a 20 ms gap
    {{150, 1}, {160, 1}, {400, 2}, {170, 1}, {300, 2}, {380, 1}, {0, 0}, {160, 1}, {450, 3}, {200, 1}, {420, 2},
     {0, 0}, {155, 1}, {500, 2}, {130, 1}},
};
static const double trial_offset_w[TRIALS] = {-2, 0, 2};

static const stage_load *load_of(lj_phase p, lj_stage s) { return &load[p == LJ_PHASE_DECODE][s]; }
static int64_t call_ns(lj_phase p, lj_stage s) { return load_of(p, s)->len * G; }
static int64_t calls_in_phase(lj_phase p, lj_stage s) {
  return (int64_t)(lj_stage_is_per_layer(s) ? LAYERS : 1) * (p == LJ_PHASE_DECODE ? STEPS : 1);
}

// ---------------------------------------------------------------- the synthetic engine

typedef struct {
  int64_t b, e;
  double w;
} segment;

typedef struct {
  segment *seg;  // busy segments in time order; idle elsewhere
  size_t n_seg, cap_seg;
  lj_stage_interval *iv;  // the in-situ intervals (prefill and decode only)
  size_t n_iv, cap_iv;
  int64_t now;   // the cursor
} engine;

static void push_segment(engine *en, int64_t len, double w) {
  if (en->n_seg == en->cap_seg) {
    en->cap_seg = en->cap_seg ? 2 * en->cap_seg : 1024;
    en->seg = realloc(en->seg, en->cap_seg * sizeof *en->seg);
    assert_non_null(en->seg);
  }
  en->seg[en->n_seg++] = (segment){en->now, en->now + len, w};
  en->now += len;
}

static void push_interval(engine *en, lj_phase p, lj_stage s, int layer) {
  if (en->n_iv == en->cap_iv) {
    en->cap_iv = en->cap_iv ? 2 * en->cap_iv : 1024;
    en->iv = realloc(en->iv, en->cap_iv * sizeof *en->iv);
    assert_non_null(en->iv);
  }
  const segment *sg = &en->seg[en->n_seg - 1];
  en->iv[en->n_iv++] = (lj_stage_interval){.begin_ns = sg->b, .end_ns = sg->e, .phase = p, .stage = s, .layer = layer};
}

static void run_stage(engine *en, lj_phase p, lj_stage s, int layer, double extra_w, int record) {
  push_segment(en, call_ns(p, s), load_of(p, s)->w + extra_w);
  if (record) push_interval(en, p, s, layer);
}

// One forward pass; `skip` a stage (ablation) or LJ_STAGE_COUNT.
static void forward(engine *en, lj_phase p, double extra_w, lj_stage skip, int record) {
  run_stage(en, p, LJ_STAGE_EMBED, -1, extra_w, record);
  for (int l = 0; l < LAYERS; l++)
    for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1))
      if (s != (int)skip) run_stage(en, p, (lj_stage)s, l, extra_w, record);
  for (int s = LJ_STAGE_FINAL_NORM; s <= LJ_STAGE_SAMPLE; s = lj_stage_next(s, 1))
    run_stage(en, p, (lj_stage)s, -1, extra_w, record);
}

static void idle(engine *en, int64_t len) { en->now += len; }

// Power at t: a segment owns [b, e).
static double power_at(const engine *en, int64_t t) {
  size_t lo = 0, hi = en->n_seg;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (en->seg[mid].b <= t) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && t < en->seg[lo - 1].e) return en->seg[lo - 1].w;
  return IDLE_W;
}

// The true energy over [a, b]: idle plus every segment's excess.
static double true_energy(const engine *en, int64_t a, int64_t b) {
  double e = IDLE_W * (double)(b - a) * 1e-9;
  for (size_t i = 0; i < en->n_seg; i++) {
    int64_t lo = en->seg[i].b > a ? en->seg[i].b : a, hi = en->seg[i].e < b ? en->seg[i].e : b;
    if (hi > lo) e += (en->seg[i].w - IDLE_W) * (double)(hi - lo) * 1e-9;
  }
  return e;
}

static void add_sample(lj_trace *t, lj_reading r, int64_t t_ns, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns;
  s.reading = (uint8_t)r;
  s.value = v;
  assert_int_equal(lj_trace_append(t, &s, 1), 0);
}

static void make_trace(const engine *en, lj_trace *t) {
  lj_trace_init(t);
  lj_device_info dev;
  memset(&dev, 0, sizeof dev);
  strcpy(dev.name, "synthetic engine");
  strcpy(dev.source, "replay");
  assert_int_equal(lj_trace_add_device(t, &dev), 0);
  for (int64_t ts = T0; ts <= en->now; ts += G) add_sample(t, LJ_READING_POWER_SAMPLE, ts, power_at(en, ts));
  double e = 5000.0;  // the counter's value at T0 (J since driver load)
  for (int64_t ts = T0; ts <= en->now; ts += 100 * MS) {
    if (ts > T0) e += true_energy(en, ts - 100 * MS, ts);
    add_sample(t, LJ_READING_ENERGY, ts, e);
  }
}

// ---------------------------------------------------------------- the recorded run

typedef struct {
  int64_t b, e;
} span;

typedef struct {
  engine en;
  span prefill, decode;
  span full[TRIALS], ablated[TRIALS];
  span trial[2][LJ_STAGE_COUNT][TRIALS];
  span wrong[TRIALS];  // GATE_UP in decode, replayed +30 W and 20% faster
  int64_t offset[2][LJ_STAGE_COUNT][TRIALS];
} plan;

static int64_t aligned_offset(uint32_t *rng) {
  *rng = *rng * 1664525u + 1013904223u;  // Numerical Recipes' LCG: a fixed, seeded "random" offset
  return (int64_t)(1 + (*rng >> 16) % 5) * 100 * MS;
}

static void build_plan(plan *pl) {
  memset(pl, 0, sizeof *pl);
  engine *en = &pl->en;
  en->now = T0 + SEC;
  pl->prefill.b = en->now;
  forward(en, LJ_PHASE_PREFILL, 0, LJ_STAGE_COUNT, 1);
  pl->prefill.e = en->now;
  idle(en, 500 * MS);
  pl->decode.b = en->now;
  for (int k = 0; k < STEPS; k++) {
    idle(en, G);  // launch gap before each step
    forward(en, LJ_PHASE_DECODE, 0, LJ_STAGE_COUNT, 1);
  }
  pl->decode.e = en->now;
  // ablation: 5 decode steps with and without attention, all powers +(r - 1) W in repeat r
  for (int r = 0; r < TRIALS; r++) {
    idle(en, 500 * MS);
    pl->full[r].b = en->now;
    for (int k = 0; k < 5; k++) forward(en, LJ_PHASE_DECODE, r - 1.0, LJ_STAGE_COUNT, 0);
    pl->full[r].e = en->now;
    idle(en, 500 * MS);
    pl->ablated[r].b = en->now;
    for (int k = 0; k < 5; k++) forward(en, LJ_PHASE_DECODE, r - 1.0, LJ_STAGE_ATTN, 0);
    pl->ablated[r].e = en->now;
  }
  // isolation replay: each stage of each phase, back to back for 2.4 s, after a random idle offset
  uint32_t rng = 12345;
  for (int p = 0; p < 2; p++) {
    lj_phase phase = p ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL;
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1))
      for (int k = 0; k < TRIALS; k++) {
        pl->offset[p][s][k] = aligned_offset(&rng);
        idle(en, pl->offset[p][s][k]);
        pl->trial[p][s][k].b = en->now;
        push_segment(en, REPLAY_NS, load_of(phase, (lj_stage)s)->w + trial_offset_w[k]);
        pl->trial[p][s][k].e = en->now;
      }
  }
  for (int k = 0; k < TRIALS; k++) {
    idle(en, aligned_offset(&rng));
    pl->wrong[k].b = en->now;
    push_segment(en, REPLAY_NS, load_of(LJ_PHASE_DECODE, LJ_STAGE_GATE_UP)->w + 30 + trial_offset_w[k]);
    pl->wrong[k].e = en->now;
  }
  idle(en, SEC);
}

// ---------------------------------------------------------------- playing it through the meter

typedef struct {
  lj_sample *s;
  size_t n, cap;
} collected;

static int collect(void *user, const lj_sample *s, size_t n) {
  collected *c = user;
  if (c->n + n > c->cap) {
    c->cap = (c->n + n) * 2;
    c->s = realloc(c->s, c->cap * sizeof *c->s);
    if (!c->s) return -1;
  }
  memcpy(c->s + c->n, s, n * sizeof *s);
  c->n += n;
  return 0;
}

typedef struct {
  plan pl;
  lj_trace trace;
  lj_source *src;
  lj_sampler *sampler;
  collected samples;
  int h_prefill, h_decode, h_full[TRIALS], h_ablated[TRIALS], h_trial[2][LJ_STAGE_COUNT][TRIALS], h_wrong[TRIALS];
  lj_timeline_result timeline;
  double *interval_j;
} world;

static int window(world *w, const char *name, span sp) {
  lj_windows *ws = lj_sampler_windows(w->sampler);
  int h = lj_windows_begin(ws, name, sp.b);
  assert_true(h >= 0);
  assert_int_equal(lj_windows_end(ws, h, sp.e), 0);
  return h;
}

static lj_window_result result(world *w, int h) {
  lj_window_result r;
  assert_int_equal(lj_windows_result(lj_sampler_windows(w->sampler), h, 0, &r), 0);
  assert_int_equal(r.flags & (LJ_WINDOW_OPEN | LJ_WINDOW_PENDING | LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES), 0);
  return r;
}

static int setup(void **state) {
  world *w = calloc(1, sizeof *w);
  assert_non_null(w);
  build_plan(&w->pl);
  make_trace(&w->pl.en, &w->trace);
  assert_int_equal(lj_source_open_replay(&w->src, &w->trace, 0), 0);
  lj_sampler_config c;
  lj_sampler_config_default(&c);
  c.sink = collect;
  c.sink_user = &w->samples;
  assert_int_equal(lj_sampler_create(&w->sampler, w->src, &c), 0);
  lj_windows_set_idle(lj_sampler_windows(w->sampler), 0, IDLE_W);
  w->h_prefill = window(w, "prefill", w->pl.prefill);
  w->h_decode = window(w, "decode", w->pl.decode);
  for (int r = 0; r < TRIALS; r++) {
    w->h_full[r] = window(w, "full", w->pl.full[r]);
    w->h_ablated[r] = window(w, "no attn", w->pl.ablated[r]);
    w->h_wrong[r] = window(w, "replay gate_up (wrong)", w->pl.wrong[r]);
  }
  for (int p = 0; p < 2; p++)
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1))
      for (int k = 0; k < TRIALS; k++) w->h_trial[p][s][k] = window(w, lj_stage_name((lj_stage)s), w->pl.trial[p][s][k]);
  for (int64_t t = T0; t <= w->pl.en.now; t += 10 * MS) assert_int_equal(lj_sampler_poll(w->sampler, t), 0);
  assert_int_equal(lj_sampler_stop(w->sampler), 0);
  assert_int_equal(w->samples.n, w->trace.n_samples);
  // the in-situ timeline from the samples the sampler delivered
  w->interval_j = calloc(w->pl.en.n_iv, sizeof *w->interval_j);
  assert_int_equal(lj_timeline_attribute(w->pl.en.iv, w->pl.en.n_iv, w->samples.s, w->samples.n, 0,
                                         LJ_READING_POWER_SAMPLE, IDLE_W, w->interval_j, &w->timeline),
                   0);
  *state = w;
  return 0;
}

static int teardown(void **state) {
  world *w = *state;
  lj_sampler_free(w->sampler);
  lj_source_close(w->src);
  lj_trace_free(&w->trace);
  free(w->samples.s);
  free(w->pl.en.seg);
  free(w->pl.en.iv);
  free(w->interval_j);
  free(w);
  return 0;
}

static lj_phase phase_of(int p) { return p ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL; }

static void estimate(world *w, int p, lj_stage s, const int *handles, int64_t call, lj_replay_estimate *out) {
  lj_replay_trial t[TRIALS];
  for (int k = 0; k < TRIALS; k++) {
    lj_window_result r = result(w, handles[k]);
    lj_replay_trial_from_window(&r, REPLAY_NS / call, 50.0 + k, IDLE_W, &t[k]);
  }
  const lj_timeline_stage *st = &w->timeline.stage[phase_of(p)][s];
  assert_int_equal(lj_replay_estimate_compute(t, TRIALS, st->time_s / (double)st->calls, LEVEL, out), 0);
  assert_true(out->window_flags & LJ_WINDOW_SAMPLE_ENERGY);  // 2.4 s trials
  out->key = (lj_stage_key){.phase = phase_of(p), .stage = s, .layer = lj_stage_is_per_layer(s) ? 0 : -1};
}

// ---------------------------------------------------------------- tests

// A measured phase energy without spread (one window's, or a known value).
static lj_mean_ci exact(double v) {
  lj_mean_ci m;
  lj_stats_exact(v, LEVEL, &m);
  return m;
}

static void test_replay_per_call(void **state) {
  world *w = *state;
  const double sem_w = 2.0 / sqrt(3.0);  // the trial powers -2, 0, +2 W: sd 2 W
  for (int p = 0; p < 2; p++)
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
      lj_replay_estimate e;
      estimate(w, p, (lj_stage)s, w->h_trial[p][s], call_ns(phase_of(p), (lj_stage)s), &e);
      double pw = load_of(phase_of(p), (lj_stage)s)->w, sec = (double)call_ns(phase_of(p), (lj_stage)s) * 1e-9;
      EXACT(e.counter_gross_j.mean, pw * sec);
      EXACT(e.counter_dynamic_j.mean, (pw - IDLE_W) * sec);
      EXACT(e.counter_gross_j.sem, sem_w * sec);
      EXACT(e.counter_gross_j.hi - e.counter_gross_j.mean,
            0.95 * sqrt(2 / (4 * 0.975 * 0.025)) * sem_w * sec);  // t_{0.975,2}, closed form
      EXACT(e.time_per_call_s.mean, sec);
      EXACT(e.time_ratio, 1.0);
      // the buffer ramps from the stage's power to idle over the window's last 20 ms:
      // (20 ms / 2) x (100 - P) per trial, exactly
      int64_t calls = REPLAY_NS / call_ns(phase_of(p), (lj_stage)s);
      EXACT(e.sample_gross_j.mean, pw * sec + 0.01 * (IDLE_W - pw) / (double)calls);
      // 2.4 s trials: the estimate is the samples'; their ramp (at most 1.46 x the call time in J)
      // stays inside the interval (4.97 x), so the two sources agree
      assert_int_equal(e.window_flags & (LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE), LJ_WINDOW_SAMPLE_ENERGY);
      EXACT(e.gross_j.mean, e.sample_gross_j.mean);
      EXACT(e.dynamic_j.mean, e.sample_dynamic_j.mean);
      EXACT(e.dynamic_j.hi, e.sample_dynamic_j.hi);
      EXACT(e.temperature_min_c, 50.0);
      EXACT(e.temperature_max_c, 52.0);
      assert_int_equal(e.n_trials, TRIALS);
      assert_int_equal(e.window_flags & LJ_WINDOW_SHORT, 0);
    }
  // the offsets were random and recorded
  assert_true(w->pl.offset[0][0][0] != w->pl.offset[0][0][1] || w->pl.offset[0][0][1] != w->pl.offset[0][0][2]);
}

// Closure terms for a phase; `wrong` replaces decode GATE_UP by the wrong replay.
static size_t closure_terms(world *w, int p, int wrong, lj_closure_term *terms) {
  size_t n = 0;
  for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
    lj_replay_estimate e;
    lj_stage st = (lj_stage)s;
    if (wrong && p == 1 && st == LJ_STAGE_GATE_UP)
      estimate(w, p, st, w->h_wrong, call_ns(LJ_PHASE_DECODE, st) * 8 / 10, &e);
    else
      estimate(w, p, st, w->h_trial[p][s], call_ns(phase_of(p), st), &e);
    // the counter's figures (exact on its grid); one estimate stands for both layers: one term
    // with the summed calls
    e.gross_j = e.counter_gross_j, e.dynamic_j = e.counter_dynamic_j;
    lj_closure_term_from_estimate(&e, calls_in_phase(phase_of(p), st), &terms[n++]);
  }
  return n;
}

static void test_closure(void **state) {
  world *w = *state;
  for (int p = 0; p < 2; p++) {
    lj_phase phase = phase_of(p);
    lj_window_result m = result(w, p ? w->h_decode : w->h_prefill);
    span sp = p ? w->pl.decode : w->pl.prefill;
    // the phase's energy is what the synthetic engine spent: stages plus idle gaps
    double stages_j = 0, stages_dyn_j = 0, se2 = 0, v2_over_df = 0;
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
      double calls = (double)calls_in_phase(phase, (lj_stage)s), sec = (double)call_ns(phase, (lj_stage)s) * 1e-9;
      stages_j += calls * load_of(phase, (lj_stage)s)->w * sec;
      stages_dyn_j += calls * (load_of(phase, (lj_stage)s)->w - IDLE_W) * sec;
      double v = calls * calls * (4.0 / 3.0) * sec * sec;  // calls^2 sem^2, sem = 2 W x sec / sqrt(3)
      se2 += v;
      v2_over_df += v * v / 2;
    }
    double gaps_j = p ? STEPS * 0.02 * IDLE_W : 0;
    EXACT(m.counter_energy_j, stages_j + gaps_j);
    EXACT(m.counter_energy_j, true_energy(&w->pl.en, sp.b, sp.e));
    EXACT(m.counter_above_idle_j, stages_dyn_j);

    lj_closure_term terms[LJ_STAGE_COUNT];
    size_t n = closure_terms(w, p, 0, terms);
    lj_closure c;
    lj_mean_ci mg = exact(m.counter_energy_j), md = exact(m.counter_above_idle_j);
    assert_int_equal(lj_closure_compute(phase, terms, n, &mg, &md, LEVEL, &c), 0);
    EXACT(c.predicted_gross_j.estimate, stages_j);
    EXACT(c.predicted_dynamic_j.estimate, stages_dyn_j);
    // gross misses the idle power of the gaps between decode steps; dynamic closes exactly
    ABS(c.error_gross_pct, -gaps_j / (stages_j + gaps_j) * 100, 1e-9);
    ABS(c.error_dynamic_pct, 0.0, 1e-9);
    // the interval: se^2 = sum calls^2 sem^2, Welch-Satterthwaite df
    EXACT(c.predicted_gross_j.se, sqrt(se2));
    EXACT(c.predicted_gross_j.df, se2 * se2 / v2_over_df);
    EXACT(c.error_dynamic_hi_pct - c.error_dynamic_pct, (c.predicted_dynamic_j.hi - stages_dyn_j) / stages_dyn_j * 100);
    assert_true(c.error_dynamic_lo_pct < 0 && c.error_dynamic_hi_pct > 0);
    assert_int_equal(c.n_terms, RUN_STAGES);
  }
}

static void test_closure_with_wrong_replay(void **state) {
  world *w = *state;
  lj_window_result m = result(w, w->h_decode);
  lj_closure_term terms[LJ_STAGE_COUNT];
  size_t n = closure_terms(w, 1, 1, terms);
  lj_closure c;
  lj_mean_ci mg = exact(m.counter_energy_j), md = exact(m.counter_above_idle_j);
  assert_int_equal(lj_closure_compute(LJ_PHASE_DECODE, terms, n, &mg, &md, LEVEL, &c), 0);
  // GATE_UP really costs 450 W x 60 ms; the wrong replay says 480 W x 48 ms, over 100 calls
  double delta_gross = 100 * (480 * 0.048 - 450 * 0.060), delta_dyn = 100 * (380 * 0.048 - 350 * 0.060);
  EXACT(c.error_dynamic_pct, delta_dyn / m.counter_above_idle_j * 100);
  EXACT(c.predicted_gross_j.estimate - m.counter_energy_j, delta_gross - STEPS * 0.02 * IDLE_W);
  // and the replay says why: its time per call is 80% of the in-situ one
  lj_replay_estimate e;
  estimate(w, 1, LJ_STAGE_GATE_UP, w->h_wrong, call_ns(LJ_PHASE_DECODE, LJ_STAGE_GATE_UP) * 8 / 10, &e);
  EXACT(e.time_ratio, 0.8);
}

static void test_timeline(void **state) {
  world *w = *state;
  const lj_timeline_result *t = &w->timeline;
  const engine *en = &w->pl.en;
  assert_int_equal(t->flags, 0);
  // each interval: its power for its length, plus the buffer's ramp to the next power over its last 20 ms
  for (size_t i = 0; i < en->n_iv; i++) {
    const lj_stage_interval *v = &en->iv[i];
    double pw = power_at(en, v->begin_ns), next = power_at(en, v->end_ns);
    EXACT(w->interval_j[i], pw * (double)(v->end_ns - v->begin_ns) * 1e-9 + 0.01 * (next - pw));
  }
  for (int p = 0; p < 2; p++) {
    lj_phase phase = phase_of(p);
    const lj_timeline_phase *ph = &t->phase[phase];
    double sum = 0;
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
      const lj_timeline_stage *st = &t->stage[phase][s];
      assert_int_equal(st->calls, calls_in_phase(phase, (lj_stage)s));
      EXACT(st->time_s, (double)st->calls * (double)call_ns(phase, (lj_stage)s) * 1e-9);
      EXACT(st->dynamic_j, st->energy_j - IDLE_W * st->time_s);
      EXACT(st->share_gross, st->energy_j / ph->energy_j);
      sum += st->energy_j;
    }
    EXACT(ph->attributed_j, sum);
    EXACT(ph->attributed_j + ph->gap_j, ph->energy_j);  // nothing lost, nothing counted twice
    ABS(ph->overlap_s, 0, 1e-12);
    assert_int_equal(ph->n_intervals, p ? STEPS * 22 : 22);
  }
  const lj_timeline_phase *pre = &t->phase[LJ_PHASE_PREFILL], *dec = &t->phase[LJ_PHASE_DECODE];
  ABS(pre->gap_s, 0, 1e-12);
  EXACT(pre->span_s, 1.0);
  // decode: 49 gaps inside the span (the first step's gap lies before it), each ramping 100 -> 150 W
  EXACT(dec->gap_s, 49 * 0.02);
  EXACT(dec->gap_j, 49 * 0.02 * (IDLE_W + 150) / 2);
  EXACT(dec->gap_dynamic_j, 49 * 0.02 * 25);
  EXACT(dec->span_s, (double)(w->pl.decode.e - w->pl.decode.b - G) * 1e-9);
  // per layer the ramps telescope too: layer 0 hands over to layer 1's attn_norm (same power),
  // layer 1 to final_norm (155 W instead of 160 W): -0.05 J per step
  double layer_j[LAYERS], layer_s[LAYERS], pure = 0;
  for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1))
    pure += STEPS * load_of(LJ_PHASE_DECODE, (lj_stage)s)->w * (double)call_ns(LJ_PHASE_DECODE, (lj_stage)s) * 1e-9;
  assert_int_equal(lj_timeline_layers(en->iv, en->n_iv, w->interval_j, LJ_PHASE_DECODE, LAYERS, layer_j, layer_s), 0);
  EXACT(layer_j[0], pure);
  EXACT(layer_j[1], pure + STEPS * 0.01 * (155 - 160));
  EXACT(layer_s[0], STEPS * 14 * 0.02);
  assert_int_equal(lj_timeline_layers(en->iv, en->n_iv, w->interval_j, LJ_PHASE_DECODE, 1, layer_j, layer_s), LJ_EINVAL);
  // the ramps telescope: the span integral differs from the true energy by
  // (20 ms / 2) x (power after the span - power of the first stage)
  EXACT(pre->energy_j, true_energy(en, pre->begin_ns, pre->end_ns) + 0.01 * (IDLE_W - 180));
}

static void test_ablation(void **state) {
  world *w = *state;
  double full[TRIALS], ablated[TRIALS];
  for (int r = 0; r < TRIALS; r++) {
    full[r] = result(w, w->h_full[r]).counter_above_idle_j;
    ablated[r] = result(w, w->h_ablated[r]).counter_above_idle_j;
  }
  lj_replay_estimate e;
  estimate(w, 1, LJ_STAGE_ATTN, w->h_trial[1][LJ_STAGE_ATTN], call_ns(LJ_PHASE_DECODE, LJ_STAGE_ATTN), &e);
  lj_ablation a;
  int64_t calls = 5 * LAYERS;
  // against the counter's replay figure (exact on its grid)
  assert_int_equal(
      lj_ablation_compute(LJ_STAGE_ATTN, calls, full, TRIALS, ablated, TRIALS, &e.counter_dynamic_j, LEVEL, &a), 0);
  // attention: 200 W above idle for 40 ms, 10 calls in 5 steps
  EXACT(a.saved_j.estimate, 10 * 200 * 0.04);
  EXACT(a.saved_per_call_j.estimate, 8.0);
  EXACT(a.replay_j.estimate, 80.0);
  ABS(a.agreement_pct, 0.0, 1e-9);
  EXACT(a.ratio.estimate, 1.0);
  // repeats differ by +-1 W over 3.3 s (full) and 2.9 s (ablated): sd 3.3 J and 2.9 J
  EXACT(a.full_j.stddev, 3.3);
  EXACT(a.ablated_j.stddev, 2.9);
  EXACT(a.saved_j.se, sqrt((3.3 * 3.3 + 2.9 * 2.9) / 3));
  EXACT(a.saved_per_call_j.se, a.saved_j.se / 10);
  assert_true(a.ratio.lo < 1 && a.ratio.hi > 1);
  assert_int_equal(lj_ablation_compute(LJ_STAGE_ATTN, 0, full, TRIALS, ablated, TRIALS, &e.dynamic_j, LEVEL, &a),
                   LJ_EINVAL);
}

static void test_bad_input(void **state) {
  lj_replay_trial t = {.counter_energy_j = 10, .duration_s = 2, .calls = 0};
  lj_replay_estimate e;
  assert_int_equal(lj_replay_estimate_compute(&t, 1, 0.01, LEVEL, &e), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "trial 0"));
  t.calls = 10;
  t.counter_energy_j = NAN;
  assert_int_equal(lj_replay_estimate_compute(&t, 1, 0.01, LEVEL, &e), LJ_EINVAL);
  t.counter_energy_j = 10;
  t.sample_energy_j = NAN;
  assert_int_equal(lj_replay_estimate_compute(&t, 1, NAN, LEVEL, &e), 0);
  assert_int_equal(e.sample_gross_j.n, 0);
  assert_true(isnan(e.time_ratio) && isnan(e.counter_vs_sample_pct) && isnan(e.gross_j.lo));
  lj_closure c;
  lj_mean_ci one = exact(1);
  assert_int_equal(lj_closure_compute(LJ_PHASE_DECODE, NULL, 0, &one, &one, LEVEL, &c), LJ_EINVAL);
  lj_stage_interval iv = {.begin_ns = 10, .end_ns = 5, .stage = LJ_STAGE_QKV, .layer = 3};
  lj_sample s = {.t_ns = 0, .reading = LJ_READING_POWER_SAMPLE, .value = 100};
  lj_timeline_result r;
  assert_int_equal(lj_timeline_attribute(&iv, 1, &s, 1, 0, LJ_READING_POWER_SAMPLE, IDLE_W, NULL, &r), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "qkv, layer 3"));
  iv.end_ns = 20;
  assert_int_equal(lj_timeline_attribute(&iv, 1, &s, 1, 1, LJ_READING_POWER_SAMPLE, IDLE_W, NULL, &r), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "no power_sample samples of device 1"));
  // one sample: held, flagged
  assert_int_equal(lj_timeline_attribute(&iv, 1, &s, 1, 0, LJ_READING_POWER_SAMPLE, IDLE_W, NULL, &r), 0);
  assert_true(r.flags & LJ_WINDOW_EXTRAPOLATED);
  EXACT(r.stage[LJ_PHASE_LOAD][LJ_STAGE_QKV].energy_j, 100 * 10e-9);
}

// Decode replayed at 3 KV lengths; per-call energy linear in KV length, so the
// interpolated closure sum equals the sum over the steps' own lengths exactly.
static void test_kv_weights(void **state) {
  const int64_t replayed[3] = {16, 40, 64};
  int64_t steps[48];
  double want = 0;
  for (int i = 0; i < 48; i++) {
    steps[i] = 16 + i;
    want += 2 * (0.002 + 0.0001 * (double)steps[i]);  // 2 layers per step
  }
  double w[3];
  size_t outside;
  assert_int_equal(lj_kv_weights(replayed, 3, steps, 48, 2.0, w, &outside), 0);
  assert_int_equal(outside, 0);
  EXACT(w[0] + w[1] + w[2], 96.0);
  lj_closure_term terms[3];
  for (int j = 0; j < 3; j++) {
    memset(&terms[j], 0, sizeof terms[j]);
    terms[j].key = (lj_stage_key){.phase = LJ_PHASE_DECODE, .stage = LJ_STAGE_ATTN, .layer = -1, .kv_len = replayed[j]};
    terms[j].calls = w[j];
    lj_stats_exact(0.002 + 0.0001 * (double)replayed[j], LEVEL, &terms[j].gross_j);
    lj_stats_exact(0.001 + 0.0001 * (double)replayed[j], LEVEL, &terms[j].dynamic_j);
  }
  lj_closure c;
  lj_mean_ci mg = exact(want), md = exact(want - 96 * 0.001);
  assert_int_equal(lj_closure_compute(LJ_PHASE_DECODE, terms, 3, &mg, &md, LEVEL, &c), 0);
  EXACT(c.predicted_gross_j.estimate, want);
  ABS(c.error_gross_pct, 0, 1e-9);
  ABS(c.error_dynamic_pct, 0, 1e-9);
  EXACT(c.predicted_gross_j.se, 0);
  // steps before the first replayed length are held at it, and counted
  const int64_t early[2] = {4, 70};
  assert_int_equal(lj_kv_weights(replayed, 3, early, 2, 1.0, w, &outside), 0);
  assert_int_equal(outside, 2);
  EXACT(w[0], 1.0);
  EXACT(w[2], 1.0);
  const int64_t bad[2] = {40, 16};
  assert_int_equal(lj_kv_weights(bad, 2, early, 2, 1.0, w, &outside), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "must increase"));
}

// The error's interval carries the measured windows' spread as well as the prediction's:
// predicted / measured by the delta method, ν by Welch-Satterthwaite. Worked by hand:
// predicted 10 calls x mean(1.00, 1.02, 0.98) J = 10 J, se 10 x 0.02/sqrt(3), ν 2;
// measured mean(9.8, 10.0, 10.2) = 10 J, sem 0.2/sqrt(3), ν 2. Relative variances both
// (0.02^2/3) -> se(ratio) = sqrt(2 x 0.0004/3) = 0.016330, ν = (2v)^2 / (2 v^2/2) = 4,
// t(0.975, 4) = 2.776445: error 0% +- 4.5340%.
static void test_closure_measured_spread(void **state) {
  (void)state;
  const double per_call[3] = {1.00, 1.02, 0.98}, windows[3] = {9.8, 10.0, 10.2};
  lj_closure_term t;
  memset(&t, 0, sizeof t);
  t.key = (lj_stage_key){.phase = LJ_PHASE_PREFILL, .stage = LJ_STAGE_QKV, .layer = -1};
  t.calls = 10;
  assert_int_equal(lj_stats_mean_ci(per_call, 3, LEVEL, &t.gross_j), 0);
  t.dynamic_j = t.gross_j;
  lj_mean_ci m;
  assert_int_equal(lj_stats_mean_ci(windows, 3, LEVEL, &m), 0);
  lj_closure c;
  assert_int_equal(lj_closure_compute(LJ_PHASE_PREFILL, &t, 1, &m, &m, LEVEL, &c), 0);
  ABS(c.error_dynamic_pct, 0, 1e-12);
  ABS(c.error_dynamic_hi_pct, 2.776445 * 1.6329932, 1e-4);
  ABS(c.error_dynamic_lo_pct, -2.776445 * 1.6329932, 1e-4);
  ABS(c.error_gross_hi_pct, c.error_dynamic_hi_pct, 1e-12);
  // the measured side exact: the prediction's interval alone, t(0.975, 2) = 4.302653
  lj_mean_ci ex = exact(10);
  assert_int_equal(lj_closure_compute(LJ_PHASE_PREFILL, &t, 1, &ex, &ex, LEVEL, &c), 0);
  ABS(c.error_dynamic_hi_pct, 4.302653 * 10 * 0.02 / sqrt(3) / 10 * 100, 1e-4);
  // one window (no spread known) counts as exact
  lj_mean_ci one;
  assert_int_equal(lj_stats_mean_ci(windows + 1, 1, LEVEL, &one), 0);
  assert_int_equal(lj_closure_compute(LJ_PHASE_PREFILL, &t, 1, &one, &one, LEVEL, &c), 0);
  ABS(c.error_dynamic_hi_pct, 4.302653 * 10 * 0.02 / sqrt(3) / 10 * 100, 1e-4);
}

static void test_efficiency(void **state) {
  lj_mean_ci e = {.n = 3, .mean = 8, .lo = 7, .hi = 9};
  lj_stage_cost c = {.flops = 4000000000LL, .bytes = 2000000000LL};
  lj_stage_efficiency f;
  lj_stage_efficiency_compute(&e, &c, &f);
  EXACT(f.j_per_flop, 2e-9);
  EXACT(f.j_per_flop_lo, 1.75e-9);
  EXACT(f.j_per_byte_hi, 4.5e-9);
  EXACT(f.flops_per_j, 5e8);
  EXACT(f.bytes_per_j, 2.5e8);
  c.flops = 0;  // embed: no arithmetic
  lj_stage_efficiency_compute(&e, &c, &f);
  assert_true(isnan(f.j_per_flop) && isnan(f.flops_per_j));
  c.flops = 4000000000LL;
  e.mean = -0.5, e.lo = -2, e.hi = 1;  // a difference of windows that came out negative: no J/FLOP
  lj_stage_efficiency_compute(&e, &c, &f);
  assert_true(isnan(f.j_per_flop) && isnan(f.j_per_flop_lo) && isnan(f.j_per_byte) && isnan(f.j_per_byte_hi));
  assert_true(isnan(f.flops_per_j) && isnan(f.bytes_per_j));
}

// Overlapping intervals are counted in each, and reported.
static void test_timeline_overlap(void **state) {
  lj_sample s[2] = {{.t_ns = 0, .reading = LJ_READING_POWER_SAMPLE, .value = 200},
                    {.t_ns = SEC, .reading = LJ_READING_POWER_SAMPLE, .value = 200}};
  lj_stage_interval iv[3] = {
      {.begin_ns = 600 * MS, .end_ns = 900 * MS, .phase = LJ_PHASE_DECODE, .stage = LJ_STAGE_DOWN},
      {.begin_ns = 100 * MS, .end_ns = 400 * MS, .phase = LJ_PHASE_DECODE, .stage = LJ_STAGE_ATTN},
      {.begin_ns = 300 * MS, .end_ns = 500 * MS, .phase = LJ_PHASE_DECODE, .stage = LJ_STAGE_O_PROJ},
  };
  lj_timeline_result r;
  assert_int_equal(lj_timeline_attribute(iv, 3, s, 2, 0, LJ_READING_POWER_SAMPLE, IDLE_W, NULL, &r), 0);
  const lj_timeline_phase *ph = &r.phase[LJ_PHASE_DECODE];
  EXACT(ph->span_s, 0.8);
  EXACT(ph->overlap_s, 0.1);
  EXACT(ph->gap_s, 0.1);
  EXACT(ph->gap_j, 20);
  EXACT(ph->attributed_j, 160);
  EXACT(ph->energy_j, 160);  // attributed (the overlap twice) + gaps = span + overlap: 160 + 20 = 160 + 20
}

// The uncertainty budget over the replayed meter's windows (docs/attribution.md §3b): the decode
// phase window and each decode stage's three 2.4 s trials (their power samples' figures, at 50, 51
// and 52 C), a flat idle of sd 1 W measured at 45 C, through lj_analyze_budgets and into the JSON.
// A stage's idle term per call is its call time x sqrt(1^2 + (1.5 W/C x (51 - 45) C)^2) exactly;
// its edge term, a sixth of a 20 ms sample period of its dynamic power per window, per call, within
// the buffer's interpolation ramps (at most 10 ms of the step at each end of 2.4 s: 1%).
static void test_budget_json(void **state) {
  world *w = *state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  assert_int_equal(lj_config_preset("tiny", &r.plan.config), 0);
  r.plan.level = LEVEL;
  r.cond.idle_w = IDLE_W, r.cond.idle_sd_w = 1.0, r.cond.temperature_min_c = 45, r.cond.temperature_max_c = 55;
  lj_phase_window pw;
  memset(&pw, 0, sizeof pw);
  pw.phase = LJ_PHASE_DECODE, pw.units = 1, pw.tokens_per_unit = STEPS, pw.temperature_c = NAN;
  pw.w = result(w, w->h_decode);
  assert_int_equal(lj_profile_add_window(&r, &pw), 0);
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  lj_closure_term terms[LJ_STAGE_COUNT];
  for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
    lj_stage st = (lj_stage)s;
    int64_t call = call_ns(LJ_PHASE_DECODE, st);
    for (int k = 0; k < TRIALS; k++) {
      lj_profile_trial t;
      memset(&t, 0, sizeof t);
      t.key = (lj_stage_key){.phase = LJ_PHASE_DECODE, .stage = st, .layer = lj_stage_is_per_layer(st) ? 0 : -1};
      t.trial = k, t.method = LJ_METHOD_ISOLATION;
      lj_window_result res = result(w, w->h_trial[1][s][k]);
      lj_replay_trial_from_window(&res, REPLAY_NS / call, 50.0 + k, IDLE_W, &t.t);
      assert_int_equal(lj_profile_add_trial(&r, &t), 0);
    }
    lj_profile_stage ps;
    memset(&ps, 0, sizeof ps);
    ps.method = LJ_METHOD_ISOLATION, ps.calls_per_unit = (double)calls_in_phase(LJ_PHASE_DECODE, st);
    estimate(w, 1, st, w->h_trial[1][s], call, &ps.est);
    assert_int_equal(lj_profile_add_stage(&r, &ps), 0);
    lj_closure_term_from_estimate(&ps.est, ps.calls_per_unit, &terms[r.n_stages - 1]);
  }
  const lj_phase_summary *d = &r.phases[LJ_PHASE_DECODE];
  assert_int_equal(lj_closure_compute(LJ_PHASE_DECODE, terms, RUN_STAGES, &d->gross_j, &d->dynamic_j, LEVEL,
                                      &r.closure[LJ_PHASE_DECODE]),
                   0);
  assert_int_equal(lj_analyze_budgets(&r), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(lj_profile_report_json(f, &r), 0);
  fclose(f);
  json_error_t err;
  json_t *doc = json_loads(buf, 0, &err);
  free(buf);
  assert_non_null(doc);
  json_t *budgets = json_object_get(doc, "budgets");
  int n_stage = 0, n_closure = 0;
  for (size_t i = 0; i < json_array_size(budgets); i++) {
    json_t *b = json_array_get(budgets, i);
    const char *kind = json_string_value(json_object_get(b, "kind"));
    assert_string_equal(json_string_value(json_object_get(b, "card_basis")), "not measured");
    assert_true(json_is_null(json_object_get(b, "card_j")));
    if (!strcmp(kind, "closure")) {
      n_closure++;
      assert_true(json_real_value(json_object_get(b, "total_j")) > 0);
      continue;
    }
    if (strcmp(kind, "stage")) continue;
    n_stage++;
    lj_stage st = LJ_STAGE_COUNT;
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1))
      if (!strcmp(lj_stage_name((lj_stage)s), json_string_value(json_object_get(b, "stage")))) st = (lj_stage)s;
    assert_true(st < LJ_STAGE_COUNT);
    const lj_replay_estimate *e = NULL;  // the stage's row (rows follow the run's stages)
    for (size_t j = 0; j < r.n_stages; j++)
      if (r.stages[j].est.key.stage == st) e = &r.stages[j].est;
    assert_non_null(e);
    double t = (double)call_ns(LJ_PHASE_DECODE, st) * 1e-9, calls = (double)(REPLAY_NS / call_ns(LJ_PHASE_DECODE, st));
    EXACT(json_real_value(json_object_get(b, "trial_j")), (e->dynamic_j.hi - e->dynamic_j.lo) / 2);
    EXACT(json_real_value(json_object_get(b, "idle_j")), t * sqrt(1 + 9.0 * 9.0));
    assert_string_equal(json_string_value(json_object_get(b, "idle_basis")), "bound");
    REL(json_real_value(json_object_get(b, "edge_j")), (load_of(LJ_PHASE_DECODE, st)->w - IDLE_W) * 0.020 / 6 / calls,
        0.01);
    assert_string_equal(json_string_value(json_object_get(b, "edge_basis")), "bound");
  }
  assert_int_equal(n_stage, RUN_STAGES);
  assert_int_equal(n_closure, 1);
  json_decref(doc);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replay_per_call),
      cmocka_unit_test(test_closure),
      cmocka_unit_test(test_closure_with_wrong_replay),
      cmocka_unit_test(test_timeline),
      cmocka_unit_test(test_ablation),
      cmocka_unit_test(test_budget_json),
  };
  const struct CMUnitTest plain[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_timeline_overlap),
      cmocka_unit_test(test_kv_weights),
      cmocka_unit_test(test_closure_measured_spread),
      cmocka_unit_test(test_efficiency),
  };
  int failed = cmocka_run_group_tests_name("synthetic engine", tests, setup, teardown);
  return failed + cmocka_run_group_tests_name("attribution inputs", plain, NULL, NULL);
}
