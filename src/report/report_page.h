// What the HTML pages embed: the run as one JSON document (report_data.c)
// and its time series as plain numbers (report_series.c), written inside the
// page by report_html.c and report_compare.c.
#pragma once
#include <jansson.h>
#include <stdio.h>

#include "report/report_run.h"
#include "store/record_desc.h"

// The page's data: run, model, workload, GPU, phases, closures, stages,
// groups, heatmap cells, windows, idle curves, findings (docs/report.md lists the fields).
// NULL on out of memory (the error recorded).
json_t *lj_report_page_data(const lj_report_run *r);
// One described record's JSON fields as the profile JSON writes them (report_json.c), so that the
// page carries a record from the same one description (no derived fields). NULL on out of memory.
json_t *lj_report_record_json(const lj_record_desc *d, const void *rec, const lj_profile_result *r);
// The run's power, clock and temperature samples of the profiled GPU as
// {"t0_ns": N, "series": [{"name", "unit", "data": [t_s, value, t_s, value, ...]}]}.
int lj_report_write_series(FILE *f, const lj_report_run *r);
// Writes `text` JSON-encoded for a <script> element: <, >, &, U+2028 and U+2029
// as \u escapes, so no string from a run file can end the element.
int lj_report_write_script_json(FILE *f, const char *text);
// Writes `text` with &, <, >, " and ' as HTML entities.
int lj_report_write_html_text(FILE *f, const char *text);
// The page around the data: head with the CSP, title and style; then
// ECharts and the page script. `page_kind` is "report" or "compare".
int lj_report_page_begin(FILE *f, const char *title);
int lj_report_page_end(FILE *f, const char *page_kind);
// The compare page with `study` (lj_report_study_json; NULL: none) beside the runs.
int lj_report_compare_html_study(FILE *f, const lj_report_run *runs, size_t n, json_t *study);
