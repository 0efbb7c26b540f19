// Programmatic dependent launch (Hopper): a kernel launched with it may start
// while the previous kernel in the stream is finishing; it prefetches what does
// not depend on that kernel (weights) and then waits (pdl_wait) before it reads
// activations or writes anything. In a decode step of ~170 small kernels this
// hides most of the gap between kernels.
#pragma once

// Process-wide switch (default on), so benchmarks can compare; captured graphs keep
// the setting they were captured with.
#ifdef __cplusplus
extern "C" {
#endif
void lj_cuda_set_pdl(int on);
int lj_cuda_pdl_enabled(void);
#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#include <cuda_runtime.h>

// Waits until the previous kernel has completed and its writes are visible
// (a no-op when the kernel was launched without the attribute).
static __device__ __forceinline__ void pdl_wait(void) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel be scheduled once every block of this one has called it.
static __device__ __forceinline__ void pdl_trigger(void) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

// Launches kernel<<<grid, block, smem, stream>>>(args...) with programmatic
// stream serialization when enabled.
template <typename... KArgs, typename... Args>
static cudaError_t lj_launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = lj_cuda_pdl_enabled() ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
}
#endif
