// The analysis of a study from its stored points: a synthetic study store of
// Llama 3.1 8B (batch 1 to 256) and 3.2 1B (batch 1, 4) on an H100 whose phase
// windows carry chosen energies and times, so that every figure is computed by
// hand: decode J/token and step time per point, the best batch under the
// latency bound (and none under a tight one), the knee by each of its rules,
// the stage-group shares of a point with stages, our J/token beside ML.ENERGY
// v3's with the difference in %, the findings' sentences, the text and JSON;
// and the study's compare page in headless Chromium (where installed): no
// console error, the knee and the best batches marked on the charts. A second
// study of the same models with FP8 weights: compared with the first, every
// model has a bf16 and an FP8 line, never one line of both. Two bf16 studies of the same models with
// different figures through `compare A.db B.db`: each study's lines carry their own best batch and
// knee in the page's data, the text and the findings (only the first study's had them before).
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

#include "cli/commands.h"
#include "common/error.h"
#include "model/config.h"
#include "profile/profile_analyze.h"
#include "report/report_assets.h"
#include "report/report_page.h"
#include "report/report_study.h"
#include "report/study_analysis.h"
#include "store/store.h"
#include "store/store_study.h"

static char g_dir[256], g_study[300], g_study_fp8[300], g_study_b[300];

#define GEN 128
#define PROMPT 128

// One point: decode J/token above idle and gross, and the decode step time (ms).
typedef struct {
  const char *model;
  int batch;
  double dyn, gross, step_ms;
} point;

// 8B: J/token falls 4x per 4x of batch to 16 (50% per doubling), 2x to 64 (29.3%), then 0.7x to 256 (16.3%:
// the knee is 64); the step grows 17.7% per doubling to 64 (within 20%), 82.6% after. 1B: no knee.
static const point kPoints[] = {
    {"llama-3.1-8b", 1, 4.0, 4.5, 10},      {"llama-3.1-8b", 4, 1.0, 1.2, 11},      {"llama-3.1-8b", 16, 0.2, 0.25, 13},
    {"llama-3.1-8b", 64, 0.1, 0.125, 18},   {"llama-3.1-8b", 256, 0.07, 0.0765, 60}, {"llama-3.2-1b", 1, 1.0, 1.2, 5},
    {"llama-3.2-1b", 4, 0.3, 0.4, 5},
};
#define N_POINTS (sizeof kPoints / sizeof kPoints[0])

// Study B: 8B's knee is 16 (16 -> 64 falls 7.8% per doubling) and every step is within 50 ms, so its
// best batch is 256; 1B as in the first study.
static const point kPointsB[] = {
    {"llama-3.1-8b", 1, 4.0, 4.5, 10},    {"llama-3.1-8b", 4, 1.0, 1.2, 11},    {"llama-3.1-8b", 16, 0.2, 0.25, 13},
    {"llama-3.1-8b", 64, 0.17, 0.2, 18},  {"llama-3.1-8b", 256, 0.05, 0.06, 45}, {"llama-3.2-1b", 1, 1.0, 1.2, 5},
    {"llama-3.2-1b", 4, 0.3, 0.4, 5},
};

static void add_stage(lj_profile_result *r, lj_stage s, double share) {
  lj_profile_stage st;
  memset(&st, 0, sizeof st);
  lj_replay_estimate *e = &st.est;
  e->key.phase = LJ_PHASE_DECODE, e->key.stage = s, e->key.layer = -1, e->key.kv_len = PROMPT;
  e->n_trials = 3;
  double dyn[3] = {share * 0.99, share, share * 1.01}, t[3] = {1e-5, 1e-5, 1e-5};
  assert_int_equal(lj_stats_mean_ci(dyn, 3, 0.95, &e->dynamic_j), 0);
  assert_int_equal(lj_stats_mean_ci(dyn, 3, 0.95, &e->gross_j), 0);
  assert_int_equal(lj_stats_mean_ci(t, 3, 0.95, &e->time_per_call_s), 0);
  e->insitu_time_per_call_s = e->time_ratio = e->counter_vs_sample_pct = NAN;
  e->temperature_min_c = e->temperature_max_c = NAN;
  st.method = LJ_METHOD_ISOLATION;
  st.calls_per_unit = 1;
  st.share_dynamic = st.share_gross = share;
  assert_int_equal(lj_profile_add_stage(r, &st), 0);
}

