// Sampling, one block of 1024 threads per row.
//   argmax: block reduction of (value, index).
//   top-k:  the k-th largest s_i = (x_i - max) / T by bisection on s in [-88, 0] (30
//           halvings: p = exp(s) resolved to 1e-7 relative), tokens below it dropped;
//   top-p:  p_i = exp((x_i - max) / T) in (0, 1]; the cut-off t is found by
//           bisection (24 halvings) as the largest t with sum_{p_i >= t} p_i >=
//           top_p * Z; then a uniform u in [0, kept mass) picks the token by an
//           ordered prefix sum: each thread owns a contiguous slice of the vocabulary.
//   A row holding a NaN or an infinity: LJ_CUDA_SAMPLE_NONFINITE.
#include <math.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/sampling.h"
#include "model/random_init.h"

#define SAMPLE_THREADS 1024

static __global__ void __launch_bounds__(SAMPLE_THREADS)
sample_kernel(int *out_tokens, const float *logits, int vocab, float temperature, float top_p, int top_k,
              uint64_t seed, const int *step) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  __shared__ float scratch[32];
  __shared__ float f_sh[32];
  __shared__ int i_sh[32];
  __shared__ float prefix[SAMPLE_THREADS];
  const float *x = logits + (size_t)blockIdx.x * vocab;
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  // argmax (also the max for the softmax)
  float best = -INFINITY;
  int best_i = vocab;
  int bad = 0;
  for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
    float v = x[i];
    bad |= !isfinite(v);
    if (v > best || (v == best && i < best_i)) best = v, best_i = i;  // NaN never wins
  }
  // A NaN or an infinity makes every probability NaN: the row gets no token
  // (LJ_CUDA_SAMPLE_NONFINITE) and the host turns it into an error.
  if (__syncthreads_or(bad)) {
    if (threadIdx.x == 0) out_tokens[blockIdx.x] = LJ_CUDA_SAMPLE_NONFINITE;
    return;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float v = __shfl_xor_sync(0xffffffffu, best, o);
    int j = __shfl_xor_sync(0xffffffffu, best_i, o);
    if (v > best || (v == best && j < best_i)) best = v, best_i = j;
  }
  if (lane == 0) f_sh[warp] = best, i_sh[warp] = best_i;
  __syncthreads();
  if (warp == 0) {
    best = f_sh[lane];
    best_i = i_sh[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      float v = __shfl_xor_sync(0xffffffffu, best, o);
      int j = __shfl_xor_sync(0xffffffffu, best_i, o);
      if (v > best || (v == best && j < best_i)) best = v, best_i = j;
    }
    if (lane == 0) f_sh[0] = best, i_sh[0] = best_i;
  }
  __syncthreads();
  float mx = f_sh[0];
  int arg = i_sh[0] < vocab ? i_sh[0] : 0;
  if (temperature <= 0.0f || !(mx > -INFINITY)) {
    if (threadIdx.x == 0) out_tokens[blockIdx.x] = arg;
    return;
  }
  float inv_t = 1.0f / temperature;
  float z = 0.0f;
  for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) z += __expf((x[i] - mx) * inv_t);
  z = block_sum(z, scratch);
  float cut = 0.0f;  // keep p >= cut
  if (top_k > 0 && top_k < vocab) {
    float lo = -88.0f, hi = 0.0f;  // count(s >= hi) >= 1; below -88, exp(s) is 0 in fp32
    for (int it = 0; it < 30; it++) {
      float mid = 0.5f * (lo + hi), cnt = 0.0f;
      for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) cnt += (x[i] - mx) * inv_t >= mid ? 1.0f : 0.0f;
      cnt = block_sum(cnt, scratch);  // exact: counts < 2^24
      if (cnt >= (float)top_k) lo = mid; else hi = mid;
    }
    cut = __expf(lo);
    float kept = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
      float p = __expf((x[i] - mx) * inv_t);
      kept += p >= cut ? p : 0.0f;
    }
    z = block_sum(kept, scratch);  // top-p applies to what top-k kept (HF's order)
  }
  if (top_p < 1.0f) {
    float target = top_p * z, lo = cut, hi = 1.0f;  // mass(lo) >= target always
    for (int it = 0; it < 24; it++) {
      float mid = 0.5f * (lo + hi), mass = 0.0f;
      for (int i = threadIdx.x; i < vocab; i += SAMPLE_THREADS) {
        float p = __expf((x[i] - mx) * inv_t);
        mass += p >= mid ? p : 0.0f;
      }
      mass = block_sum(mass, scratch);
      if (mass >= target) lo = mid; else hi = mid;
    }
    cut = lo;
  }
  // Ordered prefix sum over contiguous slices.
  int per = (vocab + SAMPLE_THREADS - 1) / SAMPLE_THREADS;
  int i0 = threadIdx.x * per, i1 = min(i0 + per, vocab);
  float mine = 0.0f;
  for (int i = i0; i < i1; i++) {
    float p = __expf((x[i] - mx) * inv_t);
    mine += p >= cut ? p : 0.0f;
  }
  prefix[threadIdx.x] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {  // 1024 adds: cheap next to the passes over the vocabulary
    float acc = 0.0f;
    for (int t = 0; t < SAMPLE_THREADS; t++) {
      float v = prefix[t];
      prefix[t] = acc;
      acc += v;
    }
    uint64_t h = lj_splitmix64(seed ^ lj_splitmix64(((uint64_t)(uint32_t)*step << 32) ^ blockIdx.x));
    f_sh[0] = (float)(h >> 40) * (1.0f / 16777216.0f) * acc;  // u in [0, kept mass)
    i_sh[0] = arg;  // fallback if rounding leaves u past the last kept token
    i_sh[1] = -1;
  }
  __syncthreads();
  float u = f_sh[0];
  float acc = prefix[threadIdx.x];
  if (u >= acc && u < acc + mine) {
    for (int i = i0; i < i1; i++) {
      float p = __expf((x[i] - mx) * inv_t);
      if (p < cut) continue;
      acc += p;
      if (u < acc) {
        i_sh[1] = i;
        break;
      }
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) out_tokens[blockIdx.x] = i_sh[1] >= 0 && i_sh[1] < vocab ? i_sh[1] : i_sh[0];
}

int lj_cuda_sample(int *out_tokens, const float *logits, int n_rows, int vocab, float temperature,
                   float top_p, int top_k, uint64_t seed, const int *step, cudaStream_t stream) {
  if (n_rows <= 0) return 0;
  lj_launch(sample_kernel, dim3(n_rows), dim3(SAMPLE_THREADS), 0, stream, out_tokens, logits, vocab, temperature,
                                                      top_p, top_k, seed, step);
  CUDA_CHECK_LAUNCH("sample");
  return 0;
}
