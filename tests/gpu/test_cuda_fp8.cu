// FP8 weights on the GPU: the E4M3 encoder against the host's and CUDA's intrinsic
// (__nv_cvt_float_to_fp8, __NV_SATFINITE, __NV_E4M3); per-row quantisation bit-identical to
// the host quantiser; the prefill's activation quantisation and fallback scale pass bit-identical
// to the host arithmetic on odd shapes, and gate|up's scaling and down's quantisation folded into
// SwiGLU equal to the unfolded path (kernels and the whole model's logits); the FP8 GEMV (every variant, the model shapes of 1B/8B/70B) and the cuBLASLt
// FP8 GEMM (also its fallback, forced) against float64 host references on the same codes; the FP8
// engine against the CPU FP8 reference (same quantised weights), with every GEMV variant.
#include <cuda_fp8.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka has no C++ guards
#include <cmocka.h>
}

#include "gpu_test_util.h"
#include "../fp8_gemm_bound.h"
extern "C" {
#include "common/error.h"
#include "engine/cpu/cpu_engine.h"
#include "model/fp8_quant.h"
#include "model/weights.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/fp8_scale.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/cuda/gemv_fp8.h"
#include "engine/cuda/rmsnorm.h"
#include "engine/cuda/swiglu.h"
#include "engine/cuda/weight_fp8.h"

static __global__ void intrinsic_kernel(uint8_t *out, const float *in, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    out[i] = (uint8_t)__nv_cvt_float_to_fp8(in[i], __NV_SATFINITE, __NV_E4M3);
}

static void test_encoder(void **state) {
  (void)state;
  size_t n = 65536 + 1000000;
  float *h = (float *)malloc(n * 4);
  for (size_t i = 0; i < 65536; i++) h[i] = lj_bf16_to_f32((uint16_t)i);  // every bf16 value
  for (size_t i = 65536; i < n; i++) h[i] = 600.0f * lj_random_unit(3, 9, i) * lj_random_unit(4, 9, i);
  float *d = (float *)dev_copy(h, n * 4);
  uint8_t *a, *b;
  GPU_OK(cudaMalloc(&a, n));
  GPU_OK(cudaMalloc(&b, n));
  assert_int_equal(lj_cuda_e4m3_encode(a, d, n, 0), 0);
  intrinsic_kernel<<<1024, 256>>>(b, d, n);
  GPU_OK(cudaDeviceSynchronize());
  uint8_t *ha = (uint8_t *)malloc(n), *hb = (uint8_t *)malloc(n);
  GPU_OK(cudaMemcpy(ha, a, n, cudaMemcpyDeviceToHost));
  GPU_OK(cudaMemcpy(hb, b, n, cudaMemcpyDeviceToHost));
  size_t bad_host = 0, bad_intr = 0;
  for (size_t i = 0; i < n; i++) {
    if (ha[i] != lj_f32_to_e4m3(h[i])) bad_host++;
    int nan = (ha[i] & 0x7F) == 0x7F;
    if (nan ? (hb[i] & 0x7F) != 0x7F : ha[i] != hb[i]) {
      if (bad_intr < 5) printf("  %.9g: ours 0x%02X, intrinsic 0x%02X\n", (double)h[i], ha[i], hb[i]);
      bad_intr++;
    }
  }
  printf("e4m3 encoder: %zu values, %zu differ from the CPU encoder, %zu from __nv_cvt_float_to_fp8\n", n, bad_host,
         bad_intr);
  assert_int_equal(bad_host, 0);
  assert_int_equal(bad_intr, 0);
  free(h), free(ha), free(hb);
  cudaFree(d), cudaFree(a), cudaFree(b);
}

// Host quantisation of rows of bf16 values (model/fp8_quant.h).
static void host_quant(const __nv_bfloat16 *w, int rows, int cols, uint8_t *q, float *s) {
  for (int r = 0; r < rows; r++) {
    float amax = 0;
    for (int i = 0; i < cols; i++) amax = fmaxf(amax, fabsf(__bfloat162float(w[(size_t)r * cols + i])));
    s[r] = lj_fp8_row_scale(amax);
    for (int i = 0; i < cols; i++) q[(size_t)r * cols + i] = lj_fp8_quantize(__bfloat162float(w[(size_t)r * cols + i]), s[r]);
  }
}

static void test_quantize_rows(void **state) {
  (void)state;
  int rows = 77, cols = 4096;
  size_t n = (size_t)rows * cols;
  __nv_bfloat16 *h = (__nv_bfloat16 *)malloc(n * 2);
  random_bf16(h, n, 11, 0.05f);
  for (int i = 0; i < cols; i++) h[(size_t)5 * cols + i] = __float2bfloat16(0.0f);  // an all-zero row: scale 1
  uint8_t *hq = (uint8_t *)malloc(n), *gq = (uint8_t *)malloc(n);
  float *hs = (float *)malloc(4 * rows), *gs = (float *)malloc(4 * rows);
  host_quant(h, rows, cols, hq, hs);
  void *d = dev_copy(h, n * 2);
  uint8_t *dq;
  float *ds;
  GPU_OK(cudaMalloc(&dq, n));
  GPU_OK(cudaMalloc(&ds, 4 * rows));
  assert_int_equal(lj_cuda_quantize_rows(dq, ds, d, LJ_DTYPE_BF16, rows, cols, 0), 0);
  GPU_OK(cudaMemcpy(gq, dq, n, cudaMemcpyDeviceToHost));
  GPU_OK(cudaMemcpy(gs, ds, 4 * rows, cudaMemcpyDeviceToHost));
  assert_memory_equal(hq, gq, n);
  assert_memory_equal(hs, gs, 4 * (size_t)rows);
  assert_true(hs[5] == 1.0f);
  free(h), free(hq), free(gq), free(hs), free(gs);
  cudaFree(d), cudaFree(dq), cudaFree(ds);
}

// lj_cuda_quantize_act on n rows of `in` bf16 values starting `shift` elements into the allocation
// (shift 1: a pointer that is not 16-byte aligned) against the host quantiser, bit for bit.
static void check_quantize_act(int n, int in, int shift) {
  size_t nx = (size_t)n * in;
  __nv_bfloat16 *h = (__nv_bfloat16 *)malloc(nx * 2);
  random_bf16(h, nx, 31 + (uint64_t)in * 3 + n, 3.0f);
  if (n > 1) h[(size_t)in + in / 2] = __float2bfloat16(-1000.0f);  // one outlier: that row's scale
  if (n > 2)
    for (int i = 0; i < in; i++) h[(size_t)2 * in + i] = __float2bfloat16(0.0f);  // all-zero row: scale 1
  uint8_t *hq = (uint8_t *)malloc(nx), *gq = (uint8_t *)malloc(nx);
  float *hs = (float *)malloc(4 * (size_t)n), *gs = (float *)malloc(4 * (size_t)n);
  host_quant(h, n, in, hq, hs);
  __nv_bfloat16 *d;
  uint8_t *dq;
  float *ds;
  GPU_OK(cudaMalloc(&d, (nx + (size_t)shift) * 2));
  GPU_OK(cudaMemcpy(d + shift, h, nx * 2, cudaMemcpyHostToDevice));
  GPU_OK(cudaMalloc(&dq, nx + (size_t)shift));
  GPU_OK(cudaMalloc(&ds, 4 * (size_t)n));
  assert_int_equal(lj_cuda_quantize_act(dq + shift, ds, d + shift, n, in, 0), 0);
  GPU_OK(cudaMemcpy(gq, dq + shift, nx, cudaMemcpyDeviceToHost));
  GPU_OK(cudaMemcpy(gs, ds, 4 * (size_t)n, cudaMemcpyDeviceToHost));
  size_t bad = 0;
  for (size_t i = 0; i < nx; i++) bad += hq[i] != gq[i];
  for (int t = 0; t < n; t++) bad += memcmp(&hs[t], &gs[t], 4) != 0;
  printf("quantize_act n=%d in=%d shift=%d: %zu of %zu codes and %d scales differ from the CPU quantiser\n", n, in, shift,
         bad, nx, n);
  assert_int_equal(bad, 0);
  free(h), free(hq), free(gq), free(hs), free(gs);
  cudaFree(d), cudaFree(dq), cudaFree(ds);
}

// The fallback's scale pass (lj_cuda_fp8_scale_outer) on n x out bf16 sums against
// bf16(lj_fp8_scale_sum(...)) on the host, bit for bit; shift 1 misaligns y.
static void check_scale_outer(int n, int out, int shift) {
  size_t ny = (size_t)n * out;
  __nv_bfloat16 *y = (__nv_bfloat16 *)malloc(ny * 2), *gy = (__nv_bfloat16 *)malloc(ny * 2);
  random_bf16(y, ny, 41 + (uint64_t)out + n, 300.0f);
  float *ws = (float *)malloc(4 * (size_t)out), *xs = (float *)malloc(4 * (size_t)n);
  for (int o = 0; o < out; o++) ws[o] = exp2f(-12.0f + 8.0f * fabsf(lj_random_unit(42, 1, (uint64_t)o))) * 1.37f;
  for (int t = 0; t < n; t++) xs[t] = exp2f(-6.0f + 10.0f * fabsf(lj_random_unit(43, 1, (uint64_t)t))) * 0.91f;
  __nv_bfloat16 *d;
  GPU_OK(cudaMalloc(&d, (ny + (size_t)shift) * 2));
  GPU_OK(cudaMemcpy(d + shift, y, ny * 2, cudaMemcpyHostToDevice));
  void *dws = dev_copy(ws, 4 * (size_t)out), *dxs = dev_copy(xs, 4 * (size_t)n);
  assert_int_equal(lj_cuda_fp8_scale_outer(d + shift, (const float *)dxs, (const float *)dws, n, out, 0), 0);
  GPU_OK(cudaMemcpy(gy, d + shift, ny * 2, cudaMemcpyDeviceToHost));
  size_t bad = 0;
  for (int t = 0; t < n; t++)
    for (int o = 0; o < out; o++) {
      size_t i = (size_t)t * out + o;
      uint16_t want = lj_f32_to_bf16(lj_fp8_scale_sum(__bfloat162float(y[i]), ws[o], xs[t]));
      uint16_t got;
      memcpy(&got, &gy[i], 2);
      if (got != want && bad++ < 5) printf("  [%d, %d]: 0x%04X, host 0x%04X\n", t, o, got, want);
    }
  printf("scale_outer n=%d cols=%d shift=%d: %zu of %zu outputs differ from the CPU product\n", n, out, shift, bad, ny);
  assert_int_equal(bad, 0);
  free(y), free(gy), free(ws), free(xs);
  cudaFree(d), cudaFree(dws), cudaFree(dxs);
}

// lj_cuda_swiglu_fp8 on unscaled sums against the unfolded path on the device (the fallback's scale
// pass over gu, then lj_cuda_swiglu), bit for bit; shift 1 misaligns the weight scales (the
// one-element kernels).
static void check_swiglu_fold(int n, int hidden, int shift) {
  size_t ng = (size_t)n * 2 * hidden, nh = (size_t)n * hidden;
  __nv_bfloat16 *gu = (__nv_bfloat16 *)malloc(ng * 2);
  random_bf16(gu, ng, 51 + (uint64_t)hidden + n, 400.0f);
  float *ws = (float *)malloc(4 * (2 * (size_t)hidden + 1)), *xs = (float *)malloc(4 * (size_t)n);
  for (int o = 0; o <= 2 * hidden; o++) ws[o] = exp2f(-14.0f + 6.0f * fabsf(lj_random_unit(52, 1, (uint64_t)o)));
  for (int t = 0; t < n; t++) xs[t] = exp2f(-4.0f + 6.0f * fabsf(lj_random_unit(53, 1, (uint64_t)t)));
  __nv_bfloat16 *ha = (__nv_bfloat16 *)malloc(nh * 2), *hb = (__nv_bfloat16 *)malloc(nh * 2);
  __nv_bfloat16 *dgu = (__nv_bfloat16 *)dev_copy(gu, ng * 2);
  float *dws = (float *)dev_copy(ws, 4 * (2 * (size_t)hidden + 1)), *dxs = (float *)dev_copy(xs, 4 * (size_t)n);
  __nv_bfloat16 *dh = (__nv_bfloat16 *)dev_poisoned(nh * 2);
  assert_int_equal(lj_cuda_swiglu_fp8(dh, dgu, dxs, dws + shift, n, hidden, 0), 0);
  GPU_OK(cudaMemcpy(ha, dh, nh * 2, cudaMemcpyDeviceToHost));
  assert_int_equal(lj_cuda_fp8_scale_outer(dgu, dxs, dws + shift, n, 2 * hidden, 0), 0);
  assert_int_equal(lj_cuda_swiglu(dh, dgu, n, hidden, 0), 0);
  GPU_OK(cudaMemcpy(hb, dh, nh * 2, cudaMemcpyDeviceToHost));
  size_t bad = 0;
  for (size_t i = 0; i < nh; i++) bad += memcmp(&ha[i], &hb[i], 2) != 0;
  printf("swiglu_fp8 n=%d hidden=%d shift=%d: %zu of %zu outputs differ from scale pass + swiglu\n", n, hidden,
         shift, bad, nh);
  assert_int_equal(bad, 0);
  free(gu), free(ws), free(xs), free(ha), free(hb);
  cudaFree(dgu), cudaFree(dws), cudaFree(dxs), cudaFree(dh);
}

// lj_cuda_swiglu_quant (h and its per-token codes in one kernel) against the two passes it replaces on
// the device (lj_cuda_swiglu_fp8 or, unscaled, lj_cuda_swiglu, then lj_cuda_quantize_act), bit for
// bit: h, the codes and the scales, for each kernel variant (split with its amax scratch; a row of
// zeros, whose amax stays the zeroed word). shift 1 misaligns h (the two-pass path).
static void check_swiglu_quant(int n, int hidden, int scaled, int shift, int variant) {
  size_t ng = (size_t)n * 2 * hidden, nh = (size_t)n * hidden;
  __nv_bfloat16 *gu = (__nv_bfloat16 *)malloc(ng * 2);
  random_bf16(gu, ng, 61 + (uint64_t)hidden + n, scaled ? 400.0f : 4.0f);
  if (n > 1) gu[(size_t)2 * hidden + 3] = __float2bfloat16(scaled ? 30000.0f : 60.0f);  // an outlier in row 1
  if (n > 2) memset(gu + (size_t)2 * 2 * hidden, 0, (size_t)2 * 2 * hidden);             // row 2: zeros
  float *ws = (float *)malloc(8 * (size_t)hidden), *xs = (float *)malloc(4 * (size_t)n);
  for (int o = 0; o < 2 * hidden; o++) ws[o] = exp2f(-14.0f + 6.0f * fabsf(lj_random_unit(62, 1, (uint64_t)o)));
  for (int t = 0; t < n; t++) xs[t] = exp2f(-4.0f + 6.0f * fabsf(lj_random_unit(63, 1, (uint64_t)t)));
  __nv_bfloat16 *dgu = (__nv_bfloat16 *)dev_copy(gu, ng * 2), *dh;
  float *dws = scaled ? (float *)dev_copy(ws, 8 * (size_t)hidden) : NULL;
  float *dxs = scaled ? (float *)dev_copy(xs, 4 * (size_t)n) : NULL;
  GPU_OK(cudaMalloc(&dh, (nh + (size_t)shift) * 2));
  uint8_t *dq, *hq[2];
  float *dqs, *hqs[2];
  __nv_bfloat16 *hh[2];
  GPU_OK(cudaMalloc(&dq, nh + (size_t)shift));
  GPU_OK(cudaMalloc(&dqs, 4 * (size_t)n));
  unsigned *damax;
  GPU_OK(cudaMalloc(&damax, 4 * (size_t)n));
  GPU_OK(cudaMemset(damax, 0xFF, 4 * (size_t)n));  // the kernel must zero it
  for (int k = 0; k < 2; k++) {
    GPU_OK(cudaMemset(dh, 0xFF, (nh + (size_t)shift) * 2));
    GPU_OK(cudaMemset(dq, 0xFF, nh + (size_t)shift));
    if (k == 0) {
      assert_int_equal(lj_cuda_swiglu_quant(dh + shift, dq + shift, dqs, dgu, dxs, dws, n, hidden, variant, damax, 0),
                       0);
    } else {
      assert_int_equal(scaled ? lj_cuda_swiglu_fp8(dh + shift, dgu, dxs, dws, n, hidden, 0)
                              : lj_cuda_swiglu(dh + shift, dgu, n, hidden, 0), 0);
      assert_int_equal(lj_cuda_quantize_act(dq + shift, dqs, dh + shift, n, hidden, 0), 0);
    }
    hh[k] = (__nv_bfloat16 *)malloc(nh * 2), hq[k] = (uint8_t *)malloc(nh), hqs[k] = (float *)malloc(4 * (size_t)n);
    GPU_OK(cudaMemcpy(hh[k], dh + shift, nh * 2, cudaMemcpyDeviceToHost));
    GPU_OK(cudaMemcpy(hq[k], dq + shift, nh, cudaMemcpyDeviceToHost));
    GPU_OK(cudaMemcpy(hqs[k], dqs, 4 * (size_t)n, cudaMemcpyDeviceToHost));
  }
  size_t bad_h = 0, bad_q = 0, bad_s = 0;
  for (size_t i = 0; i < nh; i++) bad_h += memcmp(&hh[0][i], &hh[1][i], 2) != 0, bad_q += hq[0][i] != hq[1][i];
  for (int t = 0; t < n; t++) bad_s += memcmp(&hqs[0][t], &hqs[1][t], 4) != 0;
  printf("swiglu_quant %s n=%d hidden=%d %s shift=%d: %zu h, %zu codes, %zu scales differ from the two passes\n",
         lj_swiglu_quant_name(variant), n, hidden, scaled ? "scaled" : "unscaled", shift, bad_h, bad_q, bad_s);
  assert_int_equal(bad_h + bad_q + bad_s, 0);
  for (int k = 0; k < 2; k++) free(hh[k]), free(hq[k]), free(hqs[k]);
  free(gu), free(ws), free(xs);
  cudaFree(dgu), cudaFree(dh), cudaFree(dq), cudaFree(dqs), cudaFree(dws), cudaFree(dxs), cudaFree(damax);
}

// lj_cuda_rmsnorm_fp8 (the residual add with delta scaled from an FP8 GEMM's sums, the norm, and the
// output's per-token codes in one kernel) against the passes it replaces on the device
// (lj_cuda_fp8_scale_outer on delta, lj_cuda_rmsnorm, lj_cuda_quantize_act of y), bit for bit: the
// updated x, y, the codes and the scales; then with y not written (the codes alone) and with delta
// already scaled (no delta scales).
static void check_rmsnorm_fp8(int n, int dim, int scaled) {
  size_t nx = (size_t)n * dim;
  __nv_bfloat16 *x = (__nv_bfloat16 *)malloc(nx * 2), *d = (__nv_bfloat16 *)malloc(nx * 2);
  __nv_bfloat16 *w = (__nv_bfloat16 *)malloc((size_t)dim * 2);
  random_bf16(x, nx, 71 + (uint64_t)dim + n, 2.0f);
  random_bf16(d, nx, 72 + (uint64_t)dim + n, scaled ? 3000.0f : 1.0f);  // sums: ~2^10 of the scaled deltas
  random_bf16(w, (size_t)dim, 73, 1.5f);
  if (n > 1) x[(size_t)dim + 5] = __float2bfloat16(90.0f);  // an outlier in row 1: its scale
  float *ws = (float *)malloc(4 * (size_t)dim), *xs = (float *)malloc(4 * (size_t)n);
  for (int o = 0; o < dim; o++) ws[o] = exp2f(-12.0f + 4.0f * fabsf(lj_random_unit(74, 1, (uint64_t)o)));
  for (int t = 0; t < n; t++) xs[t] = exp2f(-4.0f + 4.0f * fabsf(lj_random_unit(75, 1, (uint64_t)t)));
  __nv_bfloat16 *dx0 = (__nv_bfloat16 *)dev_copy(x, nx * 2), *dd0 = (__nv_bfloat16 *)dev_copy(d, nx * 2);
  __nv_bfloat16 *dw = (__nv_bfloat16 *)dev_copy(w, (size_t)dim * 2), *dx, *dd, *dy;
  float *dws = (float *)dev_copy(ws, 4 * (size_t)dim), *dxs = (float *)dev_copy(xs, 4 * (size_t)n), *dqs;
  uint8_t *dq;
  GPU_OK(cudaMalloc(&dx, nx * 2));
  GPU_OK(cudaMalloc(&dd, nx * 2));
  GPU_OK(cudaMalloc(&dy, nx * 2));
  GPU_OK(cudaMalloc(&dq, nx));
  GPU_OK(cudaMalloc(&dqs, 4 * (size_t)n));
  uint16_t *hx[3], *hy[3];
  uint8_t *hq[3];
  float *hs[3];
  for (int k = 0; k < 3; k++) {  // 0: the passes, 1: the kernel, 2: the kernel without y
    GPU_OK(cudaMemcpy(dx, dx0, nx * 2, cudaMemcpyDeviceToDevice));
    GPU_OK(cudaMemcpy(dd, dd0, nx * 2, cudaMemcpyDeviceToDevice));
    GPU_OK(cudaMemset(dy, 0xFF, nx * 2));
    GPU_OK(cudaMemset(dq, 0xFF, nx));
    GPU_OK(cudaMemset(dqs, 0xFF, 4 * (size_t)n));
    if (k == 0) {
      if (scaled) assert_int_equal(lj_cuda_fp8_scale_outer(dd, dxs, dws, n, dim, 0), 0);
      assert_int_equal(lj_cuda_rmsnorm(dy, dx, dx, dd, dw, NULL, n, dim, 1e-5f, 0), 0);
      assert_int_equal(lj_cuda_quantize_act(dq, dqs, dy, n, dim, 0), 0);
    } else if (lj_cuda_rmsnorm_fp8(k == 1 ? dy : NULL, dq, dqs, dx, dx, dd, scaled ? dxs : NULL, scaled ? dws : NULL, dw,
                                   NULL, n, dim, 1e-5f, 0) < 0) {
      fail_msg("%s", lj_error_message());
    }
    GPU_OK(cudaDeviceSynchronize());
    hx[k] = (uint16_t *)malloc(nx * 2), hy[k] = (uint16_t *)malloc(nx * 2), hq[k] = (uint8_t *)malloc(nx);
    hs[k] = (float *)malloc(4 * (size_t)n);
    GPU_OK(cudaMemcpy(hx[k], dx, nx * 2, cudaMemcpyDeviceToHost));
    GPU_OK(cudaMemcpy(hy[k], dy, nx * 2, cudaMemcpyDeviceToHost));
    GPU_OK(cudaMemcpy(hq[k], dq, nx, cudaMemcpyDeviceToHost));
    GPU_OK(cudaMemcpy(hs[k], dqs, 4 * (size_t)n, cudaMemcpyDeviceToHost));
  }
  size_t bad_x = 0, bad_y = 0, bad_q = 0, bad_s = 0, y_left = 0, x_moved = 0;
  for (int k = 1; k < 3; k++) {
    for (size_t i = 0; i < nx; i++) bad_x += hx[0][i] != hx[k][i], bad_q += hq[0][i] != hq[k][i];
    for (int t = 0; t < n; t++) bad_s += memcmp(&hs[0][t], &hs[k][t], 4) != 0;
  }
  for (size_t i = 0; i < nx; i++) {
    bad_y += hy[0][i] != hy[1][i], y_left += hy[2][i] == 0xFFFF;
    x_moved += hx[0][i] != *(const uint16_t *)&x[i];
  }
  printf("rmsnorm_fp8 n=%d dim=%d delta %s: x %zu, y %zu, codes %zu, scales %zu differ from the passes; "
         "without y, %zu of %zu y left unwritten; the add moved %zu of x\n", n, dim, scaled ? "sums" : "scaled", bad_x,
         bad_y, bad_q, bad_s, y_left, nx, x_moved);
  assert_int_equal(bad_x + bad_y + bad_q + bad_s, 0);
  assert_int_equal(y_left, nx);
  assert_true(x_moved > nx / 2);  // delta reached x (scaled sums of the size of the deltas)
  for (int k = 0; k < 3; k++) free(hx[k]), free(hy[k]), free(hq[k]), free(hs[k]);
  free(x), free(d), free(w), free(ws), free(xs);
  cudaFree(dx0), cudaFree(dd0), cudaFree(dw), cudaFree(dx), cudaFree(dd), cudaFree(dy), cudaFree(dws);
  cudaFree(dxs), cudaFree(dq), cudaFree(dqs);
}

// The prefill's two passes around the FP8 GEMM against the host arithmetic, bit for bit: the vector
// kernels (in and out multiples of 8, aligned; rows held in registers up to 32768 values, longer
// ones read twice) and the scalar ones (odd widths, misaligned pointers), on odd shapes; then the
// SwiGLU kernels with those passes folded in against the passes they replace.
static void test_fp8_passes_bitexact(void **state) {
  (void)state;
  static const int q_shapes[][3] = {
      {3, 4104, 0}, {5, 8, 0},     {2, 2048, 0},  {7, 14336, 0}, {3, 28672, 0}, {2, 32768, 0},
      {3, 40008, 0}, {4, 4100, 0}, {3, 13, 0},    {3, 4104, 1},  {1, 16, 1},
  };
  for (size_t i = 0; i < sizeof q_shapes / sizeof q_shapes[0]; i++)
    check_quantize_act(q_shapes[i][0], q_shapes[i][1], q_shapes[i][2]);
  static const int s_shapes[][3] = {
      {3, 1000, 0}, {37, 28672, 0}, {5000, 8, 0}, {9, 4104, 0}, {3, 1001, 0}, {3, 1000, 1}, {2, 7, 0},
  };
  for (size_t i = 0; i < sizeof s_shapes / sizeof s_shapes[0]; i++)
    check_scale_outer(s_shapes[i][0], s_shapes[i][1], s_shapes[i][2]);
  check_swiglu_fold(37, 1000, 0);
  check_swiglu_fold(9, 14336, 0);
  check_swiglu_fold(5000, 8, 0);
  check_swiglu_fold(3, 1001, 0);
  check_swiglu_fold(3, 1000, 1);
  static const int sq_shapes[][4] = {
      {37, 1000, 1, 0}, {9, 14336, 1, 0}, {5, 28672, 1, 0}, {3, 2048, 0, 0}, {4, 14336, 0, 0},
      {3, 40000, 1, 0}, {3, 1001, 1, 0}, {3, 1000, 1, 1}, {300, 8, 1, 0}, {5000, 8, 1, 0}, {600, 14336, 1, 0},
  };
  for (int v = 0; v < LJ_SWIGLU_QUANT_COUNT; v++)
    for (size_t i = 0; i < sizeof sq_shapes / sizeof sq_shapes[0]; i++)
      check_swiglu_quant(sq_shapes[i][0], sq_shapes[i][1], sq_shapes[i][2], sq_shapes[i][3], v);
  // norms: one chunk per thread and partial ones (296 = 8 x 37, 4104 = 8 x 513), the widest (8192)
  static const int rn_shapes[][3] = {{37, 296, 1}, {3, 4104, 1}, {5, 8192, 1}, {1, 8, 1}, {70, 4096, 1}, {9, 4104, 0}};
  for (size_t i = 0; i < sizeof rn_shapes / sizeof rn_shapes[0]; i++)
    check_rmsnorm_fp8(rn_shapes[i][0], rn_shapes[i][1], rn_shapes[i][2]);
}

// y = x W^T with W = code * scale: the FP8 GEMV (n <= 8) and the FP8 GEMM (any n, x quantised
// per token on the device) against float64 on the host with the same codes. scalar_only forces
// the GEMM's fallback (scalar-scaled GEMM to bf16, then the scale kernel rounding to bf16 again).
static void check_linear(int n, int in, int out, int use_gemm, int scalar_only) {
  size_t nw = (size_t)out * in, nx = (size_t)n * in;
  __nv_bfloat16 *w = (__nv_bfloat16 *)malloc(nw * 2), *x = (__nv_bfloat16 *)malloc(nx * 2);
  random_bf16(w, nw, 21 + in, 0.04f);
  random_bf16(x, nx, 22 + n, 1.0f);
  uint8_t *q = (uint8_t *)malloc(nw), *xq = (uint8_t *)malloc(nx);
  float *s = (float *)malloc(4 * out), *xs = (float *)malloc(4 * n);
  host_quant(w, out, in, q, s);
  host_quant(x, n, in, xq, xs);
  void *dq = dev_copy(q, nw), *ds = dev_copy(s, 4 * (size_t)out), *dx = dev_copy(x, nx * 2);
  __nv_bfloat16 *dy = (__nv_bfloat16 *)dev_poisoned((size_t)n * out * 2);
  lj_gemm_lt *g = NULL;
  uint8_t *dxq = NULL;
  float *dxs = NULL;
  if (use_gemm) {
    assert_int_equal(lj_gemm_lt_create(&g, 32 << 20), 0);
    lj_gemm_lt_set_fp8_scalar_only(g, scalar_only);
    GPU_OK(cudaMalloc(&dxq, nx));
    GPU_OK(cudaMalloc(&dxs, 4 * (size_t)n));
    assert_int_equal(lj_cuda_quantize_act(dxq, dxs, (const __nv_bfloat16 *)dx, n, in, 0), 0);
    if (lj_gemm_lt_run_fp8(g, dy, dxq, dxs, (const uint8_t *)dq, (const float *)ds, n, in, out, 0) < 0)
      fail_msg("%s", lj_error_message());
    int outer = lj_gemm_lt_fp8_outer(g, n, in, out);
    printf("fp8 GEMM %d x %d x %d: %s\n", n, in, out,
           outer ? "outer-vector scales in cuBLASLt's epilogue" : "fallback (scalar GEMM + scale kernel)");
    if (scalar_only) assert_int_equal(outer, 0);
  } else {
    assert_int_equal(lj_cuda_gemv_fp8(dy, 0, (const __nv_bfloat16 *)dx, (const uint8_t *)dq, (const float *)ds, n,
                                      in, out, LJ_FP8_GEMV_DEFAULT, 0), 0);
  }
  GPU_OK(cudaDeviceSynchronize());
  __nv_bfloat16 *y = (__nv_bfloat16 *)malloc((size_t)n * out * 2);
  GPU_OK(cudaMemcpy(y, dy, (size_t)n * out * 2, cudaMemcpyDeviceToHost));
  double num = 0, den = 0, worst = 0, worst_round = 0;
  for (int t = 0; t < n; t++)
    for (int o = 0; o < out; o++) {
      double ref = 0, abs_sum = 0;
      for (int i = 0; i < in; i++) {
        double xv = use_gemm ? (double)lj_e4m3_to_f32(xq[(size_t)t * in + i]) * xs[t]
                             : (double)__bfloat162float(x[(size_t)t * in + i]);
        double term = xv * (double)lj_e4m3_to_f32(q[(size_t)o * in + i]) * s[o];
        ref += term, abs_sum += fabs(term);
      }
      double d = (double)__bfloat162float(y[(size_t)t * out + o]) - ref;
      num += d * d, den += ref * ref;
      // The fallback's bound (tests/fp8_gemm_bound.h: two bf16 roundings + Hopper's accumulation);
      // worst_round: against the roundings alone, <= 1 where the accumulation lost nothing visible.
      double bound = lj_fp8_fallback_bound(ref, abs_sum, in), round = (0x1p-7 + 0x1p-15) * fabs(ref);
      if (fabs(d) / bound > worst) worst = fabs(d) / bound;
      if (round > 0 && fabs(d) / round > worst_round) worst_round = fabs(d) / round;
    }
  double err = sqrt(num / den);
  printf("fp8 %s n=%d in=%d outputs %d: normalised error %.2e, worst error / bound %.3f (/ the roundings alone %.3f)\n",
         use_gemm ? (scalar_only ? "GEMM (fallback forced)" : "GEMM") : "GEMV", n, in, out, err, worst, worst_round);
  assert_true(err <= 1e-2);  // bf16 output rounding (up to 2^-8 relative) dominates
  if (scalar_only) assert_true(worst <= 1.0);
  if (g) lj_gemm_lt_free(g);
  cudaFree(dq), cudaFree(ds), cudaFree(dx), cudaFree(dy), cudaFree(dxq), cudaFree(dxs);
  free(w), free(x), free(q), free(xq), free(s), free(xs), free(y);
}

static void test_gemv_fp8(void **state) {
  (void)state;
  for (int n = 1; n <= 8; n++) check_linear(n, 4096, 203, 0, 0);
  check_linear(1, 14336, 64, 0, 0);
  check_linear(3, 64, 37, 0, 0);
}

static void test_gemm_fp8(void **state) {
  (void)state;
  check_linear(37, 4096, 256, 1, 0);
  check_linear(300, 1024, 512, 1, 0);
}

// The prefill's fallback forced (on cuBLASLt versions that offer outer-vector scales it would not
// run otherwise): every output within tests/fp8_gemm_bound.h's bound of float64 (two bf16
// roundings of 2^-8 each and the tensor cores' accumulation).
static void test_gemm_fp8_fallback(void **state) {
  (void)state;
  check_linear(37, 4096, 256, 1, 1);
  check_linear(300, 1024, 512, 1, 1);
  check_linear(9, 208, 48, 1, 1);  // 16 x 13 inputs
}

// Random E4M3 codes (every byte but the two NaNs 0x7F / 0xFF, so subnormals and +-448 too) and
// row scales in [2^-10, 2^-4), a hash of the index: the variants' test data, made on the device.
static __global__ void random_codes_kernel(uint8_t *q, float *s, size_t n, int rows, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t z = (i + seed) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    uint8_t c = (uint8_t)(z >> 56);
    q[i] = (c & 0x7F) == 0x7F ? (uint8_t)(c ^ 1) : c;
    if (i < (size_t)rows) s[i] = exp2f(-10.0f + 6.0f * (float)((z >> 8) & 0xFFFF) / 65536.0f);
  }
}