// A point's run: 3 repeats of a prefill and a decode window of one unit each.
static void build(lj_profile_result *r, const point *p, int stages, const char *weights) {
  lj_profile_result_init(r);
  lj_profile_plan *pl = &r->plan;
  snprintf(pl->weights, sizeof pl->weights, "%s", weights);
  snprintf(pl->model, sizeof pl->model, "%s", p->model);
  snprintf(pl->model_name, sizeof pl->model_name, "%s", p->model);
  assert_int_equal(lj_config_preset(p->model, &pl->config), 0);
  strcpy(pl->engine, "cuda");
  pl->batch = p->batch, pl->prompt_len = PROMPT, pl->gen_len = GEN, pl->repeats = 3, pl->phase_seconds = 2;
  pl->level = 0.95, pl->n_decode_kv = 1, pl->decode_kv[0] = PROMPT;
  strcpy(pl->prompt_source, "built-in text");
  snprintf(r->cond.device.name, sizeof r->cond.device.name, "NVIDIA H100 80GB HBM3");
  r->cond.idle_w = 70;
  r->complete = 1;
  for (int k = 0; k < 3; k++)
    for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
      lj_phase_window w;
      memset(&w, 0, sizeof w);
      int decode = ph == LJ_PHASE_DECODE;
      double tokens = (double)p->batch * (decode ? GEN : PROMPT);
      w.phase = (lj_phase)ph, w.repeat = k, w.units = 1, w.tokens_per_unit = (int64_t)tokens;
      snprintf(w.w.name, sizeof w.w.name, "%s#%d", lj_phase_name(w.phase), k);
      w.w.duration_s = w.host_s = decode ? p->step_ms * GEN / 1e3 : 0.5;
      w.w.begin_ns = (int64_t)((1 + 4 * k + 2 * decode) * 1e9);
      w.w.end_ns = w.w.begin_ns + (int64_t)(w.w.duration_s * 1e9);
      w.w.counter_above_idle_j = (decode ? p->dyn : 0.01) * tokens;
      w.w.counter_energy_j = (decode ? p->gross : 0.02) * tokens;
      w.w.flags = LJ_WINDOW_NO_SAMPLES;
      assert_int_equal(lj_profile_add_window(r, &w), 0);
    }
  assert_int_equal(lj_profile_summarize_phases(r), 0);
  if (stages) {
    add_stage(r, LJ_STAGE_ATTN, 0.3);
    add_stage(r, LJ_STAGE_GATE_UP, 0.5);
    add_stage(r, LJ_STAGE_LM_HEAD, 0.2);
  }
}

static void make_study(const char *path, const char *weights, const point *kp) {
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_study_point pts[N_POINTS];
  memset(pts, 0, sizeof pts);
  for (size_t i = 0; i < N_POINTS; i++) {
    snprintf(pts[i].model, sizeof pts[i].model, "%s", kp[i].model);
    pts[i].batch = kp[i].batch, pts[i].prompt_len = PROMPT, pts[i].gen_len = GEN;
    pts[i].seconds = pts[i].estimate_s = NAN;
  }
  pts[5].stages = 1;  // 1B batch 1 has per-stage estimates
  lj_study s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "synthetic");
  snprintf(s.arguments, sizeof s.arguments, "engine=cuda synthetic");
  snprintf(s.engine, sizeof s.engine, "cuda");
  snprintf(s.command_line, sizeof s.command_line, "llamajoule sweep ...");
  int resumed = 0;
  assert_int_equal(lj_store_study_begin(st, &s, pts, N_POINTS, &resumed), 0);
  for (size_t i = 0; i < N_POINTS; i++) {
    lj_run_info info = {.kind = "profile", .command_line = "llamajoule sweep", .source = "nvml"};
    assert_int_equal(lj_store_begin_run(st, &info, &pts[i].run_id), 0);
    lj_profile_result r;
    build(&r, &kp[i], pts[i].stages, weights);
    assert_int_equal(lj_store_add_profile(st, pts[i].run_id, &r), 0);
    lj_profile_result_free(&r);
    assert_int_equal(lj_store_end_run(st, pts[i].run_id, LJ_RUN_COMPLETE, 0), 0);
    pts[i].status = LJ_POINT_DONE, pts[i].attempts = 1, pts[i].seconds = 30, pts[i].estimate_s = 30;
    assert_int_equal(lj_store_study_set_point(st, s.id, i, &pts[i]), 0);
  }
  lj_store_close(st);
}

