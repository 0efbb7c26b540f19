// A profile (lj_profile_result) into the profile tables (schema version 6),
// in one transaction; and a row count per table for tests and reports. The
// tables described in record_desc.c are written by one walk over their
// description; the plan, the conditions, the windows, the intervals and the
// per-layer sums have layouts of their own.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/record_desc.h"
#include "store/store_internal.h"

// One INSERT statement, reused for every row of its table.
typedef struct {
  lj_store *st;
  sqlite3_stmt *stmt;
  int col;      // next parameter to bind (1-based)
  int bind_rc;  // first failed bind (SQLITE_OK when none)
  char what[128];
} row;

static int row_prepare(lj_store *st, int64_t run_id, const char *table, const char *cols, row *r) {
  memset(r, 0, sizeof *r);
  r->st = st;
  r->col = 1;
  snprintf(r->what, sizeof r->what, "writing the profile of run %lld to table %s", (long long)run_id, table);
  int n = 1;
  for (const char *c = cols; *c; c++) n += *c == ',';
  char sql[4096];
  int used = snprintf(sql, sizeof sql, "INSERT INTO %s(%s) VALUES (?", table, cols);
  for (int i = 1; i < n && used > 0 && (size_t)used < sizeof sql; i++)
    used += snprintf(sql + used, sizeof sql - (size_t)used, ", ?");
  if (used < 0 || (size_t)used + 2 >= sizeof sql)
    return LJ_FAIL(LJ_EINVAL, "store '%s': %s: statement too long", st->path, r->what);
  snprintf(sql + used, sizeof sql - (size_t)used, ")");
  return lj_store_prepare(st, sql, &r->stmt, r->what);
}

static void bound(row *r, int rc) {
  if (rc != SQLITE_OK && r->bind_rc == SQLITE_OK) r->bind_rc = rc;
  r->col++;
}

static void put_int(row *r, int64_t v) { bound(r, sqlite3_bind_int64(r->stmt, r->col, v)); }
static void put_text(row *r, const char *s) { bound(r, lj_store_bind_text(r->stmt, r->col, s)); }
// NAN (not measured) is NULL; infinities stay (a df of INFINITY means an exact value).
static void put_real(row *r, double v) {
  bound(r, isnan(v) ? sqlite3_bind_null(r->stmt, r->col) : sqlite3_bind_double(r->stmt, r->col, v));
}
// Minima and maxima start at +-INFINITY: still infinite means nothing was read.
static void put_finite(row *r, double v) { put_real(r, isfinite(v) ? v : NAN); }
// The standard error and df too (schema 18): a mean from a fit has no stddev they follow from.
static void put_ci(row *r, const lj_mean_ci *m) {
  put_real(r, m->mean);
  put_real(r, m->stddev);
  put_real(r, m->lo);
  put_real(r, m->hi);
  put_int(r, m->n);
  put_real(r, m->sem);
  put_real(r, m->df);
}
static void put_interval(row *r, const lj_interval *v) {
  put_real(r, v->estimate);
  put_real(r, v->se);
  put_real(r, v->df);
  put_real(r, v->lo);
  put_real(r, v->hi);
}

// One field of a described record (record_desc.h); fields the store does not keep are skipped.
static void put_field(row *r, const lj_field *f, const void *rec) {
  const void *p = (const char *)rec + f->off;
  if (!f->sql) return;
  switch (f->type) {
    case LJ_FIELD_INT:
    case LJ_FIELD_BOOL: put_int(r, *(const int *)p); break;
    case LJ_FIELD_I64: put_int(r, *(const int64_t *)p); break;
    case LJ_FIELD_FLAGS: put_int(r, *(const uint32_t *)p); break;
    case LJ_FIELD_REAL:
    case LJ_FIELD_LEVEL: put_real(r, *(const double *)p); break;
    case LJ_FIELD_FINITE: put_finite(r, *(const double *)p); break;
    case LJ_FIELD_TEXT: put_text(r, (const char *)p); break;
    case LJ_FIELD_PHASE: put_text(r, lj_phase_name(*(const lj_phase *)p)); break;
    case LJ_FIELD_STAGE: put_text(r, lj_stage_name(*(const lj_stage *)p)); break;
    case LJ_FIELD_STAGE_OR_NONE: {
      lj_stage s = *(const lj_stage *)p;
      put_text(r, s == LJ_STAGE_NONE ? "none" : lj_stage_name(s));
      break;
    }
    case LJ_FIELD_METHOD: put_text(r, lj_profile_method_name(*(const lj_profile_method *)p)); break;
    case LJ_FIELD_CI: put_ci(r, (const lj_mean_ci *)p); break;
    case LJ_FIELD_IV: put_interval(r, (const lj_interval *)p); break;
    case LJ_FIELD_TP_RANK: put_int(r, r->st->profile_rank); break;
    case LJ_FIELD_GROUP:
    case LJ_FIELD_DERIVED: break;
  }
}

