// The profile's tables described once (record_desc.h): each line is one
// field, in the JSON's order; SQL column order does not matter (INSERTs and
// SELECTs name their columns). sql / json / csv NULL: not in that format.
#include "store/record_desc.h"

#include <string.h>

#define MEMBER_SIZE(T, m) sizeof(((T *)0)->m)
#define FIELD(sql, json, csv, type, unit, T, m) {sql, json, csv, type, unit, offsetof(T, m), MEMBER_SIZE(T, m), NULL}
#define NESTED(group, sql, json, csv, type, unit, T, m) \
  {sql, json, csv, type, unit, offsetof(T, m), MEMBER_SIZE(T, m), group}
#define DERIVED(json, unit) {NULL, json, NULL, LJ_FIELD_DERIVED, unit, 0, 0, NULL}
#define NESTED_DERIVED(group, json, unit) {NULL, json, NULL, LJ_FIELD_DERIVED, unit, 0, 0, group}
// The tensor-parallel rank (schema 14): last in every per-rank table; CSV sections hold the run's
// own figures, their rank is the plan's.
#define TP_RANK {"tp_rank", "tp_rank", NULL, LJ_FIELD_TP_RANK, "", 0, 0, NULL}
#define DESC(table, fields) {table, fields, sizeof fields / sizeof fields[0]}

const char *lj_field_suffix(const char *unit) {
  if (!strcmp(unit, "J")) return "_j";
  if (!strcmp(unit, "s")) return "_s";
  if (!strcmp(unit, "%")) return "_pct";
  return "";
}

#define T lj_phase_summary
static const lj_field kPhaseSummary[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("n_windows", "n", "windows", LJ_FIELD_INT, "", T, n),
    FIELD("tokens_per_unit", "tokens_per_unit", "tokens_per_unit", LJ_FIELD_I64, "", T, tokens_per_unit),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, time_s.level),
    FIELD("time", "time_s", "time_s", LJ_FIELD_CI, "s", T, time_s),
    FIELD("gross", "gross_j", "gross_j", LJ_FIELD_CI, "J", T, gross_j),
    FIELD("dynamic", "dynamic_j", "dynamic_j", LJ_FIELD_CI, "J", T, dynamic_j),
    FIELD("sample_gross", "sample_gross_j", NULL, LJ_FIELD_CI, "J", T, sample_gross_j),
    FIELD("gross_j_per_token", "gross_j_per_token", "gross_j_per_token", LJ_FIELD_REAL, "J", T, gross_j_per_token),
    FIELD("dynamic_j_per_token", "dynamic_j_per_token", "dynamic_j_per_token", LJ_FIELD_REAL, "J", T,
          dynamic_j_per_token),
    FIELD("tokens_per_gross_j", "tokens_per_gross_j", "tokens_per_gross_j", LJ_FIELD_REAL, "", T, tokens_per_gross_j),
    FIELD("tokens_per_dynamic_j", "tokens_per_dynamic_j", "tokens_per_dynamic_j", LJ_FIELD_REAL, "", T,
          tokens_per_dynamic_j),
    DERIVED("share_gross", ""),
    DERIVED("share_dynamic", ""),
    DERIVED("gpu_idle", ""),  // a CPU phase: no dynamic figures (lj_report_phase_gpu_idle)
    FIELD("window_flags", "window_flags", NULL, LJ_FIELD_FLAGS, "", T, window_flags),
    TP_RANK,
};
const lj_record_desc lj_desc_phase_summary = DESC("phase_summaries", kPhaseSummary);
#undef T

