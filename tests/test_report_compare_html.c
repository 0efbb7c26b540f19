// The compare page end to end on two stores of synthetic GPU runs of Llama 3.2
// 1B that differ in batch and prompt length (so every chart has something to
// draw, J/token against batch and against context included): both stores read
// back, the page rendered, nothing in it loads from the network, and, where
// Debian's chromium is installed, the page opened headless: no console error,
// no blocked request, every chart drew marks. Screenshots go to
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
#include "profile/profile_analyze.h"
#include "report/report_run.h"
#include "store/store.h"

static char g_dir[256];

// Per-call dynamic energy (J) of each stage in decode and prefill (512 tokens), batch 1.
// per stage id; 0 for the all-reduce stages, which a degree-1 run does not have
static const double kDecodeJ[LJ_STAGE_COUNT] = {2e-6,   1e-5,   4e-4, 1e-5, 1.5e-4, 1.4e-4, 0,   1e-5,
                                                1.1e-3, 1.5e-5, 5.5e-4, 0, 1e-6, 9e-3,   2e-5};
static const double kPrefillJ[LJ_STAGE_COUNT] = {2e-5, 2e-4, 8e-3, 3e-4, 6e-3,  2.6e-3, 0, 2e-4,
                                                 2e-2, 6e-4, 1e-2, 0,    1e-5, 2e-2,   1e-5};

static void add_stage(lj_profile_result *r, lj_phase p, lj_stage s, double calls, double dyn_j) {
  lj_profile_stage st;
  memset(&st, 0, sizeof st);
  lj_replay_estimate *e = &st.est;
  e->key.phase = p, e->key.stage = s, e->key.layer = -1, e->key.kv_len = p == LJ_PHASE_DECODE ? r->plan.prompt_len : 0;
  e->n_trials = 3;
  double dyn[3] = {dyn_j * 0.98, dyn_j, dyn_j * 1.02}, t[3] = {dyn_j / 200, dyn_j / 200, dyn_j / 200};
  assert_int_equal(lj_stats_mean_ci(dyn, 3, 0.95, &e->dynamic_j), 0);
  assert_int_equal(lj_stats_mean_ci(dyn, 3, 0.95, &e->gross_j), 0);
  assert_int_equal(lj_stats_mean_ci(t, 3, 0.95, &e->time_per_call_s), 0);
  e->insitu_time_per_call_s = e->time_ratio = e->counter_vs_sample_pct = NAN;
  e->temperature_min_c = e->temperature_max_c = NAN;
  st.method = LJ_METHOD_ISOLATION;
  st.calls_per_unit = calls;
  st.share_dynamic = st.share_gross = NAN;
  assert_int_equal(lj_profile_add_stage(r, &st), 0);
}

