// FP8 weights with one scale per tensor on the GPU (--fp8-scale tensor): the device's codes and
// scales equal the CPU quantiser's (lj_weights_quantize_fp8, LJ_FP8_SCALE_TENSOR) bit for bit,
// for the random weights generated on the device (lj_cuda_fill_random_fp8) and for host rows
// uploaded in chunks (lj_cuda_upload_fp8: the amax pass over every chunk, then the codes), from
// bf16 and f32, on a matrix of more rows than the reducing block has threads; per row stays what
// it was; the engine per tensor against the CPU per-tensor reference (prompts of 5 and 70 tokens).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka has no C++ guards
#include <cmocka.h>
}

#include "gpu_test_util.h"
extern "C" {
#include "common/error.h"
#include "engine/cpu/cpu_engine.h"
#include "engine/cuda/cuda_generate.h"  // C linkage (cuda_engine.h inside has its own guards)
#include "model/fp8_quant.h"
#include "model/weights.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/weight_fp8.h"
#include "engine/cuda/weight_upload.h"

// tiny with a wide MLP: w_gate and w_up have 3008 rows (> the 1024 threads of tensor_scale_kernel).
static lj_model_config wide_tiny(void) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  c.hidden_dim = 3008;
  c.vocab_size = 300, c.bos_id = 1, c.eos_id = 2;
  return c;
}

#define N_LIN 7
static const int SLOTS[N_LIN] = {LJ_TENSOR_WQ, LJ_TENSOR_WK, LJ_TENSOR_WV, LJ_TENSOR_WO,
                                 LJ_TENSOR_W_GATE, LJ_TENSOR_W_UP, LJ_TENSOR_W_DOWN};
static lj_tensor *lin(lj_weights *w, int l, int k) {
  lj_layer_weights *L = &w->layers[l];
  lj_tensor *ts[N_LIN] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
  return ts[k];
}

// The device's codes and scales of (rows, cols) against the host's, bit for bit.
static void expect_equal(const char *what, const lj_tensor *host, const uint8_t *dq, const float *ds) {
  size_t rows = (size_t)host->shape[0], n = rows * (size_t)host->shape[1];
  uint8_t *gq = (uint8_t *)malloc(n);
  float *gs = (float *)malloc(4 * rows);
  GPU_OK(cudaDeviceSynchronize());
  GPU_OK(cudaMemcpy(gq, dq, n, cudaMemcpyDeviceToHost));
  GPU_OK(cudaMemcpy(gs, ds, 4 * rows, cudaMemcpyDeviceToHost));
  size_t bad_q = 0, bad_s = 0;
  for (size_t i = 0; i < n; i++) bad_q += gq[i] != ((const uint8_t *)host->data)[i];
  for (size_t r = 0; r < rows; r++) bad_s += memcmp(&gs[r], &host->scale[r], 4) != 0;
  if (bad_q || bad_s)
    fail_msg("%s %s: %zu of %zu codes and %zu of %zu scales differ from the CPU's (scale[0] %a vs %a)", what,
             host->name, bad_q, n, bad_s, rows, (double)gs[0], (double)host->scale[0]);
  free(gq), free(gs);
}

static void check_mode(int mode) {
  lj_model_config c = wide_tiny();
  lj_weights cpu, src;
  assert_int_equal(lj_weights_random(&c, 13, 2, &cpu), 0);
  assert_int_equal(lj_weights_random(&c, 13, 2, &src), 0);  // bf16 rows to upload
  assert_int_equal(lj_weights_quantize_fp8(&cpu, 2, mode), 0);
  lj_cuda_uploader *u16 = NULL, *u32 = NULL;
  // Small staging buffers: the large matrices arrive in many chunks (32 KiB: 256 bf16 rows of 64,
  // 2 f32 rows of w_down's 3008).
  assert_int_equal(lj_cuda_uploader_create(&u16, 0, 32 << 10), 0);
  assert_int_equal(lj_cuda_uploader_create(&u32, 0, 32 << 10), 0);
  int checked = 0;
  for (int l = 0; l < c.n_layers; l++)
    for (int k = 0; k < N_LIN; k++) {
      const lj_tensor *h = lin(&cpu, l, k), *s = lin(&src, l, k);
      size_t rows = (size_t)h->shape[0];
      int cols = (int)h->shape[1];
      uint8_t *dq;
      float *ds;
      GPU_OK(cudaMalloc(&dq, rows * cols));
      GPU_OK(cudaMalloc(&ds, 4 * rows));
      // 1. random weights generated on the device
      GPU_OK(cudaMemset(dq, 0xFF, rows * cols));
      assert_int_equal(lj_cuda_fill_random_fp8(dq, ds, rows, cols, 13, lj_layer_tensor_id(l, SLOTS[k]), mode, 0), 0);
      expect_equal("random", h, dq, ds);
      // 2. bf16 host rows uploaded in chunks
      GPU_OK(cudaMemset(dq, 0xFF, rows * cols));
      assert_int_equal(lj_cuda_upload_fp8(u16, dq, ds, s->data, LJ_DTYPE_BF16, NULL, rows, cols, mode), 0);
      expect_equal("bf16 upload", h, dq, ds);
      // 3. the same values widened to f32 (exact): the same codes
      float *f = (float *)malloc(4 * rows * cols);
      for (size_t i = 0; i < rows * cols; i++) f[i] = lj_bf16_to_f32(((const uint16_t *)s->data)[i]);
      GPU_OK(cudaMemset(dq, 0xFF, rows * cols));
      assert_int_equal(lj_cuda_upload_fp8(u32, dq, ds, f, LJ_DTYPE_F32, NULL, rows, cols, mode), 0);
      expect_equal("f32 upload", h, dq, ds);
      free(f);
      cudaFree(dq), cudaFree(ds);
      checked++;
    }
  printf("fp8 scale %s: %d matrices (up to %d rows), random and uploaded (bf16, f32): codes and scales equal "
         "the CPU's\n", mode == LJ_FP8_SCALE_TENSOR ? "per tensor" : "per row", checked, c.hidden_dim);
  assert_int_equal(lj_cuda_uploader_finish(u16), 0);
  assert_int_equal(lj_cuda_uploader_finish(u32), 0);
  lj_weights_free(&cpu);
  lj_weights_free(&src);
}