#define T lj_profile_stage
static const lj_field kStage[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, est.key.phase),
    FIELD("stage", "stage", "stage", LJ_FIELD_STAGE, "", T, est.key.stage),
    FIELD(NULL, "group", NULL, LJ_FIELD_GROUP, "", T, est.key.stage),
    FIELD("layer", "layer", NULL, LJ_FIELD_INT, "", T, est.key.layer),
    FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, est.key.kv_len),
    FIELD("method", "method", "method", LJ_FIELD_METHOD, "", T, method),
    FIELD("n_trials", "n_trials", "trials", LJ_FIELD_INT, "", T, est.n_trials),
    FIELD("calls_per_unit", "calls_per_unit", "calls_per_unit", LJ_FIELD_REAL, "", T, calls_per_unit),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, est.gross_j.level),
    // The estimate is the counter's or the samples' (window_flags' sample_energy says which): the
    // store keeps the two sources, in the columns they always had; the reader picks it again.
    FIELD(NULL, "gross_j", "gross_j", LJ_FIELD_CI, "J", T, est.gross_j),
    FIELD(NULL, "dynamic_j", "dynamic_j", LJ_FIELD_CI, "J", T, est.dynamic_j),
    FIELD("gross", "counter_gross_j", NULL, LJ_FIELD_CI, "J", T, est.counter_gross_j),
    FIELD("dynamic", "counter_dynamic_j", "counter_dynamic_j", LJ_FIELD_CI, "J", T, est.counter_dynamic_j),
    FIELD("sample_gross", "sample_gross_j", NULL, LJ_FIELD_CI, "J", T, est.sample_gross_j),
    FIELD("sample_dynamic", "sample_dynamic_j", NULL, LJ_FIELD_CI, "J", T, est.sample_dynamic_j),
    DERIVED("dynamic_j_per_unit", "J"),
    DERIVED("gross_j_per_unit", "J"),
    FIELD("share_dynamic", NULL, "share_dynamic", LJ_FIELD_REAL, "", T, share_dynamic),
    FIELD("share_gross", NULL, NULL, LJ_FIELD_REAL, "", T, share_gross),
    DERIVED("share_dynamic", ""),  // lj_profile_stage_share: the same denominator in old stores too
    DERIVED("share_gross", ""),
    FIELD("time_per_call", "time_per_call_s", "time_per_call_s", LJ_FIELD_CI, "s", T, est.time_per_call_s),
    FIELD("insitu_time_per_call_s", "insitu_time_per_call_s", NULL, LJ_FIELD_REAL, "s", T,
          est.insitu_time_per_call_s),
    FIELD("time_ratio", "time_ratio", "time_ratio", LJ_FIELD_REAL, "", T, est.time_ratio),
    FIELD("counter_vs_sample_pct", "counter_vs_sample_pct", NULL, LJ_FIELD_REAL, "%", T, est.counter_vs_sample_pct),
    FIELD("temperature_min_c", "temperature_min_c", NULL, LJ_FIELD_FINITE, "C", T, est.temperature_min_c),
    FIELD("temperature_max_c", "temperature_max_c", NULL, LJ_FIELD_FINITE, "C", T, est.temperature_max_c),
    FIELD("window_flags", "window_flags", NULL, LJ_FIELD_FLAGS, "", T, est.window_flags),
    NESTED("cost", "flops", "flops", "flops", LJ_FIELD_I64, "FLOP", T, cost.flops),
    NESTED("cost", "weight_bytes", "weight_bytes", NULL, LJ_FIELD_I64, "B", T, cost.weight_bytes),
    NESTED("cost", "act_read_bytes", "act_read_bytes", NULL, LJ_FIELD_I64, "B", T, cost.act_read_bytes),
    NESTED("cost", "act_write_bytes", "act_write_bytes", NULL, LJ_FIELD_I64, "B", T, cost.act_write_bytes),
    NESTED("cost", "kv_read_bytes", "kv_read_bytes", NULL, LJ_FIELD_I64, "B", T, cost.kv_read_bytes),
    NESTED("cost", "kv_write_bytes", "kv_write_bytes", NULL, LJ_FIELD_I64, "B", T, cost.kv_write_bytes),
    NESTED("cost", "bytes", "bytes", "bytes", LJ_FIELD_I64, "B", T, cost.bytes),
    NESTED("cost", NULL, "link_bytes", NULL, LJ_FIELD_I64, "B", T, cost.link_bytes),  // not stored: derived on read
    FIELD("flops_per_byte", NULL, NULL, LJ_FIELD_REAL, "FLOP/B", T, cost.flops_per_byte),
    NESTED_DERIVED("cost", "flops_per_byte", "FLOP/B"),  // null without bytes
    DERIVED("bound", ""),
    NESTED("efficiency", "dynamic_j_per_flop", "j_per_flop", "dynamic_j_per_flop", LJ_FIELD_REAL, "J/FLOP", T,
           eff.j_per_flop),
    NESTED("efficiency", "dynamic_j_per_flop_lo", "j_per_flop_lo", NULL, LJ_FIELD_REAL, "J/FLOP", T, eff.j_per_flop_lo),
    NESTED("efficiency", "dynamic_j_per_flop_hi", "j_per_flop_hi", NULL, LJ_FIELD_REAL, "J/FLOP", T, eff.j_per_flop_hi),
    NESTED("efficiency", "dynamic_j_per_byte", "j_per_byte", "dynamic_j_per_byte", LJ_FIELD_REAL, "J/B", T,
           eff.j_per_byte),
    NESTED("efficiency", "dynamic_j_per_byte_lo", "j_per_byte_lo", NULL, LJ_FIELD_REAL, "J/B", T, eff.j_per_byte_lo),
    NESTED("efficiency", "dynamic_j_per_byte_hi", "j_per_byte_hi", NULL, LJ_FIELD_REAL, "J/B", T, eff.j_per_byte_hi),
    NESTED("efficiency", "flops_per_dynamic_j", "flops_per_j", NULL, LJ_FIELD_REAL, "FLOP/J", T, eff.flops_per_j),
    NESTED("efficiency", "bytes_per_dynamic_j", "bytes_per_j", NULL, LJ_FIELD_REAL, "B/J", T, eff.bytes_per_j),
    TP_RANK,
};
const lj_record_desc lj_desc_stage = DESC("stage_estimates", kStage);
#undef T

#define T lj_profile_trial
static const lj_field kTrial[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, key.phase),
    FIELD("stage", "stage", "stage", LJ_FIELD_STAGE_OR_NONE, "", T, key.stage),
    FIELD(NULL, "group", NULL, LJ_FIELD_GROUP, "", T, key.stage),
    FIELD("layer", "layer", NULL, LJ_FIELD_INT, "", T, key.layer),
    FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, key.kv_len),
    FIELD("trial", "trial", "trial", LJ_FIELD_INT, "", T, trial),
    FIELD("kv_groups", "groups", "groups", LJ_FIELD_INT, "", T, groups),
    FIELD("method", "method", "method", LJ_FIELD_METHOD, "", T, method),
    FIELD("counter_j", "counter_energy_j", "counter_j", LJ_FIELD_REAL, "J", T, t.counter_energy_j),
    FIELD("sample_j", "sample_energy_j", "sample_j", LJ_FIELD_REAL, "J", T, t.sample_energy_j),
    FIELD("duration_s", "duration_s", "duration_s", LJ_FIELD_REAL, "s", T, t.duration_s),
    FIELD("calls", "calls", "calls", LJ_FIELD_I64, "", T, t.calls),
    FIELD("temperature_c", "temperature_c", "temperature_c", LJ_FIELD_REAL, "C", T, t.temperature_c),
    FIELD("idle_w", "idle_w", "idle_w", LJ_FIELD_REAL, "W", T, t.idle_w),
    FIELD("start_offset_ns", "start_offset_ns", NULL, LJ_FIELD_I64, "ns", T, t.start_offset_ns),
    FIELD("window_flags", "window_flags", NULL, LJ_FIELD_FLAGS, "", T, t.window_flags),
    FIELD("gap_s", NULL, "gap_s", LJ_FIELD_REAL, "s", T, t.gap_s),
    FIELD("variant", "variant", "variant", LJ_FIELD_INT, "", T, variant),
    FIELD("batch", "batch", "batch", LJ_FIELD_INT, "", T, batch),
    TP_RANK,
};
const lj_record_desc lj_desc_trial = DESC("replay_trials", kTrial);
#undef T