// One run: `batch` sequences of `prompt_len` tokens, 128 generated; energies scale with the batch
// (decode less than linearly: the weights are read once per step for the whole batch).
static void build(lj_profile_result *r, int batch, int prompt_len, const char *gpu) {
  lj_profile_result_init(r);
  lj_profile_plan *pl = &r->plan;
  strcpy(pl->model, "llama-3.2-1b");
  strcpy(pl->model_name, "llama-3.2-1b");
  assert_int_equal(lj_config_preset("llama-3.2-1b", &pl->config), 0);
  strcpy(pl->engine, "cuda");
  pl->batch = batch, pl->prompt_len = prompt_len, pl->gen_len = 128, pl->repeats = 3, pl->trials = 3;
  pl->replay_seconds = 2, pl->replay_duty = 0.5, pl->phase_seconds = 2, pl->level = 0.95, pl->layers_replayed = 16;
  pl->n_decode_kv = 1, pl->decode_kv[0] = prompt_len + 64;
  strcpy(pl->prompt_source, "built-in text");
  lj_profile_conditions *c = &r->cond;
  snprintf(c->device.name, sizeof c->device.name, "%s", gpu);
  strcpy(c->device.driver_version, "580.159.04");
  c->idle_w = 70;
  strcpy(c->idle_method, "measured 5 s before the run (counter)");
  c->power_limit_w = 700;
  strcpy(c->throttle_text, "none");
  r->complete = 1;
  double decode_scale = 1 + 0.15 * (batch - 1), prefill_scale = pow(batch * prompt_len / 512.0, 1.05);
  for (int k = 0; k < 3; k++) {
    const struct {
      lj_phase p;
      double seconds, dyn_j;
      int64_t units, tokens;
    } w[] = {{LJ_PHASE_PREFILL, 2.1, 300 * prefill_scale * (1 + 0.01 * k), 20, (int64_t)batch * prompt_len},
             {LJ_PHASE_DECODE, 2.4, 340 * decode_scale * (1 + 0.01 * k), 2, (int64_t)batch * 128}};
    for (int i = 0; i < 2; i++) {
      lj_phase_window x;
      memset(&x, 0, sizeof x);
      x.phase = w[i].p, x.repeat = k, x.units = w[i].units, x.tokens_per_unit = w[i].tokens;
      snprintf(x.w.name, sizeof x.w.name, "%s#%d", lj_phase_name(x.phase), k);
      x.w.begin_ns = (int64_t)((1 + 6 * k + 3 * i) * 1e9);
      x.w.end_ns = x.w.begin_ns + (int64_t)(w[i].seconds * 1e9);
      x.w.duration_s = x.host_s = w[i].seconds;
      x.w.idle_power_w = 70;
      x.w.counter_above_idle_j = w[i].dyn_j, x.w.counter_energy_j = w[i].dyn_j + 70 * w[i].seconds;
      x.w.sample_energy_j = x.w.counter_energy_j, x.w.sample_above_idle_j = w[i].dyn_j;
      x.w.mean_power_w = x.w.counter_energy_j / w[i].seconds, x.w.peak_power_w = x.w.mean_power_w * 1.1;
      x.w.integrated_reading = LJ_READING_POWER_SAMPLE;
      assert_int_equal(lj_profile_add_window(r, &x), 0);
    }
  }
  assert_int_equal(lj_profile_summarize_phases(r), 0);
  for (int s = 0; s < LJ_STAGE_COUNT; s = lj_stage_next(s, 1)) {
    double per = lj_stage_is_per_layer((lj_stage)s) ? 16 : 1;
    if (s != LJ_STAGE_SAMPLE) add_stage(r, LJ_PHASE_PREFILL, (lj_stage)s, per, kPrefillJ[s] * prefill_scale);
    add_stage(r, LJ_PHASE_DECODE, (lj_stage)s, s == LJ_STAGE_SAMPLE ? 128 : per * 127, kDecodeJ[s] * decode_scale);
  }
  // Shares within each phase's sum, as the closure leaves them.
  for (int p = LJ_PHASE_PREFILL; p <= LJ_PHASE_DECODE; p++) {
    double sum = 0;
    for (size_t i = 0; i < r->n_stages; i++)
      if (r->stages[i].est.key.phase == (lj_phase)p) sum += r->stages[i].calls_per_unit * r->stages[i].est.dynamic_j.mean;
    for (size_t i = 0; i < r->n_stages; i++)
      if (r->stages[i].est.key.phase == (lj_phase)p)
        r->stages[i].share_dynamic = r->stages[i].share_gross =
            r->stages[i].calls_per_unit * r->stages[i].est.dynamic_j.mean / sum;
  }
}

// Driver power samples over the windows (every 20 ms), so that the runs are complete.
static void store_samples(lj_store *st, int64_t run, const char *gpu) {
  lj_device_info d;
  memset(&d, 0, sizeof d);
  snprintf(d.name, sizeof d.name, "%s", gpu);
  strcpy(d.source, "nvml");
  assert_int_equal(lj_store_add_device(st, run, &d), 0);
  enum { N = 1000 };
  lj_sample s[N];
  memset(s, 0, sizeof s);
  for (int i = 0; i < N; i++) {
    s[i].t_ns = 1000000000ll + i * 20000000ll, s[i].reading = LJ_READING_POWER_SAMPLE;
    s[i].value = 70 + 250 * ((i / 50) % 2) + (i % 5);
    s[i].device = 0;
  }
  assert_int_equal(lj_store_add_samples(st, run, s, N), 0);
}