// Every FP8 GEMV variant against float64 on one shape: fp32 outputs (only the summation order
// differs from the reference: normalised error <= 1e-5, where one chunk of 16 codes missing
// from one row of 6144 gives ~1e-3), and bf16 outputs for one token (<= 1e-2). Big matrices are
// checked on rows 0-63, the last 64 and every 11th in between.
static void check_variants(int in, int out, const int *ns, int n_ns) {
  size_t nw = (size_t)out * in;
  uint8_t *dq;
  float *ds;
  GPU_OK(cudaMalloc(&dq, nw));
  GPU_OK(cudaMalloc(&ds, 4 * (size_t)out));
  random_codes_kernel<<<1024, 256>>>(dq, ds, nw, out, (uint64_t)in * 131 + out);
  GPU_OK(cudaGetLastError());
  uint8_t *q = (uint8_t *)malloc(nw);
  float *s = (float *)malloc(4 * (size_t)out);
  GPU_OK(cudaMemcpy(q, dq, nw, cudaMemcpyDeviceToHost));
  GPU_OK(cudaMemcpy(s, ds, 4 * (size_t)out, cudaMemcpyDeviceToHost));
  int sample = nw > (16u << 20);
  double *wrow = (double *)malloc(8 * (size_t)in);
  for (int k = 0; k < n_ns; k++) {
    int n = ns[k];
    size_t nx = (size_t)n * in;
    __nv_bfloat16 *x = (__nv_bfloat16 *)malloc(nx * 2);
    random_bf16(x, nx, 100 + (uint64_t)n * 7 + in, 1.0f);
    double *ref = (double *)calloc((size_t)n * out, 8);
    for (int o = 0; o < out; o++) {
      if (sample && o >= 64 && o < out - 64 && o % 11) continue;
      for (int i = 0; i < in; i++) wrow[i] = (double)lj_e4m3_to_f32(q[(size_t)o * in + i]) * s[o];
      for (int t = 0; t < n; t++) {
        double acc = 0;
        for (int i = 0; i < in; i++) acc += wrow[i] * (double)__bfloat162float(x[(size_t)t * in + i]);
        ref[(size_t)t * out + o] = acc;
      }
    }
    void *dx = dev_copy(x, nx * 2);
    float *y = (float *)malloc(4 * (size_t)n * out);
    __nv_bfloat16 *yb = (__nv_bfloat16 *)malloc(2 * (size_t)n * out);
    for (int v = 0; v < LJ_FP8_GEMV_COUNT; v++)
      for (int fp32 = 1; fp32 >= (n == 1 ? 0 : 1); fp32--) {
        size_t ybytes = (size_t)n * out * (fp32 ? 4 : 2);
        void *dy = dev_poisoned(ybytes);
        if (lj_cuda_gemv_fp8(dy, fp32, (const __nv_bfloat16 *)dx, dq, ds, n, in, out, v, 0) < 0)
          fail_msg("%s", lj_error_message());
        GPU_OK(cudaDeviceSynchronize());
        GPU_OK(cudaMemcpy(fp32 ? (void *)y : (void *)yb, dy, ybytes, cudaMemcpyDeviceToHost));
        cudaFree(dy);
        double num = 0, den = 0;
        for (int t = 0; t < n; t++)
          for (int o = 0; o < out; o++) {
            if (sample && o >= 64 && o < out - 64 && o % 11) continue;
            double r = ref[(size_t)t * out + o];
            double g = fp32 ? (double)y[(size_t)t * out + o] : (double)__bfloat162float(yb[(size_t)t * out + o]);
            num += (g - r) * (g - r), den += r * r;
          }
        double err = sqrt(num / den);
        printf("fp8 GEMV %-6s n=%d in=%5d outputs %5d %s: normalised error %.2e\n", lj_fp8_gemv_name(v), n, in, out,
               fp32 ? "fp32" : "bf16", err);
        if (!(err <= (fp32 ? 1e-5 : 1e-2)))
          fail_msg("variant %s, n=%d in=%d outputs %d: error %.3e", lj_fp8_gemv_name(v), n, in, out, err);
      }
    cudaFree(dx);
    free(x), free(ref), free(y), free(yb);
  }
  free(wrow), free(q), free(s);
  cudaFree(dq), cudaFree(ds);
}

