// The FP8 fallback's scale pass, near HBM bandwidth: a grid of (column blocks, rows), so the row
// and column come from the block and thread indices (no division per element), and 16-byte loads
// and stores of 8 outputs with their 8 weight scales; x_scale[t] is read once per thread.
#include <stdint.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_scale.h"
#include "engine/cuda/row_grid.h"
#include "model/fp8_quant.h"

#define S_THREADS 256
#define S_BLOCKS 4096  // lj_row_grid: blocks to fill the GPU

static __global__ void __launch_bounds__(S_THREADS)
scale_outer_vec_kernel(__nv_bfloat16 *y, const float *x_scale, const float *w_scale, int n, int out) {
  int c = blockIdx.x * S_THREADS + threadIdx.x, out8 = out / 8;
  if (c >= out8) return;
  const float4 *w4 = reinterpret_cast<const float4 *>(w_scale) + 2 * c;
  float4 wa = w4[0], wb = w4[1];
  float w[8] = {wa.x, wa.y, wa.z, wa.w, wb.x, wb.y, wb.z, wb.w};
  for (int t = blockIdx.y; t < n; t += gridDim.y) {
    float xs = x_scale[t], v[8];
    bf16x8 *p = reinterpret_cast<bf16x8 *>(y + (size_t)t * out) + c;
    bf16x8_to_float(*p, v);
#pragma unroll
    for (int j = 0; j < 8; j++) v[j] = lj_fp8_scale_sum(v[j], w[j], xs);
    *p = float_to_bf16x8(v);
  }
}

static __global__ void __launch_bounds__(S_THREADS)
scale_outer_kernel(__nv_bfloat16 *y, const float *x_scale, const float *w_scale, int n, int out) {
  int o = blockIdx.x * S_THREADS + threadIdx.x;
  if (o >= out) return;
  float w = w_scale[o];
  for (int t = blockIdx.y; t < n; t += gridDim.y) {
    size_t i = (size_t)t * out + o;
    y[i] = __float2bfloat16(lj_fp8_scale_sum(__bfloat162float(y[i]), w, x_scale[t]));
  }
}

int lj_cuda_fp8_scale_outer(__nv_bfloat16 *y, const float *x_scale, const float *w_scale, int n, int out,
                            cudaStream_t stream) {
  if (n <= 0 || out <= 0) return 0;
  int vec = out % 8 == 0 && (uintptr_t)y % 16 == 0 && (uintptr_t)w_scale % 16 == 0;
  int cols = vec ? out / 8 : out;
  dim3 grid = lj_row_grid(cols, n, S_THREADS, S_BLOCKS);
  if (vec)
    scale_outer_vec_kernel<<<grid, S_THREADS, 0, stream>>>(y, x_scale, w_scale, n, out);
  else
    scale_outer_kernel<<<grid, S_THREADS, 0, stream>>>(y, x_scale, w_scale, n, out);
  CUDA_CHECK_LAUNCH("fp8 scale_outer");
  return 0;
}
