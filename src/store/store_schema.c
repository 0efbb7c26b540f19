// The store's schema (every table and column: docs/store.md): the tables of
// version 1, the profile tables version 2 added, version 3's changes to them,
// version 4's study tables, version 5's source columns of the head fit and the
// ablation, and version 6's checks (Shapley, known answer, ablations of both
// phases) with their source columns. A fresh file gets all six parts; a file of
// version 1 to 5 opened for writing gets the parts after its version
// (store_open.c), so an upgraded file has exactly the schema of a fresh one.
// Times: *_ns columns are CLOCK_MONOTONIC ns of the recording host unless
// named *_wall_ns (CLOCK_REALTIME ns since the Unix epoch); source_us is the
// power source's own timestamp (NVML: us since the Unix epoch). Energies in J,
// powers in W, clocks in MHz, temperatures in degrees C.
#include "store/store_schema.h"

const char lj_store_schema_v1[] =
    "CREATE TABLE meta(\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL);\n"
    "CREATE TABLE runs(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  command_line TEXT NOT NULL,\n"
    "  source TEXT,\n"
    "  host TEXT NOT NULL,\n"
    "  tool_version TEXT NOT NULL,\n"
    "  started_wall_ns INTEGER NOT NULL,\n"
    "  ended_wall_ns INTEGER,\n"
    "  status TEXT NOT NULL CHECK(status IN ('incomplete', 'complete', 'failed')),\n"
    "  exit_code INTEGER,\n"
    "  notes TEXT);\n"
    "CREATE TABLE run_metrics(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  name TEXT NOT NULL,\n"
    "  value REAL,\n"
    "  unit TEXT,\n"
    "  PRIMARY KEY(run_id, name));\n"
    "CREATE TABLE devices(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  device_index INTEGER NOT NULL,\n"
    "  nvml_index INTEGER,\n"
    "  cuda_index INTEGER,\n"
    "  name TEXT,\n"
    "  uuid TEXT,\n"
    "  pci_bus_id TEXT,\n"
    "  driver_version TEXT,\n"
    "  nvml_version TEXT,\n"
    "  source TEXT,\n"
    "  power_limit_w REAL,\n"
    "  supported_mask INTEGER NOT NULL,\n"
    "  streamed_mask INTEGER NOT NULL,\n"
    "  supported TEXT NOT NULL,\n"
    "  PRIMARY KEY(run_id, device_index));\n"
    "CREATE TABLE readings(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  unit TEXT NOT NULL);\n"
    "CREATE TABLE samples(\n"
    "  run_id INTEGER NOT NULL,\n"
    "  device_index INTEGER NOT NULL,\n"
    "  reading INTEGER NOT NULL,\n"
    "  t_ns INTEGER NOT NULL,\n"
    "  read_ns INTEGER NOT NULL,\n"
    "  source_us INTEGER NOT NULL,\n"
    "  value REAL NOT NULL,\n"
    "  read_dur_ns INTEGER NOT NULL,\n"
    "  flags INTEGER NOT NULL);\n"
    "CREATE INDEX samples_by_time ON samples(run_id, device_index, t_ns);\n"
    "CREATE TABLE windows(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  parent_id INTEGER REFERENCES windows(id),\n"
    "  name TEXT NOT NULL,\n"
    "  device_index INTEGER,\n"
    "  begin_ns INTEGER NOT NULL,\n"
    "  end_ns INTEGER NOT NULL,\n"
    "  duration_s REAL NOT NULL,\n"
    "  counter_j REAL,\n"
    "  counter_updates INTEGER,\n"
    "  buffer_j REAL,\n"
    "  n_samples INTEGER,\n"
    "  integrated_reading TEXT,\n"
    "  mean_w REAL,\n"
    "  peak_w REAL,\n"
    "  idle_w REAL,\n"
    "  counter_above_idle_j REAL,\n"
    "  buffer_above_idle_j REAL,\n"
    "  flags INTEGER NOT NULL,\n"
    "  warnings TEXT NOT NULL);\n"
    "CREATE TABLE idle_baselines(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER REFERENCES runs(id),\n"
    "  device_uuid TEXT NOT NULL,\n"
    "  device_name TEXT,\n"
    "  measured_wall_ns INTEGER NOT NULL,\n"
    "  seconds REAL NOT NULL,\n"
    "  mean_w REAL NOT NULL,\n"
    "  stddev_w REAL,\n"
    "  counter_mean_w REAL,\n"
    "  counter_stddev_w REAL,\n"
    "  sample_mean_w REAL,\n"
    "  sample_stddev_w REAL,\n"
    "  n_counter_updates INTEGER,\n"
    "  n_samples INTEGER,\n"
    "  temperature_c REAL,\n"
    "  sm_clock_mhz REAL,\n"
    "  mem_clock_mhz REAL,\n"
    "  method TEXT NOT NULL,\n"
    "  context TEXT NOT NULL,\n"
    "  copied_from TEXT);\n"
    "CREATE INDEX idle_by_uuid ON idle_baselines(device_uuid, measured_wall_ns);\n"
    "CREATE TABLE characterizations(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  device_index INTEGER NOT NULL,\n"
    "  device_uuid TEXT,\n"
    "  quantity TEXT NOT NULL,\n"
    "  value REAL,\n"
    "  unit TEXT,\n"
    "  detail TEXT);\n";

