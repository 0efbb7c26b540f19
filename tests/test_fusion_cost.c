// The kernel boundaries' cost per token (report/fusion_cost.h): which pairs of profiles form one,
// and the arithmetic of the difference and its interval, against hand-computed values.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
// cmocka after the standard headers
#include <cmocka.h>

#include "common/error.h"
#include "common/stats.h"
#include "profile/budget.h"
#include "report/fusion_cost.h"
#include "store/store.h"
#include "store_round_trip.h"
#include "render_profile.h"

// A profile with only a decode phase: windows j per unit (gen tokens per unit).
static void make(lj_profile_result *r, const char *fusion, const double *j, int n, int64_t tokens) {
  lj_profile_result_init(r);
  snprintf(r->plan.model_name, sizeof r->plan.model_name, "llama-3.2-1b");
  snprintf(r->plan.engine, sizeof r->plan.engine, "cuda");
  snprintf(r->plan.weights, sizeof r->plan.weights, "bf16");
  snprintf(r->plan.fusion, sizeof r->plan.fusion, "%s", fusion);
  snprintf(r->cond.device.name, sizeof r->cond.device.name, "NVIDIA H100 80GB HBM3");
  r->plan.batch = 1, r->plan.prompt_len = 128, r->plan.gen_len = 128, r->plan.level = 0.95;
  lj_phase_summary *d = &r->phases[LJ_PHASE_DECODE];
  d->n = n, d->tokens_per_unit = tokens;
  assert_int_equal(lj_stats_mean_ci(j, (size_t)n, 0.95, &d->dynamic_j), 0);
  double gross[8];
  for (int i = 0; i < n; i++) gross[i] = j[i] + 10.0;  // 10 J of idle per unit in both
  assert_int_equal(lj_stats_mean_ci(gross, (size_t)n, 0.95, &d->gross_j), 0);
}

static void test_pair(void **state) {
  (void)state;
  const double j[3] = {30, 31, 32};
  lj_profile_result a, b;
  const lj_profile_result *u = NULL, *f = NULL;
  make(&a, "production", j, 3, 128);
  make(&b, "none", j, 3, 128);
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 1);
  assert_ptr_equal(u, &b);
  assert_ptr_equal(f, &a);
  snprintf(b.plan.fusion, sizeof b.plan.fusion, "%s", "");  // a store from before --fusion: none
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 1);
  snprintf(b.plan.fusion, sizeof b.plan.fusion, "production");  // same mode: no pair
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  snprintf(b.plan.fusion, sizeof b.plan.fusion, "none");
  b.plan.batch = 8;  // another shape
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  b.plan.batch = 1;
  snprintf(b.cond.device.name, sizeof b.cond.device.name, "NVIDIA H200");  // another card
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  snprintf(b.cond.device.name, sizeof b.cond.device.name, "%s", a.cond.device.name);
  snprintf(b.plan.gemv, sizeof b.plan.gemv, "r4u2");  // another GEMV setting: its cost is not the boundaries'
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  snprintf(a.plan.gemv, sizeof a.plan.gemv, "r4u2");  // the same setting on both: a pair
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 1);
  snprintf(a.plan.gemv, sizeof a.plan.gemv, "defaults");  // "" (a store before schema 21) is the defaults
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 0);
  b.plan.gemv[0] = '\0';
  assert_int_equal(lj_fusion_cost_pair(&a, &b, &u, &f), 1);
  lj_profile_result_free(&a);
  lj_profile_result_free(&b);
}

