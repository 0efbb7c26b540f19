// Every CUDA kernel against a float64 host reference of the same op, by
// normalised error ||out - ref|| / ||ref||, on fresh random inputs of several
// shapes (odd lengths, every GQA ratio of the presets: 32/8, 24/8, 64/8, and the
// tiny models' 4/2 and 8/2 with head_dim 24 and 12), outputs poisoned with NaN
// first so an element the kernel does not write fails the test.
//
// Tolerances: outputs rounded to bf16 carry a relative error of up to 2^-9 per
// element (0.2%), inputs are exactly representable; we allow 1e-2 for bf16
// outputs, 1e-5 for fp32 outputs of bf16 products (fp32 accumulation only).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka has no C++ guards
#include <cmocka.h>
}

#include <vector>

extern "C" {
#include "common/error.h"
}
#include "engine/cuda/attention_decode.h"
#include "engine/cuda/attention_prefill.h"
#include "engine/cuda/attn_prefill_variant.h"
#include "engine/cuda/embedding.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/norm_gemv.h"
#include "engine/cuda/norm_once.h"
#include "engine/cuda/rmsnorm.h"
#include "engine/cuda/rope.h"
#include "engine/cuda/sampling.h"
#include "engine/cuda/swiglu.h"
#include "gpu_test_util.h"
extern "C" {
#include "model/config.h"
}

typedef __nv_bfloat16 bf16;
static uint64_t g_seed = 0x5eed;
static uint64_t next_seed(void) { return g_seed = lj_splitmix64(g_seed); }

#define TOL_BF16 1e-2
#define TOL_FP32 1e-5

// ---------------------------------------------------------------- embedding
static void test_embedding(void **state) {
  (void)state;
  int vocab = 1000, dims[] = {64, 96, 2048, 36 /* not a multiple of 8 */};
  for (int dim : dims) {
    int n = 13;
    std::vector<bf16> table((size_t)vocab * dim);
    random_bf16(table.data(), table.size(), next_seed(), 1.0f);
    std::vector<int> tok(n);
    for (int i = 0; i < n; i++) tok[i] = (int)(lj_splitmix64(next_seed()) % vocab);
    void *d_table = dev_copy(table.data(), table.size() * 2), *d_tok = dev_copy(tok.data(), 4 * n);
    void *d_out = dev_poisoned((size_t)n * dim * 2);
    assert_int_equal(lj_cuda_embedding((bf16 *)d_out, (bf16 *)d_table, (int *)d_tok, n, dim, vocab, 0), 0);
    float *out = dev_to_float_bf16(d_out, (size_t)n * dim);
    for (int i = 0; i < n; i++)
      for (int d = 0; d < dim; d++)
        assert_true(out[(size_t)i * dim + d] == __bfloat162float(table[(size_t)tok[i] * dim + d]));
    free(out);
    cudaFree(d_table), cudaFree(d_tok), cudaFree(d_out);
  }
}

// ---------------------------------------------------------------- rmsnorm (+ residual)
static void test_rmsnorm(void **state) {
  (void)state;
  int dims[] = {64, 96, 2048, 3072, 4096, 8192};
  for (int dim : dims)
    for (int with_delta = 0; with_delta < 2; with_delta++)
      for (int with_rows = 0; with_rows < 2; with_rows++) {
        int n = 7, n_rows = with_rows ? 3 : n;
        int rows[3] = {6, 0, 3};
        std::vector<bf16> x((size_t)n * dim), delta((size_t)n * dim), w(dim);
        random_bf16(x.data(), x.size(), next_seed(), 2.0f);
        random_bf16(delta.data(), delta.size(), next_seed(), 1.0f);
        for (int i = 0; i < dim; i++) w[i] = __float2bfloat16(1.0f + 0.1f * lj_random_unit(next_seed(), 1, i));
        void *d_x = dev_copy(x.data(), x.size() * 2), *d_delta = dev_copy(delta.data(), x.size() * 2);
        void *d_w = dev_copy(w.data(), dim * 2), *d_rows = dev_copy(rows, sizeof rows);
        void *d_y = dev_poisoned((size_t)n_rows * dim * 2);
        assert_int_equal(lj_cuda_rmsnorm((bf16 *)d_y, (bf16 *)d_x, (bf16 *)d_x,
                                         with_delta ? (bf16 *)d_delta : NULL, (bf16 *)d_w,
                                         with_rows ? (int *)d_rows : NULL, n_rows, dim, 1e-5f, 0),
                         0);
        float *y = dev_to_float_bf16(d_y, (size_t)n_rows * dim);
        float *xo = dev_to_float_bf16(d_x, (size_t)n * dim);
        std::vector<double> ref_y((size_t)n_rows * dim), ref_x((size_t)n_rows * dim);
        std::vector<float> got_x((size_t)n_rows * dim);
        for (int r = 0; r < n_rows; r++) {
          int src = with_rows ? rows[r] : r;
          double ss = 0;
          std::vector<double> v(dim);
          for (int d = 0; d < dim; d++) {
            double a = __bfloat162float(x[(size_t)src * dim + d]);
            if (with_delta) a += __bfloat162float(delta[(size_t)src * dim + d]);
            v[d] = a;
            ss += a * a;
          }
          double rstd = 1.0 / sqrt(ss / dim + 1e-5);
          for (int d = 0; d < dim; d++) {
            ref_y[(size_t)r * dim + d] = v[d] * rstd * __bfloat162float(w[d]);
            ref_x[(size_t)r * dim + d] = v[d];
            got_x[(size_t)r * dim + d] = xo[(size_t)src * dim + d];
          }
        }
        double ey = rel_err(y, ref_y.data(), ref_y.size()), ex = rel_err(got_x.data(), ref_x.data(), ref_x.size());
        if (ey > TOL_BF16 || ex > TOL_BF16)
          fail_msg("rmsnorm dim %d delta %d rows %d: err y %.3g x %.3g", dim, with_delta, with_rows, ey, ex);
        free(y), free(xo);
        cudaFree(d_x), cudaFree(d_delta), cudaFree(d_w), cudaFree(d_rows), cudaFree(d_y);
      }
}

// ---------------------------------------------------------------- matmul: cuBLASLt and own GEMV
// float64 y (n, out) = x (n, in) W (out, in)^T.
static std::vector<double> ref_matmul(const float *xf, const float *wf, int n, int in, int out) {
  std::vector<double> ref((size_t)n * out);
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++) {
      double acc = 0;
      for (int k = 0; k < in; k++) acc += (double)xf[(size_t)i * in + k] * wf[(size_t)o * in + k];
      ref[(size_t)i * out + o] = acc;
    }
  return ref;
}

