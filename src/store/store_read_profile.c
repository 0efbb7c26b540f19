// A profile read back from the profile tables into an lj_profile_result: the
// inverse of store_profile.c, so that reports need no GPU and no re-run.
// Columns are found by name, so a version-2 file (without method) reads with
// those at their version-2 meaning; rows of the removed prefill "context"
// method (version 3 files) are skipped and counted in the notes; NULL reads as
// NAN ("not measured"); fields the store does not keep (a mean's sem, cv,
// half width) are derived from the ones it does.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/record_desc.h"
#include "store/store_internal.h"

typedef struct {
  lj_store *st;
  sqlite3_stmt *stmt;
  int64_t run_id;
  const char *table;
  int c_rank;    // the tp_rank column (-1: none, a table or file without ranks)
  int all_ranks; // 1: every rank's rows; 0: only those of st->profile_rank (the run's own figures)
} rows;

static int rows_open(lj_store *st, int64_t run_id, const char *table, const char *extra, rows *r) {
  r->st = st;
  r->run_id = run_id;
  r->table = table;
  char sql[512], what[128];
  snprintf(sql, sizeof sql, "SELECT * FROM %s %s WHERE run_id = ?1 ORDER BY rowid", table, extra ? extra : "");
  snprintf(what, sizeof what, "reading the profile of run %lld from table %.48s", (long long)run_id, table);
  LJ_TRY(lj_store_prepare(st, sql, &r->stmt, what));
  sqlite3_bind_int64(r->stmt, 1, run_id);
  r->all_ranks = 0;
  r->c_rank = -1;
  for (int i = 0, n = sqlite3_column_count(r->stmt); i < n; i++)
    if (!strcmp(sqlite3_column_name(r->stmt, i), "tp_rank")) r->c_rank = i;
  return 0;
}

// 1 a row, 0 done, negative on error (naming the file and the table).
static int rows_next(rows *r) {
  int rc = sqlite3_step(r->stmt);
  // another rank's rows of a per-rank table (schema 14): not the run's own figures
  while (rc == SQLITE_ROW && r->c_rank >= 0 && !r->all_ranks &&
         sqlite3_column_int(r->stmt, r->c_rank) != r->st->profile_rank)
    rc = sqlite3_step(r->stmt);
  if (rc == SQLITE_ROW) return 1;
  if (rc == SQLITE_DONE) return 0;
  char what[128];
  snprintf(what, sizeof what, "reading the profile of run %lld from table %.48s", (long long)r->run_id, r->table);
  return lj_sqlite_fail(r->st->db, r->st->path, rc, what, __FILE__, __LINE__);
}

static void rows_close(rows *r) {
  sqlite3_finalize(r->stmt);
  r->stmt = NULL;
}

static int col_of(const rows *r, const char *name) {
  int n = sqlite3_column_count(r->stmt);
  for (int i = 0; i < n; i++)
    if (!strcmp(sqlite3_column_name(r->stmt, i), name)) return i;
  return -1;
}

static int is_null(const rows *r, int c) { return c < 0 || sqlite3_column_type(r->stmt, c) == SQLITE_NULL; }
static double get_real(const rows *r, const char *name) {
  int c = col_of(r, name);
  return is_null(r, c) ? NAN : sqlite3_column_double(r->stmt, c);
}
static int64_t get_int_or(const rows *r, const char *name, int64_t absent) {
  int c = col_of(r, name);
  return is_null(r, c) ? absent : sqlite3_column_int64(r->stmt, c);
}
static int64_t get_int(const rows *r, const char *name) { return get_int_or(r, name, 0); }
static void get_text(const rows *r, const char *name, char *buf, size_t cap) {
  int c = col_of(r, name);
  if (c < 0) {
    if (cap) buf[0] = '\0';
    return;
  }
  lj_store_column_text(r->stmt, c, buf, cap);
}

// A mean with its interval: X, X_sd, X_lo, X_hi, X_n, X_se, X_df (store.md); the unit suffix after
// the part. Rows before schema 18 have no X_se, X_df: those of a mean of X_n values.
static void get_ci(const rows *r, const char *name, const char *unit, double level, lj_mean_ci *m) {
  char col[96];
  memset(m, 0, sizeof *m);
  snprintf(col, sizeof col, "%s_n", name);
  m->n = (int)get_int(r, col);
  m->level = level;
  snprintf(col, sizeof col, "%s%s", name, unit);
  m->mean = get_real(r, col);
  snprintf(col, sizeof col, "%s_sd%s", name, unit);
  m->stddev = get_real(r, col);
  snprintf(col, sizeof col, "%s_lo%s", name, unit);
  m->lo = get_real(r, col);
  snprintf(col, sizeof col, "%s_hi%s", name, unit);
  m->hi = get_real(r, col);
  snprintf(col, sizeof col, "%s_df", name);
  m->df = get_real(r, col);
  if (isnan(m->df)) m->df = m->n > 0 ? m->n - 1 : NAN;
  snprintf(col, sizeof col, "%s_se%s", name, unit);
  m->sem = get_real(r, col);
  if (isnan(m->sem)) m->sem = m->n > 0 ? m->stddev / sqrt((double)m->n) : NAN;
  m->cv = m->mean != 0 ? m->stddev / fabs(m->mean) : NAN;
  m->half_width = (m->hi - m->lo) / 2;
}