static void test_arithmetic(void **state) {
  (void)state;
  // Unfused 30, 31, 32 J per 128 tokens; fused 28, 28.5, 29 J: difference 2.5 J / 128 tokens.
  const double ju[3] = {30, 31, 32}, jf[3] = {28, 28.5, 29};
  lj_profile_result u, f;
  make(&u, "none", ju, 3, 128);
  make(&f, "production", jf, 3, 128);
  lj_fusion_cost c;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), 0);
  assert_float_equal(c.dynamic_j.estimate, 2.5 / 128, 1e-12);
  assert_float_equal(c.gross_j.estimate, 2.5 / 128, 1e-12);  // the same idle cancels
  // se: sqrt(1/3 + 0.25/3) / 128 (sd 1 and 0.5 over 3 windows each)
  double se = sqrt(1.0 / 3 + 0.25 / 3) / 128;
  assert_float_equal(c.dynamic_j.se, se, 1e-12);
  // Welch df: (1/3 + 1/12)^2 / ((1/3)^2/2 + (1/12)^2/2) = 2.9412
  double va = 1.0 / 3, vb = 0.25 / 3, df = (va + vb) * (va + vb) / (va * va / 2 + vb * vb / 2);
  assert_float_equal(c.dynamic_j.df, df, 1e-9);
  double h = lj_student_t_quantile(0.975, df) * se;
  assert_float_equal(c.dynamic_j.lo, 2.5 / 128 - h, 1e-12);
  assert_float_equal(c.dynamic_j.hi, 2.5 / 128 + h, 1e-12);
  assert_true(c.dynamic_j.lo > 0);  // a saving this clear is resolved at 3 windows each
  // No stage estimates in either run: no group figure (not a zero).
  for (int g = 0; g < LJ_GROUP_COUNT; g++) assert_true(isnan(c.group_dynamic_j[g].estimate));
  // Different tokens per unit are divided out before the difference.
  f.phases[LJ_PHASE_DECODE].tokens_per_unit = 64;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), 0);
  assert_float_equal(c.dynamic_j.estimate, 31.0 / 128 - 28.5 / 64, 1e-12);
  // Decode phases by different sources (up to 2% apart, the boundaries ~0.1%): refused, named.
  f.phases[LJ_PHASE_DECODE].window_flags |= LJ_WINDOW_SAMPLE_ENERGY;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "unfused: energy counter, fused: power samples"));
  lj_clear_error();
  f.phases[LJ_PHASE_DECODE].window_flags = u.phases[LJ_PHASE_DECODE].window_flags;
  // A run without its decode phase is named.
  f.phases[LJ_PHASE_DECODE].n = 0;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "fused (fusion production)"));
  lj_clear_error();
  lj_profile_result_free(&u);
  lj_profile_result_free(&f);
}

// A decode isolation estimate of `st`: per-call dynamic energies j * (1, 1.1, 0.9) (mean j, sd 0.1 j),
// `calls` per unit.
static void add_stage(lj_profile_result *r, lj_stage st, double j, double calls) {
  lj_profile_stage s;
  memset(&s, 0, sizeof s);
  s.method = LJ_METHOD_ISOLATION;
  s.est.key.phase = LJ_PHASE_DECODE, s.est.key.stage = st, s.est.key.layer = -1, s.est.key.kv_len = 128;
  const double x[3] = {j, 1.1 * j, 0.9 * j};
  assert_int_equal(lj_stats_mean_ci(x, 3, 0.95, &s.est.dynamic_j), 0);
  assert_int_equal(lj_stats_mean_ci(x, 3, 0.95, &s.est.gross_j), 0);
  s.est.counter_dynamic_j = s.est.dynamic_j, s.est.counter_gross_j = s.est.gross_j;
  s.calls_per_unit = calls, s.share_dynamic = s.share_gross = NAN;
  assert_int_equal(lj_profile_add_stage(r, &s), 0);
}

// Per-call dynamic mJ of a 16-layer decode (127 graph steps: 2032 layer calls per unit of 128 tokens).
#define LAYER_CALLS 2032.0
enum { N_UNFUSED = 12, N_FUSED = 9 };
static const struct { lj_stage st; double mj, calls; } unfused_stages[N_UNFUSED] = {
    {LJ_STAGE_ATTN_NORM, 0.010, LAYER_CALLS}, {LJ_STAGE_QKV, 0.080, LAYER_CALLS}, {LJ_STAGE_ROPE, 0.008, LAYER_CALLS},
    {LJ_STAGE_ATTN, 0.020, LAYER_CALLS},      {LJ_STAGE_O_PROJ, 0.050, LAYER_CALLS}, {LJ_STAGE_FFN_NORM, 0.010, LAYER_CALLS},
    {LJ_STAGE_GATE_UP, 0.300, LAYER_CALLS},   {LJ_STAGE_SWIGLU, 0.012, LAYER_CALLS}, {LJ_STAGE_DOWN, 0.150, LAYER_CALLS},
    {LJ_STAGE_FINAL_NORM, 0.010, 127},        {LJ_STAGE_LM_HEAD, 1.000, 127},        {LJ_STAGE_SAMPLE, 0.050, 128}};
// The fused mode's table: the composites and the stages that stay unfused.
static const struct { lj_stage st; double mj, calls; } fused_stages[N_FUSED] = {
    {LJ_STAGE_ATTN_NORM_QKV, 0.085, LAYER_CALLS}, {LJ_STAGE_ROPE, 0.008, LAYER_CALLS},
    {LJ_STAGE_ATTN, 0.020, LAYER_CALLS},          {LJ_STAGE_O_PROJ, 0.050, LAYER_CALLS},
    {LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU, 0.310, LAYER_CALLS}, {LJ_STAGE_DOWN, 0.150, LAYER_CALLS},
    {LJ_STAGE_FINAL_NORM, 0.010, 127},            {LJ_STAGE_LM_HEAD, 1.000, 127},
    {LJ_STAGE_SAMPLE, 0.050, 128}};