#define T lj_closure_row
static const lj_field kClosure[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, c.phase),
    FIELD("method", "method", "method", LJ_FIELD_METHOD, "", T, method),
    FIELD("n_terms", "n_terms", "terms", LJ_FIELD_INT, "", T, c.n_terms),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, c.predicted_gross_j.level),
    FIELD("measured_gross_j", "measured_gross_j", "measured_gross_j", LJ_FIELD_REAL, "J", T, c.measured_gross_j),
    FIELD("measured_dynamic_j", "measured_dynamic_j", "measured_dynamic_j", LJ_FIELD_REAL, "J", T,
          c.measured_dynamic_j),
    FIELD("predicted_gross", "predicted_gross_j", NULL, LJ_FIELD_IV, "J", T, c.predicted_gross_j),
    FIELD("predicted_dynamic", "predicted_dynamic_j", "predicted_dynamic_j", LJ_FIELD_IV, "J", T,
          c.predicted_dynamic_j),
    FIELD("error_gross_pct", "error_gross_pct", NULL, LJ_FIELD_REAL, "%", T, c.error_gross_pct),
    FIELD("error_gross_lo_pct", "error_gross_lo_pct", NULL, LJ_FIELD_REAL, "%", T, c.error_gross_lo_pct),
    FIELD("error_gross_hi_pct", "error_gross_hi_pct", NULL, LJ_FIELD_REAL, "%", T, c.error_gross_hi_pct),
    FIELD("error_dynamic_pct", "error_dynamic_pct", "error_dynamic_pct", LJ_FIELD_REAL, "%", T, c.error_dynamic_pct),
    FIELD("error_dynamic_lo_pct", "error_dynamic_lo_pct", "error_dynamic_lo_pct", LJ_FIELD_REAL, "%", T,
          c.error_dynamic_lo_pct),
    FIELD("error_dynamic_hi_pct", "error_dynamic_hi_pct", "error_dynamic_hi_pct", LJ_FIELD_REAL, "%", T,
          c.error_dynamic_hi_pct),
    DERIVED("judged_lo_pct", "%"),  // the interval the verdict judges: the error +- the budget's total
    DERIVED("judged_hi_pct", "%"),
    DERIVED("target_pct", "%"),
    DERIVED("pass", ""),
    DERIVED("verdict", ""),
    TP_RANK,
};
const lj_record_desc lj_desc_closure = DESC("closures", kClosure);
#undef T

#define T lj_timeline_phase_row
static const lj_field kTimelinePhase[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("device_index", NULL, NULL, LJ_FIELD_INT, "", T, device),
    FIELD("idle_w", NULL, NULL, LJ_FIELD_REAL, "W", T, idle_w),
    FIELD("n_samples", NULL, NULL, LJ_FIELD_INT, "", T, n_samples),
    FIELD("flags", NULL, NULL, LJ_FIELD_FLAGS, "", T, flags),
    FIELD("n_intervals", "n_intervals", "n_intervals", LJ_FIELD_INT, "", T, t.n_intervals),
    FIELD("begin_ns", "begin_ns", "begin_ns", LJ_FIELD_I64, "ns", T, t.begin_ns),
    FIELD("end_ns", "end_ns", "end_ns", LJ_FIELD_I64, "ns", T, t.end_ns),
    FIELD("span_s", "span_s", "span_s", LJ_FIELD_REAL, "s", T, t.span_s),
    FIELD("energy_j", "energy_j", "energy_j", LJ_FIELD_REAL, "J", T, t.energy_j),
    FIELD("dynamic_j", "dynamic_j", "dynamic_j", LJ_FIELD_REAL, "J", T, t.dynamic_j),
    FIELD("attributed_j", "attributed_j", "attributed_j", LJ_FIELD_REAL, "J", T, t.attributed_j),
    FIELD("attributed_dynamic_j", "attributed_dynamic_j", "attributed_dynamic_j", LJ_FIELD_REAL, "J", T,
          t.attributed_dynamic_j),
    FIELD("gap_s", "gap_s", "gap_s", LJ_FIELD_REAL, "s", T, t.gap_s),
    FIELD("gap_j", "gap_j", "gap_j", LJ_FIELD_REAL, "J", T, t.gap_j),
    FIELD("gap_dynamic_j", "gap_dynamic_j", "gap_dynamic_j", LJ_FIELD_REAL, "J", T, t.gap_dynamic_j),
    FIELD("overlap_s", "overlap_s", "overlap_s", LJ_FIELD_REAL, "s", T, t.overlap_s),
    TP_RANK,
};
const lj_record_desc lj_desc_timeline_phase = DESC("timeline_phases", kTimelinePhase);
#undef T

