// device_memory.h in a build without CUDA.
#ifndef LLAMAJOULE_HAVE_CUDA
#include "common/error.h"
#include "engine/cuda/device_memory.h"

int lj_cuda_device_memory(int device, int64_t *free_bytes, int64_t *total_bytes) {
  *free_bytes = *total_bytes = 0;
  return LJ_FAIL(LJ_ENODEV, "CUDA device %d: this llamajoule was built without CUDA", device);
}
#else
typedef int lj_device_memory_nocuda_unused;  // ISO C: a translation unit is not empty
#endif