// The columns version 2 gave the tables version 3 rebuilt (below): the text of both versions.
#define STAGE_ESTIMATES_V2_COLUMNS \
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n" \
    "  phase TEXT NOT NULL,\n" \
    "  stage TEXT NOT NULL,\n" \
    "  layer INTEGER NOT NULL,\n" \
    "  kv_len INTEGER NOT NULL,\n" \
    "  n_trials INTEGER NOT NULL,\n" \
    "  level REAL,\n" \
    "  gross_j REAL, gross_sd_j REAL, gross_lo_j REAL, gross_hi_j REAL, gross_n INTEGER NOT NULL,\n" \
    "  dynamic_j REAL, dynamic_sd_j REAL, dynamic_lo_j REAL, dynamic_hi_j REAL, dynamic_n INTEGER NOT NULL,\n" \
    "  sample_gross_j REAL, sample_gross_sd_j REAL, sample_gross_lo_j REAL, sample_gross_hi_j REAL," \
    " sample_gross_n INTEGER NOT NULL,\n" \
    "  sample_dynamic_j REAL, sample_dynamic_sd_j REAL, sample_dynamic_lo_j REAL, sample_dynamic_hi_j REAL," \
    " sample_dynamic_n INTEGER NOT NULL,\n" \
    "  time_per_call_s REAL, time_per_call_sd_s REAL, time_per_call_lo_s REAL, time_per_call_hi_s REAL," \
    " time_per_call_n INTEGER NOT NULL,\n" \
    "  insitu_time_per_call_s REAL,\n" \
    "  time_ratio REAL,\n" \
    "  counter_vs_sample_pct REAL,\n" \
    "  temperature_min_c REAL,\n" \
    "  temperature_max_c REAL,\n" \
    "  window_flags INTEGER NOT NULL,\n" \
    "  flops INTEGER NOT NULL,\n" \
    "  weight_bytes INTEGER NOT NULL,\n" \
    "  act_read_bytes INTEGER NOT NULL,\n" \
    "  act_write_bytes INTEGER NOT NULL,\n" \
    "  kv_read_bytes INTEGER NOT NULL,\n" \
    "  kv_write_bytes INTEGER NOT NULL,\n" \
    "  bytes INTEGER NOT NULL,\n" \
    "  flops_per_byte REAL,\n" \
    "  dynamic_j_per_flop REAL, dynamic_j_per_flop_lo REAL, dynamic_j_per_flop_hi REAL,\n" \
    "  dynamic_j_per_byte REAL, dynamic_j_per_byte_lo REAL, dynamic_j_per_byte_hi REAL,\n" \
    "  flops_per_dynamic_j REAL,\n" \
    "  bytes_per_dynamic_j REAL,\n" \
    "  calls_per_unit REAL,\n" \
    "  share_dynamic REAL,\n" \
    "  share_gross REAL,\n"

// An ablation's columns after its stage (the table ablations of version 2, ablation_checks of 6).
#define ABLATION_COLUMNS \
    "  calls INTEGER NOT NULL,\n" \
    "  level REAL,\n" \
    "  full_j REAL, full_sd_j REAL, full_lo_j REAL, full_hi_j REAL, full_n INTEGER NOT NULL,\n" \
    "  ablated_j REAL, ablated_sd_j REAL, ablated_lo_j REAL, ablated_hi_j REAL, ablated_n INTEGER NOT NULL,\n" \
    "  saved_j REAL, saved_se_j REAL, saved_df REAL, saved_lo_j REAL, saved_hi_j REAL,\n" \
    "  saved_per_call_j REAL, saved_per_call_se_j REAL, saved_per_call_df REAL, saved_per_call_lo_j REAL," \
    " saved_per_call_hi_j REAL,\n" \
    "  replay_j REAL, replay_se_j REAL, replay_df REAL, replay_lo_j REAL, replay_hi_j REAL,\n" \
    "  agreement_pct REAL,\n" \
    "  ratio REAL, ratio_se REAL, ratio_df REAL, ratio_lo REAL, ratio_hi REAL,\n"
#define REPLAY_TRIALS_V2_COLUMNS \
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n" \
    "  phase TEXT NOT NULL,\n" \
    "  stage TEXT NOT NULL,\n" \
    "  layer INTEGER NOT NULL,\n" \
    "  kv_len INTEGER NOT NULL,\n" \
    "  kv_groups INTEGER NOT NULL,\n" \
    "  trial INTEGER NOT NULL,\n" \
    "  counter_j REAL,\n" \
    "  sample_j REAL,\n" \
    "  duration_s REAL,\n" \
    "  calls INTEGER NOT NULL,\n" \
    "  temperature_c REAL,\n" \
    "  idle_w REAL,\n" \
    "  start_offset_ns INTEGER NOT NULL,\n" \
    "  window_flags INTEGER NOT NULL,\n" \
    "  gap_s REAL,\n"
#define CLOSURES_V2_COLUMNS \
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n" \
    "  phase TEXT NOT NULL,\n" \
    "  n_terms INTEGER NOT NULL,\n" \
    "  level REAL,\n" \
    "  measured_gross_j REAL,\n" \
    "  measured_dynamic_j REAL,\n" \
    "  predicted_gross_j REAL, predicted_gross_se_j REAL, predicted_gross_df REAL," \
    " predicted_gross_lo_j REAL, predicted_gross_hi_j REAL,\n" \
    "  predicted_dynamic_j REAL, predicted_dynamic_se_j REAL, predicted_dynamic_df REAL," \
    " predicted_dynamic_lo_j REAL, predicted_dynamic_hi_j REAL,\n" \
    "  error_gross_pct REAL, error_gross_lo_pct REAL, error_gross_hi_pct REAL,\n" \
    "  error_dynamic_pct REAL, error_dynamic_lo_pct REAL, error_dynamic_hi_pct REAL,\n"