// An lj_interval: X, X_se, X_df, X_lo, X_hi.
static void get_iv(const rows *r, const char *name, const char *unit, double level, lj_interval *v) {
  char col[96];
  v->level = level;
  snprintf(col, sizeof col, "%s%s", name, unit);
  v->estimate = get_real(r, col);
  snprintf(col, sizeof col, "%s_se%s", name, unit);
  v->se = get_real(r, col);
  snprintf(col, sizeof col, "%s_df", name);
  v->df = get_real(r, col);
  snprintf(col, sizeof col, "%s_lo%s", name, unit);
  v->lo = get_real(r, col);
  snprintf(col, sizeof col, "%s_hi%s", name, unit);
  v->hi = get_real(r, col);
}

static int bad_value(const rows *r, const char *column, const char *value) {
  return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table %s: unknown %s '%s'", r->st->path,
                 (long long)r->run_id, r->table, column, value);
}

static int get_phase_col(const rows *r, const char *column, lj_phase *out) {
  char s[32];
  get_text(r, column, s, sizeof s);
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    if (!strcmp(s, lj_phase_name((lj_phase)p))) return *out = (lj_phase)p, 0;
  return bad_value(r, column, s);
}
static int get_phase(const rows *r, lj_phase *out) { return get_phase_col(r, "phase", out); }

// "none" (a trial of no one stage: the whole layer, the calibration copy alone) is
// LJ_STAGE_NONE when allowed; composite stages by their names ("attn_norm+qkv").
static int get_stage_col(const rows *r, const char *column, int allow_none, lj_stage *out) {
  char s[32];
  get_text(r, column, s, sizeof s);
  for (int i = 0; i < LJ_STAGE_ALL_COUNT; i++)
    if (!strcmp(s, lj_stage_name((lj_stage)i))) return *out = (lj_stage)i, 0;
  if (allow_none && !strcmp(s, "none")) return *out = LJ_STAGE_NONE, 0;
  return bad_value(r, column, s);
}
static int get_stage(const rows *r, lj_stage *out) { return get_stage_col(r, "stage", 0, out); }

// A row of the prefill "context" method, which llamajoule no longer has (superseded by the
// sequence replay). Stores written before keep such rows (with stage 'none' for its plain
// units); the reader skips them, so that old stores still open in report and compare.
static int legacy_row(const rows *r, size_t *n_legacy) {
  char s[32];
  if (col_of(r, "method") < 0) return 0;
  get_text(r, "method", s, sizeof s);
  if (strcmp(s, LJ_METHOD_LEGACY_CONTEXT_NAME)) return 0;
  ++*n_legacy;
  return 1;
}

// A version-2 file has no method column: every row there is an isolation replay.
static int get_method_col(const rows *r, const char *column, lj_profile_method *out) {
  if (col_of(r, column) < 0) return *out = LJ_METHOD_ISOLATION, 0;
  char s[32];
  get_text(r, column, s, sizeof s);
  for (int m = 0; m < LJ_METHOD_ALL_COUNT; m++)
    if (!strcmp(s, lj_profile_method_name((lj_profile_method)m))) return *out = (lj_profile_method)m, 0;
  return bad_value(r, column, s);
}

// One described record (record_desc.h) from the current row; the level column comes before
// the intervals it belongs to. Fields the store does not keep stay as they are.
static int get_record(const rows *r, const lj_record_desc *d, void *rec) {
  double level = NAN;
  for (size_t i = 0; i < d->n_fields; i++) {
    const lj_field *f = &d->fields[i];
    void *p = (char *)rec + f->off;
    const char *n = f->sql, *u = lj_field_suffix(f->unit);
    if (!n) continue;
    switch (f->type) {
      case LJ_FIELD_INT:
      case LJ_FIELD_BOOL: *(int *)p = (int)get_int(r, n); break;
      case LJ_FIELD_I64: *(int64_t *)p = get_int(r, n); break;
      case LJ_FIELD_FLAGS: *(uint32_t *)p = (uint32_t)get_int(r, n); break;
      case LJ_FIELD_REAL:
      case LJ_FIELD_FINITE: *(double *)p = get_real(r, n); break;
      case LJ_FIELD_LEVEL: *(double *)p = level = get_real(r, n); break;
      case LJ_FIELD_TEXT: get_text(r, n, (char *)p, f->size); break;
      case LJ_FIELD_PHASE: LJ_TRY(get_phase_col(r, n, (lj_phase *)p)); break;
      case LJ_FIELD_STAGE: LJ_TRY(get_stage_col(r, n, 0, (lj_stage *)p)); break;
      case LJ_FIELD_STAGE_OR_NONE: LJ_TRY(get_stage_col(r, n, 1, (lj_stage *)p)); break;
      case LJ_FIELD_METHOD: LJ_TRY(get_method_col(r, n, (lj_profile_method *)p)); break;
      case LJ_FIELD_CI: get_ci(r, n, u, level, (lj_mean_ci *)p); break;
      case LJ_FIELD_IV: get_iv(r, n, u, level, (lj_interval *)p); break;
      case LJ_FIELD_TP_RANK:  // rows_next keeps the rank wanted
      case LJ_FIELD_GROUP:
      case LJ_FIELD_DERIVED: break;
    }
  }
  return 0;
}