// The study's text (lj_report_study_text), to free.
static char *study_text(const lj_report_study *s) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mf = open_memstream(&buf, &len);
  assert_non_null(mf);
  assert_int_equal(lj_report_study_text(mf, s), 0);
  fclose(mf);
  return buf;
}

#include "near.h"

// The rules on plain numbers: the J/token rule, the step-time rule, none; the best batch.
static void test_rules(void **state) {
  int b[] = {1, 2, 4, 16};
  double j[] = {1, 0.5, 0.25, 0.2}, flat[] = {10, 10, 10, 10}, fall, growth;
  // 4 -> 16: 0.8 over two doublings, 0.894 each: falls 10.6% < 20%.
  assert_int_equal(lj_study_knee(b, j, flat, 4, &fall, &growth), 2);
  NEAR(fall, (1 - sqrt(0.8)) * 100, 1e-9);
  NEAR(growth, 0, 1e-9);
  // 2 -> 4: the step grows 30% (> 20%) though J/token halves.
  double t[] = {10, 10, 13, 13};
  assert_int_equal(lj_study_knee(b, j, t, 4, &fall, &growth), 1);
  NEAR(growth, 30, 1e-9);
  NEAR(fall, 50, 1e-9);
  // Halving all the way, the step flat: no knee.
  double half[] = {1, 0.5, 0.25, 0.0625};
  assert_int_equal(lj_study_knee(b, half, flat, 4, &fall, &growth), -1);
  // 21% per doubling is no knee, 19% is.
  double j21[] = {1, 0.79}, j19[] = {1, 0.81};
  assert_int_equal(lj_study_knee(b, j21, flat, 2, &fall, &growth), -1);
  assert_int_equal(lj_study_knee(b, j19, flat, 2, &fall, &growth), 0);
  NEAR(fall, 19, 1e-9);
  assert_int_equal(lj_study_best_under(j, t, 4, 12), 1);  // batches 1, 2 within 12 ms: 2 is lower
  assert_int_equal(lj_study_best_under(j, t, 4, 13), 3);  // bound inclusive
  assert_int_equal(lj_study_best_under(j, t, 4, 9.99), -1);
}

static const lj_study_line *line(const lj_study_analysis *a, const char *model) {
  for (size_t i = 0; i < a->n_lines; i++)
    if (!strcmp(a->lines[i].model, model)) return &a->lines[i];
  fail_msg("no line for %s", model);
  return NULL;
}

