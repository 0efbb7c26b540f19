// The HTML report end to end on a synthetic GPU run of Llama 3.2 1B written
// to a real store (every stage of prefill and decode, closures, an in-situ
// timeline over all 16 layers, 200,000 driver power samples, a prefill ablation's windows): the store read
// back, the page rendered, its strings escaped (the model, GPU and prompt
// names are hostile), no network loads in it, and, where Debian's chromium is
// installed, the page opened headless: no console error, no blocked request,
// every chart drew marks. Screenshots of each chart go to
// $LLAMAJOULE_SCREENSHOT_DIR (default: report-screenshots in the build directory).
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/error.h"
#include "model/config.h"
#include "profile/ablation_windows.h"
#include "profile/budget.h"
#include "profile/profile_analyze.h"
#include "report/report_page.h"
#include "report/report_run.h"
#include "store/store.h"
#include "legacy_head_fit.h"
#include "near.h"

#define HOSTILE "</script><script>alert(1)</script><!-- & \xe2\x80\xa8 \xe2\x80\xa9 \"'"

static char g_dir[256];

// An idle curve as a cool-down from 47 to 43 C fits it: a_w at 38 C, slope [slope - 0.2, slope + 0.2]
// W/C, fitted over 38..47 C; usable 0 says why the flat idle was kept.
static void set_idle_curve(lj_profile_idle_curve *c, double a_w, double slope, int usable) {
  memset(c, 0, sizeof *c);
  c->cooldown_s = 6, c->cool_start_c = 47, c->cool_end_c = 43;
  lj_idle_curve *k = &c->fit;
  k->t0_c = 38, k->a_w = a_w, k->slope_w_per_c = slope, k->slope_se_w_per_c = 0.1;
  k->slope_lo = slope - 0.2, k->slope_hi = slope + 0.2, k->r2 = 0.9;
  k->t_min_c = 38, k->t_max_c = 47, k->n_bins = 9, k->n_samples = 600, k->usable = usable;
  if (!usable) snprintf(k->why, sizeof k->why, "r2 0.31 below 0.5");
}

// The page's idle model of curve i: its stored fit, the flat idle, and the line over the run's
// 38..55 C (flat past the fitted 47 C) with the slope interval's band.
static void check_idle_curve(json_t *d, size_t i, int rank, double a_w, double slope, double flat_w) {
  json_t *c = json_array_get(json_object_get(d, "idle_curves"), i);
  if (!c) fail_msg("no idle curve %zu in the page's data", i);
  assert_int_equal(json_integer_value(json_object_get(c, "tp_rank")), rank);
  NEAR(json_number_value(json_object_get(c, "idle_at_t0_w")), a_w, 1e-9);
  NEAR(json_number_value(json_object_get(c, "slope_w_per_c")), slope, 1e-9);
  NEAR(json_number_value(json_object_get(c, "t0_c")), 38, 1e-9);
  NEAR(json_number_value(json_object_get(c, "flat_idle_w")), flat_w, 1e-9);
  json_t *line = json_object_get(c, "line"), *band = json_object_get(c, "band");
  assert_int_equal(json_array_size(line), 3);
  assert_int_equal(json_array_size(band), 3);
  const double t[3] = {38, 47, 55}, w[3] = {a_w, a_w + 9 * slope, a_w + 9 * slope};
  const double lo[3] = {a_w, a_w + 9 * (slope - 0.2), a_w + 9 * (slope - 0.2)};
  const double hi[3] = {a_w, a_w + 9 * (slope + 0.2), a_w + 9 * (slope + 0.2)};
  for (size_t k = 0; k < 3; k++) {
    json_t *p = json_array_get(line, k), *b = json_array_get(band, k);
    NEAR(json_number_value(json_array_get(p, 0)), t[k], 1e-9);
    NEAR(json_number_value(json_array_get(p, 1)), w[k], 1e-9);
    NEAR(json_number_value(json_array_get(b, 0)), t[k], 1e-9);
    NEAR(json_number_value(json_array_get(b, 1)), lo[k], 1e-9);
    NEAR(json_number_value(json_array_get(b, 2)), hi[k], 1e-9);
  }
}

