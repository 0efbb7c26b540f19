// CSV export: the run's tables, one section each ("# table NAME", a header,
// the rows). The profile's tables are walked from their one description
// (store/record_desc.c, the fields with a CSV name); the phase windows, whose
// SQL lives in the meter's windows table, from the column list below. Text fields are quoted RFC 4180 style, and
// a field starting with = + - @ gets a leading ' so a spreadsheet does not
// run it as a formula.
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "report/report_run.h"
#include "store/record_desc.h"

// The phase windows' columns (the other tables come from store/record_desc.h).
typedef enum { C_PHASE, C_INT, C_I64, C_REAL } col_kind;
typedef struct {
  const char *name;
  col_kind kind;
  size_t off;
} column;

#define COL(n, k, type, field) {n, k, offsetof(type, field)}
static const column kWindows[] = {
    COL("phase", C_PHASE, lj_phase_window, phase),          COL("repeat", C_INT, lj_phase_window, repeat),
    COL("units", C_I64, lj_phase_window, units),            COL("begin_ns", C_I64, lj_phase_window, w.begin_ns),
    COL("end_ns", C_I64, lj_phase_window, w.end_ns),        COL("duration_s", C_REAL, lj_phase_window, w.duration_s),
    COL("counter_j", C_REAL, lj_phase_window, w.counter_energy_j),
    COL("sample_j", C_REAL, lj_phase_window, w.sample_energy_j),
    COL("mean_w", C_REAL, lj_phase_window, w.mean_power_w), COL("peak_w", C_REAL, lj_phase_window, w.peak_power_w),
    COL("host_s", C_REAL, lj_phase_window, host_s),
};

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

// Empty = not measured: a mean's value needs n > 0, its interval n > 1.
static void put_ci(FILE *f, const lj_mean_ci *m) {
  if (m->n > 0) put_real(f, m->mean);
  fputc(',', f);
  if (m->n > 1) put_real(f, m->lo);
  fputc(',', f);
  if (m->n > 1) put_real(f, m->hi);
  fprintf(f, ",%d", m->n);
}

static void put_interval(FILE *f, const lj_interval *v) {
  put_real(f, v->estimate);
  fputc(',', f);
  put_real(f, v->lo);
  fputc(',', f);
  put_real(f, v->hi);
}

// A described table's section header: `lead` (columns before the description's: the per-GPU
// table's rank), then its CSV columns, a mean as X, X_lo, X_hi, X_n and a derived interval as X,
// X_lo, X_hi.
static void record_header_with(FILE *f, const char *name, const char *lead, const lj_record_desc *d) {
  fprintf(f, "# table %s\n%s", name, lead);
  int first = 1;
  for (size_t i = 0; i < d->n_fields; i++) {
    const lj_field *c = &d->fields[i];
    if (!c->csv) continue;
    const char *n = c->csv, *sep = first ? "" : ",";
    first = 0;
    if (c->type == LJ_FIELD_CI) fprintf(f, "%s%s,%s_lo,%s_hi,%s_n", sep, n, n, n, n);
    else if (c->type == LJ_FIELD_IV) fprintf(f, "%s%s,%s_lo,%s_hi", sep, n, n, n);
    else fprintf(f, "%s%s", sep, n);
  }
  fputc('\n', f);
}

static void record_header(FILE *f, const char *name, const lj_record_desc *d) { record_header_with(f, name, "", d); }

static void record_row(FILE *f, const lj_record_desc *d, const void *rec) {
  int first = 1;
  for (size_t i = 0; i < d->n_fields; i++) {
    const lj_field *c = &d->fields[i];
    const void *p = (const char *)rec + c->off;
    if (!c->csv) continue;
    if (!first) fputc(',', f);
    first = 0;
    switch (c->type) {
      case LJ_FIELD_PHASE: fputs(lj_phase_name(*(const lj_phase *)p), f); break;
      case LJ_FIELD_STAGE:
      case LJ_FIELD_STAGE_OR_NONE: {
        lj_stage st = *(const lj_stage *)p;
        fputs(st == LJ_STAGE_NONE ? "none" : lj_stage_name(st), f);
        break;
      }
      case LJ_FIELD_GROUP: {
        lj_stage st = *(const lj_stage *)p;
        if (st != LJ_STAGE_NONE) fputs(lj_stage_group_name(lj_stage_group_of(st)), f);
        break;
      }
      case LJ_FIELD_METHOD: fputs(lj_profile_method_name(*(const lj_profile_method *)p), f); break;
      case LJ_FIELD_INT:
      case LJ_FIELD_BOOL: fprintf(f, "%d", *(const int *)p); break;
      case LJ_FIELD_I64: fprintf(f, "%lld", (long long)*(const int64_t *)p); break;
      case LJ_FIELD_FLAGS: fprintf(f, "%u", (unsigned)*(const uint32_t *)p); break;
      case LJ_FIELD_REAL:
      case LJ_FIELD_FINITE:
      case LJ_FIELD_LEVEL: put_real(f, *(const double *)p); break;
      case LJ_FIELD_TEXT: csv_text(f, (const char *)p); break;
      case LJ_FIELD_CI: put_ci(f, p); break;
      case LJ_FIELD_IV: put_interval(f, p); break;
      case LJ_FIELD_TP_RANK:  // not in the CSV: the plan's
      case LJ_FIELD_DERIVED: break;  // JSON only
    }
  }
  fputc('\n', f);
}