static void put_record(row *r, int64_t run_id, const lj_record_desc *d, const void *rec) {
  put_int(r, run_id);
  for (size_t i = 0; i < d->n_fields; i++) put_field(r, &d->fields[i], rec);
}

// "run_id, " and every stored column of d, in the order put_record binds them.
static int record_columns(const lj_record_desc *d, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "run_id");
  for (size_t i = 0; i < d->n_fields && used < cap; i++) {
    const lj_field *f = &d->fields[i];
    if (!f->sql) continue;
    const char *u = lj_field_suffix(f->unit), *n = f->sql;
    if (f->type == LJ_FIELD_CI)
      used += (size_t)snprintf(buf + used, cap - used, ", %s%s, %s_sd%s, %s_lo%s, %s_hi%s, %s_n, %s_se%s, %s_df", n,
                               u, n, u, n, u, n, u, n, n, u, n);
    else if (f->type == LJ_FIELD_IV)
      used += (size_t)snprintf(buf + used, cap - used, ", %s%s, %s_se%s, %s_df, %s_lo%s, %s_hi%s", n, u, n, u, n, n,
                               u, n, u);
    else
      used += (size_t)snprintf(buf + used, cap - used, ", %s", n);
  }
  return used < cap ? 0 : -1;
}

static int record_prepare(lj_store *st, int64_t run_id, const lj_record_desc *d, row *r) {
  char cols[3072];
  if (record_columns(d, cols, sizeof cols) < 0)
    return LJ_FAIL(LJ_EINVAL, "store '%s': table %s: column list too long", st->path, d->table);
  return row_prepare(st, run_id, d->table, cols, r);
}

// Steps the bound row and makes the statement ready for the next one.
static int row_insert(row *r) {
  int expected = sqlite3_bind_parameter_count(r->stmt);
  int rc = r->bind_rc;
  if (rc == SQLITE_OK && r->col - 1 != expected)  // a column list and its puts disagree: a bug here
    return LJ_FAIL(LJ_ESTORE, "store '%s': %s: %d values for %d columns", r->st->path, r->what, r->col - 1,
                   expected);
  if (rc == SQLITE_OK) rc = sqlite3_step(r->stmt);
  sqlite3_reset(r->stmt);
  sqlite3_clear_bindings(r->stmt);
  r->col = 1;
  r->bind_rc = SQLITE_OK;
  if (rc != SQLITE_DONE && rc != SQLITE_OK)
    return lj_sqlite_fail(r->st->db, r->st->path, rc, r->what, __FILE__, __LINE__);
  return 0;
}

static void row_finish(row *r) {
  sqlite3_finalize(r->stmt);
  r->stmt = NULL;
}

static int bad_key(lj_store *st, int64_t run_id, const char *table, size_t i, int phase, int stage) {
  return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table %s, row %zu: phase %d or stage %d out of range",
                 st->path, (long long)run_id, table, i, phase, stage);
}
static int bad_method(lj_store *st, int64_t run_id, const char *table, size_t i, int method) {
  return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table %s, row %zu: method %d out of range", st->path,
                 (long long)run_id, table, i, method);
}
static int phase_ok(lj_phase p) { return (unsigned)p < LJ_PHASE_COUNT; }
static int stage_ok(lj_stage s) { return (unsigned)s < LJ_STAGE_ALL_COUNT; }
static int method_ok(lj_profile_method m) { return (unsigned)m < LJ_METHOD_ALL_COUNT; }

