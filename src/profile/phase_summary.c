// Phase summaries from the phase windows: per unit of the phase, mean and
// interval of time and energy over the repeats, J/token and tokens/J.
#include <math.h>

#include "common/error.h"
#include "common/stats.h"
#include "profile/attribution.h"
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
// deltas; marks the windows so.
static int phase_uses_samples(lj_phase_window *windows, size_t n_windows, int p) {
  int any = 0;
  for (size_t i = 0; i < n_windows; i++) {
    const lj_phase_window *w = &windows[i];
    if ((int)w->phase != p || w->units <= 0) continue;
    if (!samples_whole(w)) return 0;
    any = 1;
  }
  for (size_t i = 0; any && i < n_windows; i++)
    if ((int)windows[i].phase == p && windows[i].units > 0) windows[i].w.flags |= LJ_WINDOW_SAMPLE_ENERGY;
  return any;
}

int lj_phase_summaries_of(const lj_profile_plan *plan, lj_phase_window *windows, size_t n_windows,
                          lj_phase_summary *out) {
  double level = plan->level > 0 && plan->level < 1 ? plan->level : 0.95;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    double t[64], g[64], d[64], sg[64];
    size_t n = 0, n_g = 0, n_sg = 0;
    lj_phase_summary *s = &out[p];
    double cd[64];  // the counter's dynamic figures beside the samples'
    size_t n_cd = 0;
    uint32_t flags = 0;
    int64_t tokens = 0;
    int samples = !plan->timing_only && phase_uses_samples(windows, n_windows, p);
    for (size_t i = 0; i < n_windows && n < 64; i++) {
      lj_phase_window *w = &windows[i];
      if ((int)w->phase != p || w->units <= 0) continue;
      double u = (double)w->units;
      t[n++] = w->host_s / u;
      tokens = w->tokens_per_unit;
      if (samples) {
        g[n_g] = w->w.sample_energy_j / u;
        d[n_g++] = w->w.sample_above_idle_j / u;
        if (!(w->w.flags & LJ_WINDOW_NO_COUNTER) && isfinite(w->w.counter_above_idle_j))
          cd[n_cd++] = w->w.counter_above_idle_j / u;
      } else if (!plan->timing_only && !(w->w.flags & LJ_WINDOW_NO_COUNTER)) {
        g[n_g] = w->w.counter_energy_j / u;
        d[n_g++] = w->w.counter_above_idle_j / u;
      }
      if (!plan->timing_only && !(w->w.flags & LJ_WINDOW_NO_SAMPLES)) sg[n_sg++] = w->w.sample_energy_j / u;
      flags |= w->w.flags;
    }
    s->n = (int)n;
    s->tokens_per_unit = tokens;
    s->window_flags = flags;
    if (!n) continue;
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
    if (samples && n_g && n_cd) {  // the counter's mean outside the samples' interval: flagged
      double c = 0;
      for (size_t i = 0; i < n_cd; i++) c += cd[i];
      s->window_flags |= lj_energy_source_flags(1, s->dynamic_j.lo, s->dynamic_j.hi, c / (double)n_cd) &
                         LJ_WINDOW_SOURCES_DISAGREE;
    }
  }
  return 0;
}

int lj_profile_summarize_phases(lj_profile_result *r) {
  return lj_phase_summaries_of(&r->plan, r->windows, r->n_windows, r->phases);
}