static void check_matmul(lj_gemm_lt *g, int use_gemv, int n, int in, int out, int y_fp32) {
  std::vector<bf16> x((size_t)n * in), w((size_t)out * in);
  random_bf16(x.data(), x.size(), next_seed(), 1.0f);
  random_bf16(w.data(), w.size(), next_seed(), 0.05f);
  void *d_x = dev_copy(x.data(), x.size() * 2), *d_w = dev_copy(w.data(), w.size() * 2);
  size_t esz = y_fp32 ? 4 : 2;
  void *d_y = dev_poisoned((size_t)n * out * esz);
  int rc = use_gemv ? lj_cuda_gemv(d_y, y_fp32, (bf16 *)d_x, (bf16 *)d_w, n, in, out, 0)
                    : lj_gemm_lt_run(g, d_y, y_fp32, (bf16 *)d_x, (bf16 *)d_w, n, in, out, 0);
  assert_int_equal(rc, 0);
  std::vector<float> y((size_t)n * out);
  if (y_fp32) {
    GPU_OK(cudaDeviceSynchronize());
    GPU_OK(cudaMemcpy(y.data(), d_y, y.size() * 4, cudaMemcpyDeviceToHost));
  } else {
    float *f = dev_to_float_bf16(d_y, y.size());
    memcpy(y.data(), f, y.size() * 4);
    free(f);
  }
  float *xf = to_float(x.data(), x.size()), *wf = to_float(w.data(), w.size());
  std::vector<double> ref = ref_matmul(xf, wf, n, in, out);
  double e = rel_err(y.data(), ref.data(), ref.size());
  double tol = y_fp32 ? TOL_FP32 : TOL_BF16;
  if (e > tol)
    fail_msg("%s n=%d in=%d, %d out %s: rel err %.3g > %.0e", use_gemv ? "gemv" : "cublasLt", n, in, out,
             y_fp32 ? "fp32" : "bf16", e, tol);
  free(xf), free(wf);
  cudaFree(d_x), cudaFree(d_w), cudaFree(d_y);
}

static void test_matmul(void **state) {
  (void)state;
  lj_gemm_lt *g = NULL;
  assert_int_equal(lj_gemm_lt_create(&g, 32 << 20), 0);
  struct { int n, in, out; } shapes[] = {{1, 2048, 3072}, {3, 2048, 1000}, {8, 96, 200}, {5, 200, 96},
                                         {1, 8192, 2048}, {17, 64, 160}, {64, 3072, 515}, {2, 4096, 6144}};
  for (auto s : shapes)
    for (int fp32 = 0; fp32 < 2; fp32++) {
      check_matmul(g, 0, s.n, s.in, s.out, fp32);
      if (lj_cuda_gemv_supported(s.n, s.in)) check_matmul(g, 1, s.n, s.in, s.out, fp32);
    }
  lj_gemm_lt_free(g);
}

// ---------------------------------------------------------------- GEMV configurations
// Every configuration of gemv_config.h (rows per block, chunks in flight) against the default on
// the same inputs, bit for bit (a thread adds its chunks in the same order whatever the
// configuration: 0 differing outputs expected and printed), and against float64 (bf16 <= 1e-2,
// fp32 <= 1e-5). Shapes: odd row counts (not a multiple of 8 rows), rows shorter than one pass of
// 256 threads x 8 values and longer than U passes, the decode shapes of 1B / 8B (qkv, o_proj,
// gate_up, down) and an LM head in fp32; n = 1, 2 (the configurations) and 3 (runs the default).
static void check_gemv_configs(int n, int in, int out, int y_fp32) {
  std::vector<bf16> x((size_t)n * in), w((size_t)out * in);
  random_bf16(x.data(), x.size(), next_seed(), 1.0f);
  random_bf16(w.data(), w.size(), next_seed(), 0.05f);
  void *d_x = dev_copy(x.data(), x.size() * 2), *d_w = dev_copy(w.data(), w.size() * 2);
  size_t esz = y_fp32 ? 4 : 2, bytes = (size_t)n * out * esz;
  void *d_y = dev_poisoned(bytes);
  std::vector<unsigned char> want(bytes), got(bytes);
  assert_int_equal(lj_cuda_gemv_cfg(d_y, y_fp32, (bf16 *)d_x, (bf16 *)d_w, n, in, out, LJ_GEMV_CONFIG_DEFAULT, 0), 0);
  GPU_OK(cudaDeviceSynchronize());
  GPU_OK(cudaMemcpy(want.data(), d_y, bytes, cudaMemcpyDeviceToHost));
  float *xf = to_float(x.data(), x.size()), *wf = to_float(w.data(), w.size());
  std::vector<double> ref = ref_matmul(xf, wf, n, in, out);
  for (int cfg = 0; cfg < LJ_GEMV_CONFIG_COUNT; cfg++) {
    GPU_OK(cudaMemset(d_y, 0xff, bytes));  // NaN in both formats: an output not written shows
    assert_int_equal(lj_cuda_gemv_cfg(d_y, y_fp32, (bf16 *)d_x, (bf16 *)d_w, n, in, out, cfg, 0), 0);
    GPU_OK(cudaDeviceSynchronize());
    GPU_OK(cudaMemcpy(got.data(), d_y, bytes, cudaMemcpyDeviceToHost));
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)n * out; i++) differ += memcmp(&got[i * esz], &want[i * esz], esz) != 0;
    std::vector<float> y((size_t)n * out);
    for (size_t i = 0; i < y.size(); i++) {
      if (y_fp32)
        memcpy(&y[i], &got[i * 4], 4);
      else
        y[i] = __bfloat162float(*reinterpret_cast<const bf16 *>(&got[i * 2]));
    }
    double e = rel_err(y.data(), ref.data(), ref.size()), tol = y_fp32 ? TOL_FP32 : TOL_BF16;
    printf("gemv config %s n=%d in=%d rows=%d %s: rel err %.3g, %zu of %zu outputs differ from r4u2\n",
           lj_gemv_config_name(cfg), n, in, out, y_fp32 ? "fp32" : "bf16", e, differ, y.size());
    if (e > tol || differ)
      fail_msg("gemv config %s n=%d in=%d rows=%d: rel err %.3g (bound %.0e), %zu outputs differ from the default",
               lj_gemv_config_name(cfg), n, in, out, e, tol, differ);
  }
  assert_int_equal(lj_cuda_gemv_cfg(d_y, y_fp32, (bf16 *)d_x, (bf16 *)d_w, n, in, out, LJ_GEMV_CONFIG_COUNT, 0),
                   LJ_EINVAL);
  free(xf), free(wf);
  cudaFree(d_x), cudaFree(d_w), cudaFree(d_y);
}

static void test_gemv_configs(void **state) {
  (void)state;
  struct { int n, in, out, fp32; } shapes[] = {
      {1, 2048, 3072, 0}, {2, 2048, 2048, 0}, {1, 2048, 16384, 0}, {1, 8192, 2048, 0},  // 1B
      {1, 4096, 6144, 0}, {2, 14336, 4096, 0}, {1, 96, 37, 0},   {2, 8200, 203, 0},     // 8B, odd
      {1, 2048, 5003, 1}, {2, 4096, 77, 1},    {3, 2048, 515, 0}, {3, 4104, 9, 1}};     // LM head, n = 3
  for (auto s : shapes) check_gemv_configs(s.n, s.in, s.out, s.fp32);
}

