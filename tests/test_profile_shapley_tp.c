// The Shapley split at tensor-parallel degree 2 (analyze_shapley_tp.c, docs/tensor-parallel.md §4),
// on synthetic trials whose every number is chosen. Each GPU reads every trial of the ranks; GPU k
// plays its own layer game over the 11 stages of a rank's layer (the two all-reduce stages with
// the nine): stage i alone costs a_i (1 + k), pairs interact by b_ij, and GPU 1 has a third-order
// term c among three stages. The run's own trials are the two GPUs' sums. Then:
//   - the run's split (the sum) has all 11 stages and each GPU's split its own 11 Shapley values:
//     a_i (1 + k) + sum_j b_ij / 2 exactly; GPU 0's additive check passes, GPU 1's residual is c / 2
//     of its own layer and fails, though the sum's residual is smaller;
//   - every Shapley value of the sum is the sum of the GPUs' (the split is linear in the game);
//   - a rank's check is judged with its own uncertainty budget (its idle's sd, or its own idle curve).
// Tolerances: 1e-9 relative (the figures are exact up to float rounding).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/error.h"
#include "common/stats.h"
#include "profile/profile_analyze.h"
#include "profile/shapley.h"
#include "near.h"
#include "store/store.h"
#include "store/store_schema.h"
#include "old_store.h"
#include "store_round_trip.h"
#include "render_profile.h"
#include "report/report_derived.h"
#include "report/report_page.h"

enum { N = LJ_LAYER_STAGES_TP, R = 3, DEG = 2 };
static const double kIdle[DEG] = {60.0, 40.0};

static double a_of(int i, int k) { return 1e-3 * (1 + i) * (1 + k); }
static double b_of(int i, int j) {
  if (i > j) return b_of(j, i);
  return (i == 0 && j == 1) ? 4e-4 : (i == 3 && j == 6) ? -3e-4 : (i == 2 && j == 10) ? 2e-4 : 0;
}
// GPU k's v(S) for S = all stages but `out` (-1: all), plus c when the triple {4, 5, 7} is in S.
static double value(int k, int out, double c) {
  double v = 0;
  for (int i = 0; i < N; i++) {
    if (i == out) continue;
    v += a_of(i, k);
    for (int j = i + 1; j < N; j++)
      if (j != out) v += b_of(i, j);
  }
  if (out != 4 && out != 5 && out != 7) v += c;
  return v;
}
static double noise(int round) { return 1 + 0.001 * (round - 1); }
// GPU k's three-stage term, a fraction of its layer (GPU 1: 40%, a MISS; test_cancelling sets both).
static double g_third_frac[DEG] = {0, 0.4};
static double third(int k) { return g_third_frac[k] * value(k, -1, 0); }

static int index_of(lj_stage s) {
  for (int i = 0; i < N; i++)
    if (lj_layer_order_stage_tp(0, i, DEG) == s) return i;
  return -1;
}

// One trial of 1000 calls in a 1 s window: GPU k's per-call dynamic energy e[k] at its idle, the
// run's the sum at the summed idle.
static void add_trial(lj_profile_result *r, lj_profile_method m, lj_phase ph, lj_stage st, int variant, int trial,
                      const double *e) {
  lj_profile_trial t;
  memset(&t, 0, sizeof t);
  t.key.phase = ph, t.key.stage = st, t.key.layer = -1, t.key.kv_len = ph == LJ_PHASE_DECODE ? 4 : 0;
  t.trial = trial, t.method = m, t.variant = variant;
  t.t.calls = 1000, t.t.duration_s = 1.0, t.t.temperature_c = 40, t.t.sample_energy_j = NAN;
  double sum = 0, idle = 0;
  for (int k = 0; k < DEG; k++) {
    lj_profile_rank *rk = &r->ranks[k];
    lj_profile_trial x = t;
    x.t.idle_w = kIdle[k];
    x.t.counter_energy_j = 1000 * e[k] + kIdle[k];
    lj_profile_trial *grown = realloc(rk->trials, sizeof *grown * (rk->n_trials + 1));
    assert_non_null(grown);
    rk->trials = grown;
    rk->trials[rk->n_trials++] = x;
    sum += e[k], idle += kIdle[k];
  }
  t.t.idle_w = idle;
  t.t.counter_energy_j = 1000 * sum + idle;
  assert_int_equal(lj_profile_add_trial(r, &t), 0);
}

