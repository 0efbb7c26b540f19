// The run as the HTML page's JSON: one object per table of the run model,
// NAN as null. The page draws every chart from this and nothing else.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "report/report_derived.h"
#include "report/report_page.h"

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static void put(json_t *o, const char *k, json_t *v) { json_object_set_new(o, k, v ? v : json_null()); }
static void put_num(json_t *o, const char *k, double x) { put(o, k, num(x)); }
static void put_int(json_t *o, const char *k, long long x) { put(o, k, json_integer(x)); }
static void put_str(json_t *o, const char *k, const char *s) { put(o, k, json_string(s ? s : "")); }
// A mean with its interval: X, X_lo, X_hi.
static void put_ci(json_t *o, const char *k, const lj_mean_ci *m) {
  char key[64];
  put_num(o, k, m->n > 0 ? m->mean : NAN);
  snprintf(key, sizeof key, "%s_lo", k);
  put_num(o, key, m->n > 1 ? m->lo : NAN);
  snprintf(key, sizeof key, "%s_hi", k);
  put_num(o, key, m->n > 1 ? m->hi : NAN);
}

static json_t *run_part(const lj_report_run *r) {
  json_t *o = json_object();
  put_str(o, "file", r->path);
  put_int(o, "id", r->run.id);
  put_str(o, "status", lj_run_status_name(r->run.status));
  put_str(o, "command_line", r->run.command_line);
  put_str(o, "host", r->run.host);
  put_str(o, "tool_version", r->run.tool_version);
  put_int(o, "started_wall_ns", r->run.started_wall_ns);
  put_str(o, "notes", r->prof.notes);
  put_str(o, "missing", r->missing);
  put(o, "complete", json_boolean(r->prof.complete && r->run.status == LJ_RUN_COMPLETE));
  put(o, "timing_only", json_boolean(r->prof.plan.timing_only));
  put_num(o, "level", r->prof.plan.level);
  return o;
}

static json_t *model_part(const lj_profile_plan *p) {
  json_t *o = json_object();
  const lj_model_config *c = &p->config;
  put_str(o, "name", p->model_name);
  put_str(o, "model", p->model);
  put(o, "weights_random", json_boolean(p->weights_random));
  put_int(o, "params", c->n_layers > 0 ? lj_config_n_params(c) : 0);
  put_int(o, "n_layers", c->n_layers);
  put_int(o, "dim", c->dim);
  put_int(o, "hidden_dim", c->hidden_dim);
  put_int(o, "n_heads", c->n_heads);
  put_int(o, "n_kv_heads", c->n_kv_heads);
  put_int(o, "vocab_size", c->vocab_size);
  return o;
}

static json_t *workload_part(const lj_profile_plan *p) {
  json_t *o = json_object();
  put_str(o, "engine", p->engine);
  put_str(o, "weights", p->weights[0] ? p->weights : "bf16");
  put_str(o, "fusion", lj_plan_fusion(p));
  put_str(o, "gemv", lj_plan_gemv(p));
  put_int(o, "batch", p->batch);
  if (p->tp_degree > 1) put_int(o, "tp_degree", p->tp_degree);
  put_int(o, "prompt_len", p->prompt_len);
  put_int(o, "gen_len", p->gen_len);
  put_int(o, "repeats", p->repeats);
  put_int(o, "trials", p->trials);
  put_num(o, "replay_duty", p->replay_duty);
  put_str(o, "prompt_source", p->prompt_source);
  return o;
}

static json_t *gpu_part(const lj_profile_result *r) {
  const lj_profile_conditions *c = &r->cond;
  json_t *o = json_object();
  put_str(o, "name", c->device.name);
  put_str(o, "uuid", c->device.uuid);
  put_str(o, "driver", c->device.driver_version);
  put_str(o, "cuda_driver", c->cuda_driver);
  put_num(o, "power_limit_w", lj_report_power_limit_w(r));
  put_num(o, "idle_w", c->idle_w);
  put_num(o, "idle_sd_w", c->idle_sd_w);
  put_str(o, "idle_method", c->idle_method);
  put_num(o, "temperature_min_c", c->temperature_min_c);
  put_num(o, "temperature_max_c", c->temperature_max_c);
  put_num(o, "sm_clock_min_mhz", c->sm_clock_min_mhz);
  put_num(o, "sm_clock_max_mhz", c->sm_clock_max_mhz);
  put_str(o, "throttle", c->throttle_text);
  put_int(o, "n_samples", c->n_samples);
  return o;
}

