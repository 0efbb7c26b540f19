// Card to card (report/card_spread.c, docs/attribution.md §3b): the same profile on several cards.
//   - one mean per card (two runs on one card count once), the sd across cards, and one more card's
//     prediction half-width t_{k-1} x sd x sqrt(1 + 1/k), against hand-computed values;
//   - what is not the same profile (another model or GEMV setting, a run without a UUID) stays out; one card alone
//     measures nothing.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "report/card_spread.h"

#include "near.h"
#define T2 4.302652729749464  // t_{0.975, 2}

static void run(lj_profile_result *r, const char *uuid, double j_per_token) {
  lj_profile_result_init(r);
  snprintf(r->plan.model_name, sizeof r->plan.model_name, "llama-3.2-1b");
  snprintf(r->plan.engine, sizeof r->plan.engine, "cuda");
  snprintf(r->plan.weights, sizeof r->plan.weights, "bf16");
  r->plan.batch = 1, r->plan.prompt_len = 128, r->plan.gen_len = 128;
  snprintf(r->cond.device.name, sizeof r->cond.device.name, "NVIDIA H200");
  snprintf(r->cond.device.uuid, sizeof r->cond.device.uuid, "%s", uuid);
  lj_phase_summary *d = &r->phases[LJ_PHASE_DECODE];
  d->tokens_per_unit = 127, d->dynamic_j.n = 3, d->dynamic_j.mean = j_per_token * 127;
}

static void test_three_cards(void **state) {
  (void)state;
  lj_profile_result r[6];
  run(&r[0], "GPU-a", 0.370);
  run(&r[1], "GPU-b", 0.396);
  run(&r[2], "GPU-c", 0.422);
  run(&r[3], "GPU-a", 0.372);  // card a again: its mean is 0.371
  run(&r[4], "", 0.9);         // no UUID: not the same profile (cards cannot be told apart)
  run(&r[5], "GPU-d", 0.5);
  snprintf(r[5].plan.model_name, sizeof r[5].plan.model_name, "llama-3.2-3b");
  assert_true(lj_card_spread_same(&r[0], &r[3]));
  assert_false(lj_card_spread_same(&r[0], &r[4]));
  assert_false(lj_card_spread_same(&r[0], &r[5]));
  // decode by the power samples on one card and by the counter on another: not the same profile
  // (the sources differ by up to 2%, which would read as the cards' difference)
  r[3].phases[LJ_PHASE_DECODE].window_flags |= LJ_WINDOW_SAMPLE_ENERGY;
  assert_false(lj_card_spread_same(&r[0], &r[3]));
  r[3].phases[LJ_PHASE_DECODE].window_flags &= ~(uint32_t)LJ_WINDOW_SAMPLE_ENERGY;
  // another GEMV setting (it changes decode's J/token on one card): not the same profile; an empty
  // setting (a store before schema 21) is the defaults
  snprintf(r[3].plan.gemv, sizeof r[3].plan.gemv, "r4u2");
  assert_false(lj_card_spread_same(&r[0], &r[3]));
  snprintf(r[3].plan.gemv, sizeof r[3].plan.gemv, "defaults");
  assert_true(lj_card_spread_same(&r[0], &r[3]));
  const lj_profile_result *g[4] = {&r[0], &r[1], &r[2], &r[3]};
  lj_card_spread c;
  assert_int_equal(lj_card_spread_compute(g, 4, &c), 1);
  assert_int_equal(c.n_cards, 3);
  assert_int_equal(c.n_runs, 4);
  double mean = (0.371 + 0.396 + 0.422) / 3;
  double sd = sqrt(((0.371 - mean) * (0.371 - mean) + (0.396 - mean) * (0.396 - mean) +
                    (0.422 - mean) * (0.422 - mean)) / 2);
  REL(c.mean_j, mean, 1e-12);
  REL(c.sd_j, sd, 1e-9);
  REL(c.half_j, T2 * sd * sqrt(1 + 1.0 / 3), 1e-9);
  REL(c.half_pct, c.half_j / mean * 100, 1e-12);
  // one card, however many runs: nothing measured
  const lj_profile_result *one[2] = {&r[0], &r[3]};
  assert_int_equal(lj_card_spread_compute(one, 2, &c), 0);
  for (int i = 0; i < 6; i++) lj_profile_result_free(&r[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_three_cards)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