static int put_plan(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  const lj_profile_plan *p = &res->plan;
  const lj_model_config *c = &p->config;
  row r;
  LJ_TRY(row_prepare(st, run_id, "profile_plans",
                     "run_id, complete, model, model_name, weights_random, engine, timing_only, device_index, batch,"
                     " prompt_len, gen_len, repeats, trials, replay_s, replay_duty, phase_s, level, layers_replayed, decode_kv,"
                     " ablation, head_fit, seed, prompt_source, notes, config_name, dim, hidden_dim, n_layers,"
                     " n_heads, n_kv_heads, head_dim, vocab_size, max_seq_len, rope_theta, rope_type, rope_factor,"
                     " rope_low_freq_factor, rope_high_freq_factor, rope_original_max_pos, norm_eps,"
                     " tie_embeddings, bos_id, eos_id, weights, shapley, known_answer_bytes, tp_degree, sequence, gemv",
                     &r));
  char kv[LJ_PROFILE_MAX_KV * 24] = "";
  size_t used = 0;
  int n_kv = p->n_decode_kv < 0 ? 0 : p->n_decode_kv > LJ_PROFILE_MAX_KV ? LJ_PROFILE_MAX_KV : p->n_decode_kv;
  for (int i = 0; i < n_kv; i++)
    used += (size_t)snprintf(kv + used, sizeof kv - used, "%s%lld", i ? "," : "", (long long)p->decode_kv[i]);
  put_int(&r, run_id);
  put_int(&r, res->complete);
  put_text(&r, p->model);
  put_text(&r, p->model_name);
  put_int(&r, p->weights_random);
  // The execution mode rides in the engine column ("cuda+production"): no schema change for one word.
  char engine[sizeof p->engine + sizeof p->fusion + 1];
  snprintf(engine, sizeof engine, "%s%s%s", p->engine, p->fusion[0] && strcmp(p->fusion, "none") ? "+" : "",
           p->fusion[0] && strcmp(p->fusion, "none") ? p->fusion : "");
  put_text(&r, engine);
  put_int(&r, p->timing_only);
  put_int(&r, p->device);
  put_int(&r, p->batch);
  put_int(&r, p->prompt_len);
  put_int(&r, p->gen_len);
  put_int(&r, p->repeats);
  put_int(&r, p->trials);
  put_real(&r, p->replay_seconds);
  put_real(&r, p->replay_duty);
  put_real(&r, p->phase_seconds);
  put_real(&r, p->level);
  put_int(&r, p->layers_replayed);
  put_text(&r, kv);
  put_int(&r, p->ablation);
  put_int(&r, p->head_fit);
  put_int(&r, (int64_t)p->seed);  // the bit pattern: SQLite integers are signed
  put_text(&r, p->prompt_source);
  put_text(&r, res->notes);
  put_text(&r, c->name);
  put_int(&r, c->dim);
  put_int(&r, c->hidden_dim);
  put_int(&r, c->n_layers);
  put_int(&r, c->n_heads);
  put_int(&r, c->n_kv_heads);
  put_int(&r, c->head_dim);
  put_int(&r, c->vocab_size);
  put_int(&r, c->max_seq_len);
  put_real(&r, c->rope_theta);
  put_text(&r, c->rope_type == LJ_ROPE_LLAMA3 ? "llama3" : "default");
  put_real(&r, c->rope_factor);
  put_real(&r, c->rope_low_freq_factor);
  put_real(&r, c->rope_high_freq_factor);
  put_int(&r, c->rope_original_max_pos);
  put_real(&r, c->norm_eps);
  put_int(&r, c->tie_embeddings);
  put_int(&r, c->bos_id);
  put_int(&r, c->eos_id);
  put_text(&r, p->weights[0] ? p->weights : "bf16");
  put_int(&r, p->shapley);
  put_int(&r, p->known_answer_bytes);
  put_int(&r, p->tp_degree > 1 ? p->tp_degree : 1);
  put_int(&r, p->sequence);
  put_text(&r, lj_plan_gemv(p));
  int rc = row_insert(&r);
  row_finish(&r);
  return rc;
}