#define T lj_timeline_stage_row
static const lj_field kTimelineStage[] = {
    FIELD("phase", NULL, "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("stage", "stage", "stage", LJ_FIELD_STAGE, "", T, stage),
    FIELD("calls", "calls", "calls", LJ_FIELD_I64, "", T, t.calls),
    FIELD("time_s", "time_s", "time_s", LJ_FIELD_REAL, "s", T, t.time_s),
    FIELD("energy_j", "energy_j", "energy_j", LJ_FIELD_REAL, "J", T, t.energy_j),
    FIELD("dynamic_j", "dynamic_j", "dynamic_j", LJ_FIELD_REAL, "J", T, t.dynamic_j),
    FIELD("share_gross", "share_gross", "share_gross", LJ_FIELD_REAL, "", T, t.share_gross),
    FIELD("share_dynamic", "share_dynamic", "share_dynamic", LJ_FIELD_REAL, "", T, t.share_dynamic),
    DERIVED("replay_share_dynamic", ""),
    TP_RANK,
};
const lj_record_desc lj_desc_timeline_stage = DESC("timeline_stages", kTimelineStage);
#undef T

// An ablation's fields, at member path A of record T (the single decode ablation and the checks).
#define ABLATION_FIELDS(T, A)                                                                               \
  FIELD("stage", "stage", "stage", LJ_FIELD_STAGE, "", T, A stage),                                          \
      FIELD("calls", "calls", "calls", LJ_FIELD_I64, "", T, A calls),                                        \
      FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, A full_j.level),                                     \
      FIELD("full", "full_j", "full_j", LJ_FIELD_CI, "J", T, A full_j),                                      \
      FIELD("ablated", "ablated_j", "ablated_j", LJ_FIELD_CI, "J", T, A ablated_j),                          \
      FIELD("saved", "saved_j", "saved_j", LJ_FIELD_IV, "J", T, A saved_j),                                  \
      FIELD("saved_per_call", "saved_per_call_j", "saved_per_call_j", LJ_FIELD_IV, "J", T, A saved_per_call_j), \
      FIELD("replay", "replay_j", "replay_j", LJ_FIELD_IV, "J", T, A replay_j),                              \
      FIELD("agreement_pct", "agreement_pct", "agreement_pct", LJ_FIELD_REAL, "%", T, A agreement_pct),      \
      FIELD("ratio", "ratio", "ratio", LJ_FIELD_IV, "", T, A ratio),                                         \
      FIELD("counter_saved_j", "counter_saved_j", "counter_saved_j", LJ_FIELD_REAL, "J", T, A counter_saved_j), \
      FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, A flags)

#define T lj_ablation
static const lj_field kAblation[] = {ABLATION_FIELDS(T, ), TP_RANK};
const lj_record_desc lj_desc_ablation = DESC("ablations", kAblation);
#undef T

#define T lj_ablation_check
static const lj_field kAblationCheck[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("method", "method", "method", LJ_FIELD_METHOD, "", T, method),
    ABLATION_FIELDS(T, a.),
    DERIVED("target_pct", "%"),
    DERIVED("pass", ""),
    DERIVED("verdict", ""),  // PASS, INCONCLUSIVE or MISS on the budget's total interval
    TP_RANK,
};
const lj_record_desc lj_desc_ablation_check = DESC("ablation_checks", kAblationCheck);
#undef T

#define T lj_shapley_check
static const lj_field kShapleyCheck[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, kv_len),
    FIELD("n_rounds", "n_rounds", "rounds", LJ_FIELD_INT, "", T, n_rounds),
    FIELD("n_stages", "n_stages", "stages", LJ_FIELD_INT, "", T, n_stages),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, full_j.level),
    FIELD("full", "full_j", "full_j", LJ_FIELD_CI, "J", T, full_j),
    FIELD("sum_isolation", "sum_isolation_j", "sum_isolation_j", LJ_FIELD_IV, "J", T, sum_isolation_j),
    FIELD("sum_marginal", "sum_marginal_j", "sum_marginal_j", LJ_FIELD_IV, "J", T, sum_marginal_j),
    FIELD("sum_shapley", "sum_shapley_j", "sum_shapley_j", LJ_FIELD_IV, "J", T, sum_shapley_j),
    FIELD("interaction", "interaction_j", "interaction_j", LJ_FIELD_IV, "J", T, interaction_j),
    FIELD("residual", "residual_j", "residual_j", LJ_FIELD_IV, "J", T, residual_j),
    FIELD("residual_pct", "residual_pct", "residual_pct", LJ_FIELD_REAL, "%", T, residual_pct),
    FIELD("residual_lo_pct", "residual_lo_pct", "residual_lo_pct", LJ_FIELD_REAL, "%", T, residual_lo_pct),
    FIELD("residual_hi_pct", "residual_hi_pct", "residual_hi_pct", LJ_FIELD_REAL, "%", T, residual_hi_pct),
    FIELD("isolation_gap_pct", "isolation_gap_pct", "isolation_gap_pct", LJ_FIELD_REAL, "%", T, isolation_gap_pct),
    FIELD("marginal_gap_pct", "marginal_gap_pct", "marginal_gap_pct", LJ_FIELD_REAL, "%", T, marginal_gap_pct),
    FIELD("n_orders", "n_orders", "orders", LJ_FIELD_INT, "", T, n_orders),
    FIELD("order_spread_pct", "order_spread_pct", "order_spread_pct", LJ_FIELD_REAL, "%", T, order_spread_pct),
    FIELD("pass", "pass", "pass", LJ_FIELD_BOOL, "", T, pass),
    DERIVED("verdict", ""),  // PASS, INCONCLUSIVE or MISS on the residual's whole interval
    DERIVED("target_pct", "%"),
    FIELD("counter_full_j", "counter_full_j", "counter_full_j", LJ_FIELD_REAL, "J", T, counter_full_j),
    FIELD("counter_residual_pct", "counter_residual_pct", "counter_residual_pct", LJ_FIELD_REAL, "%", T,
          counter_residual_pct),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, flags),
    TP_RANK,
    FIELD("layer_windows", "layer_windows", "layer_windows", LJ_FIELD_INT, "", T, layer_windows),
    FIELD("layer_junction", "layer_junction_j", "layer_junction_j", LJ_FIELD_IV, "J", T, layer_junction_j),
    FIELD("layer_residual_pct", "layer_residual_pct", "layer_residual_pct", LJ_FIELD_REAL, "%", T, layer_residual_pct),
    FIELD("layer_residual_lo_pct", "layer_residual_lo_pct", "layer_residual_lo_pct", LJ_FIELD_REAL, "%", T,
          layer_residual_lo_pct),
    FIELD("layer_residual_hi_pct", "layer_residual_hi_pct", "layer_residual_hi_pct", LJ_FIELD_REAL, "%", T,
          layer_residual_hi_pct),
    FIELD("layer_worst", "layer_worst", "layer_worst", LJ_FIELD_TEXT, "", T, layer_worst),
    FIELD("layer_worst_pct", "layer_worst_pct", "layer_worst_pct", LJ_FIELD_REAL, "%", T, layer_worst_pct),
    FIELD("layer_worst_lo_pct", "layer_worst_lo_pct", "layer_worst_lo_pct", LJ_FIELD_REAL, "%", T, layer_worst_lo_pct),
    FIELD("layer_worst_hi_pct", "layer_worst_hi_pct", "layer_worst_hi_pct", LJ_FIELD_REAL, "%", T, layer_worst_hi_pct),
    FIELD("layer_verdict", "layer_verdict", "layer_verdict", LJ_FIELD_TEXT, "", T, layer_verdict),
};
const lj_record_desc lj_desc_shapley_check = DESC("shapley_checks", kShapleyCheck);
#undef T

