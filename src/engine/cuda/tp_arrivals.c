// The ranks' arrivals at an all-reduce stage (tp_arrivals.h).
#include "engine/cuda/tp_arrivals.h"

#include <string.h>

#include "common/error.h"

static void clear(lj_tp_arrivals *a) { memset(a, 0, sizeof *a); }

int lj_tp_arrive(lj_tp_arrivals *a, int degree, int rank, int n_tokens) {
  if (rank < 0 || rank >= degree || degree > LJ_TP_MAX_RANKS) {
    clear(a);
    return LJ_FAIL(LJ_EINVAL, "all-reduce: rank %d outside the group of %d", rank, degree);
  }
  if (a->arrived[rank] || (a->n > 0 && n_tokens != a->tokens)) {
    int other = a->tokens;
    clear(a);
    return LJ_FAIL(LJ_EINVAL, "all-reduce: rank %d arrived %s before the other ranks of %d ran theirs", rank,
                   n_tokens != other ? "with another token count" : "twice", degree);
  }
  a->arrived[rank] = 1, a->tokens = n_tokens;
  if (++a->n < degree) return 0;
  clear(a);
  return 1;
}

int lj_tp_arrivals_end(lj_tp_arrivals *a, int rc) {
  int waiting = a->n;
  clear(a);
  if (rc < 0 || waiting == 0) return rc;
  return LJ_FAIL(LJ_EINVAL, "all-reduce: the call ended with %d rank%s waiting for the others (a stage list that "
                 "runs the all-reduce on some ranks only)", waiting, waiting == 1 ? "" : "s");
}
