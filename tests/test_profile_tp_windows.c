// A tensor-parallel GPU profile's windows per GPU (profile/tp_rank_windows.c): two replayed GPUs
// at constant powers, phase windows over both; the run's windows must be the sum over the GPUs,
// each rank's phase summaries its own GPU's, and the run's summaries the sum of the ranks'. One
// GPU for every rank (loopback) must count that GPU once, with one per-GPU row. Also the options
// the tensor-parallel GPU profile refuses, each named, and its replay trials read as the sum over the
// GPUs with their summed idle; each GPU's idle at its own temperature where its curve holds.
// Counters are the exact integral of a constant power, so every energy is exact up to float
// rounding: tolerance 1e-9 relative.
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "engine/cuda/tp_comm.h"
#include "llamajoule/meter.h"
#include "near.h"
#include "engine/cuda/cuda_engine.h"
#include "profile/analyze_internal.h"
#include "profile/profile_analyze.h"
#include "profile/stage_cost.h"
#include "profile/profile_run.h"
#include "profile/tp_rank_windows.h"
#include "store/store.h"
#include "store_round_trip.h"
#include "trace_add.h"

#define SEC 1000000000LL
#define T0 (1000 * SEC)
#define EXACT(a, b) REL(a, b, 1e-9)

static const double kPower[2] = {300.0, 200.0}, kIdle[2] = {50.0, 40.0};

static int64_t at(double s) { return T0 + (int64_t)llround(s * 1e9); }

// Each GPU's flat idle (kIdle), no curve; readings: the GPUs' temperatures (NULL: none).
static lj_tp_idle flat_idle(const lj_trace *readings) {
  lj_tp_idle idle;
  memset(&idle, 0, sizeof idle);
  for (int k = 0; k < 2; k++) idle.flat_w[k] = kIdle[k];
  if (readings) idle.readings = readings->samples, idle.n_readings = readings->n_samples;
  return idle;
}

// Every device at its constant power for 8 s: samples every 20 ms, counter readings every 100 ms.
static lj_windows *windows_of(int n_dev) {
  lj_windows *w = NULL;
  assert_int_equal(lj_windows_create(&w, n_dev), 0);
  lj_trace t;
  lj_trace_init(&t);
  for (int d = 0; d < n_dev; d++) {
    lj_windows_expect(w, d, LJ_READING_BIT(LJ_READING_ENERGY) | LJ_READING_BIT(LJ_READING_POWER_SAMPLE));
    lj_windows_set_idle(w, d, kIdle[d]);
    for (int k = 0; k <= 400; k++) trace_add(&t, d, LJ_READING_POWER_SAMPLE, at(k * 0.02), kPower[d]);
    for (int k = 0; k <= 80; k++) trace_add(&t, d, LJ_READING_ENERGY, at(k * 0.1), 1000.0 + kPower[d] * k * 0.1);
  }
  lj_trace_sort(&t);
  // windows: prefill and decode, two repeats each (begin, end in s; units)
  static const double span[4][2] = {{0.5, 1.5}, {2.0, 4.0}, {4.5, 5.5}, {6.0, 7.5}};
  for (int i = 0; i < 4; i++) {
    int h = lj_windows_begin(w, "phase", at(span[i][0]));
    assert_int_equal(h, i);
    assert_int_equal(lj_windows_end(w, h, at(span[i][1])), 0);
  }
  assert_int_equal(lj_windows_add(w, t.samples, t.n_samples), 0);
  lj_windows_finish(w);
  lj_trace_free(&t);
  return w;
}

static void add_windows(lj_profile_result *r) {
  static const double dur[4] = {1.0, 2.0, 1.0, 1.5};
  for (int i = 0; i < 4; i++) {
    lj_phase_window pw;
    memset(&pw, 0, sizeof pw);
    pw.phase = i % 2 ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL;
    pw.repeat = i / 2;
    pw.units = i % 2 ? 4 : 10;
    pw.tokens_per_unit = i % 2 ? 128 : 128;
    pw.host_s = dur[i];
    pw.temperature_c = NAN;
    assert_int_equal(lj_profile_add_window(r, &pw), 0);
  }
}