static void add_window(lj_profile_result *r, lj_phase ph, int repeat) {
  lj_phase_window w;
  memset(&w, 0, sizeof w);
  w.phase = ph, w.repeat = repeat, w.units = 100, w.tokens_per_unit = 4;
  w.w.duration_s = w.host_s = 0.1;
  w.w.counter_above_idle_j = 100 * 0.05;
  w.w.idle_power_w = kIdle[0] + kIdle[1];
  w.w.counter_energy_j = w.w.counter_above_idle_j + w.w.idle_power_w * w.w.duration_s;
  w.w.sample_energy_j = NAN;
  w.w.flags = LJ_WINDOW_NO_SAMPLES;
  assert_int_equal(lj_profile_add_window(r, &w), 0);
}

// Isolation of every stage a rank's forward call runs, the rounds of each GPU's game.
static void add_game(lj_profile_result *r, lj_phase ph) {
  int last = ph == LJ_PHASE_DECODE ? LJ_STAGE_SAMPLE : LJ_STAGE_LM_HEAD;
  double e[DEG];
  for (int s = LJ_STAGE_EMBED; s <= last; s++) {
    int i = index_of((lj_stage)s);
    for (int t = 0; t < R; t++) {
      for (int k = 0; k < DEG; k++) e[k] = (i >= 0 ? a_of(i, k) : 5e-4) * noise(t);
      add_trial(r, LJ_METHOD_ISOLATION, ph, (lj_stage)s, 0, t, e);
    }
  }
  for (int t = 0; t < R; t++) {
    for (int k = 0; k < DEG; k++) e[k] = value(k, -1, third(k)) * noise(t);
    add_trial(r, LJ_METHOD_LOO, ph, LJ_STAGE_NONE, 0, t, e);
    for (int i = 0; i < N; i++) {
      for (int k = 0; k < DEG; k++) e[k] = value(k, i, third(k)) * noise(t);
      add_trial(r, LJ_METHOD_LOO, ph, lj_layer_order_stage_tp(0, i, DEG), 0, t, e);
    }
  }
  for (int rep = 0; rep < 3; rep++) add_window(r, ph, rep);
}

static void run_of(lj_profile_result *r) {
  lj_profile_result_init(r);
  lj_profile_plan *p = &r->plan;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &p->config), 0);
  p->config.n_layers = 2;
  p->batch = 1, p->prompt_len = 4, p->gen_len = 5, p->level = 0.95, p->repeats = 3, p->trials = R;
  p->n_decode_kv = 1, p->decode_kv[0] = 4, p->shapley = 1, p->tp_degree = DEG;
  r->cond.idle_w = kIdle[0] + kIdle[1], r->cond.idle_sd_w = 0.5;
  r->n_ranks = DEG;
  for (int k = 0; k < DEG; k++) r->ranks[k].idle_w = kIdle[k], r->ranks[k].idle_sd_w = 0.5 / sqrt(2.0);
  add_game(r, LJ_PHASE_PREFILL);
  add_game(r, LJ_PHASE_DECODE);
  assert_int_equal(lj_profile_summarize_phases(r), 0);
  for (int k = 0; k < DEG; k++) memcpy(r->rank_phases[k], r->phases, sizeof r->phases);
}

static const lj_profile_stage *shapley_row(const lj_profile_stage *s, size_t n, lj_phase ph, lj_stage st) {
  for (size_t i = 0; i < n; i++)
    if (s[i].method == LJ_METHOD_SHAPLEY && s[i].est.key.phase == ph && s[i].est.key.stage == st) return &s[i];
  return NULL;
}