// ---------------------------------------------------------------- fused norm + GEMV (+ SwiGLU)
// The composite stages' kernels against the unfused sequence on the same inputs
// (rmsnorm -> gemv [-> swiglu]) and against a float64 reference. The fused kernel uses the
// unfused kernels' roundings and summation order: the updated x must be bit-identical, the
// outputs within 1e-2 of both (the count of bit differences is printed; 0 is expected).
// Each fused launch runs twice from fresh inputs: the second one checks that the block
// counter came back to 0 (otherwise no block would write x).
static void check_norm_gemv(int swiglu, int n, int dim, int out, int with_delta) {
  const float eps = 1e-5f;
  int rows = swiglu ? 2 * out : out;  // weight rows
  std::vector<bf16> x((size_t)n * dim), delta((size_t)n * dim), nw(dim), w((size_t)rows * dim);
  random_bf16(x.data(), x.size(), next_seed(), 2.0f);
  random_bf16(delta.data(), delta.size(), next_seed(), 1.0f);
  random_bf16(w.data(), w.size(), next_seed(), 0.05f);
  for (int i = 0; i < dim; i++) nw[i] = __float2bfloat16(1.0f + 0.1f * lj_random_unit(next_seed(), 1, i));
  size_t xb = x.size() * 2;
  void *d_delta = dev_copy(delta.data(), xb), *d_nw = dev_copy(nw.data(), (size_t)dim * 2);
  void *d_w = dev_copy(w.data(), w.size() * 2);
  const bf16 *dl = with_delta ? (const bf16 *)d_delta : NULL;

  // Unfused: rmsnorm (x += delta, xn), gemv, [swiglu].
  void *d_x1 = dev_copy(x.data(), xb), *d_xn = dev_poisoned(xb);
  void *d_y1 = dev_poisoned((size_t)n * rows * 2), *d_h1 = dev_poisoned((size_t)n * out * 2);
  assert_int_equal(lj_cuda_rmsnorm((bf16 *)d_xn, (bf16 *)d_x1, (bf16 *)d_x1, dl, (bf16 *)d_nw, NULL, n, dim, eps, 0), 0);
  assert_int_equal(lj_cuda_gemv(d_y1, 0, (bf16 *)d_xn, (bf16 *)d_w, n, dim, rows, 0), 0);
  if (swiglu) assert_int_equal(lj_cuda_swiglu((bf16 *)d_h1, (bf16 *)d_y1, n, out, 0), 0);
  float *x1 = dev_to_float_bf16(d_x1, x.size());
  float *y1 = dev_to_float_bf16(swiglu ? d_h1 : d_y1, (size_t)n * out);

  // float64 reference from the bf16 residual.
  std::vector<double> ref((size_t)n * out), cond((size_t)n * out), y1d((size_t)n * out);
  for (int t = 0; t < n; t++) {
    std::vector<double> v(dim), xn(dim);
    double ss = 0;
    for (int d = 0; d < dim; d++) {
      float a = __bfloat162float(x[(size_t)t * dim + d]);
      if (with_delta) a = bf16_round(a + __bfloat162float(delta[(size_t)t * dim + d]));
      v[d] = a;
      ss += v[d] * v[d];
    }
    double rstd = 1.0 / sqrt(ss / dim + eps);
    for (int d = 0; d < dim; d++) xn[d] = v[d] * rstd * __bfloat162float(nw[d]);
    for (int o = 0; o < out; o++) {
      double g = 0, u = 0, g2 = 0, u2 = 0;  // the dot products and their terms' sums of squares
      for (int d = 0; d < dim; d++) {
        double term = xn[d] * __bfloat162float(w[(size_t)o * dim + d]);
        g += term, g2 += term * term;
      }
      double c = sqrt(g2);
      if (swiglu) {
        for (int d = 0; d < dim; d++) {
          double term = xn[d] * __bfloat162float(w[(size_t)(out + o) * dim + d]);
          u += term, u2 += term * term;
        }
        c = hypot(1.1 * u * sqrt(g2), g * sqrt(u2));  // propagated: silu' <= 1.1, |silu(g)| <= |g|
        g = g / (1 + exp(-g)) * u;
      }
      ref[(size_t)t * out + o] = g;
      cond[(size_t)t * out + o] = c;
    }
  }
  for (size_t i = 0; i < y1d.size(); i++) y1d[i] = y1[i];
  double e1 = rel_err_cond(y1, ref.data(), cond.data(), ref.size());
  if (e1 > TOL_BF16) fail_msg("unfused sequence n=%d dim=%d outputs %d: rel err %.3g", n, dim, out, e1);

  int *d_counter = (int *)dev_copy(std::vector<int>(1, 0).data(), sizeof(int));
  for (int rep = 0; rep < 2; rep++) {
    void *d_x2 = dev_copy(x.data(), xb), *d_y2 = dev_poisoned((size_t)n * out * 2);
    int rc = swiglu ? lj_cuda_norm_gemv_swiglu((bf16 *)d_y2, (bf16 *)d_x2, dl, (bf16 *)d_nw, (bf16 *)d_w, n, dim,
                                               out, eps, d_counter, 0)
                    : lj_cuda_norm_gemv((bf16 *)d_y2, (bf16 *)d_x2, dl, (bf16 *)d_nw, (bf16 *)d_w, n, dim, out, eps,
                                        d_counter, 0);
    assert_int_equal(rc, 0);
    float *x2 = dev_to_float_bf16(d_x2, x.size());
    float *y2 = dev_to_float_bf16(d_y2, (size_t)n * out);
    int counter = -1;
    GPU_OK(cudaMemcpy(&counter, d_counter, sizeof counter, cudaMemcpyDeviceToHost));
    const char *what = swiglu ? "norm_gemv_swiglu" : "norm_gemv";
    if (counter != 0) fail_msg("%s n=%d dim=%d outputs %d: block counter left at %d", what, n, dim, out, counter);
    for (size_t i = 0; i < x.size(); i++)
      if (memcmp(&x2[i], &x1[i], sizeof(float)))
        fail_msg("%s n=%d dim=%d outputs %d delta %d launch %d: x[%zu] = %g, unfused %g", what, n, dim, out, with_delta,
                 rep, i, x2[i], x1[i]);
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)n * out; i++) differ += memcmp(&y2[i], &y1[i], sizeof(float)) != 0;
    double e_ref = rel_err_cond(y2, ref.data(), cond.data(), ref.size()), e_unf = rel_err(y2, y1d.data(), y1d.size());
    if (rep == 0)
      printf("  %s n=%d dim=%d outputs %d delta %d: rel err %.3g (unfused %.3g), vs unfused %.3g, %zu of %zu differ\n",
             what, n, dim, out, with_delta, e_ref, e1, e_unf, differ, (size_t)n * out);
    if (e_ref > TOL_BF16 || e_unf > TOL_BF16)
      fail_msg("%s n=%d dim=%d outputs %d delta %d launch %d: rel err %.3g, vs unfused %.3g", what, n, dim, out,
               with_delta, rep, e_ref, e_unf);
    free(x2), free(y2);
    cudaFree(d_x2), cudaFree(d_y2);
  }
  free(x1), free(y1);
  cudaFree(d_counter), cudaFree(d_delta), cudaFree(d_nw), cudaFree(d_w);
  cudaFree(d_x1), cudaFree(d_xn), cudaFree(d_y1), cudaFree(d_h1);
}

