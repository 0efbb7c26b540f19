// The store's profile tables (schema version 3): a synthetic profile written
// and read back with plain SQL (values, NAN as NULL, links to `windows`,
// counts, both methods' rows under one key), one transaction (a failing last
// table leaves nothing), refusal of read-only handles, and the in-place
// upgrades of version-1 and version-2 files.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/profile_analyze.h"
#include "profile/profile_run.h"
#include "store/profile_result.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "old_store.h"

static char g_dir[256];

static void path_in_tmp(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_dir, name); }

static int setup_dir(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_store_profile_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  lj_set_quiet(1);  // the upgrade's info line
  return 0;
}

static int teardown_dir(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

// A mean with an interval whose fields are all distinct.
static lj_mean_ci ci(double mean, int n) {
  lj_mean_ci m;
  memset(&m, 0, sizeof m);
  m.n = n;
  m.mean = mean;
  m.stddev = mean * 0.1;
  m.cv = 0.1;
  m.sem = m.stddev / sqrt(n);
  m.df = n - 1;
  m.level = 0.95;
  m.half_width = 2 * m.sem;
  m.lo = mean - m.half_width;
  m.hi = mean + m.half_width;
  return m;
}

static lj_mean_ci ci_unknown(void) {
  lj_mean_ci m;
  memset(&m, 0, sizeof m);
  m.mean = m.stddev = m.cv = m.sem = m.df = m.half_width = m.lo = m.hi = NAN;
  return m;
}

static lj_interval interval(double est, double se) {
  lj_interval v = {.estimate = est, .se = se, .df = 4.5, .level = 0.95, .lo = est - 2.5 * se, .hi = est + 2.5 * se};
  return v;
}

static lj_window_result window(const char *name, int64_t begin_ns, double seconds, double counter_j, uint32_t flags) {
  lj_window_result w;
  memset(&w, 0, sizeof w);
  snprintf(w.name, sizeof w.name, "%s", name);
  w.device = 0;
  w.begin_ns = begin_ns;
  w.end_ns = begin_ns + (int64_t)(seconds * 1e9);
  w.duration_s = seconds;
  w.counter_energy_j = counter_j;
  w.counter_updates = 10;
  w.sample_energy_j = counter_j * 0.99;
  w.n_samples = 50;
  w.integrated_reading = LJ_READING_POWER_SAMPLE;
  w.mean_power_w = counter_j / seconds;
  w.peak_power_w = 700;
  w.idle_power_w = 100;
  w.counter_above_idle_j = counter_j - 100 * seconds;
  w.sample_above_idle_j = w.sample_energy_j - 100 * seconds;
  w.flags = flags;
  return w;
}

// A profile touching every table, with NAN where a runner leaves values unknown.
static void make_profile(lj_profile_result *r, size_t n_intervals) {
  lj_profile_result_init(r);
  lj_profile_plan *p = &r->plan;
  snprintf(p->model, sizeof p->model, "llama-3.2-1b");
  snprintf(p->model_name, sizeof p->model_name, "llama-3.2-1b");
  p->weights_random = 1;
  snprintf(p->config.name, sizeof p->config.name, "llama-3.2-1b");
  p->config.dim = 2048;
  p->config.hidden_dim = 8192;
  p->config.n_layers = 2;
  p->config.n_heads = 32;
  p->config.n_kv_heads = 8;
  p->config.head_dim = 64;
  p->config.vocab_size = 128256;
  p->config.max_seq_len = 131072;
  p->config.rope_theta = 500000;
  p->config.rope_type = LJ_ROPE_LLAMA3;
  p->config.rope_factor = 32;
  p->config.norm_eps = 1e-5;
  p->config.bos_id = 128000;
  p->config.eos_id = 128001;
  snprintf(p->engine, sizeof p->engine, "cuda");
  snprintf(p->fusion, sizeof p->fusion, "production");  // stored as engine "cuda+production"
  snprintf(p->gemv, sizeof p->gemv, "r4u2");
  p->batch = 4;
  p->prompt_len = 128;
  p->gen_len = 64;
  p->repeats = 2;
  p->trials = 3;
  p->replay_seconds = 2.5;
  p->phase_seconds = 1.0;
  p->layers_replayed = 2;
  p->n_decode_kv = 3;
  p->decode_kv[0] = 128;
  p->decode_kv[1] = 160;
  p->decode_kv[2] = 191;
  p->ablation = p->head_fit = 1;
  p->seed = UINT64_MAX;  // does not fit a signed integer: stored as its bit pattern
  snprintf(p->prompt_source, sizeof p->prompt_source, "built-in text");
  r->complete = 1;

  snprintf(r->cond.device.name, sizeof r->cond.device.name, "NVIDIA H200");
  snprintf(r->cond.device.uuid, sizeof r->cond.device.uuid, "GPU-1234");
  r->cond.idle_w = 118.5;  // idle_sd_w stays NAN; clock and temperature ranges stay +-INFINITY (no readings)
  snprintf(r->cond.idle_method, sizeof r->cond.idle_method, "measured 5 s before the run (counter)");
  r->cond.power_limit_w = 700;
  r->cond.throttle_seen = 0x4;
  snprintf(r->cond.throttle_text, sizeof r->cond.throttle_text, "sw_power_cap");
  r->cond.n_samples = 123456;
  snprintf(r->cond.cuda_driver, sizeof r->cond.cuda_driver, "13.0");

  // Windows: prefill twice, decode twice (the second without samples).
  const struct {
    lj_phase phase;
    int repeat;
    double seconds, counter_j;
    uint32_t flags;
  } win[] = {{LJ_PHASE_PREFILL, 0, 1.0, 400.0, 0},
             {LJ_PHASE_PREFILL, 1, 1.0, 410.0, 0},
             {LJ_PHASE_DECODE, 0, 2.0, 900.0, 0},
             {LJ_PHASE_DECODE, 1, 2.0, 910.0, LJ_WINDOW_NO_SAMPLES}};
  for (int i = 0; i < 4; i++) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    w.phase = win[i].phase;
    w.repeat = win[i].repeat;
    w.units = 10;
    w.tokens_per_unit = w.phase == LJ_PHASE_PREFILL ? 512 : 256;
    w.w = window(lj_phase_name(w.phase), 1000000000ll * (i + 1), win[i].seconds, win[i].counter_j, win[i].flags);
    w.host_s = win[i].seconds * 0.98;
    assert_int_equal(lj_profile_add_window(r, &w), 0);
  }
  assert_int_equal(lj_profile_summarize_phases(r), 0);

  // Stages: qkv measured fully, its estimate the samples' (short trials), the counter's beside it;
  // attn with no in-situ time and no driver samples: the counter's.
  for (int s = 0; s < 2; s++) {
    lj_profile_stage st;
    memset(&st, 0, sizeof st);
    lj_replay_estimate *e = &st.est;
    e->key.phase = LJ_PHASE_DECODE;
    e->key.stage = s == 0 ? LJ_STAGE_QKV : LJ_STAGE_ATTN;
    e->key.layer = -1;
    e->key.kv_len = 128;
    e->n_trials = 3;
    e->counter_gross_j = ci(s == 0 ? 0.0125 : 0.0031, 3);
    e->counter_dynamic_j = ci(s == 0 ? 0.0100 : 0.0025, 3);
    e->sample_gross_j = s == 0 ? ci(0.0124, 3) : ci_unknown();
    e->sample_dynamic_j = s == 0 ? ci(0.0099, 3) : ci_unknown();
    e->gross_j = s == 0 ? e->sample_gross_j : e->counter_gross_j;
    e->dynamic_j = s == 0 ? e->sample_dynamic_j : e->counter_dynamic_j;
    e->time_per_call_s = ci(2e-5, 3);
    e->insitu_time_per_call_s = s == 0 ? 2.1e-5 : NAN;
    e->time_ratio = s == 0 ? 2e-5 / 2.1e-5 : NAN;
    e->counter_vs_sample_pct = s == 0 ? 0.8 : NAN;
    e->temperature_min_c = s == 0 ? 41 : NAN;
    e->temperature_max_c = s == 0 ? 44 : NAN;
    e->window_flags = s == 0 ? LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE : LJ_WINDOW_NO_SAMPLES;
    st.cost.flops = 1000000 + s;
    st.cost.weight_bytes = 6291456;
    st.cost.bytes = 6300000;
    st.cost.flops_per_byte = 0.25;
    st.eff.j_per_flop = s == 0 ? 1e-8 : NAN;
    st.eff.j_per_flop_lo = st.eff.j_per_flop_hi = st.eff.j_per_byte = NAN;
    st.eff.j_per_byte_lo = st.eff.j_per_byte_hi = st.eff.flops_per_j = st.eff.bytes_per_j = NAN;
    st.calls_per_unit = 128;
    st.share_dynamic = s == 0 ? 0.31 : 0.12;
    st.share_gross = s == 0 ? 0.29 : NAN;
    assert_int_equal(lj_profile_add_stage(r, &st), 0);
    for (int t = 0; t < 3; t++) {
      lj_profile_trial tr;
      memset(&tr, 0, sizeof tr);
      tr.key = e->key;
      tr.trial = t;
      tr.groups = s == 1 ? 8 : 0;
      tr.t.counter_energy_j = 100.0 + 10 * s + t;
      tr.t.sample_energy_j = s == 1 ? NAN : 99.0 + t;
      tr.t.duration_s = 2.5;
      tr.t.calls = 8000 + t;
      tr.t.temperature_c = 42.5;
      tr.t.idle_w = 118.5;
      tr.t.start_offset_ns = 123456789 + t;
      assert_int_equal(lj_profile_add_trial(r, &tr), 0);
    }
  }
  // The head fit's points: attn with 1 and 4 groups active.
  for (int g = 1; g <= 4; g *= 4) {
    lj_profile_trial tr;
    memset(&tr, 0, sizeof tr);
    tr.key = r->stages[1].est.key;
    tr.groups = g;
    tr.t.counter_energy_j = 50.0 + g;
    tr.t.sample_energy_j = NAN;
    tr.t.duration_s = 2.5;
    tr.t.calls = 9000;
    tr.t.temperature_c = NAN;
    assert_int_equal(lj_profile_add_trial(r, &tr), 0);
  }
  // Prefill qkv by both methods: one key, told apart by the method. Two trials of each: the
  // isolation replay, and the sequence replay's prefixes up to attn_norm and up to qkv.
  for (int m = 0; m < 2; m++) {
    lj_profile_stage st;
    memset(&st, 0, sizeof st);
    st.method = m ? LJ_METHOD_SEQUENCE : LJ_METHOD_ISOLATION;
    lj_replay_estimate *e = &st.est;
    e->key.phase = LJ_PHASE_PREFILL;
    e->key.stage = LJ_STAGE_QKV;
    e->key.layer = -1;
    e->n_trials = 2;
    e->gross_j = ci(m ? 0.031 : 0.025, 2);
    e->dynamic_j = ci(m ? 0.021 : 0.018, 2);
    e->sample_gross_j = e->sample_dynamic_j = ci_unknown();
    e->time_per_call_s = ci(6e-5, 2);
    e->insitu_time_per_call_s = e->time_ratio = e->counter_vs_sample_pct = NAN;
    e->temperature_min_c = e->temperature_max_c = NAN;
    st.eff.j_per_flop = st.eff.j_per_flop_lo = st.eff.j_per_flop_hi = st.eff.j_per_byte = NAN;
    st.eff.j_per_byte_lo = st.eff.j_per_byte_hi = st.eff.flops_per_j = st.eff.bytes_per_j = NAN;
    st.cost.flops_per_byte = NAN;
    st.calls_per_unit = 16;
    st.share_dynamic = st.share_gross = m ? 0.4 : 0.3;
    assert_int_equal(lj_profile_add_stage(r, &st), 0);
  }
  for (int k = 0; k < 3; k++) {
    for (int t = 0; t < 2; t++) {
      lj_profile_trial tr;
      memset(&tr, 0, sizeof tr);
      tr.key = r->stages[2].est.key;
      tr.trial = t;
      tr.method = k ? LJ_METHOD_SEQUENCE : LJ_METHOD_ISOLATION;
      if (k == 1) tr.key.stage = LJ_STAGE_ATTN_NORM;  // the prefix before qkv's
      tr.t.calls = k == 0 ? 5000 : 1000 + t;
      tr.t.counter_energy_j = 200.0 + 10 * k + t;
      tr.t.sample_energy_j = 199.0 + 10 * k + t;
      tr.t.duration_s = 2.5;
      tr.t.temperature_c = 43;
      tr.t.idle_w = 118.5;
      assert_int_equal(lj_profile_add_trial(r, &tr), 0);
    }
  }

  lj_closure *c = &r->closure[LJ_PHASE_DECODE];
  c->n_terms = 12;
  c->measured_gross_j = 90.5;
  c->measured_dynamic_j = 66.5;
  c->predicted_gross_j = interval(88.0, 1.5);
  c->predicted_dynamic_j = interval(66.0, 1.25);
  c->error_gross_pct = (88.0 - 90.5) / 90.5 * 100;
  c->error_gross_lo_pct = -7.0;
  c->error_gross_hi_pct = 1.5;
  c->error_dynamic_pct = NAN;
  c->error_dynamic_lo_pct = c->error_dynamic_hi_pct = NAN;
  // Prefill by both methods: decode's figures with their own term counts and dynamic errors.
  lj_closure *pc = &r->closure[LJ_PHASE_PREFILL];
  *pc = *c;
  pc->phase = LJ_PHASE_PREFILL;
  pc->n_terms = 11;
  pc->error_dynamic_pct = -15.0;
  lj_closure *ps = &r->closure_sequence[LJ_PHASE_PREFILL];  // the sequence method's
  *ps = *c;
  ps->phase = LJ_PHASE_PREFILL;
  ps->n_terms = 12;
  ps->error_dynamic_pct = 4.6;

  // Intervals: one prefill pass (2 layers x 9 stages + 4 others = 22 calls),
  // then decode steps; the last interval's energy unknown.
  for (size_t i = 0; i < n_intervals; i++) {
    lj_stage_interval iv;
    size_t k = i % 22;
    int step = (int)(i / 22);
    iv.phase = step == 0 ? LJ_PHASE_PREFILL : LJ_PHASE_DECODE;
    iv.stage = k == 0 ? LJ_STAGE_EMBED : k < 19 ? (lj_stage)(LJ_STAGE_ATTN_NORM + (k - 1) % 9) : (lj_stage)(k - 9);
    iv.layer = k >= 1 && k < 19 ? (int)(k - 1) / 9 : -1;
    iv.begin_ns = 5000000000ll + (int64_t)i * 10000;
    iv.end_ns = iv.begin_ns + 9000;
    assert_int_equal(lj_profile_add_interval(r, &iv, step), 0);
    r->interval_energy_j[i] = i + 1 == n_intervals ? NAN : 0.001 * (double)i;
  }

  r->timeline_valid = 1;
  r->timeline.device = 0;
  r->timeline.idle_w = 118.5;
  r->timeline.n_samples = 4321;
  r->timeline.flags = LJ_WINDOW_EXTRAPOLATED;
  lj_timeline_phase *tp = &r->timeline.phase[LJ_PHASE_DECODE];
  tp->n_intervals = (int)n_intervals - 22;
  tp->begin_ns = 5000220000ll;
  tp->end_ns = tp->begin_ns + 9999999;
  tp->span_s = 0.0099;
  tp->energy_j = 5.5;
  tp->dynamic_j = 4.25;
  tp->attributed_j = 5.0;
  tp->attributed_dynamic_j = NAN;
  tp->gap_s = 0.001;
  tp->gap_j = 0.5;
  tp->gap_dynamic_j = 0.375;
  r->timeline.phase[LJ_PHASE_PREFILL].n_intervals = 22;
  r->timeline.phase[LJ_PHASE_PREFILL].energy_j = 0.25;
  for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
    lj_timeline_stage *ts = &r->timeline.stage[LJ_PHASE_DECODE][s];
    ts->calls = s == LJ_STAGE_SAMPLE ? 0 : 44;  // sample did not run: no row
    ts->time_s = 0.001 * s;
    ts->energy_j = 0.25 * s;
    ts->dynamic_j = 0.125 * s;
    ts->share_gross = s / 100.0;
    ts->share_dynamic = NAN;
  }
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    r->layer_energy_j[ph] = calloc(2, sizeof(double));
    r->layer_time_s[ph] = calloc(2, sizeof(double));
    assert_non_null(r->layer_energy_j[ph]);
    assert_non_null(r->layer_time_s[ph]);
    r->layer_energy_j[ph][0] = 1.5 * ph;
    r->layer_energy_j[ph][1] = 2.5 * ph;
    r->layer_time_s[ph][0] = 0.01 * ph;
    r->layer_time_s[ph][1] = NAN;
  }

  lj_ablation *a = &r->ablation;
  r->ablation_valid = 1;
  a->stage = LJ_STAGE_ATTN;
  a->calls = 10;
  a->full_j = ci(1000.0, 3);
  a->ablated_j = ci(920.0, 3);
  a->saved_j = interval(80.0, 4.0);
  a->saved_per_call_j = interval(8.0, 0.4);
  a->replay_j = interval(78.0, 2.0);
  a->agreement_pct = (80.0 - 78.0) / 78.0 * 100;
  a->ratio = interval(80.0 / 78.0, 0.05);
  a->flags = LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE;
  a->counter_saved_j = 91.5;

  r->head_fit_valid = 1;
  r->head_fit_kv = 1024;
  lj_head_fit *h = &r->head_fit;
  h->fit.n = 2;
  h->fit.a = h->fixed_j = 0.002;
  h->fit.b = h->per_group_j = 0.0005;
  h->fit.se_a = h->fit.se_b = h->fit.cov_ab = h->fit.resid_sd = NAN;  // two points: an exact line
  h->fit.a_lo = h->fit.a_hi = h->fit.b_lo = h->fit.b_hi = NAN;
  h->fit.sse = 0;
  h->fit.r2 = 1;
  h->fit.df = 0;
  h->fit.level = 0.95;
  h->per_head_j = 0.000125;
  h->all_groups_j = 0.006;
  h->fixed_share = 1.0 / 3;
  h->flags = LJ_WINDOW_SAMPLE_ENERGY;
  h->counter_fixed_j = 0.0021, h->counter_per_group_j = 0.0006, h->counter_r2 = 0.875;

  // The attention-head grid (schema 13): a measured point, a skipped one with its reason, a grid
  // trial at batch 8, and the all-batch energy fit that holds.
  lj_head_grid_point hp;
  memset(&hp, 0, sizeof hp);
  hp.batch = 8, hp.kv_len = 4096, hp.groups = 4, hp.kv_bytes = hp.need_bytes = 8LL * 4 * 4096 * 64 * 4;
  hp.n_trials = 2, hp.dynamic_j = ci(3.1e-5, 2), hp.time_s = ci(2.2e-5, 2), hp.fitted = 3.05e-5;
  assert_int_equal(lj_profile_add_head_point(r, &hp), 0);
  hp.kv_len = 1 << 20, hp.n_trials = 0, hp.dynamic_j = hp.time_s = ci_unknown(), hp.fitted = NAN;
  snprintf(hp.skipped, sizeof hp.skipped, "K and V of one layer, 8 x 4 x 1048576 x 64 x 2 x 2 B = 8.00 GiB, exceed "
           "the 1.50 GiB free");
  assert_int_equal(lj_profile_add_head_point(r, &hp), 0);
  lj_profile_trial gt;
  memset(&gt, 0, sizeof gt);
  gt.key.phase = LJ_PHASE_DECODE, gt.key.stage = LJ_STAGE_ATTN, gt.key.layer = -1, gt.key.kv_len = 4096;
  gt.trial = 0, gt.groups = 4, gt.batch = 8, gt.method = LJ_METHOD_HEAD_GRID;
  gt.t.counter_energy_j = 60.0, gt.t.sample_energy_j = 59.5, gt.t.duration_s = 0.3, gt.t.calls = 13000;
  gt.t.temperature_c = 48;
  assert_int_equal(lj_profile_add_trial(r, &gt), 0);
  lj_head_grid_fit hf;
  memset(&hf, 0, sizeof hf);
  snprintf(hf.quantity, sizeof hf.quantity, "dynamic_j");
  hf.batch = 0, hf.n_obs = 126, hf.n_points = 63;
  hf.fixed = interval(4e-6, 1e-7), hf.per_group = interval(1.5e-6, 2e-7), hf.per_byte = interval(1.2e-10, 1e-13);
  hf.r2 = 0.9995, hf.resid_sd = 2e-6, hf.lof_f = 1.1, hf.lof_df_lack = 60, hf.lof_df_pure = 63, hf.lof_p = 0.35;
  hf.holds = 1, hf.small_batch = 1, hf.small_kv = 512, hf.large_batch = 32, hf.large_kv = 32768;
  hf.per_head_small = interval(1.2e-6, 1e-8), hf.per_head_large = interval(2.6e-3, 1e-5);
  hf.flags = LJ_WINDOW_SAMPLE_ENERGY, hf.counter_per_byte = 1.25e-10, hf.counter_lof_p = 0.01;
  assert_int_equal(lj_profile_add_head_fit(r, &hf), 0);

  r->n_overhead = 2;
  const char *what[2] = {"sampler", "timeline"};
  for (int i = 0; i < 2; i++) {
    lj_profile_overhead *o = &r->overhead[i];
    snprintf(o->what, sizeof o->what, "%s", what[i]);
    o->n = 5;
    o->off_s = ci(0.010, 5);
    o->on_s = ci(0.0102 + 0.0001 * i, 5);
    o->overhead_pct = 2.0 + i;
    o->overhead_pct_ci = interval(2.0 + i, 0.5);
  }
  lj_profile_note(r, "The ablation used dynamic energies.");
}