static int put_conditions(lj_store *st, int64_t run_id, const lj_profile_conditions *c) {
  row r;
  LJ_TRY(row_prepare(st, run_id, "profile_conditions",
                     "run_id, device_index, device_name, device_uuid, pci_bus_id, driver_version, cuda_driver,"
                     " idle_w, idle_sd_w, idle_method, temperature_min_c, temperature_max_c, sm_clock_min_mhz,"
                     " sm_clock_max_mhz, mem_clock_min_mhz, mem_clock_max_mhz, power_limit_w, throttle_mask,"
                     " throttle, n_samples, buffer_gaps, sampler_cpu_pct, begin_wall_ns, end_wall_ns",
                     &r));
  put_int(&r, run_id);
  put_int(&r, c->device.index);
  put_text(&r, c->device.name);
  put_text(&r, c->device.uuid);
  put_text(&r, c->device.pci_bus_id);
  put_text(&r, c->device.driver_version);
  put_text(&r, c->cuda_driver);
  put_real(&r, c->idle_w);
  put_real(&r, c->idle_sd_w);
  put_text(&r, c->idle_method);
  put_finite(&r, c->temperature_min_c);
  put_finite(&r, c->temperature_max_c);
  put_finite(&r, c->sm_clock_min_mhz);
  put_finite(&r, c->sm_clock_max_mhz);
  put_finite(&r, c->mem_clock_min_mhz);
  put_finite(&r, c->mem_clock_max_mhz);
  put_real(&r, c->power_limit_w);
  put_int(&r, (int64_t)c->throttle_seen);
  put_text(&r, c->throttle_text);
  put_int(&r, c->n_samples);
  put_int(&r, (int64_t)c->buffer_gaps);
  put_real(&r, c->sampler_cpu_percent);
  put_int(&r, c->begin_wall_ns);
  put_int(&r, c->end_wall_ns);
  int rc = row_insert(&r);
  row_finish(&r);
  return rc;
}

// Each window's energies go to `windows` (as `meter` stores its windows);
// phase_windows adds what the window was and links it. Windows the runner
// already wrote as they closed are replaced by their final values.
static int put_phase_windows(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  for (size_t i = 0; i < res->n_windows; i++) LJ_TRY(lj_store_upsert_phase_window(st, run_id, &res->windows[i], i));
  return 0;
}

// The run's own summaries (the sum over the ranks when tp_degree > 1), then each rank's.
static int put_phase_summaries(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  if (res->n_ranks < 0 || res->n_ranks > LJ_PROFILE_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld: %d ranks (at most %d)", st->path, (long long)run_id,
                   res->n_ranks, LJ_PROFILE_MAX_RANKS);
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_phase_summary, &r));
  int rc = 0, main_rank = st->profile_rank;
  for (int k = -1; rc == 0 && k < res->n_ranks; k++) {
    st->profile_rank = k < 0 ? main_rank : k;
    const lj_phase_summary *of = k < 0 ? res->phases : res->rank_phases[k];
    for (int p = 0; rc == 0 && p < LJ_PHASE_COUNT; p++) {
      lj_phase_summary s = of[p];
      if (s.n <= 0) continue;  // not measured: no row
      s.phase = (lj_phase)p;
      put_record(&r, run_id, &lj_desc_phase_summary, &s);
      rc = row_insert(&r);
    }
  }
  st->profile_rank = main_rank;
  row_finish(&r);
  return rc;
}

// n estimates of the store's profile_rank (the run's own, or one rank's).
static int put_stages(lj_store *st, int64_t run_id, const lj_profile_stage *stages, size_t n) {
  if (n == 0) return 0;
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_stage, &r));
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const lj_profile_stage *s = &stages[i];
    const lj_replay_estimate *e = &s->est;
    if (!phase_ok(e->key.phase) || !stage_ok(e->key.stage)) {
      rc = bad_key(st, run_id, "stage_estimates", i, (int)e->key.phase, (int)e->key.stage);
      break;
    }
    if (!method_ok(s->method)) {
      rc = bad_method(st, run_id, "stage_estimates", i, (int)s->method);
      break;
    }
    put_record(&r, run_id, &lj_desc_stage, s);
    rc = row_insert(&r);
  }
  row_finish(&r);
  return rc;
}

// n trials of the store's profile_rank (the run's own, or one rank's).
static int put_trials(lj_store *st, int64_t run_id, const lj_profile_trial *trials, size_t n) {
  if (n == 0) return 0;
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_trial, &r));
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const lj_profile_trial *t = &trials[i];
    // A trial of no one stage: the whole layer (loo, order), the known answer's copy alone.
    int plain = t->method != LJ_METHOD_ISOLATION && t->method != LJ_METHOD_SEQUENCE && t->key.stage == LJ_STAGE_NONE;
    if (!phase_ok(t->key.phase) || !(stage_ok(t->key.stage) || plain)) {
      rc = bad_key(st, run_id, "replay_trials", i, (int)t->key.phase, (int)t->key.stage);
      break;
    }
    if (!method_ok(t->method)) {
      rc = bad_method(st, run_id, "replay_trials", i, (int)t->method);
      break;
    }
    put_record(&r, run_id, &lj_desc_trial, t);
    rc = row_insert(&r);
  }
  row_finish(&r);
  return rc;
}

