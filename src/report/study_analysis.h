// The analysis of a study (issue 16), from its stored points only: per model,
// prompt and generated length, decode J/token and step time against batch;
// the batch that minimises decode J/token under a per-step latency bound; the
// knee where decode stops being weight-read bound; stage-group shares where
// points have per-stage estimates; our figures beside ML.ENERGY's; findings.
#pragma once
#include <jansson.h>
#include <stdio.h>

#include "report/report_run.h"
#include "report/report_study.h"

#define LJ_STUDY_LATENCY_MS 50.0        // default bound on one decode step (20 tokens/s per sequence)
#define LJ_STUDY_KNEE_FALL_PCT 20.0     // knee: J/token falls less than this per doubling of the batch ...
#define LJ_STUDY_KNEE_GROWTH_PCT 20.0   // ... or the step time grows more than this per doubling
#define LJ_STUDY_MAX_BATCHES 32

// One done point on a line.
typedef struct {
  int batch;
  double j_per_token;        // decode, dynamic (above idle); NAN timing only
  double gross_j_per_token;  // decode, gross
  double step_ms;            // one decode step of the batch: time per unit / (tokens per unit / batch)
  double prefill_j_per_token;
  const lj_report_run *run;
} lj_study_line_point;

// One model in one weight format at one prompt and generated length, its done points by batch.
typedef struct {
  char model[64];
  char weights[16];  // the linear layers' format, "bf16", "fp8" or "fp8-tensor": bf16 and FP8 sweeps are separate lines
  char gpu[96];
  const char *file;  // the study file of its points: compare of several studies keeps each file's lines apart
  int prompt_len, gen_len;
  double params_b;  // billions of parameters
  size_t n;
  lj_study_line_point pt[LJ_STUDY_MAX_BATCHES];
  int best_batch;   // lowest decode J/token with step_ms <= the bound; 0 when none meets it
  int fastest;      // index of the shortest step (when none meets the bound); -1 none
  int knee_batch;   // 0: no knee within the batches
  int knee_next;    // the batch after the knee
  double knee_fall_pct, knee_growth_pct;  // per doubling, from the knee to the next batch
  int knee_by_fall, knee_by_growth;       // which rule fired
} lj_study_line;

typedef struct {
  double latency_ms;
  int several_files;  // the lines come from more than one study file: their names say which
  size_t n_lines;
  lj_study_line *lines;
} lj_study_analysis;

// The knee of one line, by the rule above, from points sorted by batch with
// finite J/token and step time. Returns the index of the knee or -1; fills the
// per-doubling fall and growth from that point to the next.
int lj_study_knee(const int *batch, const double *j, const double *step_ms, size_t n, double *fall_pct,
                  double *growth_pct);
// The index of the lowest J/token among points with step_ms <= bound, or -1.
int lj_study_best_under(const double *j, const double *step_ms, size_t n, double bound_ms);

int lj_study_analyze(const lj_report_study *s, double latency_ms, lj_study_analysis *out);
// "MODEL[ WEIGHTS] (prompt P, gen G)[ in FILE]" (the file's last component, when several files), for the text and findings.
void lj_study_line_name(const lj_study_analysis *a, const lj_study_line *l, char *buf, size_t cap);
void lj_study_analysis_free(lj_study_analysis *a);

// {"latency_ms", "rules", "lines": [...], "shares": [...], "reference": {...}, "findings": [...]}
json_t *lj_study_analysis_json(const lj_report_study *s, const lj_study_analysis *a);
int lj_study_analysis_text(FILE *f, const lj_report_study *s, const lj_study_analysis *a);

// Findings of a study by explicit rules (study_findings.c lists them).
size_t lj_study_findings(const lj_study_analysis *a, lj_finding *out, size_t max);

// Our decode point beside a published one (mlenergy_reference.h): the line's
// point at the reference's batch on a GPU of its class. Returns how many were written.
typedef struct {
  const lj_study_line *line;
  const lj_study_line_point *ours;
  double theirs_j_per_token, tolerance;
  double diff_pct;  // (ours gross - theirs) / theirs x 100
  int at_or_below;
} lj_study_reference_match;
size_t lj_study_reference_matches(const lj_study_analysis *a, lj_study_reference_match *out, size_t max);
