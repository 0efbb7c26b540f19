#include "engine/cuda/nccl_api.h"

#include <dlfcn.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static void add(char (*out)[512], int cap, int *n, const char *path) {
  if (*n < cap && path && *path && strlen(path) < 512) snprintf(out[(*n)++], 512, "%s", path);
}

int lj_nccl_candidates(const char *env, const char *root, char (*out)[512], int cap) {
  int n = 0;
  add(out, cap, &n, env);
  add(out, cap, &n, "libnccl.so.2");
  static const char *const wheels[] = {"dist-packages", "site-packages"};
  for (int k = 0; k < 2; k++) {
    char pattern[512];
    snprintf(pattern, sizeof pattern, "%s/usr/local/lib/python3*/%s/nvidia/nccl/lib/libnccl.so.2", root ? root : "",
             wheels[k]);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; i++) add(out, cap, &n, g.gl_pathv[i]);
    globfree(&g);
  }
  add(out, cap, &n, "/usr/local/cuda/lib64/libnccl.so.2");
  return n;
}

#define LOAD(field, name)                   \
  do {                                      \
    api->field = dlsym(api->dl, name);      \
    if (!api->field) missing = name;        \
  } while (0)

int lj_nccl_api_load_from(lj_nccl_api *api, const char (*paths)[512], int n) {
  memset(api, 0, sizeof *api);
  char tried[4096] = "";
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    const char *missing = NULL;
    api->dl = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
    const char *why = api->dl ? NULL : dlerror();
    if (api->dl) {
      LOAD(get_version, "ncclGetVersion");
      LOAD(comm_init_all, "ncclCommInitAll");
      LOAD(comm_destroy, "ncclCommDestroy");
      LOAD(all_reduce, "ncclAllReduce");
      LOAD(group_start, "ncclGroupStart");
      LOAD(group_end, "ncclGroupEnd");
      LOAD(get_error_string, "ncclGetErrorString");
      if (!missing) {
        snprintf(api->path, sizeof api->path, "%s", paths[i]);
        int (*ver)(int *);
        memcpy(&ver, &api->get_version, sizeof ver);  // ISO C: no object-to-function pointer cast
        if (ver(&api->version) != 0) api->version = 0;
        return 0;
      }
      dlclose(api->dl);
      api->dl = NULL;
    }
    int w = snprintf(tried + used, sizeof tried - used, "%s  %s: %s%s", i ? "\n" : "", paths[i],
                     missing ? "lacks " : (why ? why : "dlopen failed"), missing ? missing : "");
    if (w > 0 && (size_t)w < sizeof tried - used) used += (size_t)w;
  }
  return LJ_FAIL(LJ_ENODEV,
                 "NCCL (libnccl.so.2) not found; tried:\n%s\nset LLAMAJOULE_NCCL to its path (pip install "
                 "nvidia-nccl-cu13 puts it under .../nvidia/nccl/lib/), or use --tp-backend loopback on one GPU",
                 n ? tried : "  (no path)");
}

int lj_nccl_api_load(lj_nccl_api *api) {
  char paths[LJ_NCCL_MAX_CANDIDATES][512];
  int n = lj_nccl_candidates(getenv("LLAMAJOULE_NCCL"), "", paths, LJ_NCCL_MAX_CANDIDATES);
  return lj_nccl_api_load_from(api, (const char (*)[512])paths, n);
}

void lj_nccl_api_unload(lj_nccl_api *api) {
  if (api->dl) dlclose(api->dl);
  memset(api, 0, sizeof *api);
}

void lj_nccl_version_string(int code, char *buf, size_t cap) {
  int major = code >= 20900 ? code / 10000 : code / 1000;
  int rest = code >= 20900 ? code % 10000 : code % 1000;
  snprintf(buf, cap, "%d.%d.%d", major, rest / 100, rest % 100);
}

const char *lj_nccl_nvls_default(void) {
  const char *v = getenv("NCCL_NVLS_ENABLE");
  if (v && *v) return v;
  setenv("NCCL_NVLS_ENABLE", "0", 1);
  return "0";
}