// One row per phase and method whose closure was computed (n_terms > 0).
static int put_closures(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_closure, &r));
  int rc = 0;
  for (int p = 0; rc == 0 && p < LJ_PHASE_COUNT; p++) {
    for (int m = 0; rc == 0 && m < LJ_METHOD_COUNT; m++) {
      lj_closure_row c = {*lj_profile_closure_of(res, (lj_phase)p, (lj_profile_method)m), (lj_profile_method)m};
      if (c.c.n_terms <= 0) continue;
      c.c.phase = (lj_phase)p;
      put_record(&r, run_id, &lj_desc_closure, &c);
      rc = row_insert(&r);
    }
  }
  row_finish(&r);
  return rc;
}

// Up to ~100k rows: one statement, reset between rows, inside the caller's transaction.
static int put_intervals(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  if (res->n_intervals == 0) return 0;
  if (!res->intervals || !res->interval_step)
    return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table stage_intervals: %zu intervals without steps",
                   st->path, (long long)run_id, res->n_intervals);
  row r;
  LJ_TRY(row_prepare(st, run_id, "stage_intervals",
                     "run_id, seq, phase, stage, layer, step, begin_ns, end_ns, energy_j, tp_rank", &r));
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < res->n_intervals; i++) {
    const lj_stage_interval *iv = &res->intervals[i];
    if (!phase_ok(iv->phase) || !stage_ok(iv->stage)) {
      rc = bad_key(st, run_id, "stage_intervals", i, (int)iv->phase, (int)iv->stage);
      break;
    }
    put_int(&r, run_id);
    put_int(&r, (int64_t)i);
    put_text(&r, lj_phase_name(iv->phase));
    put_text(&r, lj_stage_name(iv->stage));
    put_int(&r, iv->layer);
    put_int(&r, res->interval_step[i]);
    put_int(&r, iv->begin_ns);
    put_int(&r, iv->end_ns);
    put_real(&r, res->interval_energy_j ? res->interval_energy_j[i] : NAN);
    put_int(&r, st->profile_rank);
    rc = row_insert(&r);
  }
  row_finish(&r);
  return rc;
}

static int put_timeline(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  const lj_timeline_result *t = &res->timeline;
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_timeline_phase, &r));
  int rc = 0;
  for (int p = 0; rc == 0 && p < LJ_PHASE_COUNT; p++) {
    if (t->phase[p].n_intervals <= 0) continue;
    lj_timeline_phase_row ph = {(lj_phase)p, t->device, t->idle_w, t->n_samples, t->flags, t->phase[p]};
    put_record(&r, run_id, &lj_desc_timeline_phase, &ph);
    rc = row_insert(&r);
  }
  row_finish(&r);
  if (rc < 0) return rc;

  LJ_TRY(record_prepare(st, run_id, &lj_desc_timeline_stage, &r));
  for (int p = 0; rc == 0 && p < LJ_PHASE_COUNT; p++) {
    for (int s = 0; rc == 0 && s < LJ_STAGE_ALL_COUNT; s++) {
      if (t->stage[p][s].calls <= 0) continue;  // the stage did not run in this phase
      lj_timeline_stage_row ts = {(lj_phase)p, (lj_stage)s, t->stage[p][s]};
      put_record(&r, run_id, &lj_desc_timeline_stage, &ts);
      rc = row_insert(&r);
    }
  }
  row_finish(&r);
  return rc;
}

// Per-layer sums exist independently of timeline_valid (NULL arrays: none).
static int put_layers(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  int n_layers = res->plan.config.n_layers;
  row r;
  LJ_TRY(row_prepare(st, run_id, "timeline_layers", "run_id, phase, layer, energy_j, time_s", &r));
  int rc = 0;
  for (int p = 0; rc == 0 && p < LJ_PHASE_COUNT; p++) {
    if (!res->layer_energy_j[p] && !res->layer_time_s[p]) continue;
    for (int l = 0; rc == 0 && l < n_layers; l++) {
      put_int(&r, run_id);
      put_text(&r, lj_phase_name((lj_phase)p));
      put_int(&r, l);
      put_real(&r, res->layer_energy_j[p] ? res->layer_energy_j[p][l] : NAN);
      put_real(&r, res->layer_time_s[p] ? res->layer_time_s[p][l] : NAN);
      rc = row_insert(&r);
    }
  }
  row_finish(&r);
  return rc;
}