static void test_norm_gemv(void **state) {
  (void)state;
  // (n, dim, out): 1B's QKV, the tiny models, odd row counts (one token: 8 rows per block,
  // else 4), 8 rows of 8192 (128 KiB of shared memory: the opt-in path), every token count 1 .. 8;
  // 3B's QKV at 8 tokens: 48 KiB of rows plus the static reductions, past the default limit (its
  // launch failed "invalid argument" when only the rows were counted).
  struct { int n, dim, out; } shapes[] = {{1, 2048, 3072}, {3, 64, 96},   {8, 96, 200},   {5, 96, 13},
                                          {2, 4096, 6144}, {4, 8192, 40}, {8, 8192, 21},  {6, 200, 515},
                                          {7, 3072, 5},    {1, 96, 1},    {1, 64, 13},    {1, 8192, 70},
                                          {8, 3072, 5120}};
  for (auto sh : shapes)
    for (int with_delta = 0; with_delta < 2; with_delta++) check_norm_gemv(0, sh.n, sh.dim, sh.out, with_delta);
}

static void test_norm_gemv_swiglu(void **state) {
  (void)state;
  // (n, dim, hidden): 1B's gate|up, the tiny models (odd hidden 200/2 pairs, 160), odd hidden.
  struct { int n, dim, hidden; } shapes[] = {{1, 2048, 8192}, {3, 64, 160}, {8, 96, 200},  {5, 96, 13},
                                             {2, 3072, 8192}, {8, 8192, 9}, {4, 4096, 1001}, {1, 96, 1},
                                             {1, 64, 7},      {1, 96, 100}, {8, 3072, 8192}};
  for (auto sh : shapes) check_norm_gemv(1, sh.n, sh.dim, sh.hidden, 1);
  check_norm_gemv(1, 3, 64, 160, 0);
}

// The "norm once" kernels (norm_once.h) against the unfused sequence on the same inputs: o_proj's
// gemv (delta), rmsnorm (x += delta, xn), the gate|up gemv, swiglu. Rounded and summed in the
// unfused kernels' order: delta and the updated x must be bit-identical, rstd within 1e-5 of float64
// from the updated x, h within 1e-2 of the unfused h (the count of bit differences is printed; 0 is
// expected). cfg_o / cfg_gu: the GEMV configurations (the same bits for every one). Each pair runs
// twice from fresh inputs: the second checks that the block counter came back to 0.
static void check_norm_once(int n, int in, int dim, int hidden, int cfg_o, int cfg_gu) {
  const float eps = 1e-5f;
  std::vector<bf16> a((size_t)n * in), x((size_t)n * dim), nw(dim), wo((size_t)dim * in), wgu((size_t)2 * hidden * dim);
  random_bf16(a.data(), a.size(), next_seed(), 1.0f);
  random_bf16(x.data(), x.size(), next_seed(), 2.0f);
  random_bf16(wo.data(), wo.size(), next_seed(), 0.05f);
  random_bf16(wgu.data(), wgu.size(), next_seed(), 0.05f);
  for (int i = 0; i < dim; i++) nw[i] = __float2bfloat16(1.0f + 0.1f * lj_random_unit(next_seed(), 1, i));
  size_t xb = x.size() * 2, hn = (size_t)n * hidden;
  void *d_a = dev_copy(a.data(), a.size() * 2), *d_nw = dev_copy(nw.data(), (size_t)dim * 2);
  void *d_wo = dev_copy(wo.data(), wo.size() * 2), *d_wgu = dev_copy(wgu.data(), wgu.size() * 2);

  void *d_x1 = dev_copy(x.data(), xb), *d_d1 = dev_poisoned(xb), *d_xn = dev_poisoned(xb);
  void *d_gu = dev_poisoned(2 * hn * 2), *d_h1 = dev_poisoned(hn * 2);
  assert_int_equal(lj_cuda_gemv(d_d1, 0, (bf16 *)d_a, (bf16 *)d_wo, n, in, dim, 0), 0);
  assert_int_equal(lj_cuda_rmsnorm((bf16 *)d_xn, (bf16 *)d_x1, (bf16 *)d_x1, (bf16 *)d_d1, (bf16 *)d_nw, NULL, n, dim,
                                   eps, 0), 0);
  assert_int_equal(lj_cuda_gemv(d_gu, 0, (bf16 *)d_xn, (bf16 *)d_wgu, n, dim, 2 * hidden, 0), 0);
  assert_int_equal(lj_cuda_swiglu((bf16 *)d_h1, (bf16 *)d_gu, n, hidden, 0), 0);
  float *x1 = dev_to_float_bf16(d_x1, x.size()), *d1 = dev_to_float_bf16(d_d1, x.size());
  float *h1 = dev_to_float_bf16(d_h1, hn);
  std::vector<double> h1d(h1, h1 + hn), rstd_ref(n);
  for (int t = 0; t < n; t++) {
    double ss = 0;
    for (int d = 0; d < dim; d++) ss += (double)x1[(size_t)t * dim + d] * x1[(size_t)t * dim + d];
    rstd_ref[t] = 1.0 / sqrt(ss / dim + eps);
  }

  int *d_counter = (int *)dev_copy(std::vector<int>(1, 0).data(), sizeof(int));
  float *d_rstd = (float *)dev_poisoned((size_t)n * 4);
  for (int rep = 0; rep < 2; rep++) {
    void *d_x2 = dev_copy(x.data(), xb), *d_d2 = dev_poisoned(xb), *d_h2 = dev_poisoned(hn * 2);
    assert_int_equal(lj_cuda_gemv_residual_norm((bf16 *)d_d2, (bf16 *)d_x2, d_rstd, (bf16 *)d_a, (bf16 *)d_wo, n, in,
                                                dim, eps, d_counter, cfg_o, 0), 0);
    assert_int_equal(lj_cuda_scaled_gemv_swiglu((bf16 *)d_h2, (bf16 *)d_x2, d_rstd, (bf16 *)d_nw, (bf16 *)d_wgu, n,
                                                dim, hidden, cfg_gu, 0), 0);
    float *x2 = dev_to_float_bf16(d_x2, x.size()), *d2 = dev_to_float_bf16(d_d2, x.size());
    float *h2 = dev_to_float_bf16(d_h2, hn);
    std::vector<float> rstd(n);
    int counter = -1;
    GPU_OK(cudaMemcpy(rstd.data(), d_rstd, (size_t)n * 4, cudaMemcpyDeviceToHost));
    GPU_OK(cudaMemcpy(&counter, d_counter, sizeof counter, cudaMemcpyDeviceToHost));
    char what[96];
    snprintf(what, sizeof what, "norm once n=%d in=%d dim=%d hidden=%d (%s, %s) launch %d", n, in, dim, hidden,
             lj_gemv_config_name(cfg_o), lj_gemv_config_name(cfg_gu), rep);
    if (counter != 0) fail_msg("%s: block counter left at %d", what, counter);
    for (size_t i = 0; i < x.size(); i++) {
      if (memcmp(&d2[i], &d1[i], sizeof(float))) fail_msg("%s: delta[%zu] = %g, unfused %g", what, i, d2[i], d1[i]);
      if (memcmp(&x2[i], &x1[i], sizeof(float))) fail_msg("%s: x[%zu] = %g, unfused %g", what, i, x2[i], x1[i]);
    }
    for (int t = 0; t < n; t++)
      if (!(fabs(rstd[t] - rstd_ref[t]) <= 1e-5 * rstd_ref[t]))
        fail_msg("%s: rstd[%d] = %.9g, float64 %.9g", what, t, rstd[t], rstd_ref[t]);
    size_t differ = 0;
    for (size_t i = 0; i < hn; i++) differ += memcmp(&h2[i], &h1[i], sizeof(float)) != 0;
    double e = rel_err(h2, h1d.data(), hn);
    if (rep == 0) printf("  %s: h vs unfused rel err %.3g, %zu of %zu differ\n", what, e, differ, hn);
    if (e > TOL_BF16) fail_msg("%s: h rel err %.3g from the unfused sequence", what, e);
    free(x2), free(d2), free(h2);
    cudaFree(d_x2), cudaFree(d_d2), cudaFree(d_h2);
  }
  free(x1), free(d1), free(h1);
  cudaFree(d_counter), cudaFree(d_rstd), cudaFree(d_a), cudaFree(d_nw), cudaFree(d_wo), cudaFree(d_wgu);
  cudaFree(d_x1), cudaFree(d_d1), cudaFree(d_xn), cudaFree(d_gu), cudaFree(d_h1);
}

