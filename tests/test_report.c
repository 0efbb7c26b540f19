// The profile report, text and JSON, on a synthetic result of Llama 3.2 1B:
// phase windows summarised by lj_profile_summarize_phases (one phase without
// a counter, one not measured), replay estimates of a few prefill and decode
// stages (decode at two KV lengths, one without an in-situ time), closures
// (decode -1.2% PASS, prefill +7.5% MISS), a timeline with per-layer sums, an
// ablation, a head fit, overhead and notes; then the same run with a sequence
// estimate of prefill qkv and its closure, the same run cut
// short, and a timing-only run of the CPU engine. The text is checked line by line (no
// "nan" anywhere, 120 columns at most), the JSON is parsed back and compared
// exactly (doubles round-trip; NAN is null).
//
// LJ_REPORT_PRINT=1 prints the text reports on stdout, LJ_REPORT_PRINT=json the JSON ones.
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "model/config.h"
#include "profile/profile_analyze.h"
#include "report/report.h"
#include "report/report_derived.h"
#include "report/report_page.h"
#include "report/report_run.h"
#include "store/profile_result.h"
#include "render_profile.h"
#include "legacy_head_fit.h"
#include "near.h"

#define LEVEL 0.95

// ---------------------------------------------------------------- the synthetic result

static void add_windows(lj_profile_result *r, lj_phase p, int repeats, int64_t units, int64_t tokens, double joules,
                        double seconds, uint32_t flags) {
  for (int i = 0; i < repeats; i++) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    w.phase = p;
    w.repeat = i;
    w.units = units;
    w.tokens_per_unit = tokens;
    double e = units * joules * (1 + 0.01 * (i - repeats / 2)), t = units * seconds * (1 + 0.002 * i);
    w.w.counter_energy_j = e;
    w.w.counter_above_idle_j = e - r->cond.idle_w * t;
    w.w.sample_energy_j = e;  // windows under 10 s: the phase takes the samples (phase_summary.c)
    w.w.sample_above_idle_j = w.w.sample_energy_j - r->cond.idle_w * t;
    w.w.duration_s = t;
    w.w.idle_power_w = r->cond.idle_w;
    w.w.flags = flags;
    w.host_s = t;
    assert_int_equal(lj_profile_add_window(r, &w), 0);
  }
}

// A replay estimate from three per-call energies around `dyn_j` and a known cost.
static void add_stage(lj_profile_result *r, lj_phase p, lj_stage s, int64_t kv, double calls, double dyn_j,
                      double t_call, double insitu, double share) {
  lj_profile_stage st;
  memset(&st, 0, sizeof st);
  lj_replay_estimate *e = &st.est;
  e->key.phase = p;
  e->key.stage = s;
  e->key.layer = -1;
  e->key.kv_len = kv;
  e->n_trials = 3;
  double dyn[3] = {dyn_j * 0.99, dyn_j, dyn_j * 1.01}, gross[3], t[3];
  for (int i = 0; i < 3; i++) {
    gross[i] = dyn[i] + r->cond.idle_w * t_call;
    t[i] = t_call * (1 + 0.001 * (i - 1));
  }
  assert_int_equal(lj_stats_mean_ci(dyn, 3, LEVEL, &e->dynamic_j), 0);
  assert_int_equal(lj_stats_mean_ci(gross, 3, LEVEL, &e->gross_j), 0);
  assert_int_equal(lj_stats_mean_ci(t, 3, LEVEL, &e->time_per_call_s), 0);
  e->sample_gross_j = e->gross_j;
  e->sample_dynamic_j = e->dynamic_j;
  e->insitu_time_per_call_s = insitu;
  e->time_ratio = e->time_per_call_s.mean / insitu;  // NAN when the timeline lacks it
  e->counter_vs_sample_pct = 0.2;
  e->temperature_min_c = 40, e->temperature_max_c = 45;
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  if (p == LJ_PHASE_PREFILL) sh.n_tokens = r->plan.prompt_len;
  sh.kv_past = kv;
  assert_int_equal(lj_stage_cost_compute(&r->plan.config, s, lj_stage_is_per_layer(s) ? 0 : -1, &sh, &st.cost), 0);
  lj_stage_efficiency_compute(&e->dynamic_j, &st.cost, &st.eff);
  st.calls_per_unit = calls;
  st.share_dynamic = share;
  st.share_gross = share * 0.9;
  assert_int_equal(lj_profile_add_stage(r, &st), 0);
}

static void set_closure(lj_closure *c, lj_phase p, int terms, double measured_dyn, double error_pct, double lo_pct,
                        double hi_pct) {
  c->phase = p;
  c->n_terms = terms;
  c->measured_gross_j = measured_dyn * 1.5;
  c->measured_dynamic_j = measured_dyn;
  lj_interval_from_se(measured_dyn * 1.4, measured_dyn * 0.01, 10, LEVEL, &c->predicted_gross_j);
  lj_interval_from_se(measured_dyn * (1 + error_pct / 100), measured_dyn * 0.01, 10, LEVEL, &c->predicted_dynamic_j);
  c->error_gross_pct = -6.7;
  c->error_gross_lo_pct = -8.0, c->error_gross_hi_pct = -5.4;
  c->error_dynamic_pct = error_pct;
  c->error_dynamic_lo_pct = lo_pct, c->error_dynamic_hi_pct = hi_pct;
}