static int64_t new_run(lj_store *st) {
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile --model llama-3.2-1b"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  return run;
}

// One row of a query (parameters: run id), stepped; the caller finalizes.
static sqlite3_stmt *query_row(sqlite3 *db, const char *sql, int64_t run) {
  sqlite3_stmt *q = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  if (sqlite3_bind_parameter_count(q) > 0) sqlite3_bind_int64(q, 1, run);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  return q;
}

static int64_t query_int(sqlite3 *db, const char *sql, int64_t run) {
  sqlite3_stmt *q = query_row(db, sql, run);
  int64_t v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

static const char *const kTables[] = {
    "profile_plans",   "profile_conditions", "phase_windows",   "phase_summaries", "stage_estimates",
    "replay_trials",   "closures",           "stage_intervals", "timeline_phases", "timeline_stages",
    "timeline_layers", "ablations",          "head_fits",       "overheads",       "head_grid_points",
    "head_grid_fits",
};
enum { N_TABLES = sizeof kTables / sizeof kTables[0] };

static void expect_counts(lj_store *st, int64_t run, const int64_t *want) {
  for (int i = 0; i < N_TABLES; i++) {
    int64_t n = -1;
    assert_int_equal(lj_store_profile_count(st, run, kTables[i], &n), 0);
    if (n != want[i]) fail_msg("table %s: %lld rows, expected %lld", kTables[i], (long long)n, (long long)want[i]);
  }
}

// ---------------------------------------------------------------- reading a profile back

// Equal, or both not measured. The store keeps NAN as NULL; ranges still at +-INFINITY (nothing
// read) are stored as NULL too, so they read back as NAN.
#define SAME(want, got)                                                                                       \
  do {                                                                                                        \
    double w_ = (double)(want), g_ = (double)(got);                                                           \
    if (isinf(w_) && isnan(g_)) break;                                                                        \
    if (!((isnan(w_) && isnan(g_)) || w_ == g_)) fail_msg("%s: wrote %.17g, read %.17g", #got, w_, g_);       \
  } while (0)
// Derived on reading (sem, cv, half width): equal to rounding.
#define NEAR(want, got)                                                                                       \
  do {                                                                                                        \
    double w_ = (double)(want), g_ = (double)(got);                                                           \
    if (!((isnan(w_) && isnan(g_)) || fabs(w_ - g_) <= 1e-12 * fmax(1, fabs(w_))))                           \
      fail_msg("%s: wrote %.17g, read %.17g", #got, w_, g_);                                                  \
  } while (0)

static void same_ci(const lj_mean_ci *w, const lj_mean_ci *g) {
  assert_int_equal(w->n, g->n);
  SAME(w->mean, g->mean);
  SAME(w->stddev, g->stddev);
  SAME(w->lo, g->lo);
  SAME(w->hi, g->hi);
  if (w->n > 0) {
    SAME(w->level, g->level);
    NEAR(w->df, g->df);
    NEAR(w->sem, g->sem);
    NEAR(w->cv, g->cv);
    NEAR(w->half_width, g->half_width);
  }
}

static void same_iv(const lj_interval *w, const lj_interval *g) {
  SAME(w->estimate, g->estimate);
  SAME(w->se, g->se);
  SAME(w->df, g->df);
  SAME(w->lo, g->lo);
  SAME(w->hi, g->hi);
  SAME(w->level, g->level);
}

static void same_window(const lj_window_result *w, const lj_window_result *g) {
  int has_counter = !(w->flags & LJ_WINDOW_NO_COUNTER), has_samples = !(w->flags & LJ_WINDOW_NO_SAMPLES);
  int has_idle = w->idle_power_w > 0;
  assert_string_equal(w->name, g->name);
  assert_int_equal(w->device, g->device);
  assert_int_equal(w->begin_ns, g->begin_ns);
  assert_int_equal(w->end_ns, g->end_ns);
  SAME(w->duration_s, g->duration_s);
  SAME(has_counter ? w->counter_energy_j : NAN, g->counter_energy_j);
  assert_int_equal(w->counter_updates, g->counter_updates);
  SAME(has_samples ? w->sample_energy_j : NAN, g->sample_energy_j);
  assert_int_equal(w->n_samples, g->n_samples);
  assert_int_equal(has_samples ? w->integrated_reading : -1, g->integrated_reading);
  SAME(has_counter || has_samples ? w->mean_power_w : NAN, g->mean_power_w);
  SAME(has_samples ? w->peak_power_w : NAN, g->peak_power_w);
  SAME(w->idle_power_w, g->idle_power_w);
  SAME(has_counter && has_idle ? w->counter_above_idle_j : NAN, g->counter_above_idle_j);
  SAME(has_samples && has_idle ? w->sample_above_idle_j : NAN, g->sample_above_idle_j);
  assert_int_equal(w->flags, g->flags);
}

static void same_plan(const lj_profile_plan *w, const lj_profile_plan *g) {
  assert_string_equal(w->model, g->model);
  assert_string_equal(w->model_name, g->model_name);
  assert_int_equal(w->weights_random, g->weights_random);
  const lj_model_config *a = &w->config, *b = &g->config;
  assert_string_equal(a->name, b->name);
  assert_int_equal(a->dim, b->dim);
  assert_int_equal(a->hidden_dim, b->hidden_dim);
  assert_int_equal(a->n_layers, b->n_layers);
  assert_int_equal(a->n_heads, b->n_heads);
  assert_int_equal(a->n_kv_heads, b->n_kv_heads);
  assert_int_equal(a->head_dim, b->head_dim);
  assert_int_equal(a->vocab_size, b->vocab_size);
  assert_int_equal(a->max_seq_len, b->max_seq_len);
  SAME(a->rope_theta, b->rope_theta);
  assert_int_equal(a->rope_type, b->rope_type);
  SAME(a->rope_factor, b->rope_factor);
  SAME(a->rope_low_freq_factor, b->rope_low_freq_factor);
  SAME(a->rope_high_freq_factor, b->rope_high_freq_factor);
  assert_int_equal(a->rope_original_max_pos, b->rope_original_max_pos);
  SAME(a->norm_eps, b->norm_eps);
  assert_int_equal(a->tie_embeddings, b->tie_embeddings);
  assert_int_equal(a->bos_id, b->bos_id);
  assert_int_equal(a->eos_id, b->eos_id);
  assert_string_equal(w->engine, g->engine);
  assert_string_equal(w->fusion[0] ? w->fusion : "none", g->fusion);
  assert_string_equal(w->gemv[0] ? w->gemv : "defaults", g->gemv);
  assert_int_equal(w->timing_only, g->timing_only);
  assert_int_equal(w->device, g->device);
  assert_int_equal(w->batch, g->batch);
  assert_int_equal(w->prompt_len, g->prompt_len);
  assert_int_equal(w->gen_len, g->gen_len);
  assert_int_equal(w->repeats, g->repeats);
  assert_int_equal(w->trials, g->trials);
  SAME(w->replay_seconds, g->replay_seconds);
  SAME(w->phase_seconds, g->phase_seconds);
  SAME(w->level, g->level);
  assert_int_equal(w->layers_replayed, g->layers_replayed);
  assert_int_equal(w->n_decode_kv, g->n_decode_kv);
  for (int i = 0; i < w->n_decode_kv; i++) assert_int_equal(w->decode_kv[i], g->decode_kv[i]);
  SAME(w->replay_duty, g->replay_duty);
  assert_int_equal(w->ablation, g->ablation);
  assert_int_equal(w->head_fit, g->head_fit);
  assert_true(w->seed == g->seed);
  assert_string_equal(w->prompt_source, g->prompt_source);
}

static void same_conditions(const lj_profile_conditions *w, const lj_profile_conditions *g) {
  assert_int_equal(w->device.index, g->device.index);
  assert_string_equal(w->device.name, g->device.name);
  assert_string_equal(w->device.uuid, g->device.uuid);
  assert_string_equal(w->device.pci_bus_id, g->device.pci_bus_id);
  assert_string_equal(w->device.driver_version, g->device.driver_version);
  SAME(w->idle_w, g->idle_w);
  assert_string_equal(w->idle_method, g->idle_method);
  SAME(w->idle_sd_w, g->idle_sd_w);
  SAME(w->temperature_min_c, g->temperature_min_c);
  SAME(w->temperature_max_c, g->temperature_max_c);
  SAME(w->sm_clock_min_mhz, g->sm_clock_min_mhz);
  SAME(w->sm_clock_max_mhz, g->sm_clock_max_mhz);
  SAME(w->mem_clock_min_mhz, g->mem_clock_min_mhz);
  SAME(w->mem_clock_max_mhz, g->mem_clock_max_mhz);
  SAME(w->power_limit_w, g->power_limit_w);
  assert_true(w->throttle_seen == g->throttle_seen);
  assert_string_equal(w->throttle_text, g->throttle_text);
  assert_int_equal(w->n_samples, g->n_samples);
  assert_true(w->buffer_gaps == g->buffer_gaps);
  SAME(w->sampler_cpu_percent, g->sampler_cpu_percent);
  assert_string_equal(w->cuda_driver, g->cuda_driver);
  assert_int_equal(w->begin_wall_ns, g->begin_wall_ns);
  assert_int_equal(w->end_wall_ns, g->end_wall_ns);
}

static void same_key(const lj_stage_key *w, const lj_stage_key *g) {
  assert_int_equal(w->phase, g->phase);
  assert_int_equal(w->stage, g->stage);
  assert_int_equal(w->layer, g->layer);
  assert_int_equal(w->kv_len, g->kv_len);
}

static void same_stage(const lj_profile_stage *w, const lj_profile_stage *g) {
  assert_int_equal(w->method, g->method);
  const lj_replay_estimate *a = &w->est, *b = &g->est;
  same_key(&a->key, &b->key);
  assert_int_equal(a->n_trials, b->n_trials);
  same_ci(&a->gross_j, &b->gross_j);
  same_ci(&a->dynamic_j, &b->dynamic_j);
  same_ci(&a->counter_gross_j, &b->counter_gross_j);
  same_ci(&a->counter_dynamic_j, &b->counter_dynamic_j);
  same_ci(&a->sample_gross_j, &b->sample_gross_j);
  same_ci(&a->sample_dynamic_j, &b->sample_dynamic_j);
  same_ci(&a->time_per_call_s, &b->time_per_call_s);
  SAME(a->insitu_time_per_call_s, b->insitu_time_per_call_s);
  SAME(a->time_ratio, b->time_ratio);
  SAME(a->counter_vs_sample_pct, b->counter_vs_sample_pct);
  SAME(a->temperature_min_c, b->temperature_min_c);
  SAME(a->temperature_max_c, b->temperature_max_c);
  assert_int_equal(a->window_flags, b->window_flags);
  assert_int_equal(w->cost.flops, g->cost.flops);
  assert_int_equal(w->cost.weight_bytes, g->cost.weight_bytes);
  assert_int_equal(w->cost.act_read_bytes, g->cost.act_read_bytes);
  assert_int_equal(w->cost.act_write_bytes, g->cost.act_write_bytes);
  assert_int_equal(w->cost.kv_read_bytes, g->cost.kv_read_bytes);
  assert_int_equal(w->cost.kv_write_bytes, g->cost.kv_write_bytes);
  assert_int_equal(w->cost.bytes, g->cost.bytes);
  SAME(w->cost.flops_per_byte, g->cost.flops_per_byte);
  SAME(w->eff.j_per_flop, g->eff.j_per_flop);
  SAME(w->eff.j_per_flop_lo, g->eff.j_per_flop_lo);
  SAME(w->eff.j_per_flop_hi, g->eff.j_per_flop_hi);
  SAME(w->eff.j_per_byte, g->eff.j_per_byte);
  SAME(w->eff.j_per_byte_lo, g->eff.j_per_byte_lo);
  SAME(w->eff.j_per_byte_hi, g->eff.j_per_byte_hi);
  SAME(w->eff.flops_per_j, g->eff.flops_per_j);
  SAME(w->eff.bytes_per_j, g->eff.bytes_per_j);
  SAME(w->calls_per_unit, g->calls_per_unit);
  SAME(w->share_dynamic, g->share_dynamic);
  SAME(w->share_gross, g->share_gross);
}

static void same_trial(const lj_profile_trial *w, const lj_profile_trial *g) {
  same_key(&w->key, &g->key);
  assert_int_equal(w->trial, g->trial);
  assert_int_equal(w->groups, g->groups);
  assert_int_equal(w->batch, g->batch);
  assert_int_equal(w->method, g->method);
  SAME(w->t.gap_s, g->t.gap_s);
  SAME(w->t.counter_energy_j, g->t.counter_energy_j);
  SAME(w->t.sample_energy_j, g->t.sample_energy_j);
  SAME(w->t.duration_s, g->t.duration_s);
  assert_int_equal(w->t.calls, g->t.calls);
  SAME(w->t.temperature_c, g->t.temperature_c);
  SAME(w->t.idle_w, g->t.idle_w);
  assert_int_equal(w->t.start_offset_ns, g->t.start_offset_ns);
  assert_int_equal(w->t.window_flags, g->t.window_flags);
}

static void same_closure(const lj_closure *w, const lj_closure *g) {
  assert_int_equal(w->n_terms, g->n_terms);
  if (w->n_terms <= 0) return;  // not computed: no row
  assert_int_equal(w->phase, g->phase);
  SAME(w->measured_gross_j, g->measured_gross_j);
  SAME(w->measured_dynamic_j, g->measured_dynamic_j);
  same_iv(&w->predicted_gross_j, &g->predicted_gross_j);
  same_iv(&w->predicted_dynamic_j, &g->predicted_dynamic_j);
  SAME(w->error_gross_pct, g->error_gross_pct);
  SAME(w->error_gross_lo_pct, g->error_gross_lo_pct);
  SAME(w->error_gross_hi_pct, g->error_gross_hi_pct);
  SAME(w->error_dynamic_pct, g->error_dynamic_pct);
  SAME(w->error_dynamic_lo_pct, g->error_dynamic_lo_pct);
  SAME(w->error_dynamic_hi_pct, g->error_dynamic_hi_pct);
}

static void same_timeline(const lj_timeline_result *w, const lj_timeline_result *g) {
  assert_int_equal(w->device, g->device);
  SAME(w->idle_w, g->idle_w);
  assert_int_equal(w->n_samples, g->n_samples);
  assert_int_equal(w->flags, g->flags);
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    const lj_timeline_phase *a = &w->phase[p], *b = &g->phase[p];
    assert_int_equal(a->n_intervals, b->n_intervals);
    if (a->n_intervals > 0) {  // a phase without intervals has no row
      assert_int_equal(a->begin_ns, b->begin_ns);
      assert_int_equal(a->end_ns, b->end_ns);
      SAME(a->span_s, b->span_s);
      SAME(a->energy_j, b->energy_j);
      SAME(a->dynamic_j, b->dynamic_j);
      SAME(a->attributed_j, b->attributed_j);
      SAME(a->attributed_dynamic_j, b->attributed_dynamic_j);
      SAME(a->gap_s, b->gap_s);
      SAME(a->gap_j, b->gap_j);
      SAME(a->gap_dynamic_j, b->gap_dynamic_j);
      SAME(a->overlap_s, b->overlap_s);
    }
    for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
      const lj_timeline_stage *x = &w->stage[p][s], *y = &g->stage[p][s];
      if (x->calls <= 0) {  // the stage did not run: no row
        assert_int_equal(y->calls, 0);
        continue;
      }
      assert_int_equal(x->calls, y->calls);
      SAME(x->time_s, y->time_s);
      SAME(x->energy_j, y->energy_j);
      SAME(x->dynamic_j, y->dynamic_j);
      SAME(x->share_gross, y->share_gross);
      SAME(x->share_dynamic, y->share_dynamic);
    }
  }
}

// Everything lj_store_add_profile writes comes back: field by field.
static void same_summary(const lj_phase_summary *a, const lj_phase_summary *b) {
  assert_int_equal(a->phase, b->phase);
  assert_int_equal(a->n, b->n);
  if (a->n <= 0) return;  // not measured: no row
  assert_int_equal(a->tokens_per_unit, b->tokens_per_unit);
  same_ci(&a->time_s, &b->time_s);
  same_ci(&a->gross_j, &b->gross_j);
  same_ci(&a->dynamic_j, &b->dynamic_j);
  same_ci(&a->sample_gross_j, &b->sample_gross_j);
  SAME(a->gross_j_per_token, b->gross_j_per_token);
  SAME(a->dynamic_j_per_token, b->dynamic_j_per_token);
  SAME(a->tokens_per_gross_j, b->tokens_per_gross_j);
  SAME(a->tokens_per_dynamic_j, b->tokens_per_dynamic_j);
  assert_int_equal(a->window_flags, b->window_flags);
}

static void same_profile(const lj_profile_result *w, const lj_profile_result *g) {
  same_plan(&w->plan, &g->plan);
  same_conditions(&w->cond, &g->cond);
  assert_int_equal(w->complete, g->complete);
  assert_string_equal(w->notes, g->notes);
  assert_int_equal(w->n_windows, g->n_windows);
  for (size_t i = 0; i < w->n_windows; i++) {
    const lj_phase_window *a = &w->windows[i], *b = &g->windows[i];
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->repeat, b->repeat);
    assert_int_equal(a->units, b->units);
    assert_int_equal(a->tokens_per_unit, b->tokens_per_unit);
    SAME(a->host_s, b->host_s);
    same_window(&a->w, &b->w);
  }
  for (int p = 0; p < LJ_PHASE_COUNT; p++) same_summary(&w->phases[p], &g->phases[p]);
  assert_int_equal(w->plan.tp_degree > 1 ? w->plan.tp_degree : 1, g->plan.tp_degree);
  assert_int_equal(w->n_ranks, g->n_ranks);
  for (int k = 0; k < w->n_ranks; k++)
    for (int p = 0; p < LJ_PHASE_COUNT; p++) same_summary(&w->rank_phases[k][p], &g->rank_phases[k][p]);
  assert_int_equal(w->n_stages, g->n_stages);
  for (size_t i = 0; i < w->n_stages; i++) same_stage(&w->stages[i], &g->stages[i]);
  assert_int_equal(w->n_trials, g->n_trials);
  for (size_t i = 0; i < w->n_trials; i++) same_trial(&w->trials[i], &g->trials[i]);
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++)
      same_closure(lj_profile_closure_of(w, (lj_phase)p, (lj_profile_method)m),
                   lj_profile_closure_of(g, (lj_phase)p, (lj_profile_method)m));
  assert_int_equal(w->n_intervals, g->n_intervals);
  for (size_t i = 0; i < w->n_intervals; i++) {
    const lj_stage_interval *a = &w->intervals[i], *b = &g->intervals[i];
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->layer, b->layer);
    assert_int_equal(a->begin_ns, b->begin_ns);
    assert_int_equal(a->end_ns, b->end_ns);
    assert_int_equal(w->interval_step[i], g->interval_step[i]);
    SAME(w->interval_energy_j[i], g->interval_energy_j[i]);
  }
  assert_int_equal(w->timeline_valid, g->timeline_valid);
  same_timeline(&w->timeline, &g->timeline);
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    assert_int_equal(w->layer_energy_j[p] != NULL, g->layer_energy_j[p] != NULL);
    for (int l = 0; w->layer_energy_j[p] && l < w->plan.config.n_layers; l++) {
      SAME(w->layer_energy_j[p][l], g->layer_energy_j[p][l]);
      SAME(w->layer_time_s[p][l], g->layer_time_s[p][l]);
    }
  }
  assert_int_equal(w->ablation_valid, g->ablation_valid);
  const lj_ablation *a = &w->ablation, *b = &g->ablation;
  assert_int_equal(a->stage, b->stage);
  assert_int_equal(a->calls, b->calls);
  same_ci(&a->full_j, &b->full_j);
  same_ci(&a->ablated_j, &b->ablated_j);
  same_iv(&a->saved_j, &b->saved_j);
  same_iv(&a->saved_per_call_j, &b->saved_per_call_j);
  same_iv(&a->replay_j, &b->replay_j);
  SAME(a->agreement_pct, b->agreement_pct);
  same_iv(&a->ratio, &b->ratio);
  assert_int_equal(a->flags, b->flags);
  SAME(a->counter_saved_j, b->counter_saved_j);
  assert_int_equal(w->head_fit_valid, g->head_fit_valid);
  assert_int_equal(w->head_fit_kv, g->head_fit_kv);
  const lj_head_fit *h = &w->head_fit, *k = &g->head_fit;
  assert_int_equal(h->fit.n, k->fit.n);
  SAME(h->fit.a, k->fit.a);
  SAME(h->fit.b, k->fit.b);
  SAME(h->fit.se_a, k->fit.se_a);
  SAME(h->fit.se_b, k->fit.se_b);
  SAME(h->fit.cov_ab, k->fit.cov_ab);
  SAME(h->fit.resid_sd, k->fit.resid_sd);
  SAME(h->fit.sse, k->fit.sse);
  SAME(h->fit.r2, k->fit.r2);
  SAME(h->fit.df, k->fit.df);
  SAME(h->fit.level, k->fit.level);
  SAME(h->fit.a_lo, k->fit.a_lo);
  SAME(h->fit.a_hi, k->fit.a_hi);
  SAME(h->fit.b_lo, k->fit.b_lo);
  SAME(h->fit.b_hi, k->fit.b_hi);
  SAME(h->fixed_j, k->fixed_j);
  SAME(h->per_group_j, k->per_group_j);
  SAME(h->per_head_j, k->per_head_j);
  SAME(h->all_groups_j, k->all_groups_j);
  SAME(h->fixed_share, k->fixed_share);
  assert_int_equal(h->flags, k->flags);
  SAME(h->counter_fixed_j, k->counter_fixed_j);
  SAME(h->counter_per_group_j, k->counter_per_group_j);
  SAME(h->counter_r2, k->counter_r2);
  assert_int_equal(w->n_head_points, g->n_head_points);
  for (size_t i = 0; i < w->n_head_points; i++) {
    const lj_head_grid_point *x = &w->head_points[i], *y = &g->head_points[i];
    assert_int_equal(x->batch, y->batch);
    assert_int_equal(x->kv_len, y->kv_len);
    assert_int_equal(x->groups, y->groups);
    assert_int_equal(x->kv_bytes, y->kv_bytes);
    assert_int_equal(x->need_bytes, y->need_bytes);
    assert_int_equal(x->n_trials, y->n_trials);
    same_ci(&x->dynamic_j, &y->dynamic_j);
    same_ci(&x->time_s, &y->time_s);
    SAME(x->fitted, y->fitted);
    assert_string_equal(x->skipped, y->skipped);
  }
  assert_int_equal(w->n_head_fits, g->n_head_fits);
  for (size_t i = 0; i < w->n_head_fits; i++) {
    const lj_head_grid_fit *x = &w->head_fits[i], *y = &g->head_fits[i];
    assert_string_equal(x->quantity, y->quantity);
    assert_int_equal(x->batch, y->batch);
    assert_int_equal(x->n_obs, y->n_obs);
    assert_int_equal(x->n_points, y->n_points);
    same_iv(&x->fixed, &y->fixed);
    same_iv(&x->per_group, &y->per_group);
    same_iv(&x->per_byte, &y->per_byte);
    same_iv(&x->per_head_small, &y->per_head_small);
    same_iv(&x->per_head_large, &y->per_head_large);
    SAME(x->r2, y->r2);
    SAME(x->resid_sd, y->resid_sd);
    SAME(x->lof_f, y->lof_f);
    SAME(x->lof_df_lack, y->lof_df_lack);
    SAME(x->lof_df_pure, y->lof_df_pure);
    SAME(x->lof_p, y->lof_p);
    assert_int_equal(x->holds, y->holds);
    assert_int_equal(x->small_batch, y->small_batch);
    assert_int_equal(x->small_kv, y->small_kv);
    assert_int_equal(x->large_batch, y->large_batch);
    assert_int_equal(x->large_kv, y->large_kv);
    assert_int_equal(x->flags, y->flags);
    SAME(x->counter_per_byte, y->counter_per_byte);
    SAME(x->counter_lof_p, y->counter_lof_p);
  }
  assert_int_equal(w->n_overhead, g->n_overhead);
  for (int i = 0; i < w->n_overhead; i++) {
    const lj_profile_overhead *x = &w->overhead[i], *y = &g->overhead[i];
    assert_string_equal(x->what, y->what);
    assert_int_equal(x->n, y->n);
    same_ci(&x->off_s, &y->off_s);
    same_ci(&x->on_s, &y->on_s);
    SAME(x->overhead_pct, y->overhead_pct);
    same_iv(&x->overhead_pct_ci, &y->overhead_pct_ci);
  }
}

