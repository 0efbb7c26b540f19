// The plan as the run starts and each closed phase window as it closes: into the store at once, so
// that a run hung up or killed part-way keeps, and reads back with, every window it finished.
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

void lj_profile_keep_plan(const lj_profile_options *o, const lj_profile_result *r) {
  if (!o->store) return;
  if (lj_store_add_profile_plan(o->store, o->run_id, r) < 0)
    lj_warn("%s; the plan is stored at the end of the run", lj_error_message());
  lj_clear_error();
}
