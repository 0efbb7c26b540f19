// Findings written one sentence at a time into a caller's array (report_findings.c for a run,
// study_findings.c for a study): past `max` the rest are dropped.
#pragma once
#include <stddef.h>

#include "common/error.h"
#include "report/report_run.h"

typedef struct {
  lj_finding *out;
  size_t n, max;
} lj_finding_sink;

void lj_finding_say(lj_finding_sink *s, const char *rule, int level, const char *fmt, ...) LJ_PRINTF(4, 5);
