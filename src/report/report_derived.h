// Figures both reports derive from a profile result the same way: phase
// shares, stage-group sums, replay shares per stage, the roofline side of a
// stage and the pass marks against the project's targets. Kept in one place
// so that the text and the JSON can never disagree.
#pragma once
#include "common/verdict.h"
#include "store/profile_result.h"

#define LJ_REPORT_RIDGE_FLOP_PER_BYTE 300.0  // H100/H200 dense bf16 FLOP/s over HBM B/s, rounded
#define LJ_REPORT_CLOSURE_TARGET_PCT 5.0     // the dynamic closure error's whole interval within +-this passes
#define LJ_REPORT_OVERHEAD_TARGET_PCT 3.0    // measurement overhead within this passes
#define LJ_REPORT_TIME_RATIO_TOLERANCE 0.10  // |replayed / in-situ time - 1| beyond this is flagged

// Sum over the measured phases of their per-unit energy (one run); NAN when none.
double lj_report_phase_total_j(const lj_profile_result *r, int dynamic);
// The phase's per-unit energy over that total; NAN when unknown.
// 1 for a phase that runs on the CPU while the GPU idles (tokenize, detokenize): its energy above
// the idle baseline is noise, not work, so the reports give it no dynamic figures.
int lj_report_phase_gpu_idle(lj_phase p);
// r's summary of phase p as the reports show it: a GPU-idle phase's dynamic figures undefined.
void lj_report_phase_view(const lj_profile_result *r, lj_phase p, lj_phase_summary *out);
double lj_report_phase_share(const lj_profile_result *r, lj_phase p, int dynamic);
// Phase p's gross energy per unit by the energy counter, the mean over its windows (NAN: none had
// it): the figure beside the samples' where the phase took the samples (cnt-buf of the text).
double lj_report_phase_counter_gross_j(const lj_profile_result *r, lj_phase p);
// The per-GPU table's row k of phase p (tensor-parallel degree > 1): rank k's summary for k <
// r->n_ranks, the sum (the run's own) for k == r->n_ranks; NULL when that one was not measured.
// *share: its gross energy over the sum's (NAN: unknown).
const lj_phase_summary *lj_report_rank_row(const lj_profile_result *r, int k, lj_phase p, double *share);

// A stage group in one phase: the sum over its stage estimates (every KV row).
typedef struct {
  int n_estimates;
  lj_interval dynamic_j;  // per unit: sum of calls_per_unit x dynamic per call, with its interval
  lj_interval gross_j;
  double share_dynamic, share_gross;  // sums of the estimates' shares
  double time_s;                      // per unit: sum of calls_per_unit x time per call (NAN: one unknown)
} lj_report_group;

int lj_report_group_sum(const lj_profile_result *r, lj_phase p, lj_stage_group g, lj_report_group *out);
// The communication (the all-reduce stages, tensor parallelism) per token of phase p: its dynamic
// energy (J/token, with the group's interval) and its time (s/token). 0 with no all-reduce
// estimate in the phase (a degree-1 run); 1 when filled.
int lj_report_comm_per_token(const lj_profile_result *r, lj_phase p, lj_interval *j_per_token, double *s_per_token);
// The same with the stages grouped by group_of instead of lj_stage_group_of and the estimates of
// method m instead of the phase's reported method.
int lj_report_group_sum_by(const lj_profile_result *r, lj_phase p, lj_stage_group g,
                           lj_stage_group (*group_of)(lj_stage), lj_profile_method m, lj_report_group *out);
// s's efficiency, every figure NAN when its dynamic estimate is not positive (stores written
// before lj_stage_efficiency_compute did so hold numbers there).
void lj_report_stage_efficiency(const lj_profile_stage *s, lj_stage_efficiency *out);
// Sum of lj_profile_stage_share over the reported method's estimates of (phase, stage); NAN when none.
double lj_report_replay_share(const lj_profile_result *r, lj_phase p, lj_stage s);
// Number of estimates of the phase (0: the phase was not replayed).
size_t lj_report_stage_count(const lj_profile_result *r, lj_phase p);