static void test_profile_read_back(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "read_back.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t other = new_run(st);
  int64_t run = new_run(st);
  lj_profile_result w, g;
  make_profile(&w, 1000);
  // Values make_profile leaves at their defaults, so that every column carries a distinct number.
  w.cond.device.index = 3;
  snprintf(w.cond.device.pci_bus_id, sizeof w.cond.device.pci_bus_id, "00000000:18:00.0");
  snprintf(w.cond.device.driver_version, sizeof w.cond.device.driver_version, "580.1");
  w.cond.temperature_min_c = 39.5;  // one range read, the others left at +-INFINITY
  w.cond.temperature_max_c = 61.25;
  w.cond.idle_sd_w = 0.75;
  w.cond.buffer_gaps = 2;
  w.cond.sampler_cpu_percent = 1.5;
  w.cond.begin_wall_ns = 1700000000000000000ll;
  w.cond.end_wall_ns = 1700000000100000000ll;
  w.plan.replay_duty = 0.5;
  w.plan.config.rope_low_freq_factor = 1;
  w.plan.config.rope_high_freq_factor = 4;
  w.plan.config.rope_original_max_pos = 8192;
  w.plan.config.tie_embeddings = 1;
  w.trials[0].t.gap_s = 0.125;
  w.trials[0].t.window_flags = LJ_WINDOW_SHORT;
  w.stages[0].cost.act_read_bytes = 11;
  w.stages[0].cost.act_write_bytes = 12;
  w.stages[0].cost.kv_read_bytes = 13;
  w.stages[0].cost.kv_write_bytes = 14;
  w.timeline.phase[LJ_PHASE_DECODE].overlap_s = 0.0005;
  assert_int_equal(lj_store_add_profile(st, run, &w), 0);
  lj_store_close(st);

  // Read-only, as the report opens it.
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  assert_int_equal(lj_store_read_profile(st, run, &g), 0);
  same_profile(&w, &g);
  lj_profile_result_free(&g);
  // A run without a profile, and one that is not there: one line naming the file.
  assert_int_equal(lj_store_read_profile(st, other, &g), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), path));
  assert_non_null(strstr(lj_error_message(), "holds no profile"));
  assert_int_equal(lj_store_read_profile(st, 999, &g), LJ_EINVAL);
  lj_store_close(st);
  lj_profile_result_free(&w);
}