static int put_ablation(lj_store *st, int64_t run_id, const lj_ablation *a) {
  if (!stage_ok(a->stage)) return bad_key(st, run_id, "ablations", 0, 0, (int)a->stage);
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_ablation, &r));
  put_record(&r, run_id, &lj_desc_ablation, a);
  int rc = row_insert(&r);
  row_finish(&r);
  return rc;
}

static int put_head_fit(lj_store *st, int64_t run_id, const lj_head_fit *h, int64_t kv_len) {
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_head_fit, &r));
  lj_head_fit_row hf = {kv_len, *h};
  put_record(&r, run_id, &lj_desc_head_fit, &hf);
  int rc = row_insert(&r);
  row_finish(&r);
  return rc;
}

static int put_overheads(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  if (res->n_overhead <= 0) return 0;
  int n = res->n_overhead;
  if (n > (int)(sizeof res->overhead / sizeof res->overhead[0]))
    return LJ_FAIL(LJ_EINVAL, "store '%s': profile of run %lld, table overheads: %d overheads (at most %zu)",
                   st->path, (long long)run_id, n, sizeof res->overhead / sizeof res->overhead[0]);
  row r;
  LJ_TRY(record_prepare(st, run_id, &lj_desc_overhead, &r));
  int rc = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    // overhead_pct is the estimate; its interval carries se, df and bounds.
    lj_profile_overhead o = res->overhead[i];
    o.overhead_pct_ci.estimate = o.overhead_pct;
    put_record(&r, run_id, &lj_desc_overhead, &o);
    rc = row_insert(&r);
  }
  row_finish(&r);
  return rc;
}

// Rows of one of the check tables: n records of `stride` bytes from base, each with a phase
// and a method at the given offsets (-1: none; checked before anything is written).
static int put_checks(lj_store *st, int64_t run_id, const lj_record_desc *d, const void *base, size_t stride, int n,
                      long phase_off, long method_off) {
  for (int i = 0; i < n; i++) {
    const char *rec = (const char *)base + (size_t)i * stride;
    lj_phase ph = phase_off >= 0 ? *(const lj_phase *)(rec + phase_off) : LJ_PHASE_LOAD;
    if (!phase_ok(ph)) return bad_key(st, run_id, d->table, (size_t)i, (int)ph, 0);
    if (method_off >= 0 && !method_ok(*(const lj_profile_method *)(rec + method_off)))
      return bad_method(st, run_id, d->table, (size_t)i, (int)*(const lj_profile_method *)(rec + method_off));
  }
  if (n <= 0) return 0;
  row r;
  LJ_TRY(record_prepare(st, run_id, d, &r));
  int rc = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    put_record(&r, run_id, d, (const char *)base + (size_t)i * stride);
    rc = row_insert(&r);
  }
  row_finish(&r);
  return rc;
}

// The phases' Shapley checks that were computed, of the store's profile_rank.
static int put_shapley(lj_store *st, int64_t run_id, const lj_shapley_check *of) {
  lj_shapley_check sh[LJ_PHASE_COUNT];
  int n_sh = 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    if (of[p].n_rounds > 0) sh[n_sh++] = of[p];
  return put_checks(st, run_id, &lj_desc_shapley_check, sh, sizeof *sh, n_sh, offsetof(lj_shapley_check, phase), -1);
}