static void test_study(void **state) {
  lj_report_study s;
  assert_int_equal(lj_report_study_load(g_study, &s), 1);
  assert_int_equal(s.n_runs, N_POINTS);
  assert_true(s.latency_ms == 50.0);
  lj_study_analysis a;
  assert_int_equal(lj_study_analyze(&s, 50, &a), 0);
  assert_int_equal(a.n_lines, 2);
  const lj_study_line *l8 = line(&a, "llama-3.1-8b"), *l1 = line(&a, "llama-3.2-1b");
  assert_int_equal(l8->n, 5);
  assert_int_equal(l8->pt[4].batch, 256);
  for (size_t i = 0; i < 5; i++) {  // read back from the store's windows
    NEAR(l8->pt[i].j_per_token, kPoints[i].dyn, 1e-12);
    NEAR(l8->pt[i].gross_j_per_token, kPoints[i].gross, 1e-12);
    NEAR(l8->pt[i].step_ms, kPoints[i].step_ms, 1e-9);
  }
  // Best under 50 ms: batches 1..64 qualify (60 ms at 256 does not); 64 has the lowest J/token.
  assert_int_equal(l8->best_batch, 64);
  assert_int_equal(l1->best_batch, 4);
  // The knee of 8B: 64 -> 256 falls 16.3% per doubling (< 20%), and the step grows 82.6%.
  assert_int_equal(l8->knee_batch, 64);
  assert_int_equal(l8->knee_next, 256);
  assert_true(l8->knee_by_fall && l8->knee_by_growth);
  NEAR(l8->knee_fall_pct, (1 - sqrt(0.7)) * 100, 1e-9);
  NEAR(l8->knee_growth_pct, (sqrt(60.0 / 18) - 1) * 100, 1e-9);
  assert_int_equal(l1->knee_batch, 0);
  NEAR(l8->params_b, (double)lj_config_n_params(&s.runs[0].prof.plan.config) / 1e9, 1e-12);

  // ML.ENERGY v3: batch 16, 64, 256 match (8 has no point); gross J/token against theirs.
  lj_study_reference_match m[8];
  assert_int_equal(lj_study_reference_matches(&a, m, 8), 3);
  assert_int_equal(m[0].ours->batch, 16);
  NEAR(m[0].diff_pct, (0.25 - 0.263) / 0.263 * 100, 1e-9);  // -4.943%
  assert_true(m[0].at_or_below);
  NEAR(m[1].diff_pct, (0.125 - 0.119) / 0.119 * 100, 1e-9);  // +5.042%
  assert_false(m[1].at_or_below);
  NEAR(m[2].diff_pct, (0.0765 - 0.077) / 0.077 * 100, 1e-9);  // -0.649%
  assert_true(m[2].at_or_below);

  lj_finding f[32];
  size_t nf = lj_study_findings(&a, f, 32);
  char all[8192] = "";
  for (size_t i = 0; i < nf; i++) {
    strcat(all, f[i].text);
    strcat(all, "\n");
  }
  assert_non_null(strstr(all, "decode J/token falls 57.1x from batch 1 to 256 for llama-3.1-8b (prompt 128, gen 128)"));
  assert_non_null(strstr(all, "past batch 64 decode is no longer weight-read bound for llama-3.1-8b (prompt 128, gen 128): "
                              "from batch 64 to 256 J/token falls only 16.3% per doubling (rule: less than 20%)"));
  assert_non_null(strstr(all, "the best batch under 50 ms per decode step for llama-3.1-8b (prompt 128, gen 128) is 64: "
                              "0.1 J/token at 18 ms"));
  assert_non_null(strstr(all, "decode stays weight-read bound up to batch 4 for llama-3.2-1b"));
  assert_non_null(strstr(all, "decode J/token falls 3.3x from batch 1 to 4 for llama-3.2-1b"));
  assert_non_null(strstr(all, "is at or below ML.ENERGY v3 at 2 of 3 batches (batch 16 -4.9%, batch 64 +5.0%, batch 256 -0.6%)"));
  char size[200];
  snprintf(size, sizeof size, "at batch 1 (prompt 128, gen 128) decode takes %.3g J per billion parameters per token for llama-3.2-1b",
           1.0 / line(&a, "llama-3.2-1b")->params_b);
  assert_non_null(strstr(all, size));
  lj_study_analysis_free(&a);

  assert_null(strstr(all, "two sources"));
  // One 8B point's decode by the power samples, the others by the counter (a study resumed across
  // the change of source): said, as a warning.
  for (size_t i = 0; i < (size_t)s.n_runs; i++)
    if (!strcmp(s.runs[i].prof.plan.model_name, "llama-3.1-8b") && s.runs[i].prof.plan.batch == 16)
      s.runs[i].prof.phases[LJ_PHASE_DECODE].window_flags |= LJ_WINDOW_SAMPLE_ENERGY;
  assert_int_equal(lj_study_analyze(&s, 50, &a), 0);
  nf = lj_study_findings(&a, f, 32);
  int warned = 0;
  for (size_t i = 0; i < nf; i++)
    warned += f[i].level == 1 && !strcmp(f[i].text, "the decode points of llama-3.1-8b (prompt 128, gen 128) were measured "
                                        "by two sources (1 by the driver's power samples, 4 by the energy counter): up to 2% "
                                        "of their differences may be the instruments'");
  assert_int_equal(warned, 1);
  lj_study_analysis_free(&a);
  for (size_t i = 0; i < (size_t)s.n_runs; i++)  // the study as stored again
    s.runs[i].prof.phases[LJ_PHASE_DECODE].window_flags &= ~(uint32_t)LJ_WINDOW_SAMPLE_ENERGY;

  // A tight bound: nothing meets 4 ms; 12 ms admits batch 1 and 4 of 8B.
  assert_int_equal(lj_study_analyze(&s, 4, &a), 0);
  assert_int_equal(line(&a, "llama-3.1-8b")->best_batch, 0);
  nf = lj_study_findings(&a, f, 32);
  int said = 0;
  for (size_t i = 0; i < nf; i++)
    said += !strcmp(f[i].text, "no batch meets 4 ms per decode step for llama-3.1-8b (prompt 128, gen 128): the fastest, "
                               "batch 1, takes 10 ms");
  assert_int_equal(said, 1);
  lj_study_analysis_free(&a);
  assert_int_equal(lj_study_analyze(&s, 12, &a), 0);
  assert_int_equal(line(&a, "llama-3.1-8b")->best_batch, 4);
  lj_study_analysis_free(&a);

  // The JSON: the same figures, the shares of the point with stages, the reference rows.
  s.latency_ms = 12;
  json_t *j = lj_report_study_json(&s);
  assert_non_null(j);
  json_t *an = json_object_get(j, "analysis");
  assert_true(json_real_value(json_object_get(an, "latency_ms")) == 12);
  json_t *l0 = json_array_get(json_object_get(an, "lines"), 0);
  assert_string_equal(json_string_value(json_object_get(l0, "model")), "llama-3.1-8b");
  assert_int_equal(json_integer_value(json_object_get(l0, "best_batch")), 4);
  assert_int_equal(json_integer_value(json_object_get(l0, "knee_batch")), 64);
  assert_string_equal(json_string_value(json_object_get(l0, "knee_rule")), "fall");
  json_t *sh = json_object_get(an, "shares");
  assert_int_equal(json_array_size(sh), 1);
  json_t *s0 = json_array_get(sh, 0);
  assert_string_equal(json_string_value(json_object_get(s0, "phase")), "decode");
  NEAR(json_real_value(json_object_get(s0, "attention")), 0.3, 1e-12);
  NEAR(json_real_value(json_object_get(s0, "mlp")), 0.5, 1e-12);
  NEAR(json_real_value(json_object_get(s0, "lm_head")), 0.2, 1e-12);
  json_t *rp = json_object_get(json_object_get(an, "reference"), "points");
  assert_int_equal(json_array_size(rp), 3);
  NEAR(json_real_value(json_object_get(json_array_get(rp, 1), "diff_pct")), (0.125 - 0.119) / 0.119 * 100, 1e-9);
  json_decref(j);

  // The text: the table, the reference lines with the conditions, the findings.
  s.latency_ms = 50;
  char *buf = study_text(&s);
  assert_non_null(strstr(buf, "latency bound 50 ms per decode step"));
  assert_non_null(strstr(buf, "batch  16 on NVIDIA H100 80GB HBM3: ours 0.25 J/token, theirs 0.263 (+-2%): -4.9%, at or below theirs"));
  assert_non_null(strstr(buf, "batch  64 on NVIDIA H100 80GB HBM3: ours 0.125 J/token, theirs 0.119 (+-2%): +5.0%, above theirs"));
  assert_non_null(strstr(buf, "ours is llamajoule's engine (not vLLM) with random weights"));
  assert_non_null(strstr(buf, "30.0%  50.0%   20.0%"));  // the shares of 1B batch 1
  assert_non_null(strstr(buf, "  - past batch 64 decode is no longer weight-read bound"));
  free(buf);
  lj_report_study_free(&s);
}

