#include "loadgen/cuda_context.h"

#include <cuda_runtime.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

extern "C" {  // a C header without its own guard
#include "common/error.h"
#include "engine/cuda/no_device_reason.h"
}

// NVML writes "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; CUDA gives the 16 bytes.
static void format_uuid(const cudaUUID_t &u, char *buf, size_t cap) {
  const unsigned char *b = (const unsigned char *)u.bytes;
  snprintf(buf, cap, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
           b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

// "00000000:18:00.0" (NVML) vs domain/bus/device numbers (CUDA).
static int same_pci(const char *nvml_bus_id, const cudaDeviceProp &p) {
  unsigned domain = 0, bus = 0, device = 0;
  if (!nvml_bus_id || sscanf(nvml_bus_id, "%x:%x:%x", &domain, &bus, &device) != 3) return 0;
  return (int)domain == p.pciDomainID && (int)bus == p.pciBusID && (int)device == p.pciDeviceID;
}

extern "C" int lj_cuda_context_open(const char *uuid, const char *pci_bus_id, int *cuda_index) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess)
    return LJ_FAIL(LJ_ENODEV, "CUDA: no usable GPU (%s)", lj_cuda_no_device_reason(e, cudaGetErrorString(e)));
  for (int i = 0; i < n; i++) {
    cudaDeviceProp p;
    if ((e = cudaGetDeviceProperties(&p, i)) != cudaSuccess)
      return LJ_FAIL(LJ_ECUDA, "CUDA: cudaGetDeviceProperties(%d): %s", i, cudaGetErrorString(e));
    char cuda_uuid[64];
    format_uuid(p.uuid, cuda_uuid, sizeof cuda_uuid);
    int match = (uuid && uuid[0]) ? !strcasecmp(uuid, cuda_uuid) : same_pci(pci_bus_id, p);
    if (!match) continue;
    if ((e = cudaSetDevice(i)) != cudaSuccess || (e = cudaFree(0)) != cudaSuccess)
      return LJ_FAIL(LJ_ECUDA, "CUDA: opening a context on device %d (%s): %s", i, cuda_uuid, cudaGetErrorString(e));
    *cuda_index = i;
    return 0;
  }
  return LJ_FAIL(LJ_ENODEV, "CUDA: none of the %d visible CUDA devices is %s (%s)", n, uuid ? uuid : "?",
                 pci_bus_id ? pci_bus_id : "?");
}