// Odd shapes (row counts not a multiple of any block's rows, inputs 16 x odd), then the linear
// layers of Llama 3.2 1B, 3.1 8B and 3.3 70B (qkv, o_proj, gate|up, down) at 1, 2, 3 and 8 tokens
// (8 rows per block up to 2 tokens, 4 from 3; 8 the most the GEMV takes).
static void test_gemv_fp8_variants(void **state) {
  (void)state;
  const int all[] = {1, 2, 3, 4, 5, 6, 7, 8}, some[] = {1, 2, 3, 8};
  check_variants(16, 5, all, 8);
  check_variants(208, 37, all, 8);
  check_variants(4112, 203, all, 8);
  check_variants(8208, 77, some, 4);  // split-K with a slice that is not a multiple of 256 chunks
  check_variants(28688, 9, some, 4);
  static const int shapes[][2] = {
      {2048, 3072},  {2048, 2048},  {2048, 16384},  {8192, 2048},     // 1B: qkv, o, gate|up, down
      {4096, 6144},  {4096, 4096},  {4096, 28672},  {14336, 4096},    // 8B
      {8192, 10240}, {8192, 8192},  {8192, 57344},  {28672, 8192},    // 70B
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_variants(shapes[i][0], shapes[i][1], some, 4);
}

static double cosine(const float *a, const float *b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  return ab / sqrt(aa * bb);
}

// An FP8 engine of one sequence of up to 128 tokens on model c's random weights of `seed`.
static lj_cuda_engine *tiny_fp8_engine(const lj_model_config *c, uint64_t seed) {
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_batch = 1, o.max_ctx = 128, o.max_tokens = 128, o.weights = LJ_WEIGHTS_FP8, o.print_plan = 0;
  lj_cuda_engine *e = NULL;
  if (lj_cuda_engine_create_random(&e, c, seed, &o) < 0) fail_msg("%s", lj_error_message());
  return e;
}

// The tiny model with FP8 weights on the GPU (quantised from the device's random weights) and on
// the CPU (lj_weights_quantize_fp8 of the same bf16 weights): prompts of 5 tokens (FP8 GEMV) and
// 70 tokens (cuBLASLt FP8, activations quantised per token), then a decode step; with every FP8
// GEMV variant.
static void test_engine_vs_cpu_reference(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_weights w;
  assert_int_equal(lj_weights_random(&c, 5, 2, &w), 0);
  assert_int_equal(lj_weights_quantize_fp8(&w, 2, LJ_FP8_SCALE_ROW), 0);
  lj_cuda_engine *e = tiny_fp8_engine(&c, 5);
  int lens[2] = {5, 70};
  float *gl = (float *)malloc(4 * (size_t)c.vocab_size), *cl = (float *)malloc(4 * (size_t)c.vocab_size);
  for (int k = 0; k < 2 * LJ_FP8_GEMV_COUNT; k++) {
    int n = lens[k % 2], v = k / 2;
    assert_int_equal(lj_cuda_set_fp8_gemv(e, v), 0);
    int32_t *tok = (int32_t *)malloc(4 * (size_t)(n + 1)), *seq = (int32_t *)calloc((size_t)n + 1, 4),
            *pos = (int32_t *)malloc(4 * (size_t)(n + 1));
    for (int i = 0; i <= n; i++) tok[i] = (int32_t)(lj_splitmix64((uint64_t)i + 77) % (uint64_t)c.vocab_size), pos[i] = i;
    lj_cpu_engine *ce;
    assert_int_equal(lj_cpu_engine_create(&w, 1, 128, 2, &ce), 0);
    int32_t row = n - 1;
    lj_batch b = {tok, seq, pos, n, &row, 1};
    assert_int_equal(lj_cpu_forward(ce, &b, cl), 0);
    lj_cuda_reset(e);
    int tk[128];
    for (int i = 0; i < n; i++) tk[i] = tok[i];
    assert_int_equal(lj_cuda_prefill(e, 1, tk, &n), 0);
    assert_int_equal(lj_cuda_get_logits(e, gl, 1), 0);
    double cp = cosine(gl, cl, (size_t)c.vocab_size);
    int32_t zero = 0;
    lj_batch d = {tok + n, seq, pos + n, 1, &zero, 1};
    assert_int_equal(lj_cpu_forward(ce, &d, cl), 0);
    int next = tok[n];
    assert_int_equal(lj_cuda_decode(e, 1, &next), 0);
    assert_int_equal(lj_cuda_get_logits(e, gl, 1), 0);
    double cd = cosine(gl, cl, (size_t)c.vocab_size);
    lj_cpu_engine_free(ce);
    printf("fp8 engine (GEMV %s) vs CPU FP8 reference, prompt %d: prefill logits cosine %.6f, decode %.6f\n",
           lj_fp8_gemv_name(v), n, cp, cd);
    assert_true(cp >= (n <= 8 ? 0.9999 : 0.999));  // > 8 tokens: activations quantised per token too
    assert_true(cd >= 0.9999);
    free(tok), free(seq), free(pos);
  }
  assert_int_equal(lj_cuda_set_fp8_gemv(e, LJ_FP8_GEMV_COUNT), LJ_EINVAL);
  free(gl), free(cl);
  lj_cuda_engine_free(e);
  lj_weights_free(&w);
}

// Every fold level (lj_cuda_set_fp8_fold) against the unfolded path on the tiny FP8 model, cuBLASLt's
// fallback forced (the output scalings fold only into it): a prompt of 70 tokens stage by stage through
// layer 0 and layer 1's qkv. Equal bit for bit at every level: qkv (the folded runs poison xn after
// each norm: qkv and gate_up read the norms' codes), x after ffn_norm (o_proj's sums scaled inside
// it), h, down's delta (h poisoned before down: it reads SwiGLU's codes), x after layer 1's
// attn_norm and its qkv; then the whole prefill's logits, and a prompt of 5 tokens (the GEMV, no
// fold). What a fold leaves unscaled must differ: gu (SWIGLU and up), o_proj's delta (O_PROJ).
enum { FI_QKV, FI_ODELTA, FI_X, FI_GU, FI_H, FI_DELTA, FI_X1, FI_QKV1, FI_COUNT };
static const char *const fi_name[FI_COUNT] = {"qkv", "o_proj's delta", "x after ffn_norm", "gu", "h",
                                              "down's delta", "x after layer 1's attn_norm", "layer 1's qkv"};

static void test_fp8_fold(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_cuda_engine *e = tiny_fp8_engine(&c, 7);
  lj_cuda_set_fp8_scalar_only(e, 1);
  assert_int_equal(lj_cuda_fp8_fold(e), LJ_CUDA_FP8_FOLD_DEFAULT);  // the default: every fold
  lj_cuda_set_fp8_fold(e, 99);
  assert_int_equal(lj_cuda_fp8_fold(e), LJ_CUDA_FP8_FOLD_ALL);  // clamped
  lj_cuda_set_fp8_fold(e, -1);
  assert_int_equal(lj_cuda_fp8_fold(e), LJ_CUDA_FP8_FOLD_OFF);
  int n = 70, tok[70];
  for (int i = 0; i < n; i++) tok[i] = (int)(lj_splitmix64((uint64_t)i + 5) % (uint64_t)c.vocab_size);
  size_t nd = (size_t)n * c.dim, nh = (size_t)n * c.hidden_dim, nq = (size_t)n * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
  size_t len[FI_COUNT] = {nq, nd, nd, 2 * nh, nh, nd, nd, nq};
  size_t V = (size_t)c.vocab_size;
  const int L = LJ_CUDA_FP8_FOLD_ALL + 1;
  uint16_t *got[LJ_CUDA_FP8_FOLD_ALL + 1][FI_COUNT];
  float *logits[LJ_CUDA_FP8_FOLD_ALL + 1][2];
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  for (int lv = 0; lv < L; lv++) {
    lj_cuda_set_fp8_fold(e, lv);
    lj_cuda_reset(e);
    lj_cuda_batch b;
    assert_int_equal(lj_cuda_prepare_batch(e, 1, tok, &n, &b), 0);
    assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_EMBED, -1, &b, &a), 0);
    for (int k = 0; k < FI_COUNT; k++) got[lv][k] = (uint16_t *)malloc(len[k] * 2);
    for (int l = 0; l < 2; l++)
      for (int st = LJ_STAGE_ATTN_NORM; st <= (l ? LJ_STAGE_QKV : LJ_STAGE_DOWN); st++) {
        if (!lj_stage_runs_at_degree((lj_stage)st, 1)) continue;  // one GPU: no all-reduce
        if (st == LJ_STAGE_DOWN && lv >= LJ_CUDA_FP8_FOLD_SWIGLU) GPU_OK(cudaMemset(a.h, 0xFF, nh * 2));
        if (lj_cuda_run_stage(e, (lj_stage)st, l, &b, &a) < 0) fail_msg("%s", lj_error_message());
        assert_int_equal(lj_cuda_synchronize(e), 0);
        if ((st == LJ_STAGE_ATTN_NORM || st == LJ_STAGE_FFN_NORM) && lv >= LJ_CUDA_FP8_FOLD_NORMS)
          GPU_OK(cudaMemset(a.xn, 0xFF, nd * 2));
        int k = l ? (st == LJ_STAGE_ATTN_NORM ? FI_X1 : FI_QKV1)
                  : st == LJ_STAGE_QKV       ? FI_QKV
                  : st == LJ_STAGE_O_PROJ    ? FI_ODELTA
                  : st == LJ_STAGE_FFN_NORM  ? FI_X
                  : st == LJ_STAGE_GATE_UP   ? FI_GU
                  : st == LJ_STAGE_SWIGLU    ? FI_H
                  : st == LJ_STAGE_DOWN      ? FI_DELTA
                                             : -1;
        const void *src = k == FI_QKV || k == FI_QKV1 ? a.qkv : k == FI_ODELTA || k == FI_DELTA ? a.delta
                        : k == FI_X || k == FI_X1     ? a.x   : k == FI_GU ? a.gu : a.h;
        if (k >= 0) GPU_OK(cudaMemcpy(got[lv][k], src, len[k] * 2, cudaMemcpyDeviceToHost));
      }
    for (int p = 0; p < 2; p++) {
      int plen = p ? 5 : n;
      lj_cuda_reset(e);
      assert_int_equal(lj_cuda_prefill(e, 1, tok, &plen), 0);
      logits[lv][p] = (float *)malloc(4 * V);
      assert_int_equal(lj_cuda_get_logits(e, logits[lv][p], 1), 0);
    }
  }
  for (int lv = 1; lv < L; lv++) {
    size_t diff[FI_COUNT], l_diff = 0, l5_diff = 0;
    printf("fp8 fold level %d against off, %d tokens:", lv, n);
    for (int k = 0; k < FI_COUNT; k++) {
      diff[k] = 0;
      for (size_t i = 0; i < len[k]; i++) diff[k] += got[lv][k][i] != got[0][k][i];
      printf(" %s %zu/%zu,", fi_name[k], diff[k], len[k]);
    }
    for (size_t i = 0; i < V; i++) l_diff += memcmp(&logits[lv][0][i], &logits[0][0][i], 4) != 0;
    for (size_t i = 0; i < V; i++) l5_diff += memcmp(&logits[lv][1][i], &logits[0][1][i], 4) != 0;
    printf(" prefill logits %zu/%zu; 5 tokens (GEMV) %zu\n", l_diff, V, l5_diff);
    for (int k = 0; k < FI_COUNT; k++) {
      int unscaled = (k == FI_GU) || (k == FI_ODELTA && lv >= LJ_CUDA_FP8_FOLD_O_PROJ);
      if (unscaled) assert_true(diff[k] > len[k] / 2);  // the fold ran: the sums, not the scaled values
      else assert_int_equal(diff[k], 0);
    }
    assert_int_equal(l_diff, 0);
    assert_int_equal(l5_diff, 0);
  }
  // every kernel of SwiGLU + down's quantisation, at every fold: the same logits
  assert_int_equal(lj_cuda_set_swiglu_quant(e, LJ_SWIGLU_QUANT_COUNT), LJ_EINVAL);
  float *lq = (float *)malloc(4 * V);
  for (int v = 0; v < LJ_SWIGLU_QUANT_COUNT; v++) {
    assert_int_equal(lj_cuda_set_swiglu_quant(e, v), 0);
    assert_int_equal(lj_cuda_swiglu_quant_variant(e), v);
    lj_cuda_set_fp8_fold(e, LJ_CUDA_FP8_FOLD_ALL);
    lj_cuda_reset(e);
    int plen = n;
    assert_int_equal(lj_cuda_prefill(e, 1, tok, &plen), 0);
    assert_int_equal(lj_cuda_get_logits(e, lq, 1), 0);
    size_t d = 0;
    for (size_t i = 0; i < V; i++) d += memcmp(&lq[i], &logits[0][0][i], 4) != 0;
    printf("swiglu_quant %s, fold on: prefill logits %zu/%zu differ from fold off\n", lj_swiglu_quant_name(v), d, V);
    assert_int_equal(d, 0);
  }
  free(lq);
  for (int lv = 0; lv < L; lv++) {
    for (int k = 0; k < FI_COUNT; k++) free(got[lv][k]);
    free(logits[lv][0]), free(logits[lv][1]);
  }
  lj_cuda_engine_free(e);
}

// Shapes FP8 cannot hold are refused up front, naming the model and the dims.
static void test_refusals(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny-untied", &c), 0);  // hidden 200, kv_dim 24
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.weights = LJ_WEIGHTS_FP8, o.print_plan = 0;
  lj_cuda_engine *e = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&e, &c, 1, &o), LJ_EUNSUPPORTED);
  assert_null(e);
  assert_non_null(strstr(lj_error_message(), "tiny-untied: FP8 weights need"));
}

int main(void) {
  gpu_test_require_device();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encoder),  cmocka_unit_test(test_quantize_rows),
      cmocka_unit_test(test_fp8_passes_bitexact),
      cmocka_unit_test(test_gemv_fp8), cmocka_unit_test(test_gemv_fp8_variants),
      cmocka_unit_test(test_gemm_fp8), cmocka_unit_test(test_gemm_fp8_fallback),
      cmocka_unit_test(test_engine_vs_cpu_reference), cmocka_unit_test(test_fp8_fold),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