// Added in version 2: what `llamajoule profile` measured (profile_result.h).
// Phases and stages are stored by name (lj_phase_name, lj_stage_name); NULL
// is a value that was not measured (NAN in the result). A mean with its
// interval is the columns X (mean), X_sd, X_lo, X_hi and X_n (values).
const char lj_store_schema_v2[] =
    "CREATE TABLE profile_plans(\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id),\n"
    "  complete INTEGER NOT NULL,\n"
    "  model TEXT NOT NULL,\n"
    "  model_name TEXT NOT NULL,\n"
    "  weights_random INTEGER NOT NULL,\n"
    "  engine TEXT NOT NULL,\n"
    "  timing_only INTEGER NOT NULL,\n"
    "  device_index INTEGER NOT NULL,\n"
    "  batch INTEGER NOT NULL,\n"
    "  prompt_len INTEGER NOT NULL,\n"
    "  gen_len INTEGER NOT NULL,\n"
    "  repeats INTEGER NOT NULL,\n"
    "  trials INTEGER NOT NULL,\n"
    "  replay_s REAL,\n"
    "  replay_duty REAL,\n"
    "  phase_s REAL,\n"
    "  level REAL,\n"
    "  layers_replayed INTEGER NOT NULL,\n"
    "  decode_kv TEXT NOT NULL,\n"
    "  ablation INTEGER NOT NULL,\n"
    "  head_fit INTEGER NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  prompt_source TEXT NOT NULL,\n"
    "  notes TEXT NOT NULL,\n"
    "  config_name TEXT NOT NULL,\n"
    "  dim INTEGER NOT NULL,\n"
    "  hidden_dim INTEGER NOT NULL,\n"
    "  n_layers INTEGER NOT NULL,\n"
    "  n_heads INTEGER NOT NULL,\n"
    "  n_kv_heads INTEGER NOT NULL,\n"
    "  head_dim INTEGER NOT NULL,\n"
    "  vocab_size INTEGER NOT NULL,\n"
    "  max_seq_len INTEGER NOT NULL,\n"
    "  rope_theta REAL,\n"
    "  rope_type TEXT NOT NULL,\n"
    "  rope_factor REAL,\n"
    "  rope_low_freq_factor REAL,\n"
    "  rope_high_freq_factor REAL,\n"
    "  rope_original_max_pos INTEGER NOT NULL,\n"
    "  norm_eps REAL,\n"
    "  tie_embeddings INTEGER NOT NULL,\n"
    "  bos_id INTEGER NOT NULL,\n"
    "  eos_id INTEGER NOT NULL);\n"
    "CREATE TABLE profile_conditions(\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id),\n"
    "  device_index INTEGER NOT NULL,\n"
    "  device_name TEXT NOT NULL,\n"
    "  device_uuid TEXT NOT NULL,\n"
    "  pci_bus_id TEXT NOT NULL,\n"
    "  driver_version TEXT NOT NULL,\n"
    "  cuda_driver TEXT NOT NULL,\n"
    "  idle_w REAL,\n"
    "  idle_sd_w REAL,\n"
    "  idle_method TEXT NOT NULL,\n"
    "  temperature_min_c REAL,\n"
    "  temperature_max_c REAL,\n"
    "  sm_clock_min_mhz REAL,\n"
    "  sm_clock_max_mhz REAL,\n"
    "  mem_clock_min_mhz REAL,\n"
    "  mem_clock_max_mhz REAL,\n"
    "  power_limit_w REAL,\n"
    "  throttle_mask INTEGER NOT NULL,\n"
    "  throttle TEXT NOT NULL,\n"
    "  n_samples INTEGER NOT NULL,\n"
    "  buffer_gaps INTEGER NOT NULL,\n"
    "  sampler_cpu_pct REAL,\n"
    "  begin_wall_ns INTEGER NOT NULL,\n"
    "  end_wall_ns INTEGER NOT NULL);\n"
    "CREATE TABLE phase_windows(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  repeat INTEGER NOT NULL,\n"
    "  window_id INTEGER NOT NULL REFERENCES windows(id),\n"
    "  units INTEGER NOT NULL,\n"
    "  tokens_per_unit INTEGER NOT NULL,\n"
    "  host_s REAL,\n"
    "  PRIMARY KEY(run_id, phase, repeat));\n"
    "CREATE TABLE phase_summaries(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  n_windows INTEGER NOT NULL,\n"
    "  tokens_per_unit INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  time_s REAL, time_sd_s REAL, time_lo_s REAL, time_hi_s REAL, time_n INTEGER NOT NULL,\n"
    "  gross_j REAL, gross_sd_j REAL, gross_lo_j REAL, gross_hi_j REAL, gross_n INTEGER NOT NULL,\n"
    "  dynamic_j REAL, dynamic_sd_j REAL, dynamic_lo_j REAL, dynamic_hi_j REAL, dynamic_n INTEGER NOT NULL,\n"
    "  sample_gross_j REAL, sample_gross_sd_j REAL, sample_gross_lo_j REAL, sample_gross_hi_j REAL,"
    " sample_gross_n INTEGER NOT NULL,\n"
    "  gross_j_per_token REAL,\n"
    "  dynamic_j_per_token REAL,\n"
    "  tokens_per_gross_j REAL,\n"
    "  tokens_per_dynamic_j REAL,\n"
    "  window_flags INTEGER NOT NULL,\n"
    "  PRIMARY KEY(run_id, phase));\n"
    "CREATE TABLE stage_estimates(\n" STAGE_ESTIMATES_V2_COLUMNS
    "  PRIMARY KEY(run_id, phase, stage, layer, kv_len));\n"
    "CREATE TABLE replay_trials(\n" REPLAY_TRIALS_V2_COLUMNS
    "  PRIMARY KEY(run_id, phase, stage, layer, kv_len, kv_groups, trial));\n"
    "CREATE TABLE closures(\n" CLOSURES_V2_COLUMNS
    "  PRIMARY KEY(run_id, phase));\n"
    "CREATE TABLE stage_intervals(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  seq INTEGER NOT NULL,\n"
    "  phase TEXT NOT NULL,\n"
    "  stage TEXT NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  step INTEGER NOT NULL,\n"
    "  begin_ns INTEGER NOT NULL,\n"
    "  end_ns INTEGER NOT NULL,\n"
    "  energy_j REAL,\n"
    "  PRIMARY KEY(run_id, seq));\n"
    "CREATE TABLE timeline_phases(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  device_index INTEGER NOT NULL,\n"
    "  idle_w REAL,\n"
    "  n_samples INTEGER NOT NULL,\n"
    "  flags INTEGER NOT NULL,\n"
    "  n_intervals INTEGER NOT NULL,\n"
    "  begin_ns INTEGER NOT NULL,\n"
    "  end_ns INTEGER NOT NULL,\n"
    "  span_s REAL,\n"
    "  energy_j REAL,\n"
    "  dynamic_j REAL,\n"
    "  attributed_j REAL,\n"
    "  attributed_dynamic_j REAL,\n"
    "  gap_s REAL,\n"
    "  gap_j REAL,\n"
    "  gap_dynamic_j REAL,\n"
    "  overlap_s REAL,\n"
    "  PRIMARY KEY(run_id, phase));\n"
    "CREATE TABLE timeline_stages(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  stage TEXT NOT NULL,\n"
    "  calls INTEGER NOT NULL,\n"
    "  time_s REAL,\n"
    "  energy_j REAL,\n"
    "  dynamic_j REAL,\n"
    "  share_gross REAL,\n"
    "  share_dynamic REAL,\n"
    "  PRIMARY KEY(run_id, phase, stage));\n"
    "CREATE TABLE timeline_layers(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  energy_j REAL,\n"
    "  time_s REAL,\n"
    "  PRIMARY KEY(run_id, phase, layer));\n"
    "CREATE TABLE ablations(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  stage TEXT NOT NULL,\n"
    ABLATION_COLUMNS
    "  PRIMARY KEY(run_id, stage));\n"
    "CREATE TABLE head_fits(\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id),\n"
    "  kv_len INTEGER NOT NULL,\n"
    "  n_points INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  fixed_j REAL, fixed_se_j REAL, fixed_lo_j REAL, fixed_hi_j REAL,\n"
    "  per_group_j REAL, per_group_se_j REAL, per_group_lo_j REAL, per_group_hi_j REAL,\n"
    "  cov_fixed_per_group_j2 REAL,\n"
    "  per_head_j REAL,\n"
    "  all_groups_j REAL,\n"
    "  fixed_share REAL,\n"
    "  resid_sd_j REAL,\n"
    "  sse_j2 REAL,\n"
    "  r2 REAL,\n"
    "  df REAL);\n"
    "CREATE TABLE overheads(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  what TEXT NOT NULL,\n"
    "  n_pairs INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  off_s REAL, off_sd_s REAL, off_lo_s REAL, off_hi_s REAL, off_n INTEGER NOT NULL,\n"
    "  on_s REAL, on_sd_s REAL, on_lo_s REAL, on_hi_s REAL, on_n INTEGER NOT NULL,\n"
    "  overhead_pct REAL, overhead_se_pct REAL, overhead_df REAL, overhead_lo_pct REAL, overhead_hi_pct REAL,\n"
    "  PRIMARY KEY(run_id, what));\n";