static void build(lj_profile_result *r) {
  lj_profile_result_init(r);
  lj_profile_plan *pl = &r->plan;
  strcpy(pl->model, "llama-3.2-1b");
  strcpy(pl->model_name, "llama-3.2-1b");
  pl->weights_random = 1;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &pl->config), 0);
  strcpy(pl->engine, "cuda");
  pl->batch = 1, pl->prompt_len = 512, pl->gen_len = 128;
  pl->repeats = 5, pl->trials = 3, pl->replay_seconds = 2, pl->replay_duty = 0.5, pl->phase_seconds = 1;
  pl->layers_replayed = 16;
  pl->n_decode_kv = 2, pl->decode_kv[0] = 128, pl->decode_kv[1] = 255;
  pl->ablation = pl->head_fit = 1;
  pl->seed = 42;
  strcpy(pl->prompt_source, "built-in text");

  lj_profile_conditions *c = &r->cond;
  strcpy(c->device.name, "NVIDIA H100 80GB HBM3");
  strcpy(c->device.driver_version, "580.159.04");
  strcpy(c->device.source, "nvml");
  strcpy(c->cuda_driver, "13.0");
  c->idle_w = 68.25, c->idle_sd_w = 0.5;
  strcpy(c->idle_method, "measured 5 s before the run (counter)");
  c->temperature_min_c = 35, c->temperature_max_c = 52;
  c->sm_clock_min_mhz = 1755, c->sm_clock_max_mhz = 1980;
  c->mem_clock_min_mhz = c->mem_clock_max_mhz = 2619;
  c->power_limit_w = 700;
  strcpy(c->throttle_text, "none");
  c->n_samples = 12345;
  c->sampler_cpu_percent = 1.46;
  r->complete = 1;

  add_windows(r, LJ_PHASE_LOAD, 1, 1, 0, 400.0, 2.5, 0);
  add_windows(r, LJ_PHASE_TOKENIZE, 5, 200, 512, 0.05, 0.0005,
              LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES | LJ_WINDOW_SHORT);
  add_windows(r, LJ_PHASE_PREFILL, 5, 10, 512, 8.0, 0.1, 0);
  add_windows(r, LJ_PHASE_DECODE, 5, 1, 128, 80.0, 0.4, 0);
  assert_int_equal(lj_profile_summarize_phases(r), 0);

  add_stage(r, LJ_PHASE_PREFILL, LJ_STAGE_QKV, 0, 16, 0.012, 60e-6, 61e-6, 0.2);
  add_stage(r, LJ_PHASE_PREFILL, LJ_STAGE_ATTN, 0, 16, 0.008, 40e-6, 40e-6, 0.13);
  add_stage(r, LJ_PHASE_PREFILL, LJ_STAGE_LM_HEAD, 0, 1, 0.09, 450e-6, 452e-6, 0.09);
  add_stage(r, LJ_PHASE_DECODE, LJ_STAGE_QKV, 128, 1024.5, 3.1e-4, 12e-6, 12.1e-6, 0.05);
  add_stage(r, LJ_PHASE_DECODE, LJ_STAGE_QKV, 255, 1023.5, 3.1e-4, 12e-6, 12.1e-6, 0.05);
  add_stage(r, LJ_PHASE_DECODE, LJ_STAGE_ATTN, 128, 1024.5, 1.5e-4, 8e-6, 10e-6, 0.03);  // ratio 0.8: flagged
  add_stage(r, LJ_PHASE_DECODE, LJ_STAGE_ATTN, 255, 1023.5, 2.5e-4, 12e-6, NAN, 0.04);   // no in-situ time

  set_closure(&r->closure[LJ_PHASE_PREFILL], LJ_PHASE_PREFILL, 3, 1.2, 7.5, 5.1, 9.9);
  set_closure(&r->closure[LJ_PHASE_DECODE], LJ_PHASE_DECODE, 4, 45.0, -1.2, -3.4, 1.0);

  r->timeline_valid = 1;
  lj_timeline_result *t = &r->timeline;
  t->idle_w = 68.25;
  t->n_samples = 2000;
  lj_timeline_phase *tp = &t->phase[LJ_PHASE_DECODE];
  tp->n_intervals = 4096;
  tp->span_s = 0.41, tp->energy_j = 80, tp->dynamic_j = 52;
  tp->gap_s = 0.02, tp->gap_j = 2.0, tp->gap_dynamic_j = 0.6;
  lj_timeline_stage *ts = &t->stage[LJ_PHASE_DECODE][LJ_STAGE_ATTN];
  ts->calls = 2048, ts->time_s = 0.02, ts->energy_j = 6, ts->dynamic_j = 3.9, ts->share_dynamic = 0.075;
  int n_layers = pl->config.n_layers;
  r->layer_energy_j[LJ_PHASE_DECODE] = malloc((size_t)n_layers * sizeof(double));
  r->layer_time_s[LJ_PHASE_DECODE] = malloc((size_t)n_layers * sizeof(double));
  assert_non_null(r->layer_energy_j[LJ_PHASE_DECODE]);
  assert_non_null(r->layer_time_s[LJ_PHASE_DECODE]);
  for (int l = 0; l < n_layers; l++) {
    r->layer_energy_j[LJ_PHASE_DECODE][l] = l == 7 ? 5.5 : 4.0 + 0.01 * l;
    r->layer_time_s[LJ_PHASE_DECODE][l] = 0.02;
  }
  r->layer_energy_j[LJ_PHASE_DECODE][3] = NAN;  // a layer the timeline missed

  double full[3] = {50.1, 50.3, 49.9}, ablated[3] = {49.82, 49.95, 49.61};  // ~0.31 J: the replay's
  r->ablation_valid = 1;
  assert_int_equal(lj_ablation_compute(LJ_STAGE_ATTN, 2048, full, 3, ablated, 3, &r->stages[5].est.dynamic_j, LEVEL,
                                       &r->ablation),
                   0);

  int groups[8];
  double ej[8];
  // Noise orthogonal to 1 and the group count: the fit's line is exactly 10 uJ + 20 uJ x groups.
  static const double noise[8] = {1, -1, -1, 1, 1, -1, -1, 1};
  for (int i = 0; i < 8; i++) groups[i] = i + 1, ej[i] = 1e-5 + 2e-5 * (i + 1) + 1e-7 * noise[i];
  r->head_fit_valid = 1;
  r->head_fit_kv = 255;
  assert_int_equal(legacy_head_fit(groups, ej, 8, 32, 8, LEVEL, &r->head_fit), 0);

  r->n_overhead = 1;
  lj_profile_overhead *o = &r->overhead[0];
  strcpy(o->what, "sampler");
  o->n = 10;
  double off[3] = {3.10e-3, 3.11e-3, 3.12e-3}, on[3] = {3.12e-3, 3.13e-3, 3.13e-3};
  assert_int_equal(lj_stats_mean_ci(off, 3, LEVEL, &o->off_s), 0);
  assert_int_equal(lj_stats_mean_ci(on, 3, LEVEL, &o->on_s), 0);
  o->overhead_pct = (o->on_s.mean - o->off_s.mean) / o->off_s.mean * 100;
  lj_interval_from_se(o->overhead_pct, 0.1, 4, LEVEL, &o->overhead_pct_ci);

  lj_profile_note(r, "The detokenize phase was not measured (no tokenizer).");
  lj_profile_note(r, "Prefill replay ran at %d layers.", 16);
}

// build() with a sequence estimate of prefill qkv (18 mJ per call, 16 calls) and its closure.
static void build_sequence(lj_profile_result *r) {
  build(r);
  r->plan.sequence = 1;
  add_stage(r, LJ_PHASE_PREFILL, LJ_STAGE_QKV, 0, 16, 0.018, 64e-6, 61e-6, 0.25);
  lj_profile_stage *seq = &r->stages[r->n_stages - 1];
  seq->method = LJ_METHOD_SEQUENCE;
  // A light stage whose mean is a difference near zero (an 8B run's ffn_norm): the
  // interval dwarfs the mean, the CV runs to thousands of percent.
  add_stage(r, LJ_PHASE_PREFILL, LJ_STAGE_FFN_NORM, 0, 16, 1e-6, 2.4e-6, 3.75e-6, 0.0);
  lj_mean_ci *light = &r->stages[r->n_stages - 1].est.dynamic_j;
  light->mean = -72.80e-9, light->half_width = 49187.52e-9, light->cv = 272.0;
  set_closure(&r->closure_sequence[LJ_PHASE_PREFILL], LJ_PHASE_PREFILL, 12, 1.2, 2.5, 0.5, 4.5);
}

// ---------------------------------------------------------------- helpers

// The line of `text` that starts with `start` and contains every one of the
// NULL-terminated strings after it; fails naming them when there is none.
static void expect_line(const char *text, const char *start, ...) {
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    if (!strncmp(buf, start, strlen(start))) {
      va_list ap;
      va_start(ap, start);
      int ok = 1;
      for (const char *want; (want = va_arg(ap, const char *));) ok &= strstr(buf, want) != NULL;
      va_end(ap);
      if (ok) return;
    }
    line += len + (end != NULL);
  }
  fail_msg("no line starting with '%s' holds every expected string in:\n%s", start, text);
}