#define T lj_trial_conditions
static const lj_field kTrialConditions[] = {
    FIELD("trial_index", "trial_index", "trial_index", LJ_FIELD_INT, "", T, trial),
    FIELD("sm_clock_min_mhz", "sm_clock_min_mhz", "sm_min_mhz", LJ_FIELD_REAL, "MHz", T, sm_clock_min_mhz),
    FIELD("sm_clock_max_mhz", "sm_clock_max_mhz", "sm_max_mhz", LJ_FIELD_REAL, "MHz", T, sm_clock_max_mhz),
    FIELD("mem_clock_min_mhz", "mem_clock_min_mhz", "mem_min_mhz", LJ_FIELD_REAL, "MHz", T, mem_clock_min_mhz),
    FIELD("mem_clock_max_mhz", "mem_clock_max_mhz", "mem_max_mhz", LJ_FIELD_REAL, "MHz", T, mem_clock_max_mhz),
    FIELD("temperature_c", "temperature_c", "temperature_c", LJ_FIELD_REAL, "C", T, temperature_c),
    FIELD("power_w", "power_w", "power_w", LJ_FIELD_REAL, "W", T, power_w),
    FIELD("power_limit_w", "power_limit_w", "power_limit_w", LJ_FIELD_REAL, "W", T, power_limit_w),
    FIELD("throttle_mask", "throttle_mask", "throttle_mask", LJ_FIELD_I64, "", T, throttle_mask),
    FIELD("at_cap", "at_cap", "at_cap", LJ_FIELD_BOOL, "", T, at_cap),
    TP_RANK,
};
const lj_record_desc lj_desc_trial_conditions = DESC("trial_conditions", kTrialConditions);
#undef T

#define T lj_ablation_window
static const lj_field kAblationWindow[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("seq", "seq", "seq", LJ_FIELD_INT, "", T, seq),
    FIELD("skipped", "skipped", "skipped", LJ_FIELD_TEXT, "", T, group),
    FIELD("round", "round", "round", LJ_FIELD_INT, "", T, round),
    FIELD("pair", "pair", "pair", LJ_FIELD_INT, "", T, pair),
    FIELD("units", "units", "units", LJ_FIELD_I64, "", T, units),
    FIELD("duration_s", "duration_s", "duration_s", LJ_FIELD_REAL, "s", T, duration_s),
    FIELD("counter_dynamic_j", "counter_dynamic_j", "counter_dynamic_j", LJ_FIELD_REAL, "J", T, counter_j),
    FIELD("sample_dynamic_j", "sample_dynamic_j", "sample_dynamic_j", LJ_FIELD_REAL, "J", T, sample_j),
    FIELD("idle_w", "idle_w", "idle_w", LJ_FIELD_REAL, "W", T, idle_w),
    FIELD("mean_power_w", "mean_power_w", "mean_power_w", LJ_FIELD_REAL, "W", T, mean_power_w),
    FIELD("peak_power_w", "peak_power_w", "peak_power_w", LJ_FIELD_REAL, "W", T, peak_power_w),
    FIELD("temperature_start_c", "temperature_start_c", "temperature_start_c", LJ_FIELD_REAL, "C", T,
          temperature_start_c),
    FIELD("temperature_end_c", "temperature_end_c", "temperature_end_c", LJ_FIELD_REAL, "C", T, temperature_end_c),
    FIELD("sm_clock_min_mhz", "sm_clock_min_mhz", "sm_min_mhz", LJ_FIELD_REAL, "MHz", T, sm_clock_min_mhz),
    FIELD("sm_clock_max_mhz", "sm_clock_max_mhz", "sm_max_mhz", LJ_FIELD_REAL, "MHz", T, sm_clock_max_mhz),
    FIELD("power_limit_w", "power_limit_w", "power_limit_w", LJ_FIELD_REAL, "W", T, power_limit_w),
    FIELD("throttle_mask", "throttle_mask", "throttle_mask", LJ_FIELD_I64, "", T, throttle_mask),
    FIELD("at_cap", "at_cap", "at_cap", LJ_FIELD_BOOL, "", T, at_cap),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, flags),
    TP_RANK,
};
const lj_record_desc lj_desc_ablation_window = DESC("ablation_windows", kAblationWindow);
#undef T