// Added in version 3: the context method (lj_profile_method). Stage estimates,
// trials and closures name their method, so a stage can have an estimate by
// each, and their keys include it. SQLite cannot change a table's key, so
// those three tables are rebuilt around their rows (all isolation replay);
// the new columns come last, as ALTER TABLE ... ADD COLUMN puts the plan's.
// Context trials of the plain prefill unit have stage 'none'.
const char lj_store_schema_v3[] =
    "ALTER TABLE profile_plans ADD COLUMN context INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE stage_estimates RENAME TO stage_estimates_v2;\n"
    "CREATE TABLE stage_estimates(\n" STAGE_ESTIMATES_V2_COLUMNS
    "  method TEXT NOT NULL DEFAULT 'isolation',\n"
    "  copies INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, phase, stage, method, layer, kv_len));\n"
    "INSERT INTO stage_estimates SELECT *, 'isolation', 0 FROM stage_estimates_v2;\n"
    "DROP TABLE stage_estimates_v2;\n"
    "ALTER TABLE replay_trials RENAME TO replay_trials_v2;\n"
    "CREATE TABLE replay_trials(\n" REPLAY_TRIALS_V2_COLUMNS
    "  method TEXT NOT NULL DEFAULT 'isolation',\n"
    "  copies INTEGER NOT NULL DEFAULT 0,\n"
    "  units INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, phase, stage, method, layer, kv_len, kv_groups, trial));\n"
    "INSERT INTO replay_trials SELECT *, 'isolation', 0, 0 FROM replay_trials_v2;\n"
    "DROP TABLE replay_trials_v2;\n"
    "ALTER TABLE closures RENAME TO closures_v2;\n"
    "CREATE TABLE closures(\n" CLOSURES_V2_COLUMNS
    "  method TEXT NOT NULL DEFAULT 'isolation',\n"
    "  PRIMARY KEY(run_id, phase, method));\n"
    "INSERT INTO closures SELECT *, 'isolation' FROM closures_v2;\n"
    "DROP TABLE closures_v2;\n";

// Added in version 4: studies (`llamajoule sweep`). A study is many profile
// runs in one file, one per point (model, batch, prompt and generated length);
// its arguments say which points, and each point row says how far it got, so
// that a re-run with the same arguments resumes it. Only new tables: nothing
// of version 3 changes.
const char lj_store_schema_v4[] =
    "CREATE TABLE studies(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  arguments TEXT NOT NULL UNIQUE,\n"
    "  engine TEXT NOT NULL,\n"
    "  command_line TEXT NOT NULL,\n"
    "  created_wall_ns INTEGER NOT NULL,\n"
    "  updated_wall_ns INTEGER NOT NULL);\n"
    "CREATE TABLE study_points(\n"
    "  study_id INTEGER NOT NULL REFERENCES studies(id),\n"
    "  point INTEGER NOT NULL,\n"
    "  model TEXT NOT NULL,\n"
    "  batch INTEGER NOT NULL,\n"
    "  prompt_len INTEGER NOT NULL,\n"
    "  gen_len INTEGER NOT NULL,\n"
    "  stages INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL CHECK(status IN ('pending', 'incomplete', 'done', 'skipped', 'failed')),\n"
    "  reason TEXT NOT NULL,\n"
    "  run_id INTEGER REFERENCES runs(id),\n"
    "  attempts INTEGER NOT NULL,\n"
    "  seconds REAL,\n"
    "  estimate_s REAL,\n"
    "  updated_wall_ns INTEGER NOT NULL,\n"
    "  PRIMARY KEY(study_id, point));\n";