static json_t *phases_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    lj_phase_summary view;
    lj_report_phase_view(r, (lj_phase)p, &view);
    const lj_phase_summary *s = &view;
    if (s->n <= 0) continue;
    double peak = NAN;
    for (size_t i = 0; i < r->n_windows; i++)
      if ((int)r->windows[i].phase == p && isfinite(r->windows[i].w.peak_power_w))
        peak = isnan(peak) ? r->windows[i].w.peak_power_w : fmax(peak, r->windows[i].w.peak_power_w);
    json_t *o = json_object();
    put_str(o, "phase", lj_phase_name((lj_phase)p));
    put_int(o, "n", s->n);
    put_int(o, "tokens_per_unit", s->tokens_per_unit);
    put_ci(o, "time_s", &s->time_s);
    put_ci(o, "gross_j", &s->gross_j);
    put_ci(o, "dynamic_j", &s->dynamic_j);
    put_num(o, "gross_j_per_token", s->gross_j_per_token);
    put_num(o, "dynamic_j_per_token", s->dynamic_j_per_token);
    put_num(o, "tokens_per_gross_j", s->tokens_per_gross_j);
    put_num(o, "tokens_per_dynamic_j", s->tokens_per_dynamic_j);
    put_num(o, "mean_w", s->gross_j.n > 0 && s->time_s.mean > 0 ? s->gross_j.mean / s->time_s.mean : NAN);
    put_num(o, "peak_w", peak);
    put_num(o, "share_gross", lj_report_phase_share(r, (lj_phase)p, 0));
    put(o, "gpu_idle", json_boolean(lj_report_phase_gpu_idle((lj_phase)p)));
    json_array_append_new(a, o);
  }
  return a;
}

// Tensor-parallel degree > 1: each GPU's phases and their sum (the run's figures), one row each.
static json_t *per_gpu_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int k = 0; k <= r->n_ranks; k++) {
      double share;
      const lj_phase_summary *s = lj_report_rank_row(r, k, (lj_phase)p, &share);
      if (!s) continue;
      json_t *o = json_object();
      put_str(o, "phase", lj_phase_name((lj_phase)p));
      put_int(o, "rank", k < r->n_ranks ? k : -1);
      put_ci(o, "gross_j", &s->gross_j);
      put_ci(o, "dynamic_j", &s->dynamic_j);
      put_num(o, "gross_j_per_token", s->gross_j_per_token);
      put_num(o, "dynamic_j_per_token", s->dynamic_j_per_token);
      put_num(o, "share_gross", share);
      json_array_append_new(a, o);
    }
  return a;
}

// Tensor-parallel degree > 1: each GPU's additive check on its own split, then the sum's (rank -1).
static json_t *rank_shapley_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int k = 0; k <= r->n_ranks; k++) {
      lj_report_gpu_check g;
      lj_report_gpu_check_of(r, k, (lj_phase)p, &g);
      const lj_shapley_check *c = g.c;
      if (c->n_rounds <= 0) continue;
      json_t *x = json_object();
      put_str(x, "phase", lj_phase_name((lj_phase)p));
      put_int(x, "rank", k < r->n_ranks ? k : -1);
      put_num(x, "full_j", c->full_j.mean);
      put_num(x, "sum_shapley_j", c->sum_shapley_j.estimate);
      put_num(x, "residual_pct", c->residual_pct);
      put_num(x, "residual_lo_pct", c->residual_lo_pct);
      put_num(x, "residual_hi_pct", c->residual_hi_pct);
      put_num(x, "budget_pct", g.budget_pct);
      put_num(x, "judged_lo_pct", g.judged_lo_pct);
      put_num(x, "judged_hi_pct", g.judged_hi_pct);
      put_str(x, "verdict", lj_verdict_name(g.verdict));
      json_array_append_new(a, x);
    }
  return a;
}

