// The default store: where `idle` and `devices --characterize` write when no
// -o is given, and where `meter --idle auto` looks for baselines.
//   $LLAMAJOULE_STORE, else ${XDG_DATA_HOME:-$HOME/.local/share}/llamajoule/llamajoule.db
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "store/store.h"

// mkdir -p for the directories of `path` (not its last component).
static int make_parents(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(path, 0755);
    int err = errno;
    *p = '/';
    if (rc != 0 && err != EEXIST) {
      *p = '\0';
      int status = LJ_FAIL(LJ_EIO, "cannot create directory '%s' for the default store: %s", path, strerror(err));
      *p = '/';
      return status;
    }
  }
  return 0;
}

int lj_store_default_path(char *buf, size_t cap, int create_dirs) {
  const char *env = getenv("LLAMAJOULE_STORE");
  const char *xdg = getenv("XDG_DATA_HOME");
  const char *home = getenv("HOME");
  int n;
  if (env && *env)
    n = snprintf(buf, cap, "%s", env);
  else if (xdg && *xdg)
    n = snprintf(buf, cap, "%s/llamajoule/llamajoule.db", xdg);
  else if (home && *home)
    n = snprintf(buf, cap, "%s/.local/share/llamajoule/llamajoule.db", home);
  else
    return LJ_FAIL(LJ_EINVAL, "no default store: set LLAMAJOULE_STORE or HOME, or give -o FILE");
  if (n < 0 || (size_t)n >= cap) return LJ_FAIL(LJ_EINVAL, "default store path too long");
  return create_dirs && !(env && *env) ? make_parents(buf) : 0;
}
