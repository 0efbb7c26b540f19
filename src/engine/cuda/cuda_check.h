// Return-code checks for the CUDA runtime and cuBLASLt. Every failure is
// recorded with LJ_FAIL naming the call, the file and the line, so the user
// sees "cudaMalloc(...) failed: out of memory (src/engine/cuda/x.cu:12)".
#pragma once
#include <cuda_runtime.h>
#include <cublasLt.h>

extern "C" {  // C headers of the project (C linkage)
#include "common/error.h"
}

#define CUDA_CHECK(call)                                                                    \
  do {                                                                                      \
    cudaError_t lj_cuda_rc_ = (call);                                                       \
    if (lj_cuda_rc_ != cudaSuccess)                                                         \
      return LJ_FAIL(lj_cuda_rc_ == cudaErrorMemoryAllocation ? LJ_ENOMEM : LJ_ECUDA,       \
                     "%s failed: %s (%s:%d)", #call, cudaGetErrorString(lj_cuda_rc_),       \
                     __FILE__, __LINE__);                                                   \
  } while (0)

// After a kernel launch: launch-configuration errors show up here.
#define CUDA_CHECK_LAUNCH(what) CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(call)                                                                  \
  do {                                                                                      \
    cublasStatus_t lj_cublas_rc_ = (call);                                                  \
    if (lj_cublas_rc_ != CUBLAS_STATUS_SUCCESS)                                             \
      return LJ_FAIL(LJ_ECUDA, "%s failed: cuBLAS status %d (%s) (%s:%d)", #call,           \
                     (int)lj_cublas_rc_, cublasLtGetStatusName(lj_cublas_rc_), __FILE__,    \
                     __LINE__);                                                             \
  } while (0)