static json_t *closures_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++) {
      const lj_closure *c = lj_profile_closure_of(r, (lj_phase)p, (lj_profile_method)m);
      if (c->n_terms <= 0) continue;
      json_t *o = json_object();
      put_str(o, "phase", lj_phase_name((lj_phase)p));
      put_str(o, "method", lj_profile_method_name((lj_profile_method)m));
      put(o, "reported", json_boolean(lj_profile_reported_method(r, (lj_phase)p) == (lj_profile_method)m));
      put_int(o, "n_terms", c->n_terms);
      put_num(o, "measured_dynamic_j", c->measured_dynamic_j);
      put_num(o, "predicted_dynamic_j", c->predicted_dynamic_j.estimate);
      put_num(o, "error_pct", c->error_dynamic_pct);
      put_num(o, "error_lo_pct", c->error_dynamic_lo_pct);
      put_num(o, "error_hi_pct", c->error_dynamic_hi_pct);
      double lo, hi;
      lj_report_closure_range(r, c, (lj_profile_method)m, &lo, &hi);
      put_num(o, "judged_lo_pct", lo);
      put_num(o, "judged_hi_pct", hi);
      put_int(o, "pass", lj_report_closure_pass(r, c, (lj_profile_method)m));
      put_str(o, "verdict", lj_verdict_name(lj_report_closure_verdict(r, c, (lj_profile_method)m)));
      json_array_append_new(a, o);
    }
  return a;
}

// Which source an estimate's energies came from, and whether the other one disagrees beyond its interval.
static void put_source(json_t *o, uint32_t flags) {
  put_str(o, "source", flags & LJ_WINDOW_SAMPLE_ENERGY ? "samples" : "counter");
  put(o, "sources_disagree", json_boolean(flags & LJ_WINDOW_SOURCES_DISAGREE));
}

static json_t *stages_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *s = &r->stages[i];
    const lj_replay_estimate *e = &s->est;
    json_t *o = json_object();
    const char *bound = lj_report_bound(&s->cost);
    put_str(o, "phase", lj_phase_name(e->key.phase));
    put_str(o, "stage", lj_stage_name(e->key.stage));
    put_str(o, "group", lj_stage_group_name(lj_stage_group_of(e->key.stage)));
    put_str(o, "method", lj_profile_method_name(s->method));
    put(o, "reported", json_boolean(lj_profile_stage_in_method(r, s, lj_profile_reported_method(r, e->key.phase))));
    put_int(o, "kv_len", e->key.kv_len);
    put_num(o, "calls_per_unit", s->calls_per_unit);
    put_ci(o, "dynamic_j", &e->dynamic_j);
    put_ci(o, "gross_j", &e->gross_j);
    put_num(o, "counter_dynamic_j", e->counter_dynamic_j.n > 0 ? e->counter_dynamic_j.mean : NAN);
    put_source(o, e->window_flags);
    put_ci(o, "time_s", &e->time_per_call_s);
    put_num(o, "time_ratio", e->time_ratio);
    put_num(o, "share_dynamic", lj_profile_stage_share(r, s, 1));
    put_num(o, "flops", (double)s->cost.flops);
    put_num(o, "bytes", (double)s->cost.bytes);
    put_num(o, "flops_per_byte", s->cost.flops_per_byte);
    lj_stage_efficiency eff;
    lj_report_stage_efficiency(s, &eff);
    put_num(o, "j_per_flop", eff.j_per_flop);
    put_num(o, "j_per_byte", eff.j_per_byte);
    put_str(o, "bound", bound ? bound : "");
    json_array_append_new(a, o);
  }
  return a;
}

static json_t *groups_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int g = 0; g < LJ_GROUP_COUNT; g++) {
      lj_report_group sum;
      if (lj_report_group_sum(r, (lj_phase)p, (lj_stage_group)g, &sum) < 0 || sum.n_estimates == 0) continue;
      json_t *o = json_object();
      put_str(o, "phase", lj_phase_name((lj_phase)p));
      put_str(o, "group", lj_stage_group_name((lj_stage_group)g));
      put_num(o, "dynamic_j", sum.dynamic_j.estimate);
      put_num(o, "dynamic_j_lo", sum.dynamic_j.lo);
      put_num(o, "dynamic_j_hi", sum.dynamic_j.hi);
      put_num(o, "share_dynamic", sum.share_dynamic);
      lj_interval jt;
      double st;
      if (g == LJ_GROUP_COMM && lj_report_comm_per_token(r, (lj_phase)p, &jt, &st) == 1) {
        put_num(o, "dynamic_j_per_token", jt.estimate);
        put_num(o, "time_s_per_token", st);
      }
      json_array_append_new(a, o);
    }
  return a;
}