static void check_layout(const char *text) {
  assert_null(strstr(text, "nan"));
  assert_null(strstr(text, "NAN"));
  assert_null(strstr(text, "inf"));
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > 120) fail_msg("line of %zu columns: %.*s", len, (int)len, line);
    line += len + (end != NULL);
  }
}

static json_t *parse(const char *text) {
  json_error_t err;
  json_t *doc = json_loads(text, 0, &err);
  if (!doc) fail_msg("JSON does not parse: %s at line %d", err.text, err.line);
  return doc;
}

// The member `key` of `o` (fails when absent).
static json_t *get(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v) fail_msg("JSON key '%s' missing", key);
  return v;
}

static double number(json_t *o, const char *key) {
  json_t *v = get(o, key);
  if (!json_is_number(v)) fail_msg("JSON key '%s' is not a number", key);
  return json_number_value(v);
}

static json_t *find(json_t *array, const char *key, const char *value) {
  size_t i;
  json_t *v;
  json_array_foreach(array, i, v) {
    json_t *k = json_object_get(v, key);
    if (k && json_is_string(k) && !strcmp(json_string_value(k), value)) return v;
  }
  fail_msg("no element with %s = %s", key, value);
  return NULL;
}

// ---------------------------------------------------------------- text

static void test_text_full(void **state) {
  lj_profile_result r;
  build(&r);
  char *text = render(&r, 0);
  check_layout(text);
  assert_null(strstr(text, "INCOMPLETE"));
  expect_line(text, "llamajoule profile: llama-3.2-1b (random weights), engine cuda", NULL);
  expect_line(text, "  work:", "batch 1", "prompt 512 tokens (built-in text)", "generate 128 tokens", NULL);
  expect_line(text, "  replay:", "3 trials", "2.000 s", "decode at KV 128 255", "duty 0.50", NULL);
  expect_line(text, "  checks:", "ablation attn", "attention-head fit yes", NULL);
  expect_line(text, "  GPU:", "NVIDIA H100 80GB HBM3", "driver 580.159.04", "CUDA 13.0", "power limit 700 W", NULL);
  expect_line(text, "  idle:", "68.25 W (sd 0.50 W)", "measured 5 s before the run (counter)", NULL);
  expect_line(text, "  range:", "temperature 35-52 C", "SM clock 1755-1980 MHz", "memory clock 2619 MHz", NULL);
  expect_line(text, "  sampler:", "1.46% of one core", "12345 samples", "0 driver-buffer gaps", NULL);

  // Phases: decode 80 J gross per unit, 80 - 68.25 x 0.4 (x drift) dynamic; 5 windows under 10 s,
  // measured by the power samples.
  expect_line(text, "decode       5", "80.", " J", "power samples, 5 repeats", NULL);
  expect_line(text, "prefill      5", "8.000+-", "power samples, 5 repeats", NULL);
  expect_line(text, "load         1", "400.0 J", "power samples, 1 repeat", NULL);
  // Tokenize had no counter: time known, energies "-", measured by the host clock, flags in words.
  expect_line(text, "tokenize     5", "                 -", "host clock, 5 repeats", NULL);
  expect_line(text, "tokenize        512", "no_counter", "short", NULL);
  // Detokenize was never measured: every figure is "-".
  expect_line(text, "detokenize   0                -                  -                  -       -       -  -", NULL);

  // Stages: groups, decode rows at both KV lengths, the flagged ratio and the missing in-situ time.
  expect_line(text, "== Decode stages", NULL);
  // Shares of the isolation sum: prefill attention 16 x (12 + 8) mJ of 410 mJ, decode all of it.
  expect_line(text, "attention ", "78.0%", "    2", NULL);
  // The groups' shares are of the replayed stages; what the closure leaves out is said:
  // prefill predicts 1.2 J x 1.075 (more than measured), decode 45 J x (1 - 1.2%).
  expect_line(text, "shares are of the replayed stages, 1.290 J of the measured 1.200 J dynamic;", "90.00 mJ (7.5%)",
              "more than measured", NULL);
  expect_line(text, "shares are of the replayed stages, 44.46 J of the measured 45.00 J dynamic;", "540.0 mJ (1.2%)",
              "is in no replayed stage", NULL);
  expect_line(text, "attention ", "100.0%", "    4", NULL);
  expect_line(text, "attn         128  1024.50", "0.80*", NULL);
  expect_line(text, "attn         255  1023.50", "250.0+-", " uJ", "       -     -", NULL);
  expect_line(text, "qkv          255", "mem", NULL);
  expect_line(text, "qkv            0       16", "comp", NULL);
  expect_line(text, "* replayed time per call off the in-situ time by > 10%", NULL);

  // Closures: decode -1.2% inside the target, prefill +7.5% outside; isolation only.
  expect_line(text, "decode   isolation     4", "-6.7%", "-1.2%", "[-3.4%, +1.0%]", "PASS", NULL);
  expect_line(text, "prefill  isolation     3", "+7.5%", "[+5.1%, +9.9%]", "MISS", NULL);
  assert_null(strstr(text, "context"));
  assert_null(strstr(text, "ctx"));
  assert_null(strstr(text, "sequence:"));
  assert_null(strstr(text, " seq "));

  // Timeline: shares next to the replay's, gaps, per-layer summary (layer 3 missing, layer 7 highest).
  expect_line(text, "decode: 4096 intervals", "80.00 J gross", "52.00 J dynamic", NULL);
  expect_line(text, "  gaps 20.00 ms (4.9% of the span)", NULL);
  // replay: attn 1024.5 x 150 uJ + 1023.5 x 250 uJ of decode's 1.044 J
  expect_line(text, "  attn", "2048", "7.5%", "39.2%", "-31.7 pp", NULL);
  expect_line(text, "  layers (gross, 15 of 16):", "min 4.000 J (layer 0)", "max 5.500 J (layer 7)", NULL);

  expect_line(text, "attn skipped, 2048 calls per run", NULL);
  expect_line(text, "saved ", "vs replay", "agreement", "ratio", NULL);
  expect_line(text, "decode attn at kv 255, 8 points:", "fixed 10.00 uJ", "per KV group 20.00 uJ", NULL);
  expect_line(text, "per query head 5.000 uJ", "r2 ", NULL);
  expect_line(text, "sampler       10", "3.110+-", " ms", "+0.54%", "PASS", NULL);
  expect_line(text, "notes: The detokenize phase was not measured (no tokenizer). Prefill replay ran at 16 layers.",
              NULL);
  expect_line(text, "gross includes idle power; dynamic = above the idle baseline (68.25 W)", NULL);
  free(text);
  lj_profile_result_free(&r);
}

