// `llamajoule sweep` without a GPU: the lists and points of the command line,
// --stages, the options of a point, the memory-plan check that skips a point
// that does not fit (70B on an 80 GB card, by a given free-memory figure), the
// time estimate, and the study in the store: made, resumed with each point's
// status, refused under other arguments, and the in-place upgrade of a
// version-3 file.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/gemv_choice.h"
#include "engine/weight_format.h"

#include "common/error.h"
#include "profile/profile_analyze.h"
#include "profile/profile_plan.h"
#include "profile/sweep.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "store/store_study.h"

static char g_dir[256];

static int setup_dir(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/lj_test_sweep_XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  lj_set_quiet(1);  // the upgrade's info line
  return 0;
}

static int teardown_dir(void **state) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd);
}

static void test_lists(void **state) {
  int v[LJ_SWEEP_MAX_VALUES], n = 0;
  assert_int_equal(lj_sweep_parse_ints("--batch", "1,4,16,64,256", 1, 1024, v, LJ_SWEEP_MAX_VALUES, &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(v[0], 1);
  assert_int_equal(v[4], 256);
  assert_int_equal(lj_sweep_parse_ints("--batch", "4,4", 1, 1024, v, LJ_SWEEP_MAX_VALUES, &n), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "4 is listed twice"));
  assert_int_equal(lj_sweep_parse_ints("--batch", "1,,2", 1, 1024, v, LJ_SWEEP_MAX_VALUES, &n), LJ_EINVAL);
  assert_int_equal(lj_sweep_parse_ints("--batch", "0", 1, 1024, v, LJ_SWEEP_MAX_VALUES, &n), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "--batch '0'"));
  assert_int_equal(lj_sweep_parse_ints("--batch", "2,", 1, 1024, v, LJ_SWEEP_MAX_VALUES, &n), LJ_EINVAL);
  assert_int_equal(lj_sweep_parse_ints("--gen-len", "1x", 2, 100, v, LJ_SWEEP_MAX_VALUES, &n), LJ_EINVAL);
  char names[4][512];
  assert_int_equal(lj_sweep_parse_names("--models", "llama-3.2-1b,tiny", names, 4, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(names[1], "tiny");
  assert_int_equal(lj_sweep_parse_names("--models", "tiny,,x", names, 4, &n), LJ_EINVAL);
  assert_int_equal(lj_sweep_parse_names("--models", "tiny,tiny", names, 4, &n), LJ_EINVAL);
  assert_int_equal(lj_sweep_parse_names("--models", "a,b,c,d,e", names, 4, &n), LJ_EINVAL);
}

// The study: 3 models x 5 batches x 2 prompt lengths.
static void make_points(lj_study_point **p, size_t *n) {
  char models[3][512] = {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b"};
  int batches[] = {1, 4, 16, 64, 256}, prompts[] = {128, 2048}, gens[] = {128};
  assert_int_equal(lj_sweep_points_make(models, 3, batches, 5, prompts, 2, gens, 1, p, n), 0);
}

static void test_points_and_stages(void **state) {
  lj_study_point *p;
  size_t n;
  make_points(&p, &n);
  assert_int_equal(n, 30);
  // model, then prompt length, then batch
  assert_string_equal(p[0].model, "llama-3.2-1b");
  assert_int_equal(p[0].batch, 1);
  assert_int_equal(p[4].batch, 256);
  assert_int_equal(p[5].prompt_len, 2048);
  assert_int_equal(p[5].batch, 1);
  assert_string_equal(p[10].model, "llama-3.2-3b");
  assert_int_equal(p[29].gen_len, 128);
  assert_int_equal(p[29].status, LJ_POINT_PENDING);

  assert_int_equal(lj_sweep_parse_stages("all", p, n), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(p[i].stages, 1);
  assert_int_equal(lj_sweep_parse_stages("none", p, n), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(p[i].stages, 0);
  assert_int_equal(lj_sweep_parse_stages("llama-3.2-1b:1:128,llama-3.1-8b:64:2048:128", p, n), 0);
  int with = 0;
  for (size_t i = 0; i < n; i++) with += p[i].stages;
  assert_int_equal(with, 2);
  assert_int_equal(p[0].stages, 1);
  assert_int_equal(p[28].stages, 1);  // 8B, prompt 2048, batch 64
  assert_int_equal(p[28].batch, 64);
  assert_int_equal(lj_sweep_parse_stages("llama-3.2-1b:2:128", p, n), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "'llama-3.2-1b:2:128' is not a point of the study"));
  assert_int_equal(lj_sweep_parse_stages("llama-3.2-1b:1:128:64", p, n), LJ_EINVAL);
  assert_int_equal(lj_sweep_parse_stages("llama-3.2-1b", p, n), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "MODEL:BATCH:PROMPT[:GEN]"));
  assert_int_equal(lj_sweep_parse_stages(":1:128", p, n), LJ_EINVAL);
  // A checkpoint directory with a colon in its name: the numbers are taken from the right.
  strcpy(p[0].model, "ckpt:v2");
  assert_int_equal(lj_sweep_parse_stages("ckpt:v2:1:128", p, n), 0);
  assert_int_equal(p[0].stages, 1);
  free(p);
}

static void test_point_options(void **state) {
  lj_sweep_settings s;
  lj_sweep_settings_default(&s);
  lj_study_point p;
  memset(&p, 0, sizeof p);
  strcpy(p.model, "llama-3.2-3b");
  p.batch = 16, p.prompt_len = 2048, p.gen_len = 128;
  lj_profile_options o;
  lj_sweep_point_options(&s, &p, &o);
  assert_string_equal(o.model, "llama-3.2-3b");
  assert_int_equal(o.batch, 16);
  assert_int_equal(o.prompt_len, 2048);
  assert_int_equal(o.repeats, 3);
  assert_true(o.phase_seconds == 2.0 && o.idle_seconds == 2.0);
  assert_int_equal(o.trials, 0);
  assert_int_equal(o.timeline + o.sequence + o.ablation + o.head_fit + o.overhead, 0);
  assert_int_equal(o.n_decode_kv, 1);
  assert_int_equal(o.gemv, LJ_GEMV_CHOICE_DEFAULTS);
  assert_int_equal(lj_gemv_choice_parse("r4u2", &s.gemv), 0);  // --gemv-config reaches every point
  p.stages = 1;
  lj_sweep_point_options(&s, &p, &o);
  assert_string_equal(lj_gemv_choice_name(o.gemv), "r4u2");
  assert_int_equal(o.trials, 8);  // the profile's default
  assert_int_equal(o.timeline, 1);
  assert_int_equal(o.sequence, 1);
  assert_int_equal(o.n_decode_kv, 3);
  assert_int_equal(o.ablation + o.head_fit + o.overhead, 0);
}

#define GIB (1ll << 30)

// 70B in bf16 does not fit an 80 GB card, and fits one H200; the reason has the numbers.
static void test_fit(void **state) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.3-70b", &c), 0);
  lj_study_point p;
  memset(&p, 0, sizeof p);
  p.batch = 1, p.prompt_len = 128, p.gen_len = 128;
  char reason[512];
  int64_t h100_free = 79 * GIB, h200_free = 139 * GIB;
  assert_int_equal(lj_sweep_point_fits(&c, LJ_WEIGHTS_BF16, &p, h100_free, reason, sizeof reason), 0);
  assert_non_null(strstr(reason, "does not fit the GPU: llama-3.3-70b at batch 1, prompt 128, gen 128 needs 132."));
  assert_non_null(strstr(reason, "(weights 131.4"));
  assert_non_null(strstr(reason, "79.00 GiB free; not even batch 1 fits"));
  assert_int_equal(lj_sweep_point_fits(&c, LJ_WEIGHTS_BF16, &p, h200_free, reason, sizeof reason), 1);
  assert_string_equal(reason, "");
  // With FP8 linear layers 70B fits the H100 (tests/test_cuda_memory_plan.c has the numbers).
  assert_int_equal(lj_sweep_point_fits(&c, LJ_WEIGHTS_FP8, &p, h100_free, reason, sizeof reason), 1);
  // 8B at batch 256 and 2048-token prompts: the KV cache and activations do not fit; a smaller batch does.
  assert_int_equal(lj_config_preset("llama-3.1-8b", &c), 0);
  p.batch = 256, p.prompt_len = 2048;
  assert_int_equal(lj_sweep_point_fits(&c, LJ_WEIGHTS_BF16, &p, h100_free, reason, sizeof reason), 0);
  assert_non_null(strstr(reason, "llama-3.1-8b at batch 256, prompt 2048, gen 128 needs 147.93 GiB"));
  assert_non_null(strstr(reason, "79.00 GiB free; the largest batch that fits is 122"));
  p.batch = 16;
  assert_int_equal(lj_sweep_point_fits(&c, LJ_WEIGHTS_BF16, &p, h100_free, reason, sizeof reason), 1);
  assert_string_equal(lj_error_message(), "");  // the plan's message does not linger
}

static void test_estimate(void **state) {
  lj_sweep_settings s;
  lj_sweep_settings_default(&s);
  lj_study_point p;
  memset(&p, 0, sizeof p);
  strcpy(p.model, "llama-3.2-1b");
  p.batch = 1, p.prompt_len = 128, p.gen_len = 128;
  lj_profile_options o;
  lj_sweep_point_options(&s, &p, &o);
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &c), 0);
  // idle 2 + load 2.3 (1B: 0.32 s a load, 7 would be needed, 5 at most: 1.6 s) + warm-up
  // + 3 x (tokenize 2 + 0.2 + prefill 2 + 0.2 + decode 2 + detokenize 2) + replay setup + 3.
  double gpu = lj_sweep_estimate_s(&c, &o, 1, 1);
  assert_true(gpu > 32 && gpu < 40);
  double no_tok = lj_sweep_estimate_s(&c, &o, 1, 0);
  assert_true(fabs(gpu - no_tok - 3 * 2 * 2.0) < 1e-9);  // 3 x (tokenize + detokenize)
  p.stages = 1;
  lj_sweep_point_options(&s, &p, &o);
  double stages = lj_sweep_estimate_s(&c, &o, 1, 1);
  assert_true(stages > gpu + 210 && stages < gpu + 240);  // 29 estimates x 8 x 0.6 s + 18 prefixes x 8 x 0.55 s (0.2 s pre-roll: 260)
  // 8B, batch 64, prompt 2048: one prefill (131072 tokens) outlasts the 2 s window.
  assert_int_equal(lj_config_preset("llama-3.1-8b", &c), 0);
  p.stages = 0, p.batch = 64, p.prompt_len = 2048;
  lj_sweep_point_options(&s, &p, &o);
  double big = lj_sweep_estimate_s(&c, &o, 1, 1);
  assert_true(big > gpu + 3 * (2 * 8.03e9 * 131072 / 400e12 - 2));
}

