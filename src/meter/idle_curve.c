// Idle power against temperature (meter.h, lj_idle_curve): whole-degree bins of
// the idle power samples, then ordinary least squares over the bins' means, so
// that the long cool start (many samples at one temperature) does not outweigh
// the short warm cool-down.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/stats.h"
#include "llamajoule/meter.h"

#define MAX_BINS 256  // whole degrees: more than any GPU's range

typedef struct {
  double t_sum, p_sum;
  int n;
} bin;

int lj_idle_curve_fit(const lj_sample *s, size_t n, int dev, double t0_c, double level, lj_idle_curve *out) {
  memset(out, 0, sizeof *out);
  out->t0_c = t0_c;
  out->a_w = out->a_se_w = out->slope_w_per_c = out->slope_se_w_per_c = out->slope_lo = out->slope_hi = out->r2 = NAN;
  out->t_min_c = out->t_max_c = NAN;
  if (!(level > 0 && level < 1)) return LJ_FAIL(LJ_EINVAL, "idle curve: level must be in (0, 1), got %g", level);
  int have_buffer = 0;
  for (size_t i = 0; i < n && !have_buffer; i++)
    have_buffer = s[i].device == dev && s[i].reading == LJ_READING_POWER_SAMPLE;
  int power_reading = have_buffer ? LJ_READING_POWER_SAMPLE : LJ_READING_POWER_INSTANT;
  bin bins[MAX_BINS];
  memset(bins, 0, sizeof bins);
  double temp = NAN;
  for (size_t i = 0; i < n; i++) {
    const lj_sample *x = &s[i];
    if (x->device != dev || !isfinite(x->value)) continue;
    if (x->reading == LJ_READING_TEMPERATURE) temp = x->value;
    else if (x->reading == power_reading && isfinite(temp) && temp >= 0 && temp < MAX_BINS) {
      bin *b = &bins[(int)lround(temp)];
      b->t_sum += temp, b->p_sum += x->value, b->n++;
      out->n_samples++;
    }
  }
  double t[MAX_BINS], p[MAX_BINS];
  int k = 0;
  for (int i = 0; i < MAX_BINS; i++)
    if (bins[i].n) t[k] = bins[i].t_sum / bins[i].n, p[k] = bins[i].p_sum / bins[i].n, k++;
  out->n_bins = k;
  if (k) out->t_min_c = t[0], out->t_max_c = t[k - 1];
  if (!isfinite(t0_c) && k) out->t0_c = t0_c = t[0];
  if (k < 3) {
    snprintf(out->why, sizeof out->why, "%d temperature bin%s (at least 3 needed)", k, k == 1 ? "" : "s");
    return 0;
  }
  double tm = 0, pm = 0;
  for (int i = 0; i < k; i++) tm += t[i], pm += p[i];
  tm /= k, pm /= k;
  double sxx = 0, sxy = 0, syy = 0;
  for (int i = 0; i < k; i++) sxx += (t[i] - tm) * (t[i] - tm), sxy += (t[i] - tm) * (p[i] - pm), syy += (p[i] - pm) * (p[i] - pm);
  double b = sxy / sxx, ssr = syy - b * sxy;
  if (ssr < 0) ssr = 0;
  out->slope_w_per_c = b;
  out->a_w = pm + b * (t0_c - tm);
  out->slope_se_w_per_c = sqrt(ssr / (k - 2) / sxx);
  // a = mean + b (t0 - tm): var = s^2 / k + (t0 - tm)^2 var(b)
  out->a_se_w = sqrt(ssr / (k - 2) / k + (t0_c - tm) * (t0_c - tm) * out->slope_se_w_per_c * out->slope_se_w_per_c);
  out->r2 = syy > 0 ? 1 - ssr / syy : NAN;
  double q = lj_student_t_quantile(0.5 + level / 2, k - 2);
  out->slope_lo = b - q * out->slope_se_w_per_c, out->slope_hi = b + q * out->slope_se_w_per_c;
  double range = out->t_max_c - out->t_min_c;
  if (range < LJ_IDLE_CURVE_MIN_RANGE_C)
    snprintf(out->why, sizeof out->why, "temperature range %.1f C (at least %.0f C needed)", range,
             LJ_IDLE_CURVE_MIN_RANGE_C);
  else if (!(out->r2 >= 0.5))
    snprintf(out->why, sizeof out->why, "poor fit (r2 %.2f, below 0.5)", out->r2);
  else if (!(out->slope_lo > 0))
    snprintf(out->why, sizeof out->why, "slope interval [%.2f, %.2f] W/C not above 0", out->slope_lo, out->slope_hi);
  else
    out->usable = 1;
  return 0;
}

double lj_idle_curve_at(const lj_idle_curve *c, double t_c, double flat_w) {
  if (!c || !c->usable || !isfinite(t_c)) return flat_w;
  // within the fitted range only: no extrapolation past the temperatures measured
  if (t_c < c->t_min_c) t_c = c->t_min_c;
  if (t_c > c->t_max_c) t_c = c->t_max_c;
  return c->a_w + c->slope_w_per_c * (t_c - c->t0_c);
}
