// Findings of a study: sentences stated from its numbers, each by an explicit rule.
//   study-fall       decode J/token from the smallest batch to the batch where it is lowest (the ratio)
//   study-knee       the knee: the smallest batch from which, to the next batch, decode J/token falls
//                    less than 20% per doubling or the step time grows more than 20% per doubling;
//                    past it decode is no longer weight-read bound (or it stays so up to the largest batch)
//   study-best       the batch of lowest decode J/token whose decode step meets the latency bound,
//                    or that none meets it (and the fastest batch's step)
//   study-size       decode J per billion parameters per token across model sizes at the same batch,
//                    prompt and generated length
//   study-reference  our decode J/token (gross) against ML.ENERGY's at the same batches on an H100
//   study-sources    a line whose decode points were measured by both sources (the driver's power samples and
//                    the energy counter: a study resumed across the change of docs/attribution.md §1)
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/finding_sink.h"
#include "report/study_analysis.h"


static int has_energy(const lj_study_line_point *p) { return isfinite(p->j_per_token) && p->j_per_token > 0; }

static void line_findings(lj_finding_sink *s, const lj_study_analysis *a, const lj_study_line *l, double bound_ms) {
  char who[160];
  lj_study_line_name(a, l, who, sizeof who);
  const lj_study_line_point *first = NULL, *low = NULL, *last = NULL;
  size_t n = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (!has_energy(&l->pt[i])) continue;
    if (!first) first = &l->pt[i];
    if (!low || l->pt[i].j_per_token < low->j_per_token) low = &l->pt[i];
    last = &l->pt[i], n++;
  }
  if (n < 2) return;
  int by_samples = 0, by_counter = 0;  // the two differ by up to 2%: that much of a difference is theirs
  for (size_t i = 0; i < l->n; i++)
    if (has_energy(&l->pt[i]) && l->pt[i].run)
      *(l->pt[i].run->prof.phases[LJ_PHASE_DECODE].window_flags & LJ_WINDOW_SAMPLE_ENERGY ? &by_samples : &by_counter) += 1;
  if (by_samples && by_counter)
    lj_finding_say(s, "study-sources", 1, "the decode points of %s were measured by two sources (%d by the driver's power "
        "samples, %d by the energy counter): up to 2%% of their differences may be the instruments'", who, by_samples,
        by_counter);
  if (low != first)
    lj_finding_say(s, "study-fall", 0, "decode J/token falls %.1fx from batch %d to %d for %s (%.3g to %.3g J/token)",
        first->j_per_token / low->j_per_token, first->batch, low->batch, who, first->j_per_token, low->j_per_token);
  if (l->knee_batch) {
    char why[160];
    if (l->knee_by_fall)
      snprintf(why, sizeof why, "from batch %d to %d J/token falls only %.1f%% per doubling (rule: less than %.0f%%)",
               l->knee_batch, l->knee_next, l->knee_fall_pct, LJ_STUDY_KNEE_FALL_PCT);
    else
      snprintf(why, sizeof why, "from batch %d to %d the decode step grows %.1f%% per doubling (rule: more than %.0f%%)",
               l->knee_batch, l->knee_next, l->knee_growth_pct, LJ_STUDY_KNEE_GROWTH_PCT);
    lj_finding_say(s, "study-knee", 0, "past batch %d decode is no longer weight-read bound for %s: %s", l->knee_batch, who, why);
  } else {
    lj_finding_say(s, "study-knee", 0, "decode stays weight-read bound up to batch %d for %s (J/token falls at least %.0f%% "
        "and the step grows at most %.0f%% per doubling)", last->batch, who, LJ_STUDY_KNEE_FALL_PCT,
        LJ_STUDY_KNEE_GROWTH_PCT);
  }
  if (l->best_batch) {
    for (size_t i = 0; i < l->n; i++)
      if (l->pt[i].batch == l->best_batch)
        lj_finding_say(s, "study-best", 0, "the best batch under %g ms per decode step for %s is %d: %.3g J/token at %.3g ms",
            bound_ms, who, l->best_batch, l->pt[i].j_per_token, l->pt[i].step_ms);
  } else if (l->fastest >= 0) {
    lj_finding_say(s, "study-best", 1, "no batch meets %g ms per decode step for %s: the fastest, batch %d, takes %.3g ms",
        bound_ms, who, l->pt[l->fastest].batch, l->pt[l->fastest].step_ms);
  }
}

// Per prompt and generated length, at the smallest batch every size there has: the smallest and the largest model.
static void size_findings(lj_finding_sink *s, const lj_study_analysis *a) {
  for (size_t i = 0; i < a->n_lines; i++) {
    const lj_study_line *l = &a->lines[i];
    if (!l->n || !has_energy(&l->pt[0]) || !(l->params_b > 0)) continue;
    int first_of_kind = 1;
    for (size_t k = 0; k < i; k++)
      if (a->lines[k].prompt_len == l->prompt_len && a->lines[k].gen_len == l->gen_len) first_of_kind = 0;
    if (!first_of_kind) continue;
    int batch = l->pt[0].batch;
    const lj_study_line *lo = NULL, *hi = NULL;
    double lo_j = NAN, hi_j = NAN;
    for (size_t k = i; k < a->n_lines; k++) {
      const lj_study_line *m = &a->lines[k];
      if (m->prompt_len != l->prompt_len || m->gen_len != l->gen_len || !(m->params_b > 0)) continue;
      for (size_t q = 0; q < m->n; q++) {
        if (m->pt[q].batch != batch || !has_energy(&m->pt[q])) continue;
        double j = m->pt[q].j_per_token / m->params_b;
        if (!lo || m->params_b < lo->params_b) lo = m, lo_j = j;
        if (!hi || m->params_b > hi->params_b) hi = m, hi_j = j;
      }
    }
    if (lo && hi && lo != hi)
      lj_finding_say(s, "study-size", 0, "at batch %d (prompt %d, gen %d) decode takes %.3g J per billion parameters per token "
          "for %s (%.2f B) and %.3g for %s (%.2f B)", batch, l->prompt_len, l->gen_len, lo_j, lo->model, lo->params_b,
          hi_j, hi->model, hi->params_b);
  }
}

static void reference_findings(lj_finding_sink *s, const lj_study_analysis *a) {
  lj_study_reference_match m[64];
  size_t n = lj_study_reference_matches(a, m, 64);
  for (size_t i = 0; i < n; i++) {
    int seen = 0;  // one sentence per line
    for (size_t j = 0; j < i; j++) seen |= m[j].line == m[i].line;
    if (seen) continue;
    size_t k = 0, below = 0;
    char list[200] = "";
    for (size_t j = i; j < n; j++) {
      if (m[j].line != m[i].line) continue;
      k++, below += (size_t)m[j].at_or_below;
      size_t len = strlen(list);
      snprintf(list + len, sizeof list - len, "%sbatch %d %+.1f%%", len ? ", " : "", m[j].ours->batch, m[j].diff_pct);
    }
    lj_finding_say(s, "study-reference", below == k ? 0 : 1, "%s (prompt %d, gen %d) on %s is at or below ML.ENERGY v3 at %zu of "
        "%zu batches (%s)", m[i].line->model, m[i].line->prompt_len, m[i].line->gen_len, m[i].line->gpu, below, k, list);
  }
}

size_t lj_study_findings(const lj_study_analysis *a, lj_finding *out, size_t max) {
  lj_finding_sink s = {out, 0, max};
  for (size_t i = 0; i < a->n_lines; i++) line_findings(&s, a, &a->lines[i], a->latency_ms);
  size_findings(&s, a);
  reference_findings(&s, a);
  return s.n;
}