static char *slurp(const char *path) {
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
  return b;
}

// Opens `html` in headless Chromium and returns the page's status (lj-status, JSON; the DOM in
// *dom_text), NULL (with the reason on stderr) where it cannot be opened here. Fails the test
// when the page did not finish or logged errors.
static json_t *page_status(const char *html, const char *dom, char **dom_text) {
  if (getenv("LLAMAJOULE_SANITIZED")) {
    fprintf(stderr, "skip: sanitized build: the page is opened by the release build's test\n");
    return NULL;
  }
  if (system("command -v chromium >/dev/null 2>&1") != 0) {
    fprintf(stderr, "skip: chromium is not installed (apt-get install chromium): the page was not opened\n");
    return NULL;
  }
  char cmd[1400];
  snprintf(cmd, sizeof cmd,
           "timeout 120 chromium --headless=new --no-sandbox --disable-gpu --host-resolver-rules='MAP * ~NOTFOUND' "
           "--virtual-time-budget=20000 --dump-dom 'file://%s' >'%s' 2>/dev/null", html, dom);
  assert_int_equal(system(cmd), 0);
  char *after = slurp(dom);
  const char *p = strstr(after, "id=\"lj-status\"");
  assert_non_null(p);
  p = strchr(p, '>') + 1;
  char *text = strndup(p, (size_t)(strchr(p, '<') - p));
  json_error_t err;
  json_t *st = json_loads(text, 0, &err);
  if (!st) fail_msg("status is not JSON: %s", text);
  assert_true(json_is_true(json_object_get(st, "done")));
  if (json_array_size(json_object_get(st, "errors"))) fail_msg("errors on the page: %s", text);
  assert_int_equal(json_integer_value(json_object_get(st, "violations")), 0);
  free(text);
  *dom_text = after;
  return st;
}