static void parse_kv(const char *text, lj_profile_plan *p) {
  p->n_decode_kv = 0;
  for (const char *c = text; *c && p->n_decode_kv < LJ_PROFILE_MAX_KV;) {
    char *end;
    long long v = strtoll(c, &end, 10);
    if (end == c) break;
    p->decode_kv[p->n_decode_kv++] = v;
    c = *end == ',' ? end + 1 : end;
  }
}

static int read_plan(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "profile_plans", NULL, &r));
  int rc = rows_next(&r);
  if (rc == 0)
    rc = LJ_FAIL(LJ_EINVAL, "store '%s': run %lld holds no profile", st->path, (long long)run_id);
  if (rc == 1) {
    lj_profile_plan *p = &res->plan;
    lj_model_config *c = &p->config;
    char kv[LJ_PROFILE_MAX_KV * 24], rope[16];
    res->complete = (int)get_int(&r, "complete");
    get_text(&r, "model", p->model, sizeof p->model);
    get_text(&r, "model_name", p->model_name, sizeof p->model_name);
    p->weights_random = (int)get_int(&r, "weights_random");
    char engine[sizeof p->engine + sizeof p->fusion + 1];  // "cuda" or "cuda+production" (store_profile.c)
    get_text(&r, "engine", engine, sizeof engine);
    char *plus = strchr(engine, '+');
    snprintf(p->fusion, sizeof p->fusion, "%s", plus ? plus + 1 : "none");
    size_t n = plus ? (size_t)(plus - engine) : strlen(engine);
    if (n >= sizeof p->engine) n = sizeof p->engine - 1;
    memcpy(p->engine, engine, n);
    p->engine[n] = '\0';
    get_text(&r, "weights", p->weights, sizeof p->weights);
    get_text(&r, "gemv", p->gemv, sizeof p->gemv);  // no column before version 21: the defaults ran
    if (!p->gemv[0]) snprintf(p->gemv, sizeof p->gemv, "defaults");
    p->timing_only = (int)get_int(&r, "timing_only");
    p->device = (int)get_int(&r, "device_index");
    p->batch = (int)get_int(&r, "batch");
    p->prompt_len = (int)get_int(&r, "prompt_len");
    p->gen_len = (int)get_int(&r, "gen_len");
    p->repeats = (int)get_int(&r, "repeats");
    p->trials = (int)get_int(&r, "trials");
    p->replay_seconds = get_real(&r, "replay_s");
    p->replay_duty = get_real(&r, "replay_duty");
    p->phase_seconds = get_real(&r, "phase_s");
    p->level = get_real(&r, "level");
    p->layers_replayed = (int)get_int(&r, "layers_replayed");
    get_text(&r, "decode_kv", kv, sizeof kv);
    parse_kv(kv, p);
    p->ablation = (int)get_int(&r, "ablation");
    p->head_fit = (int)get_int(&r, "head_fit");
    p->shapley = (int)get_int(&r, "shapley");  // 0 before version 6
    p->sequence = (int)get_int_or(&r, "sequence", -1);  // before version 18: from the rows (read_all)
    p->known_answer_bytes = get_int(&r, "known_answer_bytes");
    p->seed = (uint64_t)get_int(&r, "seed");
    get_text(&r, "prompt_source", p->prompt_source, sizeof p->prompt_source);
    p->tp_degree = (int)get_int_or(&r, "tp_degree", 1);  // 1 before version 14
    if (p->tp_degree < 1 || p->tp_degree > LJ_PROFILE_MAX_RANKS) {
      rows_close(&r);
      return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld: tp_degree %d outside 1..%d", st->path,
                     (long long)run_id, p->tp_degree, LJ_PROFILE_MAX_RANKS);
    }
    get_text(&r, "notes", res->notes, sizeof res->notes);
    get_text(&r, "config_name", c->name, sizeof c->name);
    c->dim = (int)get_int(&r, "dim");
    c->hidden_dim = (int)get_int(&r, "hidden_dim");
    c->n_layers = (int)get_int(&r, "n_layers");
    c->n_heads = (int)get_int(&r, "n_heads");
    c->n_kv_heads = (int)get_int(&r, "n_kv_heads");
    c->head_dim = (int)get_int(&r, "head_dim");
    c->vocab_size = (int)get_int(&r, "vocab_size");
    c->max_seq_len = (int)get_int(&r, "max_seq_len");
    c->rope_theta = get_real(&r, "rope_theta");
    get_text(&r, "rope_type", rope, sizeof rope);
    c->rope_type = !strcmp(rope, "llama3") ? LJ_ROPE_LLAMA3 : LJ_ROPE_DEFAULT;
    c->rope_factor = get_real(&r, "rope_factor");
    c->rope_low_freq_factor = get_real(&r, "rope_low_freq_factor");
    c->rope_high_freq_factor = get_real(&r, "rope_high_freq_factor");
    c->rope_original_max_pos = (int)get_int(&r, "rope_original_max_pos");
    c->norm_eps = get_real(&r, "norm_eps");
    c->tie_embeddings = (int)get_int(&r, "tie_embeddings");
    c->bos_id = (int)get_int(&r, "bos_id");
    c->eos_id = (int)get_int(&r, "eos_id");
    rc = 0;
  }
  rows_close(&r);
  return rc;
}