// The result into a fresh store and back (store_round_trip.h): every per-rank row has a key of its own.
static void stored_and_read(const lj_profile_result *r, int want_ranks) {
  char dir[] = "/tmp/lj_tp_windows_XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/p.db", dir);
  lj_profile_result back;
  lj_store *st = store_round_trip(path, r, &back);
  assert_int_equal(back.n_ranks, want_ranks);
  for (int k = 0; k < want_ranks; k++)
    EXACT(back.rank_phases[k][LJ_PHASE_DECODE].gross_j.mean, r->rank_phases[k][LJ_PHASE_DECODE].gross_j.mean);
  EXACT(back.phases[LJ_PHASE_DECODE].gross_j.mean, r->phases[LJ_PHASE_DECODE].gross_j.mean);
  lj_profile_result_free(&back);
  lj_store_close(st);
  remove(path);
  remove(dir);
}

// Two GPUs' windows collected into r (its plan at degree 2); the windows, for the caller to free.
static lj_windows *collected_two_gpus(lj_profile_result *r) {
  lj_windows *w = windows_of(2);
  lj_profile_result_init(r);
  r->plan.level = 0.95, r->plan.tp_degree = 2;
  add_windows(r);
  int handles[4] = {0, 1, 2, 3}, devs[2] = {0, 1};
  assert_int_equal(lj_profile_tp_collect(r, w, handles, devs, 2, NULL), 0);
  return w;
}

// Each GPU's temperature readings over the 8 s: GPU d at 50 + 20 d C, rising by `per_s` C a second.
static void temperatures_of(lj_trace *t, double per_s) {
  lj_trace_init(t);
  for (int d = 0; d < 2; d++)
    for (int k = 0; k <= 80; k++)
      trace_add(t, d, LJ_READING_TEMPERATURE, at(k * 0.1), 50.0 + 20.0 * d + per_s * k * 0.1);
  lj_trace_sort(t);
}

static void test_two_gpus(void **state) {
  (void)state;
  lj_profile_result r;
  lj_windows *w = collected_two_gpus(&r);
  assert_int_equal(r.n_ranks, 2);
  // the run's window: both GPUs (decode window 1: 2 s at 500 W)
  assert_int_equal(r.windows[1].w.device, -1);
  EXACT(r.windows[1].w.counter_energy_j, 2.0 * 500.0);
  EXACT(r.windows[1].w.counter_above_idle_j, 2.0 * (500.0 - 90.0));
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  // per unit: prefill windows 1 s / 10 units, decode 2 s and 1.5 s / 4 units
  double pre_s = 1.0 / 10, dec_s = (2.0 / 4 + 1.5 / 4) / 2;
  for (int k = 0; k < 2; k++) {
    EXACT(r.rank_phases[k][LJ_PHASE_PREFILL].gross_j.mean, kPower[k] * pre_s);
    EXACT(r.rank_phases[k][LJ_PHASE_DECODE].gross_j.mean, kPower[k] * dec_s);
    EXACT(r.rank_phases[k][LJ_PHASE_DECODE].dynamic_j.mean, (kPower[k] - kIdle[k]) * dec_s);
    assert_int_equal(r.rank_phases[k][LJ_PHASE_DECODE].n, 2);
  }
  for (int p = LJ_PHASE_PREFILL; p <= LJ_PHASE_DECODE; p++) {
    EXACT(r.phases[p].gross_j.mean, r.rank_phases[0][p].gross_j.mean + r.rank_phases[1][p].gross_j.mean);
    EXACT(r.phases[p].dynamic_j.mean, r.rank_phases[0][p].dynamic_j.mean + r.rank_phases[1][p].dynamic_j.mean);
  }
  // the windows of rank 0 are not the run's: the run keeps the sum
  assert_true(r.windows[0].w.counter_energy_j > 1.5 * kPower[0] * 1.0);
  stored_and_read(&r, 2);
  lj_profile_result_free(&r);
  lj_windows_free(w);
}