static void test_norm_once(void **state) {
  (void)state;
  // (n, in = q_dim, dim, hidden): 1B's and 8B's layers, the tiny models (q_dim != dim, odd hidden),
  // rows of 8192 (the last block reads 4 chunks a thread), every token count 1 .. 8.
  struct { int n, in, dim, hidden; } shapes[] = {{1, 2048, 2048, 8192}, {2, 4096, 4096, 14336}, {1, 96, 64, 160},
                                                 {2, 96, 96, 200},      {3, 96, 64, 160},       {8, 96, 96, 13},
                                                 {5, 200, 8192, 9},     {4, 64, 1000, 1},       {6, 48, 24, 7},
                                                 {7, 3072, 3072, 100}};
  int r4u2 = lj_gemv_config_parse("r4u2");
  for (auto sh : shapes) check_norm_once(sh.n, sh.in, sh.dim, sh.hidden, r4u2, r4u2);
  // every configuration at one and two tokens (o_proj's and gate_up's), on 1B's shape and an odd one
  for (int cfg = 0; cfg < LJ_GEMV_CONFIG_COUNT; cfg++)
    for (int n = 1; n <= 2; n++) {
      check_norm_once(n, 2048, 2048, 8192, cfg, (cfg + 5) % LJ_GEMV_CONFIG_COUNT);
      check_norm_once(n, 96, 64, 13, (cfg + 3) % LJ_GEMV_CONFIG_COUNT, cfg);
    }
  // refusals: a row wider than rmsnorm.cu's, 9 tokens, an unknown configuration, no counter
  assert_int_equal(lj_cuda_norm_once_supported(1, 64, 8200), 0);
  assert_int_equal(lj_cuda_norm_once_supported(9, 64, 64), 0);
  assert_int_equal(lj_cuda_gemv_residual_norm(NULL, NULL, NULL, NULL, NULL, 1, 64, 64, 1e-5f, NULL, 0, 0), LJ_EINVAL);
  assert_int_equal(lj_cuda_scaled_gemv_swiglu(NULL, NULL, NULL, NULL, NULL, 1, 64, 8, LJ_GEMV_CONFIG_COUNT, 0),
                   LJ_EINVAL);
}

// ---------------------------------------------------------------- swiglu
static void test_swiglu(void **state) {
  (void)state;
  int hs[] = {160, 200, 8192, 14336, 13};
  for (int h : hs) {
    int n = 5;
    std::vector<bf16> gu((size_t)n * 2 * h);
    random_bf16(gu.data(), gu.size(), next_seed(), 4.0f);
    void *d_gu = dev_copy(gu.data(), gu.size() * 2), *d_out = dev_poisoned((size_t)n * h * 2);
    assert_int_equal(lj_cuda_swiglu((bf16 *)d_out, (bf16 *)d_gu, n, h, 0), 0);
    float *out = dev_to_float_bf16(d_out, (size_t)n * h);
    std::vector<double> ref((size_t)n * h);
    for (int t = 0; t < n; t++)
      for (int i = 0; i < h; i++) {
        double g = __bfloat162float(gu[(size_t)t * 2 * h + i]), u = __bfloat162float(gu[(size_t)t * 2 * h + h + i]);
        ref[(size_t)t * h + i] = g / (1 + exp(-g)) * u;
      }
    double e = rel_err(out, ref.data(), ref.size());
    if (e > TOL_BF16) fail_msg("swiglu hidden %d: rel err %.3g", h, e);
    free(out);
    cudaFree(d_gu), cudaFree(d_out);
  }
}

// ---------------------------------------------------------------- attention shapes
struct attn_case {
  const char *preset;  // the config whose heads we use
  int n_heads, n_kv, hd;
};
static const attn_case g_attn_cases[] = {
    {"llama-3.2-1b", 32, 8, 64}, {"llama-3.2-3b", 24, 8, 128}, {"llama-3.1-8b", 32, 8, 128},
    {"llama-3.3-70b", 64, 8, 128}, {"tiny", 4, 2, 24}, {"tiny-untied", 8, 2, 12}};

