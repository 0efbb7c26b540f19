// Free and total memory of one CUDA device, asked before a model is loaded, so
// that a caller can check a memory plan (memory_plan.h) without allocating.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// 0 with *free_bytes and *total_bytes; LJ_ENODEV without CUDA or the device.
int lj_cuda_device_memory(int device, int64_t *free_bytes, int64_t *total_bytes);

#ifdef __cplusplus
}
#endif