// Added in version 5: the attention-head fit and the ablation take their energies from the
// driver's power samples where the windows are short (docs/attribution.md §1b); the
// counter's figures stay beside them, and flags say which source the row uses and whether
// the two disagree beyond its interval. Stage estimates need no new column: their counter
// and sample figures were both stored already, their window_flags say which is the estimate.
// Also the CUDA engine's weight format of a profile ("bf16" or "fp8": linear layers in FP8
// E4M3 with per-row scales); runs stored before it were bf16.
const char lj_store_schema_v5[] =
    "ALTER TABLE head_fits ADD COLUMN counter_fixed_j REAL;\n"
    "ALTER TABLE head_fits ADD COLUMN counter_per_group_j REAL;\n"
    "ALTER TABLE head_fits ADD COLUMN counter_r2 REAL;\n"
    "ALTER TABLE head_fits ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE ablations ADD COLUMN counter_saved_j REAL;\n"
    "ALTER TABLE ablations ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE profile_plans ADD COLUMN weights TEXT NOT NULL DEFAULT 'bf16';\n";

// Added in version 6: the Shapley split, the known-answer check and the ablations of both
// phases (docs/attribution.md §2d, §2e). Trials get a variant (which stage order, which
// known-answer replay), part of their key, so replay_trials is rebuilt around its rows (all
// variant 0); the plan says whether the Shapley rounds and the known answer ran; three new
// tables hold the checks.
const char lj_store_schema_v6[] =
    "ALTER TABLE profile_plans ADD COLUMN shapley INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE profile_plans ADD COLUMN known_answer_bytes INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE replay_trials RENAME TO replay_trials_v5;\n"
    "CREATE TABLE replay_trials(\n" REPLAY_TRIALS_V2_COLUMNS
    "  method TEXT NOT NULL DEFAULT 'isolation',\n"
    "  copies INTEGER NOT NULL DEFAULT 0,\n"
    "  units INTEGER NOT NULL DEFAULT 0,\n"
    "  variant INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, phase, stage, method, variant, layer, kv_len, kv_groups, trial));\n"
    "INSERT INTO replay_trials SELECT *, 0 FROM replay_trials_v5;\n"
    "DROP TABLE replay_trials_v5;\n"
    "CREATE TABLE shapley_checks(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  kv_len INTEGER NOT NULL,\n"
    "  n_rounds INTEGER NOT NULL,\n"
    "  n_stages INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  full_j REAL, full_sd_j REAL, full_lo_j REAL, full_hi_j REAL, full_n INTEGER NOT NULL,\n"
    "  sum_isolation_j REAL, sum_isolation_se_j REAL, sum_isolation_df REAL, sum_isolation_lo_j REAL,"
    " sum_isolation_hi_j REAL,\n"
    "  sum_marginal_j REAL, sum_marginal_se_j REAL, sum_marginal_df REAL, sum_marginal_lo_j REAL,"
    " sum_marginal_hi_j REAL,\n"
    "  sum_shapley_j REAL, sum_shapley_se_j REAL, sum_shapley_df REAL, sum_shapley_lo_j REAL,"
    " sum_shapley_hi_j REAL,\n"
    "  interaction_j REAL, interaction_se_j REAL, interaction_df REAL, interaction_lo_j REAL,"
    " interaction_hi_j REAL,\n"
    "  residual_j REAL, residual_se_j REAL, residual_df REAL, residual_lo_j REAL, residual_hi_j REAL,\n"
    "  residual_pct REAL, residual_lo_pct REAL, residual_hi_pct REAL,\n"
    "  isolation_gap_pct REAL, marginal_gap_pct REAL,\n"
    "  n_orders INTEGER NOT NULL,\n"
    "  order_spread_pct REAL,\n"
    "  pass INTEGER NOT NULL,\n"
    "  PRIMARY KEY(run_id, phase));\n"
    "CREATE TABLE known_answers(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  method TEXT NOT NULL,\n"
    "  bytes INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  truth_j REAL, truth_sd_j REAL, truth_lo_j REAL, truth_hi_j REAL, truth_n INTEGER NOT NULL,\n"
    "  estimate_j REAL, estimate_se_j REAL, estimate_df REAL, estimate_lo_j REAL, estimate_hi_j REAL,\n"
    "  error_pct REAL, error_lo_pct REAL, error_hi_pct REAL,\n"
    "  reliable INTEGER NOT NULL,\n"
    "  PRIMARY KEY(run_id, phase, method));\n"
    "CREATE TABLE ablation_checks(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  method TEXT NOT NULL,\n"
    "  stage TEXT NOT NULL,\n"
    ABLATION_COLUMNS
    "  PRIMARY KEY(run_id, phase, method, stage));\n";

// Added in version 6 with the checks: their energy sources, as version 5 gave the head fit
// and the ablation (docs/attribution.md §1b). flags: sample_energy where the row's energies
// are the power samples', sources_disagree where the counter's figure beside lies outside
// its interval.
const char lj_store_schema_v6_sources[] =
    "ALTER TABLE shapley_checks ADD COLUMN counter_full_j REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN counter_residual_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE known_answers ADD COLUMN counter_truth_j REAL;\n"
    "ALTER TABLE known_answers ADD COLUMN counter_estimate_j REAL;\n"
    "ALTER TABLE known_answers ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE ablation_checks ADD COLUMN counter_saved_j REAL;\n"
    "ALTER TABLE ablation_checks ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;\n";

// The per-call energies and time of a layer's estimate (layer_estimates, layer_stage_estimates).
#define LAYER_ESTIMATE_COLUMNS                                                                           \
  "  kv_len INTEGER NOT NULL,\n"                                                                          \
  "  n_trials INTEGER NOT NULL,\n"                                                                        \
  "  level REAL,\n"                                                                                       \
  "  dynamic_j REAL, dynamic_sd_j REAL, dynamic_lo_j REAL, dynamic_hi_j REAL, dynamic_n INTEGER NOT NULL,\n" \
  "  gross_j REAL, gross_sd_j REAL, gross_lo_j REAL, gross_hi_j REAL, gross_n INTEGER NOT NULL,\n"          \
  "  time_s REAL, time_sd_s REAL, time_lo_s REAL, time_hi_s REAL, time_n INTEGER NOT NULL,\n"