static void test_per_gpu_split(void **state) {
  (void)state;
  lj_profile_result r;
  run_of(&r);
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    const lj_shapley_check *sum = &r.shapley[ph];
    assert_int_equal(sum->n_rounds, R);
    assert_int_equal(sum->n_stages, N);  // the all-reduce stages are players too
    REL(sum->full_j.mean, value(0, -1, 0) + value(1, -1, third(1)), 1e-9);
    for (int k = 0; k < DEG; k++) {
      const lj_shapley_check *c = &r.ranks[k].shapley[ph];
      assert_int_equal(c->n_rounds, R);
      assert_int_equal(c->n_stages, N);
      REL(c->full_j.mean, value(k, -1, third(k)), 1e-9);
      // a k-th order term c: the residual (3/2 - 1) c
      REL(c->residual_j.estimate + 1.0, third(k) / 2 + 1.0, 1e-9);
    }
    assert_true(r.ranks[0].shapley[ph].pass);
    assert_false(r.ranks[1].shapley[ph].pass);
    assert_true(r.ranks[1].shapley[ph].residual_pct > 5);
    assert_true(fabs(sum->residual_pct) < r.ranks[1].shapley[ph].residual_pct);
    for (int i = 0; i < N; i++) {
      lj_stage st = lj_layer_order_stage_tp(0, i, DEG);
      const lj_profile_stage *s = shapley_row(r.stages, r.n_stages, (lj_phase)ph, st);
      assert_non_null(s);
      double sum_k = 0;
      for (int k = 0; k < DEG; k++) {
        const lj_profile_stage *x = shapley_row(r.ranks[k].stages, r.ranks[k].n_stages, (lj_phase)ph, st);
        assert_non_null(x);
        if (k == 0) {
          double want = a_of(i, 0);
          for (int j = 0; j < N; j++)
            if (j != i) want += b_of(i, j) / 2;
          REL(x->est.dynamic_j.mean, want, 1e-9);
        }
        sum_k += x->est.dynamic_j.mean;
      }
      REL(s->est.dynamic_j.mean, sum_k, 1e-9);
    }
  }
  // each rank's isolation estimates are its own GPU's (the all-reduce's a_i (1 + k))
  int i = index_of(LJ_STAGE_ATTN_ALLREDUCE);
  for (int k = 0; k < DEG; k++) {
    int found = 0;
    for (size_t j = 0; j < r.ranks[k].n_stages; j++) {
      const lj_profile_stage *s = &r.ranks[k].stages[j];
      if (s->method != LJ_METHOD_ISOLATION || s->est.key.stage != LJ_STAGE_ATTN_ALLREDUCE ||
          s->est.key.phase != LJ_PHASE_DECODE)
        continue;
      REL(s->est.dynamic_j.mean, a_of(i, k), 1e-9);
      found = 1;
    }
    assert_true(found);
  }
  lj_profile_result_free(&r);
}

// A rank whose idle is uncertain: its budget widens the residual's interval, so a residual that
// passes on its own interval no longer passes with the budget (as on one GPU), and one that misses
// on its own interval is INCONCLUSIVE with it: the report judges each GPU with its own budget.
static void test_rank_budget_decides(void **state) {
  (void)state;
  lj_profile_result r;
  run_of(&r);
  r.ranks[0].idle_sd_w = 50;  // W: the layer's 11 stages' idle exposure makes this several %
  r.ranks[1].idle_sd_w = 500;  // GPU 1's third-order term misses on its trials alone, not with this budget
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  const lj_shapley_check *c = &r.ranks[0].shapley[LJ_PHASE_DECODE];
  assert_true(c->residual_lo_pct > -5 && c->residual_hi_pct < 5);  // its own interval within
  assert_false(c->pass);
  // the report judges each GPU's check with that GPU's budget, as the sum's with the run's
  const lj_shapley_check *c1 = &r.ranks[1].shapley[LJ_PHASE_DECODE];
  assert_true(c1->residual_lo_pct > 5);  // wholly outside on its trials
  lj_report_gpu_check g;
  lj_report_gpu_check_of(&r, 1, LJ_PHASE_DECODE, &g);
  assert_non_null(g.budget);
  REL(g.budget_pct, lj_budget_total_pct(lj_budget_find(r.ranks[1].budgets, r.ranks[1].n_budgets, "shapley",
                                                       LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE)), 1e-12);
  REL(g.judged_lo_pct + 100, c1->residual_pct - g.budget_pct + 100, 1e-12);
  assert_true(g.judged_lo_pct < 5 && g.judged_hi_pct > 5);
  assert_int_equal(g.verdict, LJ_VERDICT_INCONCLUSIVE);
  assert_int_equal(lj_report_rank_shapley_verdict(&r.ranks[1], c1), LJ_VERDICT_INCONCLUSIVE);
  lj_report_gpu_check_of(&r, 0, LJ_PHASE_DECODE, &g);
  assert_int_equal(g.verdict, LJ_VERDICT_INCONCLUSIVE);
  // the sum's row: the run's budget
  lj_report_gpu_check_of(&r, DEG, LJ_PHASE_DECODE, &g);
  assert_true(g.budget == lj_profile_budget_of(&r, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE));
  lj_profile_result_free(&r);
}

