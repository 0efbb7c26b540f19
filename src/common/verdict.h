// The one verdict rule of every check that compares a relative error, with its interval, against a
// band of +-target percent (the closures, the Shapley split's additive check, the layer skips):
// PASS only when the whole interval lies within the band, MISS only when the whole interval lies
// outside it, INCONCLUSIVE otherwise (a point on either side with an interval across the edge, or
// no interval known, proves nothing).
#pragma once

typedef enum { LJ_VERDICT_NONE = -1, LJ_VERDICT_MISS = 0, LJ_VERDICT_PASS = 1, LJ_VERDICT_INCONCLUSIVE = 2 } lj_verdict;

// pct: the point (NAN: not computed, NONE); lo_pct .. hi_pct its interval (NAN: unknown).
lj_verdict lj_interval_verdict(double pct, double lo_pct, double hi_pct, double target_pct);
// "PASS", "MISS", "INCONCLUSIVE"; NULL for LJ_VERDICT_NONE.
const char *lj_verdict_name(lj_verdict v);