// Layers x stages from the in-situ timeline: energy summed over the recorded intervals.
static json_t *heatmap_part(const lj_profile_result *r) {
  int n_layers = r->plan.config.n_layers;
  json_t *o = json_object();
  if (n_layers <= 0 || r->n_intervals == 0 || !r->interval_energy_j) return o;
  size_t cells = (size_t)LJ_PHASE_COUNT * (size_t)n_layers * LJ_STAGE_ALL_COUNT;
  double *sum = calloc(cells, sizeof *sum);
  if (!sum) return o;
  for (size_t i = 0; i < r->n_intervals; i++) {
    const lj_stage_interval *iv = &r->intervals[i];
    if (iv->layer < 0 || iv->layer >= n_layers || (unsigned)iv->phase >= LJ_PHASE_COUNT ||
        (unsigned)iv->stage >= LJ_STAGE_ALL_COUNT || !isfinite(r->interval_energy_j[i]))
      continue;
    sum[((size_t)iv->phase * (size_t)n_layers + (size_t)iv->layer) * LJ_STAGE_ALL_COUNT + iv->stage] +=
        r->interval_energy_j[i];
  }
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    json_t *a = json_array();
    for (int l = 0; l < n_layers; l++)
      for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++) {
        double v = sum[((size_t)p * (size_t)n_layers + (size_t)l) * LJ_STAGE_ALL_COUNT + s];
        if (v == 0) continue;
        json_t *cell = json_array();
        json_array_append_new(cell, json_integer(l));
        json_array_append_new(cell, json_string(lj_stage_name((lj_stage)s)));
        json_array_append_new(cell, json_real(v));
        json_array_append_new(a, cell);
      }
    if (json_array_size(a)) put(o, lj_phase_name((lj_phase)p), a);
    else json_decref(a);
  }
  free(sum);
  return o;
}

// Each decoder layer replayed alone (--per-layer): per phase, the agreement verdict and rows
// [layer, dynamic J per layer call, lo, hi]; absent where not measured (the page then sums the
// heatmap's timeline cells per layer and says so).
static json_t *layers_part(const lj_profile_result *r) {
  json_t *o = json_object();
  for (int p = 0; o && p < LJ_PHASE_COUNT; p++) {
    int v = lj_profile_layer_agreement(r, (lj_phase)p, NULL);
    if (v < 0) continue;
    json_t *ph = json_object(), *rows = json_array();
    for (size_t i = 0; i < r->n_layers; i++) {
      const lj_layer_estimate *l = &r->layers[i];
      if (l->phase != (lj_phase)p) continue;
      json_t *row = json_array();
      json_array_append_new(row, json_integer(l->layer));
      json_array_append_new(row, num(l->dynamic_j.mean));
      json_array_append_new(row, num(l->dynamic_j.lo));
      json_array_append_new(row, num(l->dynamic_j.hi));
      json_array_append_new(rows, row);
    }
    put(ph, "agreement", json_string(v ? "PASS" : "MISS"));
    put(ph, "rows", rows);
    put(o, lj_phase_name((lj_phase)p), ph);
  }
  return o;
}

// Layers x stages measured alone (--per-layer): per phase, cells [layer, stage, dynamic J per call];
// absent where not measured (the page's heatmap then shows the timeline's cells and says so).
static json_t *layer_stages_part(const lj_profile_result *r) {
  json_t *o = json_object();
  for (int p = 0; o && p < LJ_PHASE_COUNT; p++) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_layer_stages; i++) {
      const lj_layer_stage_estimate *l = &r->layer_stages[i];
      if (l->phase != (lj_phase)p || !(l->dynamic_j.n > 0) || !isfinite(l->dynamic_j.mean)) continue;
      json_t *cell = json_array();
      json_array_append_new(cell, json_integer(l->layer));
      json_array_append_new(cell, json_string(lj_stage_name(l->stage)));
      json_array_append_new(cell, json_real(l->dynamic_j.mean));
      json_array_append_new(a, cell);
    }
    if (json_array_size(a)) put(o, lj_phase_name((lj_phase)p), a);
    else json_decref(a);
  }
  return o;
}

// Phase windows on the samples' time axis (ns, as stored).
static json_t *windows_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; i < r->n_windows; i++) {
    const lj_phase_window *w = &r->windows[i];
    json_t *o = json_object();
    put_str(o, "phase", lj_phase_name(w->phase));
    put_int(o, "repeat", w->repeat);
    put_int(o, "begin_ns", w->w.begin_ns);
    put_int(o, "end_ns", w->w.end_ns);
    put_num(o, "counter_j", w->w.counter_energy_j);
    json_array_append_new(a, o);
  }
  return a;
}