// run_of with every trial at 40 C: the run's coolest reading 40 C (GPU 0's range unknown: the
// run's), GPU 1's own range 30 .. 45 C.
static void run_at_40(lj_profile_result *r) {
  run_of(r);
  r->cond.temperature_min_c = r->cond.temperature_max_c = 40;
  r->ranks[1].temperature_min_c = 30, r->ranks[1].temperature_max_c = 45;
}

// r analysed, and the budgets of decode's Shapley check: each GPU's own (b[k]) and the sum's (b[DEG]).
static void analysed_decode_budgets(lj_profile_result *r, const lj_budget **b) {
  assert_int_equal(lj_profile_analyze(r, NULL, NULL, 0, 0), 0);
  for (int k = 0; k < DEG; k++)
    b[k] = lj_budget_find(r->ranks[k].budgets, r->ranks[k].n_budgets, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY,
                          LJ_STAGE_NONE);
  b[DEG] = lj_profile_budget_of(r, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE);
  for (int k = 0; k <= DEG; k++) assert_non_null(b[k]);
}

// Each GPU's leakage from its own temperatures: every trial ran at 40 C on both GPUs; the run's
// coolest reading is 40 C (GPU 0's range unknown: the run's), GPU 1's own coolest 30 C. GPU 0's
// check has no slope term; GPU 1's is 1.5 W/C x 10 C x its exposure S0; the sum's is GPU 1's alone
// (before, it took GPU 0's temperatures for both: none). Every check has the same S0 (the same
// times), which GPU 0's idle term gives: u_a S0 with u_a its idle's sd.
static void test_rank_temperatures(void **state) {
  (void)state;
  lj_profile_result r;
  run_at_40(&r);
  const lj_budget *b[DEG + 1];
  analysed_decode_budgets(&r, b);
  double u0 = 0.5 / sqrt(2.0), s0 = b[0]->idle_j / u0;
  assert_true(s0 > 0);
  REL(b[1]->idle_j, s0 * sqrt(u0 * u0 + 15.0 * 15.0), 1e-9);
  REL(b[DEG]->idle_j, s0 * sqrt(0.5 * 0.5 + 15.0 * 15.0), 1e-9);
  lj_profile_result_free(&r);
}