static void add_stage(lj_profile_result *r, lj_phase p, lj_stage s, int64_t kv, double calls, double dyn_j, double t_call,
                      lj_profile_method m) {
  lj_profile_stage st;
  memset(&st, 0, sizeof st);
  lj_replay_estimate *e = &st.est;
  e->key.phase = p, e->key.stage = s, e->key.layer = -1, e->key.kv_len = kv;
  e->n_trials = 3;
  double dyn[3] = {dyn_j * 0.97, dyn_j, dyn_j * 1.03}, gross[3], t[3];
  for (int i = 0; i < 3; i++) gross[i] = dyn[i] + r->cond.idle_w * t_call, t[i] = t_call * (1 + 0.002 * (i - 1));
  assert_int_equal(lj_stats_mean_ci(dyn, 3, 0.95, &e->dynamic_j), 0);
  assert_int_equal(lj_stats_mean_ci(gross, 3, 0.95, &e->gross_j), 0);
  assert_int_equal(lj_stats_mean_ci(t, 3, 0.95, &e->time_per_call_s), 0);
  e->sample_gross_j = e->gross_j, e->sample_dynamic_j = e->dynamic_j;
  e->insitu_time_per_call_s = t_call, e->time_ratio = 1, e->counter_vs_sample_pct = 0.1;
  e->temperature_min_c = 40, e->temperature_max_c = 48;
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  if (p == LJ_PHASE_PREFILL) sh.n_tokens = r->plan.prompt_len;
  sh.kv_past = kv;
  assert_int_equal(lj_stage_cost_compute(&r->plan.config, s, lj_stage_is_per_layer(s) ? 0 : -1, &sh, &st.cost), 0);
  lj_stage_efficiency_compute(&e->dynamic_j, &st.cost, &st.eff);
  st.method = m;
  st.calls_per_unit = calls;
  assert_int_equal(lj_profile_add_stage(r, &st), 0);
}

// Per-call dynamic energy (J) and time (s) of each stage, prefill (512 tokens) and decode.
// per stage id; 0 for the all-reduce stages, which a degree-1 run does not have
static const double kPrefillJ[LJ_STAGE_COUNT] = {2e-5, 2e-4, 8e-3, 3e-4, 6e-3,  2.6e-3, 0, 2e-4,
                                                 2e-2, 6e-4, 1e-2, 0,    1e-5, 2e-2,   1e-5};
static const double kDecodeJ[LJ_STAGE_COUNT] = {2e-6,   1e-5,   4e-4, 1e-5, 1.5e-4, 1.4e-4, 0,   1e-5,
                                                1.1e-3, 1.5e-5, 5.5e-4, 0, 1e-6, 9e-3,   2e-5};

