// The uncertainty budget of every estimate and check (docs/attribution.md §3b):
// beside the trials' spread, how wrong the idle power subtracted can be (the
// idle curve's standard errors, or the flat idle's spread and its missing
// temperature dependence) and how much a window's edges can misplace (one
// sample period, or the counter's update period and resolution), each as a
// half-width in joules, and the card-to-card term that one run cannot measure.
#pragma once
#include "store/profile_result.h"

#define LJ_BUDGET_SAMPLE_PERIOD_S 0.020       // the driver's power samples (H100: median 20 ms)
#define LJ_BUDGET_COUNTER_PERIOD_S 0.100      // the energy counter's update period (H100: ~100 ms)
#define LJ_BUDGET_COUNTER_RESOLUTION_J 0.001  // the counter's unit (mJ)
#define LJ_BUDGET_LEAKAGE_W_PER_C 1.5         // leakage slope bound where no idle curve was fitted (issue 14)

// How wrong the idle power subtracted at temperature T can be: u_a + u_b x (T - tref), the two
// parts combined in quadrature.
typedef struct {
  int curve;           // 1: the run's idle curve was subtracted (its fit gives u_a, u_b: measured)
  double u_a_w;        // curve: t x se(a); flat idle: the idle readings' sd
  double u_b_w_per_c;  // curve: t x se(slope); flat idle: a slope bound (the unusable fit's wider end, or
                       // LJ_BUDGET_LEAKAGE_W_PER_C without a fit)
  double tref_c;       // curve: t0; flat idle: the temperature it was measured at (the run's coolest)
  double t_hot_c;      // the run's hottest reading: bounds a term whose own temperature is unknown
  // The sum over the GPUs of a tensor-parallel run: the slope term is each GPU's own,
  // u_b x (T - tref) at that GPU's temperatures, summed over the GPUs (their leakage grows alike with
  // the heat: a bound, not a spread); a GPU with a usable curve of its own takes t x se(slope) from
  // its T0, one without the flat idle's slope bound from its coolest reading; u_a is then the GPUs'
  // in quadrature and curve 1 only when every GPU has its curve; u_b, tref_c, t_hot_c above are
  // unused. 0: one GPU's model.
  int n_gpus;
  double gpu_u_b_w_per_c[LJ_PROFILE_MAX_RANKS], gpu_tref_c[LJ_PROFILE_MAX_RANKS], gpu_t_hot_c[LJ_PROFILE_MAX_RANKS];
} lj_budget_idle_model;
void lj_budget_idle_model_of(const lj_profile_result *r, lj_budget_idle_model *m);

// A linear combination sum c_k x_k of estimates, each with its time t_k (s) at temperature T_k and its
// edge bound e_k (J): its exposure to the idle error and its edges.
typedef struct {
  double s0;      // sum c t (s): the idle power's error times this is the energy's
  double s1;      // sum c t (T - tref) over the terms with a temperature (s C)
  double s1_abs;  // sum |c| t |t_hot - tref| over the terms without one (their sign unknown)
  double edge;    // sum c e (J): every window under-reads (a bias of one sign), so a balanced check cancels it
  double gpu_s1[LJ_PROFILE_MAX_RANKS], gpu_s1_abs[LJ_PROFILE_MAX_RANKS];  // s1, s1_abs per GPU (m->n_gpus)
} lj_budget_sum;
// Zero it before the first add: lj_budget_sum x = {0}.
void lj_budget_add(lj_budget_sum *x, const lj_budget_idle_model *m, double c, double t_s, double temp_c, double edge_j);
// The same with each GPU's own temperature of the term, gpu_temp_c[k] for k < m->n_gpus (NAN: unknown);
// with one GPU's model, gpu_temp_c[0].
void lj_budget_add_gpus(lj_budget_sum *x, const lj_budget_idle_model *m, double c, double t_s,
                        const double *gpu_temp_c, double edge_j);
// sqrt((u_a s0)^2 + (u_b (|s1| + s1_abs))^2); over several GPUs the second part is
// sum_k u_b,k (|s1_k| + s1_abs_k).
double lj_budget_idle_j(const lj_budget_idle_model *m, const lj_budget_sum *x);
// The edge bound of one window of dynamic_j over duration_s: what its edges misplace that the
// randomised start offsets do not turn into trial spread. The power samples (linear between samples
// h = LJ_BUDGET_SAMPLE_PERIOD_S apart) under-read a step down of dP at the window's end, u after the
// last sample, by dP u^2 / (2h): at most dP h / 2, on average dP h / 6 over a uniform u; the
// random part is in the trials' spread, the mean is the bias, with dP at most the window's dynamic
// power (its start follows a pre-roll of the same work: no step). The counter's two reads are each
// up to one update period stale, but after a pre-roll both see the same power, so their staleness
// cancels on average: what stays is the resolution at each end.
double lj_budget_window_edge_j(double dynamic_j, double duration_s, int samples);
// total_j: the measured and bound terms in quadrature (a not-measured term stays out).
void lj_budget_total(lj_budget *b);
// A budget with its key, every term not measured.
void lj_budget_init(lj_budget *b, const char *kind, lj_phase p, lj_profile_method m, lj_stage s);

// The budgets of r's phases, J/token, stage and layer estimates, closures, Shapley checks, known
// answers and ablation checks (replaces any r holds).
int lj_analyze_budgets(lj_profile_result *r);