// The power source is kept with the run's device (the meter writes it when it opens the GPU):
// a report read back from the store names it, as the run's own summary did.
static void test_profile_device_source(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "source.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result w, g;
  make_profile(&w, 10);
  w.cond.device.index = 1;
  snprintf(w.cond.device.source, sizeof w.cond.device.source, "nvml");
  lj_device_info other = w.cond.device;
  other.index = 0;
  snprintf(other.source, sizeof other.source, "nvidia-smi");
  assert_int_equal(lj_store_add_device(st, run, &other), 0);
  assert_int_equal(lj_store_add_device(st, run, &w.cond.device), 0);
  assert_int_equal(lj_store_add_profile(st, run, &w), 0);
  assert_int_equal(lj_store_read_profile(st, run, &g), 0);
  assert_string_equal(g.cond.device.source, "nvml");  // device 1's, not device 0's
  lj_profile_result_free(&g);
  // A profile stored without its device: no source, as before.
  int64_t bare = new_run(st);
  assert_int_equal(lj_store_add_profile(st, bare, &w), 0);
  assert_int_equal(lj_store_read_profile(st, bare, &g), 0);
  assert_string_equal(g.cond.device.source, "");
  lj_profile_result_free(&g);
  lj_profile_result_free(&w);
  lj_store_close(st);
}

