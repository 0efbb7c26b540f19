// The ablations' windows in the terminal summary: for each phase and skipped group with a check row
// that is not PASS, one compact line per pair (full before | skipped | full after), so that the
// windows behind the verdict can be read without the store.
#pragma once
#include <stdio.h>

#include "store/profile_result.h"

// Nothing when every row passes or the run kept no windows (stores before schema 16).
void lj_report_ablation_windows_text(FILE *f, const lj_profile_result *r);