// The study's page in headless Chromium: drawn without errors, the knee and best batches marked.
static void test_page(void **state) {
  char html[400], dom[400];
  snprintf(html, sizeof html, "%s/study.html", g_dir);
  snprintf(dom, sizeof dom, "%s/dom.html", g_dir);
  lj_report_study s;
  assert_int_equal(lj_report_study_load(g_study, &s), 1);
  FILE *f = fopen(html, "w");
  assert_non_null(f);
  int rc = lj_report_study_html(f, &s);
  fclose(f);
  lj_report_study_free(&s);
  if (rc == LJ_EUNSUPPORTED) skip();  // built without node_modules/echarts
  assert_int_equal(rc, 0);
  char *after = NULL;
  json_t *st = page_status(html, dom, &after);
  if (!st) return;
  json_t *charts = json_object_get(st, "charts");
  static const struct {
    const char *id;
    int points;
  } kCharts[] = {{"study-decode-j-per-token", 7}, {"study-decode-step", 7}, {"study-shares-size", 3}, {"study-shares-context", 3}};
  for (size_t i = 0; i < sizeof kCharts / sizeof kCharts[0]; i++) {
    json_t *c = json_object_get(charts, kCharts[i].id);
    if (!c) fail_msg("chart %s was not drawn", kCharts[i].id);
    if (json_integer_value(json_object_get(c, "points")) != kCharts[i].points)
      fail_msg("chart %s: %lld points, not %d", kCharts[i].id, (long long)json_integer_value(json_object_get(c, "points")),
               kCharts[i].points);
  }
  json_t *study = json_object_get(st, "study");
  assert_int_equal(json_integer_value(json_object_get(study, "knee_marks")), 1);  // 8B's knee; 1B has none
  assert_int_equal(json_integer_value(json_object_get(study, "best_marks")), 2);
  assert_int_equal(json_integer_value(json_object_get(study, "reference_rows")), 3);
  assert_true(json_integer_value(json_object_get(study, "findings")) >= 7);
  assert_non_null(strstr(after, "Beside ML.ENERGY v3"));
  json_decref(st);
  free(after);
}