// The power source the run read the GPU with ("nvml", "nvidia-smi", "replay:FILE") is kept
// with the run's device (the devices table, written when the meter opened it).
static int read_device_source(lj_store *st, int64_t run_id, lj_profile_conditions *c) {
  sqlite3_stmt *stmt;
  char what[96];
  snprintf(what, sizeof what, "reading the device of run %lld", (long long)run_id);
  LJ_TRY(lj_store_prepare(st, "SELECT source FROM devices WHERE run_id = ? AND device_index = ? ORDER BY rowid LIMIT 1",
                          &stmt, what));
  sqlite3_bind_int64(stmt, 1, run_id);
  sqlite3_bind_int(stmt, 2, c->device.index);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
    lj_store_column_text(stmt, 0, c->device.source, sizeof c->device.source);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return lj_sqlite_fail(st->db, st->path, rc, what, __FILE__, __LINE__);
  return 0;
}

static int read_conditions(lj_store *st, int64_t run_id, lj_profile_conditions *c) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "profile_conditions", NULL, &r));
  int rc = rows_next(&r);
  if (rc == 1) {
    c->device.index = (int)get_int(&r, "device_index");
    get_text(&r, "device_name", c->device.name, sizeof c->device.name);
    get_text(&r, "device_uuid", c->device.uuid, sizeof c->device.uuid);
    get_text(&r, "pci_bus_id", c->device.pci_bus_id, sizeof c->device.pci_bus_id);
    get_text(&r, "driver_version", c->device.driver_version, sizeof c->device.driver_version);
    get_text(&r, "cuda_driver", c->cuda_driver, sizeof c->cuda_driver);
    c->idle_w = get_real(&r, "idle_w");
    c->idle_sd_w = get_real(&r, "idle_sd_w");
    get_text(&r, "idle_method", c->idle_method, sizeof c->idle_method);
    c->temperature_min_c = get_real(&r, "temperature_min_c");
    c->temperature_max_c = get_real(&r, "temperature_max_c");
    c->sm_clock_min_mhz = get_real(&r, "sm_clock_min_mhz");
    c->sm_clock_max_mhz = get_real(&r, "sm_clock_max_mhz");
    c->mem_clock_min_mhz = get_real(&r, "mem_clock_min_mhz");
    c->mem_clock_max_mhz = get_real(&r, "mem_clock_max_mhz");
    c->power_limit_w = get_real(&r, "power_limit_w");
    c->throttle_seen = (uint64_t)get_int(&r, "throttle_mask");
    get_text(&r, "throttle", c->throttle_text, sizeof c->throttle_text);
    c->n_samples = get_int(&r, "n_samples");
    c->buffer_gaps = (uint64_t)get_int(&r, "buffer_gaps");
    c->sampler_cpu_percent = get_real(&r, "sampler_cpu_pct");
    c->begin_wall_ns = get_int(&r, "begin_wall_ns");
    c->end_wall_ns = get_int(&r, "end_wall_ns");
    rc = 0;
  }
  rows_close(&r);
  if (rc < 0) return rc;
  return read_device_source(st, run_id, c);
}

static int reading_of(const char *name) {
  for (int i = 0; i < LJ_READING_COUNT; i++)
    if (!strcmp(name, lj_reading_name((lj_reading)i))) return i;
  return -1;
}

// A phase window and its `windows` row (joined on window_id; store.md).
static int read_windows(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  char joined[640];
  snprintf(joined, sizeof joined,
           "(SELECT p.run_id, p.phase, p.repeat, p.units, p.tokens_per_unit, p.host_s,"
           " w.name, w.device_index, w.begin_ns, w.end_ns, w.duration_s, w.counter_j,"
           " w.counter_updates, w.buffer_j, w.n_samples, w.integrated_reading, w.mean_w,"
           " w.peak_w, w.idle_w, w.counter_above_idle_j, w.buffer_above_idle_j, w.flags,"
           " p.rowid AS rowid%s FROM phase_windows p JOIN windows w ON w.id = p.window_id)",
           st->version >= 14 ? ", p.tp_rank" : "");
  LJ_TRY(rows_open(st, run_id, joined, NULL, &r));
  r.table = "phase_windows";
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    lj_phase_window w;
    memset(&w, 0, sizeof w);
    if ((rc = get_phase(&r, &w.phase)) < 0) break;
    w.repeat = (int)get_int(&r, "repeat");
    w.units = get_int(&r, "units");
    w.tokens_per_unit = get_int(&r, "tokens_per_unit");
    w.host_s = get_real(&r, "host_s");
    w.temperature_c = NAN;  // not stored
    lj_window_result *x = &w.w;
    char reading[32];
    get_text(&r, "name", x->name, sizeof x->name);
    x->device = (int)get_int_or(&r, "device_index", -1);
    x->begin_ns = get_int(&r, "begin_ns");
    x->end_ns = get_int(&r, "end_ns");
    x->duration_s = get_real(&r, "duration_s");
    x->counter_energy_j = get_real(&r, "counter_j");
    x->counter_updates = (int)get_int(&r, "counter_updates");
    x->sample_energy_j = get_real(&r, "buffer_j");
    x->n_samples = (int)get_int(&r, "n_samples");
    get_text(&r, "integrated_reading", reading, sizeof reading);
    x->integrated_reading = reading_of(reading);
    x->mean_power_w = get_real(&r, "mean_w");
    x->peak_power_w = get_real(&r, "peak_w");
    x->idle_power_w = get_real(&r, "idle_w");
    if (isnan(x->idle_power_w)) x->idle_power_w = 0;  // the window's convention: 0 = no baseline
    x->counter_above_idle_j = get_real(&r, "counter_above_idle_j");
    x->sample_above_idle_j = get_real(&r, "buffer_above_idle_j");
    x->flags = (uint32_t)get_int(&r, "flags");
    if ((rc = lj_profile_add_window(res, &w)) < 0) break;
  }
  rows_close(&r);
  return rc;
}

