// The spacer: a replay-only stage that keeps the GPU idle for a set time at a point of a stage
// order (one warp sleeping on the global timer; no HBM traffic, no tensor cores). Put where a
// stage was left out, it tells time from work: if the layer without stage X but with a spacer of
// X's duration costs what the whole layer costs less X's own energy, the neighbours' power rose
// because they ran closer together, not because X was gone (bench_spacer, docs/findings.md §6).
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

static __global__ void spacer_kernel(long long ns) {
  long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    __nanosleep(100);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

int lj_cuda_set_spacer(lj_cuda_engine *e, int64_t ns) {
  if (ns < 0 || ns > 1000000000LL)
    return LJ_FAIL(LJ_EINVAL, "spacer of %lld ns: expected 0 .. 1 s", (long long)ns);
  e->spacer_ns = ns;
  return 0;
}

int lj_cuda_spacer_run(lj_cuda_engine *e) {
  if (e->spacer_ns <= 0) return 0;
  spacer_kernel<<<1, 32, 0, e->stream>>>((long long)e->spacer_ns);
  CUDA_CHECK(cudaGetLastError());
  return 0;
}