#define T lj_profile_idle_curve
static const lj_field kIdleCurve[] = {
    FIELD("cooldown_s", "cooldown_s", "cooldown_s", LJ_FIELD_REAL, "s", T, cooldown_s),
    FIELD("cool_start_c", "cool_start_c", "cool_start_c", LJ_FIELD_REAL, "C", T, cool_start_c),
    FIELD("cool_end_c", "cool_end_c", "cool_end_c", LJ_FIELD_REAL, "C", T, cool_end_c),
    FIELD("t0_c", "t0_c", "t0_c", LJ_FIELD_REAL, "C", T, fit.t0_c),
    FIELD("idle_at_t0_w", "idle_at_t0_w", "idle_at_t0_w", LJ_FIELD_REAL, "W", T, fit.a_w),
    FIELD("slope_w_per_c", "slope_w_per_c", "slope_w_per_c", LJ_FIELD_REAL, "W/C", T, fit.slope_w_per_c),
    FIELD("slope_se_w_per_c", "slope_se_w_per_c", "slope_se_w_per_c", LJ_FIELD_REAL, "W/C", T, fit.slope_se_w_per_c),
    FIELD("slope_lo_w_per_c", "slope_lo_w_per_c", "slope_lo_w_per_c", LJ_FIELD_REAL, "W/C", T, fit.slope_lo),
    FIELD("slope_hi_w_per_c", "slope_hi_w_per_c", "slope_hi_w_per_c", LJ_FIELD_REAL, "W/C", T, fit.slope_hi),
    FIELD("r2", "r2", "r2", LJ_FIELD_REAL, "", T, fit.r2),
    FIELD("t_min_c", "t_min_c", "t_min_c", LJ_FIELD_REAL, "C", T, fit.t_min_c),
    FIELD("t_max_c", "t_max_c", "t_max_c", LJ_FIELD_REAL, "C", T, fit.t_max_c),
    FIELD("n_bins", "n_bins", "bins", LJ_FIELD_INT, "", T, fit.n_bins),
    FIELD("n_samples", "n_samples", "samples", LJ_FIELD_INT, "", T, fit.n_samples),
    FIELD("used", "used", "used", LJ_FIELD_BOOL, "", T, fit.usable),
    FIELD("why_not_used", "why_not_used", "why_not_used", LJ_FIELD_TEXT, "", T, fit.why),
    TP_RANK,  // schema 22: each GPU's own curve
};
const lj_record_desc lj_desc_idle_curve = DESC("idle_curves", kIdleCurve);
#undef T

// What a layer's estimate and a layer's stage estimate share: the KV length, trials, and per call
// the energies and time with their intervals.
#define LAYER_ESTIMATE_FIELDS(T)                                                     \
  FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, kv_len),                  \
      FIELD("n_trials", "n_trials", "trials", LJ_FIELD_INT, "", T, n_trials),        \
      FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, dynamic_j.level),            \
      FIELD("dynamic", "dynamic_j", "dynamic_j", LJ_FIELD_CI, "J", T, dynamic_j),    \
      FIELD("gross", "gross_j", "gross_j", LJ_FIELD_CI, "J", T, gross_j),            \
      FIELD("time", "time_s", "time_s", LJ_FIELD_CI, "s", T, time_s)

#define T lj_layer_estimate
static const lj_field kLayerEstimate[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("layer", "layer", "layer", LJ_FIELD_INT, "", T, layer),
    LAYER_ESTIMATE_FIELDS(T),
    FIELD("rank", "rank", "rank", LJ_FIELD_INT, "", T, rank),
    FIELD("t", "t", "t", LJ_FIELD_REAL, "", T, t),
    FIELD("critical", "critical", "critical", LJ_FIELD_REAL, "", T, critical),
    FIELD("agrees", "agrees", "agrees", LJ_FIELD_BOOL, "", T, agrees),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, flags),
    TP_RANK,
};
const lj_record_desc lj_desc_layer_estimate = DESC("layer_estimates", kLayerEstimate);
#undef T

#define T lj_layer_stage_estimate
static const lj_field kLayerStageEstimate[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("layer", "layer", "layer", LJ_FIELD_INT, "", T, layer),
    FIELD("stage", "stage", "stage", LJ_FIELD_STAGE, "", T, stage),
    LAYER_ESTIMATE_FIELDS(T),
    FIELD("insitu_time_s", "insitu_time_s", "insitu_time_s", LJ_FIELD_REAL, "s", T, insitu_time_s),
    FIELD("time_ratio", "time_ratio", "time_ratio", LJ_FIELD_REAL, "", T, time_ratio),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, flags),
    TP_RANK,
};
const lj_record_desc lj_desc_layer_stage_estimate = DESC("layer_stage_estimates", kLayerStageEstimate);
#undef T

#define T lj_layer_skip
static const lj_field kLayerSkip[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("layer", "layer", "layer", LJ_FIELD_INT, "", T, layer),
    ABLATION_FIELDS(T, a.),
    FIELD("pass", "pass", "pass", LJ_FIELD_BOOL, "", T, pass),
    FIELD("head_change", "head_change_j", "head_change_j", LJ_FIELD_IV, "J", T, head_change_j),
    DERIVED("target_pct", "%"),
    DERIVED("agreement_lo_pct", "%"),  // the ratio's interval less 1
    DERIVED("agreement_hi_pct", "%"),
    DERIVED("verdict", ""),  // PASS, INCONCLUSIVE or MISS on the agreement's whole interval
    DERIVED("includes_head_change", ""),  // the last layer: the final norm and LM head see another input
    TP_RANK,
};
const lj_record_desc lj_desc_layer_skip = DESC("layer_skips", kLayerSkip);
#undef T

