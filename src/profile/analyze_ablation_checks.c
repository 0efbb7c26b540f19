// Ablations of prefill and decode, attention and the MLP skipped, each against
// the estimate of every method that measured the skipped stages (isolation,
// sequence, Shapley pairwise and by the layer's own game): saved energy per unit, paired over bracketed windows (each
// ablated window between two full ones: F A F M F ..., bracket.h), against calls x
// that method's per-call energy (lj_ablation_paired). It removes the stages from
// the real run, interactions included, so it can prove any of the estimates wrong.
// The saved energy is the power samples' where they give every pair, the counter's
// beside it (lj_analyze_ablation_pairs); each method's estimate already took its
// own source.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "profile/ablation_windows.h"
#include "profile/analyze_internal.h"

// Per-call energy of the skipped stages by method m: attention, or the MLP's three stages.
// Isolation's stages come from separate trials: their sum's terms are independent.
static int group_per_call(const lj_profile_result *r, lj_phase ph, int mlp, lj_profile_method m, lj_mean_ci *out) {
  if (!mlp && m == LJ_METHOD_ISOLATION && ph == LJ_PHASE_DECODE) {
    int rc = lj_analyze_decode_attention_per_call(r, out);
    if (rc < 0) lj_clear_error();
    return rc == 0;
  }
  static const lj_stage parts[2][3] = {{LJ_STAGE_ATTN}, {LJ_STAGE_GATE_UP, LJ_STAGE_SWIGLU, LJ_STAGE_DOWN}};
  int n = mlp ? 3 : 1;
  // sequence and both Shapley splits: from the rounds' group sums (their stages' values share each round)
  if (m == LJ_METHOD_SEQUENCE) return lj_analyze_sequence_group(r, ph, parts[mlp], n, out);
  if (m == LJ_METHOD_SHAPLEY) return lj_analyze_shapley_group(r, ph, parts[mlp], n, out);
  if (m == LJ_METHOD_SHAPLEY_LAYER) return lj_analyze_shapley_layer_group(r, ph, parts[mlp], n, out);
  lj_mean_ci ms[3];
  double coef[3] = {1, 1, 1};
  for (int i = 0; i < n; i++) {
    const lj_profile_stage *s = lj_analyze_find_stage(r, m, ph, parts[mlp][i], -1);
    if (!s || s->est.dynamic_j.n < 1) return 0;
    ms[i] = s->est.dynamic_j;
  }
  lj_interval iv;
  LJ_TRY(lj_stats_linear_combination(coef, ms, (size_t)n, r->plan.level, &iv));
  lj_analyze_mean_from_interval(&iv, out);
  return 1;
}

// A note naming the groups whose pairs had a window at the power cap (the card at its limit there:
// the 3B prefill without attention, docs/attribution.md §5); their rows are flagged power_cap.
static void cap_note(lj_profile_result *r) {
  char text[256];
  size_t used = 0;
  for (int pi = 0; pi < 2; pi++)
    for (int kind = LJ_ABLATE_NO_ATTN; kind < LJ_ABLATE_COUNT; kind++) {
      lj_phase ph = pi ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL;
      int capped = 0, pairs = 0;
      lj_ablation_windows_cap(r->abl_windows, r->n_abl_windows, ph, lj_ablation_group_name(kind), &capped, &pairs);
      if (capped && used < sizeof text)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s %s %d of %d pairs", used ? "; " : "",
                                 lj_phase_name(ph), lj_ablation_group_name(kind), capped, pairs);
    }
  if (used)
    lj_profile_note(r, "Ablation windows at the power cap (mean power >= 98%% of the limit or a power-cap reason; "
                       "those rows are flagged power_cap, docs/attribution.md §5): %s.", text);
}

int lj_analyze_ablation_checks(lj_profile_result *r, const lj_profile_raw *raw) {
  if (!raw) return 0;
  static const lj_profile_method methods[] = {LJ_METHOD_ISOLATION, LJ_METHOD_SEQUENCE, LJ_METHOD_SHAPLEY,
                                              LJ_METHOD_SHAPLEY_LAYER};
  for (int pi = 0; pi < 2; pi++) {
    lj_phase ph = pi ? LJ_PHASE_DECODE : LJ_PHASE_PREFILL;
    int64_t calls = (int64_t)llround(lj_profile_calls_per_unit(&r->plan, ph, LJ_STAGE_QKV, 0));
    for (int mlp = 0; mlp < 2; mlp++) {
      int kind = mlp ? LJ_ABLATE_NO_MLP : LJ_ABLATE_NO_ATTN;
      if (calls < 1) continue;
      for (size_t k = 0; k < sizeof methods / sizeof *methods && r->n_ablation_checks < LJ_PROFILE_MAX_CHECKS; k++) {
        lj_mean_ci per_call;
        int have = group_per_call(r, ph, mlp, methods[k], &per_call);
        if (have < 0) return have;
        if (!have) continue;
        lj_ablation_check *c = &r->ablation_checks[r->n_ablation_checks];
        memset(c, 0, sizeof *c);
        c->phase = ph, c->method = methods[k];
        // two pairs at least: an interval
        have = lj_analyze_ablation_pairs(mlp ? LJ_STAGE_GATE_UP : LJ_STAGE_ATTN, calls, raw, pi, kind, 2, &per_call,
                                         r->plan.level, &c->a);
        if (have < 0) return have;
        if (!have) break;
        c->a.flags |= lj_ablation_windows_cap(r->abl_windows, r->n_abl_windows, ph, lj_ablation_group_name(kind),
                                              NULL, NULL);
        r->n_ablation_checks++;
      }
    }
  }
  cap_note(r);
  return 0;
}