// Loopback: every rank on GPU 0, metered once.
static void test_one_gpu_for_every_rank(void **state) {
  (void)state;
  lj_windows *w = windows_of(1);
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.level = 0.95, r.plan.tp_degree = 2;
  add_windows(&r);
  int handles[4] = {0, 1, 2, 3}, devs[1] = {0};
  assert_int_equal(lj_profile_tp_collect(&r, w, handles, devs, 1, NULL), 0);
  assert_int_equal(r.n_ranks, 1);
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  EXACT(r.windows[1].w.counter_energy_j, 2.0 * kPower[0]);
  EXACT(r.phases[LJ_PHASE_DECODE].gross_j.mean, kPower[0] * (2.0 / 4 + 1.5 / 4) / 2);
  EXACT(r.rank_phases[0][LJ_PHASE_DECODE].gross_j.mean, r.phases[LJ_PHASE_DECODE].gross_j.mean);
  stored_and_read(&r, 1);
  lj_profile_result_free(&r);
  lj_windows_free(w);
}

// Degree 1 through the ranks' path (--tp-backend given at --tp 1): the run's own rows are rank 0's,
// so no per-rank copy of them (the store's key would meet them twice).
static void test_degree_one(void **state) {
  (void)state;
  lj_windows *w = windows_of(1);
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.level = 0.95, r.plan.tp_degree = 1;
  add_windows(&r);
  int handles[4] = {0, 1, 2, 3}, devs[1] = {0};
  assert_int_equal(lj_profile_tp_collect(&r, w, handles, devs, 1, NULL), 0);
  assert_int_equal(r.n_ranks, 0);
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  EXACT(r.phases[LJ_PHASE_DECODE].gross_j.mean, kPower[0] * (2.0 / 4 + 1.5 / 4) / 2);
  stored_and_read(&r, 0);
  lj_profile_result_free(&r);
  lj_windows_free(w);
}

// A replay trial of the ranks: the window summed over both GPUs, the summed idle, and a duty-cycled
// trial's gaps taken off its time and (at that idle) its energy; each rank's trial is its own GPU's
// reading of the same window at its own idle. Window 1: 2 s at 300 W + 200 W, idle 50 W + 40 W.
static void test_trials_summed(void **state) {
  (void)state;
  lj_windows *w = windows_of(2);
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.tp_degree = 2;
  lj_profile_trial t;
  memset(&t, 0, sizeof t);
  t.key.phase = LJ_PHASE_DECODE, t.key.stage = LJ_STAGE_ATTN_ALLREDUCE, t.key.layer = -1;
  t.t.calls = 1000, t.t.gap_s = 0.5, t.t.temperature_c = 40;
  assert_int_equal(lj_profile_add_trial(&r, &t), 0);
  int handles[1] = {1}, devs[2] = {0, 1};
  // each GPU's temperature readings: rank 1's runs 20 C hotter than rank 0's (the trial was filed at 40)
  lj_trace temps;
  temperatures_of(&temps, 0);
  lj_tp_idle idle = flat_idle(&temps);
  assert_int_equal(lj_profile_tp_collect_trials(&r, w, handles, devs, 2, &idle), 0);
  const lj_replay_trial *got = &r.trials[0].t;
  EXACT(got->counter_energy_j, 2.0 * 500.0 - 0.5 * 90.0);
  EXACT(got->sample_energy_j, 2.0 * 500.0 - 0.5 * 90.0);
  EXACT(got->duration_s, 1.5);
  EXACT(got->idle_w, 90.0);
  assert_int_equal((int)got->calls, 1000);
  EXACT(got->gap_s, 0.5);
  EXACT(got->temperature_c, 40);  // the sum's: as filed (rank 0's latest reading)
  for (int k = 0; k < 2; k++) {
    assert_int_equal((int)r.ranks[k].n_trials, 1);
    const lj_profile_trial *rt = &r.ranks[k].trials[0];
    assert_int_equal(rt->key.stage, LJ_STAGE_ATTN_ALLREDUCE);
    EXACT(rt->t.counter_energy_j, 2.0 * kPower[k] - 0.5 * kIdle[k]);
    EXACT(rt->t.idle_w, kIdle[k]);
    EXACT(rt->t.temperature_c, 50.0 + 20.0 * k);  // its own GPU's over the window
    EXACT(rt->t.duration_s, 1.5);
    assert_int_equal((int)rt->t.calls, 1000);
    EXACT(r.ranks[k].idle_w, kIdle[k]);
  }
  // one GPU for every rank (loopback): its figure is the run's, and there is no rank of its own
  lj_profile_result_free(&r);
  lj_profile_result_init(&r);
  r.plan.tp_degree = 2;
  assert_int_equal(lj_profile_add_trial(&r, &t), 0);
  idle = flat_idle(NULL);
  assert_int_equal(lj_profile_tp_collect_trials(&r, w, handles, devs, 1, &idle), 0);
  EXACT(r.trials[0].t.counter_energy_j, 2.0 * kPower[0] - 0.5 * kIdle[0]);
  EXACT(r.trials[0].t.temperature_c, 40);
  assert_null(r.ranks[0].trials);
  lj_profile_result_free(&r);
  lj_trace_free(&temps);
  lj_windows_free(w);
}