// The uncertainty budgets of the phases' figures and checks (the stages' stay in the JSON).
// The ablations' windows in the order they ran (the page's table under the ablation checks).
static json_t *ablation_windows_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < r->n_abl_windows; i++) {
    const lj_ablation_window *w = &r->abl_windows[i];
    json_t *x = json_object();
    put_str(x, "phase", lj_phase_name(w->phase));
    put_int(x, "seq", w->seq);
    put_str(x, "skipped", w->group);
    put_int(x, "round", w->round);
    put_int(x, "pair", w->pair);
    put_int(x, "units", w->units);
    put_num(x, "time_per_unit_s", w->units > 0 ? w->duration_s / (double)w->units : NAN);
    put_num(x, "dynamic_j", isfinite(w->sample_j) ? w->sample_j : w->counter_j);
    put_num(x, "counter_dynamic_j", w->counter_j);
    put_num(x, "mean_power_w", w->mean_power_w);
    put_num(x, "peak_power_w", w->peak_power_w);
    put_num(x, "temperature_start_c", w->temperature_start_c);
    put_num(x, "temperature_end_c", w->temperature_end_c);
    put_int(x, "at_cap", w->at_cap);
    json_array_append_new(a, x);
  }
  return a;
}

static json_t *budgets_part(const lj_profile_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < r->n_budgets; i++) {
    const lj_budget *b = &r->budgets[i];
    if (!strcmp(b->kind, "stage") || !strcmp(b->kind, "layer")) continue;
    json_t *x = json_object();
    put_str(x, "kind", b->kind);
    put_str(x, "phase", lj_phase_name(b->phase));
    put_str(x, "method", lj_profile_method_name(b->method));
    put_str(x, "stage", b->stage == LJ_STAGE_NONE ? "" : lj_stage_name(b->stage));
    put_num(x, "value_j", b->value_j);
    put_num(x, "reference_j", b->reference_j);
    const char *names[5] = {"trial", "idle", "edge", "card", "source"};
    const double v[5] = {b->trial_j, b->idle_j, b->edge_j, b->card_j, b->source_j};
    const char *basis[5] = {b->trial_basis, b->idle_basis, b->edge_basis, b->card_basis, b->source_basis};
    for (int k = 0; k < 5; k++) {
      char key[32];
      snprintf(key, sizeof key, "%s_j", names[k]);
      put_num(x, key, v[k]);
      snprintf(key, sizeof key, "%s_basis", names[k]);
      put_str(x, key, lj_budget_basis_counted(basis[k]) ? basis[k] : LJ_BUDGET_NOT_MEASURED);
    }
    put_num(x, "total_j", b->total_j);
    put_num(x, "total_pct", lj_budget_total_pct(b));
    double h;
    const char *big = lj_report_budget_largest(b, &h);
    put_str(x, "largest", big ? big : "");
    json_array_append_new(a, x);
  }
  return a;
}

// The idle model of one GPU (docs/attribution.md §1c): the stored curve from its one description,
// the flat idle measured before the run at the curve's reference temperature, and the idle the fit
// gives over the temperatures the run saw ([T, W] at each knot; flat past the fitted range, as
// lj_idle_curve_at applies it) with the band of its slope interval ([T, W lo, W hi]). Drawn where
// not used too: the record's "used" says so. The cool-down's samples are not stored.
static json_t *idle_curve_part(const lj_profile_result *r, const lj_profile_idle_curve *c, int rank, double flat_w,
                               double t_lo, double t_hi) {
  json_t *o = lj_report_record_json(&lj_desc_idle_curve, c, r);
  if (!o) return NULL;
  if (rank >= 0) put_int(o, "tp_rank", rank);
  put_num(o, "flat_idle_w", flat_w);
  lj_idle_curve fit = c->fit, lo, hi;
  fit.usable = 1;
  lo = fit, hi = fit;
  lo.slope_w_per_c = fit.slope_lo, hi.slope_w_per_c = fit.slope_hi;
  double knot[5];
  int n = 0;
  const double cand[5] = {t_lo, fit.t_min_c, fit.t0_c, fit.t_max_c, t_hi};
  for (int i = 0; i < 5; i++) {  // the finite ones, sorted, each once
    int seen = !isfinite(cand[i]), j = n;
    for (int k = 0; k < n && !seen; k++) seen = knot[k] == cand[i];
    if (seen) continue;
    for (n++; j > 0 && knot[j - 1] > cand[i]; j--) knot[j] = knot[j - 1];
    knot[j] = cand[i];
  }
  json_t *line = json_array(), *band = json_array();
  for (int i = 0; i < n; i++) {
    double w = lj_idle_curve_at(&fit, knot[i], NAN), a = lj_idle_curve_at(&lo, knot[i], NAN),
           b = lj_idle_curve_at(&hi, knot[i], NAN);
    json_t *p = json_array(), *q = json_array();
    json_array_append_new(p, json_real(knot[i])), json_array_append_new(p, num(w));
    json_array_append_new(q, json_real(knot[i])), json_array_append_new(q, num(fmin(a, b)));
    json_array_append_new(q, num(fmax(a, b)));
    json_array_append_new(line, p), json_array_append_new(band, q);
  }
  put(o, "line", line);
  put(o, "band", band);
  return o;
}

