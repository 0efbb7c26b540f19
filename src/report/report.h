// What `llamajoule profile` prints at the end of a run: a terminal summary
// (fixed-width, at most 120 columns) and the same content as JSON
// (docs/profile-json.md). Both read a filled lj_profile_result and change
// nothing; every value that was not measured (NAN) prints as "-" or null.
#pragma once
#include <stdio.h>

#include "store/profile_result.h"

// The terminal summary. LJ_EIO when writing to `f` fails.
int lj_profile_report_text(FILE *f, const lj_profile_result *r);
// One JSON document (two-space indent, newline-terminated). LJ_ENOMEM when
// building it fails, LJ_EIO when writing fails.
int lj_profile_report_json(FILE *f, const lj_profile_result *r);