// Each GPU's own idle curve (its cool-down's fit): GPU 0 50 W at 35 C + 1.0 W/C, GPU 1 40 W at 30 C
// + 0.5 W/C, over 30 .. 90 C. At the readings' constant 50 and 70 C: 65 W and 60 W.
static lj_idle_curve curve_of(int k) {
  lj_idle_curve c;
  memset(&c, 0, sizeof c);
  c.usable = 1, c.a_w = kIdle[k], c.t0_c = 35 - 5 * k, c.slope_w_per_c = 1.0 - 0.5 * k;
  c.t_min_c = 30, c.t_max_c = 90;
  return c;
}

// Each GPU's windows and trials subtract idle at its own temperature by its own curve: a window of
// 2 s is (300 - 65) x 2 = 470 J above idle on GPU 0 and (200 - 60) x 2 = 280 J on GPU 1, the sum's
// 750 J at 125 W; the phase summaries per unit likewise, the sum's the ranks' sum. A trial with a
// 0.5 s gap takes that gap at the same idle. GPU 1 without a curve keeps its flat 40 W, and the sum
// then subtracts 65 + 40 W.
static void test_idle_at_each_gpu_temperature(void **state) {
  (void)state;
  lj_windows *w = windows_of(2);
  lj_trace temps;
  temperatures_of(&temps, 0);
  lj_idle_curve c[2] = {curve_of(0), curve_of(1)};
  lj_tp_idle idle = flat_idle(&temps);
  idle.curve[0] = &c[0], idle.curve[1] = &c[1];
  const double at_t[2] = {65, 60};
  lj_profile_result r;
  lj_profile_result_init(&r);
  r.plan.level = 0.95, r.plan.tp_degree = 2;
  add_windows(&r);
  int handles[4] = {0, 1, 2, 3}, devs[2] = {0, 1};
  assert_int_equal(lj_profile_tp_collect(&r, w, handles, devs, 2, &idle), 0);
  EXACT(r.windows[1].w.counter_energy_j, 2.0 * 500.0);  // gross: unchanged
  EXACT(r.windows[1].w.counter_above_idle_j, 750.0);
  EXACT(r.windows[1].w.sample_above_idle_j, 750.0);
  EXACT(r.windows[1].w.idle_power_w, 125.0);
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  double dec_s = (2.0 / 4 + 1.5 / 4) / 2;
  for (int k = 0; k < 2; k++) EXACT(r.rank_phases[k][LJ_PHASE_DECODE].dynamic_j.mean, (kPower[k] - at_t[k]) * dec_s);
  EXACT(r.phases[LJ_PHASE_DECODE].dynamic_j.mean,
        r.rank_phases[0][LJ_PHASE_DECODE].dynamic_j.mean + r.rank_phases[1][LJ_PHASE_DECODE].dynamic_j.mean);
  // a trial over window 1 (2 s) with a 0.5 s idle gap
  lj_profile_trial t;
  memset(&t, 0, sizeof t);
  t.key.phase = LJ_PHASE_DECODE, t.key.stage = LJ_STAGE_DOWN, t.key.layer = -1;
  t.t.calls = 100, t.t.gap_s = 0.5, t.t.temperature_c = 40;
  assert_int_equal(lj_profile_add_trial(&r, &t), 0);
  int th[1] = {1};
  assert_int_equal(lj_profile_tp_collect_trials(&r, w, th, devs, 2, &idle), 0);
  for (int k = 0; k < 2; k++) {
    EXACT(r.ranks[k].trials[0].t.idle_w, at_t[k]);
    EXACT(r.ranks[k].trials[0].t.counter_energy_j, 2.0 * kPower[k] - 0.5 * at_t[k]);
    EXACT(r.ranks[k].idle_w, kIdle[k]);  // the flat baseline stays the rank's stored idle
  }
  EXACT(r.trials[0].t.idle_w, 125.0);
  EXACT(r.trials[0].t.counter_energy_j, 2.0 * 500.0 - 0.5 * 125.0);
  // GPU 1 without a usable curve: its flat idle, and the sum's is 65 + 40 W
  idle.curve[1] = NULL;
  assert_int_equal(lj_profile_tp_collect(&r, w, handles, devs, 2, &idle), 0);
  EXACT(r.windows[1].w.counter_above_idle_j, 2.0 * (500.0 - 105.0));
  assert_int_equal(lj_profile_tp_collect_trials(&r, w, th, devs, 2, &idle), 0);
  EXACT(r.trials[0].t.idle_w, 105.0);
  EXACT(r.ranks[1].trials[0].t.idle_w, kIdle[1]);
  lj_profile_result_free(&r);
  lj_trace_free(&temps);
  lj_windows_free(w);
}