// The run's own summaries into phases, each rank's (schema 14, tp_degree > 1) into rank_phases.
static int read_summaries(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "phase_summaries", NULL, &r));
  r.all_ranks = 1;
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    lj_phase_summary s;
    memset(&s, 0, sizeof s);
    if ((rc = get_record(&r, &lj_desc_phase_summary, &s)) < 0) break;
    int rank = r.c_rank < 0 ? st->profile_rank : sqlite3_column_int(r.stmt, r.c_rank);
    if (rank == st->profile_rank) {
      res->phases[s.phase] = s;
    } else if (rank >= 0 && rank < LJ_PROFILE_MAX_RANKS && rank < res->plan.tp_degree) {
      res->rank_phases[rank][s.phase] = s;
      if (rank + 1 > res->n_ranks) res->n_ranks = rank + 1;
    } else {
      rc = LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table phase_summaries: tp_rank %d outside 0..%d "
                   "(tensor-parallel degree %d)", st->path, (long long)run_id, rank, res->plan.tp_degree - 1,
                   res->plan.tp_degree);
      break;
    }
  }
  rows_close(&r);
  return rc;
}

static int read_stages(lj_store *st, int64_t run_id, lj_profile_result *res, size_t *n_legacy) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "stage_estimates", NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    if (legacy_row(&r, n_legacy)) continue;
    lj_profile_stage s;
    memset(&s, 0, sizeof s);
    if ((rc = get_record(&r, &lj_desc_stage, &s)) < 0) break;
    // the estimate: the samples' where the run took them (sample_energy), else the counter's
    lj_replay_estimate *e = &s.est;
    int samples = (e->window_flags & LJ_WINDOW_SAMPLE_ENERGY) && e->sample_dynamic_j.n > 0;
    e->gross_j = samples ? e->sample_gross_j : e->counter_gross_j;
    e->dynamic_j = samples ? e->sample_dynamic_j : e->counter_dynamic_j;
    s.cost.link_bytes = lj_stage_cost_link_bytes_of(e->key.stage, s.cost.flops);  // no column (schema 13)
    if ((rc = lj_profile_add_stage(res, &s)) < 0) break;
  }
  rows_close(&r);
  return rc;
}

static int read_trials(lj_store *st, int64_t run_id, lj_profile_result *res, size_t *n_legacy) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "replay_trials", NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    if (legacy_row(&r, n_legacy)) continue;
    lj_profile_trial t;
    memset(&t, 0, sizeof t);
    if ((rc = get_record(&r, &lj_desc_trial, &t)) < 0) break;
    if (isnan(t.t.gap_s)) t.t.gap_s = 0;  // version 2: no gaps
    if ((rc = lj_profile_add_trial(res, &t)) < 0) break;
  }
  rows_close(&r);
  return rc;
}

static int read_closures(lj_store *st, int64_t run_id, lj_profile_result *res, size_t *n_legacy) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "closures", NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    if (legacy_row(&r, n_legacy)) continue;
    lj_closure_row c;
    memset(&c, 0, sizeof c);
    if ((rc = get_record(&r, &lj_desc_closure, &c)) < 0) break;
    *(lj_closure *)lj_profile_closure_of(res, c.c.phase, c.method) = c.c;
  }
  rows_close(&r);
  return rc;
}

static int read_intervals(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "(SELECT *, rowid FROM stage_intervals ORDER BY seq)", NULL, &r));
  r.table = "stage_intervals";
  int c_layer = col_of(&r, "layer"), c_step = col_of(&r, "step");
  int c_begin = col_of(&r, "begin_ns"), c_end = col_of(&r, "end_ns"), c_energy = col_of(&r, "energy_j");
  int rc;
  // ~100k rows: the numeric columns are looked up once.
  while ((rc = rows_next(&r)) == 1) {
    lj_stage_interval iv;
    memset(&iv, 0, sizeof iv);
    if ((rc = get_phase(&r, &iv.phase)) < 0 || (rc = get_stage(&r, &iv.stage)) < 0) break;
    iv.layer = sqlite3_column_int(r.stmt, c_layer);
    iv.begin_ns = sqlite3_column_int64(r.stmt, c_begin);
    iv.end_ns = sqlite3_column_int64(r.stmt, c_end);
    if ((rc = lj_profile_add_interval(res, &iv, sqlite3_column_int(r.stmt, c_step))) < 0) break;
    res->interval_energy_j[res->n_intervals - 1] =
        is_null(&r, c_energy) ? NAN : sqlite3_column_double(r.stmt, c_energy);
  }
  rows_close(&r);
  return rc;
}