static void make_staged(lj_profile_result *u, lj_profile_result *f) {
  const double ju[3] = {30, 31, 32}, jf[3] = {28, 28.5, 29};
  make(u, "none", ju, 3, 128);
  make(f, "production", jf, 3, 128);
  for (int i = 0; i < N_UNFUSED; i++) add_stage(u, unfused_stages[i].st, unfused_stages[i].mj * 1e-3, unfused_stages[i].calls);
  for (int i = 0; i < N_FUSED; i++) add_stage(f, fused_stages[i].st, fused_stages[i].mj * 1e-3, fused_stages[i].calls);
}

// Expected group difference per token: (sum of the unfused stages' calls x mJ - the fused ones') / 128,
// each layer norm with the group its composite folds it into.
static void check_groups(const lj_fusion_cost *c) {
  // attention+attn_norm: (0.010 + 0.080) vs 0.085 (rope, attn, o_proj equal): 0.005 mJ x 2032
  assert_float_equal(c->group_dynamic_j[LJ_GROUP_ATTENTION].estimate, 0.005e-3 * LAYER_CALLS / 128, 1e-12);
  // mlp+ffn_norm: (0.010 + 0.300 + 0.012) vs 0.310: 0.012 mJ x 2032
  assert_float_equal(c->group_dynamic_j[LJ_GROUP_MLP].estimate, 0.012e-3 * LAYER_CALLS / 128, 1e-12);
  // the final norm, LM head and sampling run alike: 0 with an interval around it
  const lj_stage_group same[] = {LJ_GROUP_NORMS, LJ_GROUP_LM_HEAD, LJ_GROUP_SAMPLE};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    const lj_interval *v = &c->group_dynamic_j[same[i]];
    assert_float_equal(v->estimate, 0, 1e-15);
    assert_true(v->lo < 0 && v->hi > 0);
  }
  assert_true(isnan(c->group_dynamic_j[LJ_GROUP_EMBED].estimate));  // neither run has it
  // the se of a group: the two runs' linear combinations in quadrature (sd 0.1 j over 3 trials each)
  double su = 0, sf = 0;
  for (int i = 0; i < N_UNFUSED; i++)
    if (lj_stage_group_of(unfused_stages[i].st) == LJ_GROUP_MLP || unfused_stages[i].st == LJ_STAGE_FFN_NORM)
      su += pow(unfused_stages[i].calls * 0.1 * unfused_stages[i].mj * 1e-3 / sqrt(3.0), 2);
  for (int i = 0; i < N_FUSED; i++)
    if (lj_stage_group_of(fused_stages[i].st) == LJ_GROUP_MLP)
      sf += pow(fused_stages[i].calls * 0.1 * fused_stages[i].mj * 1e-3 / sqrt(3.0), 2);
  assert_float_equal(c->group_dynamic_j[LJ_GROUP_MLP].se, sqrt(su + sf) / 128, 1e-12);
}

static void test_groups(void **state) {
  (void)state;
  lj_profile_result u, f;
  make_staged(&u, &f);
  // the report's groups: the composites go with their heavy part
  assert_int_equal(lj_stage_group_of(LJ_STAGE_ATTN_NORM_QKV), LJ_GROUP_ATTENTION);
  assert_int_equal(lj_stage_group_of(LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU), LJ_GROUP_MLP);
  assert_int_equal(lj_stage_group_of(LJ_STAGE_ROPE_ATTN), LJ_GROUP_ATTENTION);
  lj_fusion_cost c;
  assert_int_equal(lj_fusion_cost_compute(&u, &f, &c), 0);
  check_groups(&c);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  lj_fusion_cost_print(m, &u, &c);
  fclose(m);
  assert_non_null(strstr(buf, "per stage group, by isolation"));
  assert_non_null(strstr(buf, "  attention+attn_norm 7.938e-05 J/token above idle ["));  // 0.005e-3 x 2032 / 128
  assert_non_null(strstr(buf, "  mlp+ffn_norm        0.0001905 J/token above idle ["));  // 0.012e-3 x 2032 / 128
  assert_null(strstr(buf, "not measured"));
  free(buf);
  lj_profile_result_free(&u);
  lj_profile_result_free(&f);
}