// Added in version 7: each decoder layer replayed alone (--per-layer, docs/attribution.md §2f)
// with the agreement test across the layers, and the layer-skip check (the real run without one
// layer against that layer's estimate; stage is attn_norm, the layer's first).
const char lj_store_schema_v7[] =
    "CREATE TABLE layer_estimates(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    LAYER_ESTIMATE_COLUMNS
    "  rank INTEGER NOT NULL,\n"
    "  t REAL, critical REAL,\n"
    "  agrees INTEGER NOT NULL,\n"
    "  flags INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, phase, layer));\n"
    "CREATE TABLE layer_skips(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  stage TEXT NOT NULL,\n"
    ABLATION_COLUMNS
    "  counter_saved_j REAL,\n"
    "  flags INTEGER NOT NULL DEFAULT 0,\n"
    "  pass INTEGER NOT NULL,\n"
    "  PRIMARY KEY(run_id, phase, layer));\n";

// Added in version 8: each stage of each decoder layer replayed alone on that layer's own input
// and weights (--per-layer, docs/attribution.md §2f), for the layers x stages heatmap.
const char lj_store_schema_v8[] =
    "CREATE TABLE layer_stage_estimates(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  stage TEXT NOT NULL,\n"
    LAYER_ESTIMATE_COLUMNS
    "  insitu_time_s REAL,\n"
    "  time_ratio REAL,\n"
    "  flags INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, phase, layer, stage));\n";

// Added in version 9: the conditions each replay trial ran under (clocks, throttle reasons,
// temperature, power against the cap), one row per trial, by its index in the run's
// replay_trials.
const char lj_store_schema_v9[] =
    "CREATE TABLE trial_conditions(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  trial_index INTEGER NOT NULL,\n"
    "  sm_clock_min_mhz REAL, sm_clock_max_mhz REAL,\n"
    "  mem_clock_min_mhz REAL, mem_clock_max_mhz REAL,\n"
    "  temperature_c REAL,\n"
    "  power_w REAL,\n"
    "  power_limit_w REAL,\n"
    "  throttle_mask INTEGER NOT NULL,\n"
    "  at_cap INTEGER NOT NULL,\n"
    "  PRIMARY KEY(run_id, trial_index));\n";

// Added in version 10: idle power against temperature, fitted over the start-of-run idle and
// a cool-down after the measurements (docs/attribution.md §1c); one row per run that measured one.
const char lj_store_schema_v10[] =
    "CREATE TABLE idle_curves(\n"
    "  run_id INTEGER NOT NULL PRIMARY KEY REFERENCES runs(id),\n"
    "  cooldown_s REAL, cool_start_c REAL, cool_end_c REAL,\n"
    "  t0_c REAL, idle_at_t0_w REAL,\n"
    "  slope_w_per_c REAL, slope_se_w_per_c REAL, slope_lo_w_per_c REAL, slope_hi_w_per_c REAL,\n"
    "  r2 REAL, t_min_c REAL, t_max_c REAL,\n"
    "  n_bins INTEGER NOT NULL, n_samples INTEGER NOT NULL,\n"
    "  used INTEGER NOT NULL,\n"
    "  why_not_used TEXT NOT NULL);\n";

// Added in version 11: the last layer's skip check adds what skipping it changes in the final norm
// and the LM head (docs/attribution.md §2f), per unit with its interval; NULL in older rows.
const char lj_store_schema_v11[] =
    "ALTER TABLE layer_skips ADD COLUMN head_change_j REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN head_change_se_j REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN head_change_df REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN head_change_lo_j REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN head_change_hi_j REAL;\n";

// Added in version 12: the uncertainty budget of each estimate and check (docs/attribution.md
// §3b): the 95% half-width of each term in J with its basis, and their total in quadrature.
const char lj_store_schema_v12[] =
    "CREATE TABLE budgets(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  kind TEXT NOT NULL,\n"
    "  phase TEXT NOT NULL,\n"
    "  method TEXT NOT NULL,\n"
    "  stage TEXT NOT NULL,\n"
    "  layer INTEGER NOT NULL,\n"
    "  kv_len INTEGER NOT NULL,\n"
    "  value_j REAL, reference_j REAL,\n"
    "  trial_j REAL, trial_basis TEXT NOT NULL,\n"
    "  idle_j REAL, idle_basis TEXT NOT NULL,\n"
    "  edge_j REAL, edge_basis TEXT NOT NULL,\n"
    "  card_j REAL, card_basis TEXT NOT NULL,\n"
    "  total_j REAL);\n"
    "CREATE INDEX budgets_by_run ON budgets(run_id);\n";