static void test_calibration_and_budget(void **state) {
  lj_study_point p[3];
  memset(p, 0, sizeof p);
  for (int i = 0; i < 3; i++) p[i].seconds = p[i].estimate_s = NAN;
  assert_true(lj_sweep_calibration(p, 3) == 1.0);
  p[0].status = LJ_POINT_DONE, p[0].seconds = 30, p[0].estimate_s = 20;
  p[1].status = LJ_POINT_DONE, p[1].seconds = 15, p[1].estimate_s = 10;
  p[2].status = LJ_POINT_INCOMPLETE, p[2].seconds = 1, p[2].estimate_s = 100;  // cut short: not counted
  assert_true(fabs(lj_sweep_calibration(p, 3) - 1.5) < 1e-12);
  assert_true(lj_sweep_budget_allows(100, 50, 0));  // no budget
  assert_true(lj_sweep_budget_allows(100, 50, 150));
  assert_false(lj_sweep_budget_allows(100, 50.5, 150));
}

// A GPU point as the sweep stores it: phase windows with energies and no replay
// trial. The analysis gives J/token per phase and no stage estimate or closure,
// and the store takes it (the GPU runner's path, without a GPU).
static void test_phase_windows_only_analysis(void **state) {
  lj_sweep_settings s;
  lj_sweep_settings_default(&s);
  lj_study_point p;
  memset(&p, 0, sizeof p);
  strcpy(p.model, "llama-3.2-1b");
  p.batch = 4, p.prompt_len = 128, p.gen_len = 128;
  lj_profile_options o;
  lj_sweep_point_options(&s, &p, &o);
  lj_profile_result r;
  lj_profile_result_init(&r);
  const char *ckpt = NULL;
  assert_int_equal(lj_profile_plan_make(&o, &r.plan, &ckpt), 0);
  snprintf(r.plan.engine, sizeof r.plan.engine, "cuda");
  for (int rep = 0; rep < 3; rep++)
    for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
      lj_phase_window w;
      memset(&w, 0, sizeof w);
      w.phase = (lj_phase)ph, w.repeat = rep, w.units = ph == LJ_PHASE_PREFILL ? 100 : 10;
      w.tokens_per_unit = ph == LJ_PHASE_PREFILL ? 4 * 128 : 4 * 128;
      w.host_s = w.w.duration_s = 2.0;
      w.w.counter_energy_j = 600 + rep, w.w.counter_above_idle_j = 460 + rep;  // 300 W, 70 W idle
      w.w.flags = LJ_WINDOW_NO_SAMPLES;
      int warned = 0;
      assert_int_equal(lj_profile_keep_window(&o, &r, &w, &warned), 0);
    }
  lj_profile_raw raw;
  memset(&raw, 0, sizeof raw);
  assert_int_equal(lj_profile_analyze(&r, &raw, NULL, 0, 0), 0);
  assert_int_equal(r.n_stages, 0);
  assert_int_equal(r.closure[LJ_PHASE_DECODE].n_terms, 0);
  assert_int_equal(r.phases[LJ_PHASE_DECODE].n, 3);
  // decode: 461 J above idle per window / 10 units / 512 tokens
  assert_true(fabs(r.phases[LJ_PHASE_DECODE].dynamic_j_per_token - 461.0 / 10 / 512) < 1e-9);
  assert_true(fabs(r.phases[LJ_PHASE_PREFILL].dynamic_j_per_token - 461.0 / 100 / 512) < 1e-9);
  char path[300];
  snprintf(path, sizeof path, "%s/point.db", g_dir);
  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule sweep", .source = "nvml"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  r.complete = 1;
  assert_int_equal(lj_store_add_profile(st, run, &r), 0);
  lj_store_close(st);
  lj_profile_result_free(&r);
}