// GPU 1 with a usable idle curve of its own (7 bins, se 0.1 W at T0 30 C and 0.02 W/C), the rest as
// test_rank_temperatures: its own check's idle term is the curve's, t5 x 0.1 W and t5 x 0.02 W/C x
// 10 C, basis measured, where the flat idle gave 0.35 W and 1.5 W/C x 10 C; GPU 0 keeps its flat
// idle; the sum's intercept term is the two GPUs' in quadrature, its slope term GPU 1's curve's.
static void test_rank_idle_curve(void **state) {
  (void)state;
  lj_profile_result r;
  run_at_40(&r);
  lj_idle_curve *c = &r.ranks[1].idle_curve.fit;
  r.ranks[1].idle_curve_valid = 1;
  c->usable = 1, c->n_bins = 7, c->t0_c = 30, c->a_w = kIdle[1], c->a_se_w = 0.1, c->slope_w_per_c = 1.4;
  c->slope_se_w_per_c = 0.02, c->t_min_c = 30, c->t_max_c = 39;
  const lj_budget *b[DEG + 1];
  analysed_decode_budgets(&r, b);
  double t5 = lj_student_t_quantile(0.975, 5), u0 = 0.5 / sqrt(2.0), s0 = b[0]->idle_j / u0;
  assert_true(s0 > 0);
  assert_string_equal(b[0]->idle_basis, LJ_BUDGET_BOUND);
  assert_string_equal(b[1]->idle_basis, LJ_BUDGET_MEASURED);
  REL(b[1]->idle_j, s0 * t5 * sqrt(0.1 * 0.1 + 0.2 * 0.2), 1e-9);
  assert_string_equal(b[DEG]->idle_basis, LJ_BUDGET_BOUND);  // GPU 0 has no curve
  REL(b[DEG]->idle_j, s0 * sqrt(u0 * u0 + t5 * t5 * (0.1 * 0.1 + 0.2 * 0.2)), 1e-9);
  lj_profile_result_free(&r);
}

// A GPU whose own trials lack a stage's isolation in decode has no split there; why is the note
// its analysis wrote, carried into the run's notes with the GPU named (it was dropped).
static void test_rank_notes(void **state) {
  (void)state;
  lj_profile_result r;
  run_of(&r);
  lj_profile_rank *rk = &r.ranks[1];
  for (size_t i = 0; i < rk->n_trials; i++) {
    lj_profile_trial *t = &rk->trials[i];
    if (t->method == LJ_METHOD_ISOLATION && t->key.phase == LJ_PHASE_DECODE && t->key.stage == LJ_STAGE_GATE_UP)
      t->method = LJ_METHOD_KNOWN;  // not an isolation trial: GPU 1 has no estimate of it
  }
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  assert_int_equal(rk->shapley[LJ_PHASE_DECODE].n_rounds, 0);
  assert_int_equal(rk->shapley[LJ_PHASE_PREFILL].n_rounds, R);
  assert_non_null(strstr(r.notes, "GPU 1: No Shapley split of decode: stage gate_up has no isolation estimate."));
  assert_non_null(strstr(r.notes, "GPU 1: no Shapley split of decode (its own trials lack a round or an estimate)."));
  assert_null(strstr(r.notes, "GPU 0: "));  // GPU 0's analysis wrote none
  lj_profile_result_free(&r);
}

// Terms of opposite sign on the two GPUs cancel in the sum: the sum's check passes, each GPU's
// misses, and the headline is not the Shapley split (the bar is per GPU), with a note.
static void test_cancelling(void **state) {
  (void)state;
  const double keep[DEG] = {g_third_frac[0], g_third_frac[1]};
  g_third_frac[0] = 0.3, g_third_frac[1] = -0.3 * value(0, -1, 0) / value(1, -1, 0);
  lj_profile_result r;
  run_of(&r);
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    assert_true(r.shapley[ph].pass);
    assert_false(r.ranks[0].shapley[ph].pass);
    assert_false(r.ranks[1].shapley[ph].pass);
    assert_true(lj_profile_reported_method(&r, (lj_phase)ph) != LJ_METHOD_SHAPLEY);
  }
  assert_non_null(strstr(r.notes, "GPU 0's own Shapley additive check did not pass"));
  lj_profile_result_free(&r);
  g_third_frac[0] = keep[0], g_third_frac[1] = keep[1];
}

// The planted run analysed into r, written to a new store at path (in a new directory dir) and read
// back into back; the store stays open.
static lj_store *analysed_and_stored(lj_profile_result *r, lj_profile_result *back, char *dir, size_t dir_cap,
                                     char *path, size_t path_cap) {
  run_of(r);
  assert_int_equal(lj_profile_analyze(r, NULL, NULL, 0, 0), 0);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, dir_cap, "%s/lj_shapley_tp_XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
  assert_non_null(mkdtemp(dir));
  snprintf(path, path_cap, "%s/p.db", dir);
  return store_round_trip(path, r, back);
}

