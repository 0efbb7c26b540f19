// The all-reduce of a tensor-parallel group (docs/tensor-parallel.md §6). Two backends:
//   nccl      one rank per GPU (devices 0 .. N-1), ncclCommInitAll, ncclAllReduce in bf16 (sum) on
//             each rank's stream inside one ncclGroupStart/End from the one host thread that
//             drives every rank; NCCL is dlopened (nccl_api.h). Degree 1 on one GPU works too.
//   loopback  all N ranks on ONE GPU, a test device (not a performance mode): one kernel adds the
//             N ranks' partial buffers in fp32 in rank order 0 + 1 + 2 ... (tp_sum.h, as the CPU
//             emulation adds them) and writes the bf16 sum to every rank's buffer, on rank 0's
//             stream, ordered against the other ranks' streams by events.
// Plain C API.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LJ_TP_BACKEND_NCCL = 0, LJ_TP_BACKEND_LOOPBACK = 1 } lj_tp_backend;
#define LJ_TP_MAX_RANKS 64

// "nccl" / "loopback"; parse: LJ_EINVAL naming the accepted values (tp_backend.c, in every build).
const char *lj_tp_backend_name(int backend);
int lj_tp_backend_parse(const char *name, int *out);

typedef struct lj_tp_comm lj_tp_comm;
// N ranks: nccl on devices 0 .. N-1 (LJ_EINVAL when fewer are visible; LJ_ENODEV naming the paths
// tried when NCCL does not load), loopback all on `device`. NCCL_NVLS_ENABLE is set to 0 first
// unless the user set it.
int lj_tp_comm_create(lj_tp_comm **out, int backend, int n_ranks, int device);
void lj_tp_comm_free(lj_tp_comm *c);
int lj_tp_comm_ranks(const lj_tp_comm *c);
int lj_tp_comm_backend(const lj_tp_comm *c);
// The CUDA device rank r runs on.
int lj_tp_comm_device(const lj_tp_comm *c, int rank);
// One line: the backend, and for nccl its version, the library path and NCCL_NVLS_ENABLE.
const char *lj_tp_comm_describe(const lj_tp_comm *c);
// In place: bufs[r] (count bf16 on rank r's device) becomes the sum over ranks, for every r;
// enqueued on streams[r] (cudaStream_t), asynchronous.
int lj_tp_comm_allreduce_bf16(lj_tp_comm *c, void *const *bufs, size_t count, void *const *streams);
// On: the all-reduce averages instead of summing (ncclAvg; loopback divides the sum by N), the
// same traffic and work. For a replay of the all-reduce stage alone, which would otherwise
// multiply the buffer by N on every call (inf within ~130 calls at degree 2) and leave every later
// replay computing on inf and NaN; an average of equal buffers leaves them as they are.
void lj_tp_comm_set_average(lj_tp_comm *c, int on);

#ifdef __cplusplus
}
#endif
