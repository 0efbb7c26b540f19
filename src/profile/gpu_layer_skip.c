// The layer-skip check on the GPU (--per-layer; docs/attribution.md §2f): per phase (prefill, then
// decode), windows of the full phase unit and of the unit with one layer a no-op (the first, the
// middle and the last; the residual passes through), each skipped window between two full ones
// (F S F S F ...), --skip-rounds rounds of every skipped layer in an order that changes from round
// to round (lj_layer_skip_order). The energy saved per unit, the mean of the two full windows around
// a skipped one less it, is what that layer costs in the real run; it proves the layer's replay
// estimate wrong when the whole interval of their agreement lies outside +-10%.
#include <stdio.h>

#include "common/clock.h"
#include "profile/analyze_layers.h"
#include "profile/bracket.h"
#include "profile/gpu_run.h"

_Static_assert(LJ_PROFILE_MAX_SKIP_ROUNDS <= LJ_PROFILE_MAX_PAIRS,
               "the skip windows' arrays hold LJ_PROFILE_MAX_PAIRS rounds");

static int window(gpu_run *g, int pi, int slot, int round) {
  if (g->n_skip[pi] >= LJ_SKIP_MAX_WINDOWS) return 0;
  int layer = slot ? g->raw.skip_layer[slot] : -1;
  LJ_TRY(lj_cuda_set_skip_layer(g->e, layer));
  char name[64];
  snprintf(name, sizeof name, "layer_skip:%s:%d#%d", pi ? "decode" : "prefill", layer, round);
  int h = -1;
  int64_t units = 0;
  LJ_TRY(lj_gpu_bracket_window(g, pi, name, &h, &units));
  int i = g->n_skip[pi]++;
  g->skip_handles[pi][i] = h;
  g->skip_units[pi][i] = units;
  g->skip_slot[pi][i] = slot;
  return 0;
}

int lj_gpu_layer_skips(gpu_run *g) {
  int n_layers = g->r->plan.config.n_layers;
  g->raw.skip_layer[0] = -1;
  g->raw.skip_layer[1] = 0, g->raw.skip_layer[2] = n_layers / 2, g->raw.skip_layer[3] = n_layers - 1;
  int n_slots = n_layers >= 3 ? LJ_SKIP_SLOTS - 1 : n_layers;  // a 1- or 2-layer model: each layer once
  int rounds = g->o->skip_rounds < LJ_PROFILE_MAX_PAIRS ? g->o->skip_rounds : LJ_PROFILE_MAX_PAIRS;
  if (rounds < 1) rounds = 1;
  int rc = 0, slot[LJ_SKIP_MAX_WINDOWS];
  size_t n = lj_bracket_schedule(rounds, n_slots, slot, LJ_SKIP_MAX_WINDOWS);
  int64_t t0 = lj_mono_ns();
  for (int pi = 0; pi < (lj_gpu_fused(g) ? 1 : 2) && rc == 0; pi++)  // fused: no decode layer estimates to check
    for (size_t i = 0; i < n && rc == 0 && !lj_gpu_interrupted(g); i++) {
      int closes = 0, round = lj_bracket_round(slot, i, n_slots, &closes);
      rc = window(g, pi, slot[i], round);
      if (closes) lj_gpu_step_done(g);  // a round done
    }
  int off = lj_cuda_set_skip_layer(g->e, -1);
  if (rc == 0)
    lj_profile_note(g->r, "--per-layer: the layer-skip windows (%d rounds) took %.0f s.", rounds,
                    (double)(lj_mono_ns() - t0) * 1e-9);
  return rc < 0 ? rc : off;
}