// Each rank's idle, trials, estimates and checks written under its tp_rank and read back as they were.
static void test_ranks_stored(void **state) {
  (void)state;
  lj_profile_result r, back;
  char dir[512], path[600];
  lj_store *st = analysed_and_stored(&r, &back, dir, sizeof dir, path, sizeof path);
  assert_int_equal(back.n_ranks, DEG);
  for (int k = 0; k < DEG; k++) {
    const lj_profile_rank *w = &r.ranks[k], *g = &back.ranks[k];
    REL(g->idle_w, kIdle[k], 1e-12);
    REL(g->idle_sd_w, w->idle_sd_w, 1e-12);
    assert_int_equal((int)g->n_trials, (int)w->n_trials);
    REL(g->trials[5].t.counter_energy_j, w->trials[5].t.counter_energy_j, 1e-12);
    assert_int_equal((int)g->n_stages, (int)w->n_stages);
    for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
      assert_int_equal(g->shapley[ph].n_rounds, R);
      assert_int_equal(g->shapley[ph].pass, w->shapley[ph].pass);
      REL(g->shapley[ph].residual_pct + 100, w->shapley[ph].residual_pct + 100, 1e-9);
    }
    // its own budgets under its tp_rank, and its check's verdict read back from them
    assert_true(w->n_budgets > 0);
    assert_int_equal((int)g->n_budgets, (int)w->n_budgets);
    const lj_budget *bw = lj_budget_find(w->budgets, w->n_budgets, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY,
                                         LJ_STAGE_NONE);
    const lj_budget *bg = lj_budget_find(g->budgets, g->n_budgets, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY,
                                         LJ_STAGE_NONE);
    assert_non_null(bw);
    assert_non_null(bg);
    REL(bg->total_j, bw->total_j, 1e-12);
    REL(bg->idle_j, bw->idle_j, 1e-12);
    assert_int_equal(lj_report_rank_shapley_verdict(g, &g->shapley[LJ_PHASE_DECODE]),
                     lj_report_rank_shapley_verdict(w, &w->shapley[LJ_PHASE_DECODE]));
    const lj_profile_stage *a = shapley_row(w->stages, w->n_stages, LJ_PHASE_DECODE, LJ_STAGE_MLP_ALLREDUCE);
    const lj_profile_stage *b = shapley_row(g->stages, g->n_stages, LJ_PHASE_DECODE, LJ_STAGE_MLP_ALLREDUCE);
    assert_non_null(a);
    assert_non_null(b);
    REL(b->est.dynamic_j.mean, a->est.dynamic_j.mean, 1e-12);
  }
  // the run's own rows stay the sum's (its budgets too: none of a rank's among them)
  assert_int_equal((int)back.n_budgets, (int)r.n_budgets);
  REL(lj_profile_budget_of(&back, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE)->total_j,
      lj_profile_budget_of(&r, "shapley", LJ_PHASE_DECODE, LJ_METHOD_SHAPLEY, LJ_STAGE_NONE)->total_j, 1e-12);
  assert_int_equal((int)back.n_trials, (int)r.n_trials);
  assert_int_equal((int)back.n_stages, (int)r.n_stages);
  REL(back.shapley[LJ_PHASE_DECODE].full_j.mean, r.shapley[LJ_PHASE_DECODE].full_j.mean, 1e-12);
  lj_store_close(st);
  lj_profile_result_free(&back);
  lj_profile_result_free(&r);
  remove(path);
  remove(dir);
}

