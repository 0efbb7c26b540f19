// One description of each table of a profile: its fields (name in SQL, in the
// JSON and in the CSV; type; unit; where the value lives in the record), in
// the JSON's order. The store's writer and reader and the report's JSON and
// CSV walk these, so a new field is one line in record_desc.c.
//
// A mean with its interval (LJ_FIELD_CI) is five SQL columns X, X_sd, X_lo,
// X_hi, X_n and a derived interval (LJ_FIELD_IV) X, X_se, X_df, X_lo, X_hi,
// the unit's suffix after each ("gross" in J: gross_j, gross_sd_j, ...;
// docs/store.md). Fields the report computes from others (shares, pass or
// fail) are LJ_FIELD_DERIVED: named here for their place in the JSON, filled
// by the report.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/profile_result.h"

typedef enum {
  LJ_FIELD_INT,            // int
  LJ_FIELD_I64,            // int64_t
  LJ_FIELD_BOOL,           // int, true/false in the JSON
  LJ_FIELD_REAL,           // double; NAN is NULL in SQL, null in the JSON, empty in the CSV
  LJ_FIELD_FINITE,         // double; +-INFINITY (a range that saw nothing) stored as NULL too
  LJ_FIELD_TEXT,           // char[size]
  LJ_FIELD_PHASE,          // lj_phase, by name
  LJ_FIELD_STAGE,          // lj_stage, by name
  LJ_FIELD_STAGE_OR_NONE,  // lj_stage; LJ_STAGE_NONE is "none" (a trial of no one stage: the whole
                           // layer, the known answer's calibration copy alone)
  LJ_FIELD_GROUP,          // JSON only: the stage group of the stage at off (null for "none")
  LJ_FIELD_METHOD,         // lj_profile_method, by name
  LJ_FIELD_FLAGS,          // uint32_t window flags; the JSON adds KEY_text with their names
  LJ_FIELD_LEVEL,          // double: the confidence level of the intervals that follow (SQL only)
  LJ_FIELD_CI,             // lj_mean_ci
  LJ_FIELD_IV,             // lj_interval
  LJ_FIELD_DERIVED,        // JSON only: computed by the report from the record
  LJ_FIELD_TP_RANK,        // the row's tensor-parallel rank (schema 14): not in the record but in the walk,
                           // lj_profile_main_rank of the run for its own figures, r for rank r's
} lj_field_type;

typedef struct {
  const char *sql;    // SQL column (CI, IV: the base name); NULL: not stored
  const char *json;   // JSON key; NULL: not in the JSON object
  const char *csv;    // CSV column; NULL: not in the CSV
  lj_field_type type;
  const char *unit;   // "J", "s", "W", "%", "C", "MHz", "ns", "B", "FLOP", "" (a count or a ratio)
  size_t off, size;   // where in the record
  const char *group;  // JSON: inside this nested object ("cost"); NULL: in the record's object
} lj_field;

typedef struct {
  const char *table;  // SQL table (and the CSV section's default name)
  const lj_field *fields;
  size_t n_fields;
} lj_record_desc;

// Rows whose record is a part of the result plus what the walk knows about it.
typedef struct {
  lj_closure c;
  lj_profile_method method;
} lj_closure_row;

typedef struct {
  lj_phase phase;
  int device;
  double idle_w;
  int n_samples;
  uint32_t flags;
  lj_timeline_phase t;
} lj_timeline_phase_row;

typedef struct {
  lj_phase phase;
  lj_stage stage;
  lj_timeline_stage t;
} lj_timeline_stage_row;

typedef struct {
  int64_t kv_len;
  lj_head_fit h;
} lj_head_fit_row;

extern const lj_record_desc lj_desc_phase_summary;  // lj_phase_summary, table phase_summaries
extern const lj_record_desc lj_desc_stage;          // lj_profile_stage, table stage_estimates
extern const lj_record_desc lj_desc_trial;          // lj_profile_trial, table replay_trials
extern const lj_record_desc lj_desc_closure;        // lj_closure_row, table closures
extern const lj_record_desc lj_desc_timeline_phase; // lj_timeline_phase_row, table timeline_phases
extern const lj_record_desc lj_desc_timeline_stage; // lj_timeline_stage_row, table timeline_stages
extern const lj_record_desc lj_desc_ablation;       // lj_ablation, table ablations
extern const lj_record_desc lj_desc_ablation_check; // lj_ablation_check, table ablation_checks
extern const lj_record_desc lj_desc_idle_curve;  // lj_profile_idle_curve, table idle_curves (schema 10)
extern const lj_record_desc lj_desc_trial_conditions;  // lj_trial_conditions, table trial_conditions
extern const lj_record_desc lj_desc_ablation_window;  // lj_ablation_window, table ablation_windows (schema 16)
extern const lj_record_desc lj_desc_layer_estimate;  // lj_layer_estimate, table layer_estimates
extern const lj_record_desc lj_desc_layer_stage_estimate;  // lj_layer_stage_estimate, table layer_stage_estimates
extern const lj_record_desc lj_desc_layer_skip;      // lj_layer_skip, table layer_skips (stage: attn_norm)
extern const lj_record_desc lj_desc_shapley_check;  // lj_shapley_check, table shapley_checks
extern const lj_record_desc lj_desc_known_answer;   // lj_known_answer, table known_answers
extern const lj_record_desc lj_desc_head_fit;       // lj_head_fit_row, table head_fits
extern const lj_record_desc lj_desc_head_grid_point;  // lj_head_grid_point, table head_grid_points (schema 13)
extern const lj_record_desc lj_desc_head_grid_fit;    // lj_head_grid_fit, table head_grid_fits (schema 13)
extern const lj_record_desc lj_desc_budget;         // lj_budget, table budgets (schema 12)
extern const lj_record_desc lj_desc_overhead;       // lj_profile_overhead, table overheads

// The SQL column suffix of a unit: "J" -> "_j", "s" -> "_s", "%" -> "_pct", "" -> "".
const char *lj_field_suffix(const char *unit);
