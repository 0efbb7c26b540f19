// The arithmetic of bench_engine --decode-energy (decode_energy.h).
#include "profile/decode_energy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/random_init.h"
#include "profile/trial_conditions.h"
#include "store/attribution_records.h"

// splitmix64 of a counter: the order depends on the seed only
static uint64_t next_u64(uint64_t *s) { return lj_splitmix64((*s)++); }

int lj_decode_energy_order(int n_points, int repeats, uint64_t seed, int *order) {
  if (n_points < 1 || repeats < 1)
    return LJ_FAIL(LJ_EINVAL, "decode energy: %d points x %d repeats: both must be >= 1", n_points, repeats);
  uint64_t s = seed ^ 0x64656e65726779ULL;  // "denergy"
  for (int r = 0; r < repeats; r++) {
    int *round = order + (size_t)r * n_points;
    for (int i = 0; i < n_points; i++) round[i] = i;
    for (int i = n_points - 1; i > 0; i--) {
      int j = (int)(next_u64(&s) % (uint64_t)(i + 1));
      int t = round[i];
      round[i] = round[j], round[j] = t;
    }
    // the round's first point is not the one the round before ended with: swap it with another
    if (r > 0 && n_points > 1 && round[0] == round[-1]) {
      int j = 1 + (int)(next_u64(&s) % (uint64_t)(n_points - 1));
      int t = round[0];
      round[0] = round[j], round[j] = t;
    }
  }
  return 0;
}

void lj_decode_energy_window_conditions(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                                        lj_decode_energy_window *w) {
  lj_trial_conditions c;
  lj_trial_conditions_from_readings(s, n, dev, begin_ns, end_ns, NAN, 0, &c);
  w->sm_mhz_min = c.sm_clock_min_mhz, w->sm_mhz_max = c.sm_clock_max_mhz;
  w->throttle = (uint64_t)c.throttle_mask;
  lj_temperature_first_last(s, n, dev, begin_ns, end_ns, &w->temp_first_c, &w->temp_last_c);
}

// The finite mean of n values (NAN when none is finite).
static double finite_mean(const double *v, int n) {
  double sum = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) sum += v[i], k++;
  return k ? sum / k : NAN;
}

int lj_decode_energy_point_stats(const lj_decode_energy_window *w, int n, int batch, const lj_decode_energy_idle *idle,
                                 double level, lj_decode_energy_point *out) {
  memset(out, 0, sizeof *out);
  if (n < 1 || batch < 1) return LJ_FAIL(LJ_EINVAL, "decode energy: a point of %d windows at batch %d", n, batch);
  int all_samples = 1, all_counter = 1, short_enough = 1;
  for (int i = 0; i < n; i++) {
    if (!(w[i].steps > 0) || !(w[i].seconds > 0))
      return LJ_FAIL(LJ_EINVAL, "decode energy: window %d has %lld steps in %g s", i, (long long)w[i].steps,
                     w[i].seconds);
    all_samples &= isfinite(w[i].sample_j);
    all_counter &= isfinite(w[i].counter_j);
    short_enough &= w[i].seconds < LJ_SAMPLE_WINDOW_MAX_S;
  }
  out->by_samples = all_samples && (short_enough || !all_counter);
  if (!out->by_samples && !all_counter)
    return LJ_FAIL(LJ_EINVAL, "decode energy: neither the power samples nor the counter measured every window");
  double *v = malloc(sizeof(double) * 7 * (size_t)n);
  if (!v) return LJ_FAIL(LJ_ENOMEM, "decode energy: out of memory");
  double *ms = v, *dyn = v + n, *gross = v + 2 * n, *other = v + 3 * n, *watts = v + 4 * n, *t0 = v + 5 * n,
         *t1 = v + 6 * n;
  double tokens_all = 0, seconds_all = 0;
  out->n = n, out->batch = batch;
  out->sm_mhz_min = out->sm_mhz_max = NAN;
  for (int i = 0; i < n; i++) {
    double tokens = (double)w[i].steps * batch;
    double e = out->by_samples ? w[i].sample_j : w[i].counter_j;
    double e_other = out->by_samples ? w[i].counter_j : w[i].sample_j;
    double idle_w = out->by_samples ? idle->sample_w : idle->counter_w;
    double idle_other_w = out->by_samples ? idle->counter_w : idle->sample_w;
    ms[i] = w[i].seconds * 1e3 / (double)w[i].steps;
    gross[i] = e / tokens;
    dyn[i] = (e - idle_w * w[i].seconds) / tokens;
    other[i] = (e_other - idle_other_w * w[i].seconds) / tokens;
    watts[i] = e / w[i].seconds;
    t0[i] = w[i].temp_first_c, t1[i] = w[i].temp_last_c;
    tokens_all += tokens, seconds_all += w[i].seconds;
    if (isfinite(w[i].sm_mhz_min) && !(w[i].sm_mhz_min >= out->sm_mhz_min)) out->sm_mhz_min = w[i].sm_mhz_min;
    if (isfinite(w[i].sm_mhz_max) && !(w[i].sm_mhz_max <= out->sm_mhz_max)) out->sm_mhz_max = w[i].sm_mhz_max;
    out->throttle |= w[i].throttle;
  }
  lj_stats_mean_ci(ms, (size_t)n, level, &out->ms_per_step);
  lj_stats_mean_ci(dyn, (size_t)n, level, &out->dyn_j);
  lj_stats_mean_ci(gross, (size_t)n, level, &out->gross_j);
  int other_all = out->by_samples ? all_counter : all_samples;
  if (other_all) lj_stats_mean_ci(other, (size_t)n, level, &out->other_dyn_j);
  out->ms_per_token = out->ms_per_step.mean / batch;
  out->tok_s = tokens_all / seconds_all;
  out->mean_w = lj_stats_mean(watts, (size_t)n);
  out->temp_first_c = finite_mean(t0, n), out->temp_last_c = finite_mean(t1, n);
  free(v);
  return 0;
}