// "memory" or "compute" by the cost's FLOP/byte against the ridge; "link" for a stage whose bytes
// cross the link between GPUs (the all-reduce stages: apart from HBM, no ridge); NULL when unknown.
const char *lj_report_bound(const lj_stage_cost *c);
// A closure's verdict (common/verdict.h: PASS when the whole interval of the dynamic error lies
// within +-target, MISS when the whole interval lies outside, else INCONCLUSIVE). The interval
// judged is the error +- the total of the run's uncertainty budget for that check where it has
// one (every measured and bound term in quadrature, docs/attribution.md §3b), else the trials'
// interval alone (stores before schema 12). r may be NULL: the trials' interval.
lj_verdict lj_report_closure_verdict(const lj_profile_result *r, const lj_closure *c, lj_profile_method m);
// The interval the closure's verdict judges: the dynamic error +- its budget's total, else the trials'.
void lj_report_closure_range(const lj_profile_result *r, const lj_closure *c, lj_profile_method m, double *lo_pct,
                             double *hi_pct);
// *lo_pct, *hi_pct: pct -+ b's total in percent of its reference where b has one (else unchanged).
void lj_report_budget_range(const lj_budget *b, double pct, double *lo_pct, double *hi_pct);
// The Shapley split's additive check by that rule: its residual (sum of the values - the whole
// layer) against +-LJ_REPORT_CLOSURE_TARGET_PCT of the layer; NONE where it was not computed.
lj_verdict lj_report_shapley_verdict(const lj_profile_result *r, const lj_shapley_check *c);
// One tensor-parallel rank's additive check (rk->shapley: its GPU's own split) by the same rule with
// that GPU's own budget (rk->budgets), as the sum's with the run's. A store before schema 19 kept no
// rank budgets: PASS where the analysis passed it with the budget (c->pass), else by the residual's
// interval alone, MISS wholly outside, INCONCLUSIVE otherwise; NONE: not computed.
lj_verdict lj_report_rank_shapley_verdict(const lj_profile_rank *rk, const lj_shapley_check *c);
// The additive check of GPU k of a tensor-parallel run (k < r->n_ranks) or of their sum (k == r->n_ranks,
// the run's own) in phase p, as the per-GPU tables show it: the budget it is judged with (NULL: none
// stored), that budget's total in % of the layer (NAN: none), the interval the verdict judges (the
// residual +- that total, else the trials' interval) and the verdict.
typedef struct {
  const lj_shapley_check *c;
  const lj_budget *budget;
  double budget_pct, judged_lo_pct, judged_hi_pct;
  lj_verdict verdict;
} lj_report_gpu_check;
void lj_report_gpu_check_of(const lj_profile_result *r, int k, lj_phase p, lj_report_gpu_check *out);
// A known answer (error against +-LJ_REPORT_CHECK_TARGET_PCT) and an ablation check (agreement
// against the same) by that rule; NONE where no percentage is known.
#define LJ_REPORT_CHECK_TARGET_PCT 10.0
lj_verdict lj_report_known_verdict(const lj_profile_result *r, const lj_known_answer *k);
lj_verdict lj_report_ablation_verdict(const lj_profile_result *r, const lj_ablation_check *c);
// The budget term with the largest half-width among the measured and bound ones ("trial", "idle",
// "edge"; NULL: none) and its half-width in J.
const char *lj_report_budget_largest(const lj_budget *b, double *half_j);
// A layer skip's verdict by that rule: its agreement (saved / estimate - 1) with the ratio's interval
// against +-LJ_LAYER_SKIP_TARGET_PCT; NONE where the estimate was zero (no agreement). The last layer
// (lj_report_layer_skip_head_change) passes only with the head's change in its estimate
// (head_change_j; older stores lack it).
lj_verdict lj_report_layer_skip_verdict(const lj_profile_result *r, const lj_layer_skip *s);
// The agreement's interval in percent (NAN where the ratio has none).
void lj_report_layer_skip_range(const lj_layer_skip *s, double *lo_pct, double *hi_pct);
// 1 when s skipped the last decoder layer: that also changes the input of the final norm and the LM
// head, whose power depends on its operands, so the saving is not that layer's energy alone.
int lj_report_layer_skip_head_change(const lj_profile_result *r, const lj_layer_skip *s);
// 1 pass (LJ_VERDICT_PASS), 0 not (miss or inconclusive), -1 not computed.
int lj_report_closure_pass(const lj_profile_result *r, const lj_closure *c, lj_profile_method m);
int lj_report_overhead_pass(const lj_profile_overhead *o);
// 1 when the replayed time per call is off the in-situ one by more than the tolerance.
int lj_report_time_ratio_off(double time_ratio);
// The enforced power limit: the run's reading, else the device's; NAN when unknown.
double lj_report_power_limit_w(const lj_profile_result *r);
// Why a timing-only run has no energy, one phrase.
const char *lj_report_timing_reason(const lj_profile_result *r);