#define T lj_known_answer
static const lj_field kKnownAnswer[] = {
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("method", "method", "method", LJ_FIELD_METHOD, "", T, method),
    FIELD("bytes", "bytes", "bytes", LJ_FIELD_I64, "B", T, bytes),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, truth_j.level),
    FIELD("truth", "truth_j", "truth_j", LJ_FIELD_CI, "J", T, truth_j),
    FIELD("estimate", "estimate_j", "estimate_j", LJ_FIELD_IV, "J", T, estimate_j),
    FIELD("error_pct", "error_pct", "error_pct", LJ_FIELD_REAL, "%", T, error_pct),
    FIELD("error_lo_pct", "error_lo_pct", "error_lo_pct", LJ_FIELD_REAL, "%", T, error_lo_pct),
    FIELD("error_hi_pct", "error_hi_pct", "error_hi_pct", LJ_FIELD_REAL, "%", T, error_hi_pct),
    FIELD("reliable", "reliable", "reliable", LJ_FIELD_BOOL, "", T, reliable),
    FIELD("counter_truth_j", "counter_truth_j", "counter_truth_j", LJ_FIELD_REAL, "J", T, counter_truth_j),
    FIELD("counter_estimate_j", "counter_estimate_j", "counter_estimate_j", LJ_FIELD_REAL, "J", T, counter_estimate_j),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, flags),
    DERIVED("target_pct", "%"),
    DERIVED("verdict", ""),  // PASS, INCONCLUSIVE or MISS on the budget's total interval (reliable: the point)
    TP_RANK,
};
const lj_record_desc lj_desc_known_answer = DESC("known_answers", kKnownAnswer);
#undef T

#define T lj_head_fit_row
static const lj_field kHeadFit[] = {
    FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, kv_len),
    FIELD("n_points", "n_points", "n_points", LJ_FIELD_INT, "", T, h.fit.n),
    FIELD("level", NULL, NULL, LJ_FIELD_REAL, "", T, h.fit.level),
    FIELD("fixed_j", "fixed_j", "fixed_j", LJ_FIELD_REAL, "J", T, h.fixed_j),
    FIELD("fixed_lo_j", "fixed_lo_j", "fixed_lo_j", LJ_FIELD_REAL, "J", T, h.fit.a_lo),
    FIELD("fixed_hi_j", "fixed_hi_j", "fixed_hi_j", LJ_FIELD_REAL, "J", T, h.fit.a_hi),
    FIELD("fixed_se_j", "fixed_se_j", NULL, LJ_FIELD_REAL, "J", T, h.fit.se_a),
    FIELD("per_group_j", "per_group_j", "per_group_j", LJ_FIELD_REAL, "J", T, h.per_group_j),
    FIELD("per_group_lo_j", "per_group_lo_j", "per_group_lo_j", LJ_FIELD_REAL, "J", T, h.fit.b_lo),
    FIELD("per_group_hi_j", "per_group_hi_j", "per_group_hi_j", LJ_FIELD_REAL, "J", T, h.fit.b_hi),
    FIELD("per_group_se_j", "per_group_se_j", NULL, LJ_FIELD_REAL, "J", T, h.fit.se_b),
    FIELD("cov_fixed_per_group_j2", NULL, NULL, LJ_FIELD_REAL, "J^2", T, h.fit.cov_ab),
    FIELD("per_head_j", "per_head_j", "per_head_j", LJ_FIELD_REAL, "J", T, h.per_head_j),
    FIELD("all_groups_j", "all_groups_j", "all_groups_j", LJ_FIELD_REAL, "J", T, h.all_groups_j),
    FIELD("fixed_share", "fixed_share", "fixed_share", LJ_FIELD_REAL, "", T, h.fixed_share),
    FIELD("resid_sd_j", "resid_sd_j", "resid_sd_j", LJ_FIELD_REAL, "J", T, h.fit.resid_sd),
    FIELD("sse_j2", NULL, NULL, LJ_FIELD_REAL, "J^2", T, h.fit.sse),
    FIELD("r2", "r2", "r2", LJ_FIELD_REAL, "", T, h.fit.r2),
    FIELD("df", NULL, NULL, LJ_FIELD_REAL, "", T, h.fit.df),
    FIELD("counter_fixed_j", "counter_fixed_j", NULL, LJ_FIELD_REAL, "J", T, h.counter_fixed_j),
    FIELD("counter_per_group_j", "counter_per_group_j", "counter_per_group_j", LJ_FIELD_REAL, "J", T,
          h.counter_per_group_j),
    FIELD("counter_r2", "counter_r2", "counter_r2", LJ_FIELD_REAL, "", T, h.counter_r2),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, h.flags),
};
const lj_record_desc lj_desc_head_fit = DESC("head_fits", kHeadFit);
#undef T

#define T lj_head_grid_point
static const lj_field kHeadGridPoint[] = {
    FIELD("batch", "batch", "batch", LJ_FIELD_INT, "", T, batch),
    FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, kv_len),
    FIELD("groups", "groups", "groups", LJ_FIELD_INT, "", T, groups),
    FIELD("kv_bytes", "kv_bytes", "kv_bytes", LJ_FIELD_I64, "B", T, kv_bytes),
    FIELD("need_bytes", "need_bytes", "need_bytes", LJ_FIELD_I64, "B", T, need_bytes),
    FIELD("n_trials", "n_trials", "trials", LJ_FIELD_INT, "", T, n_trials),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, time_s.level),
    FIELD("dynamic", "dynamic_j", "dynamic_j", LJ_FIELD_CI, "J", T, dynamic_j),
    FIELD("time", "time_s", "time_s", LJ_FIELD_CI, "s", T, time_s),
    FIELD("fitted", "fitted", "fitted", LJ_FIELD_REAL, "", T, fitted),
    FIELD("skipped", "skipped", "skipped", LJ_FIELD_TEXT, "", T, skipped),
};
const lj_record_desc lj_desc_head_grid_point = DESC("head_grid_points", kHeadGridPoint);
#undef T