static int read_timeline(lj_store *st, int64_t run_id, lj_profile_result *res) {
  lj_timeline_result *t = &res->timeline;
  rows r;
  LJ_TRY(rows_open(st, run_id, "timeline_phases", NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    lj_timeline_phase_row ph;
    memset(&ph, 0, sizeof ph);
    if ((rc = get_record(&r, &lj_desc_timeline_phase, &ph)) < 0) break;
    res->timeline_valid = 1;
    t->device = ph.device, t->idle_w = ph.idle_w, t->n_samples = ph.n_samples, t->flags = ph.flags;
    t->phase[ph.phase] = ph.t;
  }
  rows_close(&r);
  if (rc < 0) return rc;
  LJ_TRY(rows_open(st, run_id, "timeline_stages", NULL, &r));
  while ((rc = rows_next(&r)) == 1) {
    lj_timeline_stage_row ts;
    memset(&ts, 0, sizeof ts);
    if ((rc = get_record(&r, &lj_desc_timeline_stage, &ts)) < 0) break;
    t->stage[ts.phase][ts.stage] = ts.t;
  }
  rows_close(&r);
  return rc;
}

static int read_layers(lj_store *st, int64_t run_id, lj_profile_result *res) {
  int n_layers = res->plan.config.n_layers;
  rows r;
  LJ_TRY(rows_open(st, run_id, "timeline_layers", NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    lj_phase p = LJ_PHASE_LOAD;  // set by get_phase; -O3 cannot see it
    if ((rc = get_phase(&r, &p)) < 0) break;
    int64_t l = get_int(&r, "layer");
    if (l < 0 || l >= n_layers) {
      rc = LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table timeline_layers: layer %lld of a %d-layer model",
                   st->path, (long long)run_id, (long long)l, n_layers);
      break;
    }
    if (!res->layer_energy_j[p]) {
      res->layer_energy_j[p] = malloc(sizeof(double) * (size_t)n_layers);
      res->layer_time_s[p] = malloc(sizeof(double) * (size_t)n_layers);
      if (!res->layer_energy_j[p] || !res->layer_time_s[p]) {
        rc = LJ_FAIL(LJ_ENOMEM, "store '%s': out of memory reading %d layers", st->path, n_layers);
        break;
      }
      for (int i = 0; i < n_layers; i++) res->layer_energy_j[p][i] = res->layer_time_s[p][i] = NAN;
    }
    res->layer_energy_j[p][l] = get_real(&r, "energy_j");
    res->layer_time_s[p][l] = get_real(&r, "time_s");
  }
  rows_close(&r);
  return rc;
}

static int read_ablation(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "ablations", NULL, &r));
  int rc = rows_next(&r);
  if (rc == 1 && (rc = get_record(&r, &lj_desc_ablation, &res->ablation)) == 0) res->ablation_valid = 1;
  rows_close(&r);
  return rc < 0 ? rc : 0;
}

static int read_head_fit(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "head_fits", NULL, &r));
  int rc = rows_next(&r);
  lj_head_fit_row h;
  memset(&h, 0, sizeof h);
  if (rc == 1 && (rc = get_record(&r, &lj_desc_head_fit, &h)) == 0) {
    h.h.fit.a = h.h.fixed_j, h.h.fit.b = h.h.per_group_j;  // stored once, kept in both places
    res->head_fit = h.h;
    res->head_fit_kv = h.kv_len;
    res->head_fit_valid = 1;
  }
  rows_close(&r);
  return rc < 0 ? rc : 0;
}

static int read_overheads(lj_store *st, int64_t run_id, lj_profile_result *res) {
  rows r;
  LJ_TRY(rows_open(st, run_id, "overheads", NULL, &r));
  int rc, max = (int)(sizeof res->overhead / sizeof res->overhead[0]);
  while ((rc = rows_next(&r)) == 1 && res->n_overhead < max) {
    lj_profile_overhead *o = &res->overhead[res->n_overhead++];
    memset(o, 0, sizeof *o);
    if ((rc = get_record(&r, &lj_desc_overhead, o)) < 0) break;
    o->overhead_pct = o->overhead_pct_ci.estimate;
  }
  rows_close(&r);
  return rc < 0 ? rc : 0;
}