static void window_header(FILE *f) {
  fputs("# table phase_windows\n", f);
  for (size_t i = 0; i < sizeof kWindows / sizeof kWindows[0]; i++) fprintf(f, "%s%s", i ? "," : "", kWindows[i].name);
  fputc('\n', f);
}

static void window_row(FILE *f, const lj_phase_window *w) {
  const char *base = (const char *)w;
  for (size_t i = 0; i < sizeof kWindows / sizeof kWindows[0]; i++) {
    const column *c = &kWindows[i];
    const void *p = base + c->off;
    if (i) fputc(',', f);
    switch (c->kind) {
      case C_PHASE: fputs(lj_phase_name(*(const lj_phase *)p), f); break;
      case C_INT: fprintf(f, "%d", *(const int *)p); break;
      case C_I64: fprintf(f, "%lld", (long long)*(const int64_t *)p); break;
      case C_REAL: put_real(f, *(const double *)p); break;
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
  record_header(f, "phases", &lj_desc_phase_summary);
  for (int i = 0; i < LJ_PHASE_COUNT; i++) {
    lj_phase_summary s = p->phases[i];
    s.phase = (lj_phase)i;
    if (s.n > 0) record_row(f, &lj_desc_phase_summary, &s);
  }
  fputc('\n', f);
  if (p->n_ranks > 1) {  // tensor-parallel degree > 1: each GPU's phases ("phases" is their sum)
    record_header_with(f, "per_gpu", "rank,", &lj_desc_phase_summary);
    for (int k = 0; k < p->n_ranks; k++)
      for (int i = 0; i < LJ_PHASE_COUNT; i++) {
        lj_phase_summary s = p->rank_phases[k][i];
        s.phase = (lj_phase)i;
        if (s.n <= 0) continue;
        fprintf(f, "%d,", k);
        record_row(f, &lj_desc_phase_summary, &s);
      }
    fputc('\n', f);
  }
  record_header(f, "stages", &lj_desc_stage);
  for (size_t i = 0; i < p->n_stages; i++) record_row(f, &lj_desc_stage, &p->stages[i]);
  fputc('\n', f);
  record_header(f, "closures", &lj_desc_closure);
  for (int ph = 0; ph < LJ_PHASE_COUNT; ph++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++) {
      lj_closure_row c = {*lj_profile_closure_of(p, (lj_phase)ph, (lj_profile_method)m), (lj_profile_method)m};
      if (c.c.n_terms > 0) record_row(f, &lj_desc_closure, &c);
    }
  fputc('\n', f);
  record_header(f, "trials", &lj_desc_trial);
  for (size_t i = 0; i < p->n_trials; i++) record_row(f, &lj_desc_trial, &p->trials[i]);
  if (p->ablation_valid) {
    fputc('\n', f);
    record_header(f, "ablation", &lj_desc_ablation);
    record_row(f, &lj_desc_ablation, &p->ablation);
  }
  if (p->head_fit_valid) {
    fputc('\n', f);
    lj_head_fit_row h = {p->head_fit_kv, p->head_fit};
    record_header(f, "head_fit", &lj_desc_head_fit);
    record_row(f, &lj_desc_head_fit, &h);
  }
  if (p->n_head_points > 0) {
    fputc('\n', f);
    record_header(f, "head_grid_points", &lj_desc_head_grid_point);
    for (size_t i = 0; i < p->n_head_points; i++) record_row(f, &lj_desc_head_grid_point, &p->head_points[i]);
  }
  if (p->n_head_fits > 0) {
    fputc('\n', f);
    record_header(f, "head_grid_fits", &lj_desc_head_grid_fit);
    for (size_t i = 0; i < p->n_head_fits; i++) record_row(f, &lj_desc_head_grid_fit, &p->head_fits[i]);
  }
  if (p->n_abl_windows > 0) {
    fputc('\n', f);
    record_header(f, "ablation_windows", &lj_desc_ablation_window);
    for (size_t i = 0; i < p->n_abl_windows; i++) record_row(f, &lj_desc_ablation_window, &p->abl_windows[i]);
  }
  if (p->n_budgets > 0) {
    fputc('\n', f);
    record_header(f, "budgets", &lj_desc_budget);
    for (size_t i = 0; i < p->n_budgets; i++) record_row(f, &lj_desc_budget, &p->budgets[i]);
  }
  if (p->n_overhead > 0) {
    fputc('\n', f);
    record_header(f, "overheads", &lj_desc_overhead);
    for (int i = 0; i < p->n_overhead && i < 2; i++) record_row(f, &lj_desc_overhead, &p->overhead[i]);
  }
  fputc('\n', f);
  window_header(f);
  for (size_t i = 0; i < p->n_windows; i++) window_row(f, &p->windows[i]);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "report: writing the CSV failed") : 0;
}
