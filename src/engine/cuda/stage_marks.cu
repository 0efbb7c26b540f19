// In-situ stage intervals: a one-thread kernel stores the GPU's %globaltimer
// (ns) before each forward call's first stage and after every stage. Inside a
// captured decode graph the stamps become graph nodes and index their slot by
// the device step counter, so a whole generation is recorded without any host
// work between steps; the host reads the slots afterwards and maps them onto
// CLOCK_MONOTONIC with an offset measured at enable time.
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

static __device__ __forceinline__ unsigned long long global_ns(void) {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Plain launch (no programmatic serialisation): the stamp runs after the previous
// kernel has finished and the next kernel starts after it.
static __global__ void stamp_kernel(unsigned long long *marks, const int *step, int stride, int k, int cap_steps) {
  int s = step ? *step : 0;
  if (s >= 0 && s < cap_steps) marks[(size_t)s * stride + k] = global_ns();
}

static __global__ void stamp_one_kernel(unsigned long long *slot) { *slot = global_ns(); }

static int64_t host_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Offset host - GPU from the tightest of 32 launch-and-wait round trips.
static int calibrate(lj_cuda_engine *e) {
  unsigned long long *slot = e->d_marks + (size_t)e->marks_cap_steps * e->marks_stride;  // spare slot
  int64_t best_width = INT64_MAX, best_offset = 0;
  for (int i = 0; i < 32; i++) {
    int64_t t0 = host_ns();
    stamp_one_kernel<<<1, 1, 0, e->stream>>>(slot);
    CUDA_CHECK_LAUNCH("stamp");
    CUDA_CHECK(cudaStreamSynchronize(e->stream));
    int64_t t1 = host_ns();
    unsigned long long g = 0;
    CUDA_CHECK(cudaMemcpy(&g, slot, sizeof g, cudaMemcpyDeviceToHost));
    int64_t width = t1 - t0;  // integers: globaltimer is ~1.7e18 ns, beyond a double's ns resolution
    if (width < best_width) best_width = width, best_offset = t0 + width / 2 - (int64_t)g;
  }
  e->mark_offset_ns = best_offset;
  e->mark_offset_uncertainty_ns = 0.5 * (double)best_width;
  return 0;
}

int lj_cuda_marks_enable(lj_cuda_engine *e, int max_steps) {
  if (max_steps < 1) return LJ_FAIL(LJ_EINVAL, "marks for %d steps: need >= 1", max_steps);
  if (e->skip_mask) return LJ_FAIL(LJ_EINVAL, "stage marks need every stage to run (skip mask is 0x%x)", e->skip_mask);
  // start, embed, 9 stages per layer, final norm, LM head, sample, and spare slots
  int stride = 10 * e->cfg.n_layers + 8;
  if (!e->d_marks || e->marks_cap_steps < max_steps || e->marks_stride != stride) {
    lj_cuda_marks_release(e);
    size_t n = ((size_t)max_steps + 1) * stride;  // + the calibration slot
    CUDA_CHECK(cudaMalloc(&e->d_marks, n * sizeof(unsigned long long)));
    CUDA_CHECK(cudaMalloc(&e->d_mark_step, sizeof(int)));
    e->mark_stage = (lj_stage *)calloc((size_t)stride, sizeof(lj_stage));
    e->mark_layer = (int *)calloc((size_t)stride, sizeof(int));
    if (!e->mark_stage || !e->mark_layer) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
    e->marks_cap_steps = max_steps;
    e->marks_stride = stride;
  }
  CUDA_CHECK(cudaMemsetAsync(e->d_marks, 0, ((size_t)e->marks_cap_steps + 1) * stride * sizeof(unsigned long long),
                             e->stream));
  CUDA_CHECK(cudaMemsetAsync(e->d_mark_step, 0, sizeof(int), e->stream));
  LJ_TRY(calibrate(e));
  e->marks_on = 1;
  e->marks_prefill_n = e->marks_decode_n = 0;
  lj_cuda_drop_graph(e);
  return 0;
}

void lj_cuda_marks_disable(lj_cuda_engine *e) {
  if (!e->marks_on) return;
  e->marks_on = 0;
  lj_cuda_drop_graph(e);
}

void lj_cuda_marks_release(lj_cuda_engine *e) {
  if (e->d_marks) cudaFree(e->d_marks);
  if (e->d_mark_step) cudaFree(e->d_mark_step);
  free(e->mark_stage);
  free(e->mark_layer);
  e->d_marks = NULL, e->d_mark_step = NULL, e->mark_stage = NULL, e->mark_layer = NULL;
  e->marks_cap_steps = e->marks_stride = 0;
  e->marks_on = 0;
}

int lj_cuda_marks_set_step(lj_cuda_engine *e, int step) {
  if (!e->marks_on) return LJ_FAIL(LJ_EINVAL, "stage marks are not enabled");
  if (step < 0 || step >= e->marks_cap_steps)
    return LJ_FAIL(LJ_EINVAL, "mark step %d outside [0, %d)", step, e->marks_cap_steps);
  CUDA_CHECK(cudaMemcpyAsync(e->d_mark_step, &step, sizeof step, cudaMemcpyHostToDevice, e->stream));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  return 0;
}

static int stamp(lj_cuda_engine *e) {
  if (e->mark_k >= e->marks_stride)
    return LJ_FAIL(LJ_EINVAL, "internal: %d stage marks in one forward call (room for %d)", e->mark_k + 1,
                   e->marks_stride);
  stamp_kernel<<<1, 1, 0, e->stream>>>(e->d_marks, e->mark_step_ptr, e->marks_stride, e->mark_k, e->marks_cap_steps);
  CUDA_CHECK_LAUNCH("stamp");
  e->mark_k++;
  return 0;
}

int lj_cuda_mark_begin(lj_cuda_engine *e) {
  e->mark_k = 0;
  return stamp(e);
}

int lj_cuda_mark_after(lj_cuda_engine *e, lj_stage st, int layer) {
  if (e->mark_k <= 0) return 0;  // a stage run on its own, outside a forward call: not recorded
  e->mark_stage[e->mark_k] = st;
  e->mark_layer[e->mark_k] = layer;
  return stamp(e);
}

int lj_cuda_marks_read(lj_cuda_engine *e, int step, int decode, lj_cuda_mark_interval *out, int cap, int *n) {
  *n = 0;
  if (!e->d_marks) return LJ_FAIL(LJ_EINVAL, "stage marks were never enabled");
  if (step < 0 || step >= e->marks_cap_steps)
    return LJ_FAIL(LJ_EINVAL, "mark step %d outside [0, %d)", step, e->marks_cap_steps);
  int count = decode ? e->marks_decode_n : e->marks_prefill_n;
  if (count < 2) return LJ_FAIL(LJ_EINVAL, "no %s call ran with stage marks on", decode ? "decode" : "prefill");
  unsigned long long *h = (unsigned long long *)malloc(sizeof *h * (size_t)count);
  if (!h) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  cudaError_t err = cudaMemcpy(h, e->d_marks + (size_t)step * e->marks_stride, sizeof *h * (size_t)count,
                               cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) {
    free(h);
    return LJ_FAIL(LJ_ECUDA, "reading stage marks: %s", cudaGetErrorString(err));
  }
  int m = 0;
  for (int k = 1; k < count && m < cap; k++) {
    if (!h[k - 1] || !h[k]) continue;  // a slot this step never wrote
    out[m].stage = e->mark_stage[k];
    out[m].layer = e->mark_layer[k];
    out[m].begin_ns = (int64_t)h[k - 1] + e->mark_offset_ns;
    // Stamps run on different SMs: a few ns of skew can order two stamps of a
    // very short stage backwards. Such a stage gets a zero-length interval.
    out[m].end_ns = h[k] >= h[k - 1] ? (int64_t)h[k] + e->mark_offset_ns : out[m].begin_ns;
    m++;
  }
  free(h);
  *n = m;
  return 0;
}

double lj_cuda_marks_alignment_ns(const lj_cuda_engine *e) { return e->mark_offset_uncertainty_ns; }
