// Findings: sentences the report states from the run's own numbers, each by
// an explicit rule, so that a reader is told what the charts show and why.
//   phase-group      the stage group holding the largest share of a phase's replayed energy
//   closure          whether a phase's stages add up to the measured phase (|error| <= 5%)
//   idle-share       the share of a phase's gross energy that is idle power
//   token-ratio      a decoded token's energy against a prompt token's
//   memory-bound     decode stages below the ridge (FLOP/byte) and their share
//   time-ratio       stages whose replay ran >10% off their in-situ time
//   throttle         clock-limiting reasons seen during the run
//   ablation         the ablation against the replay's estimate
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/finding_sink.h"
#include "report/report_derived.h"
#include "report/report_run.h"


static const char *group_words(lj_stage_group g) {
  switch (g) {
    case LJ_GROUP_MLP: return "the MLP (gate_up, swiglu, down)";
    case LJ_GROUP_ATTENTION: return "attention (qkv, rope, attn, o_proj)";
    case LJ_GROUP_NORMS: return "the norms";
    case LJ_GROUP_LM_HEAD: return "the LM head";
    case LJ_GROUP_EMBED: return "the embedding";
    default: return "sampling";
  }
}

static void phase_group(lj_finding_sink *s, const lj_profile_result *r, lj_phase p) {
  lj_stage_group best = LJ_GROUP_COUNT;
  double best_j = 0, total = 0, weight_bytes = 0, bytes = 0;
  for (int g = 0; g < LJ_GROUP_COUNT; g++) {
    lj_report_group sum;
    if (lj_report_group_sum(r, p, (lj_stage_group)g, &sum) < 0 || !(sum.dynamic_j.estimate > 0)) continue;
    total += sum.dynamic_j.estimate;
    if (sum.dynamic_j.estimate > best_j) best_j = sum.dynamic_j.estimate, best = (lj_stage_group)g;
  }
  double best_share = total > 0 ? best_j / total : 0;
  if (best == LJ_GROUP_COUNT) return;
  lj_profile_method m = lj_profile_reported_method(r, p);
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *st = &r->stages[i];
    if (st->est.key.phase != p || lj_stage_group_of(st->est.key.stage) != best || !lj_profile_stage_in_method(r, st, m))
      continue;
    weight_bytes += st->calls_per_unit * (double)st->cost.weight_bytes;
    bytes += st->calls_per_unit * (double)st->cost.bytes;
  }
  if (bytes > 0 && weight_bytes / bytes >= 0.5)
    lj_finding_say(s, "phase-group", 0, "%c%s spends %.0f%% of its replayed dynamic energy in %s, %.0f%% of whose bytes are weight reads.",
        lj_phase_name(p)[0] - 32, lj_phase_name(p) + 1, best_share * 100, group_words(best), weight_bytes / bytes * 100);
  else
    lj_finding_say(s, "phase-group", 0, "%c%s spends %.0f%% of its replayed dynamic energy in %s.", lj_phase_name(p)[0] - 32,
        lj_phase_name(p) + 1, best_share * 100, group_words(best));
}

static void closure(lj_finding_sink *s, const lj_profile_result *r, lj_phase p) {
  lj_profile_method m = lj_profile_reported_method(r, p);
  const lj_closure *c = lj_profile_closure_of(r, p, m);
  lj_verdict v = lj_report_closure_verdict(r, c, m);
  if (v == LJ_VERDICT_NONE) return;
  double lo, hi;  // the interval judged: with the uncertainty budget where the run has one
  lj_report_closure_range(r, c, m, &lo, &hi);
  lj_finding_say(s, "closure", v == LJ_VERDICT_PASS ? 0 : v == LJ_VERDICT_INCONCLUSIVE ? 1 : 2,
      "%s: the stages (%s replay) sum to %+.1f%% [%+.1f, %+.1f] of the measured dynamic energy: %s the %.0f%% bound.",
      lj_phase_name(p), lj_profile_method_name(m), c->error_dynamic_pct, lo, hi,
      v == LJ_VERDICT_PASS            ? "the whole interval within"
      : v == LJ_VERDICT_INCONCLUSIVE ? "inconclusive: the interval reaches across"
                                     : "the whole interval outside",
      LJ_REPORT_CLOSURE_TARGET_PCT);
}