// The sequence method: its row under the isolation one, prefill groups by it, its closure row.
static void test_text_sequence(void **state) {
  lj_profile_result r;
  build_sequence(&r);
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "prefill groups and shares: sequence method", NULL);
  expect_line(text, "  sequence:  the layer's 9 stage prefixes in order, 3 rounds, back to back (prefill; decode at KV 255)",
              NULL);
  expect_line(text, "qkv            0       16", "12.00+-", NULL);
  expect_line(text, "  seq          0       16", "18.00+-", "288.0 mJ", "64.00 us", "61.00 us", "1.05", NULL);
  expect_line(text, "seq: sequence replay, the layer's stages up to this one in order", NULL);
  // Its negative estimate has no J/FLOP or J/byte (the row's stored efficiency is positive, as
  // in stores written before the analysis left them undefined), and the note says why.
  expect_line(text, "ffn_norm       0       16", "-0.07+-49.19 uJ", "      -      - ", ">999%", NULL);
  expect_line(text, "pJ/FLOP, pJ/B -: a dynamic estimate <= 0 is noise", NULL);
  expect_line(text, "prefill  sequence     12", "1.200 J", "+2.5%", "[+0.5%, +4.5%]", "PASS", NULL);
  expect_line(text, "prefill  isolation     3", "MISS", NULL);
  assert_null(strstr(text, "ctx"));
  free(text);
  char *json = render(&r, 1);
  json_t *doc = parse(json);
  assert_true(json_is_true(get(get(doc, "plan"), "sequence")));
  json_t *seq = find(get(doc, "closures"), "method", "sequence");
  assert_string_equal(json_string_value(get(seq, "phase")), "prefill");
  assert_true(number(seq, "error_dynamic_pct") == 2.5);
  assert_string_equal(json_string_value(get(find(get(doc, "stage_groups"), "phase", "prefill"), "method")), "sequence");
  json_t *ffn = find(get(doc, "stages"), "stage", "ffn_norm"), *eff = get(ffn, "efficiency");
  assert_true(json_is_null(get(eff, "j_per_flop")) && json_is_null(get(eff, "j_per_byte")));
  assert_true(json_is_null(get(eff, "j_per_flop_lo")) && json_is_null(get(eff, "flops_per_j")));
  json_decref(doc);
  free(json);
  lj_profile_result_free(&r);
}

// A closure passes only when the whole interval of its dynamic error lies within +-5%: a point
// inside with an interval reaching out is inconclusive (the 8B prefill of 2026-12-04,
// +1.35% [-8.0, +10.7], passed on its point before), a whole interval outside misses, a point
// outside with its interval reaching back in is inconclusive too (common/verdict.h, test_verdict).
static void test_closure_verdict(void **state) {
  (void)state;
  lj_closure c;
  memset(&c, 0, sizeof c);
  struct {
    double err, lo, hi;
    lj_verdict want;
  } cases[] = {
      {-1.2, -3.4, 1.0, LJ_VERDICT_PASS},           {1.35, -8.0, 10.7, LJ_VERDICT_INCONCLUSIVE},
      {-5.0, -5.0, -5.0, LJ_VERDICT_PASS},          {4.9, 4.8, 5.01, LJ_VERDICT_INCONCLUSIVE},
      {5.01, 4.99, 5.03, LJ_VERDICT_INCONCLUSIVE},  {-7.5, -9.9, -5.1, LJ_VERDICT_MISS},
      {2.0, NAN, NAN, LJ_VERDICT_INCONCLUSIVE},     {NAN, -1, 1, LJ_VERDICT_NONE},
  };
  c.n_terms = 3;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    c.error_dynamic_pct = cases[i].err, c.error_dynamic_lo_pct = cases[i].lo, c.error_dynamic_hi_pct = cases[i].hi;
    assert_int_equal(lj_report_closure_verdict(NULL, &c, LJ_METHOD_ISOLATION), cases[i].want);
    assert_int_equal(lj_report_closure_pass(NULL, &c, LJ_METHOD_ISOLATION), cases[i].want == LJ_VERDICT_NONE ? -1 : cases[i].want == LJ_VERDICT_PASS);
  }
  c.n_terms = 0, c.error_dynamic_pct = 0, c.error_dynamic_lo_pct = -1, c.error_dynamic_hi_pct = 1;
  assert_int_equal(lj_report_closure_verdict(NULL, &c, LJ_METHOD_ISOLATION), LJ_VERDICT_NONE);  // not computed
  assert_string_equal(lj_verdict_name(LJ_VERDICT_INCONCLUSIVE), "INCONCLUSIVE");
  assert_null(lj_verdict_name(LJ_VERDICT_NONE));

  // In the text and the JSON: decode's point inside, its interval reaching -6.0%.
  lj_profile_result r;
  build(&r);
  r.closure[LJ_PHASE_DECODE].error_dynamic_lo_pct = -6.0;
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "decode   isolation     4", "-1.2%", "[-6.0%, +1.0%]", "INCONCLUSIVE", NULL);
  expect_line(text, "prefill  isolation     3", "+7.5%", "[+5.1%, +9.9%]", "MISS", NULL);
  expect_line(text, "PASS: the whole 95% interval of the dyn error within +-5%; MISS: the whole interval outside;", NULL);
  free(text);
  text = render(&r, 1);
  json_t *doc = parse(text);
  json_t *cd = find(get(doc, "closures"), "phase", "decode");
  assert_string_equal(json_string_value(get(cd, "verdict")), "INCONCLUSIVE");
  assert_true(json_is_false(get(cd, "pass")));
  assert_string_equal(json_string_value(get(find(get(doc, "closures"), "phase", "prefill"), "verdict")), "MISS");
  json_decref(doc);
  free(text);
  lj_profile_result_free(&r);
}

// Energy sources: estimates from the power samples (short windows) say so, the counter's figure
// beside them; one that disagrees beyond its interval is marked in the text and flagged in the JSON.
static void test_energy_sources(void **state) {
  (void)state;
  lj_profile_result r;
  build(&r);
  for (size_t i = 0; i < r.n_stages; i++) {
    lj_replay_estimate *e = &r.stages[i].est;
    if (e->key.phase != LJ_PHASE_DECODE) continue;
    e->counter_dynamic_j = e->dynamic_j;
    e->window_flags |= LJ_WINDOW_SAMPLE_ENERGY;
  }
  lj_replay_estimate *qkv = &r.stages[3].est;  // decode qkv at kv 128: the counter 40 uJ off
  assert_int_equal(qkv->key.stage, LJ_STAGE_QKV);
  qkv->counter_dynamic_j.mean += 40e-6;
  qkv->window_flags |= LJ_WINDOW_SOURCES_DISAGREE;
  r.ablation.flags = LJ_WINDOW_SAMPLE_ENERGY;
  r.ablation.counter_saved_j = 0.5;
  r.head_fit.flags = LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE;
  r.head_fit.counter_per_group_j = 25e-6, r.head_fit.counter_r2 = 0.02;
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "energies of 4 of 4 rows from the driver's power samples (windows < 10 s), the rest from the energy "
                    "counter", NULL);
  expect_line(text, "!: 1 rows whose figure by the other source (counter or samples) lies outside their interval", NULL);
  expect_line(text, "qkv          128", "!", NULL);
  assert_null(strstr(text, "flags: qkv kv 128"));  // the source is told once, not per row
  expect_line(text, "from the power samples (windows < 10 s); by the counter saved 500.0 mJ", NULL);
  expect_line(text, "from the power samples (windows < 10 s); by the counter per KV group 25.00 uJ, r2 0.02: outside "
                    "the interval!", NULL);
  free(text);
  text = render(&r, 1);
  json_t *doc = parse(text);
  json_t *st = json_array_get(get(doc, "stages"), 3);
  assert_string_equal(json_string_value(get(st, "stage")), "qkv");
  assert_true(number(get(st, "counter_dynamic_j"), "mean") == qkv->counter_dynamic_j.mean);
  assert_true(number(get(st, "dynamic_j"), "mean") == qkv->dynamic_j.mean);
  assert_string_equal(json_string_value(get(st, "window_flags_text")), "sample_energy,sources_disagree");
  assert_true(number(get(doc, "ablation"), "counter_saved_j") == 0.5);
  assert_string_equal(json_string_value(get(get(doc, "head_fit"), "flags_text")), "sample_energy,sources_disagree");
  assert_true(number(get(doc, "head_fit"), "counter_per_group_j") == 25e-6);
  json_decref(doc);
  free(text);
  lj_profile_result_free(&r);
}

