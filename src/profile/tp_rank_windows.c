// A tensor-parallel profile's phase windows per GPU (docs/tensor-parallel.md §4): every window
// spans the same work on every rank's GPU (it opens and closes after every rank's stream is
// synchronised), so each GPU's figure of it is that GPU's share, and their sum is the run's.
// The run's own windows (what every other table reads) take the sum; each GPU's phase summaries
// are its own windows summarised alike (rank_phases). One GPU for every rank (the loopback
// backend) is one device: its figure is the run's, once, and there is one per-GPU row, not N.
// A replay trial runs every rank together (the all-reduce stages join them): its energy is the
// sum over the GPUs, its idle the sum of their idles.
#include <stdlib.h>

#include "common/error.h"
#include "profile/attribution.h"
#include "profile/profile_analyze.h"
#include "profile/tp_rank_windows.h"

int lj_profile_tp_collect(lj_profile_result *r, lj_windows *w, const int *handles, const int *devs, int n_devs) {
  if (n_devs < 1 || n_devs > LJ_PROFILE_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "profile: %d GPUs for the ranks' windows, expected 1 .. %d", n_devs,
                   LJ_PROFILE_MAX_RANKS);
  for (size_t i = 0; i < r->n_windows; i++)
    LJ_TRY(lj_windows_result(w, handles[i], n_devs > 1 ? -1 : devs[0], &r->windows[i].w));
  lj_phase_window *own = malloc(sizeof *own * (r->n_windows ? r->n_windows : 1));
  if (!own) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int rc = 0;
  for (int k = 0; k < n_devs && rc == 0; k++) {
    for (size_t i = 0; i < r->n_windows && rc == 0; i++) {
      own[i] = r->windows[i];
      rc = lj_windows_result(w, handles[i], devs[k], &own[i].w);
    }
    if (rc == 0) rc = lj_phase_summaries_of(&r->plan, own, r->n_windows, r->rank_phases[k]);
  }
  free(own);
  // degree 1 (the ranks' path with one rank): the run's own rows are rank 0's, as in any degree-1 run
  if (rc == 0) r->n_ranks = r->plan.tp_degree > 1 ? n_devs : 0;
  return rc;
}

int lj_profile_tp_collect_trials(lj_profile_result *r, lj_windows *w, const int *handles, int device, double idle_w) {
  for (size_t i = 0; i < r->n_trials; i++) {
    lj_profile_trial *t = &r->trials[i];
    lj_window_result wr;
    LJ_TRY(lj_windows_result(w, handles[i], device, &wr));
    lj_replay_trial keep = t->t;
    lj_replay_trial_from_window(&wr, keep.calls, keep.temperature_c, idle_w, &t->t);
    t->t.start_offset_ns = keep.start_offset_ns;
    t->t.gap_s = keep.gap_s;
    lj_replay_trial_take_gaps(&t->t);
  }
  return 0;
}
