// The ranks' arrivals at one all-reduce stage (tp_engine.cu; docs/tensor-parallel.md §3 item 6).
// One host thread runs every rank's stages in turn, and the collective is enqueued for all of
// them when the last rank of the group arrives. A call that fails between two ranks' arrivals (a
// rank's stage before the all-reduce fails after another rank arrived) leaves arrivals behind:
// the next call would find that rank "arrived twice", or enqueue the collective with a rank that
// never came that time. So every call that drives the group ends with lj_tp_arrivals_end, on
// every exit path. Host code, in every build (tests/test_tp_comm_host.c).
#pragma once
#include "engine/cuda/tp_comm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int arrived[LJ_TP_MAX_RANKS];  // 1: that rank has run this all-reduce stage
  int n, tokens;                 // ranks arrived so far; their token count
} lj_tp_arrivals;

// Rank `rank` of `degree` runs the all-reduce of n_tokens rows: 1 when it is the last to arrive
// (the arrivals cleared: enqueue the collective), 0 while others are awaited; negative, with the
// arrivals cleared and the error set, for a rank outside the group, one that arrives twice, or
// another token count than the ranks before it.
int lj_tp_arrive(lj_tp_arrivals *a, int degree, int rank, int n_tokens);
// The end of a call that drives the group (a forward call, a replay launch), rc its result: the
// arrivals cleared. A call that succeeded with ranks still waiting at an all-reduce (some ranks
// ran it, not all) fails, naming how many; otherwise rc is returned.
int lj_tp_arrivals_end(lj_tp_arrivals *a, int rc);

#ifdef __cplusplus
}
#endif
