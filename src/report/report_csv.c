// CSV export: the run's tables, one section each ("# table NAME", a header,
// the rows). Every table is walked from one column description (kTables):
// adding a field is one line here. Text fields are quoted RFC 4180 style, and
// a field starting with = + - @ gets a leading ' so a spreadsheet does not
// run it as a formula.
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "report/report_run.h"

typedef enum { C_PHASE, C_STAGE, C_METHOD, C_INT, C_I64, C_REAL, C_CI, C_TEXT } col_kind;
typedef struct {
  const char *name;
  col_kind kind;
  size_t off;
} column;
typedef struct {
  const char *name;
  const column *cols;
  size_t n_cols;
} table;

#define COL(n, k, type, field) {n, k, offsetof(type, field)}
static const column kPhases[] = {
    COL("phase", C_PHASE, lj_phase_summary, phase),       COL("windows", C_INT, lj_phase_summary, n),
    COL("tokens_per_unit", C_I64, lj_phase_summary, tokens_per_unit), COL("time_s", C_CI, lj_phase_summary, time_s),
    COL("gross_j", C_CI, lj_phase_summary, gross_j),      COL("dynamic_j", C_CI, lj_phase_summary, dynamic_j),
    COL("gross_j_per_token", C_REAL, lj_phase_summary, gross_j_per_token),
    COL("dynamic_j_per_token", C_REAL, lj_phase_summary, dynamic_j_per_token),
    COL("tokens_per_gross_j", C_REAL, lj_phase_summary, tokens_per_gross_j),
    COL("tokens_per_dynamic_j", C_REAL, lj_phase_summary, tokens_per_dynamic_j),
};
static const column kStages[] = {
    COL("phase", C_PHASE, lj_profile_stage, est.key.phase),  COL("stage", C_STAGE, lj_profile_stage, est.key.stage),
    COL("method", C_METHOD, lj_profile_stage, method),       COL("kv_len", C_I64, lj_profile_stage, est.key.kv_len),
    COL("trials", C_INT, lj_profile_stage, est.n_trials),    COL("calls_per_unit", C_REAL, lj_profile_stage, calls_per_unit),
    COL("dynamic_j", C_CI, lj_profile_stage, est.dynamic_j), COL("gross_j", C_CI, lj_profile_stage, est.gross_j),
    COL("time_per_call_s", C_CI, lj_profile_stage, est.time_per_call_s),
    COL("time_ratio", C_REAL, lj_profile_stage, est.time_ratio), COL("share_dynamic", C_REAL, lj_profile_stage, share_dynamic),
    COL("flops", C_I64, lj_profile_stage, cost.flops),        COL("bytes", C_I64, lj_profile_stage, cost.bytes),
    COL("dynamic_j_per_flop", C_REAL, lj_profile_stage, eff.j_per_flop),
    COL("dynamic_j_per_byte", C_REAL, lj_profile_stage, eff.j_per_byte),
};
static const column kClosures[] = {
    COL("phase", C_PHASE, lj_closure, phase),          COL("terms", C_INT, lj_closure, n_terms),
    COL("measured_dynamic_j", C_REAL, lj_closure, measured_dynamic_j),
    COL("predicted_dynamic_j", C_REAL, lj_closure, predicted_dynamic_j.estimate),
    COL("error_dynamic_pct", C_REAL, lj_closure, error_dynamic_pct),
    COL("error_dynamic_lo_pct", C_REAL, lj_closure, error_dynamic_lo_pct),
    COL("error_dynamic_hi_pct", C_REAL, lj_closure, error_dynamic_hi_pct),
};
static const column kWindows[] = {
    COL("phase", C_PHASE, lj_phase_window, phase),          COL("repeat", C_INT, lj_phase_window, repeat),
    COL("units", C_I64, lj_phase_window, units),            COL("begin_ns", C_I64, lj_phase_window, w.begin_ns),
    COL("end_ns", C_I64, lj_phase_window, w.end_ns),        COL("duration_s", C_REAL, lj_phase_window, w.duration_s),
    COL("counter_j", C_REAL, lj_phase_window, w.counter_energy_j),
    COL("sample_j", C_REAL, lj_phase_window, w.sample_energy_j),
    COL("mean_w", C_REAL, lj_phase_window, w.mean_power_w), COL("peak_w", C_REAL, lj_phase_window, w.peak_power_w),
    COL("host_s", C_REAL, lj_phase_window, host_s),
};
#define TABLE(n, cols) {n, cols, sizeof cols / sizeof cols[0]}