static void test_profile_round_trip(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "profile.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t other = new_run(st);  // a run without a profile: its counts stay 0
  int64_t run = new_run(st);
  lj_profile_result r;
  make_profile(&r, 1000);
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  // plans, conditions, 4 windows, 2 phases, 4 stages, 14 trials, 3 closures,
  // 1000 intervals, 2 timeline phases, 12 timeline stages, 2 x 2 layers, ...
  const int64_t want[N_TABLES] = {1, 1, 4, 2, 4, 15, 3, 1000, 2, 12, 4, 1, 1, 2, 2, 1};
  expect_counts(st, run, want);
  const int64_t none[N_TABLES] = {0};
  expect_counts(st, other, none);
  int64_t n = 0;
  assert_int_equal(lj_store_profile_count(st, run, "samples; DROP TABLE runs", &n), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "not a profile table"));
  // A second profile for the same run is refused, and leaves the first intact.
  assert_true(lj_store_add_profile(st, run, &r) < 0);
  assert_non_null(strstr(lj_error_message(), "profile_plans"));
  expect_counts(st, run, want);
  lj_store_close(st);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  // Plan: config and plan fields, the KV list, the seed's bit pattern.
  sqlite3_stmt *q = query_row(db,
                              "SELECT decode_kv, seed, n_layers, rope_type, replay_s, level, notes, complete, batch"
                              " FROM profile_plans WHERE run_id = ?",
                              run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "128,160,191");
  assert_int_equal(sqlite3_column_int64(q, 1), -1);
  assert_int_equal(sqlite3_column_int(q, 2), 2);
  assert_string_equal((const char *)sqlite3_column_text(q, 3), "llama3");
  assert_true(sqlite3_column_double(q, 4) == 2.5);
  assert_true(sqlite3_column_double(q, 5) == 0.95);
  assert_string_equal((const char *)sqlite3_column_text(q, 6), "The ablation used dynamic energies.");
  assert_int_equal(sqlite3_column_int(q, 7), 1);
  assert_int_equal(sqlite3_column_int(q, 8), 4);
  sqlite3_finalize(q);
  // The execution mode rides in the engine column (docs/store.md).
  q = query_row(db, "SELECT engine FROM profile_plans WHERE run_id = ?", run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "cuda+production");
  sqlite3_finalize(q);
  // Conditions: NAN and the untouched +-INFINITY ranges are NULL.
  q = query_row(db,
                "SELECT idle_w, idle_sd_w IS NULL, temperature_min_c IS NULL, sm_clock_max_mhz IS NULL, throttle_mask,"
                " throttle, n_samples FROM profile_conditions WHERE run_id = ?",
                run);
  assert_true(sqlite3_column_double(q, 0) == 118.5);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  assert_int_equal(sqlite3_column_int(q, 2), 1);
  assert_int_equal(sqlite3_column_int(q, 3), 1);
  assert_int_equal(sqlite3_column_int(q, 4), 4);
  assert_string_equal((const char *)sqlite3_column_text(q, 5), "sw_power_cap");
  assert_int_equal(sqlite3_column_int(q, 6), 123456);
  sqlite3_finalize(q);
  // Phase windows link to their `windows` rows, which hold the energies.
  assert_int_equal(query_int(db, "SELECT count(*) FROM windows WHERE run_id = ?", run), 4);
  q = query_row(db,
                "SELECT w.counter_j, w.buffer_j IS NULL, w.name, pw.units, pw.tokens_per_unit, pw.host_s, w.warnings"
                " FROM phase_windows pw JOIN windows w ON w.id = pw.window_id"
                " WHERE pw.run_id = ? AND pw.phase = 'decode' AND pw.repeat = 1",
                run);
  assert_true(sqlite3_column_double(q, 0) == 910.0);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  assert_string_equal((const char *)sqlite3_column_text(q, 2), "decode");
  assert_int_equal(sqlite3_column_int(q, 3), 10);
  assert_int_equal(sqlite3_column_int(q, 4), 256);
  assert_true(sqlite3_column_double(q, 5) == 2.0 * 0.98);
  assert_string_equal((const char *)sqlite3_column_text(q, 6), "no_samples");
  sqlite3_finalize(q);
  // Phase summaries: the mean per unit of the two prefill windows (1 s, their samples whole: the
  // samples' 0.99 x 40.5 J); decode by the counter (one window has no samples), one sample-based value.
  q = query_row(db,
                "SELECT n_windows, gross_j, gross_n, time_s, sample_gross_n, sample_gross_sd_j IS NULL,"
                " gross_j_per_token FROM phase_summaries WHERE run_id = ? AND phase = 'prefill'",
                run);
  assert_int_equal(sqlite3_column_int(q, 0), 2);
  assert_true(fabs(sqlite3_column_double(q, 1) - 40.5 * 0.99) < 1e-12);
  assert_int_equal(sqlite3_column_int(q, 2), 2);
  assert_true(sqlite3_column_double(q, 3) == r.phases[LJ_PHASE_PREFILL].time_s.mean);
  assert_int_equal(sqlite3_column_int(q, 4), 2);
  assert_int_equal(sqlite3_column_int(q, 5), 0);
  assert_true(sqlite3_column_double(q, 6) == r.phases[LJ_PHASE_PREFILL].gross_j_per_token);
  sqlite3_finalize(q);
  q = query_row(db, "SELECT sample_gross_n, sample_gross_sd_j IS NULL FROM phase_summaries WHERE run_id = ? AND phase = 'decode'", run);
  assert_int_equal(sqlite3_column_int(q, 0), 1);
  assert_int_equal(sqlite3_column_int(q, 1), 1);  // one value: no spread
  sqlite3_finalize(q);
  // Stage estimates: exact values, NAN fields NULL.
  q = query_row(db,
                "SELECT gross_j, gross_lo_j, dynamic_n, insitu_time_per_call_s, time_ratio, flops, calls_per_unit,"
                " share_dynamic, dynamic_j_per_flop, temperature_max_c, layer, kv_len"
                " FROM stage_estimates WHERE run_id = ? AND phase = 'decode' AND stage = 'qkv'",
                run);
  assert_true(sqlite3_column_double(q, 0) == 0.0125);
  assert_true(sqlite3_column_double(q, 1) == r.stages[0].est.counter_gross_j.lo);
  assert_int_equal(sqlite3_column_int(q, 2), 3);
  assert_true(sqlite3_column_double(q, 3) == 2.1e-5);
  assert_true(sqlite3_column_double(q, 4) == 2e-5 / 2.1e-5);
  assert_int_equal(sqlite3_column_int64(q, 5), 1000000);
  assert_true(sqlite3_column_double(q, 6) == 128);
  assert_true(sqlite3_column_double(q, 7) == 0.31);
  assert_true(sqlite3_column_double(q, 8) == 1e-8);
  assert_true(sqlite3_column_double(q, 9) == 44);
  assert_int_equal(sqlite3_column_int(q, 10), -1);
  assert_int_equal(sqlite3_column_int(q, 11), 128);
  sqlite3_finalize(q);
  q = query_row(db,
                "SELECT insitu_time_per_call_s IS NULL, sample_gross_j IS NULL, sample_gross_n, share_gross IS NULL,"
                " dynamic_j_per_flop IS NULL, temperature_min_c IS NULL, gross_j, window_flags"
                " FROM stage_estimates WHERE run_id = ? AND stage = 'attn'",
                run);
  for (int i = 0; i < 6; i++) assert_int_equal(sqlite3_column_int(q, i), i == 2 ? 0 : 1);
  assert_true(sqlite3_column_double(q, 6) == 0.0031);
  assert_int_equal(sqlite3_column_int(q, 7), LJ_WINDOW_NO_SAMPLES);
  sqlite3_finalize(q);
  // Both methods' prefill qkv: isolation first by name.
  assert_int_equal(query_int(db, "SELECT count(*) FROM stage_estimates WHERE run_id = ? AND method = 'isolation'", run),
                   3);
  q = query_row(db,
                "SELECT method, dynamic_j, share_dynamic, n_trials FROM stage_estimates"
                " WHERE run_id = ? AND phase = 'prefill' AND stage = 'qkv' ORDER BY method",
                run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "isolation");
  assert_true(sqlite3_column_double(q, 1) == 0.018);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "sequence");
  assert_true(sqlite3_column_double(q, 1) == 0.021);
  assert_true(sqlite3_column_double(q, 2) == 0.4);
  assert_int_equal(sqlite3_column_int(q, 3), 2);
  sqlite3_finalize(q);
  // Trials, with the head fit's group counts.
  assert_int_equal(query_int(db, "SELECT count(*) FROM replay_trials WHERE run_id = ? AND stage = 'attn' AND "
                                 "method != 'head_grid'", run), 5);
  // the head grid's trial, with its batch (schema 13)
  assert_int_equal(query_int(db, "SELECT batch FROM replay_trials WHERE run_id = ? AND method = 'head_grid'", run), 8);
  assert_int_equal(query_int(db, "SELECT count(*) FROM replay_trials WHERE run_id = ? AND sample_j IS NULL", run), 5);
  q = query_row(db,
                "SELECT counter_j, calls, start_offset_ns, kv_groups FROM replay_trials"
                " WHERE run_id = ? AND stage = 'attn' AND kv_groups = 8 AND trial = 2",
                run);
  assert_true(sqlite3_column_double(q, 0) == 112.0);
  assert_int_equal(sqlite3_column_int64(q, 1), 8002);
  assert_int_equal(sqlite3_column_int64(q, 2), 123456791);
  sqlite3_finalize(q);
  assert_int_equal(
      query_int(db, "SELECT sum(kv_groups) FROM replay_trials WHERE run_id = ? AND stage = 'attn' AND trial = 0 AND "
                    "method != 'head_grid'", run),
      8 + 1 + 4);
  // Sequence trials: the prefixes up to attn_norm and up to qkv.
  assert_int_equal(query_int(db, "SELECT count(*) FROM replay_trials WHERE run_id = ? AND method = 'isolation'", run),
                   10);
  q = query_row(db,
                "SELECT stage, calls, counter_j FROM replay_trials"
                " WHERE run_id = ? AND method = 'sequence' AND trial = 1 ORDER BY stage",
                run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "attn_norm");
  assert_int_equal(sqlite3_column_int64(q, 1), 1001);
  assert_true(sqlite3_column_double(q, 2) == 211.0);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "qkv");
  assert_int_equal(sqlite3_column_int64(q, 1), 1001);
  assert_true(sqlite3_column_double(q, 2) == 221.0);
  sqlite3_finalize(q);
  // Closures: decode by isolation, the unknown dynamic error NULL; prefill by both methods.
  q = query_row(db,
                "SELECT phase, n_terms, predicted_gross_j, predicted_gross_se_j, predicted_gross_df, error_gross_pct,"
                " error_dynamic_pct IS NULL, level, method FROM closures WHERE run_id = ? AND phase = 'decode'",
                run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "decode");
  assert_int_equal(sqlite3_column_int(q, 1), 12);
  assert_true(sqlite3_column_double(q, 2) == 88.0);
  assert_true(sqlite3_column_double(q, 3) == 1.5);
  assert_true(sqlite3_column_double(q, 4) == 4.5);
  assert_true(sqlite3_column_double(q, 5) == (88.0 - 90.5) / 90.5 * 100);
  assert_int_equal(sqlite3_column_int(q, 6), 1);
  assert_true(sqlite3_column_double(q, 7) == 0.95);
  assert_string_equal((const char *)sqlite3_column_text(q, 8), "isolation");
  sqlite3_finalize(q);
  q = query_row(db,
                "SELECT method, n_terms, error_dynamic_pct FROM closures WHERE run_id = ? AND phase = 'prefill'"
                " ORDER BY method",
                run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "isolation");
  assert_int_equal(sqlite3_column_int(q, 1), 11);
  assert_true(sqlite3_column_double(q, 2) == -15.0);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "sequence");
  assert_int_equal(sqlite3_column_int(q, 1), 12);
  assert_true(sqlite3_column_double(q, 2) == 4.6);
  sqlite3_finalize(q);
  // Intervals: order, steps, per-interval energy (the last unknown).
  assert_int_equal(query_int(db, "SELECT count(*) FROM stage_intervals WHERE run_id = ? AND energy_j IS NULL", run),
                   1);
  assert_int_equal(query_int(db, "SELECT max(step) FROM stage_intervals WHERE run_id = ?", run), 999 / 22);
  assert_int_equal(query_int(db, "SELECT count(*) FROM stage_intervals WHERE run_id = ? AND phase = 'prefill'", run),
                   22);
  q = query_row(db,
                "SELECT phase, stage, layer, step, begin_ns, end_ns, energy_j FROM stage_intervals"
                " WHERE run_id = ? AND seq = 500",
                run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "decode");
  assert_string_equal((const char *)sqlite3_column_text(q, 1), lj_stage_name(r.intervals[500].stage));
  assert_int_equal(sqlite3_column_int(q, 2), r.intervals[500].layer);
  assert_int_equal(sqlite3_column_int(q, 3), 500 / 22);
  assert_int_equal(sqlite3_column_int64(q, 4), 5000000000ll + 500 * 10000);
  assert_int_equal(sqlite3_column_int64(q, 5), 5000000000ll + 500 * 10000 + 9000);
  assert_true(sqlite3_column_double(q, 6) == 0.001 * 500);
  sqlite3_finalize(q);
  // Timeline.
  q = query_row(db,
                "SELECT n_intervals, energy_j, attributed_dynamic_j IS NULL, gap_dynamic_j, flags, n_samples, idle_w"
                " FROM timeline_phases WHERE run_id = ? AND phase = 'decode'",
                run);
  assert_int_equal(sqlite3_column_int(q, 0), 1000 - 22);
  assert_true(sqlite3_column_double(q, 1) == 5.5);
  assert_int_equal(sqlite3_column_int(q, 2), 1);
  assert_true(sqlite3_column_double(q, 3) == 0.375);
  assert_int_equal(sqlite3_column_int(q, 4), LJ_WINDOW_EXTRAPOLATED);
  assert_int_equal(sqlite3_column_int(q, 5), 4321);
  assert_true(sqlite3_column_double(q, 6) == 118.5);
  sqlite3_finalize(q);
  assert_int_equal(query_int(db, "SELECT count(*) FROM timeline_stages WHERE run_id = ? AND stage = 'sample'", run), 0);
  q = query_row(db,
                "SELECT calls, energy_j, share_gross, share_dynamic IS NULL FROM timeline_stages"
                " WHERE run_id = ? AND phase = 'decode' AND stage = 'lm_head'",
                run);
  assert_int_equal(sqlite3_column_int(q, 0), 44);
  assert_true(sqlite3_column_double(q, 1) == 0.25 * LJ_STAGE_LM_HEAD);
  assert_true(sqlite3_column_double(q, 2) == LJ_STAGE_LM_HEAD / 100.0);
  assert_int_equal(sqlite3_column_int(q, 3), 1);
  sqlite3_finalize(q);
  q = query_row(db,
                "SELECT energy_j, time_s IS NULL FROM timeline_layers WHERE run_id = ? AND phase = 'decode'"
                " AND layer = 1",
                run);
  assert_true(sqlite3_column_double(q, 0) == 2.5 * LJ_PHASE_DECODE);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  sqlite3_finalize(q);
  // Ablation, head fit, overheads.
  q = query_row(db,
                "SELECT stage, calls, full_j, ablated_n, saved_j, saved_se_j, saved_lo_j, replay_hi_j, agreement_pct,"
                " ratio FROM ablations WHERE run_id = ?",
                run);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "attn");
  assert_int_equal(sqlite3_column_int(q, 1), 10);
  assert_true(sqlite3_column_double(q, 2) == 1000.0);
  assert_int_equal(sqlite3_column_int(q, 3), 3);
  assert_true(sqlite3_column_double(q, 4) == 80.0);
  assert_true(sqlite3_column_double(q, 5) == 4.0);
  assert_true(sqlite3_column_double(q, 6) == 70.0);
  assert_true(sqlite3_column_double(q, 7) == 83.0);
  assert_true(sqlite3_column_double(q, 8) == (80.0 - 78.0) / 78.0 * 100);
  assert_true(sqlite3_column_double(q, 9) == 80.0 / 78.0);
  sqlite3_finalize(q);
  // Version 5: the energy source of the ablation and the head fit, the counter's figures beside.
  q = query_row(db, "SELECT flags, counter_saved_j FROM ablations WHERE run_id = ?", run);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE);
  assert_true(sqlite3_column_double(q, 1) == 91.5);
  sqlite3_finalize(q);
  q = query_row(db, "SELECT flags, counter_fixed_j, counter_per_group_j, counter_r2 FROM head_fits WHERE run_id = ?", run);
  assert_int_equal(sqlite3_column_int(q, 0), LJ_WINDOW_SAMPLE_ENERGY);
  assert_true(sqlite3_column_double(q, 1) == 0.0021);
  assert_true(sqlite3_column_double(q, 2) == 0.0006);
  assert_true(sqlite3_column_double(q, 3) == 0.875);
  sqlite3_finalize(q);
  // A stage estimate keeps both sources in the columns they always had (gross_j, dynamic_j: the
  // counter's), its window_flags say the samples' is the estimate.
  q = query_row(db,
                "SELECT dynamic_j, sample_dynamic_j, window_flags FROM stage_estimates"
                " WHERE run_id = ? AND phase = 'decode' AND stage = 'qkv'",
                run);
  assert_true(sqlite3_column_double(q, 0) == 0.0100);
  assert_true(sqlite3_column_double(q, 1) == 0.0099);
  assert_int_equal(sqlite3_column_int(q, 2), LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE);
  sqlite3_finalize(q);
  q = query_row(db,
                "SELECT kv_len, n_points, fixed_j, fixed_se_j IS NULL, per_group_j, per_head_j, fixed_share, r2"
                " FROM head_fits WHERE run_id = ?",
                run);
  assert_int_equal(sqlite3_column_int(q, 0), 1024);
  assert_int_equal(sqlite3_column_int(q, 1), 2);
  assert_true(sqlite3_column_double(q, 2) == 0.002);
  assert_int_equal(sqlite3_column_int(q, 3), 1);
  assert_true(sqlite3_column_double(q, 4) == 0.0005);
  assert_true(sqlite3_column_double(q, 5) == 0.000125);
  assert_true(sqlite3_column_double(q, 6) == 1.0 / 3);
  assert_true(sqlite3_column_double(q, 7) == 1.0);
  sqlite3_finalize(q);
  q = query_row(db,
                "SELECT n_pairs, off_s, on_s, overhead_pct, overhead_lo_pct, overhead_df FROM overheads"
                " WHERE run_id = ? AND what = 'timeline'",
                run);
  assert_int_equal(sqlite3_column_int(q, 0), 5);
  assert_true(sqlite3_column_double(q, 1) == 0.010);
  assert_true(sqlite3_column_double(q, 2) == 0.0102 + 0.0001);
  assert_true(sqlite3_column_double(q, 3) == 3.0);
  assert_true(sqlite3_column_double(q, 4) == 3.0 - 2.5 * 0.5);
  assert_true(sqlite3_column_double(q, 5) == 4.5);
  sqlite3_finalize(q);
  sqlite3_close(db);
  lj_profile_result_free(&r);
}

