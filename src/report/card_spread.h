// Card to card (docs/attribution.md §3b): one run sees one card, so a profile's uncertainty budget
// leaves this term "not measured". The same profile (model, engine, weights, fusion, shapes) run
// on k >= 2 cards of one GPU model measures it: `compare` prints it for every such group.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "store/profile_result.h"

typedef struct {
  int n_cards;      // distinct cards (by UUID) with a decode figure
  int n_runs;       // runs over them
  double mean_j;    // decode J/token above idle: each card's mean over its runs, then the mean over cards
  double sd_j;      // the cards' sample sd
  double half_j;    // where one more card's figure may lie from mean_j: t_{k-1} x sd x sqrt(1 + 1/k)
  double half_pct;  // half_j / mean_j x 100
  double level;
} lj_card_spread;

// 1 when a and b are the same profile (model, engine, weights, fusion, GEMV setting, batch, prompt and
// generated tokens) on cards of the same name, both with a UUID; 0 otherwise.
int lj_card_spread_same(const lj_profile_result *a, const lj_profile_result *b);
// Over runs (n, all lj_card_spread_same as runs[0]): 1 and *out where they cover >= 2 cards, else 0.
int lj_card_spread_compute(const lj_profile_result *const *runs, size_t n, lj_card_spread *out);
// One line: "card to card, MODEL on N x GPU: decode X J/token above idle, sd Y; one card within +-Z (P%)".
void lj_card_spread_print(FILE *f, const lj_profile_result *r, const lj_card_spread *c);