// The run's idle curve and, with several GPUs, each GPU's own (the text report's idle lines).
static json_t *idle_curves_part(const lj_profile_result *r) {
  json_t *a = json_array();
  const lj_profile_conditions *c = &r->cond;
  if (r->idle_curve_valid)
    json_array_append_new(a, idle_curve_part(r, &r->idle_curve, -1, c->idle_w, c->temperature_min_c,
                                             c->temperature_max_c));
  for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++) {
    const lj_profile_rank *rk = &r->ranks[k];
    if (!rk->idle_curve_valid) continue;
    int own = isfinite(rk->temperature_min_c) && isfinite(rk->temperature_max_c);  // not stored: GPU 0's range
    json_array_append_new(a, idle_curve_part(r, &rk->idle_curve, k, rk->idle_w,
                                             own ? rk->temperature_min_c : c->temperature_min_c,
                                             own ? rk->temperature_max_c : c->temperature_max_c));
  }
  return a;
}

static json_t *extras_part(const lj_profile_result *r) {
  json_t *o = json_object();
  if (r->ablation_valid) {
    const lj_ablation *a = &r->ablation;
    json_t *x = json_object();
    put_str(x, "stage", lj_stage_name(a->stage));
    put_num(x, "saved_j", a->saved_j.estimate);
    put_num(x, "saved_j_lo", a->saved_j.lo);
    put_num(x, "saved_j_hi", a->saved_j.hi);
    put_num(x, "replay_j", a->replay_j.estimate);
    put_num(x, "replay_j_lo", a->replay_j.lo);
    put_num(x, "replay_j_hi", a->replay_j.hi);
    put_num(x, "agreement_pct", a->agreement_pct);
    put_num(x, "counter_saved_j", a->counter_saved_j);
    put_source(x, a->flags);
    put(o, "ablation", x);
  }
  json_t *sh = json_array(), *ka = json_array(), *ab = json_array();
  for (int p = 0; sh && p < LJ_PHASE_COUNT; p++) {
    const lj_shapley_check *c = &r->shapley[p];
    if (c->n_rounds <= 0) continue;
    json_t *x = json_object();
    put_str(x, "phase", lj_phase_name((lj_phase)p));
    put_str(x, "headline", lj_profile_method_name(lj_profile_reported_method(r, (lj_phase)p)));
    put_num(x, "full_j", c->full_j.mean);
    put_num(x, "sum_isolation_j", c->sum_isolation_j.estimate);
    put_num(x, "interaction_j", c->interaction_j.estimate);
    put_num(x, "sum_marginal_j", c->sum_marginal_j.estimate);
    put_num(x, "sum_shapley_j", c->sum_shapley_j.estimate);
    put_num(x, "residual_pct", c->residual_pct);
    put_num(x, "residual_lo_pct", c->residual_lo_pct);
    put_num(x, "residual_hi_pct", c->residual_hi_pct);
    put_num(x, "order_spread_pct", c->order_spread_pct);
    put_int(x, "pass", c->pass);
    put_str(x, "verdict", lj_verdict_name(lj_report_shapley_verdict(r, c)));
    put_num(x, "counter_residual_pct", c->counter_residual_pct);
    put_int(x, "layer_windows", c->layer_windows);
    put_num(x, "layer_residual_pct", c->layer_residual_pct);
    put_str(x, "layer_worst", c->layer_worst);
    put_num(x, "layer_worst_pct", c->layer_worst_pct);
    put_num(x, "layer_worst_lo_pct", c->layer_worst_lo_pct);
    put_num(x, "layer_worst_hi_pct", c->layer_worst_hi_pct);
    put_str(x, "layer_verdict", c->layer_verdict[0] ? c->layer_verdict : NULL);
    put_source(x, c->flags);
    json_array_append_new(sh, x);
  }
  for (int i = 0; ka && i < r->n_known; i++) {
    const lj_known_answer *k = &r->known[i];
    json_t *x = json_object();
    put_str(x, "phase", lj_phase_name(k->phase));
    put_str(x, "method", lj_profile_method_name(k->method));
    put_int(x, "bytes", k->bytes);
    put_num(x, "truth_j", k->truth_j.mean);
    put_num(x, "estimate_j", k->estimate_j.estimate);
    put_num(x, "error_pct", k->error_pct);
    put_num(x, "error_lo_pct", k->error_lo_pct);
    put_num(x, "error_hi_pct", k->error_hi_pct);
    put_int(x, "reliable", k->reliable);
    put_str(x, "verdict", lj_verdict_name(lj_report_known_verdict(r, k)));
    put_num(x, "counter_estimate_j", k->counter_estimate_j);
    put_source(x, k->flags);
    json_array_append_new(ka, x);
  }
  for (int i = 0; ab && i < r->n_ablation_checks; i++) {
    const lj_ablation_check *c = &r->ablation_checks[i];
    json_t *x = json_object();
    put_str(x, "phase", lj_phase_name(c->phase));
    put_str(x, "method", lj_profile_method_name(c->method));
    put_str(x, "skipped", c->a.stage == LJ_STAGE_ATTN ? "attn" : "mlp");
    put_num(x, "saved_j", c->a.saved_j.estimate);
    put_num(x, "estimate_j", c->a.replay_j.estimate);
    put_num(x, "agreement_pct", c->a.agreement_pct);
    put_num(x, "counter_saved_j", c->a.counter_saved_j);
    put_str(x, "verdict", lj_verdict_name(lj_report_ablation_verdict(r, c)));
    put_source(x, c->a.flags);
    put(x, "power_cap", json_boolean(c->a.flags & LJ_WINDOW_POWER_CAP));
    json_array_append_new(ab, x);
  }
  // the layer-skip checks (--per-layer): the real run without one layer against its replay
  json_t *ls = json_array();
  for (int i = 0; ls && i < r->n_layer_skips; i++) {
    const lj_layer_skip *s = &r->layer_skips[i];
    json_t *x = json_object();
    put_str(x, "phase", lj_phase_name(s->phase));
    put_int(x, "layer", s->layer);
    put_num(x, "saved_j", s->a.saved_j.estimate);
    put_num(x, "estimate_j", s->a.replay_j.estimate);
    put_num(x, "agreement_pct", s->a.agreement_pct);
    double lo, hi;
    lj_report_layer_skip_range(s, &lo, &hi);
    put_num(x, "agreement_lo_pct", lo);
    put_num(x, "agreement_hi_pct", hi);
    put_str(x, "verdict", lj_verdict_name(lj_report_layer_skip_verdict(r, s)));
    put_int(x, "includes_head_change", lj_report_layer_skip_head_change(r, s));
    put_num(x, "head_change_j", s->head_change_j.estimate);
    json_array_append_new(ls, x);
  }
  put(o, "shapley", sh);
  if (r->n_ranks > 1) put(o, "shapley_per_gpu", rank_shapley_part(r));  // tensor parallelism only
  put(o, "known_answer", ka);
  put(o, "ablations", ab);
  put(o, "ablation_windows", ablation_windows_part(r));
  put(o, "layer_skips", ls);
  put(o, "budgets", budgets_part(r));
  if (r->head_fit_valid) {
    const lj_head_fit *h = &r->head_fit;
    json_t *x = json_object();
    put_int(x, "kv_len", r->head_fit_kv);
    put_num(x, "fixed_j", h->fixed_j);
    put_num(x, "per_group_j", h->per_group_j);
    put_num(x, "per_head_j", h->per_head_j);
    put_num(x, "fixed_share", h->fixed_share);
    put_num(x, "r2", h->fit.r2);
    put_num(x, "counter_per_group_j", h->counter_per_group_j);
    put_num(x, "counter_r2", h->counter_r2);
    put_source(x, h->flags);
    put_num(x, "fixed_lo_j", h->fit.a_lo);
    put_num(x, "fixed_hi_j", h->fit.a_hi);
    put_num(x, "per_group_lo_j", h->fit.b_lo);
    put_num(x, "per_group_hi_j", h->fit.b_hi);
    put_int(x, "n_kv_heads", r->plan.config.n_kv_heads);
    // The measured points the line was fitted to: [KV groups, dynamic J per call] per trial.
    json_t *pts = json_array();
    for (size_t i = 0; pts && i < r->n_trials; i++) {
      const lj_profile_trial *t = &r->trials[i];
      if (t->groups <= 0 || !(t->t.calls > 0) || !isfinite(t->t.counter_energy_j)) continue;
      double j = (t->t.counter_energy_j - t->t.idle_w * t->t.duration_s) / (double)t->t.calls;
      json_t *pt = json_array();
      if (pt) json_array_append_new(pt, json_integer(t->groups)), json_array_append_new(pt, isfinite(j) ? json_real(j) : json_null());
      json_array_append_new(pts, pt);
    }
    put(x, "points", pts);
    put(o, "head_fit", x);
  }
  // The attention-head grid's fits (the page's table) and its skipped points.
  if (r->n_head_fits > 0 || r->n_head_points > 0) {
    json_t *fits = json_array(), *skips = json_array();
    for (size_t i = 0; fits && i < r->n_head_fits; i++) {
      const lj_head_grid_fit *h = &r->head_fits[i];
      json_t *x = json_object();
      put_str(x, "quantity", h->quantity);
      put_int(x, "batch", h->batch);
      put_int(x, "n_obs", h->n_obs);
      put_int(x, "n_points", h->n_points);
      const lj_interval *v[5] = {&h->fixed, &h->per_group, &h->per_byte, &h->per_head_small, &h->per_head_large};
      static const char *const k[5] = {"fixed", "per_group", "per_byte", "per_head_small", "per_head_large"};
      for (int j = 0; j < 5; j++) {
        char key[32];
        put_num(x, k[j], v[j]->estimate);
        snprintf(key, sizeof key, "%s_lo", k[j]), put_num(x, key, v[j]->lo);
        snprintf(key, sizeof key, "%s_hi", k[j]), put_num(x, key, v[j]->hi);
      }
      put_num(x, "r2", h->r2);
      put_num(x, "lof_f", isfinite(h->lof_f) ? h->lof_f : NAN);
      put_num(x, "lof_p", h->lof_p);
      put_int(x, "holds", h->holds);
      put_int(x, "small_batch", h->small_batch), put_int(x, "small_kv", h->small_kv);
      put_int(x, "large_batch", h->large_batch), put_int(x, "large_kv", h->large_kv);
      put_source(x, h->flags);
      json_array_append_new(fits, x);
    }
    for (size_t i = 0; skips && i < r->n_head_points; i++) {
      const lj_head_grid_point *p = &r->head_points[i];
      if (!p->skipped[0]) continue;
      json_t *x = json_object();
      put_int(x, "batch", p->batch), put_int(x, "kv_len", p->kv_len), put_int(x, "groups", p->groups);
      put_str(x, "skipped", p->skipped);
      json_array_append_new(skips, x);
    }
    json_t *g = json_object();
    put_int(g, "n_points", (long long)r->n_head_points);
    put(g, "fits", fits);
    put(g, "skipped", skips);
    put(o, "head_grid", g);
  }
  return o;
}