#define T lj_head_grid_fit
static const lj_field kHeadGridFit[] = {
    FIELD("quantity", "quantity", "quantity", LJ_FIELD_TEXT, "", T, quantity),
    FIELD("batch", "batch", "batch", LJ_FIELD_INT, "", T, batch),
    FIELD("n_obs", "n_obs", "n_obs", LJ_FIELD_INT, "", T, n_obs),
    FIELD("n_points", "n_points", "n_points", LJ_FIELD_INT, "", T, n_points),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, fixed.level),
    FIELD("fixed", "fixed", "fixed", LJ_FIELD_IV, "", T, fixed),
    FIELD("per_group", "per_group", "per_group", LJ_FIELD_IV, "", T, per_group),
    FIELD("per_byte", "per_byte", "per_byte", LJ_FIELD_IV, "", T, per_byte),
    FIELD("r2", "r2", "r2", LJ_FIELD_REAL, "", T, r2),
    FIELD("resid_sd", "resid_sd", "resid_sd", LJ_FIELD_REAL, "", T, resid_sd),
    FIELD("lof_f", "lof_f", "lof_f", LJ_FIELD_FINITE, "", T, lof_f),
    FIELD("lof_df_lack", "lof_df_lack", "lof_df_lack", LJ_FIELD_REAL, "", T, lof_df_lack),
    FIELD("lof_df_pure", "lof_df_pure", "lof_df_pure", LJ_FIELD_REAL, "", T, lof_df_pure),
    FIELD("lof_p", "lof_p", "lof_p", LJ_FIELD_REAL, "", T, lof_p),
    FIELD("holds", "holds", "holds", LJ_FIELD_INT, "", T, holds),
    DERIVED("verdict", ""),  // "holds", "does not hold" or "not testable"
    FIELD("small_batch", "small_batch", "small_batch", LJ_FIELD_INT, "", T, small_batch),
    FIELD("small_kv", "small_kv", "small_kv", LJ_FIELD_I64, "", T, small_kv),
    FIELD("per_head_small", "per_head_small", "per_head_small", LJ_FIELD_IV, "", T, per_head_small),
    FIELD("large_batch", "large_batch", "large_batch", LJ_FIELD_INT, "", T, large_batch),
    FIELD("large_kv", "large_kv", "large_kv", LJ_FIELD_I64, "", T, large_kv),
    FIELD("per_head_large", "per_head_large", "per_head_large", LJ_FIELD_IV, "", T, per_head_large),
    FIELD("flags", "flags", NULL, LJ_FIELD_FLAGS, "", T, flags),
    FIELD("counter_per_byte", "counter_per_byte", "counter_per_byte", LJ_FIELD_REAL, "", T, counter_per_byte),
    FIELD("counter_lof_p", "counter_lof_p", "counter_lof_p", LJ_FIELD_REAL, "", T, counter_lof_p),
};
const lj_record_desc lj_desc_head_grid_fit = DESC("head_grid_fits", kHeadGridFit);
#undef T

// A term's half-width and its basis (measured, bound, not measured).
#define BUDGET_TERM(name, T)                                                                \
  FIELD(#name "_j", #name "_j", #name "_j", LJ_FIELD_REAL, "J", T, name##_j),               \
      FIELD(#name "_basis", #name "_basis", #name "_basis", LJ_FIELD_TEXT, "", T, name##_basis)

#define T lj_budget
static const lj_field kBudget[] = {
    FIELD("kind", "kind", "kind", LJ_FIELD_TEXT, "", T, kind),
    FIELD("phase", "phase", "phase", LJ_FIELD_PHASE, "", T, phase),
    FIELD("method", "method", "method", LJ_FIELD_METHOD, "", T, method),
    FIELD("stage", "stage", "stage", LJ_FIELD_STAGE_OR_NONE, "", T, stage),
    FIELD("layer", "layer", "layer", LJ_FIELD_INT, "", T, layer),
    FIELD("kv_len", "kv_len", "kv_len", LJ_FIELD_I64, "", T, kv_len),
    FIELD("value_j", "value_j", "value_j", LJ_FIELD_REAL, "J", T, value_j),
    FIELD("reference_j", "reference_j", "reference_j", LJ_FIELD_REAL, "J", T, reference_j),
    BUDGET_TERM(trial, T),
    BUDGET_TERM(idle, T),
    BUDGET_TERM(edge, T),
    BUDGET_TERM(card, T),
    BUDGET_TERM(source, T),  // schema 20
    FIELD("total_j", "total_j", "total_j", LJ_FIELD_REAL, "J", T, total_j),
    DERIVED("total_pct", "%"),
    DERIVED("largest_term", ""),
    TP_RANK,  // schema 19
};
const lj_record_desc lj_desc_budget = DESC("budgets", kBudget);
#undef T

#define T lj_profile_overhead
static const lj_field kOverhead[] = {
    FIELD("what", "what", "what", LJ_FIELD_TEXT, "", T, what),
    FIELD("n_pairs", "n", "pairs", LJ_FIELD_INT, "", T, n),
    FIELD("level", NULL, NULL, LJ_FIELD_LEVEL, "", T, off_s.level),
    FIELD("off", "off_s_per_step", "off_s_per_step", LJ_FIELD_CI, "s", T, off_s),
    FIELD("on", "on_s_per_step", "on_s_per_step", LJ_FIELD_CI, "s", T, on_s),
    FIELD(NULL, "overhead_pct", NULL, LJ_FIELD_REAL, "%", T, overhead_pct),
    // overhead_pct is the stored estimate (record walkers copy it in first)
    FIELD("overhead", "overhead_pct_ci", "overhead_pct", LJ_FIELD_IV, "%", T, overhead_pct_ci),
    DERIVED("target_pct", "%"),
    DERIVED("pass", ""),
};
const lj_record_desc lj_desc_overhead = DESC("overheads", kOverhead);
#undef T
