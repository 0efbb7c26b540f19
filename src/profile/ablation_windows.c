// The ablations' windows as the run keeps them (ablation_windows.h).
#include "profile/ablation_windows.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "profile/bracket.h"
#include "profile/profile_analyze.h"
#include "profile/trial_conditions.h"

const char *lj_ablation_group_name(int kind) {
  return kind == LJ_ABLATE_NO_ATTN ? "attn" : kind == LJ_ABLATE_NO_MLP ? "mlp" : "full";
}

void lj_ablation_window_init(lj_ablation_window *w, lj_phase ph, int seq, int kind) {
  memset(w, 0, sizeof *w);
  w->phase = ph, w->seq = seq, w->pair = -1;
  snprintf(w->group, sizeof w->group, "%s", lj_ablation_group_name(kind));
  w->duration_s = w->counter_j = w->sample_j = w->idle_w = NAN;
  w->mean_power_w = w->peak_power_w = w->temperature_start_c = w->temperature_end_c = NAN;
  w->sm_clock_min_mhz = w->sm_clock_max_mhz = w->power_limit_w = NAN;
}

void lj_ablation_window_measure(const lj_window_result *wr, int64_t units, double counter_j, double sample_j,
                                const lj_sample *s, size_t n, int dev, double fallback_limit_w, lj_ablation_window *w) {
  w->units = units, w->duration_s = wr->duration_s;
  w->counter_j = counter_j, w->sample_j = sample_j;
  w->idle_w = wr->idle_power_w, w->mean_power_w = wr->mean_power_w, w->peak_power_w = wr->peak_power_w;
  w->flags = wr->flags;
  lj_trial_conditions c;
  lj_trial_conditions_from_readings(s, n, dev, wr->begin_ns, wr->end_ns, wr->mean_power_w, fallback_limit_w, &c);
  w->sm_clock_min_mhz = c.sm_clock_min_mhz, w->sm_clock_max_mhz = c.sm_clock_max_mhz;
  w->power_limit_w = c.power_limit_w, w->throttle_mask = c.throttle_mask, w->at_cap = c.at_cap;
  if (c.at_cap) w->flags |= LJ_WINDOW_POWER_CAP;
  lj_temperature_first_last(s, n, dev, wr->begin_ns, wr->end_ns, &w->temperature_start_c, &w->temperature_end_c);
}

static int skipped(const lj_ablation_window *w) { return strcmp(w->group, "full") != 0; }

void lj_ablation_windows_number(lj_ablation_window *w, size_t n) {
  int slot[LJ_ABL_MAX_WINDOWS];
  char groups[LJ_ABLATE_COUNT][8];
  int n_groups = 0, next[LJ_ABLATE_COUNT] = {0};
  if (n > LJ_ABL_MAX_WINDOWS) n = LJ_ABL_MAX_WINDOWS;
  for (size_t i = 0; i < n; i++) {
    int g = -1;
    for (int k = 0; k < n_groups; k++)
      if (!strcmp(groups[k], w[i].group)) g = k;
    if (g < 0 && skipped(&w[i]) && n_groups < LJ_ABLATE_COUNT) {
      g = n_groups++;
      snprintf(groups[g], sizeof groups[g], "%s", w[i].group);
    }
    slot[i] = skipped(&w[i]) ? 1 + g : 0;
  }
  for (size_t i = 0; i < n; i++) {
    int closes = 0;
    w[i].round = lj_bracket_round(slot, i, n_groups, &closes);
    w[i].pair = slot[i] && i > 0 && i + 1 < n && !slot[i - 1] && !slot[i + 1] ? next[slot[i] - 1]++ : -1;
  }
}

uint32_t lj_ablation_windows_cap(const lj_ablation_window *w, size_t n, lj_phase ph, const char *group, int *capped,
                                 int *pairs) {
  int c = 0, p = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    if (w[i].phase != ph || w[i].pair < 0 || strcmp(w[i].group, group)) continue;
    p++;
    c += w[i - 1].at_cap || w[i].at_cap || w[i + 1].at_cap;
  }
  if (capped) *capped = c;
  if (pairs) *pairs = p;
  return c ? LJ_WINDOW_POWER_CAP : 0u;
}
