// Composition closure: the sum over stages of calls x per-call energy against
// the measured phase energy.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/attribution.h"

void lj_closure_term_from_estimate(const lj_replay_estimate *e, double calls, lj_closure_term *out) {
  memset(out, 0, sizeof *out);
  out->key = e->key;
  out->calls = calls;
  out->gross_j = e->gross_j;
  out->dynamic_j = e->dynamic_j;
}

static double pct(double predicted, double measured) {
  return measured != 0 ? (predicted - measured) / measured * 100 : NAN;
}

// The error's interval, in percent: predicted / measured - 1 over two independent
// estimates (lj_stats_ratio). Without a measured spread, the prediction's interval
// mapped through the error (the ratio's interval reduces to exactly that).
static void error_interval(const lj_interval *predicted, const lj_mean_ci *measured, double level, double *lo,
                           double *hi) {
  *lo = *hi = NAN;
  if (measured->mean == 0) return;
  lj_mean_ci p, m = *measured;
  memset(&p, 0, sizeof p);
  p.n = 2, p.mean = predicted->estimate, p.sem = predicted->se, p.df = predicted->df;
  if (isnan(m.sem)) lj_stats_exact(m.mean, level, &m);
  lj_interval r;
  if (isnan(p.sem) || lj_stats_ratio(&p, &m, level, &r) < 0) return;
  *lo = (r.lo - 1) * 100, *hi = (r.hi - 1) * 100;
}

int lj_closure_compute(lj_phase phase, const lj_closure_term *terms, size_t n, const lj_mean_ci *measured_gross,
                       const lj_mean_ci *measured_dynamic, double level, lj_closure *out) {
  double measured_gross_j = measured_gross->mean, measured_dynamic_j = measured_dynamic->mean;
  memset(out, 0, sizeof *out);
  if (n == 0) return LJ_FAIL(LJ_EINVAL, "closure of phase %s: no stage terms", lj_phase_name(phase));
  double *coef = malloc(n * sizeof *coef);
  lj_mean_ci *g = malloc(n * sizeof *g), *d = malloc(n * sizeof *d);
  int rc = LJ_OK;
  if (!coef || !g || !d) rc = LJ_FAIL(LJ_ENOMEM, "out of memory for %zu closure terms", n);
  for (size_t i = 0; !rc && i < n; i++) {
    if (!(terms[i].calls >= 0))
      rc = LJ_FAIL(LJ_EINVAL, "closure of phase %s: term %zu (%s, layer %d) has %g calls, expected >= 0",
                   lj_phase_name(phase), i, lj_stage_name(terms[i].key.stage), terms[i].key.layer, terms[i].calls);
    else {
      coef[i] = terms[i].calls;
      g[i] = terms[i].gross_j;
      d[i] = terms[i].dynamic_j;
    }
  }
  if (!rc) rc = lj_stats_linear_combination(coef, g, n, level, &out->predicted_gross_j);
  if (!rc) rc = lj_stats_linear_combination(coef, d, n, level, &out->predicted_dynamic_j);
  free(coef);
  free(g);
  free(d);
  LJ_TRY(rc);
  out->phase = phase;
  out->n_terms = (int)n;
  out->measured_gross_j = measured_gross_j;
  out->measured_dynamic_j = measured_dynamic_j;
  out->error_gross_pct = pct(out->predicted_gross_j.estimate, measured_gross_j);
  error_interval(&out->predicted_gross_j, measured_gross, level, &out->error_gross_lo_pct, &out->error_gross_hi_pct);
  out->error_dynamic_pct = pct(out->predicted_dynamic_j.estimate, measured_dynamic_j);
  error_interval(&out->predicted_dynamic_j, measured_dynamic, level, &out->error_dynamic_lo_pct,
                 &out->error_dynamic_hi_pct);
  return LJ_OK;
}
