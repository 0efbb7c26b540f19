// Why no CUDA device can be used, in words a user can act on. Without a driver
// the CUDA runtime says "CUDA driver version is insufficient for CUDA runtime
// version", which reads as an old driver rather than no driver at all.
#pragma once
#ifdef __cplusplus
extern "C" {
#endif

// cuda_error: the cudaError_t of cudaGetDeviceCount (0 when it succeeded with no
// device); cuda_message: its cudaGetErrorString (may be NULL).
const char *lj_cuda_no_device_reason(int cuda_error, const char *cuda_message);
#ifdef __cplusplus
}
#endif
