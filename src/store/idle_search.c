// Where `meter --idle auto` finds an idle baseline: the run's own store first
// (a study keeps its baseline with it), then a given file or the default store.
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "store/store.h"

int lj_find_idle_baseline(lj_store *run_store, const char *baseline_file, const char *uuid, lj_idle_baseline *out) {
  if (run_store) {
    int found = lj_store_find_idle_baseline(run_store, uuid, out);
    if (found != 0) return found;
  }
  char path[1024];
  if (!baseline_file) {
    if (lj_store_default_path(path, sizeof path, 0) < 0) return 0;  // no HOME: simply no baseline
    if (access(path, F_OK) != 0) return 0;
    baseline_file = path;
  }
  if (run_store && !strcmp(baseline_file, lj_store_path(run_store))) return 0;
  lj_store *st;
  LJ_TRY(lj_store_open_readonly(baseline_file, &st));
  int found = lj_store_find_idle_baseline(st, uuid, out);
  lj_store_close(st);
  return found;
}