// Each GPU's temperatures (what its leakage term in the sum's budget takes): GPU 0 idled at 35 C
// and reads 50 + s C at second s, GPU 1 idled at 30 C and reads 20 C more; a window's mean is its
// readings' (prefill windows at 0.5-1.5 s and 4.5-5.5 s: 50 + 3 on GPU 0; decode at 2-4 s and
// 6-7.5 s: 50 + 4.875), the range over the run with the idle's mean.
static void test_gpu_temperatures(void **state) {
  (void)state;
  lj_profile_result r;
  lj_windows *w = collected_two_gpus(&r);
  lj_trace temps;
  temperatures_of(&temps, 1.0);
  const int devs[2] = {0, 1};
  const double idle_temp[2] = {35, 30};
  lj_profile_tp_temperatures(&r, devs, idle_temp, temps.samples, temps.n_samples);
  for (int k = 0; k < 2; k++) {
    EXACT(r.ranks[k].temperature_min_c, idle_temp[k]);
    EXACT(r.ranks[k].temperature_max_c, 58.0 + 20.0 * k);
    EXACT(r.ranks[k].phase_temperature_c[LJ_PHASE_PREFILL], 53.0 + 20.0 * k);
    EXACT(r.ranks[k].phase_temperature_c[LJ_PHASE_DECODE], 54.875 + 20.0 * k);
    assert_true(isnan(r.ranks[k].phase_temperature_c[LJ_PHASE_LOAD]));
  }
  // without an idle temperature: the readings' range alone
  const double none[2] = {NAN, NAN};
  lj_profile_tp_temperatures(&r, devs, none, temps.samples, temps.n_samples);
  EXACT(r.ranks[1].temperature_min_c, 70.0);
  lj_profile_result_free(&r);
  lj_trace_free(&temps);
  lj_windows_free(w);
}

