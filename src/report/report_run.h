// One profiled run as the reports see it: read back from a store, never
// measured again. `llamajoule report` and `compare` load runs with
// lj_report_load and render them with the report_*.c writers.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "llamajoule/meter.h"
#include "store/profile_result.h"
#include "store/store.h"

typedef struct {
  char path[1024];         // the store file
  lj_run_record run;       // kind, command line, host, status
  lj_profile_result prof;  // everything the profile stored
  lj_trace trace;          // the run's samples in time order (empty when none were stored)
  char missing[1024];      // what an incomplete run lacks, one phrase each ("" when nothing)
} lj_report_run;

// Opens `path` strictly read-only (the file is never changed) and reads run
// `run_id` (0: the newest profile run). Errors, one line naming the file:
// not a store or another schema version (LJ_EINVAL, from the store), no
// profile run in it, a run id that is not there, a run that is not a profile
// (all LJ_EINVAL: exit code 3).
int lj_report_load(const char *path, int64_t run_id, lj_report_run *out);
void lj_report_run_free(lj_report_run *r);

// What an incomplete or partial run lacks, as phrases for a banner, written
// to `buf` separated by "; " ("" when the run is whole).
void lj_report_missing(const lj_report_run *r, char *buf, size_t cap);

// Findings: sentences stated by explicit rules from the run's own numbers
// (report_findings.c lists the rules). Returns how many were written (at most
// `max`), each into its own `cap`-byte slot of `out`.
typedef struct {
  char rule[32];     // the rule's id ("decode-mlp-share", ...)
  char text[320];    // the sentence
  int level;         // 0 information, 1 worth a look, 2 a check failed
} lj_finding;
size_t lj_report_findings(const lj_report_run *r, lj_finding *out, size_t max);

// Output formats of `llamajoule report` (report_html.c, report_csv.c, report_perfetto.c).
int lj_report_html(FILE *f, const lj_report_run *r);
int lj_report_csv(FILE *f, const lj_report_run *r);
int lj_report_perfetto(FILE *f, const lj_report_run *r);
// `llamajoule compare`: runs side by side in one page.
int lj_report_compare_html(FILE *f, const lj_report_run *runs, size_t n);