// Added in version 13: the attention-head grid (docs/attribution.md "Attention heads"): each
// replay trial's batch (0: the run's), every design point (skipped ones with the reason) and the
// fits with their lack-of-fit test. Values of a fit are in its quantity's unit (J or s per call).
const char lj_store_schema_v13[] =
    "ALTER TABLE replay_trials ADD COLUMN batch INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE TABLE head_grid_points(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  batch INTEGER NOT NULL, kv_len INTEGER NOT NULL, groups INTEGER NOT NULL,\n"
    "  kv_bytes INTEGER NOT NULL, need_bytes INTEGER NOT NULL, n_trials INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  dynamic_j REAL, dynamic_sd_j REAL, dynamic_lo_j REAL, dynamic_hi_j REAL, dynamic_n INTEGER,\n"
    "  time_s REAL, time_sd_s REAL, time_lo_s REAL, time_hi_s REAL, time_n INTEGER,\n"
    "  fitted REAL,\n"
    "  skipped TEXT NOT NULL,\n"
    "  PRIMARY KEY(run_id, batch, kv_len, groups));\n"
    "CREATE TABLE head_grid_fits(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  quantity TEXT NOT NULL, batch INTEGER NOT NULL,\n"
    "  n_obs INTEGER NOT NULL, n_points INTEGER NOT NULL,\n"
    "  level REAL,\n"
    "  fixed REAL, fixed_se REAL, fixed_df REAL, fixed_lo REAL, fixed_hi REAL,\n"
    "  per_group REAL, per_group_se REAL, per_group_df REAL, per_group_lo REAL, per_group_hi REAL,\n"
    "  per_byte REAL, per_byte_se REAL, per_byte_df REAL, per_byte_lo REAL, per_byte_hi REAL,\n"
    "  r2 REAL, resid_sd REAL,\n"
    "  lof_f REAL, lof_df_lack REAL, lof_df_pure REAL, lof_p REAL,\n"
    "  holds INTEGER NOT NULL,\n"
    "  small_batch INTEGER NOT NULL, small_kv INTEGER NOT NULL,\n"
    "  per_head_small REAL, per_head_small_se REAL, per_head_small_df REAL, per_head_small_lo REAL,\n"
    "  per_head_small_hi REAL,\n"
    "  large_batch INTEGER NOT NULL, large_kv INTEGER NOT NULL,\n"
    "  per_head_large REAL, per_head_large_se REAL, per_head_large_df REAL, per_head_large_lo REAL,\n"
    "  per_head_large_hi REAL,\n"
    "  flags INTEGER NOT NULL,\n"
    "  counter_per_byte REAL, counter_lof_p REAL,\n"
    "  PRIMARY KEY(run_id, quantity, batch));\n";

// Added in version 14: tensor parallelism (docs/tensor-parallel.md §4). The plan's degree (1 in
// older rows); the per-phase, per-stage and per-window tables below get a tp_rank column: the
// GPU's rank r (device index r), -1 for the sum over the ranks of a run of degree > 1, 0 in
// every row of a degree-1 run and of an older file. SQLite cannot change a table's key, so each
// is rebuilt (around its rows, when it has any) with tp_rank after run_id in its key
// (lj_store_key_by_rank), as version 3 rebuilt stage_estimates.
const char lj_store_schema_v14[] = "ALTER TABLE profile_plans ADD COLUMN tp_degree INTEGER NOT NULL DEFAULT 1;\n";

const char *const lj_store_tp_rank_tables[] = {
    // per window
    "phase_windows", "replay_trials", "trial_conditions", "stage_intervals",
    // per phase
    "phase_summaries", "closures", "shapley_checks", "known_answers", "timeline_phases", "layer_estimates",
    "layer_skips",
    // per stage
    "stage_estimates", "timeline_stages", "layer_stage_estimates", "ablations", "ablation_checks",
};
const int lj_store_n_tp_rank_tables = (int)(sizeof lj_store_tp_rank_tables / sizeof lj_store_tp_rank_tables[0]);

// Added in version 15: the Shapley split by the layer's own game (docs/attribution.md §2d): the
// fit of every window of the rounds, its junction term and its check; NULL and 0 in older rows.
const char lj_store_schema_v15[] =
    "ALTER TABLE shapley_checks ADD COLUMN layer_windows INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_junction_j REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_junction_se_j REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_junction_df REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_junction_lo_j REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_junction_hi_j REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_residual_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_residual_lo_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_residual_hi_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_worst TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_worst_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_worst_lo_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_worst_hi_pct REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN layer_verdict TEXT NOT NULL DEFAULT '';\n";

// Added in version 16: every window of the ablations' bracketed schedule (docs/attribution.md §5),
// one row per window in the order it ran, so that a check can be examined after the run.
const char lj_store_schema_v16[] =
    "CREATE TABLE ablation_windows(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  phase TEXT NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  skipped TEXT NOT NULL,\n"
    "  round INTEGER NOT NULL,\n"
    "  pair INTEGER NOT NULL,\n"
    "  units INTEGER NOT NULL,\n"
    "  duration_s REAL,\n"
    "  counter_dynamic_j REAL, sample_dynamic_j REAL,\n"
    "  idle_w REAL, mean_power_w REAL, peak_power_w REAL,\n"
    "  temperature_start_c REAL, temperature_end_c REAL,\n"
    "  sm_clock_min_mhz REAL, sm_clock_max_mhz REAL,\n"
    "  power_limit_w REAL,\n"
    "  throttle_mask INTEGER NOT NULL,\n"
    "  at_cap INTEGER NOT NULL,\n"
    "  flags INTEGER NOT NULL,\n"
    "  tp_rank INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, tp_rank, phase, seq));\n";

// Added in version 17: each tensor-parallel rank's GPU's idle baseline (docs/tensor-parallel.md §4),
// what that GPU's own figures (its phase summaries, trials, estimates and Shapley checks, rows of
// its tp_rank) subtract; the run's own baseline (profile_conditions.idle_w) is their sum.
const char lj_store_schema_v17[] =
    "CREATE TABLE rank_idle(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  tp_rank INTEGER NOT NULL,\n"
    "  idle_w REAL,\n"
    "  idle_sd_w REAL,\n"
    "  PRIMARY KEY(run_id, tp_rank));\n";