static int64_t new_run(lj_store *st) {
  lj_run_info info = {.kind = "profile", .command_line = "llamajoule sweep", .source = "none"};
  int64_t run = 0;
  assert_int_equal(lj_store_begin_run(st, &info, &run), 0);
  return run;
}

static void begin(lj_store *st, lj_study *s, const char *arguments, lj_study_point *p, size_t n, int *resumed) {
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "a study");
  snprintf(s->arguments, sizeof s->arguments, "%s", arguments);
  snprintf(s->engine, sizeof s->engine, "cpu");
  snprintf(s->command_line, sizeof s->command_line, "llamajoule sweep ...");
  assert_int_equal(lj_store_study_begin(st, s, p, n, resumed), 0);
}

// Made, resumed with each point as it was left, refused under other arguments.
static void test_study_resume(void **state) {
  char path[300];
  snprintf(path, sizeof path, "%s/study.db", g_dir);
  lj_sweep_settings set;
  lj_sweep_settings_default(&set);
  char models[1][512] = {"tiny"};
  int batches[] = {1, 2}, prompts[] = {16, 32}, gens[] = {6};
  lj_study_point *p;
  size_t n;
  assert_int_equal(lj_sweep_points_make(models, 1, batches, 2, prompts, 2, gens, 1, &p, &n), 0);
  assert_int_equal(n, 4);
  char args[4096];
  lj_sweep_arguments(&set, p, n, args, sizeof args);
  assert_string_equal(args, "engine=cuda models=tiny batch=1,2 prompt_len=16,32 gen_len=6 stages=none repeats=3 "
                            "phase_seconds=2 idle_seconds=2 seed=0");
  // FP8 is spelled out, and per-tensor scales after it; per row (the default) adds nothing.
  char fp8[4096];
  lj_sweep_settings f = set;
  f.weights = LJ_WEIGHTS_FP8, f.fp8_scale = LJ_FP8_SCALE_ROW;
  lj_sweep_arguments(&f, p, n, fp8, sizeof fp8);
  assert_non_null(strstr(fp8, "seed=0 weights=fp8"));
  assert_null(strstr(fp8, "fp8_scale"));
  f.fp8_scale = LJ_FP8_SCALE_TENSOR;
  lj_sweep_arguments(&f, p, n, fp8, sizeof fp8);
  assert_non_null(strstr(fp8, "seed=0 weights=fp8 fp8_scale=tensor"));
  // A GEMV setting other than the defaults is part of the identity; the defaults add nothing.
  f = set;
  assert_int_equal(lj_gemv_choice_parse("r4u2", &f.gemv), 0);
  lj_sweep_arguments(&f, p, n, fp8, sizeof fp8);
  assert_non_null(strstr(fp8, "seed=0 gemv=r4u2"));
  f.gemv = LJ_GEMV_CHOICE_DEFAULTS;
  lj_sweep_arguments(&f, p, n, fp8, sizeof fp8);
  assert_string_equal(fp8, args);

  lj_store *st = NULL;
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_study s;
  int resumed = -1;
  begin(st, &s, args, p, n, &resumed);
  assert_int_equal(resumed, 0);
  assert_true(s.id > 0);
  // Point 0 done, 1 cut short, 2 skipped; 3 never started.
  p[0].status = LJ_POINT_DONE, p[0].run_id = new_run(st), p[0].attempts = 1, p[0].seconds = 12.5, p[0].estimate_s = 10;
  p[1].status = LJ_POINT_INCOMPLETE, p[1].run_id = new_run(st), p[1].attempts = 1;
  p[2].status = LJ_POINT_SKIPPED;
  snprintf(p[2].reason, sizeof p[2].reason, "does not fit the GPU: 140 GiB needed");
  for (size_t i = 0; i < 3; i++) assert_int_equal(lj_store_study_set_point(st, s.id, i, &p[i]), 0);
  lj_store_close(st);

  // The same arguments: resumed, every point as it was left.
  lj_study_point *q;
  assert_int_equal(lj_sweep_points_make(models, 1, batches, 2, prompts, 2, gens, 1, &q, &n), 0);
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_study s2;
  begin(st, &s2, args, q, n, &resumed);
  assert_int_equal(resumed, 1);
  assert_int_equal(s2.id, s.id);
  assert_int_equal(q[0].status, LJ_POINT_DONE);
  assert_int_equal(q[0].run_id, p[0].run_id);
  assert_true(q[0].seconds == 12.5 && q[0].estimate_s == 10);
  assert_int_equal(q[1].status, LJ_POINT_INCOMPLETE);
  assert_int_equal(q[1].attempts, 1);
  assert_int_equal(q[2].status, LJ_POINT_SKIPPED);
  assert_string_equal(q[2].reason, "does not fit the GPU: 140 GiB needed");
  assert_int_equal(q[3].status, LJ_POINT_PENDING);
  assert_true(isnan(q[3].seconds));
  // Every point runs again but the done one (a skipped point is checked again).
  int pending[4];
  for (size_t i = 0; i < 4; i++) pending[i] = lj_sweep_point_pending(&q[i]);
  assert_int_equal(pending[0], 0);
  assert_int_equal(pending[1] + pending[2] + pending[3], 3);

  // Other arguments: refused, naming the file and both; nothing written.
  lj_study s3;
  memset(&s3, 0, sizeof s3);
  snprintf(s3.arguments, sizeof s3.arguments, "engine=cpu models=tiny batch=4");
  assert_int_equal(lj_store_study_begin(st, &s3, q, n, &resumed), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "holds study 'a study' of other arguments"));
  assert_non_null(strstr(lj_error_message(), path));
  lj_store_close(st);

  // Read back for the reports, from a strictly read-only handle.
  assert_int_equal(lj_store_open_untouched(path, &st), 0);
  lj_study r;
  lj_study_point *rp = NULL;
  size_t rn = 0;
  assert_int_equal(lj_store_study_read(st, &r, &rp, &rn), 1);
  assert_int_equal(rn, 4);
  assert_string_equal(r.name, "a study");
  assert_string_equal(r.arguments, args);
  assert_int_equal(rp[0].batch, 1);
  assert_int_equal(rp[1].batch, 2);
  assert_int_equal(rp[2].prompt_len, 32);
  assert_int_equal(rp[0].status, LJ_POINT_DONE);
  free(rp);
  lj_store_close(st);
  free(p);
  free(q);
}

