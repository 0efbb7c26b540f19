// The ablations' windows as the run keeps them (docs/attribution.md §5): each window of the
// bracketed schedule with what it measured and the conditions it ran under, so that a check that
// does not pass can be examined after the run (the store's ablation_windows, the report).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"
#include "store/profile_result.h"

// "full", "attn" or "mlp" for an LJ_ABLATE_* kind.
const char *lj_ablation_group_name(int kind);

// A window of phase ph at place seq with kind's group, nothing measured (NAN, pair -1).
void lj_ablation_window_init(lj_ablation_window *w, lj_phase ph, int seq, int kind);

// Fills w from its window's result wr (idle already rebased to the window's temperature), the units
// inside it, its dynamic J per unit by the counter and by the samples (NAN: none), and device dev's
// readings s (n, any order) inside it: the first and last temperature, the SM clock range, the
// throttle reasons, the limit (fallback_limit_w where none was read) and whether it sat at the cap
// (trial_conditions.h's rule; LJ_WINDOW_POWER_CAP is then set in flags).
void lj_ablation_window_measure(const lj_window_result *wr, int64_t units, double counter_j, double sample_j,
                                const lj_sample *s, size_t n, int dev, double fallback_limit_w, lj_ablation_window *w);

// Numbers the rounds and the pairs of one phase's n windows in the order they ran (their group
// set): rounds as lj_bracket_round counts them, and each skipped window between two full ones gets
// the next pair number of its group (others -1), as lj_bracket_pairs pairs them.
void lj_ablation_windows_number(lj_ablation_window *w, size_t n);

// LJ_WINDOW_POWER_CAP when a window of a pair of group in phase ph (the skipped one or a full one
// around it) sat at the cap, else 0; *capped and *pairs (may be NULL) count the pairs.
uint32_t lj_ablation_windows_cap(const lj_ablation_window *w, size_t n, lj_phase ph, const char *group, int *capped,
                                 int *pairs);
