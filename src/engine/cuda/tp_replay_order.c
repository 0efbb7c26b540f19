// Which replays of the ranks must average their all-reduces (tp_engine.h), in every build: a pure
// walk over the replayed order that the host tests check without a GPU.
#include "engine/cuda/tp_engine.h"

static int writes_delta(lj_stage s) { return s == LJ_STAGE_O_PROJ || s == LJ_STAGE_DOWN; }
static int reduces_delta(lj_stage s) { return s == LJ_STAGE_ATTN_ALLREDUCE || s == LJ_STAGE_MLP_ALLREDUCE; }

int lj_tp_order_averages(const lj_stage *order, int n) {
  for (int i = 0; i < n; i++) {
    if (!reduces_delta(order[i])) continue;
    // the last stage before it, going back round the cycle, that touches delta
    for (int j = 1; j <= n; j++) {
      lj_stage prev = order[(i - j + n) % n];
      if (writes_delta(prev)) break;
      if (reduces_delta(prev)) return 1;  // a sum of a sum: delta x N (tp_engine.h says when it is bounded)
    }
  }
  return 0;
}
