// RMSNorm with the residual add fused in: one block per row, the row held in
// registers between the sum of squares and the scaling (one read of x and
// delta, one write of x_out and y). 16-byte accesses; dim % 8 == 0 required
// (every Llama 3 width and the test models satisfy it).
#include "engine/cuda/rmsnorm.h"

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"

#define RMS_THREADS 256
#define RMS_MAX_CHUNKS 4  // up to 256 * 8 * 4 = 8192 elements per row in registers

static __global__ void __launch_bounds__(RMS_THREADS)
rmsnorm_kernel(__nv_bfloat16 *y, __nv_bfloat16 *x_out, const __nv_bfloat16 *x_in,
               const __nv_bfloat16 *delta, const __nv_bfloat16 *w, const int *rows, int dim,
               float eps) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  __shared__ float scratch[32];
  int r = blockIdx.x;
  int src = rows ? rows[r] : r;
  int n8 = dim / 8;
  const bf16x8 *xi = reinterpret_cast<const bf16x8 *>(x_in + (size_t)src * dim);
  const bf16x8 *di = delta ? reinterpret_cast<const bf16x8 *>(delta + (size_t)src * dim) : nullptr;
  float v[RMS_MAX_CHUNKS][8];
  float ss = 0.0f;
#pragma unroll
  for (int k = 0; k < RMS_MAX_CHUNKS; k++) {
    int c = threadIdx.x + k * RMS_THREADS;
    if (c < n8) {
      bf16x8 a = xi[c];
      bf16x8_to_float(a, v[k]);
      if (di) {
        float d[8];
        bf16x8_to_float(di[c], d);
#pragma unroll
        for (int j = 0; j < 8; j++) v[k][j] = __bfloat162float(__float2bfloat16(v[k][j] + d[j]));
      }
#pragma unroll
      for (int j = 0; j < 8; j++) ss += v[k][j] * v[k][j];
    }
  }
  ss = block_sum(ss, scratch);
  float rstd = rsqrtf(ss / (float)dim + eps);
  const bf16x8 *w8 = reinterpret_cast<const bf16x8 *>(w);
  bf16x8 *xo = x_out ? reinterpret_cast<bf16x8 *>(x_out + (size_t)src * dim) : nullptr;
  bf16x8 *yo = reinterpret_cast<bf16x8 *>(y + (size_t)r * dim);
#pragma unroll
  for (int k = 0; k < RMS_MAX_CHUNKS; k++) {
    int c = threadIdx.x + k * RMS_THREADS;
    if (c < n8) {
      if (xo) xo[c] = float_to_bf16x8(v[k]);
      float wf[8], o[8];
      bf16x8_to_float(w8[c], wf);
#pragma unroll
      for (int j = 0; j < 8; j++) o[j] = wf[j] * __bfloat162float(__float2bfloat16(v[k][j] * rstd));
      yo[c] = float_to_bf16x8(o);
    }
  }
}

int lj_cuda_rmsnorm(__nv_bfloat16 *y, __nv_bfloat16 *x_out, const __nv_bfloat16 *x_in,
                    const __nv_bfloat16 *delta, const __nv_bfloat16 *w, const int *rows,
                    int n_rows, int dim, float eps, cudaStream_t stream) {
  if (dim % 8 != 0 || dim > RMS_THREADS * 8 * RMS_MAX_CHUNKS)
    return LJ_FAIL(LJ_EUNSUPPORTED, "rmsnorm: dim %d must be a multiple of 8 and at most %d", dim,
                   RMS_THREADS * 8 * RMS_MAX_CHUNKS);
  if (n_rows <= 0) return 0;
  lj_launch(rmsnorm_kernel, dim3(n_rows), dim3(RMS_THREADS), 0, stream, y, x_out, x_in, delta, w, rows, dim, eps);
  CUDA_CHECK_LAUNCH("rmsnorm");
  return 0;
}