static void idle_share(lj_finding_sink *s, const lj_profile_result *r, lj_phase p) {
  const lj_phase_summary *ph = &r->phases[p];
  if (ph->n <= 0 || !(ph->gross_j.mean > 0) || !isfinite(ph->dynamic_j.mean)) return;
  double idle = ph->gross_j.mean - ph->dynamic_j.mean;
  lj_finding_say(s, "idle-share", idle / ph->gross_j.mean > 0.5 ? 1 : 0,
      "%.0f%% of %s's gross energy is the idle baseline (%.1f W over %.3g s per unit): what the GPU draws doing nothing.",
      idle / ph->gross_j.mean * 100, lj_phase_name(p), r->cond.idle_w, ph->time_s.mean);
}

static void token_ratio(lj_finding_sink *s, const lj_profile_result *r) {
  double pre = r->phases[LJ_PHASE_PREFILL].dynamic_j_per_token, dec = r->phases[LJ_PHASE_DECODE].dynamic_j_per_token;
  if (!(pre > 0) || !(dec > 0)) return;
  lj_finding_say(s, "token-ratio", 0,
      "A generated token costs %.1fx the dynamic energy of a prompt token (%.3g J against %.3g J): decode reads every "
      "weight for each token, prefill once for the whole prompt.",
      dec / pre, dec, pre);
}

static void memory_bound(lj_finding_sink *s, const lj_profile_result *r) {
  lj_profile_method m = lj_profile_reported_method(r, LJ_PHASE_DECODE);
  int n = 0, mem = 0;
  double mem_j = 0, all_j = 0;
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *st = &r->stages[i];
    if (st->est.key.phase != LJ_PHASE_DECODE || !lj_profile_stage_in_method(r, st, m)) continue;
    const char *b = lj_report_bound(&st->cost);
    double e = st->calls_per_unit * st->est.dynamic_j.mean;
    if (!b || !isfinite(e)) continue;
    n++;
    all_j += e;
    if (!strcmp(b, "memory")) mem++, mem_j += e;
  }
  double share = all_j > 0 ? mem_j / all_j : 0;
  if (n)
    lj_finding_say(s, "memory-bound", 0,
        "In decode, %d of %d replayed stage estimates are memory-bound (below %.0f FLOP/byte) and hold %.0f%% of its "
        "replayed dynamic energy: J/byte, not J/FLOP, is their figure of merit.",
        mem, n, LJ_REPORT_RIDGE_FLOP_PER_BYTE, share * 100);
}

static void time_ratio(lj_finding_sink *s, const lj_profile_result *r) {
  int off = 0;
  char names[200] = "";
  for (size_t i = 0; i < r->n_stages; i++) {
    const lj_profile_stage *st = &r->stages[i];
    if (!lj_report_time_ratio_off(st->est.time_ratio)) continue;
    if (off++ < 4) {
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, "%s%s %s (%.2f)", used ? ", " : "", lj_phase_name(st->est.key.phase),
               lj_stage_name(st->est.key.stage), st->est.time_ratio);
    }
  }
  if (off)
    lj_finding_say(s, "time-ratio", 1,
        "%d replayed stage estimate%s ran more than %.0f%% off the real run's time per call (%s%s): their energy per "
        "call may not be the real run's.",
        off, off == 1 ? "" : "s", LJ_REPORT_TIME_RATIO_TOLERANCE * 100, names, off > 4 ? ", ..." : "");
}

size_t lj_report_findings(const lj_report_run *run, lj_finding *out, size_t max) {
  const lj_profile_result *r = &run->prof;
  lj_finding_sink s = {out, 0, max};
  if (r->plan.timing_only) {
    lj_finding_say(&s, "timing-only", 1, "No energy was measured (%s): the figures are host times.", lj_report_timing_reason(r));
    return s.n;
  }
  phase_group(&s, r, LJ_PHASE_DECODE);
  phase_group(&s, r, LJ_PHASE_PREFILL);
  token_ratio(&s, r);
  closure(&s, r, LJ_PHASE_PREFILL);
  closure(&s, r, LJ_PHASE_DECODE);
  idle_share(&s, r, LJ_PHASE_DECODE);
  memory_bound(&s, r);
  time_ratio(&s, r);
  if (r->cond.throttle_seen)
    lj_finding_say(&s, "throttle", 1, "The GPU limited its clocks during the run (%s): energies include that state.",
        r->cond.throttle_text);
  if (r->ablation_valid && isfinite(r->ablation.agreement_pct))
    lj_finding_say(&s, "ablation", fabs(r->ablation.agreement_pct) <= 10 ? 0 : 1,
        "Leaving %s out saved %.3g J per run, %+.0f%% against the replay's estimate of %.3g J.",
        lj_stage_name(r->ablation.stage), r->ablation.saved_j.estimate, r->ablation.agreement_pct,
        r->ablation.replay_j.estimate);
  return s.n;
}