// Rows of a check table into n records of `stride` bytes at base (at most cap); none where
// the file has no such table.
static int read_checks(lj_store *st, int64_t run_id, const lj_record_desc *d, void *base, size_t stride, int cap,
                       int *n) {
  *n = 0;
  int have = 1;
  if (st->version < 7) LJ_TRY(lj_store_has_table(st, d->table, &have));  // the check tables came in 6 and 7
  if (!have) return 0;
  rows r;
  LJ_TRY(rows_open(st, run_id, d->table, NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1 && *n < cap) {
    void *rec = (char *)base + (size_t)*n * stride;
    memset(rec, 0, stride);
    if ((rc = get_record(&r, d, rec)) < 0) break;
    (*n)++;
  }
  rows_close(&r);
  return rc < 0 ? rc : 0;
}

static int read_shapley(lj_store *st, int64_t run_id, lj_profile_result *res) {
  lj_shapley_check sh[LJ_PHASE_COUNT];
  int n = 0;
  LJ_TRY(read_checks(st, run_id, &lj_desc_shapley_check, sh, sizeof *sh, LJ_PHASE_COUNT, &n));
  for (int i = 0; i < n; i++) res->shapley[sh[i].phase] = sh[i];  // the phase was checked on reading
  return 0;
}

// Records of a table added in version `since`, as many as the file holds, each appended by add.
typedef int (*add_record_fn)(lj_profile_result *r, const void *rec);
static int add_layer(lj_profile_result *r, const void *rec) { return lj_profile_add_layer(r, rec); }
static int add_layer_stage(lj_profile_result *r, const void *rec) { return lj_profile_add_layer_stage(r, rec); }
static int add_conditions(lj_profile_result *r, const void *rec) { return lj_profile_add_trial_conditions(r, rec); }
static int add_abl_window(lj_profile_result *r, const void *rec) { return lj_profile_add_ablation_window(r, rec); }
static int add_budget(lj_profile_result *r, const void *rec) {
  lj_budget b = *(const lj_budget *)rec;
  // a file before schema 20 has no source term (its column reads as empty text): not measured
  if (!b.source_basis[0]) snprintf(b.source_basis, sizeof b.source_basis, "%s", LJ_BUDGET_NOT_MEASURED);
  return lj_profile_add_budget(r, &b);
}
static int add_head_point(lj_profile_result *r, const void *rec) { return lj_profile_add_head_point(r, rec); }
static int add_head_fit(lj_profile_result *r, const void *rec) { return lj_profile_add_head_fit(r, rec); }

static int read_grown(lj_store *st, int64_t run_id, const lj_record_desc *d, int since, add_record_fn add,
                      lj_profile_result *res) {
  int have = 1;
  if (st->version < since) LJ_TRY(lj_store_has_table(st, d->table, &have));
  if (!have) return 0;
  rows r;
  LJ_TRY(rows_open(st, run_id, d->table, NULL, &r));
  int rc;
  while ((rc = rows_next(&r)) == 1) {
    union {
      lj_layer_estimate layer;
      lj_layer_stage_estimate layer_stage;
      lj_trial_conditions conditions;
      lj_ablation_window abl_window;
      lj_budget budget;
      lj_head_grid_point head_point;
      lj_head_grid_fit head_fit;
    } rec;
    memset(&rec, 0, sizeof rec);
    if ((rc = get_record(&r, d, &rec)) < 0 || (rc = add(res, &rec)) < 0) break;
  }
  rows_close(&r);
  return rc < 0 ? rc : 0;
}

// Each rank's own figures (docs/tensor-parallel.md §4): its GPU's idle (version 17), and its trials,
// estimates, Shapley checks and uncertainty budgets (version 19) and idle curve (version 22), the rows of
// its tp_rank, into
// res->ranks[k] for the ranks the phase summaries named (res->n_ranks).
static int read_ranks(lj_store *st, int64_t run_id, lj_profile_result *res) {
  if (res->plan.tp_degree < 2 || res->n_ranks < 1) return 0;
  int rc = 0;
  if (st->version >= 17) {
    rows r;
    LJ_TRY(rows_open(st, run_id, "rank_idle", NULL, &r));
    r.all_ranks = 1;
    while ((rc = rows_next(&r)) == 1) {
      int k = (int)get_int(&r, "tp_rank");
      if (k < 0 || k >= res->n_ranks) {
        rc = LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table rank_idle: tp_rank %d outside 0..%d", st->path,
                     (long long)run_id, k, res->n_ranks - 1);
        break;
      }
      res->ranks[k].idle_w = get_real(&r, "idle_w");
      res->ranks[k].idle_sd_w = get_real(&r, "idle_sd_w");
    }
    rows_close(&r);
    LJ_TRY(rc);
  }
  int main_rank = st->profile_rank;
  for (int k = 0; rc == 0 && k < res->n_ranks; k++) {
    lj_profile_result v;  // the rank's rows, read as a run's own
    lj_profile_result_init(&v);
    v.plan = res->plan;
    st->profile_rank = k;
    size_t legacy = 0;
    rc = read_stages(st, run_id, &v, &legacy);
    if (rc == 0) rc = read_trials(st, run_id, &v, &legacy);
    if (rc == 0) rc = read_shapley(st, run_id, &v);
    // before version 19 the budgets had no tp_rank: every row was the run's own
    if (rc == 0 && st->version >= 19) rc = read_grown(st, run_id, &lj_desc_budget, 19, add_budget, &v);
    lj_profile_rank *rk = &res->ranks[k];
    // before version 22 the idle curves had no tp_rank, and no run of degree > 1 measured one
    if (rc == 0 && st->version >= 22)
      rc = read_checks(st, run_id, &lj_desc_idle_curve, &rk->idle_curve, sizeof rk->idle_curve, 1,
                       &rk->idle_curve_valid);
    rk->stages = v.stages, rk->n_stages = v.n_stages;
    rk->trials = v.trials, rk->n_trials = v.n_trials;
    rk->budgets = v.budgets, rk->n_budgets = v.n_budgets;
    memcpy(rk->shapley, v.shapley, sizeof rk->shapley);
    v.stages = NULL, v.trials = NULL, v.budgets = NULL;
    lj_profile_result_free(&v);
  }
  st->profile_rank = main_rank;
  return rc;
}

