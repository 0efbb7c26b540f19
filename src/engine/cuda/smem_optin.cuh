// Dynamic shared memory past the default. Without the opt-in attribute a block may hold 48 KiB of
// shared memory, its static arrays and the dynamic part together: a launch past that fails with
// "invalid argument". So the test is static + dynamic, not dynamic alone (a kernel with 48 KiB of
// dynamic memory and one static array needs the opt-in). The attribute may be set during capture.
#pragma once
#include <cuda_runtime.h>

#define LJ_SMEM_DEFAULT_LIMIT (48u << 10)

// The kernel's static shared memory (0 when it cannot be read: the launch then reports the error).
// Callers keep it in a function-local static const, initialised once and thread-safely.
template <typename K>
static size_t lj_static_smem(K kernel) {
  cudaFuncAttributes fa;
  return cudaFuncGetAttributes(&fa, kernel) == cudaSuccess ? fa.sharedSizeBytes : 0;
}

// The opt-in where the kernel's static (static_bytes) and dynamic shared memory need it.
template <typename K>
static cudaError_t lj_smem_optin(K kernel, size_t static_bytes, size_t dynamic) {
  if (static_bytes + dynamic <= LJ_SMEM_DEFAULT_LIMIT) return cudaSuccess;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)dynamic);
}
