#include "engine/cuda/tp_comm.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/nccl_api.h"
#include "engine/cuda/tp_sum.h"
extern "C" {
#include "common/error.h"
}
#ifdef LJ_HAVE_NCCL_H
#include <nccl.h>
#endif

struct lj_tp_comm {
  int backend, n;
  int average;            // lj_tp_comm_set_average
  int device;             // loopback: the one device
  char describe[768];
  // loopback
  cudaEvent_t ev[LJ_TP_MAX_RANKS];
  uint16_t **d_parts;     // device copy of the buffer pointers (n)
  void *h_parts[LJ_TP_MAX_RANKS];
  // nccl
  lj_nccl_api api;
  void *comms[LJ_TP_MAX_RANKS];  // ncclComm_t
};

int lj_tp_comm_ranks(const lj_tp_comm *c) { return c->n; }
void lj_tp_comm_set_average(lj_tp_comm *c, int on) { c->average = on != 0; }
int lj_tp_comm_backend(const lj_tp_comm *c) { return c->backend; }
int lj_tp_comm_device(const lj_tp_comm *c, int rank) { return c->backend == LJ_TP_BACKEND_NCCL ? rank : c->device; }
const char *lj_tp_comm_describe(const lj_tp_comm *c) { return c->describe; }

#ifdef LJ_HAVE_NCCL_H
typedef ncclResult_t (*init_all_fn)(ncclComm_t *, int, const int *);
typedef ncclResult_t (*destroy_fn)(ncclComm_t);
typedef ncclResult_t (*all_reduce_fn)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                                      cudaStream_t);
typedef ncclResult_t (*group_fn)(void);
typedef const char *(*error_string_fn)(ncclResult_t);

static int nccl_fail(const lj_tp_comm *c, ncclResult_t r, const char *what) {
  const char *msg = ((error_string_fn)c->api.get_error_string)(r);
  return LJ_FAIL(LJ_ECUDA, "NCCL %s: %s (error %d)", what, msg ? msg : "?", (int)r);
}

static int nccl_create(lj_tp_comm *c) {
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess) n_dev = 0, cudaGetLastError();
  if (n_dev < c->n)
    return LJ_FAIL(LJ_EINVAL, "--tp %d over NCCL needs %d GPUs (one per rank); %d visible "
                   "(--tp-backend loopback runs every rank on one GPU, for testing)", c->n, c->n, n_dev);
  LJ_TRY(lj_nccl_api_load(&c->api));
  const char *nvls = lj_nccl_nvls_default();
  int devs[LJ_TP_MAX_RANKS];
  for (int r = 0; r < c->n; r++) devs[r] = r;
  ncclResult_t res = ((init_all_fn)c->api.comm_init_all)((ncclComm_t *)c->comms, c->n, devs);
  if (res != ncclSuccess) return nccl_fail(c, res, "ncclCommInitAll");
  char ver[32];
  lj_nccl_version_string(c->api.version, ver, sizeof ver);
  snprintf(c->describe, sizeof c->describe, "nccl %s from %s, %d ranks on devices 0..%d, NCCL_NVLS_ENABLE=%s", ver,
           c->api.path, c->n, c->n - 1, nvls);
  return 0;
}

static int nccl_allreduce(lj_tp_comm *c, void *const *bufs, size_t count, void *const *streams) {
  ncclResult_t res = ((group_fn)c->api.group_start)();
  if (res != ncclSuccess) return nccl_fail(c, res, "ncclGroupStart");
  ncclResult_t first = ncclSuccess;
  for (int r = 0; r < c->n; r++) {
    res = ((all_reduce_fn)c->api.all_reduce)(bufs[r], bufs[r], count, ncclBfloat16, c->average ? ncclAvg : ncclSum,
                                              (ncclComm_t)c->comms[r],
                                              (cudaStream_t)streams[r]);
    if (first == ncclSuccess) first = res;
  }
  res = ((group_fn)c->api.group_end)();
  if (first != ncclSuccess) return nccl_fail(c, first, "ncclAllReduce");
  if (res != ncclSuccess) return nccl_fail(c, res, "ncclGroupEnd");
  return 0;
}
#else
static int nccl_create(lj_tp_comm *c) {
  (void)c;
  return LJ_FAIL(LJ_EUNSUPPORTED, "--tp-backend nccl: this build had no nccl.h (the CUDA toolkit's); "
                 "--tp-backend loopback runs every rank on one GPU");
}
static int nccl_allreduce(lj_tp_comm *c, void *const *bufs, size_t count, void *const *streams) {
  (void)c, (void)bufs, (void)count, (void)streams;
  return LJ_FAIL(LJ_EUNSUPPORTED, "NCCL all-reduce: built without nccl.h");
}
#endif

