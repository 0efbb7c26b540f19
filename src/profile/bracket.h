// Bracketed, paired windows (docs/attribution.md §2f, §5): every window with something taken out
// of the run sits between two full windows, and its saving is the mean of those two less it.
#pragma once
#include <stddef.h>

#include "store/profile_result.h"

// One phase's windows in order, slot 0 full and 1 .. n_slots something taken out: F, then `rounds`
// rounds of every slot, each followed by F (F S F S F ...: every such window between two full ones).
// A round never starts with the slot the one before ended with (n_slots > 1; the order rotates from
// round to round for 3 or more), and one slot gets two full windows between rounds, so no two windows
// of one slot share a full window. Returns the windows written (at most cap).
size_t lj_bracket_schedule(int rounds, int n_slots, int *slot, size_t cap);
// The round window i of a schedule belongs to (a full window: that of the window before it), and in
// *closes whether it ends its round (the full window after the round's last taken-out window).
int lj_bracket_round(const int *slot, size_t i, int n_slots, int *closes);
// The pairs of slot k in one phase's windows in the order they ran (slot[i]: 0 full, k > 0 the one
// taken out; j[i]: dynamic J per unit, NAN where not measured): for each window of slot k between two
// full windows, bracket_j = the mean of the two full ones and skipped_j = it. Returns the count
// (at most n / 2; the arrays hold that many).
size_t lj_bracket_pairs(const int *slot, const double *j, size_t n, int k, double *bracket_j, double *skipped_j);
// The saving of n pairs into out: full_j (the brackets), ablated_j, and saved_j = the mean of
// bracket - skipped with Student's interval on n - 1 degrees of freedom (NAN bounds for one pair).
int lj_bracket_saving(const double *bracket_j, const double *skipped_j, size_t n, double level, lj_ablation *out);
