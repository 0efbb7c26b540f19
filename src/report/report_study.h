// A study file (`llamajoule sweep`) as the reports see it: the study, every
// point with its status, and the profile run of each done point, read back
// strictly read-only. `compare STUDY.db` and `report STUDY.db` draw it.
#pragma once
#include <jansson.h>
#include <stdio.h>

#include "report/report_run.h"
#include "store/store_study.h"

typedef struct {
  char path[1024];
  lj_study study;
  lj_study_point *points;
  size_t n_points;
  lj_report_run *runs;  // the done points' runs, in point order
  size_t n_runs;
  double latency_ms;  // the analysis's bound on one decode step (LJ_STUDY_LATENCY_MS unless set)
} lj_report_study;

// 1: `path` holds a study, loaded (free with lj_report_study_free); 0: no study
// in it (out empty); negative: the file cannot be read (not a store, another
// schema version, a done point whose run is not a readable profile).
int lj_report_study_load(const char *path, lj_report_study *out);
void lj_report_study_free(lj_report_study *s);
// Moves `from`'s points and done runs to the end of `into` and frees `from`: compare of several
// study files analyses them as one, each file's lines apart (study_analysis.h), so that every
// study's lines get their own best batch and knee. LJ_ENOMEM leaves both as they were.
int lj_report_study_merge(lj_report_study *into, lj_report_study *from);
// `--latency-ms MS` of compare and report: a number of milliseconds, 0 < MS <= 1e6.
int lj_report_study_parse_latency(const char *arg, double *ms);

// {"name", "arguments", "engine", "command_line", "file", "points": [{point, model,
// batch, prompt_len, gen_len, stages, status, reason, run_id, attempts, seconds, estimate_s}],
// "analysis": study_analysis.h}
json_t *lj_report_study_json(const lj_report_study *s);
// The study as text: one line per point (status, run, time, J/token or time per token), then the analysis.
int lj_report_study_text(FILE *f, const lj_report_study *s);
// The compare page of every done point, with the study's JSON for its table and sweep charts.
int lj_report_study_html(FILE *f, const lj_report_study *s);