// ---------------------------------------------------------------- rope + KV append
// n = 5: one token per block (decode); n = 600: the long-prefill path (8 tokens per block).
static void check_rope(const attn_case &ac, int n) {
  {
    lj_model_config c;
    assert_int_equal(lj_config_preset(ac.preset, &c), 0);
    int n_seq = 2, ctx = n > 5 ? n : 40, qd = ac.n_heads * ac.hd, kvd = ac.n_kv * ac.hd, stride = qd + 2 * kvd;
    std::vector<int> seq(n), pos(n);
    const int seq5[5] = {0, 1, 1, 0, 1}, pos5[5] = {0, 3, 39, 17, 8};
    for (int i = 0; i < n; i++) {
      seq[i] = n == 5 ? seq5[i] : i % 2;
      pos[i] = n == 5 ? pos5[i] : (i / 2 * 7) % ctx;  // 7 and ctx = 600 are coprime: distinct per slot
    }
    std::vector<bf16> qkv((size_t)n * stride);
    random_bf16(qkv.data(), qkv.size(), next_seed(), 1.0f);
    std::vector<float> inv(ac.hd / 2);
    lj_rope_inv_freq(&c, inv.data());
    size_t cache_n = (size_t)n_seq * ac.n_kv * ctx * ac.hd;
    void *d_qkv = dev_copy(qkv.data(), qkv.size() * 2), *d_inv = dev_copy(inv.data(), inv.size() * 4);
    void *d_seq = dev_copy(seq.data(), 4 * n), *d_pos = dev_copy(pos.data(), 4 * n);
    void *d_k = dev_poisoned(cache_n * 2), *d_v = dev_poisoned(cache_n * 2);
    assert_int_equal(lj_cuda_rope_kv((bf16 *)d_qkv, (bf16 *)d_k, (bf16 *)d_v, (int *)d_seq, (int *)d_pos,
                                     (float *)d_inv, n, ac.n_heads, ac.n_kv, ac.hd, ctx, 0), 0);
    float *q_out = dev_to_float_bf16(d_qkv, qkv.size());
    float *k_out = dev_to_float_bf16(d_k, cache_n), *v_out = dev_to_float_bf16(d_v, cache_n);
    std::vector<float> got;
    std::vector<double> ref;
    int half = ac.hd / 2;
    for (int t = 0; t < n; t++) {
      for (int head = 0; head < ac.n_heads + ac.n_kv; head++)
        for (int i = 0; i < ac.hd; i++) {
          int j = i < half ? i : i - half;
          double ang = (double)pos[t] * inv[j];
          double x = __bfloat162float(qkv[(size_t)t * stride + head * ac.hd + i]);
          double partner = __bfloat162float(qkv[(size_t)t * stride + head * ac.hd + (i < half ? i + half : i - half)]);
          double r = i < half ? x * cos(ang) - partner * sin(ang) : x * cos(ang) + partner * sin(ang);
          ref.push_back(r);
          if (head < ac.n_heads) {
            got.push_back(q_out[(size_t)t * stride + head * ac.hd + i]);
          } else {
            int kh = head - ac.n_heads;
            got.push_back(k_out[(((size_t)seq[t] * ac.n_kv + kh) * ctx + pos[t]) * ac.hd + i]);
          }
        }
      for (int k = 0; k < kvd; k++) {
        int kh = k / ac.hd, d = k % ac.hd;
        ref.push_back(__bfloat162float(qkv[(size_t)t * stride + qd + kvd + k]));
        got.push_back(v_out[(((size_t)seq[t] * ac.n_kv + kh) * ctx + pos[t]) * ac.hd + d]);
      }
    }
    double e = rel_err(got.data(), ref.data(), ref.size());
    // cos/sin are rounded to bf16 like HF: 2^-9 relative on top of the output rounding.
    if (e > TOL_BF16) fail_msg("rope %s, %d tokens: rel err %.3g", ac.preset, n, e);
    // Positions nobody wrote stay poisoned (NaN): the kernel wrote only its rows.
    if (n == 5) assert_true(isnan(k_out[((size_t)0 * ac.n_kv * ctx + 1) * ac.hd]));
    free(q_out), free(k_out), free(v_out);
    cudaFree(d_qkv), cudaFree(d_inv), cudaFree(d_seq), cudaFree(d_pos), cudaFree(d_k), cudaFree(d_v);
  }
}

static void test_rope(void **state) {
  (void)state;
  for (const attn_case &ac : g_attn_cases)
    for (int n : {5, 600}) check_rope(ac, n);
}

// Reference attention for one query of head h against positions 0 .. n_keys-1 of (seq, kvh).
static void ref_attention(double *out, const float *q, const float *k_cache, const float *v_cache,
                          int seq, int kvh, int n_kv, int ctx, int hd, int n_keys) {
  std::vector<double> s(n_keys);
  double mx = -INFINITY;
  for (int j = 0; j < n_keys; j++) {
    const float *kr = k_cache + (((size_t)seq * n_kv + kvh) * ctx + j) * hd;
    double d = 0;
    for (int i = 0; i < hd; i++) d += (double)q[i] * kr[i];
    s[j] = d / sqrt((double)hd);
    mx = fmax(mx, s[j]);
  }
  double z = 0;
  for (int j = 0; j < n_keys; j++) z += (s[j] = exp(s[j] - mx));
  for (int i = 0; i < hd; i++) out[i] = 0;
  for (int j = 0; j < n_keys; j++) {
    const float *vr = v_cache + (((size_t)seq * n_kv + kvh) * ctx + j) * hd;
    for (int i = 0; i < hd; i++) out[i] += s[j] / z * vr[i];
  }
}

// ---------------------------------------------------------------- decode attention
static void test_attention_decode(void **state) {
  (void)state;
  for (const attn_case &ac : g_attn_cases) {
    int ctx = 1600, n_seq = 4, qd = ac.n_heads * ac.hd, kvd = ac.n_kv * ac.hd, stride = qd + 2 * kvd;
    int kv_len[4] = {1, 37, 1600, 555}, seq[4] = {2, 0, 3, 1};  // token t -> slot seq[t]
    size_t cache_n = (size_t)n_seq * ac.n_kv * ctx * ac.hd;
    std::vector<bf16> kc(cache_n), vc(cache_n), qkv((size_t)n_seq * stride);
    random_bf16(kc.data(), cache_n, next_seed(), 2.0f);
    random_bf16(vc.data(), cache_n, next_seed(), 1.0f);
    random_bf16(qkv.data(), qkv.size(), next_seed(), 2.0f);
    for (int batch_hint : {1, 4}) {
      lj_attn_decode_shape sh = lj_attn_decode_plan(ac.n_heads, ac.n_kv, ac.hd, ctx, batch_hint, 132, 0);
      void *d_k = dev_copy(kc.data(), cache_n * 2), *d_v = dev_copy(vc.data(), cache_n * 2);
      void *d_qkv = dev_copy(qkv.data(), qkv.size() * 2), *d_seq = dev_copy(seq, sizeof seq);
      void *d_len = dev_copy(kv_len, sizeof kv_len);
      void *d_out = dev_poisoned((size_t)n_seq * qd * 2);
      void *d_scratch = dev_poisoned(lj_attn_decode_scratch_bytes(&sh, n_seq));
      assert_int_equal(lj_cuda_attention_decode((bf16 *)d_out, (bf16 *)d_qkv, (bf16 *)d_k, (bf16 *)d_v,
                                                (int *)d_seq, (int *)d_len, n_seq, &sh, (float *)d_scratch, 0),
                       0);
      float *out = dev_to_float_bf16(d_out, (size_t)n_seq * qd);
      float *kf = to_float(kc.data(), cache_n), *vf = to_float(vc.data(), cache_n);
      float *qf = to_float(qkv.data(), qkv.size());
      std::vector<double> ref((size_t)n_seq * qd);
      for (int t = 0; t < n_seq; t++)
        for (int h = 0; h < ac.n_heads; h++)
          ref_attention(&ref[(size_t)t * qd + h * ac.hd], qf + (size_t)t * stride + h * ac.hd, kf, vf, seq[t],
                        h / (ac.n_heads / ac.n_kv), ac.n_kv, ctx, ac.hd, kv_len[t]);
      double e = rel_err(out, ref.data(), ref.size());
      if (e > TOL_BF16)
        fail_msg("decode attention %s (%d/%d heads, hd %d, %d splits of %d): rel err %.3g", ac.preset,
                 ac.n_heads, ac.n_kv, ac.hd, sh.n_splits, sh.split_keys, e);
      free(out), free(kf), free(vf), free(qf);
      cudaFree(d_k), cudaFree(d_v), cudaFree(d_qkv), cudaFree(d_seq), cudaFree(d_len), cudaFree(d_out),
          cudaFree(d_scratch);
    }
  }
}

