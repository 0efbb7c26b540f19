// cudaMemGetInfo on the device (device_memory.h).
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_memory.h"

extern "C" int lj_cuda_device_memory(int device, int64_t *free_bytes, int64_t *total_bytes) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || device < 0 || device >= n) {
    cudaGetLastError();  // clear the sticky "no driver" error for later calls
    return LJ_FAIL(LJ_ENODEV, "CUDA device %d: not found (%d devices)", device, n);
  }
  CUDA_CHECK(cudaSetDevice(device));
  size_t f = 0, t = 0;
  CUDA_CHECK(cudaMemGetInfo(&f, &t));
  *free_bytes = (int64_t)f, *total_bytes = (int64_t)t;
  return 0;
}