// Every share of a phase has one denominator, the reported method's sum: prefill by sequence sums
// seq qkv 16 x 18 mJ, seq ffn_norm 16 x -72.8 nJ and the isolation fallbacks attn 16 x 8 mJ and
// lm_head 90 mJ; the isolation qkv it replaced has none. (The shares stored with the rows say
// otherwise: the report does not read them.)
static void test_shares_one_denominator(void **state) {
  lj_profile_result r;
  build_sequence(&r);
  double sum = 16 * 0.018 + 16 * -72.80e-9 + 16 * 0.008 + 0.09;
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "  seq          0       16", "288.0 mJ", "56.9%", NULL);
  expect_line(text, "lm_head        0        1", "17.8%", NULL);
  expect_line(text, "attn           0       16", "25.3%", NULL);
  expect_line(text, "share: of the sequence method's sum (its closure's prediction): its rows add to 100%", NULL);
  free(text);
  char *json = render(&r, 1);
  json_t *doc = parse(json), *v;
  size_t i;
  double total = 0;
  int replaced = 0;
  json_array_foreach(get(doc, "stages"), i, v) {
    if (strcmp(json_string_value(get(v, "phase")), "prefill")) continue;
    json_t *sh = get(v, "share_dynamic");
    if (json_is_null(sh)) {
      assert_string_equal(json_string_value(get(v, "stage")), "qkv");
      assert_string_equal(json_string_value(get(v, "method")), "isolation");
      replaced++;
      continue;
    }
    total += json_number_value(sh);
    if (!strcmp(json_string_value(get(v, "stage")), "lm_head"))
      assert_true(fabs(json_number_value(sh) - 0.09 / sum) < 1e-12);
  }
  assert_int_equal(replaced, 1);
  assert_true(fabs(total - 1.0) < 1e-12);
  double groups = 0;
  json_array_foreach(get(doc, "stage_groups"), i, v) if (!strcmp(json_string_value(get(v, "phase")), "prefill"))
      groups += number(v, "share_dynamic");
  assert_true(fabs(groups - 1.0) < 1e-12);
  json_decref(doc);
  free(json);
  lj_profile_result_free(&r);
}

// The phase takes the samples; cnt-buf gives the counter's mean from the windows against them: the
// samples at 98% of the counter in every window read +2.04% (1 / 0.98 - 1), and the flag says so.
static void test_counter_beside_samples(void **state) {
  (void)state;
  lj_profile_result r;
  build(&r);
  for (size_t i = 0; i < r.n_windows; i++)
    if (r.windows[i].phase == LJ_PHASE_DECODE) {
      r.windows[i].w.sample_energy_j = r.windows[i].w.counter_energy_j * 0.98;
      r.windows[i].w.sample_above_idle_j = r.windows[i].w.sample_energy_j - r.cond.idle_w * r.windows[i].w.duration_s;
    }
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  assert_true(r.phases[LJ_PHASE_DECODE].window_flags & LJ_WINDOW_SOURCES_DISAGREE);
  char *text = render(&r, 0);
  expect_line(text, "decode       5", "78.", "power samples, 5 repeats", NULL);
  expect_line(text, "decode          128", "+2.04%", "sources_disagree", NULL);
  expect_line(text, "prefill         512", "+0.00%", NULL);  // the same figures by both
  free(text);
  lj_profile_result_free(&r);
}

// Detokenize measured by the counter (3 windows of 0.3 s): it runs on the CPU while the GPU idles,
// so its energy above idle is noise: no dynamic figures, no dynamic share, not in the run's sum.
static void test_gpu_idle_phase(void **state) {
  lj_profile_result r;
  build(&r);
  add_windows(&r, LJ_PHASE_DETOKENIZE, 3, 100000, 128, 3e-4, 3e-6, 0);
  assert_int_equal(lj_profile_summarize_phases(&r), 0);
  assert_true(r.phases[LJ_PHASE_DETOKENIZE].dynamic_j.n == 3);  // measured, stored: the report drops it
  double run_dyn = r.phases[LJ_PHASE_LOAD].dynamic_j.mean + r.phases[LJ_PHASE_PREFILL].dynamic_j.mean +
                   r.phases[LJ_PHASE_DECODE].dynamic_j.mean;
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "detokenize   3", "300.0+-7.5 uJ", "                 -", "power samples, 3 repeats", NULL);
  expect_line(text, "detokenize      128", "2.344 uJ           -", NULL);
  expect_line(text, "dynamic -: tokenize and detokenize run on the CPU while the GPU idles", NULL);
  free(text);
  char *json = render(&r, 1);
  json_t *doc = parse(json);
  json_t *detok = find(get(doc, "phases"), "phase", "detokenize");
  assert_true(json_is_true(get(detok, "gpu_idle")));
  assert_true(json_is_null(get(get(detok, "dynamic_j"), "mean")));
  assert_true(json_is_null(get(detok, "share_dynamic")) && json_is_null(get(detok, "dynamic_j_per_token")));
  assert_true(json_is_number(get(get(detok, "gross_j"), "mean")));
  assert_true(json_is_false(get(find(get(doc, "phases"), "phase", "decode"), "gpu_idle")));
  assert_true(fabs(number(get(doc, "run"), "dynamic_j") - run_dyn) <= 1e-12 * run_dyn);
  json_decref(doc);
  free(json);
  lj_profile_result_free(&r);
}

static void test_text_incomplete(void **state) {
  lj_profile_result r;
  build(&r);
  r.complete = 0;
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "*** INCOMPLETE", NULL);
  expect_line(text, "INCOMPLETE run", NULL);
  free(text);
  lj_profile_result_free(&r);
}

