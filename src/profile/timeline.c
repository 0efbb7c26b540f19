// In-situ timeline: stage intervals of the real run x the driver's power
// samples. The power is taken as piecewise linear between samples (held at
// the ends), as the meter's windows do; its running integral makes each
// interval's energy a difference of two look-ups.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "profile/attribution.h"

typedef struct {
  int64_t t_ns;
  double w;
} power_point;

typedef struct {
  power_point *p;   // (n) time order, distinct times
  double *cum_j;    // (n) integral from p[0] to p[k]
  size_t n;
} power_curve;

static int cmp_point(const void *a, const void *b) {
  int64_t x = ((const power_point *)a)->t_ns, y = ((const power_point *)b)->t_ns;
  return (x > y) - (x < y);
}

static int build_curve(power_curve *c, const lj_sample *s, size_t n, int device, lj_reading reading) {
  memset(c, 0, sizeof *c);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i].device == device && s[i].reading == reading && isfinite(s[i].value)) m++;
  if (m == 0) return LJ_OK;
  c->p = malloc(m * sizeof *c->p);
  c->cum_j = malloc(m * sizeof *c->cum_j);
  if (!c->p || !c->cum_j) return LJ_FAIL(LJ_ENOMEM, "out of memory for %zu power samples", m);
  for (size_t i = 0; i < n; i++)
    if (s[i].device == device && s[i].reading == reading && isfinite(s[i].value))
      c->p[c->n++] = (power_point){s[i].t_ns, s[i].value};
  qsort(c->p, c->n, sizeof *c->p, cmp_point);
  size_t k = 0;  // drop repeated times (a sample delivered twice), keeping the first
  for (size_t i = 0; i < c->n; i++)
    if (k == 0 || c->p[i].t_ns != c->p[k - 1].t_ns) c->p[k++] = c->p[i];
  c->n = k;
  c->cum_j[0] = 0;
  for (size_t i = 1; i < c->n; i++)
    c->cum_j[i] = c->cum_j[i - 1] + 0.5 * (c->p[i - 1].w + c->p[i].w) * (double)(c->p[i].t_ns - c->p[i - 1].t_ns) * 1e-9;
  return LJ_OK;
}

static void free_curve(power_curve *c) {
  free(c->p);
  free(c->cum_j);
}

// Integral of the power from p[0] to t (negative before p[0]).
static double energy_to(const power_curve *c, int64_t t) {
  const power_point *p = c->p;
  if (t <= p[0].t_ns) return p[0].w * (double)(t - p[0].t_ns) * 1e-9;
  if (t >= p[c->n - 1].t_ns) return c->cum_j[c->n - 1] + p[c->n - 1].w * (double)(t - p[c->n - 1].t_ns) * 1e-9;
  size_t lo = 0, hi = c->n;  // first point after t
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p[mid].t_ns <= t) lo = mid + 1; else hi = mid;
  }
  const power_point *a = &p[lo - 1], *b = &p[lo];
  double dt = (double)(t - a->t_ns), w_t = a->w + (b->w - a->w) * dt / (double)(b->t_ns - a->t_ns);
  return c->cum_j[lo - 1] + 0.5 * (a->w + w_t) * dt * 1e-9;
}

static double energy_between(const power_curve *c, int64_t a, int64_t b) { return energy_to(c, b) - energy_to(c, a); }

static int check_interval(const lj_stage_interval *v, size_t i) {
  if ((unsigned)v->phase >= LJ_PHASE_COUNT || (unsigned)v->stage >= LJ_STAGE_ALL_COUNT)
    return LJ_FAIL(LJ_EINVAL, "stage interval %zu: phase %d / stage %d out of range", i, (int)v->phase, (int)v->stage);
  if (v->end_ns < v->begin_ns)
    return LJ_FAIL(LJ_EINVAL, "stage interval %zu (%s, layer %d): ends at %lld ns, before it begins at %lld ns", i,
                   lj_stage_name(v->stage), v->layer, (long long)v->end_ns, (long long)v->begin_ns);
  return LJ_OK;
}

// An interval's index with its begin time, sorted by begin.
typedef struct {
  int64_t begin_ns;
  size_t i;
} by_begin;

static int cmp_by_begin(const void *a, const void *b) {
  int64_t x = ((const by_begin *)a)->begin_ns, y = ((const by_begin *)b)->begin_ns;
  return (x > y) - (x < y);
}

