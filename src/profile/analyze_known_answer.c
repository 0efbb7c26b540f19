// The known-answer check (docs/attribution.md §2e): a calibration copy of a fixed
// size ran after each layer's o_proj; its energy per call alone in long windows
// is the answer. Each method attributes it as it attributes any stage:
// isolation (the copy alone at the isolation replay's settings), sequence (the
// prefix attn_norm .. o_proj with the copy minus without it, by round) and
// Shapley ((isolation + (whole layer with the copy - without it)) / 2), the layer's own game
// (whole layer with the copy - without it, where the phase has that split). A method
// that misses by more than 10% is unreliable for stages of that size. The
// windows are short: each figure is the power samples' where all its windows
// have them, the counter's beside it (docs/attribution.md §1b).
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "profile/analyze_internal.h"

#define KNOWN_TARGET_PCT 10.0
enum { MAX_ROUNDS = 128 };

// Dynamic per-call energies of the known-answer trials (stage, variant) by round, by the counter
// (samples 0) or the power samples (1); NAN where none. Returns the trials found; *usable &= 0
// when one of them has no figure by that source (its samples cannot stand for it).
static int by_round(const lj_profile_result *r, lj_phase ph, lj_stage st, int variant, int samples, double *out,
                    int *usable) {
  int n = 0;
  for (int i = 0; i < MAX_ROUNDS; i++) out[i] = NAN;
  for (size_t i = 0; i < r->n_trials; i++) {
    const lj_profile_trial *t = &r->trials[i];
    lj_trial_per_call v;
    if (t->method != LJ_METHOD_KNOWN || t->key.phase != ph || t->key.stage != st || t->variant != variant ||
        t->trial < 0 || t->trial >= MAX_ROUNDS || !lj_analyze_trial_per_call(t, &v))
      continue;
    out[t->trial] = samples ? v.sdyn : v.dyn;
    if (!isfinite(out[t->trial])) *usable = 0;
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

// What one source gives: the answer (the copy alone, long windows) and each method's estimate.
enum { K_ISO, K_SEQ, K_SHAP, K_SHAPL, K_COUNT };
typedef struct {
  lj_mean_ci truth;
  int have_truth, truth_usable;
  lj_interval est[K_COUNT];
  int have[K_COUNT], usable[K_COUNT];
} known_source;

static int source_of(const lj_profile_result *r, lj_phase ph, int samples, known_source *ks) {
  double level = r->plan.level, x[MAX_ROUNDS], a[MAX_ROUNDS], b[MAX_ROUNDS];
  memset(ks, 0, sizeof *ks);
  ks->truth_usable = 1;
  if (by_round(r, ph, LJ_STAGE_NONE, LJ_KNOWN_ALONE_LONG, samples, x, &ks->truth_usable))
    LJ_TRY(ks->have_truth = mean_of(x, level, &ks->truth));
  lj_mean_ci iso, m;
  ks->usable[K_ISO] = ks->usable[K_SEQ] = 1;
  int have_iso = by_round(r, ph, LJ_STAGE_NONE, LJ_KNOWN_ALONE, samples, x, &ks->usable[K_ISO]) &&
                 mean_of(x, level, &iso) == 1;
  if (have_iso) {
    lj_interval_from_se(iso.mean, iso.sem, iso.df, level, &ks->est[K_ISO]);
    ks->have[K_ISO] = 1;
  }
  by_round(r, ph, LJ_STAGE_O_PROJ, LJ_KNOWN_WITH, samples, a, &ks->usable[K_SEQ]);
  by_round(r, ph, LJ_STAGE_O_PROJ, LJ_KNOWN_WITHOUT, samples, b, &ks->usable[K_SEQ]);
  if (paired(a, b, level, &m) == 1) {
    lj_interval_from_se(m.mean, m.sem, m.df, level, &ks->est[K_SEQ]);
    ks->have[K_SEQ] = 1;
  }
  ks->usable[K_SHAP] = ks->usable[K_ISO];
  by_round(r, ph, LJ_STAGE_DOWN, LJ_KNOWN_WITH, samples, a, &ks->usable[K_SHAP]);
  by_round(r, ph, LJ_STAGE_DOWN, LJ_KNOWN_WITHOUT, samples, b, &ks->usable[K_SHAP]);
  // the layer's own game: the copy is a light stage between o_proj and ffn_norm, so leaving it out
  // makes no GEMM->GEMM junction and its Shapley value is its marginal (docs/attribution.md §2d)
  ks->usable[K_SHAPL] = 1;
  by_round(r, ph, LJ_STAGE_DOWN, LJ_KNOWN_WITH, samples, a, &ks->usable[K_SHAPL]);
  by_round(r, ph, LJ_STAGE_DOWN, LJ_KNOWN_WITHOUT, samples, b, &ks->usable[K_SHAPL]);
  if (r->shapley[ph].layer_windows > 0 && paired(a, b, level, &m) == 1) {
    lj_interval_from_se(m.mean, m.sem, m.df, level, &ks->est[K_SHAPL]);
    ks->have[K_SHAPL] = 1;
  }
  if (have_iso && paired(a, b, level, &m) == 1) {
    double coef[2] = {0.5, 0.5};
    lj_mean_ci both[2] = {iso, m};
    LJ_TRY(lj_stats_linear_combination(coef, both, 2, level, &ks->est[K_SHAP]));
    ks->have[K_SHAP] = 1;
  }
  return 0;
}

static int add(lj_profile_result *r, lj_phase ph, lj_profile_method m, const lj_mean_ci *truth,
               const lj_interval *est, double counter_truth, const lj_interval *counter_est, int samples) {
  if (r->n_known >= LJ_PROFILE_MAX_CHECKS) return 0;
  lj_known_answer *k = &r->known[r->n_known++];
  memset(k, 0, sizeof *k);
  k->phase = ph, k->method = m, k->bytes = r->plan.known_answer_bytes, k->truth_j = *truth, k->estimate_j = *est;
  k->counter_truth_j = counter_truth, k->counter_estimate_j = counter_est->estimate;
  k->flags = lj_energy_source_flags(samples, est->lo, est->hi, samples ? counter_est->estimate : NAN);
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

// Each method's estimate and the answer it is checked against from one source: the power
// samples where all the windows of both have them (windows < LJ_SAMPLE_WINDOW_MAX_S,
// docs/attribution.md §1b), else the counter.
static int phase_check(lj_profile_result *r, lj_phase ph) {
  known_source cs, ss;
  LJ_TRY(source_of(r, ph, 0, &cs));
  if (!cs.have_truth) return 0;
  LJ_TRY(source_of(r, ph, 1, &ss));
  int truth_samples = ss.have_truth && ss.truth_usable;
  static const lj_profile_method methods[K_COUNT] = {LJ_METHOD_ISOLATION, LJ_METHOD_SEQUENCE, LJ_METHOD_SHAPLEY,
                                                     LJ_METHOD_SHAPLEY_LAYER};
  for (int k = 0; k < K_COUNT; k++) {
    if (!cs.have[k]) continue;
    // One source for the answer and the estimate: a difference of sources (the answer's long
    // windows by the counter, the estimate's short ones by the samples) would count the two
    // sources' disagreement as the method's error.
    int samples = truth_samples && ss.have[k] && ss.usable[k];
    const lj_mean_ci *truth = samples ? &ss.truth : &cs.truth;
    if (!(truth->mean > 0)) {
      lj_profile_note(r, "No known-answer check of %s by %s: the calibration copy alone has no positive energy.",
                      lj_phase_name(ph), lj_profile_method_name(methods[k]));
      continue;
    }
    LJ_TRY(add(r, ph, methods[k], truth, samples ? &ss.est[k] : &cs.est[k], cs.truth.mean, &cs.est[k], samples));
  }
  return 0;
}

int lj_analyze_known_answer(lj_profile_result *r) {
  LJ_TRY(phase_check(r, LJ_PHASE_PREFILL));
  return phase_check(r, LJ_PHASE_DECODE);
}
