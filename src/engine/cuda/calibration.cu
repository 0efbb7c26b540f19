// The known-answer calibration stage: a device-to-device copy of a fixed size,
// run after each layer's o_proj while it is on. Its energy per call can be
// measured alone in long windows; a method that attributes the layer's energy
// must then give it back when it runs inside the real layer (the profile's
// known-answer check). It reads and writes only its own blocks, one pair per
// layer, so the run's activations are untouched and the copies stream from HBM
// as the weights do (one pair reused by every layer would sit in the L2).
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

void lj_cuda_calibration_release(lj_cuda_engine *e) {
  if (e->calib_mem) cudaFree(e->calib_mem);
  e->calib_mem = NULL;
  e->calib_bytes = 0;
}

int lj_cuda_set_calibration(lj_cuda_engine *e, int64_t bytes) {
  if (bytes < 0) return LJ_FAIL(LJ_EINVAL, "calibration copy of %lld bytes: expected >= 0", (long long)bytes);
  if (bytes == e->calib_bytes) return 0;
  LJ_TRY(lj_cuda_synchronize(e));
  lj_cuda_calibration_release(e);
  lj_cuda_drop_graph(e);
  if (bytes == 0) return 0;
  size_t total = (size_t)bytes * 2 * (size_t)e->cfg.n_layers;
  cudaError_t err = cudaMalloc(&e->calib_mem, total);
  if (err != cudaSuccess) {
    e->calib_mem = NULL;
    return LJ_FAIL(LJ_ECUDA, "calibration copy: %zu bytes of device memory: %s", total, cudaGetErrorString(err));
  }
  // Defined contents (a copy of zeros moves as many bytes as any other).
  CUDA_CHECK(cudaMemsetAsync(e->calib_mem, 0, total, e->stream));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  e->calib_bytes = bytes;
  return 0;
}

int lj_cuda_calibration_run(lj_cuda_engine *e, int layer) {
  if (e->calib_bytes <= 0) return 0;
  char *base = (char *)e->calib_mem + (size_t)e->calib_bytes * 2 * (size_t)layer;
  CUDA_CHECK(cudaMemcpyAsync(base + e->calib_bytes, base, (size_t)e->calib_bytes, cudaMemcpyDeviceToDevice,
                             e->stream));
  return 0;
}