// A failure in the last table written leaves nothing of the profile: no rows
// in any profile table, no phase windows in `windows`; the error names the
// file and the table; the store stays usable.
static void test_profile_one_transaction(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "rollback.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result r;
  make_profile(&r, 1000);
  snprintf(r.overhead[1].what, sizeof r.overhead[1].what, "sampler");  // duplicate key in `overheads`
  assert_int_equal(lj_store_add_profile(st, run, &r), LJ_ESTORE);
  const char *msg = lj_error_message();
  assert_non_null(strstr(msg, path));
  assert_non_null(strstr(msg, "table overheads"));
  assert_null(strchr(msg, '\n'));
  const int64_t none[N_TABLES] = {0};
  expect_counts(st, run, none);

  // A run that does not exist: the first table fails (foreign key).
  snprintf(r.overhead[1].what, sizeof r.overhead[1].what, "timeline");
  assert_true(lj_store_add_profile(st, run + 100, &r) < 0);
  assert_non_null(strstr(lj_error_message(), "table profile_plans"));
  // A bad stage in the middle (after the windows were written).
  r.intervals[700].stage = (lj_stage)99;
  assert_int_equal(lj_store_add_profile(st, run, &r), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "stage_intervals"));
  assert_non_null(strstr(lj_error_message(), "row 700"));
  expect_counts(st, run, none);
  r.intervals[700].stage = LJ_STAGE_QKV;
  // Every trial replays a stage.
  lj_profile_trial *iso = &r.trials[0];
  iso->key.stage = LJ_STAGE_NONE;
  assert_int_equal(lj_store_add_profile(st, run, &r), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "replay_trials"));
  iso->key.stage = LJ_STAGE_QKV;
  r.stages[3].method = (lj_profile_method)99;
  assert_int_equal(lj_store_add_profile(st, run, &r), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "method 99"));
  r.stages[3].method = LJ_METHOD_SEQUENCE;
  expect_counts(st, run, none);
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  lj_store_close(st);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT count(*) FROM windows", 0), 4);  // the failed attempts left none
  assert_int_equal(query_int(db, "SELECT count(*) FROM stage_intervals", 0), 1000);
  sqlite3_close(db);
  lj_profile_result_free(&r);
}

// A store written while the prefill "context" method existed (schema version 3 keeps its
// columns): its stage estimates, trials (the plain unit's stage 'none') and closures read back
// as skipped rows, counted in the notes; everything else as written.
static void test_profile_legacy_context_rows(void **state) {
  (void)state;
  char path[1024];
  path_in_tmp(path, sizeof path, "legacy_context.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result w, g;
  make_profile(&w, 100);
  assert_int_equal(lj_store_add_profile(st, run, &w), 0);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char sql[2048];
  snprintf(sql, sizeof sql,
           "UPDATE profile_plans SET context = 1 WHERE run_id = %lld;"
           "INSERT INTO stage_estimates(run_id, phase, stage, layer, kv_len, method, copies, n_trials, dynamic_j,"
           " gross_n, dynamic_n, sample_gross_n, sample_dynamic_n, time_per_call_n, window_flags, flops, weight_bytes,"
           " act_read_bytes, act_write_bytes, kv_read_bytes, kv_write_bytes, bytes)"
           " VALUES (%lld, 'prefill', 'qkv', -1, 0, 'context', 4, 3, 0.021, 3, 3, 0, 0, 3, 0, 1, 1, 1, 1, 0, 0, 3);"
           "INSERT INTO replay_trials(run_id, phase, stage, layer, kv_len, kv_groups, trial, method, copies, units,"
           " counter_j, calls, start_offset_ns, window_flags) VALUES"
           " (%lld, 'prefill', 'none', -1, 0, 0, 0, 'context', 0, 10, 200.0, 10, 0, 0),"
           " (%lld, 'prefill', 'qkv', -1, 0, 0, 0, 'context', 4, 10, 230.0, 640, 0, 0);"
           "INSERT INTO closures(run_id, phase, method, n_terms, error_dynamic_pct)"
           " VALUES (%lld, 'prefill', 'context', 13, -21.8);",
           (long long)run, (long long)run, (long long)run, (long long)run, (long long)run);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  assert_int_equal(lj_store_read_profile(st, run, &g), 0);
  lj_store_close(st);
  assert_int_equal(g.n_stages, w.n_stages);
  assert_int_equal(g.n_trials, w.n_trials);
  for (size_t i = 0; i < g.n_stages; i++) assert_true(g.stages[i].method < LJ_METHOD_COUNT);
  for (size_t i = 0; i < g.n_trials; i++) assert_true(g.trials[i].key.stage < LJ_STAGE_COUNT);
  assert_int_equal(g.closure[LJ_PHASE_PREFILL].n_terms, 11);
  assert_int_equal(g.closure_sequence[LJ_PHASE_PREFILL].n_terms, 12);
  assert_non_null(strstr(g.notes, "The ablation used dynamic energies."));
  assert_non_null(strstr(g.notes, "Not shown: 1 stage estimates, 2 replay trials and 1 closures of the prefill "
                                  "'context' method"));
  lj_profile_result_free(&w);
  lj_profile_result_free(&g);
}

// The size a long decode gives: one transaction, one statement reused.
static void test_profile_many_intervals(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "large.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result r;
  make_profile(&r, 100000);
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  int64_t n = 0;
  assert_int_equal(lj_store_profile_count(st, run, "stage_intervals", &n), 0);
  assert_int_equal(n, 100000);
  lj_store_close(st);
  lj_profile_result_free(&r);
}

static void test_profile_readonly_refused(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "ro.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_store_close(st);
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  lj_profile_result r;
  make_profile(&r, 10);
  assert_int_equal(lj_store_add_profile(st, run, &r), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "reading only"));
  assert_non_null(strstr(lj_error_message(), path));
  lj_store_close(st);
  lj_profile_result_free(&r);
}

// Streams sample batches into the store, as the sampler's writer does during a profile.
typedef struct {
  lj_store *st;
  int64_t run;
  int failures;
} sample_stream;

static void *stream_samples(void *arg) {
  sample_stream *s = arg;
  lj_sample batch[50];
  memset(batch, 0, sizeof batch);
  for (int b = 0; b < 200; b++) {
    for (int i = 0; i < 50; i++) batch[i].t_ns = (int64_t)b * 1000000 + i, batch[i].value = 300.0;
    s->failures += lj_store_add_samples(s->st, s->run, batch, 50) < 0;
  }
  return NULL;
}

// Each phase window is stored as it closes (a run killed later keeps it), while
// the sampler's writer streams samples on the same connection; a window stored
// again (pending, then final) and the profile written at the end replace it:
// one row each in `phase_windows` and `windows`, with the final values.
static void test_phase_windows_as_they_close(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "incremental.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result r;
  make_profile(&r, 10);
  sample_stream stream = {st, run, 0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, stream_samples, &stream), 0);
  for (int round = 0; round < 50; round++)
    for (size_t i = 0; i < r.n_windows; i++) {
      lj_phase_window pending = r.windows[i];
      pending.w.flags |= LJ_WINDOW_PENDING;
      pending.w.counter_energy_j = round;  // not final yet
      assert_int_equal(lj_store_add_phase_window(st, run, &pending, 0), 0);
    }
  assert_int_equal(pthread_join(thread, NULL), 0);
  assert_int_equal(stream.failures, 0);
  assert_int_equal(lj_store_count_samples(st, run), 200 * 50);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_windows WHERE run_id = ?", run), 4);
  assert_int_equal(query_int(db, "SELECT count(*) FROM windows WHERE run_id = ?", run), 4);
  assert_int_equal(query_int(db,
                             "SELECT count(*) FROM phase_windows pw JOIN windows w ON w.id = pw.window_id"
                             " WHERE pw.run_id = ? AND w.counter_j = 49 AND w.warnings LIKE '%pending%'"
                             " AND pw.units = 10",
                             run),
                   4);

  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_windows WHERE run_id = ?", run), 4);
  assert_int_equal(query_int(db, "SELECT count(*) FROM windows WHERE run_id = ?", run), 4);
  sqlite3_stmt *q = query_row(db,
                              "SELECT w.counter_j, w.warnings, pw.host_s FROM phase_windows pw"
                              " JOIN windows w ON w.id = pw.window_id"
                              " WHERE pw.run_id = ? AND pw.phase = 'decode' AND pw.repeat = 1",
                              run);
  assert_true(fabs(sqlite3_column_double(q, 0) - 910.0) < 1e-9);
  assert_string_equal((const char *)sqlite3_column_text(q, 1), "no_samples");
  assert_true(fabs(sqlite3_column_double(q, 2) - 2.0 * 0.98) < 1e-9);
  sqlite3_finalize(q);
  sqlite3_close(db);
  lj_store_close(st);
  lj_profile_result_free(&r);
}