// The GPU profile's stage rows take their shape from the plan: at degree 2 an all-reduce of 1B's
// decode token (dim 2048, bf16) sends and receives 2 x 2 (2 - 1) / 2 x 2048 x 2 bytes and adds
// (2 - 1) / 2 x 2048; at degree 1 it costs nothing.
static void test_allreduce_cost_of_the_plan(void **state) {
  (void)state;
  lj_profile_plan p;
  memset(&p, 0, sizeof p);
  assert_int_equal(lj_config_preset("llama-3.2-1b", &p.config), 0);
  p.batch = 1, p.prompt_len = 16, p.tp_degree = 2;
  lj_stage_shape sh;
  lj_analyze_shape_of(&p, LJ_PHASE_DECODE, 16, &sh);
  assert_int_equal(sh.tp_degree, 2);
  lj_stage_cost c;
  assert_int_equal(lj_stage_cost_compute(&p.config, LJ_STAGE_ATTN_ALLREDUCE, 0, &sh, &c), 0);
  EXACT((double)c.link_bytes, 2.0 * 2 * 1 * 2048 * 2 / 2);
  EXACT((double)c.flops, 1.0 * 2048 / 2);
  p.tp_degree = 1;
  lj_analyze_shape_of(&p, LJ_PHASE_DECODE, 16, &sh);
  assert_int_equal(lj_stage_cost_compute(&p.config, LJ_STAGE_ATTN_ALLREDUCE, 0, &sh, &c), 0);
  EXACT((double)c.link_bytes + 1.0, 1.0);
}

static void test_bad_device_count(void **state) {
  (void)state;
  lj_profile_result r;
  lj_profile_result_init(&r);
  int devs[1] = {0};
  assert_int_equal(lj_profile_tp_collect(&r, NULL, NULL, devs, 0, NULL), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "0 GPUs for the ranks' windows"));
  lj_profile_result_free(&r);
}

static void expect_refused(lj_profile_options *o, int status, const char *what) {
  assert_int_equal(lj_profile_gpu_tp_check(o), status);
  assert_non_null(strstr(lj_error_message(), what));
  lj_profile_options_default(o);
  o->tp_degree = 2;
}

static void test_refused_options(void **state) {
  (void)state;
  lj_profile_options o;
  lj_profile_options_default(&o);
  o.tp_degree = 2;
  assert_int_equal(o.tp_backend, LJ_TP_BACKEND_NCCL);
  // the defaults: their methods are left out, not refused; over NCCL, with fewer GPUs than ranks
  // visible, refused before a run is stored (this machine's count decides which)
  if (lj_cuda_device_count() >= 2) {
    assert_int_equal(lj_profile_gpu_tp_check(&o), 0);
  } else {
    assert_int_equal(lj_profile_gpu_tp_check(&o), LJ_EINVAL);
    assert_non_null(strstr(lj_error_message(), "--tp 2 over NCCL needs 2 GPUs (one per rank)"));
  }
  o.tp_backend = LJ_TP_BACKEND_LOOPBACK;
  assert_int_equal(lj_profile_gpu_tp_check(&o), 0);  // every rank on one GPU
  o.tp_backend = LJ_TP_BACKEND_NCCL;
  o.per_layer = 1;
  expect_refused(&o, LJ_EUNSUPPORTED, "--per-layer with --tp on the GPU");
  o.head_fit = 1;
  expect_refused(&o, LJ_EUNSUPPORTED, "--head-fit with --tp");
  o.known_answer_mb = 16;
  expect_refused(&o, LJ_EUNSUPPORTED, "--known-answer with --tp");
  o.fusion = 1;
  expect_refused(&o, LJ_EUNSUPPORTED, "--fusion production with --tp");
  o.device = 1;
  expect_refused(&o, LJ_EINVAL, "--device 1 with --tp-backend nccl");
  o.device = 1, o.tp_backend = LJ_TP_BACKEND_LOOPBACK;  // loopback: any one GPU
  assert_int_equal(lj_profile_gpu_tp_check(&o), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_gpus),
      cmocka_unit_test(test_one_gpu_for_every_rank),
      cmocka_unit_test(test_degree_one),
      cmocka_unit_test(test_trials_summed),
      cmocka_unit_test(test_gpu_temperatures),
      cmocka_unit_test(test_idle_at_each_gpu_temperature),
      cmocka_unit_test(test_allreduce_cost_of_the_plan),
      cmocka_unit_test(test_bad_device_count),
      cmocka_unit_test(test_refused_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
