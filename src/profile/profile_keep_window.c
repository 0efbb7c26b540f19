// A closed phase window: into the result, and into the store at once, so
// that a run hung up or killed part-way keeps every window it finished.
#include "common/error.h"
#include "profile/profile_run.h"

int lj_profile_keep_window(const lj_profile_options *o, lj_profile_result *r, const lj_phase_window *w, int *warned) {
  LJ_TRY(lj_profile_add_window(r, w));
  if (!o->store) return 0;
  // A failed write loses nothing: the window is in the result, written with the profile at the end.
  if (lj_store_add_phase_window(o->store, o->run_id, w, lj_profile_main_rank(&r->plan)) < 0 && !*warned) {
    *warned = 1;
    lj_warn("%s; the windows are kept in memory and stored at the end of the run", lj_error_message());
  }
  lj_clear_error();
  return 0;
}
