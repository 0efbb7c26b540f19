// The known-answer check (docs/attribution.md §2e): a calibration copy of a fixed
// size ran after each layer's o_proj; its energy per call alone in long windows
// is the answer. Each method attributes it as it attributes any stage:
// isolation (the copy alone at the isolation replay's settings), sequence (the
// prefix attn_norm .. o_proj with the copy minus without it, by round) and
// Shapley ((isolation + (whole layer with the copy - without it)) / 2). A method
// that misses by more than 10% is unreliable for stages of that size.
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

#define KNOWN_TARGET_PCT 10.0
enum { MAX_ROUNDS = 128 };

// Dynamic per-call energies of the known-answer trials (stage, variant) by round; NAN where none.
static int by_round(const lj_profile_result *r, lj_phase ph, lj_stage st, int variant, double *out, int64_t *bytes) {
  int n = 0;
  for (int i = 0; i < MAX_ROUNDS; i++) out[i] = NAN;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    double d, g, s;
    if (t->method != LJ_METHOD_KNOWN || t->key.phase != ph || t->key.stage != st || t->variant != variant ||
        t->trial < 0 || t->trial >= MAX_ROUNDS || !lj_analyze_trial_per_call(t, &d, &g, &s))
      continue;
    out[t->trial] = d;
    if (bytes && t->units > 0) *bytes = t->units;  // the copy's size rides in units
    n++;
  }
  return n;
}

static int mean_of(const double *x, double level, lj_mean_ci *out) {
  double v[MAX_ROUNDS];
  int k = 0;
  for (int i = 0; i < MAX_ROUNDS; i++)
    if (isfinite(x[i])) v[k++] = x[i];
  if (k < 2) return 0;
  LJ_TRY(lj_stats_mean_ci(v, (size_t)k, level, out));
  return 1;
}

// with - without, paired by round.
static int paired(const double *with, const double *without, double level, lj_mean_ci *out) {
  double d[MAX_ROUNDS];
  for (int i = 0; i < MAX_ROUNDS; i++) d[i] = with[i] - without[i];
  return mean_of(d, level, out);
}

static int add(lj_profile_result *r, lj_phase ph, lj_profile_method m, int64_t bytes, const lj_mean_ci *truth,
               const lj_interval *est) {
  if (r->n_known >= LJ_PROFILE_MAX_CHECKS) return 0;
  lj_known_answer *k = &r->known[r->n_known++];
  memset(k, 0, sizeof *k);
  k->phase = ph, k->method = m, k->bytes = bytes, k->truth_j = *truth, k->estimate_j = *est;
  // the error's interval: estimate / truth - 1 by the delta method (both sides' spread)
  lj_mean_ci e;
  lj_analyze_mean_from_interval(est, &e);
  lj_interval ratio;
  if (lj_stats_ratio(&e, truth, r->plan.level, &ratio) < 0) {
    lj_clear_error();
    ratio.estimate = est->estimate / truth->mean, ratio.lo = ratio.hi = NAN;
  }
  k->error_pct = (ratio.estimate - 1) * 100;
  k->error_lo_pct = (ratio.lo - 1) * 100, k->error_hi_pct = (ratio.hi - 1) * 100;
  k->reliable = fabs(k->error_pct) <= KNOWN_TARGET_PCT;
  return 0;
}

static int phase_check(lj_profile_result *r, lj_phase ph) {
  double level = r->plan.level, alone_long[MAX_ROUNDS], alone[MAX_ROUNDS], a[MAX_ROUNDS], b[MAX_ROUNDS];
  int64_t bytes = r->plan.known_answer_bytes;
  lj_mean_ci truth, iso, m;
  memset(&truth, 0, sizeof truth);
  if (!by_round(r, ph, LJ_STAGE_COUNT, LJ_KNOWN_ALONE_LONG, alone_long, &bytes)) return 0;
  LJ_TRY(mean_of(alone_long, level, &truth));
  if (truth.n < 2 || !(truth.mean > 0)) {
    lj_profile_note(r, "No known-answer check of %s: the calibration copy alone has no positive energy.",
                    lj_phase_name(ph));
    return 0;
  }
  lj_interval est;
  int have_iso = by_round(r, ph, LJ_STAGE_COUNT, LJ_KNOWN_ALONE, alone, NULL) && mean_of(alone, level, &iso) == 1;
  if (have_iso) {
    lj_interval_from_se(iso.mean, iso.sem, iso.df, level, &est);
    LJ_TRY(add(r, ph, LJ_METHOD_ISOLATION, bytes, &truth, &est));
  }
  by_round(r, ph, LJ_STAGE_O_PROJ, LJ_KNOWN_WITH, a, NULL);
  by_round(r, ph, LJ_STAGE_O_PROJ, LJ_KNOWN_WITHOUT, b, NULL);
  if (paired(a, b, level, &m) == 1) {
    lj_interval_from_se(m.mean, m.sem, m.df, level, &est);
    LJ_TRY(add(r, ph, LJ_METHOD_SEQUENCE, bytes, &truth, &est));
  }
  by_round(r, ph, LJ_STAGE_DOWN, LJ_KNOWN_WITH, a, NULL);
  by_round(r, ph, LJ_STAGE_DOWN, LJ_KNOWN_WITHOUT, b, NULL);
  if (have_iso && paired(a, b, level, &m) == 1) {
    double coef[2] = {0.5, 0.5};
    lj_mean_ci both[2] = {iso, m};
    LJ_TRY(lj_stats_linear_combination(coef, both, 2, level, &est));
    LJ_TRY(add(r, ph, LJ_METHOD_SHAPLEY, bytes, &truth, &est));
  }
  return 0;
}

int lj_analyze_known_answer(lj_profile_result *r) {
  LJ_TRY(phase_check(r, LJ_PHASE_PREFILL));
  return phase_check(r, LJ_PHASE_DECODE);
}