// The CPU engine: host times only, no GPU conditions, no energy sections.
static void build_timing_only(lj_profile_result *r) {
  lj_profile_result_init(r);
  strcpy(r->plan.model, "tiny");
  strcpy(r->plan.model_name, "tiny");
  assert_int_equal(lj_config_preset("tiny", &r->plan.config), 0);
  strcpy(r->plan.engine, "cpu");
  r->plan.timing_only = 1;
  r->plan.batch = 1, r->plan.prompt_len = 16, r->plan.gen_len = 8, r->plan.repeats = 3;
  r->complete = 1;
  add_windows(r, LJ_PHASE_PREFILL, 3, 10, 16, 1.0, 0.01, LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES);
  add_windows(r, LJ_PHASE_DECODE, 3, 2, 8, 1.0, 0.05, LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES);
  assert_int_equal(lj_profile_summarize_phases(r), 0);
  // A replayed stage with its times only (no meter: its energies are unmeasured).
  add_stage(r, LJ_PHASE_DECODE, LJ_STAGE_ATTN, 4, 16, NAN, 2e-6, 2.5e-6, NAN);
  lj_replay_estimate *e = &r->stages[0].est;
  e->gross_j.n = e->dynamic_j.n = e->sample_gross_j.n = e->sample_dynamic_j.n = 0;
  lj_stage_efficiency_compute(&e->dynamic_j, &r->stages[0].cost, &r->stages[0].eff);
}

static void test_text_timing_only(void **state) {
  lj_profile_result r;
  build_timing_only(&r);
  char *text = render(&r, 0);
  check_layout(text);
  expect_line(text, "llamajoule profile: tiny, engine cpu", NULL);
  assert_null(strstr(text, "device 0"));
  expect_line(text, "  TIMING ONLY, no energy was measured: the CPU engine ran it", NULL);
  expect_line(text, "attn           4       16", "2.000 us", "2.500 us", "0.80*", "32.00 us", NULL);
  expect_line(text, "== Phases (per unit: host time)", NULL);
  expect_line(text, "prefill      3       16", " ms", "host clock, 3 repeats", NULL);
  expect_line(text, "times are host wall-clock seconds; no energy was measured", NULL);
  assert_null(strstr(text, "gross"));
  assert_null(strstr(text, "Closure"));
  assert_null(strstr(text, "GPU:"));
  free(text);
  lj_profile_result_free(&r);
}

// ---------------------------------------------------------------- JSON

static void test_json_full(void **state) {
  lj_profile_result r;
  build(&r);
  char *text = render(&r, 1);
  json_t *doc = parse(text);
  assert_true(json_is_true(get(doc, "complete")));
  assert_string_equal(json_string_value(get(doc, "format")), "llamajoule-profile");
  assert_true(number(doc, "level") == 0.95);

  json_t *plan = get(doc, "plan");
  assert_int_equal(json_integer_value(get(plan, "gen_len")), 128);
  assert_int_equal(json_integer_value(get(plan, "seed")), 42);
  assert_int_equal(json_integer_value(json_array_get(get(plan, "decode_kv"), 1)), 255);
  assert_int_equal(json_integer_value(get(get(plan, "config"), "n_layers")), 16);

  json_t *cond = get(doc, "conditions");
  assert_true(number(cond, "idle_w") == 68.25);
  assert_true(number(cond, "temperature_max_c") == 52);
  assert_string_equal(json_string_value(get(get(cond, "gpu"), "name")), "NVIDIA H100 80GB HBM3");

  // Phases: the means exactly as summarised; never-measured and no-counter figures null.
  json_t *phases = get(doc, "phases");
  assert_int_equal(json_array_size(phases), LJ_PHASE_COUNT);
  json_t *decode = find(phases, "phase", "decode");
  assert_true(number(get(decode, "gross_j"), "mean") == r.phases[LJ_PHASE_DECODE].gross_j.mean);
  assert_true(number(get(decode, "dynamic_j"), "hi") == r.phases[LJ_PHASE_DECODE].dynamic_j.hi);
  assert_true(number(get(decode, "dynamic_j"), "sd") == r.phases[LJ_PHASE_DECODE].dynamic_j.stddev);
  assert_int_equal(json_integer_value(get(get(decode, "gross_j"), "n")), 5);
  assert_true(number(decode, "dynamic_j_per_token") == r.phases[LJ_PHASE_DECODE].dynamic_j_per_token);
  json_t *tok = find(phases, "phase", "tokenize");
  assert_true(json_is_null(get(get(tok, "gross_j"), "mean")));
  assert_int_equal(json_integer_value(get(get(tok, "gross_j"), "n")), 0);
  assert_true(json_is_number(get(get(tok, "time_s"), "mean")));
  assert_string_equal(json_string_value(get(tok, "window_flags_text")), "short,no_counter,no_samples");
  json_t *detok = find(phases, "phase", "detokenize");
  assert_true(json_is_null(get(get(detok, "time_s"), "mean")));
  assert_true(json_is_null(get(detok, "share_dynamic")));
  assert_true(json_is_null(get(get(json_array_get(phases, 0), "gross_j"), "sd")));  // load: one window
  double total = r.phases[LJ_PHASE_LOAD].gross_j.mean + r.phases[LJ_PHASE_PREFILL].gross_j.mean +
                 r.phases[LJ_PHASE_DECODE].gross_j.mean;
  assert_true(fabs(number(get(doc, "run"), "gross_j") - total) <= 1e-12 * total);
  assert_int_equal(json_array_size(get(doc, "windows")), 16);

  // Stages: every estimate, the missing in-situ time as null, cost and bound.
  json_t *stages = get(doc, "stages");
  assert_int_equal(json_array_size(stages), 7);
  json_t *attn255 = json_array_get(stages, 6);
  assert_string_equal(json_string_value(get(attn255, "stage")), "attn");
  assert_string_equal(json_string_value(get(attn255, "group")), "attention");
  assert_int_equal(json_integer_value(get(attn255, "kv_len")), 255);
  assert_true(json_is_null(get(attn255, "insitu_time_per_call_s")));
  assert_true(json_is_null(get(attn255, "time_ratio")));
  assert_true(number(attn255, "calls_per_unit") == 1023.5);
  assert_true(number(get(attn255, "dynamic_j"), "mean") == r.stages[6].est.dynamic_j.mean);
  assert_true(number(get(attn255, "time_per_call_s"), "lo") == r.stages[6].est.time_per_call_s.lo);
  assert_int_equal(json_integer_value(get(get(attn255, "cost"), "bytes")), r.stages[6].cost.bytes);
  assert_string_equal(json_string_value(get(attn255, "bound")), "memory");
  assert_true(number(get(attn255, "efficiency"), "j_per_byte") == r.stages[6].eff.j_per_byte);
  assert_string_equal(json_string_value(get(json_array_get(stages, 0), "bound")), "compute");

  json_t *groups = get(doc, "stage_groups");
  json_t *g = json_array_get(groups, 0);
  assert_string_equal(json_string_value(get(g, "phase")), "prefill");
  assert_string_equal(json_string_value(get(g, "group")), "attention");
  double want = 16 * r.stages[0].est.dynamic_j.mean + 16 * r.stages[1].est.dynamic_j.mean;
  assert_true(fabs(number(get(g, "dynamic_j_per_unit"), "mean") - want) <= 1e-15);
  assert_true(fabs(number(g, "share_dynamic") - 0.32 / 0.41) <= 1e-15);

  // Closures: exact numbers and the verdict.
  json_t *closures = get(doc, "closures");
  assert_int_equal(json_array_size(closures), 2);
  json_t *cd = find(closures, "phase", "decode");
  assert_true(number(cd, "error_dynamic_pct") == -1.2);
  assert_true(number(cd, "error_dynamic_lo_pct") == -3.4);
  assert_true(number(cd, "measured_dynamic_j") == 45.0);
  assert_true(number(get(cd, "predicted_dynamic_j"), "hi") == r.closure[LJ_PHASE_DECODE].predicted_dynamic_j.hi);
  assert_true(json_is_true(get(cd, "pass")));
  assert_true(json_is_false(get(find(closures, "phase", "prefill"), "pass")));
  assert_string_equal(json_string_value(get(cd, "method")), "isolation");
  assert_null(json_object_get(get(doc, "plan"), "context"));  // the removed method: no key
  assert_string_equal(json_string_value(get(attn255, "method")), "isolation");
  assert_null(json_object_get(attn255, "copies"));

  // Timeline: stage shares with the replay's, per-layer arrays with null for the missing layer.
  json_t *tl = get(doc, "timeline");
  json_t *tdec = find(get(tl, "phases"), "phase", "decode");
  assert_int_equal(json_integer_value(get(tdec, "n_intervals")), 4096);
  json_t *tattn = find(get(tdec, "stages"), "stage", "attn");
  assert_true(number(tattn, "share_dynamic") == 0.075);
  double attn_j = 1024.5 * 1.5e-4 + 1023.5 * 2.5e-4, qkv_j = (1024.5 + 1023.5) * 3.1e-4;
  assert_true(fabs(number(tattn, "replay_share_dynamic") - attn_j / (attn_j + qkv_j)) <= 1e-12);
  json_t *layers = get(tdec, "layer_energy_j");
  assert_int_equal(json_array_size(layers), 16);
  assert_true(json_is_null(json_array_get(layers, 3)));
  assert_true(json_real_value(json_array_get(layers, 7)) == 5.5);

  json_t *ab = get(doc, "ablation");
  assert_true(number(get(ab, "saved_j"), "mean") == r.ablation.saved_j.estimate);
  assert_true(number(ab, "agreement_pct") == r.ablation.agreement_pct);
  assert_int_equal(json_integer_value(get(get(ab, "full_j"), "n")), 3);
  json_t *hf = get(doc, "head_fit");
  assert_true(number(hf, "per_head_j") == r.head_fit.per_head_j);
  assert_true(number(hf, "r2") == r.head_fit.fit.r2);
  json_t *ov = json_array_get(get(doc, "overhead"), 0);
  assert_string_equal(json_string_value(get(ov, "what")), "sampler");
  assert_true(number(ov, "overhead_pct") == r.overhead[0].overhead_pct);
  assert_true(json_is_true(get(ov, "pass")));
  assert_string_equal(json_string_value(get(doc, "notes")), r.notes);

  json_decref(doc);
  free(text);
  lj_profile_result_free(&r);
}