// A file of version 18 (the budgets without tp_rank: the run's own rows only, the sum's at degree 2):
// read as it is, or upgraded to 19 (its rows become the sum's, tp_rank -1), the run's budgets are
// what it stored and no rank has any; each GPU's verdict then falls back to its stored pass.
static void test_upgrade_from_v18(void **state) {
  (void)state;
  lj_profile_result r, back;
  char dir[512], path[600];
  lj_store *st = analysed_and_stored(&r, &back, dir, sizeof dir, path, sizeof path);
  lj_store_close(st);
  lj_profile_result_free(&back);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  drop_added_columns(db, lj_store_schema_v20);
  idle_curves_before_v22(db);
  drop_added_columns(db, lj_store_schema_v21);
  assert_int_equal(sqlite3_exec(db, "DELETE FROM budgets WHERE tp_rank >= 0; ALTER TABLE budgets DROP COLUMN tp_rank;"
                                    " PRAGMA user_version = 18; UPDATE meta SET value = '18' WHERE key = "
                                    "'schema_version';", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  for (int upgrade = 0; upgrade < 2; upgrade++) {
    assert_int_equal(upgrade ? lj_store_open(path, &st) : lj_store_open_readonly(path, &st), 0);
    if (lj_store_read_profile(st, 1, &back) < 0) fail_msg("%s", lj_error_message());
    lj_store_close(st);
    assert_int_equal((int)back.n_budgets, (int)r.n_budgets);
    for (int k = 0; k < DEG; k++) {
      assert_int_equal((int)back.ranks[k].n_budgets, 0);
      const lj_shapley_check *c = &back.ranks[k].shapley[LJ_PHASE_DECODE];
      assert_int_equal(lj_report_rank_shapley_verdict(&back.ranks[k], c), c->pass ? LJ_VERDICT_PASS : LJ_VERDICT_MISS);
    }
    lj_profile_result_free(&back);
  }
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), min(tp_rank), max(tp_rank) FROM budgets", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), (int)r.n_budgets);
  assert_int_equal(sqlite3_column_int(q, 1), -1);
  assert_int_equal(sqlite3_column_int(q, 2), -1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  lj_profile_result_free(&r);
  remove(path);
  remove(dir);
}

// The text shows each GPU's additive check and the sum's; the JSON each GPU's checks in per_gpu, the
// page's data the same rows.
static void test_rendered(void **state) {
  (void)state;
  lj_profile_result r;
  run_of(&r);
  assert_int_equal(lj_profile_analyze(&r, NULL, NULL, 0, 0), 0);
  // text: each GPU's row and the sum's; GPU 1's third-order term (+14% of its layer) a MISS
  static const char *const in_text[] = {"decode      0", "decode      1", "decode    sum", "  PASS\n", "  MISS\n",
                                        "idle per GPU: 0: 60.0 W, 1: 40.0 W; sum 100.0 W",
                                        "budget            judged  verdict"};
  static const char *const in_json[] = {"\"shapley\": [", "\"tp_rank\": 1", "\"idle_w\": 40", "\"budget_pct\": ",
                                        "\"judged_lo_pct\": ", "\"budgets\": [", "\"kind\": \"shapley\""};
  for (int json = 0; json < 2; json++) {
    char *out = render(&r, json);
    const char *at = strstr(out, json ? "\"per_gpu\": [" : "Per GPU (tensor-parallel degree 2");
    assert_non_null(at);
    assert_true(json || strstr(at, "Shapley additive check per GPU (tensor-parallel degree 2"));
    int n = 7;
    for (int i = 0; i < n; i++)
      if (!strstr(at, json ? in_json[i] : in_text[i])) fail_msg("missing: %s", json ? in_json[i] : in_text[i]);
    free(out);
  }
  lj_report_run run = {.prof = r};
  json_t *page = lj_report_page_data(&run);
  assert_non_null(page);
  json_t *rows = json_object_get(json_object_get(page, "extras"), "shapley_per_gpu");
  assert_int_equal((int)json_array_size(rows), 2 * (DEG + 1));
  json_decref(page);
  lj_profile_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_per_gpu_split),
      cmocka_unit_test(test_rank_budget_decides),
      cmocka_unit_test(test_rank_temperatures),
      cmocka_unit_test(test_rank_idle_curve),
      cmocka_unit_test(test_rank_notes),
      cmocka_unit_test(test_cancelling),
      cmocka_unit_test(test_ranks_stored),
      cmocka_unit_test(test_upgrade_from_v18),
      cmocka_unit_test(test_rendered),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