// The plan is stored as the run starts: a run killed after some windows (SIGKILL: nothing at its
// end) reads back with its plan and those windows, marked incomplete; before, its profile_plans
// row was written only at the end and report said the run "holds no profile". The profile at the
// end replaces that row, and a second profile of the run is still refused.
static void test_plan_as_the_run_starts(void **state) {
  (void)state;
  char path[1024];
  path_in_tmp(path, sizeof path, "plan-first.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result r;
  make_profile(&r, 10);
  r.complete = 0;
  assert_int_equal(lj_store_add_profile_plan(st, run, &r), 0);
  for (size_t i = 0; i + 1 < r.n_windows; i++)
    assert_int_equal(lj_store_add_phase_window(st, run, &r.windows[i], 0), 0);
  lj_profile_result back;
  if (lj_store_read_profile(st, run, &back) < 0) fail_msg("%s", lj_error_message());
  assert_int_equal(back.complete, 0);
  assert_int_equal(back.n_windows, r.n_windows - 1);
  assert_int_equal(back.plan.batch, r.plan.batch);
  assert_int_equal(back.plan.prompt_len, r.plan.prompt_len);
  assert_string_equal(back.plan.model, "llama-3.2-1b");
  assert_int_equal(back.plan.config.n_layers, r.plan.config.n_layers);
  lj_profile_result_free(&back);

  r.complete = 1;
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT count(*) FROM profile_plans WHERE run_id = ?", run), 1);
  assert_int_equal(query_int(db, "SELECT complete FROM profile_plans WHERE run_id = ?", run), 1);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_windows WHERE run_id = ?", run), (int64_t)r.n_windows);
  sqlite3_close(db);
  assert_true(lj_store_add_profile(st, run, &r) < 0);
  assert_non_null(strstr(lj_error_message(), "profile_plans"));
  assert_true(lj_store_add_profile_plan(st, run, &r) < 0);  // nor is a whole profile's plan replaced
  lj_store_close(st);
  lj_profile_result_free(&r);
}

// At tensor-parallel degree 2 the windows kept as they close are the run's own figures (tp_rank -1,
// the sum over the GPUs), so the profile written at the end replaces them: no provisional row of
// rank 0 outlives the run beside the final ones.
static void test_phase_windows_as_they_close_per_rank(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "incremental_tp.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st);
  lj_profile_result r;
  make_profile(&r, 0);
  r.plan.tp_degree = 2;
  size_t n = r.n_windows;
  lj_phase_window kept[8];
  assert_true(n > 0 && n <= 8);
  memcpy(kept, r.windows, n * sizeof *kept);
  r.n_windows = 0;
  lj_profile_options o;
  memset(&o, 0, sizeof o);
  o.store = st, o.run_id = run;
  for (size_t i = 0; i < n; i++) {
    lj_phase_window pending = kept[i];
    pending.w.flags |= LJ_WINDOW_PENDING;
    int warned = 0;
    assert_int_equal(lj_profile_keep_window(&o, &r, &pending, &warned), 0);
    assert_int_equal(warned, 0);
  }
  memcpy(r.windows, kept, n * sizeof *kept);  // the final values
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_windows WHERE run_id = ? AND tp_rank = 0", run), 0);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_windows WHERE run_id = ? AND tp_rank = -1", run), (int)n);
  assert_int_equal(query_int(db, "SELECT count(*) FROM windows WHERE run_id = ?", run), (int)n);
  assert_int_equal(query_int(db,
                             "SELECT count(*) FROM phase_windows pw JOIN windows w ON w.id = pw.window_id"
                             " WHERE pw.run_id = ? AND w.warnings LIKE '%pending%'",
                             run),
                   0);
  sqlite3_close(db);
  lj_store_close(st);
  lj_profile_result_free(&r);
}

// A version-1 file as llamajoule 0.1 wrote it, with one run and one window.
static void write_v1_store(const char *path) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char sql[256];
  snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 1;", LJ_STORE_APPLICATION_ID);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, lj_store_schema_v1, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO meta VALUES ('application', 'llamajoule'), ('schema_version', '1');"
                                "INSERT INTO runs(id, kind, command_line, host, tool_version, started_wall_ns, status)"
                                " VALUES (7, 'meter', 'llamajoule meter -- true', 'h', '0.1.0', 1, 'complete');"
                                "INSERT INTO windows(run_id, name, begin_ns, end_ns, duration_s, counter_j, flags,"
                                " warnings) VALUES (7, 'program', 0, 1000000000, 1.0, 321.5, 0, '');",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
}

// Every table, index and column definition, in one string.
static void schema_text(const char *path, char *buf, size_t cap) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name", -1, &q,
                                      NULL),
                   SQLITE_OK);
  size_t used = 0;
  buf[0] = '\0';
  while (sqlite3_step(q) == SQLITE_ROW) {
    const char *sql = (const char *)sqlite3_column_text(q, 2);
    int n = snprintf(buf + used, cap - used, "%s %s %s\n", sqlite3_column_text(q, 0), sqlite3_column_text(q, 1),
                     sql ? sql : "");
    assert_true(n > 0 && (size_t)n < cap - used);
    used += (size_t)n;
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
}

// Opens the old file for writing (which upgrades it), stores a profile with 100
// intervals, and checks that `table` holds `want` rows of the new run.
static void store_profile_in(const char *path, const char *table, int64_t want) {
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t run = new_run(st), n = -1;
  lj_profile_result r;
  make_profile(&r, 100);
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  assert_int_equal(lj_store_profile_count(st, run, table, &n), 0);
  assert_int_equal(n, want);
  lj_store_close(st);
  lj_profile_result_free(&r);
}

// The version marks an upgrade from `from` leaves.
static void assert_upgraded_from(sqlite3 *db, int from) {
  assert_int_equal(query_int(db, "PRAGMA user_version", 0), LJ_STORE_SCHEMA_VERSION);
  assert_int_equal(query_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'", 0),
                   LJ_STORE_SCHEMA_VERSION);
  assert_int_equal(query_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'upgraded_from'", 0), from);
}

// The upgraded file's schema is exactly a fresh file's, and opening it again
// changes nothing.
static void assert_schema_as_fresh(const char *path, const char *fresh_name) {
  char fresh[1024];
  lj_store *st = NULL;
  path_in_tmp(fresh, sizeof fresh, fresh_name);
  assert_int_equal(lj_store_open(fresh, &st), 0);
  lj_store_close(st);
  static char a[65536], b[65536];
  schema_text(path, a, sizeof a);
  schema_text(fresh, b, sizeof b);
  assert_string_equal(a, b);
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
}

static void test_upgrade_from_v1(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v1.db");
  write_v1_store(path);

  // Reading: version 1 is read as it is (no upgrade), and holds no profiles.
  lj_store *st = NULL;
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  int64_t n = -1, latest = 0;
  assert_int_equal(lj_store_profile_count(st, 7, "stage_estimates", &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(lj_store_latest_run(st, NULL, &latest), 1);
  assert_int_equal(latest, 7);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "PRAGMA user_version", 0), 1);
  sqlite3_close(db);

  // Writing: upgraded in place; the old rows stay; a profile can be stored.
  store_profile_in(path, "stage_intervals", 100);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_upgraded_from(db, 1);
  assert_int_equal(query_int(db, "SELECT count(*) FROM meta WHERE key = 'upgraded_wall_ns'", 0), 1);
  sqlite3_stmt *q = query_row(db, "SELECT counter_j FROM windows WHERE run_id = ?", 7);
  assert_true(sqlite3_column_double(q, 0) == 321.5);
  sqlite3_finalize(q);
  sqlite3_close(db);
  assert_schema_as_fresh(path, "fresh.db");
}

// A version-2 file as llamajoule 0.1 wrote it: version 1's run, and an isolation
// profile of it reduced to one row in each table version 3 changed.
static void write_v2_store(const char *path) {
  write_v1_store(path);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, lj_store_schema_v2, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "PRAGMA user_version = 2; UPDATE meta SET value = '2' WHERE key = 'schema_version';"
                   "INSERT INTO profile_plans(run_id, complete, model, model_name, weights_random, engine, timing_only,"
                   " device_index, batch, prompt_len, gen_len, repeats, trials, layers_replayed, decode_kv, ablation,"
                   " head_fit, seed, prompt_source, notes, config_name, dim, hidden_dim, n_layers, n_heads, n_kv_heads,"
                   " head_dim, vocab_size, max_seq_len, rope_type, rope_original_max_pos, tie_embeddings, bos_id,"
                   " eos_id) VALUES (7, 1, 'tiny', 'tiny', 1, 'cuda', 0, 0, 1, 16, 8, 2, 3, 2, '16', 0, 0, 42,"
                   " 'text', '', 'tiny', 64, 256, 2, 4, 2, 16, 512, 128, 'default', 0, 0, 1, 2);"
                   "INSERT INTO stage_estimates(run_id, phase, stage, layer, kv_len, n_trials, dynamic_j, gross_n,"
                   " dynamic_n, sample_gross_n, sample_dynamic_n, time_per_call_n, window_flags, flops, weight_bytes,"
                   " act_read_bytes, act_write_bytes, kv_read_bytes, kv_write_bytes, bytes)"
                   " VALUES (7, 'prefill', 'qkv', -1, 0, 3, 0.018, 3, 3, 0, 0, 3, 0, 1000, 100, 10, 10, 0, 0, 120);"
                   "INSERT INTO replay_trials(run_id, phase, stage, layer, kv_len, kv_groups, trial, counter_j, calls,"
                   " start_offset_ns, window_flags) VALUES (7, 'prefill', 'qkv', -1, 0, 0, 0, 12.5, 100, 0, 0);"
                   "INSERT INTO closures(run_id, phase, n_terms, error_dynamic_pct) VALUES (7, 'prefill', 11, -15.0);",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
}

static void test_upgrade_from_v2(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v2.db");
  write_v2_store(path);

  // Reading: version 2 is read as it is.
  lj_store *st = NULL;
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  int64_t n = -1;
  assert_int_equal(lj_store_profile_count(st, 7, "closures", &n), 0);
  assert_int_equal(n, 1);
  lj_store_close(st);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "PRAGMA user_version", 0), 2);
  sqlite3_close(db);

  // Writing: upgraded in place; the old rows stay, with the new columns' defaults; a profile
  // holding both methods' rows under one key can be stored.
  store_profile_in(path, "replay_trials", 15);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_upgraded_from(db, 2);
  assert_int_equal(query_int(db, "SELECT context FROM profile_plans WHERE run_id = ?", 7), 0);
  sqlite3_stmt *q = query_row(db, "SELECT method, copies, dynamic_j, bytes FROM stage_estimates WHERE run_id = ?", 7);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "isolation");
  assert_int_equal(sqlite3_column_int(q, 1), 0);
  assert_true(sqlite3_column_double(q, 2) == 0.018);
  assert_int_equal(sqlite3_column_int(q, 3), 120);
  sqlite3_finalize(q);
  q = query_row(db, "SELECT method, copies, units, counter_j, calls FROM replay_trials WHERE run_id = ?", 7);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "isolation");
  assert_int_equal(sqlite3_column_int(q, 1), 0);
  assert_int_equal(sqlite3_column_int(q, 2), 0);
  assert_true(sqlite3_column_double(q, 3) == 12.5);
  assert_int_equal(sqlite3_column_int(q, 4), 100);
  sqlite3_finalize(q);
  q = query_row(db, "SELECT method, n_terms, error_dynamic_pct FROM closures WHERE run_id = ?", 7);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "isolation");
  assert_int_equal(sqlite3_column_int(q, 1), 11);
  assert_true(sqlite3_column_double(q, 2) == -15.0);
  sqlite3_finalize(q);
  assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name GLOB '*_v2'", 0), 0);
  assert_int_equal(query_int(db, "SELECT count(*) FROM windows WHERE run_id = ?", 7), 1);
  sqlite3_close(db);

  // Opening again does not upgrade twice: the old row is still there once.
  assert_schema_as_fresh(path, "fresh3.db");
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT count(*) FROM stage_estimates WHERE run_id = ?", 7), 1);
  sqlite3_close(db);
}

// A file of schema version `version` made of the given parts after version 1's, holding
// version 1's run (user_version and meta say `version`).
static void write_store_of(const char *path, int version, const char *const *parts, int n_parts) {
  write_v1_store(path);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  for (int i = 0; i < n_parts; i++) assert_int_equal(sqlite3_exec(db, parts[i], NULL, NULL, NULL), SQLITE_OK);
  char sql[160];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d; UPDATE meta SET value = '%d' WHERE key = 'schema_version';",
           version, version);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

// An older file's rows of run 7: a sequence trial (counter 1.5 J), then `more` statements.
static void add_old_rows(const char *path, const char *more) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO replay_trials(run_id, phase, stage, layer, kv_len, kv_groups, trial, calls, start_offset_ns,"
           " window_flags, method, counter_j) VALUES (7, 'decode', 'qkv', -1, 128, 0, 2, 1000, 0, 0, 'sequence', 1.5);%s",
           more);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

// Read as it is (read-only, not upgraded): `table` holds `want` rows of run 7.
static void count_as_it_is(const char *path, const char *table, int64_t want) {
  lj_store *st = NULL;
  int64_t n = -1;
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  assert_int_equal(lj_store_profile_count(st, 7, table, &n), 0);
  assert_int_equal(n, want);
  lj_store_close(st);
}