static void put_real(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.17g", v);  // empty: not measured
}

static void csv_text(FILE *f, const char *s) {
  fputc('"', f);
  if (strchr("=+-@", *s) && *s) fputc('\'', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void header(FILE *f, const table *t) {
  fprintf(f, "# table %s\n%s", t->name, t->cols == kClosures ? "method," : "");
  for (size_t i = 0; i < t->n_cols; i++) {
    const char *n = t->cols[i].name;
    if (t->cols[i].kind == C_CI) fprintf(f, "%s%s,%s_lo,%s_hi,%s_n", i ? "," : "", n, n, n, n);
    else fprintf(f, "%s%s", i ? "," : "", n);
  }
  fputc('\n', f);
}

static void row(FILE *f, const table *t, const void *rec) {
  const char *base = rec;
  for (size_t i = 0; i < t->n_cols; i++) {
    const column *c = &t->cols[i];
    const void *p = base + c->off;
    if (i) fputc(',', f);
    switch (c->kind) {
      case C_PHASE: fputs(lj_phase_name(*(const lj_phase *)p), f); break;
      case C_STAGE: fputs(lj_stage_name(*(const lj_stage *)p), f); break;
      case C_METHOD: fputs(lj_profile_method_name(*(const lj_profile_method *)p), f); break;
      case C_INT: fprintf(f, "%d", *(const int *)p); break;
      case C_I64: fprintf(f, "%lld", (long long)*(const int64_t *)p); break;
      case C_REAL: put_real(f, *(const double *)p); break;
      case C_TEXT: csv_text(f, (const char *)p); break;
      case C_CI: {
        const lj_mean_ci *m = p;
        if (m->n > 0) put_real(f, m->mean);
        fputc(',', f);
        if (m->n > 1) put_real(f, m->lo);
        fputc(',', f);
        if (m->n > 1) put_real(f, m->hi);
        fprintf(f, ",%d", m->n);
        break;
      }
    }
  }
  fputc('\n', f);
}

int lj_report_csv(FILE *f, const lj_report_run *r) {
  const lj_profile_result *p = &r->prof;
  fputs("# llamajoule report: ", f);
  fprintf(f, "run %lld of ", (long long)r->run.id);
  csv_text(f, r->path);
  fputs(", model ", f);
  csv_text(f, p->plan.model_name);
  fputs(", GPU ", f);
  csv_text(f, p->cond.device.name);
  fputs("\n", f);
  const table phases = TABLE("phases", kPhases), stages = TABLE("stages", kStages);
  const table closures = TABLE("closures", kClosures), windows = TABLE("phase_windows", kWindows);
  header(f, &phases);
  for (int i = 0; i < LJ_PHASE_COUNT; i++)
    if (p->phases[i].n > 0) row(f, &phases, &p->phases[i]);
  fputc('\n', f);
  header(f, &stages);
  for (size_t i = 0; i < p->n_stages; i++) row(f, &stages, &p->stages[i]);
  fputc('\n', f);
  header(f, &closures);  // one row per phase and method: the method first

  for (int ph = 0; ph < LJ_PHASE_COUNT; ph++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++) {
      const lj_closure *c = lj_profile_closure_of(p, (lj_phase)ph, (lj_profile_method)m);
      if (c->n_terms <= 0) continue;
      fprintf(f, "%s,", lj_profile_method_name((lj_profile_method)m));
      row(f, &closures, c);
    }
  fputc('\n', f);
  header(f, &windows);
  for (size_t i = 0; i < p->n_windows; i++) row(f, &windows, &p->windows[i]);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "report: writing the CSV failed") : 0;
}
