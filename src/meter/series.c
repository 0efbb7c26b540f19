#include "meter/series.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "llamajoule/meter.h"

void lj_series_free(lj_series *s) {
  free(s->p);
  memset(s, 0, sizeof *s);
}

int lj_series_add(lj_series *s, int64_t t_ns, double value, uint8_t flags) {
  if (s->pruned && s->n && t_ns < s->p[0].t_ns) {
    s->late++;
    return 1;
  }
  // upper bound: first point with t > t_ns (the common case is appending)
  size_t pos = s->n;
  if (s->n && s->p[s->n - 1].t_ns >= t_ns) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (s->p[mid].t_ns <= t_ns) lo = mid + 1; else hi = mid;
    }
    pos = lo;
    if (pos > 0 && s->p[pos - 1].t_ns == t_ns) {
      s->dups++;
      return 1;
    }
    s->out_of_order++;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 256;
    lj_point *p = realloc(s->p, cap * sizeof *p);
    if (!p) return LJ_FAIL(LJ_ENOMEM, "out of memory growing a sample series to %zu points", cap);
    s->p = p;
    s->cap = cap;
  }
  memmove(s->p + pos + 1, s->p + pos, (s->n - pos) * sizeof *s->p);
  s->p[pos] = (lj_point){.t_ns = t_ns, .value = value, .flags = flags};
  s->n++;
  return 0;
}

void lj_series_prune(lj_series *s, int64_t horizon_ns) {
  size_t keep_from = 0;
  while (keep_from + 1 < s->n && s->p[keep_from + 1].t_ns <= horizon_ns) keep_from++;
  if (keep_from == 0) return;
  memmove(s->p, s->p + keep_from, (s->n - keep_from) * sizeof *s->p);
  s->n -= keep_from;
  s->pruned = 1;
}

// Energy added by the counter between points k and k+1.
static double counter_step(const lj_series *s, size_t k, int *reset) {
  double d = s->p[k + 1].value - s->p[k].value;
  *reset = d < 0;
  return d < 0 ? s->p[k + 1].value : d;
}

// Counter value at t relative to p[0], with the segment it was taken from.
static double counter_at(const lj_series *s, int64_t t, uint32_t *flags) {
  size_t n = s->n;
  // segment k: p[k].t <= t < p[k+1].t, clamped to the first/last segment
  size_t k = 0;
  {
    size_t lo = 0, hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (s->p[mid].t_ns <= t) lo = mid + 1; else hi = mid;
    }
    k = lo == 0 ? 0 : lo - 1;
    if (k > n - 2) k = n - 2;
  }
  if (t < s->p[0].t_ns || t > s->p[n - 1].t_ns) *flags |= LJ_WINDOW_EXTRAPOLATED;
  double base = 0;
  int reset;
  for (size_t i = 0; i < k; i++) base += counter_step(s, i, &reset);
  double step = counter_step(s, k, &reset);
  double dt = (double)(s->p[k + 1].t_ns - s->p[k].t_ns);
  return base + step * (double)(t - s->p[k].t_ns) / dt;
}

lj_integral lj_counter_delta(const lj_series *s, int64_t begin_ns, int64_t end_ns) {
  lj_integral r;
  memset(&r, 0, sizeof r);
  if (s->n < 2) {
    r.flags |= LJ_WINDOW_NO_COUNTER;
    return r;
  }
  r.energy_j = counter_at(s, end_ns, &r.flags) - counter_at(s, begin_ns, &r.flags);
  for (size_t k = 0; k + 1 < s->n; k++) {
    int reset;
    double step = counter_step(s, k, &reset);
    // the segment (p[k], p[k+1]] overlaps the window
    int overlaps = s->p[k + 1].t_ns > begin_ns && s->p[k].t_ns < end_ns;
    if (reset && overlaps) r.flags |= LJ_WINDOW_COUNTER_RESET;
    if (s->p[k + 1].t_ns > begin_ns && s->p[k + 1].t_ns <= end_ns && step != 0) r.updates++;
  }
  for (size_t k = 0; k < s->n; k++)
    if (s->p[k].t_ns >= begin_ns && s->p[k].t_ns <= end_ns) r.n_inside++;
  return r;
}

// Power at t: linear between samples, the nearest value held outside them.
static double power_at(const lj_series *s, int64_t t) {
  if (t <= s->p[0].t_ns) return s->p[0].value;
  if (t >= s->p[s->n - 1].t_ns) return s->p[s->n - 1].value;
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->p[mid].t_ns <= t) lo = mid + 1; else hi = mid;
  }
  const lj_point *a = &s->p[lo - 1], *b = &s->p[lo];
  return a->value + (b->value - a->value) * (double)(t - a->t_ns) / (double)(b->t_ns - a->t_ns);
}

lj_integral lj_power_integral(const lj_series *s, int64_t begin_ns, int64_t end_ns) {
  lj_integral r;
  memset(&r, 0, sizeof r);
  if (s->n == 0) {
    r.flags |= LJ_WINDOW_NO_SAMPLES;
    return r;
  }
  if (begin_ns < s->p[0].t_ns || end_ns > s->p[s->n - 1].t_ns) r.flags |= LJ_WINDOW_EXTRAPOLATED;
  double pb = power_at(s, begin_ns), pe = power_at(s, end_ns);
  r.peak = pb > pe ? pb : pe;
  if (end_ns <= begin_ns) return r;
  // walk the knots inside (begin, end): begin, knots..., end
  double e = 0, prev_v = pb;
  int64_t prev_t = begin_ns;
  for (size_t k = 0; k < s->n; k++) {
    const lj_point *p = &s->p[k];
    if (p->t_ns >= begin_ns && p->t_ns <= end_ns) {
      r.n_inside++;
      if (p->value > r.peak) r.peak = p->value;
    }
    // a gap before p matters when the segment before it overlaps the window
    if ((p->flags & LJ_SAMPLE_AFTER_GAP) && p->t_ns > begin_ns && (k == 0 || s->p[k - 1].t_ns < end_ns))
      r.flags |= LJ_WINDOW_GAP;
    if (p->t_ns <= begin_ns || p->t_ns >= end_ns) continue;
    e += 0.5 * (prev_v + p->value) * (double)(p->t_ns - prev_t);
    prev_t = p->t_ns;
    prev_v = p->value;
  }
  e += 0.5 * (prev_v + pe) * (double)(end_ns - prev_t);
  r.energy_j = e * 1e-9;
  return r;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int64_t lj_counter_update_period(const lj_series *s) {
  if (s->n < 4) return 0;
  int64_t *dt = malloc(s->n * sizeof *dt);
  if (!dt) return 0;
  size_t m = 0;
  int64_t last_change = -1;
  int have_change = 0;
  for (size_t k = 1; k < s->n; k++) {
    if (s->p[k].value == s->p[k - 1].value) continue;
    if (have_change) dt[m++] = s->p[k].t_ns - last_change;
    last_change = s->p[k].t_ns;
    have_change = 1;
  }
  int64_t median = 0;
  if (m >= 2) {
    qsort(dt, m, sizeof *dt, cmp_i64);
    median = dt[m / 2];
  }
  free(dt);
  return median;
}