// A bf16 and an FP8 study of the same models compared: a line per model and weight format (not
// one line of both, which merged their points before), ML.ENERGY beside the bf16 lines only, the
// FP8 line named in the findings, and four lines on the compare page's decode chart.
static void test_weights_apart(void **state) {
  (void)state;
  lj_report_study s16, s8;
  assert_int_equal(lj_report_study_load(g_study, &s16), 1);
  assert_int_equal(lj_report_study_load(g_study_fp8, &s8), 1);
  size_t n = s16.n_runs + s8.n_runs;
  lj_report_run *all = calloc(n, sizeof *all);
  assert_non_null(all);
  memcpy(all, s16.runs, s16.n_runs * sizeof *all);
  memcpy(all + s16.n_runs, s8.runs, s8.n_runs * sizeof *all);
  lj_report_study both = s16;  // the first study's description, every run of both (as compare does)
  both.runs = all, both.n_runs = n;
  lj_study_analysis a;
  assert_int_equal(lj_study_analyze(&both, 50, &a), 0);
  assert_int_equal(a.n_lines, 4);
  int fp8_lines = 0;
  for (size_t i = 0; i < a.n_lines; i++) {
    const lj_study_line *l = &a.lines[i];
    fp8_lines += !strcmp(l->weights, "fp8");
    assert_int_equal(l->n, !strcmp(l->model, "llama-3.1-8b") ? 5 : 2);
    for (size_t k = 0; k < l->n; k++)
      assert_string_equal(l->pt[k].run->prof.plan.weights, l->weights);
  }
  assert_int_equal(fp8_lines, 2);
  lj_study_reference_match m[8];
  assert_int_equal(lj_study_reference_matches(&a, m, 8), 3);
  for (int i = 0; i < 3; i++) assert_string_equal(m[i].line->weights, "bf16");
  lj_finding f[64];
  size_t nf = lj_study_findings(&a, f, 64);
  int named = 0;
  for (size_t i = 0; i < nf; i++) named += strstr(f[i].text, "llama-3.1-8b fp8 (prompt 128, gen 128)") != NULL;
  assert_true(named >= 2);
  lj_study_analysis_free(&a);

  char html[400], dom[400];
  snprintf(html, sizeof html, "%s/compare_weights.html", g_dir);
  snprintf(dom, sizeof dom, "%s/dom_weights.html", g_dir);
  json_t *sj = lj_report_study_json(&s16);
  assert_non_null(sj);
  FILE *fh = fopen(html, "w");
  assert_non_null(fh);
  int rc = lj_report_compare_html_study(fh, all, n, sj);
  fclose(fh);
  json_decref(sj);
  free(all);
  lj_report_study_free(&s16);
  lj_report_study_free(&s8);
  if (rc == LJ_EUNSUPPORTED) skip();  // built without node_modules/echarts
  assert_int_equal(rc, 0);
  char *after = NULL;
  json_t *st = page_status(html, dom, &after);
  if (!st) return;
  json_t *c = json_object_get(json_object_get(st, "charts"), "study-decode-j-per-token");
  assert_non_null(c);
  assert_int_equal(json_integer_value(json_object_get(c, "series")), 4);
  assert_int_equal(json_integer_value(json_object_get(c, "points")), 14);
  json_decref(st);
  free(after);
}

// The analysis line of `file`'s study for `model` in the page's data, or NULL.
static json_t *page_line(json_t *lines, const char *file, const char *model) {
  for (size_t i = 0; i < json_array_size(lines); i++) {
    json_t *l = json_array_get(lines, i);
    if (!strcmp(json_string_value(json_object_get(l, "file")), file) &&
        !strcmp(json_string_value(json_object_get(l, "model")), model))
      return l;
  }
  return NULL;
}

static int starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

static int batch_of(json_t *l, const char *key) { return (int)json_integer_value(json_object_get(l, key)); }

