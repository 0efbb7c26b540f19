// Opening a CUDA context on the GPU that a power source names (by NVML UUID,
// else PCI bus id), so idle power and calibration loads are measured on the
// right card in the state a real workload leaves it in (a context open keeps
// the GPU out of its deepest idle states). Only built with CUDA.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// Creates the primary context of the matching CUDA device (it stays open until
// the process exits) and returns its CUDA index. LJ_ENODEV when no CUDA device
// matches, naming the UUID.
int lj_cuda_context_open(const char *uuid, const char *pci_bus_id, int *cuda_index);

#ifdef __cplusplus
}
#endif
