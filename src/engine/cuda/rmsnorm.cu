// RMSNorm with the residual add fused in: one block per row, the row held in
// registers between the sum of squares and the scaling (one read of x and
// delta, one write of x_out and y). 16-byte accesses; dim % 8 == 0 required
// (every Llama 3 width and the test models satisfy it). The FP8 prefill's variant
// also scales delta from an FP8 GEMM's unscaled sums and quantises y per token for
// the next FP8 GEMM, with the row still in registers (docs/engine-cuda.md, FP8).
#include <stdint.h>

#include "engine/cuda/bf16_util.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/fp8_quant.cuh"
#include "engine/cuda/pdl.h"
#include "engine/cuda/rmsnorm.h"
#include "model/fp8_quant.h"

#define RMS_THREADS 256
#define RMS_MAX_CHUNKS 4  // up to 256 * 8 * 4 = 8192 elements per row in registers

// delta_xs / delta_ws non-NULL: delta holds sums, each scaled and rounded to bf16 as the FP8
// GEMM's scale pass would (lj_fp8_scale_sum) before the add. q non-NULL: y's bf16 row quantised
// as lj_cuda_quantize_act does (amax of the bf16 values, lj_fp8_row_scale, the codes). y NULL:
// y is not written.
static __global__ void __launch_bounds__(RMS_THREADS)
rmsnorm_kernel(__nv_bfloat16 *y, uint8_t *q, float *q_scale, __nv_bfloat16 *x_out, const __nv_bfloat16 *x_in,
               const __nv_bfloat16 *delta, const float *delta_xs, const float *delta_ws, const __nv_bfloat16 *w,
               const int *rows, int dim, float eps) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  __shared__ float scratch[32];
  int r = blockIdx.x;
  int src = rows ? rows[r] : r;
  int n8 = dim / 8;
  const bf16x8 *xi = reinterpret_cast<const bf16x8 *>(x_in + (size_t)src * dim);
  const bf16x8 *di = delta ? reinterpret_cast<const bf16x8 *>(delta + (size_t)src * dim) : nullptr;
  float xs = delta_xs ? delta_xs[src] : 1.0f;
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
        if (delta_xs) {
          const float4 *w4 = reinterpret_cast<const float4 *>(delta_ws) + 2 * c;
          float4 s0 = w4[0], s1 = w4[1];
          float ws[8] = {s0.x, s0.y, s0.z, s0.w, s1.x, s1.y, s1.z, s1.w};
#pragma unroll
          for (int j = 0; j < 8; j++) d[j] = __bfloat162float(__float2bfloat16(lj_fp8_scale_sum(d[j], ws[j], xs)));
        }
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
  bf16x8 *yo = y ? reinterpret_cast<bf16x8 *>(y + (size_t)r * dim) : nullptr;
  uint4 yk[RMS_MAX_CHUNKS];  // y's bf16 bits, kept for the codes
  float amax = 0.0f;
#pragma unroll
  for (int k = 0; k < RMS_MAX_CHUNKS; k++) {
    int c = threadIdx.x + k * RMS_THREADS;
    if (c < n8) {
      if (xo) xo[c] = float_to_bf16x8(v[k]);
      float wf[8], o[8];
      bf16x8_to_float(w8[c], wf);
#pragma unroll
      for (int j = 0; j < 8; j++) o[j] = wf[j] * __bfloat162float(__float2bfloat16(v[k][j] * rstd));
      bf16x8 yb = float_to_bf16x8(o);
      if (yo) yo[c] = yb;
      if (q) {
        yk[k] = *reinterpret_cast<const uint4 *>(&yb);
        amax = fp8_amax8(yk[k], amax);
      }
    }
  }
  if (q) fp8_store_row<RMS_MAX_CHUNKS, RMS_THREADS>(q + (size_t)r * dim, q_scale + r, yk, amax, n8, scratch);
}

static int check_dim(int dim) {
  if (dim % 8 != 0 || dim > RMS_THREADS * 8 * RMS_MAX_CHUNKS)
    return LJ_FAIL(LJ_EUNSUPPORTED, "rmsnorm: dim %d must be a multiple of 8 and at most %d", dim,
                   RMS_THREADS * 8 * RMS_MAX_CHUNKS);
  return 0;
}

int lj_cuda_rmsnorm(__nv_bfloat16 *y, __nv_bfloat16 *x_out, const __nv_bfloat16 *x_in,
                    const __nv_bfloat16 *delta, const __nv_bfloat16 *w, const int *rows,
                    int n_rows, int dim, float eps, cudaStream_t stream) {
  LJ_TRY(check_dim(dim));
  if (n_rows <= 0) return 0;
  lj_launch(rmsnorm_kernel, dim3(n_rows), dim3(RMS_THREADS), 0, stream, y, (uint8_t *)nullptr, (float *)nullptr,
            x_out, x_in, delta, (const float *)nullptr, (const float *)nullptr, w, rows, dim, eps);
  CUDA_CHECK_LAUNCH("rmsnorm");
  return 0;
}

int lj_cuda_rmsnorm_fp8(__nv_bfloat16 *y, uint8_t *q, float *q_scale, __nv_bfloat16 *x_out,
                        const __nv_bfloat16 *x_in, const __nv_bfloat16 *delta, const float *delta_xs,
                        const float *delta_ws, const __nv_bfloat16 *w, const int *rows, int n_rows, int dim,
                        float eps, cudaStream_t stream) {
  LJ_TRY(check_dim(dim));
  if ((delta_xs != nullptr) != (delta_ws != nullptr) || (delta_xs && !delta) || (q != nullptr) != (q_scale != nullptr))
    return LJ_FAIL(LJ_EINVAL, "rmsnorm_fp8: delta's scales come as a pair with delta, the codes with their scales");
  if ((delta_ws && (uintptr_t)delta_ws % 16) || (q && (uintptr_t)q % 8))
    return LJ_FAIL(LJ_EUNSUPPORTED, "rmsnorm_fp8: delta's weight scales need 16-byte and the codes 8-byte alignment");
  if (n_rows <= 0) return 0;
  lj_launch(rmsnorm_kernel, dim3(n_rows), dim3(RMS_THREADS), 0, stream, y, q, q_scale, x_out, x_in, delta, delta_xs,
            delta_ws, w, rows, dim, eps);
  CUDA_CHECK_LAUNCH("rmsnorm_fp8");
  return 0;
}