static void test_tensor_bit_equal(void **state) {
  (void)state;
  check_mode(LJ_FP8_SCALE_TENSOR);
}

static void test_row_unchanged(void **state) {
  (void)state;
  check_mode(LJ_FP8_SCALE_ROW);
}

static double cosine(const float *a, const float *b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  return ab / sqrt(aa * bb);
}

// The engine per tensor (random weights made on the device, and the host's bf16 weights uploaded)
// against the CPU per-tensor reference: the same bounds as per row (test_cuda_fp8.cu).
static void test_engine_per_tensor(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_weights w, q;
  assert_int_equal(lj_weights_random(&c, 5, 2, &w), 0);
  assert_int_equal(lj_weights_random(&c, 5, 2, &q), 0);
  assert_int_equal(lj_weights_quantize_fp8(&q, 2, LJ_FP8_SCALE_TENSOR), 0);
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_batch = 1, o.max_ctx = 128, o.max_tokens = 128, o.weights = LJ_WEIGHTS_FP8, o.print_plan = 0;
  o.fp8_scale = LJ_FP8_SCALE_TENSOR;
  lj_cuda_engine *engines[2] = {NULL, NULL};
  if (lj_cuda_engine_create_random(&engines[0], &c, 5, &o) < 0) fail_msg("%s", lj_error_message());
  if (lj_cuda_engine_from_weights(&w, LJ_WEIGHTS_FP8, LJ_FP8_SCALE_TENSOR, 1, 128, 128, &engines[1]) < 0)
    fail_msg("%s", lj_error_message());
  float *gl = (float *)malloc(4 * (size_t)c.vocab_size), *cl = (float *)malloc(4 * (size_t)c.vocab_size);
  int lens[2] = {5, 70};
  for (int k = 0; k < 4; k++) {
    lj_cuda_engine *e = engines[k / 2];
    int n = lens[k % 2];
    int32_t tok[71], seq[71] = {0}, pos[71];
    for (int i = 0; i < n; i++) tok[i] = (int32_t)(lj_splitmix64((uint64_t)i + 77) % (uint64_t)c.vocab_size), pos[i] = i;
    lj_cpu_engine *ce;
    assert_int_equal(lj_cpu_engine_create(&q, 1, 128, 2, &ce), 0);
    int32_t row = n - 1;
    lj_batch b = {tok, seq, pos, n, &row, 1};
    assert_int_equal(lj_cpu_forward(ce, &b, cl), 0);
    lj_cpu_engine_free(ce);
    lj_cuda_reset(e);
    int tk[71];
    for (int i = 0; i < n; i++) tk[i] = tok[i];
    assert_int_equal(lj_cuda_prefill(e, 1, tk, &n), 0);
    assert_int_equal(lj_cuda_get_logits(e, gl, 1), 0);
    double cp = cosine(gl, cl, (size_t)c.vocab_size);
    printf("fp8 per tensor, engine (%s) vs CPU per-tensor reference, prompt %d: logits cosine %.6f\n",
           k < 2 ? "random on the device" : "host weights uploaded", n, cp);
    assert_true(cp >= (n <= 8 ? 0.9999 : 0.999));  // test_cuda_fp8.cu's bounds
  }
  // Per tensor needs FP8 weights.
  lj_cuda_engine *bad = NULL;
  o.weights = LJ_WEIGHTS_BF16;
  assert_int_equal(lj_cuda_engine_create_random(&bad, &c, 5, &o), LJ_EINVAL);
  assert_null(bad);
  free(gl), free(cl);
  lj_cuda_engine_free(engines[0]), lj_cuda_engine_free(engines[1]);
  lj_weights_free(&w), lj_weights_free(&q);
}

int main(void) {
  gpu_test_require_device();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tensor_bit_equal), cmocka_unit_test(test_row_unchanged),
      cmocka_unit_test(test_engine_per_tensor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
