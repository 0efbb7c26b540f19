// NCCL loaded at run time with dlopen (as NVML is, meter/nvml_api.c): libnccl.so.2 is a 200+ MB
// library that is not on every machine, and llamajoule must run where it is missing (every path
// but tensor parallelism over several GPUs). The functions are kept untyped here; tp_comm.cu
// casts them to nccl.h's types (the toolkit's header, types only; LJ_HAVE_NCCL_H).
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  void *dl;
  char path[512];  // what was loaded
  int version;     // ncclGetVersion's code (2.28.9: 22809)
  void *get_version, *comm_init_all, *comm_destroy, *all_reduce, *group_start, *group_end, *get_error_string;
} lj_nccl_api;

enum { LJ_NCCL_MAX_CANDIDATES = 16 };

// The paths tried, in order: $LLAMAJOULE_NCCL (env, may be NULL or ""), then "libnccl.so.2" (the
// dynamic loader's search: LD_LIBRARY_PATH, the ld cache), then the Python wheels'
// /usr/local/lib/python3*/{dist,site}-packages/nvidia/nccl/lib/libnccl.so.2 (those that exist,
// glob under `root`, "" for /), then the CUDA toolkit's /usr/local/cuda/lib64/libnccl.so.2.
// Returns the count (<= cap); each path < 512 bytes.
int lj_nccl_candidates(const char *env, const char *root, char (*out)[512], int cap);
// Loads the first of `paths` that dlopens and has every function; fails (LJ_ENODEV) naming every
// path tried and why, with the hint to set LLAMAJOULE_NCCL.
int lj_nccl_api_load_from(lj_nccl_api *api, const char (*paths)[512], int n);
// lj_nccl_api_load_from(lj_nccl_candidates(getenv("LLAMAJOULE_NCCL"), "")).
int lj_nccl_api_load(lj_nccl_api *api);
// dlclose: only where no communicator was made (tp_comm.cu keeps the library loaded).
void lj_nccl_api_unload(lj_nccl_api *api);
// "2.28.9" from a version code (2.9+: major*10000 + minor*100 + patch; older: *1000 + *100).
void lj_nccl_version_string(int code, char *buf, size_t cap);
// NVLink SHARP (multicast) off: sets NCCL_NVLS_ENABLE=0 unless the user set it. Returns the value
// in force (static storage: "0" or the user's).
const char *lj_nccl_nvls_default(void);

#ifdef __cplusplus
}
#endif