// ---------------------------------------------------------------- prefill attention
// Every prefill attention variant (attn_prefill_variant.h; the mma ones fall back to wmma for head
// sizes other than 64 and 128) against the float64 reference on the same inputs: n_seq sequences
// of q_len[s] new tokens after ctx_start[s] cached positions, packed one after the other. Rows
// compared: every row of sequences up to 256 tokens, and of longer ones the first and last 64 rows
// and every 5th (the reference costs O(rows x keys)); every row written must be finite (outputs
// start as NaN).
static void check_prefill(const char *name, int n_heads, int n_kv, int hd, int n_seq, const int *q_len,
                          const int *ctx_start) {
  int qd = n_heads * hd, kvd = n_kv * hd, stride = qd + 2 * kvd, ctx = 0, n_tok = 0, max_q = 0;
  std::vector<int> q_start(n_seq);
  for (int s = 0; s < n_seq; s++) {
    q_start[s] = n_tok, n_tok += q_len[s];
    max_q = q_len[s] > max_q ? q_len[s] : max_q;
    ctx = ctx_start[s] + q_len[s] > ctx ? ctx_start[s] + q_len[s] : ctx;
  }
  size_t cache_n = (size_t)n_seq * n_kv * ctx * hd;
  std::vector<bf16> kc(cache_n), vc(cache_n), qkv((size_t)n_tok * stride);
  random_bf16(kc.data(), cache_n, next_seed(), 2.0f);
  random_bf16(vc.data(), cache_n, next_seed(), 1.0f);
  random_bf16(qkv.data(), qkv.size(), next_seed(), 2.0f);
  float *kf = to_float(kc.data(), cache_n), *vf = to_float(vc.data(), cache_n);
  float *qf = to_float(qkv.data(), qkv.size());
  std::vector<int> rows;  // packed rows compared with the reference
  std::vector<double> ref;
  for (int s = 0; s < n_seq; s++)
    for (int i = 0; i < q_len[s]; i++) {
      if (q_len[s] > 256 && i >= 64 && i < q_len[s] - 64 && i % 5) continue;
      int row = q_start[s] + i;
      rows.push_back(row);
      ref.resize(ref.size() + qd);
      double *r = &ref[ref.size() - qd];
      for (int h = 0; h < n_heads; h++)
        ref_attention(r + h * hd, qf + (size_t)row * stride + h * hd, kf, vf, s, h / (n_heads / n_kv), n_kv, ctx,
                      hd, ctx_start[s] + i + 1);
    }
  lj_attn_prefill_shape sh = {n_heads, n_kv, hd, ctx};
  void *d_k = dev_copy(kc.data(), cache_n * 2), *d_v = dev_copy(vc.data(), cache_n * 2);
  void *d_qkv = dev_copy(qkv.data(), qkv.size() * 2);
  void *d_qs = dev_copy(q_start.data(), 4 * (size_t)n_seq), *d_ql = dev_copy(q_len, 4 * (size_t)n_seq);
  void *d_cs = dev_copy(ctx_start, 4 * (size_t)n_seq);
  for (int v = 0; v < LJ_ATTN_PREFILL_COUNT; v++) {
    void *d_out = dev_poisoned((size_t)n_tok * qd * 2);
    assert_int_equal(lj_cuda_attention_prefill_variant(v, (bf16 *)d_out, (bf16 *)d_qkv, (bf16 *)d_k, (bf16 *)d_v,
                                                       (int *)d_qs, (int *)d_ql, (int *)d_cs, n_seq, max_q, &sh, 0),
                     0);
    float *out = dev_to_float_bf16(d_out, (size_t)n_tok * qd);
    size_t not_finite = 0;
    for (size_t i = 0; i < (size_t)n_tok * qd; i++) not_finite += !isfinite(out[i]);
    std::vector<float> got(ref.size());
    for (size_t r = 0; r < rows.size(); r++)
      memcpy(&got[r * qd], out + (size_t)rows[r] * qd, sizeof(float) * qd);
    double e = rel_err(got.data(), ref.data(), ref.size());
    printf("prefill attention %-8s %-14s %2d/%d heads, hd %3d, %d seqs (longest %d): rel err %.3g\n",
           lj_attn_prefill_name(v), name, n_heads, n_kv, hd, n_seq, max_q, e);
    if (e > TOL_BF16 || not_finite)
      fail_msg("prefill attention %s, %s (%d/%d heads, hd %d): rel err %.3g, %zu outputs not written or not finite",
               lj_attn_prefill_name(v), name, n_heads, n_kv, hd, e, not_finite);
    free(out);
    cudaFree(d_out);
  }
  free(kf), free(vf), free(qf);
  cudaFree(d_k), cudaFree(d_v), cudaFree(d_qkv), cudaFree(d_qs), cudaFree(d_ql), cudaFree(d_cs);
}

static void test_attention_prefill(void **state) {
  (void)state;
  // The presets' and tiny models' heads: a prompt of 70, one token after 33 cached, 129 after 100.
  const int q_len[3] = {70, 1, 129}, ctx_start[3] = {0, 33, 100};
  for (const attn_case &ac : g_attn_cases) check_prefill(ac.preset, ac.n_heads, ac.n_kv, ac.hd, 3, q_len, ctx_start);
  // head_dim 64 and 128 at GQA ratios 1, 3 and 4; lengths off every tile size (1, 17, 130) and
  // one of 2048 (the benchmark's prompt), after cached prefixes that put tiles off the diagonal.
  const int long_len[4] = {1, 17, 130, 2048}, long_ctx[4] = {200, 33, 70, 3};
  const int first_ctx[2] = {0, 0}, first_len[2] = {2048, 130};  // fresh prompts: diagonal on tile edges
  struct { int n_heads, n_kv, hd; } shapes[] = {{4, 4, 64}, {4, 4, 128}, {6, 2, 128}, {6, 2, 64}, {8, 2, 64}, {8, 2, 128}};
  for (auto sh : shapes) {
    check_prefill("1/17/130/2048", sh.n_heads, sh.n_kv, sh.hd, 4, long_len, long_ctx);
    check_prefill("2048/130 fresh", sh.n_heads, sh.n_kv, sh.hd, 2, first_len, first_ctx);
  }
}