// The fused run's composite stages and "no one stage" (a whole-layer trial, a phase budget) through
// the store: they come back as they went, the reports name them, and the comparison of the stored
// runs gives the same figures.
static void test_through_store(void **state) {
  (void)state;
  lj_profile_result u, f, gu, gf;
  make_staged(&u, &f);
  lj_profile_trial t;
  memset(&t, 0, sizeof t);
  t.method = LJ_METHOD_LOO, t.key.phase = LJ_PHASE_DECODE, t.key.stage = LJ_STAGE_NONE, t.key.layer = -1;
  t.t.calls = 10, t.t.duration_s = 0.2, t.t.counter_energy_j = 30, t.t.sample_energy_j = 29.5, t.t.idle_w = 100;
  t.t.temperature_c = NAN;
  assert_int_equal(lj_profile_add_trial(&f, &t), 0);
  t.method = LJ_METHOD_ISOLATION, t.key.stage = LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU;
  assert_int_equal(lj_profile_add_trial(&f, &t), 0);
  lj_budget b;
  lj_budget_init(&b, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  b.value_j = 28.5, b.reference_j = 28.5, b.trial_j = 0.5, b.total_j = 0.5;
  assert_int_equal(lj_profile_add_budget(&f, &b), 0);
  // the in-situ timeline of the fused decode: a composite row beside the unfused ones
  f.timeline_valid = 1, f.timeline.idle_w = 100;
  f.timeline.phase[LJ_PHASE_DECODE].n_intervals = 3 * 2032;
  f.timeline.phase[LJ_PHASE_DECODE].span_s = 1.0, f.timeline.phase[LJ_PHASE_DECODE].energy_j = 300;
  f.timeline.phase[LJ_PHASE_DECODE].dynamic_j = 200;
  const lj_timeline_stage tl = {2032, 0.25, 80, 60, 80.0 / 300, 60.0 / 200};
  f.timeline.stage[LJ_PHASE_DECODE][LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU] = tl;
  f.timeline.stage[LJ_PHASE_DECODE][LJ_STAGE_DOWN] = tl;
  char dir[] = "/tmp/lj_fusion_cost_XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/f.db", dir);
  lj_store_close(store_round_trip(path, &f, &gf));
  snprintf(path, sizeof path, "%s/u.db", dir);
  lj_store_close(store_round_trip(path, &u, &gu));
  assert_int_equal(gf.n_stages, N_FUSED);
  for (int i = 0; i < N_FUSED; i++) assert_int_equal(gf.stages[i].est.key.stage, fused_stages[i].st);
  assert_int_equal(gf.n_trials, 2);
  assert_int_equal(gf.trials[0].key.stage, LJ_STAGE_NONE);
  assert_int_equal(gf.trials[1].key.stage, LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU);
  assert_true(gf.timeline_valid);
  assert_int_equal(gf.timeline.stage[LJ_PHASE_DECODE][LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU].calls, 2032);
  assert_float_equal(gf.timeline.stage[LJ_PHASE_DECODE][LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU].dynamic_j, 60, 1e-12);
  assert_int_equal(gf.timeline.stage[LJ_PHASE_DECODE][LJ_STAGE_FFN_NORM].calls, 0);
  const lj_budget *rb = lj_profile_budget_of(&gf, "phase", LJ_PHASE_DECODE, LJ_METHOD_ISOLATION, LJ_STAGE_NONE);
  assert_non_null(rb);
  assert_int_equal(rb->stage, LJ_STAGE_NONE);
  lj_fusion_cost c;
  assert_int_equal(lj_fusion_cost_compute(&gu, &gf, &c), 0);
  check_groups(&c);
  char *json = render(&gf, 1), *text = render(&gf, 0);
  assert_non_null(strstr(json, "\"attn_norm+qkv\""));
  assert_non_null(strstr(json, "\"ffn_norm+gate_up+swiglu\""));
  assert_non_null(strstr(json, "\"stage\": \"none\""));  // the whole-layer trial
  assert_non_null(strstr(text, "ffn_norm+gate_up+swiglu"));
  // the timeline's table in the text has the composite row (calls 2032), its calls column under
  // the header's however long the composite's name
  const char *hdr = strstr(text, "\n  stage "), *row = strstr(text, "\n  ffn_norm+gate_up+swiglu ");
  assert_non_null(hdr);
  assert_non_null(row);
  const char *calls = strstr(hdr, "calls"), *n2032 = strstr(row, " 2032");
  assert_non_null(calls);
  assert_non_null(n2032);
  assert_int_equal((calls + 5) - hdr, (n2032 + 5) - row);
  free(json), free(text);
  snprintf(path, sizeof path, "%s/f.db", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/u.db", dir);
  unlink(path);
  rmdir(dir);
  lj_profile_result_free(&u), lj_profile_result_free(&f), lj_profile_result_free(&gu), lj_profile_result_free(&gf);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_pair), cmocka_unit_test(test_arithmetic),
                                     cmocka_unit_test(test_groups), cmocka_unit_test(test_through_store)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