// `compare study.db study_b.db`: both studies' lines in the analysis the page is built from, each
// with its own best batch and knee (the second study's had none before); the text and findings
// name each line's file; the page marks a knee and best batches on both studies' lines.
static void test_compare_studies(void **state) {
  (void)state;
  if (!*lj_asset_echarts_js) skip();  // built without node_modules/echarts: compare writes no page
  char html[400], dom[400];
  snprintf(html, sizeof html, "%s/compare_studies.html", g_dir);
  snprintf(dom, sizeof dom, "%s/dom_studies.html", g_dir);
  char cmd[] = "compare", opt[] = "-o";
  char *argv[] = {cmd, g_study, g_study_b, opt, html, NULL};
  assert_int_equal(lj_cmd_compare(5, argv), 0);
  char *page = slurp(html);
  const char *p = strstr(page, "id=\"lj-data\">");
  assert_non_null(p);
  p = strchr(p, '>') + 1;
  json_error_t err;
  json_t *d = json_loadb(p, (size_t)(strstr(p, "</script>") - p), 0, &err);
  if (!d) fail_msg("the page's data is not JSON: %s", err.text);
  assert_int_equal(json_array_size(json_object_get(d, "runs")), 2 * N_POINTS);
  json_t *study = json_object_get(d, "study");
  assert_int_equal(json_array_size(json_object_get(study, "points")), 2 * N_POINTS);
  json_t *an = json_object_get(study, "analysis"), *lines = json_object_get(an, "lines");
  assert_int_equal(json_array_size(lines), 4);
  json_t *a8 = page_line(lines, g_study, "llama-3.1-8b"), *a1 = page_line(lines, g_study, "llama-3.2-1b");
  json_t *b8 = page_line(lines, g_study_b, "llama-3.1-8b"), *b1 = page_line(lines, g_study_b, "llama-3.2-1b");
  assert_true(a8 && a1 && b8 && b1);
  assert_int_equal(batch_of(a8, "best_batch"), 64);
  assert_int_equal(batch_of(a8, "knee_batch"), 64);
  assert_int_equal(batch_of(b8, "best_batch"), 256);  // study B's own: all its steps are within 50 ms
  assert_int_equal(batch_of(b8, "knee_batch"), 16);
  assert_int_equal(batch_of(b8, "knee_next"), 64);
  NEAR(json_real_value(json_object_get(b8, "knee_fall_pct")), (1 - sqrt(0.85)) * 100, 1e-9);
  assert_int_equal(json_array_size(json_object_get(b8, "points")), 5);
  NEAR(json_real_value(json_object_get(json_array_get(json_object_get(b8, "points"), 4), "j_per_token")), 0.05, 1e-12);
  assert_int_equal(batch_of(a1, "best_batch"), 4);
  assert_int_equal(batch_of(b1, "best_batch"), 4);
  assert_true(json_is_null(json_object_get(b1, "knee_batch")));
  int said = 0;
  json_t *fs = json_object_get(an, "findings");
  for (size_t i = 0; i < json_array_size(fs); i++) {
    const char *t = json_string_value(json_object_get(json_array_get(fs, i), "text"));
    said += !strcmp(t, "the best batch under 50 ms per decode step for llama-3.1-8b (prompt 128, gen 128) in study_b.db is "
                       "256: 0.05 J/token at 45 ms");
    said += starts(t, "past batch 16 decode is no longer weight-read bound for llama-3.1-8b (prompt 128, gen 128) in "
                      "study_b.db: ");
    said += starts(t, "past batch 64 decode is no longer weight-read bound for llama-3.1-8b (prompt 128, gen 128) in "
                      "study.db: ");
  }
  assert_int_equal(said, 3);
  json_decref(d);
  free(page);

  // The text of the two studies analysed as one, as compare does: each line's best batch and knee.
  lj_report_study s, b;
  assert_int_equal(lj_report_study_load(g_study, &s), 1);
  assert_int_equal(lj_report_study_load(g_study_b, &b), 1);
  assert_int_equal(lj_report_study_merge(&s, &b), 0);
  assert_int_equal(s.n_runs, 2 * N_POINTS);
  char *buf = study_text(&s);
  assert_non_null(strstr(buf, "  llama-3.1-8b (prompt 128, gen 128) in study.db: best batch 64, knee 64\n"));
  assert_non_null(strstr(buf, "  llama-3.1-8b (prompt 128, gen 128) in study_b.db: best batch 256, knee 16\n"));
  assert_non_null(strstr(buf, "  llama-3.2-1b (prompt 128, gen 128) in study_b.db: best batch 4, knee none\n"));
  free(buf);
  lj_report_study_free(&s);

  char *after = NULL;
  json_t *st = page_status(html, dom, &after);
  if (!st) return;
  json_t *ps = json_object_get(st, "study");
  assert_int_equal(json_integer_value(json_object_get(ps, "knee_marks")), 2);  // 8B's of each study
  assert_int_equal(json_integer_value(json_object_get(ps, "best_marks")), 4);
  json_t *c = json_object_get(json_object_get(st, "charts"), "study-decode-j-per-token");
  assert_int_equal(json_integer_value(json_object_get(c, "series")), 4);
  json_decref(st);
  free(after);
}

static int setup(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_study_analysis_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  lj_set_quiet(1);
  snprintf(g_study, sizeof g_study, "%s/study.db", g_dir);
  make_study(g_study, "bf16", kPoints);
  snprintf(g_study_fp8, sizeof g_study_fp8, "%s/study_fp8.db", g_dir);
  make_study(g_study_fp8, "fp8", kPoints);
  snprintf(g_study_b, sizeof g_study_b, "%s/study_b.db", g_dir);
  make_study(g_study_b, "bf16", kPointsB);
  return 0;
}

static int teardown(void **state) {
  char cmd[512];
  if (getenv("LLAMAJOULE_KEEP")) return 0;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rules), cmocka_unit_test(test_study),
                                     cmocka_unit_test(test_page), cmocka_unit_test(test_weights_apart),
                                     cmocka_unit_test(test_compare_studies)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