// Each rank's own figures at tensor-parallel degree > 1 (docs/tensor-parallel.md §4): its GPU's idle,
// its reading of every trial, its estimates, Shapley checks, uncertainty budgets and idle curve, under
// its tp_rank.
static int put_ranks(lj_store *st, int64_t run_id, const lj_profile_result *res) {
  if (res->plan.tp_degree < 2) return 0;
  int rc = 0, main_rank = st->profile_rank;
  row r;
  LJ_TRY(row_prepare(st, run_id, "rank_idle", "run_id, tp_rank, idle_w, idle_sd_w", &r));
  for (int k = 0; rc == 0 && k < res->n_ranks; k++) {
    put_int(&r, run_id);
    put_int(&r, k);
    put_real(&r, res->ranks[k].idle_w);
    put_real(&r, res->ranks[k].idle_sd_w);
    rc = row_insert(&r);
  }
  row_finish(&r);
  for (int k = 0; rc == 0 && k < res->n_ranks; k++) {
    const lj_profile_rank *rk = &res->ranks[k];
    st->profile_rank = k;
    rc = put_trials(st, run_id, rk->trials, rk->n_trials);
    if (rc == 0) rc = put_stages(st, run_id, rk->stages, rk->n_stages);
    if (rc == 0) rc = put_shapley(st, run_id, rk->shapley);
    if (rc == 0)
      rc = put_checks(st, run_id, &lj_desc_budget, rk->budgets, sizeof *rk->budgets, (int)rk->n_budgets,
                      offsetof(lj_budget, phase), (long)offsetof(lj_budget, method));
    if (rc == 0)  // its GPU's own idle curve (schema 22)
      rc = put_checks(st, run_id, &lj_desc_idle_curve, &rk->idle_curve, sizeof rk->idle_curve,
                      rk->idle_curve_valid ? 1 : 0, -1, -1);
  }
  st->profile_rank = main_rank;
  return rc;
}

// The plan row written as the run started (lj_store_add_profile_plan) gives way to the final one.
// Only that row: a whole profile always has its conditions, so a second profile of a run is still
// refused (its plan row's key is taken).
static int drop_plan(lj_store *st, int64_t run_id) {
  char what[96];
  snprintf(what, sizeof what, "replacing the plan of run %lld", (long long)run_id);
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, "DELETE FROM profile_plans WHERE run_id = ?1"
                          " AND NOT EXISTS (SELECT 1 FROM profile_conditions WHERE run_id = ?1)", &stmt, what));
  sqlite3_bind_int64(stmt, 1, run_id);
  return lj_store_step_once(st, stmt, what);
}

static int put_all(lj_store *st, int64_t run_id, const lj_profile_result *r) {
  LJ_TRY(drop_plan(st, run_id));
  LJ_TRY(put_plan(st, run_id, r));
  LJ_TRY(put_conditions(st, run_id, &r->cond));
  LJ_TRY(put_phase_windows(st, run_id, r));
  LJ_TRY(put_phase_summaries(st, run_id, r));
  LJ_TRY(put_stages(st, run_id, r->stages, r->n_stages));
  LJ_TRY(put_trials(st, run_id, r->trials, r->n_trials));
  LJ_TRY(put_closures(st, run_id, r));
  LJ_TRY(put_intervals(st, run_id, r));
  if (r->timeline_valid) LJ_TRY(put_timeline(st, run_id, r));
  LJ_TRY(put_layers(st, run_id, r));
  if (r->ablation_valid) LJ_TRY(put_ablation(st, run_id, &r->ablation));
  if (r->head_fit_valid) LJ_TRY(put_head_fit(st, run_id, &r->head_fit, r->head_fit_kv));
  LJ_TRY(put_shapley(st, run_id, r->shapley));
  LJ_TRY(put_checks(st, run_id, &lj_desc_known_answer, r->known, sizeof *r->known, r->n_known,
                    offsetof(lj_known_answer, phase), (long)offsetof(lj_known_answer, method)));
  LJ_TRY(put_checks(st, run_id, &lj_desc_ablation_check, r->ablation_checks, sizeof *r->ablation_checks,
                    r->n_ablation_checks, offsetof(lj_ablation_check, phase), (long)offsetof(lj_ablation_check, method)));
  LJ_TRY(put_checks(st, run_id, &lj_desc_layer_estimate, r->layers, sizeof *r->layers, (int)r->n_layers,
                    offsetof(lj_layer_estimate, phase), -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_idle_curve, &r->idle_curve, sizeof r->idle_curve, r->idle_curve_valid ? 1 : 0,
                    -1, -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_trial_conditions, r->trial_conds, sizeof *r->trial_conds,
                    (int)r->n_trial_conds, -1, -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_ablation_window, r->abl_windows, sizeof *r->abl_windows,
                    (int)r->n_abl_windows, offsetof(lj_ablation_window, phase), -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_layer_skip, r->layer_skips, sizeof *r->layer_skips, r->n_layer_skips,
                    offsetof(lj_layer_skip, phase), -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_layer_stage_estimate, r->layer_stages, sizeof *r->layer_stages,
                    (int)r->n_layer_stages, offsetof(lj_layer_stage_estimate, phase), -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_budget, r->budgets, sizeof *r->budgets, (int)r->n_budgets,
                    offsetof(lj_budget, phase), (long)offsetof(lj_budget, method)));
  LJ_TRY(put_checks(st, run_id, &lj_desc_head_grid_point, r->head_points, sizeof *r->head_points,
                    (int)r->n_head_points, -1, -1));
  LJ_TRY(put_checks(st, run_id, &lj_desc_head_grid_fit, r->head_fits, sizeof *r->head_fits, (int)r->n_head_fits,
                    -1, -1));
  LJ_TRY(put_ranks(st, run_id, r));
  return put_overheads(st, run_id, r);
}