static void test_json_timing_only(void **state) {
  lj_profile_result r;
  build_timing_only(&r);
  r.complete = 0;
  strcpy(r.plan.model, "/models/caf\xe9");  // Latin-1, not UTF-8: the key stays, the byte becomes '?'
  char *text = render(&r, 1);
  json_t *doc = parse(text);
  assert_true(json_is_false(get(doc, "complete")));
  json_t *plan = get(doc, "plan");
  assert_true(json_is_true(get(plan, "timing_only")));
  assert_string_equal(json_string_value(get(plan, "model")), "/models/caf?");
  assert_non_null(strstr(json_string_value(get(plan, "timing_only_reason")), "CPU engine"));
  json_t *cond = get(doc, "conditions");
  assert_true(json_is_null(get(cond, "idle_w")));
  assert_true(json_is_null(get(cond, "temperature_min_c")));  // no readings: the init's +-inf
  assert_true(json_is_null(get(cond, "power_limit_w")));
  json_t *pre = find(get(doc, "phases"), "phase", "prefill");
  assert_true(number(get(pre, "time_s"), "mean") == r.phases[LJ_PHASE_PREFILL].time_s.mean);
  assert_true(json_is_null(get(get(pre, "gross_j"), "mean")));
  assert_true(json_is_null(get(get(doc, "run"), "gross_j")));
  assert_true(json_is_null(get(doc, "timeline")));
  assert_true(json_is_null(get(doc, "ablation")));
  assert_true(json_is_null(get(doc, "head_fit")));
  assert_int_equal(json_array_size(get(doc, "closures")), 0);
  json_t *st = json_array_get(get(doc, "stages"), 0);
  assert_true(json_is_null(get(get(st, "dynamic_j"), "mean")));
  assert_true(json_is_null(get(get(st, "efficiency"), "j_per_flop")));
  assert_true(number(get(st, "time_per_call_s"), "mean") == r.stages[0].est.time_per_call_s.mean);
  json_decref(doc);
  free(text);
  lj_profile_result_free(&r);
}

// Write errors surface as LJ_EIO (a stream opened read-only cannot be written).
// The run's CSV into *buf, which the caller frees (the caller's pointer: open_memstream keeps
// its address until fclose).
static void csv_of(const lj_report_run *run, char **buf, size_t *len) {
  FILE *f = open_memstream(buf, len);
  assert_non_null(f);
  assert_int_equal(lj_report_csv(f, run), 0);
  assert_int_equal(fclose(f), 0);
}

// The line after "# table NAME" (the header) and the rows after it up to the blank line.
static const char *csv_section(const char *text, const char *name) {
  char tag[64];
  snprintf(tag, sizeof tag, "# table %s\n", name);
  const char *at = strstr(text, tag);
  assert_non_null(at);
  return at + strlen(tag);
}

// The CSV's sections come from the tables' one description (store/record_desc.c): each
// carries its columns, means as X, X_lo, X_hi, X_n, the values as stored.
static void test_csv_full(void **state) {
  lj_report_run run;
  memset(&run, 0, sizeof run);
  build(&run.prof);
  snprintf(run.path, sizeof run.path, "run.db");
  char *buf = NULL;
  size_t len = 0;
  csv_of(&run, &buf, &len);
  const char *stages = csv_section(buf, "stages");
  assert_int_equal(strncmp(stages, "phase,stage,kv_len,method,trials,calls_per_unit,gross_j,gross_j_lo,gross_j_hi,gross_j_n,"
                                   "dynamic_j,dynamic_j_lo,dynamic_j_hi,dynamic_j_n,counter_dynamic_j,counter_dynamic_j_lo,"
                                   "counter_dynamic_j_hi,counter_dynamic_j_n,share_dynamic,",
                           strlen("phase,stage,kv_len,method,trials,calls_per_unit,gross_j,gross_j_lo,gross_j_hi,gross_j_n,"
                                  "dynamic_j,dynamic_j_lo,dynamic_j_hi,dynamic_j_n,counter_dynamic_j,counter_dynamic_j_lo,"
                                   "counter_dynamic_j_hi,counter_dynamic_j_n,share_dynamic,")),
                   0);
  // decode attention at KV 255: 1023.5 calls per unit, 2.5e-4 J dynamic per call (n = 3)
  const char *attn = strstr(stages, "\ndecode,attn,255,isolation,3,1023.5,");
  assert_non_null(attn);
  char line[1024];
  snprintf(line, sizeof line, "%.*s", (int)strcspn(attn + 1, "\n"), attn + 1);
  assert_non_null(strstr(line, ",0.0002500000"));  // the dynamic mean, before its interval
  assert_non_null(strstr(line, ",3,"));
  const char *closures = csv_section(buf, "closures");
  assert_non_null(strstr(closures, "decode,isolation,4,"));
  const char *abl = csv_section(buf, "ablation");
  assert_int_equal(strncmp(abl, "stage,calls,full_j,full_j_lo,full_j_hi,full_j_n,", 48), 0);
  assert_non_null(strstr(abl, "\nattn,2048,"));
  const char *heads = csv_section(buf, "head_fit");
  assert_non_null(strstr(heads, "\n255,8,"));
  const char *over = csv_section(buf, "overheads");
  assert_non_null(strstr(over, "\n\"sampler\",10,"));
  free(buf);
  lj_profile_result_free(&run.prof);
}