// Added in version 18: what the report of a stored profile needs to print what the profile printed.
// The plan's sequence replay (NULL in older rows: read as whether the run has sequence rows), and
// beside every mean with its interval its standard error X_se and degrees of freedom X_df (NULL in
// older rows: read as X_sd / sqrt(X_n) and X_n - 1). A mean taken from a fit (a Shapley value) has a
// standard error no spread of X_n values gives; sums over such means (the stage groups) need it.
const char lj_store_schema_v18[] =
    "ALTER TABLE profile_plans ADD COLUMN sequence INTEGER;\n"
    "ALTER TABLE phase_summaries ADD COLUMN time_se_s REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN time_df REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN gross_se_j REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN gross_df REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN dynamic_se_j REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN dynamic_df REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN sample_gross_se_j REAL;\n"
    "ALTER TABLE phase_summaries ADD COLUMN sample_gross_df REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN gross_se_j REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN gross_df REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN dynamic_se_j REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN dynamic_df REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN sample_gross_se_j REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN sample_gross_df REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN sample_dynamic_se_j REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN sample_dynamic_df REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN time_per_call_se_s REAL;\n"
    "ALTER TABLE stage_estimates ADD COLUMN time_per_call_df REAL;\n"
    "ALTER TABLE ablations ADD COLUMN full_se_j REAL;\n"
    "ALTER TABLE ablations ADD COLUMN full_df REAL;\n"
    "ALTER TABLE ablations ADD COLUMN ablated_se_j REAL;\n"
    "ALTER TABLE ablations ADD COLUMN ablated_df REAL;\n"
    "ALTER TABLE ablation_checks ADD COLUMN full_se_j REAL;\n"
    "ALTER TABLE ablation_checks ADD COLUMN full_df REAL;\n"
    "ALTER TABLE ablation_checks ADD COLUMN ablated_se_j REAL;\n"
    "ALTER TABLE ablation_checks ADD COLUMN ablated_df REAL;\n"
    "ALTER TABLE layer_estimates ADD COLUMN dynamic_se_j REAL;\n"
    "ALTER TABLE layer_estimates ADD COLUMN dynamic_df REAL;\n"
    "ALTER TABLE layer_estimates ADD COLUMN gross_se_j REAL;\n"
    "ALTER TABLE layer_estimates ADD COLUMN gross_df REAL;\n"
    "ALTER TABLE layer_estimates ADD COLUMN time_se_s REAL;\n"
    "ALTER TABLE layer_estimates ADD COLUMN time_df REAL;\n"
    "ALTER TABLE layer_stage_estimates ADD COLUMN dynamic_se_j REAL;\n"
    "ALTER TABLE layer_stage_estimates ADD COLUMN dynamic_df REAL;\n"
    "ALTER TABLE layer_stage_estimates ADD COLUMN gross_se_j REAL;\n"
    "ALTER TABLE layer_stage_estimates ADD COLUMN gross_df REAL;\n"
    "ALTER TABLE layer_stage_estimates ADD COLUMN time_se_s REAL;\n"
    "ALTER TABLE layer_stage_estimates ADD COLUMN time_df REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN full_se_j REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN full_df REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN ablated_se_j REAL;\n"
    "ALTER TABLE layer_skips ADD COLUMN ablated_df REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN full_se_j REAL;\n"
    "ALTER TABLE shapley_checks ADD COLUMN full_df REAL;\n"
    "ALTER TABLE known_answers ADD COLUMN truth_se_j REAL;\n"
    "ALTER TABLE known_answers ADD COLUMN truth_df REAL;\n"
    "ALTER TABLE head_grid_points ADD COLUMN dynamic_se_j REAL;\n"
    "ALTER TABLE head_grid_points ADD COLUMN dynamic_df REAL;\n"
    "ALTER TABLE head_grid_points ADD COLUMN time_se_s REAL;\n"
    "ALTER TABLE head_grid_points ADD COLUMN time_df REAL;\n"
    "ALTER TABLE overheads ADD COLUMN off_se_s REAL;\n"
    "ALTER TABLE overheads ADD COLUMN off_df REAL;\n"
    "ALTER TABLE overheads ADD COLUMN on_se_s REAL;\n"
    "ALTER TABLE overheads ADD COLUMN on_df REAL;\n";

// Added in version 19: each tensor-parallel rank's uncertainty budgets (docs/tensor-parallel.md §4),
// what its GPU's own checks are judged with, under its tp_rank as the per-rank tables hold its rows.
// The budgets table has no key to rebuild, so the column is added; the rows a run of degree > 1
// stored before it are the sum's (-1), those of every other run rank 0's.
const char lj_store_schema_v19[] =
    "ALTER TABLE budgets ADD COLUMN tp_rank INTEGER NOT NULL DEFAULT 0;\n"
    "UPDATE budgets SET tp_rank = -1 WHERE run_id IN (SELECT run_id FROM profile_plans WHERE tp_degree > 1);\n";

// Added in version 20: the budgets' source term (docs/attribution.md §3b), the offset between the
// energy counter and the power samples over a phase's windows. Rows written before it did not
// measure it: their basis reads "not measured".
const char lj_store_schema_v20[] =
    "ALTER TABLE budgets ADD COLUMN source_j REAL;\n"
    "ALTER TABLE budgets ADD COLUMN source_basis TEXT NOT NULL DEFAULT 'not measured';\n";

// Added in version 21: the decode GEMVs' setting the profile ran (`profile --gemv-config`): the
// per-shape defaults, or one bf16 configuration on every shape class. Rows before it ran the defaults.
const char lj_store_schema_v21[] = "ALTER TABLE profile_plans ADD COLUMN gemv TEXT NOT NULL DEFAULT 'defaults';\n";

// Added in version 22: each tensor-parallel GPU's own idle curve (docs/tensor-parallel.md §5), a
// row per rank under its tp_rank (a degree-1 run's under 0). The table's key was run_id alone, so
// it is rebuilt with tp_rank in it; a row written before is a degree-1 run's (rank 0): a run of
// degree > 1 measured no cool-down then.
const char lj_store_schema_v22[] =
    "ALTER TABLE idle_curves RENAME TO idle_curves_v21;\n"
    "CREATE TABLE idle_curves(\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  cooldown_s REAL, cool_start_c REAL, cool_end_c REAL,\n"
    "  t0_c REAL, idle_at_t0_w REAL,\n"
    "  slope_w_per_c REAL, slope_se_w_per_c REAL, slope_lo_w_per_c REAL, slope_hi_w_per_c REAL,\n"
    "  r2 REAL, t_min_c REAL, t_max_c REAL,\n"
    "  n_bins INTEGER NOT NULL, n_samples INTEGER NOT NULL,\n"
    "  used INTEGER NOT NULL,\n"
    "  why_not_used TEXT NOT NULL,\n"
    "  tp_rank INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(run_id, tp_rank));\n"
    "INSERT INTO idle_curves SELECT *, 0 FROM idle_curves_v21;\n"
    "DROP TABLE idle_curves_v21;\n";