static void make_store(const char *path, int batch, int prompt_len, const char *gpu) {
  lj_store *st = NULL;
  remove(path);
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule profile --model llama-3.2-1b", .source = "nvml"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  store_samples(st, run, gpu);
  lj_profile_result r;
  build(&r, batch, prompt_len, gpu);
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  lj_profile_result_free(&r);
  assert_int_equal(lj_store_end_run(st, run, LJ_RUN_COMPLETE, 0), 0);
  lj_store_close(st);
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

static void test_compare_page(void **state) {
  char a[512], b[512], html_path[512];
  snprintf(a, sizeof a, "%s/b1-p512.db", g_dir);
  snprintf(b, sizeof b, "%s/b4-p1024.db", g_dir);
  snprintf(html_path, sizeof html_path, "%s/compare.html", g_dir);
  make_store(a, 1, 512, "NVIDIA H100 80GB HBM3");
  make_store(b, 4, 1024, "NVIDIA H200");
  lj_report_run runs[2];
  assert_int_equal(lj_report_load(a, 0, &runs[0]), 0);
  assert_int_equal(lj_report_load(b, 0, &runs[1]), 0);
  assert_string_equal(runs[0].missing, "");
  assert_string_equal(runs[1].prof.cond.device.source, "nvml");
  // Decode J/token from the stores: windows of 2 units, 340 J x (1 + 0.15 x 3) x (1.00, 1.01, 1.02) each,
  // over 4 x 128 tokens a unit.
  assert_true(fabs(runs[1].prof.phases[LJ_PHASE_DECODE].dynamic_j_per_token - 340 * 1.45 * 1.01 / 2 / 512) < 1e-9);
  FILE *out = fopen(html_path, "w");
  assert_non_null(out);
  int rc = lj_report_compare_html(out, runs, 2);
  fclose(out);
  lj_report_run_free(&runs[0]);
  lj_report_run_free(&runs[1]);
  if (rc == LJ_EUNSUPPORTED) skip();  // built without node_modules/echarts
  assert_int_equal(rc, 0);

  char *html = slurp(html_path);
  // Offline: nothing is loaded from anywhere (scripts and styles are inline, the CSP forbids requests).
  assert_null(strstr(html, "<script src"));
  assert_null(strstr(html, "<link"));
  assert_null(strstr(html, "src=\"http"));
  assert_non_null(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
  assert_non_null(strstr(html, "<title>llamajoule: 2 runs compared"));
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
  char *after = slurp(dom);
  char *st = element_text(after, "lj-status");
  assert_non_null(st);
  json_error_t err;
  json_t *s = json_loads(st, 0, &err);
  if (!s) fail_msg("status is not JSON: %s", st);
  assert_true(json_is_true(json_object_get(s, "done")));
  assert_int_equal(json_array_size(json_object_get(s, "errors")), 0);
  assert_int_equal(json_integer_value(json_object_get(s, "violations")), 0);
  // Each chart with the marks and data points it must have: bars of 2 runs x 2 phases, shares of
  // the 6 stage groups x 2 runs, a line of 2 points against batch and against context.
  static const struct {
    const char *id;
    int points;
  } kCharts[] = {{"j-per-token", 4}, {"tokens-per-j", 4}, {"j-per-bparam", 4},
                 {"group-shares", 12}, {"vs-batch", 2},   {"vs-context", 2}};
  json_t *charts = json_object_get(s, "charts");
  for (size_t i = 0; i < sizeof kCharts / sizeof kCharts[0]; i++) {
    json_t *c = json_object_get(charts, kCharts[i].id);
    if (!c) fail_msg("chart %s was not drawn: %s", kCharts[i].id, st);
    if (json_integer_value(json_object_get(c, "marks")) < 4) fail_msg("chart %s drew no marks: %s", kCharts[i].id, st);
    if (json_integer_value(json_object_get(c, "points")) != kCharts[i].points)
      fail_msg("chart %s has %lld points, not %d: %s", kCharts[i].id,
               (long long)json_integer_value(json_object_get(c, "points")), kCharts[i].points, st);
  }
  assert_int_equal(json_object_size(json_object_get(s, "skipped")), 0);
  json_decref(s);
  free(st);
  free(after);

  const char *shots = getenv("LLAMAJOULE_SCREENSHOT_DIR"), *bin = getenv("LLAMAJOULE_BIN");
  char dir[512];
  if (shots && *shots) snprintf(dir, sizeof dir, "%s", shots);
  else if (bin && strrchr(bin, '/')) snprintf(dir, sizeof dir, "%.*s/report-screenshots", (int)(strrchr(bin, '/') - bin), bin);
  else snprintf(dir, sizeof dir, "%s/screenshots", g_dir);
  mkdir(dir, 0755);
  snprintf(cmd, sizeof cmd, "%s --window-size=1200,2500 --screenshot='%s/compare.png' 'file://%s' >/dev/null 2>&1", chrome,
           dir, html_path);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_compare_html_XXXXXX");
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

// A study point without --stages runs no replay (trials 0): no stage estimates is by design, not a
// gap the page warns of. A profile with trials and no estimates is one (it was warned of on every
// point of a study's page).
static void test_missing_stages_only_when_planned(void **state) {
  (void)state;
  static lj_report_run r;
  memset(&r, 0, sizeof r);
  r.run.status = LJ_RUN_COMPLETE, r.prof.complete = 1, r.trace.n_samples = 10;
  r.prof.phases[LJ_PHASE_PREFILL].n = 3, r.prof.phases[LJ_PHASE_DECODE].n = 3;
  char buf[256];
  lj_report_missing(&r, buf, sizeof buf);
  assert_string_equal(buf, "");
  r.prof.plan.trials = 3;
  lj_report_missing(&r, buf, sizeof buf);
  assert_string_equal(buf, "no stage estimates");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_compare_page),
                                     cmocka_unit_test(test_missing_stages_only_when_planned)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