// ---------------------------------------------------------------- sampling
// temperature + top-k + top-p: frequencies match the renormalised kept distribution
static void check_sampled_frequencies(float temp, float top_p, int top_k) {
  {
    int rows = 20000, vocab = 50;
    std::vector<float> one(vocab), logits((size_t)rows * vocab);
    for (int i = 0; i < vocab; i++) one[i] = 3.0f * lj_random_unit(next_seed(), 5, i);
    for (int r = 0; r < rows; r++) memcpy(&logits[(size_t)r * vocab], one.data(), 4 * vocab);
    std::vector<double> p(vocab);
    double mx = -1e30, z = 0;
    for (int i = 0; i < vocab; i++) mx = fmax(mx, one[i] / temp);
    for (int i = 0; i < vocab; i++) z += (p[i] = exp(one[i] / temp - mx));
    for (int i = 0; i < vocab; i++) p[i] /= z;
    std::vector<int> order(vocab);
    for (int i = 0; i < vocab; i++) order[i] = i;
    for (int i = 0; i < vocab; i++)  // selection sort by probability, descending
      for (int j = i + 1; j < vocab; j++)
        if (p[order[j]] > p[order[i]]) std::swap(order[i], order[j]);
    std::vector<double> q(vocab, 0.0);
    double mass = 0;
    int n_keep = top_k > 0 && top_k < vocab ? top_k : vocab;  // top-k, then top-p of what it kept
    double kept = 0;
    for (int k = 0; k < n_keep; k++) kept += p[order[k]];
    for (int k = 0; k < n_keep && mass < top_p * kept; k++) mass += p[order[k]], q[order[k]] = p[order[k]];
    for (int i = 0; i < vocab; i++) q[i] /= mass;
    void *d_l = dev_copy(logits.data(), logits.size() * 4), *d_out = dev_poisoned(4 * rows);
    int *d_step = (int *)dev_poisoned(4);
    GPU_OK(cudaMemset(d_step, 0, 4));
    assert_int_equal(lj_cuda_sample((int *)d_out, (float *)d_l, rows, vocab, temp, top_p, top_k, 42, d_step, 0), 0);
    std::vector<int> got(rows);
    GPU_OK(cudaMemcpy(got.data(), d_out, 4 * rows, cudaMemcpyDeviceToHost));
    std::vector<double> freq(vocab, 0.0);
    for (int r = 0; r < rows; r++) {
      assert_true(got[r] >= 0 && got[r] < vocab);
      if (q[got[r]] == 0) fail_msg("sampled token %d outside the top-k/top-p set", got[r]);
      freq[got[r]] += 1.0 / rows;
    }
    // Each frequency within 5 standard deviations of its probability.
    for (int i = 0; i < vocab; i++) {
      double sd = sqrt(q[i] * (1 - q[i]) / rows) + 1e-12;
      if (fabs(freq[i] - q[i]) > 5 * sd + 1e-9)
        fail_msg("token %d: frequency %.4f, probability %.4f", i, freq[i], q[i]);
    }
    cudaFree(d_l), cudaFree(d_out), cudaFree(d_step);
  }
}

static void test_sampling(void **state) {
  (void)state;
  // argmax, with a tie resolved to the lowest index
  {
    int rows = 5, vocab = 128256;
    std::vector<float> logits((size_t)rows * vocab);
    for (size_t i = 0; i < logits.size(); i++) logits[i] = 10.0f * lj_random_unit(next_seed() & 0xFFFF, 3, i);
    int expect[5];
    for (int r = 0; r < rows; r++) {
      int best = 0;
      for (int i = 1; i < vocab; i++)
        if (logits[(size_t)r * vocab + i] > logits[(size_t)r * vocab + best]) best = i;
      expect[r] = best;
    }
    logits[(size_t)2 * vocab + 77] = 1e4f, logits[(size_t)2 * vocab + 78] = 1e4f, expect[2] = 77;
    void *d_l = dev_copy(logits.data(), logits.size() * 4), *d_out = dev_poisoned(4 * rows);
    int *d_step = (int *)dev_poisoned(4);
    GPU_OK(cudaMemset(d_step, 0, 4));
    assert_int_equal(lj_cuda_sample((int *)d_out, (float *)d_l, rows, vocab, 0.0f, 1.0f, 0, 1, d_step, 0), 0);
    int got[5];
    GPU_OK(cudaMemcpy(got, d_out, sizeof got, cudaMemcpyDeviceToHost));
    for (int r = 0; r < rows; r++) assert_int_equal(got[r], expect[r]);
    cudaFree(d_l), cudaFree(d_out), cudaFree(d_step);
  }
  check_sampled_frequencies(0.7f, 0.8f, 0);
  check_sampled_frequencies(1.0f, 1.0f, 7);
  check_sampled_frequencies(0.7f, 0.8f, 5);  // top-k cuts below the nucleus
  check_sampled_frequencies(0.7f, 0.5f, 20);
  // a row holding a NaN or an infinity gets no token, greedy or not
  {
    int rows = 3, vocab = 3000;
    std::vector<float> logits((size_t)rows * vocab);
    for (size_t i = 0; i < logits.size(); i++) logits[i] = (float)(i % vocab) * 1e-3f;  // row argmax: vocab - 1
    logits[(size_t)vocab + 1500] = NAN;
    for (int i = 0; i < vocab; i++) logits[(size_t)2 * vocab + i] = INFINITY;
    void *d_l = dev_copy(logits.data(), logits.size() * 4), *d_out = dev_poisoned(4 * rows);
    int *d_step = (int *)dev_poisoned(4);
    GPU_OK(cudaMemset(d_step, 0, 4));
    const float temps[2] = {0.0f, 0.7f};
    for (int t = 0; t < 2; t++) {
      assert_int_equal(lj_cuda_sample((int *)d_out, (float *)d_l, rows, vocab, temps[t], 0.9f, 0, 5, d_step, 0), 0);
      int got[3];
      GPU_OK(cudaMemcpy(got, d_out, sizeof got, cudaMemcpyDeviceToHost));
      if (t == 0) assert_int_equal(got[0], vocab - 1);
      assert_true(got[0] >= 0 && got[0] < vocab);
      assert_int_equal(got[1], LJ_CUDA_SAMPLE_NONFINITE);
      assert_int_equal(got[2], LJ_CUDA_SAMPLE_NONFINITE);
    }
    cudaFree(d_l), cudaFree(d_out), cudaFree(d_step);
  }
}

int main(void) {
  gpu_test_require_device();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedding),         cmocka_unit_test(test_rmsnorm),
      cmocka_unit_test(test_matmul),            cmocka_unit_test(test_gemv_configs),
      cmocka_unit_test(test_swiglu),
      cmocka_unit_test(test_rope),              cmocka_unit_test(test_attention_decode),
      cmocka_unit_test(test_attention_prefill), cmocka_unit_test(test_sampling),
      cmocka_unit_test(test_norm_gemv),         cmocka_unit_test(test_norm_gemv_swiglu),
      cmocka_unit_test(test_norm_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