// The idle curve (version 10; older files have none).
static int read_idle_curve(lj_store *st, int64_t run_id, lj_profile_result *r) {
  int have = 1;
  if (st->version < 10) LJ_TRY(lj_store_has_table(st, lj_desc_idle_curve.table, &have));
  if (!have) return 0;
  return read_checks(st, run_id, &lj_desc_idle_curve, &r->idle_curve, sizeof r->idle_curve, 1, &r->idle_curve_valid);
}

// Whether a run stored before the plan kept its sequence replay (schema 18) measured one.
static int has_sequence_rows(const lj_profile_result *r) {
  for (size_t i = 0; i < r->n_stages; i++)
    if (r->stages[i].method == LJ_METHOD_SEQUENCE) return 1;
  for (size_t i = 0; i < r->n_trials; i++)
    if (r->trials[i].method == LJ_METHOD_SEQUENCE) return 1;
  return 0;
}

static int read_all(lj_store *st, int64_t run_id, lj_profile_result *r) {
  LJ_TRY(read_plan(st, run_id, r));
  st->profile_rank = lj_profile_main_rank(&r->plan);  // the rows of the run's own figures
  LJ_TRY(read_conditions(st, run_id, &r->cond));
  LJ_TRY(read_windows(st, run_id, r));
  LJ_TRY(read_summaries(st, run_id, r));
  size_t legacy[3] = {0, 0, 0};
  LJ_TRY(read_stages(st, run_id, r, &legacy[0]));
  LJ_TRY(read_trials(st, run_id, r, &legacy[1]));
  LJ_TRY(read_closures(st, run_id, r, &legacy[2]));
  if (r->plan.sequence < 0) r->plan.sequence = has_sequence_rows(r);
  if (legacy[0] + legacy[1] + legacy[2])
    lj_profile_note(r, "Not shown: %zu stage estimates, %zu replay trials and %zu closures of the prefill 'context' "
                       "method, which this version no longer has (superseded by the sequence replay).",
                    legacy[0], legacy[1], legacy[2]);
  LJ_TRY(read_intervals(st, run_id, r));
  LJ_TRY(read_timeline(st, run_id, r));
  LJ_TRY(read_layers(st, run_id, r));
  LJ_TRY(read_ablation(st, run_id, r));
  LJ_TRY(read_head_fit(st, run_id, r));
  LJ_TRY(read_shapley(st, run_id, r));
  LJ_TRY(read_ranks(st, run_id, r));
  LJ_TRY(read_checks(st, run_id, &lj_desc_known_answer, r->known, sizeof *r->known, LJ_PROFILE_MAX_CHECKS,
                     &r->n_known));
  LJ_TRY(read_checks(st, run_id, &lj_desc_ablation_check, r->ablation_checks, sizeof *r->ablation_checks,
                     LJ_PROFILE_MAX_CHECKS, &r->n_ablation_checks));
  LJ_TRY(read_grown(st, run_id, &lj_desc_layer_estimate, 7, add_layer, r));
  LJ_TRY(read_grown(st, run_id, &lj_desc_layer_stage_estimate, 8, add_layer_stage, r));
  LJ_TRY(read_grown(st, run_id, &lj_desc_trial_conditions, 9, add_conditions, r));
  LJ_TRY(read_grown(st, run_id, &lj_desc_ablation_window, 16, add_abl_window, r));
  LJ_TRY(read_idle_curve(st, run_id, r));
  LJ_TRY(read_grown(st, run_id, &lj_desc_budget, 12, add_budget, r));
  LJ_TRY(read_grown(st, run_id, &lj_desc_head_grid_point, 13, add_head_point, r));
  LJ_TRY(read_grown(st, run_id, &lj_desc_head_grid_fit, 13, add_head_fit, r));
  LJ_TRY(read_checks(st, run_id, &lj_desc_layer_skip, r->layer_skips, sizeof *r->layer_skips,
                     LJ_PROFILE_MAX_LAYER_SKIPS, &r->n_layer_skips));
  return read_overheads(st, run_id, r);
}

int lj_store_read_profile(lj_store *st, int64_t run_id, lj_profile_result *out) {
  lj_profile_result_init(out);
  if (st->version < 2)
    return LJ_FAIL(LJ_EINVAL, "store '%s': schema version %d holds no profiles (run %lld)", st->path, st->version,
                   (long long)run_id);
  // One read transaction: a writer committing meanwhile cannot mix two states of the run.
  char what[96];
  snprintf(what, sizeof what, "reading the profile of run %lld", (long long)run_id);
  LJ_TRY(lj_store_exec(st, "BEGIN", what));
  int rc = read_all(st, run_id, out);
  st->profile_rank = 0;
  sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
  if (rc < 0) lj_profile_result_free(out);
  return rc;
}