static void build(lj_profile_result *r) {
  lj_profile_result_init(r);
  lj_profile_plan *pl = &r->plan;
  strcpy(pl->model, "llama-3.2-1b");
  snprintf(pl->model_name, sizeof pl->model_name, "1b " HOSTILE);
  assert_int_equal(lj_config_preset("llama-3.2-1b", &pl->config), 0);
  strcpy(pl->engine, "cuda");
  pl->weights_random = 1;
  pl->batch = 1, pl->prompt_len = 512, pl->gen_len = 128, pl->repeats = 3, pl->trials = 3;
  pl->replay_seconds = 2, pl->replay_duty = 0.5, pl->phase_seconds = 2, pl->level = 0.95, pl->layers_replayed = 16;
  pl->n_decode_kv = 1, pl->decode_kv[0] = 576;
  pl->ablation = 2, pl->sequence = 1;
  snprintf(pl->prompt_source, sizeof pl->prompt_source, "</script>&\xe2\x80\xa8");
  lj_profile_conditions *c = &r->cond;
  snprintf(c->device.name, sizeof c->device.name, "NVIDIA H100 " HOSTILE);
  strcpy(c->device.uuid, "GPU-0000");
  strcpy(c->device.driver_version, "580.159.04");
  strcpy(c->cuda_driver, "13.0");
  c->idle_w = 70, c->idle_sd_w = 0.4;
  strcpy(c->idle_method, "measured 5 s before the run (counter)");
  c->temperature_min_c = 38, c->temperature_max_c = 55, c->sm_clock_min_mhz = 1755, c->sm_clock_max_mhz = 1980;
  c->power_limit_w = 700;
  strcpy(c->throttle_text, "none");
  r->complete = 1;
  snprintf(r->notes, sizeof r->notes, "note " HOSTILE);

  // Phase windows on the samples' clock: 40 s of samples from t = 1 s.
  const struct {
    lj_phase p;
    double begin_s, seconds, gross_j;
    int64_t units, tokens;
  } win[] = {{LJ_PHASE_LOAD, 2, 3, 600, 1, 0},           {LJ_PHASE_PREFILL, 8, 2.1, 780, 20, 512},
             {LJ_PHASE_PREFILL, 11, 2.1, 790, 20, 512},  {LJ_PHASE_PREFILL, 14, 2.1, 785, 20, 512},
             {LJ_PHASE_DECODE, 18, 2.4, 640, 2, 128},    {LJ_PHASE_DECODE, 22, 2.4, 650, 2, 128},
             {LJ_PHASE_DECODE, 26, 2.4, 645, 2, 128}};
  for (size_t i = 0; i < sizeof win / sizeof win[0]; i++) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    w.phase = win[i].p, w.units = win[i].units, w.tokens_per_unit = win[i].tokens, w.repeat = (int)i % 3;
    snprintf(w.w.name, sizeof w.w.name, "%s", lj_phase_name(w.phase));
    w.w.begin_ns = (int64_t)(win[i].begin_s * 1e9);
    w.w.end_ns = w.w.begin_ns + (int64_t)(win[i].seconds * 1e9);
    w.w.duration_s = win[i].seconds, w.host_s = win[i].seconds;
    w.w.counter_energy_j = win[i].gross_j, w.w.sample_energy_j = win[i].gross_j * 0.998;
    w.w.idle_power_w = 70;
    w.w.counter_above_idle_j = win[i].gross_j - 70 * win[i].seconds;
    w.w.sample_above_idle_j = w.w.sample_energy_j - 70 * win[i].seconds;
    w.w.mean_power_w = win[i].gross_j / win[i].seconds, w.w.peak_power_w = win[i].gross_j / win[i].seconds * 1.2;
    w.w.integrated_reading = LJ_READING_POWER_SAMPLE;
    assert_int_equal(lj_profile_add_window(r, &w), 0);
  }
  assert_int_equal(lj_profile_summarize_phases(r), 0);

  for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
    double per = lj_stage_is_per_layer((lj_stage)s) ? 16 : 1;
    add_stage(r, LJ_PHASE_PREFILL, (lj_stage)s, 0, per, kPrefillJ[s], kPrefillJ[s] / 300, LJ_METHOD_ISOLATION);
    add_stage(r, LJ_PHASE_DECODE, (lj_stage)s, 576, per * 128, kDecodeJ[s], kDecodeJ[s] / 150, LJ_METHOD_ISOLATION);
    if (lj_stage_is_per_layer((lj_stage)s)) {
      add_stage(r, LJ_PHASE_PREFILL, (lj_stage)s, 0, per, kPrefillJ[s] * 1.15, kPrefillJ[s] / 300, LJ_METHOD_SEQUENCE);
      add_stage(r, LJ_PHASE_DECODE, (lj_stage)s, 576, per * 128, kDecodeJ[s] * 1.1, kDecodeJ[s] / 150, LJ_METHOD_SEQUENCE);
    }
  }
  for (int p = LJ_PHASE_PREFILL; p <= LJ_PHASE_DECODE; p++) {
    lj_closure *cl = &r->closure_sequence[p];
    cl->phase = (lj_phase)p, cl->n_terms = 13;
    cl->measured_dynamic_j = r->phases[p].dynamic_j.mean, cl->measured_gross_j = r->phases[p].gross_j.mean;
    lj_interval_from_se(cl->measured_dynamic_j * 0.98, cl->measured_dynamic_j * 0.01, 8, 0.95, &cl->predicted_dynamic_j);
    lj_interval_from_se(cl->measured_gross_j * 0.99, cl->measured_gross_j * 0.01, 8, 0.95, &cl->predicted_gross_j);
    cl->error_dynamic_pct = -2.0, cl->error_dynamic_lo_pct = -4.1, cl->error_dynamic_hi_pct = 0.2;
    cl->error_gross_pct = -1.0, cl->error_gross_lo_pct = -2.0, cl->error_gross_hi_pct = 0.1;
    r->closure[p] = *cl;
    r->closure[p].error_dynamic_pct = -12.5, r->closure[p].error_dynamic_lo_pct = -15, r->closure[p].error_dynamic_hi_pct = -10;
  }
  // The in-situ timeline: one prefill and 128 decode steps, every layer's stages; later layers cost a little more.
  int64_t t = 30000000000ll;
  for (int step = 0; step <= 128; step++) {
    lj_phase p = step ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL;
    for (int l = 0; l < 16; l++)
      for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1)) {
        lj_stage_interval iv = {.begin_ns = t, .end_ns = t + 20000, .phase = p, .stage = (lj_stage)s, .layer = l};
        assert_int_equal(lj_profile_add_interval(r, &iv, step), 0);
        r->interval_energy_j[r->n_intervals - 1] = (step ? kDecodeJ[s] : kPrefillJ[s]) * (1 + 0.02 * l);
        t += 25000;
      }
  }
  r->timeline_valid = 1;
  r->timeline.phase[LJ_PHASE_DECODE].n_intervals = 128 * 16 * 9;
  // Decode's layers x stages measured alone (--per-layer): that heatmap uses them, prefill's the timeline.
  for (int l = 0; l < 16; l++)
    for (int s = LJ_STAGE_ATTN_NORM; s <= LJ_STAGE_DOWN; s = lj_stage_next(s, 1)) {
      lj_layer_stage_estimate e;
      memset(&e, 0, sizeof e);
      e.phase = LJ_PHASE_DECODE, e.layer = l, e.stage = (lj_stage)s, e.kv_len = 576, e.n_trials = 1;
      e.dynamic_j.n = e.gross_j.n = e.time_s.n = 1;
      e.dynamic_j.mean = kDecodeJ[s] * (l == 7 ? 0.5 : 1.0), e.gross_j.mean = 2 * kDecodeJ[s], e.time_s.mean = 2e-5;
      e.dynamic_j.lo = e.dynamic_j.hi = e.gross_j.lo = e.gross_j.hi = e.time_s.lo = e.time_s.hi = NAN;
      e.insitu_time_s = 2e-5, e.time_ratio = 1.0;
      assert_int_equal(lj_profile_add_layer_stage(r, &e), 0);
    }
  double full[3] = {80, 80.5, 79.6}, ablated[3] = {41, 41.3, 40.8};
  lj_mean_ci replay;
  assert_int_equal(lj_stats_mean_ci((double[]){1.9e-2, 1.92e-2, 1.88e-2}, 3, 0.95, &replay), 0);
  assert_int_equal(lj_ablation_compute(LJ_STAGE_GATE_UP, 2048, full, 3, ablated, 3, &replay, 0.95, &r->ablation), 0);
  r->ablation_valid = 1;
  // A prefill attention ablation that misses, its windows without attention at the power cap (the
  // 3B H100 example's figures): the page's windows table under the checks.
  lj_ablation_check *ac = &r->ablation_checks[r->n_ablation_checks++];
  ac->phase = LJ_PHASE_PREFILL, ac->method = LJ_METHOD_ISOLATION, ac->a = r->ablation;
  ac->a.stage = LJ_STAGE_ATTN, ac->a.calls = 16, ac->a.agreement_pct = -685.1;
  ac->a.ratio.estimate = -5.851, ac->a.ratio.lo = -7.322, ac->a.ratio.hi = -4.379;
  ac->a.flags = LJ_WINDOW_POWER_CAP | LJ_WINDOW_SAMPLE_ENERGY;
  for (int i = 0; i < 5; i++) {
    lj_ablation_window w;
    lj_ablation_window_init(&w, LJ_PHASE_PREFILL, i, i % 2 ? (i == 1 ? LJ_ABLATE_NO_ATTN : LJ_ABLATE_NO_MLP) : 0);
    w.units = 574, w.duration_s = 2.0, w.sample_j = i == 1 ? 1.852 : i == 3 ? 0.646 : 1.782;
    w.counter_j = w.sample_j, w.mean_power_w = i == 1 ? 690.4 : i == 3 ? 555 : 638, w.peak_power_w = 700.4;
    w.temperature_start_c = 55, w.temperature_end_c = 56, w.at_cap = i == 1;
    w.flags = w.at_cap ? LJ_WINDOW_POWER_CAP : 0;
    assert_int_equal(lj_profile_add_ablation_window(r, &w), 0);
  }
  lj_ablation_windows_number(r->abl_windows, r->n_abl_windows);
  // The attention-head fit: decode attention with 1 .. 8 KV groups, one trial each, ~8 uJ + 2.5 uJ per group.
  int groups[8];
  double ej[8];
  for (int g = 1; g <= 8; g++) {
    lj_profile_trial tr;
    memset(&tr, 0, sizeof tr);
    tr.key.phase = LJ_PHASE_DECODE, tr.key.stage = LJ_STAGE_ATTN, tr.key.layer = -1, tr.key.kv_len = 576;
    tr.groups = g, tr.method = LJ_METHOD_ISOLATION;
    tr.t.calls = 100000, tr.t.duration_s = 1, tr.t.idle_w = 70, tr.t.temperature_c = 45;
    ej[g - 1] = 8e-6 + 2.5e-6 * g + 1e-7 * ((g % 3) - 1);
    tr.t.counter_energy_j = tr.t.sample_energy_j = ej[g - 1] * 100000 + 70;
    groups[g - 1] = g;
    assert_int_equal(lj_profile_add_trial(r, &tr), 0);
  }
  assert_int_equal(legacy_head_fit(groups, ej, 8, 32, 8, 0.95, &r->head_fit), 0);
  r->head_fit_valid = 1, r->head_fit_kv = 576, pl->head_fit = 1;
  // The attention-head grid: an all-batch energy fit that does not hold, batch 1's that does, a skipped point.
  lj_head_grid_point hp;
  memset(&hp, 0, sizeof hp);
  hp.batch = 32, hp.kv_len = 32768, hp.groups = 8, hp.kv_bytes = hp.need_bytes = 2LL << 30, hp.fitted = NAN;
  snprintf(hp.skipped, sizeof hp.skipped, "K and V of one layer, 32 x 8 x 32768 x 64 x 2 x 2 B = 2.00 GiB, exceed "
           "the 1.50 GiB free");
  assert_int_equal(lj_profile_add_head_point(r, &hp), 0);
  for (int b = 0; b <= 1; b++) {
    lj_head_grid_fit hf;
    memset(&hf, 0, sizeof hf);
    snprintf(hf.quantity, sizeof hf.quantity, "dynamic_j");
    hf.batch = b, hf.n_obs = b ? 42 : 124, hf.n_points = b ? 21 : 62;
    lj_interval_from_se(4e-6, 1e-7, 100, 0.95, &hf.fixed);
    lj_interval_from_se(1.5e-6, 2e-7, 100, 0.95, &hf.per_group);
    lj_interval_from_se(1.2e-10, 1e-13, 100, 0.95, &hf.per_byte);
    hf.r2 = 0.9995, hf.lof_f = b ? 0.9 : 7.5, hf.lof_df_lack = hf.n_points - 3, hf.lof_df_pure = hf.n_points;
    hf.lof_p = b ? 0.62 : 1e-12, hf.holds = b;
    hf.small_batch = 1, hf.small_kv = 512, hf.large_batch = b ? 1 : 32, hf.large_kv = 32768;
    lj_interval_from_se(b ? 1.3e-6 : NAN, 1e-8, 100, 0.95, &hf.per_head_small);
    lj_interval_from_se(b ? 8e-5 : NAN, 1e-6, 100, 0.95, &hf.per_head_large);
    hf.flags = LJ_WINDOW_SAMPLE_ENERGY, hf.counter_per_byte = 1.21e-10, hf.counter_lof_p = 1e-9;
    assert_int_equal(lj_profile_add_head_fit(r, &hf), 0);
  }
  set_idle_curve(&r->idle_curve, 68.5, 0.8, 1);  // the idle model's chart
  r->idle_curve_valid = 1;
  assert_int_equal(lj_analyze_budgets(r), 0);  // the page's budget tables
}