// 1: [a] and [b] overlap, 0: apart, -1: either has no interval.
static int overlap(const lj_mean_ci *a, const lj_mean_ci *b) {
  if (!isfinite(a->half_width) || !isfinite(b->half_width)) return -1;
  return a->lo <= b->hi && b->lo <= a->hi;
}

int lj_decode_energy_summarize(const lj_decode_energy_point *p, int n, lj_decode_energy_summary *out) {
  memset(out, 0, sizeof *out);
  if (n < 1) return LJ_FAIL(LJ_EINVAL, "decode energy: a summary of %d points", n);
  for (int i = 1; i < n; i++) {
    if (p[i].ms_per_step.mean < p[out->fastest].ms_per_step.mean) out->fastest = i;
    if (p[i].dyn_j.mean < p[out->least].dyn_j.mean) out->least = i;
  }
  const lj_decode_energy_point *f = &p[out->fastest], *l = &p[out->least];
  out->time_pct = 100.0 * (l->ms_per_step.mean / f->ms_per_step.mean - 1.0);
  out->energy_pct = 100.0 * (f->dyn_j.mean / l->dyn_j.mean - 1.0);
  out->time_noise = overlap(&f->ms_per_step, &l->ms_per_step);
  out->energy_noise = overlap(&f->dyn_j, &l->dyn_j);
  return 0;
}

static const char *noise_word(int v) { return v > 0 ? "within noise" : v == 0 ? "apart" : "no interval"; }

void lj_decode_energy_summary_text(const lj_decode_energy_point *p, const char *const *labels,
                                   const lj_decode_energy_summary *s, char *buf, size_t cap) {
  const lj_decode_energy_point *f = &p[s->fastest], *l = &p[s->least];
  if (s->fastest == s->least) {
    snprintf(buf, cap, "fastest and least J/token: %s, %.4f ms/token, %.4f J/token above idle", labels[s->fastest],
             f->ms_per_token, f->dyn_j.mean);
    return;
  }
  snprintf(buf, cap,
           "fastest %s %.4f ms/token (%.4f J/token above idle), least J/token %s %.4f J/token (%.4f ms/token): "
           "the fastest costs %+.1f%% J/token (%s), the least-energy point is %.1f%% slower (%s)",
           labels[s->fastest], f->ms_per_token, f->dyn_j.mean, labels[s->least], l->dyn_j.mean, l->ms_per_token,
           s->energy_pct, noise_word(s->energy_noise), s->time_pct, noise_word(s->time_noise));
}

double lj_decode_energy_estimate_s(int n_windows, double seconds) {
  return n_windows * (seconds + LJ_DECODE_ENERGY_PREROLL_S + LJ_DECODE_ENERGY_OVERHEAD_S);
}
