// What the analysis of a profile shares between its methods (one file each,
// analyze_*.c): the KV length of a decode step, the in-situ time per call, a
// stage's shape, and the completion of an estimate derived from differences
// of trials. profile_analyze.c runs the methods in order.
#pragma once
#include <stdint.h>

#include "profile/profile_analyze.h"
#include "profile/stage_cost.h"

// Step i (1 .. gen_len - 1) of a decode unit runs with P + i - 1 positions cached.
int64_t lj_analyze_decode_step_kv(const lj_profile_plan *p, int i);
// Index of kv in plan.decode_kv (-1: not replayed).
int lj_analyze_kv_index_of(const lj_profile_plan *p, int64_t kv);
// Mean in-situ duration of a stage's intervals in a phase, less one timestamp's cost (NAN: none).
double lj_analyze_insitu_time(const lj_profile_result *r, lj_phase ph, lj_stage st, int64_t kv);
void lj_analyze_shape_of(const lj_profile_plan *p, lj_phase ph, int64_t kv, lj_stage_shape *sh);
// A derived interval as a mean with its se and df (what the interval functions take).
void lj_analyze_mean_from_interval(const lj_interval *iv, lj_mean_ci *out);
// Per call of a trial: dynamic and gross energy by the counter, time, and the dynamic and gross
// energy by the power samples (NAN where its samples cannot stand for it: lj_trial_samples_usable).
typedef struct {
  double dyn, gross, time, sdyn, sgross;
} lj_trial_per_call;
// 0 when the trial has no counter energy, calls or duration.
int lj_analyze_trial_per_call(const lj_profile_trial *t, lj_trial_per_call *out);
// The estimate of stage st by method m in phase ph, at KV length kv where there is one (else any).
const lj_profile_stage *lj_analyze_find_stage(const lj_profile_result *r, lj_profile_method m, lj_phase ph,
                                              lj_stage st, int64_t kv);
// Isolation's per-call attention energy of decode over the whole generation (the replayed KV
// lengths weighted by the calls they stand for; analyze_ablation.c).
int lj_analyze_decode_attention_per_call(const lj_profile_result *r, lj_mean_ci *out);
// An ablation of `st` (calls per unit) against per_call, from the per-unit dynamic energies of
// the full and the ablated windows by the counter (full, abl) and by the samples (full_s,
// abl_s: only the windows whose samples can stand for them): the samples' where every window
// of both sets has them, the counter's saved energy beside, and the source flags.
int lj_analyze_ablation_sources(lj_stage st, int64_t calls, const double *full, int n_full, const double *abl,
                                int n_abl, const double *full_s, int n_full_s, const double *abl_s, int n_abl_s,
                                const lj_mean_ci *per_call, double level, lj_ablation *out);
// The same from one phase's ablation windows in the order they ran (raw->abl_*[pi], bracket.h): the
// pairs of `kind` (each window of it between two full ones), the samples' where they give every pair
// the counter gives, the counter's mean saving beside. 1: computed; 0: fewer than min_pairs pairs.
int lj_analyze_ablation_pairs(lj_stage st, int64_t calls, const lj_profile_raw *raw, int pi, int kind,
                              size_t min_pairs, const lj_mean_ci *per_call, double level, lj_ablation *out);
// Completes and adds an estimate a method derived from differences of trials.
int lj_analyze_add_derived_stage(lj_profile_result *r, lj_profile_stage *s);

// The methods, in the order lj_profile_analyze runs them.
void lj_analyze_stamp_cost(lj_profile_result *r, const lj_profile_raw *raw);  // analyze_overhead.c
int lj_analyze_isolation(lj_profile_result *r);                               // analyze_isolation.c
int lj_analyze_closures(lj_profile_result *r);                                // analyze_closure.c
// analyze_sequence.c: a phase's sequence estimates, and the whole layer's per-call energy.
int lj_analyze_sequence(lj_profile_result *r, lj_phase ph, lj_mean_ci *layer_gross, lj_mean_ci *layer_dyn,
                        int *complete);
// analyze_closure.c: the closure of one phase by one method (shares of its estimates too).
int lj_analyze_closure_of(lj_profile_result *r, lj_phase ph, lj_profile_method method, lj_closure *out);
int lj_analyze_closure_sequence(lj_profile_result *r, lj_phase ph, const lj_mean_ci *layer_gross,
                                const lj_mean_ci *layer_dyn);                 // analyze_sequence.c
int lj_analyze_timeline(lj_profile_result *r, const lj_sample *power, size_t n_power, int device);  // analyze_timeline.c
int lj_analyze_ablation(lj_profile_result *r, const lj_profile_raw *raw);     // analyze_ablation.c
int lj_analyze_shapley(lj_profile_result *r);                                 // analyze_shapley.c
// One phase's pairwise Shapley split of the layer's stages (the all-reduce stages with them at
// tensor-parallel degree > 1): r->shapley[ph] and its shapley rows (analyze_shapley.c).
int lj_analyze_shapley_phase(lj_profile_result *r, lj_phase ph);
// At tensor-parallel degree > 1 (analyze_shapley_tp.c): the split of the run's own figures (the sum
// over the GPUs) and of each rank's GPU alone (r->ranks[k]: its isolation and Shapley estimates and
// checks, each check judged with the rank's own uncertainty budget).
int lj_analyze_shapley_tp(lj_profile_result *r);
// A group of the layer's stages per call (1: found), its interval from the rounds' group sums
// (the stages' values are correlated within a round): by sequence (analyze_sequence.c) and by
// Shapley (analyze_shapley.c), from the source the method's estimates took.
int lj_analyze_sequence_group(const lj_profile_result *r, lj_phase ph, const lj_stage *st, int n, lj_mean_ci *out);
int lj_analyze_shapley_group(const lj_profile_result *r, lj_phase ph, const lj_stage *st, int n, lj_mean_ci *out);
// The same by the layer's own game (its Shapley values summed round by round).
int lj_analyze_shapley_layer_group(const lj_profile_result *r, lj_phase ph, const lj_stage *st, int n,
                                   lj_mean_ci *out);
int lj_analyze_known_answer(lj_profile_result *r);                            // analyze_known_answer.c
int lj_analyze_ablation_checks(lj_profile_result *r, const lj_profile_raw *raw);  // analyze_ablation_checks.c
int lj_analyze_head_fit(lj_profile_result *r);                                // analyze_head_fit.c
int lj_analyze_overheads(lj_profile_result *r, const lj_profile_raw *raw);    // analyze_overhead.c
void lj_analyze_power_cap(lj_profile_result *r);                              // analyze_power_cap.c