static json_t *findings_part(const lj_report_run *r) {
  lj_finding f[16];
  size_t n = lj_report_findings(r, f, 16);
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_object();
    put_str(o, "rule", f[i].rule);
    put_int(o, "level", f[i].level);
    put_str(o, "text", f[i].text);
    json_array_append_new(a, o);
  }
  return a;
}

json_t *lj_report_page_data(const lj_report_run *r) {
  const lj_profile_result *p = &r->prof;
  json_t *o = json_object();
  if (!o) return LJ_FAIL(LJ_ENOMEM, "report: out of memory"), NULL;
  put(o, "run", run_part(r));
  put(o, "model", model_part(&p->plan));
  put(o, "workload", workload_part(&p->plan));
  put(o, "gpu", gpu_part(p));
  put(o, "phases", phases_part(p));
  if (p->n_ranks > 1) put(o, "per_gpu", per_gpu_part(p));  // absent at degree 1: the page as before
  put(o, "closures", closures_part(p));
  put(o, "stages", stages_part(p));
  put(o, "groups", groups_part(p));
  put(o, "heatmap", heatmap_part(p));
  put(o, "layers", layers_part(p));
  put(o, "layer_stages", layer_stages_part(p));
  put(o, "windows", windows_part(p));
  put(o, "idle_curves", idle_curves_part(p));
  put(o, "extras", extras_part(p));
  put(o, "findings", findings_part(r));
  return o;
}