// Version 5 (the energy-source columns of the head fit and the ablation) upgrades to 6: the
// checks and the trials' variant; an old trial keeps variant 0.
static void test_upgrade_from_v5(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v5.db");
  const char *parts[] = {lj_store_schema_v2, lj_store_schema_v3, lj_store_schema_v4, lj_store_schema_v5};
  write_store_of(path, 5, parts, 4);
  add_old_rows(path, "");
  // Reading as it is: no check tables there, none read.
  count_as_it_is(path, "shapley_checks", 0);
  store_profile_in(path, "stage_intervals", 100);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_upgraded_from(db, 5);
  sqlite3_stmt *q = query_row(db, "SELECT variant, counter_j FROM replay_trials WHERE run_id = ?", 7);
  assert_int_equal(sqlite3_column_int(q, 0), 0);
  assert_true(sqlite3_column_double(q, 1) == 1.5);
  sqlite3_finalize(q);
  assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name GLOB '*_v5'", 0), 0);
  sqlite3_close(db);
  assert_schema_as_fresh(path, "fresh5.db");
}

// Version 6 (the checks of the layer's split) upgrades to 7: the per-layer tables; a run stored
// after the upgrade writes them, and the schema is a fresh file's.
static void test_upgrade_from_v6(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v6.db");
  const char *parts[] = {lj_store_schema_v2, lj_store_schema_v3, lj_store_schema_v4,
                         lj_store_schema_v5, lj_store_schema_v6, lj_store_schema_v6_sources};
  write_store_of(path, 6, parts, 6);
  // Reading as it is: no per-layer tables there, none read.
  lj_store *st = NULL;
  int64_t n = -1;
  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  assert_int_equal(lj_store_profile_count(st, 7, "layer_estimates", &n), 0);
  assert_int_equal(n, 0);
  lj_store_close(st);
  store_profile_in(path, "layer_estimates", 0);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_upgraded_from(db, 6);
  assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('layer_estimates', 'layer_skips')",
                             0), 2);
  sqlite3_close(db);
  assert_schema_as_fresh(path, "fresh6.db");
}

// A mean and its interval times f (powers of two: exact), as the store derives cv back.
static void scale_ci(lj_mean_ci *m, double f) {
  m->mean *= f, m->stddev *= f, m->sem *= f, m->half_width *= f, m->lo *= f, m->hi *= f;
}

// Tensor parallelism (schema 14): a degree-2 profile keeps the sum over its ranks as the run's
// figures (tp_rank -1 in every per-rank table) and each rank's phase summaries (tp_rank 0, 1),
// and reads back the same; a degree-1 profile in the same file keeps rank 0 and reads only its own.
static void test_profile_per_rank(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "ranks.db");
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  int64_t one = new_run(st), two = new_run(st);
  lj_profile_result w1, w2, g;
  make_profile(&w1, 100);
  make_profile(&w2, 100);
  w2.plan.tp_degree = 2;
  w2.n_ranks = 2;
  for (int k = 0; k < 2; k++)
    for (int p = 0; p < LJ_PHASE_COUNT; p++) {
      lj_phase_summary *s = &w2.rank_phases[k][p];
      *s = w2.phases[p];
      scale_ci(&s->gross_j, k == 0 ? 0.5 : 0.25);
      scale_ci(&s->dynamic_j, k == 0 ? 0.5 : 0.25);
    }
  // a row in each per-rank table make_profile leaves empty
  w2.shapley[LJ_PHASE_DECODE].phase = LJ_PHASE_DECODE;
  w2.shapley[LJ_PHASE_DECODE].n_rounds = 2;
  w2.known[0].phase = LJ_PHASE_DECODE;
  w2.n_known = 1;
  w2.ablation_checks[0].phase = LJ_PHASE_DECODE;
  w2.ablation_checks[0].a.stage = LJ_STAGE_ATTN;
  w2.n_ablation_checks = 1;
  w2.layer_skips[0].phase = LJ_PHASE_DECODE;
  w2.layer_skips[0].a.stage = LJ_STAGE_ATTN_NORM;
  w2.n_layer_skips = 1;
  lj_layer_estimate le = {.phase = LJ_PHASE_DECODE, .layer = 1, .rank = 1};
  assert_int_equal(lj_profile_add_layer(&w2, &le), 0);
  lj_layer_stage_estimate ls = {.phase = LJ_PHASE_DECODE, .layer = 1, .stage = LJ_STAGE_QKV};
  assert_int_equal(lj_profile_add_layer_stage(&w2, &ls), 0);
  lj_trial_conditions tc = {.trial = 0, .power_w = 400};
  assert_int_equal(lj_profile_add_trial_conditions(&w2, &tc), 0);
  assert_int_equal(lj_store_add_profile(st, one, &w1), 0);
  assert_int_equal(lj_store_add_profile(st, two, &w2), 0);
  lj_store_close(st);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT tp_degree FROM profile_plans WHERE run_id = ?", one), 1);
  assert_int_equal(query_int(db, "SELECT tp_degree FROM profile_plans WHERE run_id = ?", two), 2);
  int with_rows = 0;
  for (int i = 0; i < lj_store_n_tp_rank_tables; i++) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = ? AND tp_rank != 0", lj_store_tp_rank_tables[i]);
    assert_int_equal(query_int(db, sql, one), 0);
    // every row of the degree-2 run is the sum's, but the ranks' own phase summaries
    int summaries = !strcmp(lj_store_tp_rank_tables[i], "phase_summaries");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = ? AND tp_rank NOT IN (-1%s)",
             lj_store_tp_rank_tables[i], summaries ? ", 0, 1" : "");
    if (query_int(db, sql, two) != 0) fail_msg("table %s: rows of the degree-2 run not of rank -1", lj_store_tp_rank_tables[i]);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = ?", lj_store_tp_rank_tables[i]);
    with_rows += query_int(db, sql, two) > 0;
  }
  assert_int_equal(with_rows, lj_store_n_tp_rank_tables);
  int64_t measured = 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) measured += w2.phases[p].n > 0;
  assert_true(measured > 0);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_summaries WHERE run_id = ? AND tp_rank = -1", two),
                   measured);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_summaries WHERE run_id = ? AND tp_rank = 1", two),
                   measured);
  assert_int_equal(query_int(db, "SELECT count(*) FROM stage_estimates WHERE run_id = ? AND tp_rank = -1", two),
                   (int64_t)w2.n_stages);
  assert_int_equal(query_int(db, "SELECT count(*) FROM phase_windows WHERE run_id = ? AND tp_rank = -1", two),
                   (int64_t)w2.n_windows);
  sqlite3_close(db);

  assert_int_equal(lj_store_open_readonly(path, &st), 0);
  assert_int_equal(lj_store_read_profile(st, two, &g), 0);
  same_profile(&w2, &g);
  assert_true(g.rank_phases[1][LJ_PHASE_DECODE].gross_j.mean == 0.25 * w2.phases[LJ_PHASE_DECODE].gross_j.mean);
  // the sum's rows of every per-rank table come back (the reader keeps rank -1)
  assert_int_equal(g.shapley[LJ_PHASE_DECODE].n_rounds, 2);
  assert_int_equal(g.n_known, 1);
  assert_int_equal(g.n_ablation_checks, 1);
  assert_int_equal(g.n_layer_skips, 1);
  assert_int_equal(g.n_layers, 1);
  assert_int_equal(g.n_layer_stages, 1);
  assert_int_equal(g.n_trial_conds, 1);
  assert_int_equal(g.ablation_valid, 1);
  assert_int_equal(g.n_stages, w2.n_stages);
  assert_int_equal(g.n_windows, w2.n_windows);
  assert_int_equal(g.n_intervals, w2.n_intervals);
  lj_profile_result_free(&g);
  assert_int_equal(lj_store_read_profile(st, one, &g), 0);
  same_profile(&w1, &g);
  assert_int_equal(g.n_ranks, 0);
  lj_profile_result_free(&g);
  lj_store_close(st);
  lj_profile_result_free(&w1);
  lj_profile_result_free(&w2);
}

// Version 13 upgrades to 14: the plan's tp_degree is 1, every row of the per-rank tables is
// rank 0 of a degree-1 run, tp_rank is part of their keys, and the schema is a fresh file's.
static void test_upgrade_from_v13(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v13.db");
  const char *parts[] = {lj_store_schema_v2,  lj_store_schema_v3,  lj_store_schema_v4,  lj_store_schema_v5,
                         lj_store_schema_v6,  lj_store_schema_v6_sources, lj_store_schema_v7, lj_store_schema_v8,
                         lj_store_schema_v9,  lj_store_schema_v10, lj_store_schema_v11, lj_store_schema_v12,
                         lj_store_schema_v13};
  write_store_of(path, 13, parts, (int)(sizeof parts / sizeof parts[0]));
  add_old_rows(path, "INSERT INTO phase_summaries(run_id, phase, n_windows, tokens_per_unit, time_n, gross_n,"
                     " dynamic_n, sample_gross_n, window_flags, gross_j) VALUES (7, 'decode', 3, 64, 3, 3, 3, 0, 0, 12.5);");
  // Read as it is (no tp_rank yet): the rows are there.
  count_as_it_is(path, "phase_summaries", 1);
  store_profile_in(path, "stage_intervals", 100);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_upgraded_from(db, 13);
  assert_int_equal(query_int(db, "SELECT tp_rank FROM phase_summaries WHERE run_id = ?", 7), 0);
  assert_true(query_int(db, "SELECT gross_j FROM phase_summaries WHERE run_id = ?", 7) == 12);  // 12.5 as int
  sqlite3_stmt *q = query_row(db, "SELECT tp_rank, counter_j FROM replay_trials WHERE run_id = ?", 7);
  assert_int_equal(sqlite3_column_int(q, 0), 0);
  assert_true(sqlite3_column_double(q, 1) == 1.5);
  sqlite3_finalize(q);
  assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_table_info('profile_plans') WHERE name = 'tp_degree'"
                                 " AND dflt_value = '1'", 0), 1);
  assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name GLOB '*_v13'", 0), 0);
  // tp_rank is in every per-rank table's key: rank 1 of the same phase is a row of its own,
  // rank 0 again is refused.
  for (int i = 0; i < lj_store_n_tp_rank_tables; i++) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s' AND sql LIKE '%%PRIMARY KEY(run_id, tp_rank, %%'",
             lj_store_tp_rank_tables[i]);
    if (query_int(db, sql, 0) != 1) fail_msg("table %s: tp_rank not at the head of its key", lj_store_tp_rank_tables[i]);
  }
#define AGAIN(rank)                                                                                   \
  "INSERT INTO phase_summaries(run_id, phase, n_windows, tokens_per_unit, time_n, gross_n, dynamic_n," \
  " sample_gross_n, window_flags, tp_rank) VALUES (7, 'decode', 3, 64, 3, 3, 3, 0, 0, " rank ")"
  assert_int_equal(sqlite3_exec(db, AGAIN("1"), NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, AGAIN("0"), NULL, NULL, NULL), SQLITE_CONSTRAINT);
#undef AGAIN
  sqlite3_close(db);
  assert_schema_as_fresh(path, "fresh13.db");
}

// Version 16 upgrades to 17: the ranks' idle baselines (rank_idle), empty for the runs it held; a
// file of 16 read as it is has no such rows.
static void test_upgrade_from_v16(void **state) {
  char path[1024];
  path_in_tmp(path, sizeof path, "v16.db");
  write_store_without(path, 16, "rank_idle");
  check_table_added(path, "rank_idle");
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'upgraded_from'", 0), 16);
  assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'rank_idle'"
                                 " AND sql LIKE '%PRIMARY KEY(run_id, tp_rank)%'", 0), 1);
  sqlite3_close(db);
  assert_schema_as_fresh(path, "fresh16.db");
}

// Versions other than 1, 2 and 3 are refused, naming the file.
static void test_unknown_versions_refused(void **state) {
  char path[1024], sql[64], version[32];
  path_in_tmp(path, sizeof path, "v4.db");
  write_v1_store(path);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", LJ_STORE_SCHEMA_VERSION + 1);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), LJ_EINVAL);
  assert_null(st);
  assert_non_null(strstr(lj_error_message(), path));
  snprintf(version, sizeof version, "schema version %d", LJ_STORE_SCHEMA_VERSION + 1);
  assert_non_null(strstr(lj_error_message(), version));
  assert_int_equal(lj_store_open_readonly(path, &st), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), path));
  // Refused means untouched: no profile tables were added.
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'stage_intervals'", 0), 0);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_profile_round_trip),    cmocka_unit_test(test_profile_read_back), cmocka_unit_test(test_profile_legacy_context_rows),
      cmocka_unit_test(test_profile_device_source),    cmocka_unit_test(test_profile_one_transaction),
      cmocka_unit_test(test_profile_many_intervals), cmocka_unit_test(test_profile_readonly_refused),
      cmocka_unit_test(test_upgrade_from_v1),       cmocka_unit_test(test_upgrade_from_v2), cmocka_unit_test(test_upgrade_from_v5),
      cmocka_unit_test(test_upgrade_from_v6),       cmocka_unit_test(test_upgrade_from_v13), cmocka_unit_test(test_upgrade_from_v16),
      cmocka_unit_test(test_profile_per_rank),
      cmocka_unit_test(test_unknown_versions_refused), cmocka_unit_test(test_phase_windows_as_they_close),
      cmocka_unit_test(test_plan_as_the_run_starts),
      cmocka_unit_test(test_phase_windows_as_they_close_per_rank),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
