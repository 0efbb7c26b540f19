// Card to card (card_spread.h): the decode J/token above idle of the same profile on several
// cards, one mean per card, and the prediction half-width of one more card from their spread.
#include "report/card_spread.h"

#include <math.h>
#include <string.h>

#include "common/stats.h"

// Whether decode's energy is the power samples' (else the counter's): the two differ by up to 2%,
// which would read as a card's difference.
static int decode_by_samples(const lj_profile_result *r) {
  return (r->phases[LJ_PHASE_DECODE].window_flags & LJ_WINDOW_SAMPLE_ENERGY) != 0;
}

int lj_card_spread_same(const lj_profile_result *a, const lj_profile_result *b) {
  const lj_profile_plan *p = &a->plan, *q = &b->plan;
  return a->cond.device.uuid[0] && b->cond.device.uuid[0] && !strcmp(a->cond.device.name, b->cond.device.name) &&
         !strcmp(p->model_name, q->model_name) && !strcmp(p->engine, q->engine) && !strcmp(p->weights, q->weights) &&
         !strcmp(lj_plan_fusion(p), lj_plan_fusion(q)) && !strcmp(lj_plan_gemv(p), lj_plan_gemv(q)) &&
         p->batch == q->batch && p->prompt_len == q->prompt_len && p->gen_len == q->gen_len &&
         decode_by_samples(a) == decode_by_samples(b);
}

static double per_token(const lj_profile_result *r) {
  const lj_phase_summary *d = &r->phases[LJ_PHASE_DECODE];
  return d->dynamic_j.n > 0 && d->tokens_per_unit > 0 ? d->dynamic_j.mean / (double)d->tokens_per_unit : NAN;
}

int lj_card_spread_compute(const lj_profile_result *const *runs, size_t n, lj_card_spread *out) {
  memset(out, 0, sizeof *out);
  double sum = 0, sum2 = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(per_token(runs[i]))) continue;
    int first = 1;  // the card's first run: its mean over all of its runs
    for (size_t j = 0; j < i && first; j++)
      first = !(isfinite(per_token(runs[j])) && !strcmp(runs[j]->cond.device.uuid, runs[i]->cond.device.uuid));
    out->n_runs++;
    if (!first) continue;
    double s = 0;
    int k = 0;
    for (size_t j = i; j < n; j++)
      if (isfinite(per_token(runs[j])) && !strcmp(runs[j]->cond.device.uuid, runs[i]->cond.device.uuid))
        s += per_token(runs[j]), k++;
    double card = s / k;
    sum += card, sum2 += card * card, out->n_cards++;
  }
  if (out->n_cards < 2) return 0;
  double k = out->n_cards;
  out->level = isfinite(runs[0]->plan.level) && runs[0]->plan.level > 0 ? runs[0]->plan.level : 0.95;
  out->mean_j = sum / k;
  out->sd_j = sqrt(fmax(0, (sum2 - sum * sum / k) / (k - 1)));
  out->half_j = lj_student_t_quantile(0.5 + out->level / 2, k - 1) * out->sd_j * sqrt(1 + 1 / k);
  out->half_pct = out->half_j / fabs(out->mean_j) * 100;
  return 1;
}

void lj_card_spread_print(FILE *f, const lj_profile_result *r, const lj_card_spread *c) {
  fprintf(f, "card to card, %s on %d x %s (%d runs; batch %d, prompt %d, %d generated): decode %.4g J/token above "
             "idle, sd %.3g across cards; one more card within +-%.3g J/token (+-%.1f%%, %.0f%% prediction interval): "
             "the uncertainty budget's card term, measured\n",
          r->plan.model_name, c->n_cards, r->cond.device.name[0] ? r->cond.device.name : "?", c->n_runs,
          r->plan.batch, r->plan.prompt_len, r->plan.gen_len, c->mean_j, c->sd_j, c->half_j, c->half_pct,
          100 * c->level);
}