// 200,000 driver power samples (20 ms apart would be 4000 s; here 0.2 ms, as a long run's count),
// with a clock and a temperature every 100 ms.
static void store_samples(lj_store *st, int64_t run) {
  lj_device_info d;
  memset(&d, 0, sizeof d);
  snprintf(d.name, sizeof d.name, "NVIDIA H100 " HOSTILE);
  strcpy(d.uuid, "GPU-0000");
  strcpy(d.source, "replay");
  assert_int_equal(lj_store_add_device(st, run, &d), 0);
  enum { N = 200000 };
  lj_sample *s = calloc(N + 800, sizeof *s);
  assert_non_null(s);
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    double ts = 1.0 + i * 0.0002;  // 1 .. 41 s
    double busy = (ts > 2 && ts < 5) ? 200 : (ts > 8 && ts < 16.5) ? 370 : (ts > 18 && ts < 28.5) ? 268 : 0;
    s[n].t_ns = (int64_t)(ts * 1e9), s[n].reading = LJ_READING_POWER_SAMPLE;
    s[n++].value = 70 + busy + 15 * sin(i * 0.013) + (i % 7);
    if (i % 500 == 0) {
      s[n].t_ns = (int64_t)(ts * 1e9), s[n].reading = LJ_READING_CLOCK_SM, s[n++].value = busy ? 1980 : 1755;
      s[n].t_ns = (int64_t)(ts * 1e9), s[n].reading = LJ_READING_TEMPERATURE, s[n++].value = 38 + ts * 0.4;
    }
  }
  assert_int_equal(lj_store_add_samples(st, run, s, n), 0);
  free(s);
}