// Tensor parallelism (schema 14): a degree-1 run has no per-GPU table anywhere; at degree 2 each
// GPU's phases (here 3/4 and 1/4 of the sum) are a table of the text, the JSON, the CSV and the page.
static void scale_summary(lj_phase_summary *s, double f) {
  s->gross_j.mean *= f, s->dynamic_j.mean *= f, s->sample_gross_j.mean *= f;
  s->gross_j_per_token *= f, s->dynamic_j_per_token *= f;
}

static void test_per_gpu_table(void **state) {
  lj_report_run run;
  memset(&run, 0, sizeof run);
  build(&run.prof);
  lj_profile_result *r = &run.prof;
  char *text = render(r, 0);
  assert_null(strstr(text, "Per GPU"));
  free(text);
  json_t *page = lj_report_page_data(&run);
  assert_null(json_object_get(page, "per_gpu"));
  json_decref(page);
  text = render(r, 1);
  json_t *doc = parse(text);
  assert_null(json_object_get(doc, "per_gpu"));
  assert_int_equal(json_integer_value(get(get(doc, "plan"), "tp_degree")), 1);
  assert_int_equal(json_integer_value(get(find(get(doc, "phases"), "phase", "decode"), "tp_rank")), 0);
  json_decref(doc);
  free(text);

  r->plan.tp_degree = 2;
  r->n_ranks = 2;
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int k = 0; k < 2; k++) {
      r->rank_phases[k][p] = r->phases[p];
      scale_summary(&r->rank_phases[k][p], k == 0 ? 0.75 : 0.25);
    }
  const lj_phase_summary *dec = &r->phases[LJ_PHASE_DECODE];
  assert_true(dec->n > 0 && dec->gross_j.mean > 0);
  text = render(r, 0);
  check_layout(text);
  expect_line(text, "== Per GPU (tensor-parallel degree 2; per unit)", NULL);
  expect_line(text, "decode        0 ", "75.0%", NULL);
  expect_line(text, "decode        1 ", "25.0%", NULL);
  expect_line(text, "decode      sum ", "100.0%", NULL);
  free(text);

  text = render(r, 1);
  doc = parse(text);
  assert_int_equal(json_integer_value(get(get(doc, "plan"), "tp_degree")), 2);
  assert_int_equal(json_integer_value(get(find(get(doc, "phases"), "phase", "decode"), "tp_rank")), -1);
  json_t *gpus = get(doc, "per_gpu");
  assert_int_equal(json_array_size(gpus), 2);
  json_t *g1 = json_array_get(gpus, 1);
  assert_int_equal(json_integer_value(get(g1, "rank")), 1);
  json_t *g1dec = find(get(g1, "phases"), "phase", "decode");
  assert_int_equal(json_integer_value(get(g1dec, "tp_rank")), 1);
  REL(number(get(g1dec, "gross_j"), "mean"), 0.25 * dec->gross_j.mean, 1e-9);
  json_decref(doc);
  free(text);

  char *buf = NULL;
  size_t len = 0;
  csv_of(&run, &buf, &len);
  const char *per = csv_section(buf, "per_gpu");
  assert_int_equal(strncmp(per, "rank,phase,", 11), 0);
  assert_non_null(strstr(per, "\n1,decode,"));
  free(buf);

  page = lj_report_page_data(&run);
  json_t *rows = get(page, "per_gpu");
  int sum_rows = 0;
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    if (strcmp(json_string_value(get(row, "phase")), "decode")) continue;
    long long k = json_integer_value(get(row, "rank"));
    REL(number(row, "share_gross"), k == 0 ? 0.75 : k == 1 ? 0.25 : 1.0, 1e-12);
    sum_rows += k == -1;
  }
  assert_int_equal(sum_rows, 1);
  json_decref(page);
  lj_profile_result_free(r);
}

// The power chart's throttle spans: runs of throttle readings with a reason that limits the
// clocks (power cap 4, thermal 32), each until the next reading; idle (1) limits nothing.
static void test_series_throttle(void **state) {
  lj_report_run run;
  memset(&run, 0, sizeof run);
  lj_profile_result_init(&run.prof);
  lj_trace_init(&run.trace);
  static const struct {
    double t_s;
    lj_reading reading;
    double value;
  } in[] = {{0, LJ_READING_POWER_SAMPLE, 100},  {0, LJ_READING_THROTTLE, 0}, {2, LJ_READING_THROTTLE, 4},
            {3, LJ_READING_THROTTLE, 4},        {4, LJ_READING_THROTTLE, 1}, {6, LJ_READING_THROTTLE, 32 | 1},
            {10, LJ_READING_POWER_SAMPLE, 300}};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    lj_sample x;
    memset(&x, 0, sizeof x);
    x.t_ns = (int64_t)(in[i].t_s * 1e9) + 5000000000ll, x.reading = (uint8_t)in[i].reading, x.value = in[i].value;
    assert_int_equal(lj_trace_append(&run.trace, &x, 1), 0);
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(lj_report_write_series(f, &run), 0);
  assert_int_equal(fclose(f), 0);
  assert_non_null(strstr(buf, "\"throttle\":[[2.0000,4.0000,4],[6.0000,10.0000,32]]}"));
  free(buf);
  lj_trace_free(&run.trace);
  lj_profile_result_free(&run.prof);
}

static void test_write_error(void **state) {
  lj_profile_result r;
  build_timing_only(&r);
  FILE *f = fopen("/dev/null", "r");
  assert_non_null(f);
  assert_int_equal(lj_profile_report_text(f, &r), LJ_EIO);
  assert_int_equal(lj_profile_report_json(f, &r), LJ_EIO);
  fclose(f);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_full),
      cmocka_unit_test(test_text_sequence), cmocka_unit_test(test_closure_verdict), cmocka_unit_test(test_energy_sources),    cmocka_unit_test(test_shares_one_denominator),
      cmocka_unit_test(test_gpu_idle_phase),
      cmocka_unit_test(test_counter_beside_samples),
      cmocka_unit_test(test_text_incomplete),  cmocka_unit_test(test_text_timing_only),
      cmocka_unit_test(test_json_full),
      cmocka_unit_test(test_json_timing_only), cmocka_unit_test(test_write_error),
      cmocka_unit_test(test_csv_full),
      cmocka_unit_test(test_per_gpu_table),         cmocka_unit_test(test_series_throttle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