// Span, union and gaps of one phase's intervals (`idx`, sorted by begin).
static void phase_totals(const power_curve *c, const lj_stage_interval *iv, const by_begin *idx, size_t m,
                         double idle_w, lj_timeline_phase *ph) {
  ph->n_intervals = (int)m;
  ph->begin_ns = iv[idx[0].i].begin_ns;
  ph->end_ns = iv[idx[0].i].end_ns;
  double union_s = 0, union_j = 0, sum_s = 0;
  int64_t blk_b = iv[idx[0].i].begin_ns, blk_e = iv[idx[0].i].end_ns;
  for (size_t k = 0; k <= m; k++) {
    if (k < m) {
      const lj_stage_interval *v = &iv[idx[k].i];
      sum_s += (double)(v->end_ns - v->begin_ns) * 1e-9;
      if (v->end_ns > ph->end_ns) ph->end_ns = v->end_ns;
      if (v->begin_ns <= blk_e) {  // touches or overlaps the current block
        if (v->end_ns > blk_e) blk_e = v->end_ns;
        continue;
      }
    }
    union_s += (double)(blk_e - blk_b) * 1e-9;
    union_j += energy_between(c, blk_b, blk_e);
    if (k < m) {
      blk_b = iv[idx[k].i].begin_ns;
      blk_e = iv[idx[k].i].end_ns;
    }
  }
  ph->span_s = (double)(ph->end_ns - ph->begin_ns) * 1e-9;
  ph->energy_j = energy_between(c, ph->begin_ns, ph->end_ns);
  ph->dynamic_j = ph->energy_j - idle_w * ph->span_s;
  ph->gap_s = ph->span_s - union_s;
  ph->gap_j = ph->energy_j - union_j;
  ph->gap_dynamic_j = ph->gap_j - idle_w * ph->gap_s;
  ph->overlap_s = sum_s - union_s;
}

int lj_timeline_attribute(const lj_stage_interval *iv, size_t n, const lj_sample *samples, size_t n_samples,
                          int device, lj_reading reading, double idle_w, double *interval_energy_j,
                          lj_timeline_result *out) {
  memset(out, 0, sizeof *out);
  out->device = device;
  out->idle_w = idle_w;
  for (size_t i = 0; i < n; i++) LJ_TRY(check_interval(&iv[i], i));
  power_curve c;
  int rc = build_curve(&c, samples, n_samples, device, reading);
  by_begin *idx = rc ? NULL : malloc((n ? n : 1) * sizeof *idx);
  if (!rc && !idx) rc = LJ_FAIL(LJ_ENOMEM, "out of memory for %zu stage intervals", n);
  if (!rc && c.n == 0) {
    out->flags |= LJ_WINDOW_NO_SAMPLES;
    rc = LJ_FAIL(LJ_EINVAL, "in-situ timeline: no %s samples of device %d", lj_reading_name(reading), device);
  }
  if (rc) {
    free(idx);
    free_curve(&c);
    return rc;
  }
  out->n_samples = (int)c.n;
  for (size_t i = 0; i < n; i++) {
    const lj_stage_interval *v = &iv[i];
    if (v->begin_ns < c.p[0].t_ns || v->end_ns > c.p[c.n - 1].t_ns) out->flags |= LJ_WINDOW_EXTRAPOLATED;
    double e = energy_between(&c, v->begin_ns, v->end_ns), secs = (double)(v->end_ns - v->begin_ns) * 1e-9;
    if (interval_energy_j) interval_energy_j[i] = e;
    lj_timeline_stage *st = &out->stage[v->phase][v->stage];
    st->calls++;
    st->time_s += secs;
    st->energy_j += e;
    st->dynamic_j += e - idle_w * secs;
    out->phase[v->phase].attributed_j += e;
    out->phase[v->phase].attributed_dynamic_j += e - idle_w * secs;
  }
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (iv[i].phase == (lj_phase)p) idx[m++] = (by_begin){iv[i].begin_ns, i};
    if (m == 0) continue;
    qsort(idx, m, sizeof *idx, cmp_by_begin);
    lj_timeline_phase *ph = &out->phase[p];
    phase_totals(&c, iv, idx, m, idle_w, ph);
    for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++) {
      lj_timeline_stage *st = &out->stage[p][s];
      st->share_gross = ph->energy_j != 0 ? st->energy_j / ph->energy_j : NAN;
      st->share_dynamic = ph->dynamic_j != 0 ? st->dynamic_j / ph->dynamic_j : NAN;
    }
  }
  free(idx);
  free_curve(&c);
  return LJ_OK;
}

int lj_timeline_layers(const lj_stage_interval *iv, size_t n, const double *interval_energy_j, lj_phase phase,
                       int n_layers, double *layer_energy_j, double *layer_time_s) {
  for (int l = 0; l < n_layers; l++) layer_energy_j[l] = layer_time_s[l] = 0;
  for (size_t i = 0; i < n; i++) {
    if (iv[i].phase != phase || iv[i].layer < 0) continue;
    if (iv[i].layer >= n_layers)
      return LJ_FAIL(LJ_EINVAL, "stage interval %zu (%s): layer %d, the model has %d layers", i,
                     lj_stage_name(iv[i].stage), iv[i].layer, n_layers);
    layer_energy_j[iv[i].layer] += interval_energy_j[i];
    layer_time_s[iv[i].layer] += (double)(iv[i].end_ns - iv[i].begin_ns) * 1e-9;
  }
  return LJ_OK;
}