typedef struct {
  int64_t run_id;
  const lj_profile_result *r;
} profile_write;

static int write_profile(lj_store *st, void *ctx) {
  const profile_write *x = ctx;
  st->profile_rank = lj_profile_main_rank(&x->r->plan);
  int rc = put_all(st, x->run_id, x->r);
  st->profile_rank = 0;
  return rc;
}

static int write_plan(lj_store *st, void *ctx) {
  const profile_write *x = ctx;
  LJ_TRY(drop_plan(st, x->run_id));
  return put_plan(st, x->run_id, x->r);
}

// The profile (whole: write_profile; its plan alone: write_plan) of run_id in one transaction.
static int write_run(lj_store *st, int64_t run_id, const lj_profile_result *r, const char *part,
                     int (*write)(lj_store *st, void *ctx)) {
  if (st->readonly)
    return LJ_FAIL(LJ_EINVAL, "store '%s': opened for reading only: cannot write the %s of run %lld", st->path, part,
                   (long long)run_id);
  char what[96];
  snprintf(what, sizeof what, "writing the %s of run %lld", part, (long long)run_id);
  profile_write x = {run_id, r};
  return lj_store_write_txn(st, what, write, &x);
}

int lj_store_add_profile(lj_store *st, int64_t run_id, const lj_profile_result *r) {
  return write_run(st, run_id, r, "profile", write_profile);
}

int lj_store_add_profile_plan(lj_store *st, int64_t run_id, const lj_profile_result *r) {
  return write_run(st, run_id, r, "plan", write_plan);
}

// The tables a profile writes, the only names lj_store_profile_count accepts
// (a table name cannot be a bound parameter).
static const char *const kProfileTables[] = {
    "profile_plans",   "profile_conditions", "phase_windows",   "phase_summaries", "stage_estimates",
    "replay_trials",   "closures",           "stage_intervals", "timeline_phases", "timeline_stages",
    "timeline_layers", "ablations",          "head_fits",       "overheads",       "shapley_checks",
    "known_answers",   "ablation_checks",    "layer_estimates", "layer_skips",     "layer_stage_estimates",
    "trial_conditions", "idle_curves",  "budgets",         "head_grid_points", "head_grid_fits",
    "ablation_windows", "rank_idle",
};

int lj_store_profile_count(lj_store *st, int64_t run_id, const char *table, int64_t *n) {
  *n = 0;
  int known = 0;
  for (size_t i = 0; table && i < sizeof kProfileTables / sizeof kProfileTables[0]; i++)
    known |= !strcmp(table, kProfileTables[i]);
  if (!known)
    return LJ_FAIL(LJ_EINVAL, "store '%s': '%s' is not a profile table", st->path, table ? table : "(null)");
  if (st->version < 2) return 0;  // a version-1 file has no profile tables
  int have = 1;  // a file before the current version may lack the tables added since
  if (st->version < LJ_STORE_SCHEMA_VERSION) LJ_TRY(lj_store_has_table(st, table, &have));
  if (!have) return 0;
  char sql[128], what[96];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = ?", table);
  snprintf(what, sizeof what, "counting the rows of table %s", table);
  sqlite3_stmt *stmt;
  LJ_TRY(lj_store_prepare(st, sql, &stmt, what));
  sqlite3_bind_int64(stmt, 1, run_id);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) *n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) return lj_sqlite_fail(st->db, st->path, rc, what, __FILE__, __LINE__);
  return 0;
}
