// The interval verdict (verdict.h): one rule for every check against a band.
#include "common/verdict.h"

#include <math.h>
#include <stddef.h>

lj_verdict lj_interval_verdict(double pct, double lo_pct, double hi_pct, double target_pct) {
  if (!isfinite(pct)) return LJ_VERDICT_NONE;
  // NAN bounds fail every comparison: no interval, no proof either way
  if (lo_pct >= -target_pct && hi_pct <= target_pct) return LJ_VERDICT_PASS;
  if (lo_pct > target_pct || hi_pct < -target_pct) return LJ_VERDICT_MISS;
  return LJ_VERDICT_INCONCLUSIVE;
}

const char *lj_verdict_name(lj_verdict v) {
  return v == LJ_VERDICT_PASS           ? "PASS"
         : v == LJ_VERDICT_MISS         ? "MISS"
         : v == LJ_VERDICT_INCONCLUSIVE ? "INCONCLUSIVE"
                                        : NULL;
}