static __global__ void loopback_sum_kernel(uint16_t *const *parts, int n, size_t count, int average) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count; i += (size_t)gridDim.x * blockDim.x) {
    uint16_t s = lj_tp_sum_bf16(parts, n, i);
    if (average) s = __bfloat16_as_ushort(__float2bfloat16(__uint_as_float((unsigned)s << 16) / (float)n));
    for (int r = 0; r < n; r++) parts[r][i] = s;
  }
}

static int loopback_create(lj_tp_comm *c) {
  CUDA_CHECK(cudaSetDevice(c->device));
  for (int r = 0; r < c->n; r++) CUDA_CHECK(cudaEventCreateWithFlags(&c->ev[r], cudaEventDisableTiming));
  CUDA_CHECK(cudaMalloc((void **)&c->d_parts, sizeof(uint16_t *) * (size_t)c->n));
  snprintf(c->describe, sizeof c->describe, "loopback: %d ranks on device %d (a test device: the ranks take turns)",
           c->n, c->device);
  return 0;
}

// The rank-0 stream waits for every rank's partial, sums, then every rank's stream waits for the sum.
static int loopback_allreduce(lj_tp_comm *c, void *const *bufs, size_t count, void *const *streams) {
  cudaStream_t s0 = (cudaStream_t)streams[0];
  int changed = 0;
  for (int r = 0; r < c->n; r++) changed |= c->h_parts[r] != bufs[r];
  if (changed) {  // the engines' delta buffers do not move: uploaded once
    memcpy(c->h_parts, bufs, sizeof(void *) * (size_t)c->n);
    CUDA_CHECK(cudaMemcpyAsync(c->d_parts, c->h_parts, sizeof(void *) * (size_t)c->n, cudaMemcpyHostToDevice, s0));
  }
  for (int r = 1; r < c->n; r++) {
    CUDA_CHECK(cudaEventRecord(c->ev[r], (cudaStream_t)streams[r]));
    CUDA_CHECK(cudaStreamWaitEvent(s0, c->ev[r], 0));
  }
  size_t blocks = (count + 255) / 256;
  unsigned grid = (unsigned)(blocks > 1024 ? 1024 : blocks ? blocks : 1);
  loopback_sum_kernel<<<grid, 256, 0, s0>>>(c->d_parts, c->n, count, c->average);
  CUDA_CHECK_LAUNCH("loopback_sum");
  CUDA_CHECK(cudaEventRecord(c->ev[0], s0));
  for (int r = 1; r < c->n; r++) CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)streams[r], c->ev[0], 0));
  return 0;
}

int lj_tp_comm_create(lj_tp_comm **out, int backend, int n_ranks, int device) {
  *out = NULL;
  if (n_ranks < 1 || n_ranks > LJ_TP_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "tensor-parallel degree %d outside 1 .. %d", n_ranks, LJ_TP_MAX_RANKS);
  if (backend != LJ_TP_BACKEND_NCCL && backend != LJ_TP_BACKEND_LOOPBACK)
    return LJ_FAIL(LJ_EINVAL, "unknown tensor-parallel backend %d", backend);
  lj_tp_comm *c = (lj_tp_comm *)calloc(1, sizeof *c);
  if (!c) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  c->backend = backend, c->n = n_ranks, c->device = device;
  int rc = backend == LJ_TP_BACKEND_NCCL ? nccl_create(c) : loopback_create(c);
  if (rc < 0) {
    lj_tp_comm_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void lj_tp_comm_free(lj_tp_comm *c) {
  if (!c) return;
#ifdef LJ_HAVE_NCCL_H
  for (int r = 0; r < c->n; r++)
    if (c->comms[r]) ((destroy_fn)c->api.comm_destroy)((ncclComm_t)c->comms[r]);
#endif
  // libnccl stays loaded (no dlclose): its proxy threads may still be winding down after
  // ncclCommDestroy, and unmapping their code under them would crash the process.
  for (int r = 0; r < c->n; r++)
    if (c->ev[r]) cudaEventDestroy(c->ev[r]);
  if (c->d_parts) cudaFree(c->d_parts);
  free(c);
}

int lj_tp_comm_allreduce_bf16(lj_tp_comm *c, void *const *bufs, size_t count, void *const *streams) {
  return c->backend == LJ_TP_BACKEND_NCCL ? nccl_allreduce(c, bufs, count, streams)
                                          : loopback_allreduce(c, bufs, count, streams);
}
