// The ablations' windows in the terminal summary (ablation_windows_text.h).
#include "report/ablation_windows_text.h"

#include <math.h>
#include <string.h>

#include "report/report_derived.h"

typedef char cell[24];

static const char *num(cell c, double v, int decimals) {
  if (!isfinite(v)) return "-";
  snprintf(c, sizeof(cell), "%.*f", decimals, v);
  return c;
}

// The window's dynamic J per unit as the checks take it: the samples' where they stand for it.
static double joules(const lj_ablation_window *w) { return isfinite(w->sample_j) ? w->sample_j : w->counter_j; }

static double ms_per_unit(const lj_ablation_window *w) {
  return w->units > 0 ? w->duration_s / (double)w->units * 1e3 : NAN;
}

// 1 when a check row of phase ph without group is not PASS.
static int shown(const lj_profile_result *r, lj_phase ph, const char *group) {
  for (int i = 0; i < r->n_ablation_checks; i++) {
    const lj_ablation_check *c = &r->ablation_checks[i];
    const char *g = c->a.stage == LJ_STAGE_ATTN ? "attn" : "mlp";
    if (c->phase == ph && !strcmp(g, group) && lj_report_ablation_verdict(r, c) != LJ_VERDICT_PASS) return 1;
  }
  return 0;
}

// "a|b|c" of the pair's three windows (before, skipped, after) by one figure.
static void triple(FILE *f, const lj_ablation_window *w, double (*get)(const lj_ablation_window *), int decimals,
                   const char *unit) {
  cell a, b, c;
  fprintf(f, "  %s|%s|%s %s", num(a, get(&w[-1]), decimals), num(b, get(&w[0]), decimals),
          num(c, get(&w[1]), decimals), unit);
}

static double power(const lj_ablation_window *w) { return w->mean_power_w; }

static void pair_line(FILE *f, const lj_ablation_window *w) {
  fprintf(f, "%-8s %-4s %4d  windows %d-%d:", lj_phase_name(w->phase), w->group, w->pair, w->seq - 1, w->seq + 1);
  triple(f, w, joules, 4, "J");
  triple(f, w, ms_per_unit, 3, "ms");
  triple(f, w, power, 0, "W");
  fprintf(f, " ");
  for (int k = -1; k <= 1; k++) {
    cell a, b;
    fprintf(f, "%s%s-%s", k > -1 ? "|" : " ", num(a, w[k].temperature_start_c, 0), num(b, w[k].temperature_end_c, 0));
  }
  fprintf(f, " C  cap %s|%s|%s\n", w[-1].at_cap ? "yes" : "-", w[0].at_cap ? "yes" : "-", w[1].at_cap ? "yes" : "-");
}

void lj_report_ablation_windows_text(FILE *f, const lj_profile_result *r) {
  int header = 0;
  for (size_t i = 1; i + 1 < r->n_abl_windows; i++) {
    const lj_ablation_window *w = &r->abl_windows[i];
    if (w->pair < 0 || !shown(r, w->phase, w->group)) continue;
    if (!header++)
      fprintf(f, "windows of the groups with a row not PASS, per pair (full before|skipped|full after): dynamic J per "
                 "unit (samples', else counter), time per unit, mean power, C first-last, at the power cap\n");
    pair_line(f, w);
  }
}
