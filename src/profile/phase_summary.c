// Phase summaries from the phase windows: per unit of the phase, mean and
// interval of time and energy over the repeats, J/token and tokens/J.
#include <math.h>

#include "common/error.h"
#include "common/stats.h"
#include "profile/profile_analyze.h"

// Below two counter periods (NVML: 100 ms each) a window's counter delta takes one of two values
// (3B load: -54% against the samples): the driver's ~20 ms power samples measure it, gaps or not.
#define SHORT_WINDOW_S 0.2

// Whether window w's samples can stand for its energy: present, whole, and the window under
// LJ_SAMPLE_WINDOW_MAX_S (the replay trials' rule). A counter window's delta is off by where its
// ~100 ms updates fall against the edges: 8B decode windows of 2.2 s spread by 2.4% (cv, 3 repeats)
// by the counter and by 0.3% by the samples, on the same windows (H100, 2026-12-07).
static int samples_whole(const lj_phase_window *w) {
  const uint32_t bad = LJ_WINDOW_NO_SAMPLES | LJ_WINDOW_GAP | LJ_WINDOW_EXTRAPOLATED;
  if (w->w.flags & LJ_WINDOW_NO_SAMPLES || !isfinite(w->w.sample_energy_j)) return 0;
  if (w->w.duration_s < SHORT_WINDOW_S) return 1;
  return !(w->w.flags & bad) && w->w.duration_s < LJ_SAMPLE_WINDOW_MAX_S;
}

// Whether phase p's energy is its windows' samples (every window's whole) rather than their counter
// deltas (-1: the phase has no window).
static int phase_source(const lj_phase_window *windows, size_t n_windows, int p) {
  int any = 0;
  for (size_t i = 0; i < n_windows; i++) {
    const lj_phase_window *w = &windows[i];
    if ((int)w->phase != p || w->units <= 0) continue;
    if (!samples_whole(w)) return 0;
    any = 1;
  }
  return any ? 1 : -1;
}

void lj_phase_sources(const lj_profile_plan *plan, const lj_phase_window *windows, size_t n_windows,
                      int source[LJ_PHASE_COUNT]) {
  for (int p = 0; p < LJ_PHASE_COUNT; p++) source[p] = plan->timing_only ? 0 : phase_source(windows, n_windows, p) > 0;
}

// The two sources read the same windows: the paired differences (counter - samples, gross per
// unit) have an interval that excludes 0 only for a difference beyond the counter's edge spread.
// Comparing one source's mean with the other's interval would flag most runs: the samples'
// interval is ~0.8% wide at 3 repeats, the counter's mean wanders by ~1.4% on its own.
size_t lj_phase_source_differences(const lj_phase_window *windows, size_t n_windows, int p, double *d, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < n_windows && n < cap; i++) {
    const lj_phase_window *w = &windows[i];
    if ((int)w->phase != p || w->units <= 0) continue;
    if (w->w.flags & (LJ_WINDOW_NO_COUNTER | LJ_WINDOW_NO_SAMPLES)) continue;
    if (!isfinite(w->w.counter_energy_j) || !isfinite(w->w.sample_energy_j)) continue;
    d[n++] = (w->w.counter_energy_j - w->w.sample_energy_j) / (double)w->units;
  }
  return n;
}

static int sources_disagree(const lj_phase_window *windows, size_t n_windows, int p, double level) {
  double d[64];
  size_t n = lj_phase_source_differences(windows, n_windows, p, d, 64);
  lj_mean_ci ci;
  if (n < 2 || lj_stats_mean_ci(d, n, level, &ci) < 0) return 0;
  return ci.lo > 0 || ci.hi < 0;
}

int lj_phase_summaries_of(const lj_profile_plan *plan, lj_phase_window *windows, size_t n_windows,
                          const int *source, lj_phase_summary *out) {
  double level = plan->level > 0 && plan->level < 1 ? plan->level : 0.95;
  int chosen[LJ_PHASE_COUNT];
  if (!source) lj_phase_sources(plan, windows, n_windows, chosen), source = chosen;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    double t[64], g[64], d[64], sg[64];
    size_t n = 0, n_g = 0, n_sg = 0;
    lj_phase_summary *s = &out[p];
    uint32_t flags = 0;
    int64_t tokens = 0;
    int samples = !plan->timing_only && source[p] > 0;
    for (size_t i = 0; i < n_windows && n < 64; i++) {
      lj_phase_window *w = &windows[i];
      if ((int)w->phase != p || w->units <= 0) continue;
      double u = (double)w->units;
      t[n++] = w->host_s / u;
      tokens = w->tokens_per_unit;
      w->w.flags &= ~(uint32_t)LJ_WINDOW_SAMPLE_ENERGY;  // decided here, whatever a stored window said
      if (samples) {
        w->w.flags |= LJ_WINDOW_SAMPLE_ENERGY;
        g[n_g] = w->w.sample_energy_j / u;
        d[n_g++] = w->w.sample_above_idle_j / u;
      } else if (!plan->timing_only && !(w->w.flags & LJ_WINDOW_NO_COUNTER)) {
        g[n_g] = w->w.counter_energy_j / u;
        d[n_g++] = w->w.counter_above_idle_j / u;
      }
      if (!plan->timing_only && !(w->w.flags & LJ_WINDOW_NO_SAMPLES)) sg[n_sg++] = w->w.sample_energy_j / u;
      flags |= w->w.flags;
    }
    s->n = (int)n;
    s->tokens_per_unit = tokens;
    s->window_flags = flags & ~(uint32_t)LJ_WINDOW_SOURCES_DISAGREE;
    if (!n) continue;
    if (!plan->timing_only && sources_disagree(windows, n_windows, p, level)) s->window_flags |= LJ_WINDOW_SOURCES_DISAGREE;
    LJ_TRY(lj_stats_mean_ci(t, n, level, &s->time_s));
    if (n_g) {
      LJ_TRY(lj_stats_mean_ci(g, n_g, level, &s->gross_j));
      LJ_TRY(lj_stats_mean_ci(d, n_g, level, &s->dynamic_j));
      if (tokens > 0) {
        s->gross_j_per_token = s->gross_j.mean / (double)tokens;
        s->dynamic_j_per_token = s->dynamic_j.mean / (double)tokens;
        s->tokens_per_gross_j = (double)tokens / s->gross_j.mean;
        s->tokens_per_dynamic_j = s->dynamic_j.mean > 0 ? (double)tokens / s->dynamic_j.mean : NAN;
      }
    }
    if (n_sg) LJ_TRY(lj_stats_mean_ci(sg, n_sg, level, &s->sample_gross_j));
  }
  return 0;
}

int lj_profile_summarize_phases(lj_profile_result *r) {
  return lj_phase_summaries_of(&r->plan, r->windows, r->n_windows, NULL, r->phases);
}
