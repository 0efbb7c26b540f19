#include "engine/cuda/no_device_reason.h"

#include <dlfcn.h>

const char *lj_cuda_no_device_reason(int cuda_error, const char *cuda_message) {
  void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!driver) return "no NVIDIA driver (libcuda.so.1 not found)";
  dlclose(driver);
  if (cuda_error == 0) return "no NVIDIA GPU found";
  return cuda_message ? cuda_message : "the CUDA runtime cannot use the driver";
}