static int64_t query_int(const char *path, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return v;
}

// A version-3 file gets the study tables in place; its rows stay; the schema is a fresh file's.
static void test_upgrade_from_v3(void **state) {
  char path[300], fresh[300];
  snprintf(path, sizeof path, "%s/v3.db", g_dir);
  snprintf(fresh, sizeof fresh, "%s/fresh.db", g_dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char sql[128];
  snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 3;", LJ_STORE_APPLICATION_ID);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, lj_store_schema_v1, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, lj_store_schema_v2, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, lj_store_schema_v3, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO meta VALUES ('application', 'llamajoule'), ('schema_version', '3');"
                                "INSERT INTO runs(id, kind, command_line, host, tool_version, started_wall_ns, status)"
                                " VALUES (5, 'profile', 'llamajoule profile', 'h', '0.1.0', 1, 'complete');",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  // Read only: as it is, no study.
  lj_store *st = NULL;
  assert_int_equal(lj_store_open_untouched(path, &st), 0);
  lj_study s;
  lj_study_point *p = NULL;
  size_t n = 9;
  assert_int_equal(lj_store_study_read(st, &s, &p, &n), 0);
  assert_int_equal(n, 0);
  lj_store_close(st);
  assert_int_equal(query_int(path, "PRAGMA user_version"), 3);
  // Opened for writing: upgraded.
  assert_int_equal(lj_store_open(path, &st), 0);
  lj_store_close(st);
  assert_int_equal(query_int(path, "PRAGMA user_version"), LJ_STORE_SCHEMA_VERSION);
  assert_int_equal(query_int(path, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'upgraded_from'"), 3);
  // Version 5: the plans' weight format, bf16 for runs stored before it.
  assert_int_equal(query_int(path, "SELECT count(*) FROM pragma_table_info('profile_plans') WHERE name = 'weights'"
                                   " AND dflt_value = '''bf16'''"), 1);
  assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('studies', 'study_points')"), 2);
  assert_int_equal(query_int(path, "SELECT count(*) FROM runs WHERE id = 5"), 1);
  assert_int_equal(lj_store_open(fresh, &st), 0);
  lj_store_close(st);
  // The same tables, columns and indexes as a fresh file.
  const char *schema = "SELECT group_concat(type || name || coalesce(sql, ''), '|') FROM"
                       " (SELECT * FROM sqlite_master ORDER BY type, name)";
  sqlite3 *a, *b;
  sqlite3_stmt *qa, *qb;
  assert_int_equal(sqlite3_open(path, &a), SQLITE_OK);
  assert_int_equal(sqlite3_open(fresh, &b), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(a, schema, -1, &qa, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(b, schema, -1, &qb, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(qa), SQLITE_ROW);
  assert_int_equal(sqlite3_step(qb), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(qa, 0), (const char *)sqlite3_column_text(qb, 0));
  sqlite3_finalize(qa);
  sqlite3_finalize(qb);
  sqlite3_close(a);
  sqlite3_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lists),          cmocka_unit_test(test_points_and_stages),
      cmocka_unit_test(test_point_options),  cmocka_unit_test(test_fit),
      cmocka_unit_test(test_estimate),       cmocka_unit_test(test_calibration_and_budget),
      cmocka_unit_test(test_study_resume),   cmocka_unit_test(test_upgrade_from_v3),
      cmocka_unit_test(test_phase_windows_only_analysis),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
