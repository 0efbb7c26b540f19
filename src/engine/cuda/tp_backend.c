// The names of the tensor-parallel backends (tp_comm.h), in every build: the CLI parses them
// before it knows whether the CUDA engine is there.
#include <string.h>

#include "common/error.h"
#include "engine/cuda/tp_comm.h"

const char *lj_tp_backend_name(int backend) {
  return backend == LJ_TP_BACKEND_NCCL ? "nccl" : backend == LJ_TP_BACKEND_LOOPBACK ? "loopback" : "?";
}

int lj_tp_backend_parse(const char *name, int *out) {
  if (!strcmp(name, "nccl"))
    *out = LJ_TP_BACKEND_NCCL;
  else if (!strcmp(name, "loopback"))
    *out = LJ_TP_BACKEND_LOOPBACK;
  else
    return LJ_FAIL(LJ_EINVAL, "--tp-backend '%s': expected nccl or loopback", name);
  return 0;
}