static void make_store(const char *path) {
  lj_store *st = NULL;
  remove(path);
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile " HOSTILE, .source = "nvml"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  store_samples(st, run);
  lj_profile_result r;
  build(&r);
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  lj_profile_result_free(&r);
  assert_int_equal(lj_store_end_run(st, run, LJ_RUN_COMPLETE, 0), 0);
  lj_store_close(st);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

// The text of element id="ID" (up to the next '<').
static char *element_text(const char *html, const char *id) {
  char key[64];
  snprintf(key, sizeof key, "id=\"%s\"", id);
  const char *p = strstr(html, key);
  if (!p) return NULL;
  p = strchr(p, '>') + 1;
  const char *e = strchr(p, '<');
  return strndup(p, (size_t)(e - p));
}

static void test_page(void **state) {
  char db[512], html_path[512];
  snprintf(db, sizeof db, "%s/gpu-1b.db", g_dir);
  snprintf(html_path, sizeof html_path, "%s/gpu-1b.html", g_dir);
  make_store(db);
  lj_report_run run;
  assert_int_equal(lj_report_load(db, 0, &run), 0);
  assert_string_equal(run.missing, "");
  assert_int_equal(run.trace.n_samples, 200000 + 800);
  // Findings come from the run's numbers: decode's largest group is the MLP (1.665 mJ x 1.1 x 16 x 128 per unit).
  lj_finding f[16];
  size_t nf = lj_report_findings(&run, f, 16);
  for (size_t i = 0; getenv("LJ_REPORT_PRINT") && i < nf; i++) printf("%s: %s\n", f[i].rule, f[i].text);
  assert_true(nf >= 5);
  assert_string_equal(f[0].rule, "phase-group");
  assert_non_null(strstr(f[0].text, "Decode spends"));
  assert_non_null(strstr(f[0].text, "57% of its replayed dynamic energy in the MLP"));
  FILE *out = fopen(html_path, "w");
  assert_non_null(out);
  int rc = lj_report_html(out, &run);
  fclose(out);
  // The same run as if split over 2 GPUs (tensor parallelism: 3/4 and 1/4 of each phase): the
  // page gains the per-GPU table, opened below.
  char tp_path[512];
  snprintf(tp_path, sizeof tp_path, "%s/gpu-1b-tp2.html", g_dir);
  run.prof.plan.tp_degree = run.prof.n_ranks = 2;
  for (int k = 0; k < 2; k++)
    for (int p = 0; p < LJ_PHASE_COUNT; p++) {
      lj_phase_summary *ps = &run.prof.rank_phases[k][p];
      *ps = run.prof.phases[p];
      ps->gross_j.mean *= k ? 0.25 : 0.75;
      ps->dynamic_j.mean *= k ? 0.25 : 0.75;
    }
  // and the Shapley split's additive check of the sum and of each GPU (decode): GPU 1's a MISS
  for (int k = 0; k <= 2; k++) {
    lj_shapley_check *c = k < 2 ? &run.prof.ranks[k].shapley[LJ_PHASE_DECODE] : &run.prof.shapley[LJ_PHASE_DECODE];
    c->phase = LJ_PHASE_DECODE, c->n_rounds = 3, c->n_stages = LJ_LAYER_STAGES_TP;
    c->full_j.mean = k == 2 ? 4e-3 : k ? 1e-3 : 3e-3, c->full_j.n = 3;
    c->residual_pct = k == 1 ? 12.0 : 1.0, c->residual_lo_pct = c->residual_pct - 1, c->residual_hi_pct = c->residual_pct + 1;
    c->sum_shapley_j.estimate = c->full_j.mean * (1 + c->residual_pct / 100);
    c->pass = k != 1;
  }
  // GPU 1's own budget, 8% of its layer: judged [+4%, +20%], INCONCLUSIVE where its trials alone MISS
  lj_budget *b1 = calloc(1, sizeof *b1);
  assert_non_null(b1);
  snprintf(b1->kind, sizeof b1->kind, "shapley");
  b1->phase = LJ_PHASE_DECODE, b1->method = LJ_METHOD_SHAPLEY, b1->stage = LJ_STAGE_NONE;
  b1->reference_j = 1e-3, b1->total_j = 0.08e-3;
  run.prof.ranks[1].budgets = b1, run.prof.ranks[1].n_budgets = 1;
  // each GPU's own idle curve (GPU 1's not used) in place of the run's
  run.prof.idle_curve_valid = 0;
  for (int k = 0; k < 2; k++) {
    set_idle_curve(&run.prof.ranks[k].idle_curve, k ? 60 : 64, k ? 0.5 : 1.1, !k);
    run.prof.ranks[k].idle_curve_valid = 1, run.prof.ranks[k].idle_w = k ? 61 : 66;
    run.prof.ranks[k].temperature_min_c = run.prof.ranks[k].temperature_max_c = NAN;  // not stored
  }
  out = fopen(tp_path, "w");
  assert_non_null(out);
  assert_int_equal(lj_report_html(out, &run), rc);
  fclose(out);
  lj_report_run_free(&run);
  if (rc == LJ_EUNSUPPORTED) skip();  // built without node_modules/echarts
  assert_int_equal(rc, 0);

  size_t len = 0;
  char *html = slurp(html_path, &len);
  // Escaped everywhere: the hostile strings never appear raw, and the data parses back to them.
  assert_null(strstr(html, "<script>alert(1)"));
  assert_null(strstr(html, "\xe2\x80\xa8"));
  assert_non_null(strstr(html, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
  assert_non_null(strstr(html, "<title>llamajoule: 1b &lt;/script&gt;&lt;script&gt;alert(1)"));
  char *data = element_text(html, "lj-data");
  assert_non_null(data);
  json_error_t err;
  json_t *d = json_loads(data, 0, &err);
  assert_non_null(d);
  assert_string_equal(json_string_value(json_object_get(json_object_get(d, "model"), "name")), "1b " HOSTILE);
  assert_string_equal(json_string_value(json_object_get(json_object_get(d, "gpu"), "name")), "NVIDIA H100 " HOSTILE);
  // the idle model: the run's one curve, as stored, drawn over the run's temperatures
  assert_int_equal(json_array_size(json_object_get(d, "idle_curves")), 1);
  check_idle_curve(d, 0, 0, 68.5, 0.8, 70);
  json_decref(d);
  free(data);
  // the degree-2 page: each GPU's own curve and flat idle
  char *tp_html = slurp(tp_path, NULL);
  data = element_text(tp_html, "lj-data");
  d = json_loads(data, 0, &err);
  assert_non_null(d);
  assert_int_equal(json_array_size(json_object_get(d, "idle_curves")), 2);
  check_idle_curve(d, 0, 0, 64, 1.1, 66);
  check_idle_curve(d, 1, 1, 60, 0.5, 61);
  assert_false(json_is_true(json_object_get(json_array_get(json_object_get(d, "idle_curves"), 1), "used")));
  json_decref(d);
  free(data);
  free(tp_html);
  // Offline: nothing is loaded from anywhere (scripts and styles are inline, the CSP forbids requests).
  assert_null(strstr(html, "<script src"));
  assert_null(strstr(html, "<link"));
  assert_null(strstr(html, "src=\"http"));
  assert_null(strstr(html, "url(http"));
  assert_null(strstr(html, "@import"));
  assert_non_null(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
  free(html);

  if (getenv("LLAMAJOULE_SANITIZED")) {  // the release build's run opens the page; the browser is not what ASan checks
    fprintf(stderr, "skip: sanitized build: the page is opened by the release build's test\n");
    return;
  }
  if (system("command -v chromium >/dev/null 2>&1") != 0) {
    fprintf(stderr, "skip: chromium is not installed (apt-get install chromium): the page was not opened\n");
    return;
  }
  // Network off as well: every host resolves to nothing.
  const char *chrome = "timeout 120 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars "
                       "--host-resolver-rules='MAP * ~NOTFOUND' --virtual-time-budget=20000";
  char cmd[2048], dom[600];
  snprintf(dom, sizeof dom, "%s/dom.html", g_dir);
  snprintf(cmd, sizeof cmd, "%s --dump-dom 'file://%s' >'%s' 2>/dev/null", chrome, html_path, dom);
  assert_int_equal(system(cmd), 0);
  char *after = slurp(dom, NULL);
  char *st = element_text(after, "lj-status");
  assert_non_null(st);
  json_t *s = json_loads(st, 0, &err);
  if (!s) fail_msg("status is not JSON: %s", st);
  assert_true(json_is_true(json_object_get(s, "done")));
  assert_int_equal(json_array_size(json_object_get(s, "errors")), 0);
  assert_int_equal(json_integer_value(json_object_get(s, "violations")), 0);
  static const char *const kCharts[] = {"sankey",      "heatmap-prefill", "heatmap-decode", "layers-prefill",
                                        "layers-decode", "power",         "bars-prefill",   "bars-decode",
                                        "efficiency",  "head-fit",        "idle-curve"};
  json_t *charts = json_object_get(s, "charts");
  for (size_t i = 0; i < sizeof kCharts / sizeof kCharts[0]; i++) {
    json_t *c = json_object_get(charts, kCharts[i]);
    if (!c) fail_msg("chart %s was not drawn: %s", kCharts[i], st);
    if (json_integer_value(json_object_get(c, "marks")) < 5) fail_msg("chart %s drew no marks: %s", kCharts[i], st);
    if (json_integer_value(json_object_get(c, "points")) < 1) fail_msg("chart %s has no data: %s", kCharts[i], st);
  }
  assert_int_equal(json_object_size(json_object_get(s, "skipped")), 0);
  // the decode heatmap says it shows the cells measured alone, the prefill one the timeline's
  assert_non_null(strstr(after, "Measured: each stage of each decoder layer replayed alone"));
  assert_non_null(strstr(after, "From the in-situ timeline: gross energy of each stage call"));
  assert_non_null(strstr(after, "Uncertainty budget, decode: what each interval is made of"));
  assert_non_null(strstr(after, "not measured"));  // card to card
  // the head grid's table: the verdict of each fit, a per-head cost only where it holds, the skipped point
  assert_non_null(strstr(after, "Attention heads: fixed + per KV group + per byte of K and V, where the fit holds"));
  assert_non_null(strstr(after, "fit does not hold: no per-head cost"));
  assert_non_null(strstr(after, "holds</td>"));
  assert_non_null(strstr(after, "exceed the 1.50 GiB free"));
  assert_null(strstr(after, "<h3>Per GPU"));  // a degree-1 run has no per-GPU table (the script names it)
  // the ablation windows under the checks: the pair's windows, the one at the cap
  assert_non_null(strstr(after, "<h3>Ablation windows: each full and skipped window in the order it ran</h3>"));
  assert_non_null(strstr(after, "<td>690.4 W</td>"));
  assert_non_null(strstr(after, "<td>3.484 ms</td>"));
  assert_non_null(strstr(after, "Power cap: the pairs of prefill attn (isolation) hold a window at the power limit"));
  assert_non_null(strstr(after, "68.5 W at 38.0 \u00b0C, +0.8 W/\u00b0C [0.6, 1.0]"));  // the idle model's note
  assert_non_null(strstr(after, "The cool-down's samples are not stored"));
  json_decref(s);
  free(st);
  free(after);

  // the degree-2 page: no error, and the per-GPU table with each GPU's share
  snprintf(cmd, sizeof cmd, "%s --dump-dom 'file://%s' >'%s' 2>/dev/null", chrome, tp_path, dom);
  assert_int_equal(system(cmd), 0);
  after = slurp(dom, NULL);
  st = element_text(after, "lj-status");
  assert_non_null(st);
  s = json_loads(st, 0, &err);
  if (!s) fail_msg("status is not JSON: %s", st);
  assert_true(json_is_true(json_object_get(s, "done")));
  assert_int_equal(json_array_size(json_object_get(s, "errors")), 0);
  assert_non_null(strstr(after, "<h3>Per GPU (tensor-parallel degree 2; per unit)</h3>"));
  assert_non_null(strstr(after, "<td>75.0%</td>"));
  assert_non_null(strstr(after, "<td>sum</td>"));
  assert_non_null(strstr(after, "Per GPU: each GPU"));  // the per-GPU additive checks under the Shapley table
  // GPU 1's check, judged with its own budget; GPU 0's has none stored (its trials' interval)
  assert_non_null(strstr(after, "<td>+12.0% [+11.0%, +13.0%]</td><td>\u00b18.0%</td><td>[+4.0%, +20.0%]</td>"
                                "<td>INCONCLUSIVE</td>"));
  assert_non_null(strstr(after, "<td>+1.0% [0.0%, +2.0%]</td><td>-</td><td>[0.0%, +2.0%]</td><td>PASS</td>"));
  // the idle model, one band, line and flat idle per GPU; GPU 1's not used
  assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(s, "charts"), "idle-curve"), "series")), 6);
  assert_non_null(strstr(after, "GPU 1: 60.0 W at 38.0 \u00b0C, +0.5 W/\u00b0C [0.3, 0.7]"));
  assert_non_null(strstr(after, "not used (r2 0.31 below 0.5): the flat idle was subtracted"));
  json_decref(s);
  free(st);
  free(after);

  // Screenshots: the whole page and each chart alone.
  const char *shots = getenv("LLAMAJOULE_SCREENSHOT_DIR"), *bin = getenv("LLAMAJOULE_BIN");
  char dir[512];
  if (shots && *shots) snprintf(dir, sizeof dir, "%s", shots);
  else if (bin && strrchr(bin, '/')) snprintf(dir, sizeof dir, "%.*s/report-screenshots", (int)(strrchr(bin, '/') - bin), bin);
  else snprintf(dir, sizeof dir, "%s/screenshots", g_dir);
  mkdir(dir, 0755);
  for (size_t i = 0; i <= sizeof kCharts / sizeof kCharts[0]; i++) {
    const char *id = i ? kCharts[i - 1] : NULL;
    snprintf(cmd, sizeof cmd, "%s --window-size=1200,%d --screenshot='%s/report-%s.png' 'file://%s%s%s' >/dev/null 2>&1",
             chrome, id ? (strcmp(id, "sankey") ? 560 : 680) : 2600, dir, id ? id : "page", html_path, id ? "#only=" : "",
             id ? id : "");
    assert_int_equal(system(cmd), 0);
  }
}

static int setup(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_report_html_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  lj_set_quiet(1);
  return 0;
}

static int teardown(void **state) {
  char cmd[512];
  if (getenv("LLAMAJOULE_KEEP")) return 0;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_page)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
