// FP8 E4M3 linear-layer weights: quantising loaded/random weights on the host, per row or per
// tensor (the CPU reference of the CUDA engine's FP8 path) and reading the scales of checkpoints that
// are already FP8 (compressed-tensors "float-quantized": `<name>.weight` F8_E4M3 beside
// `<name>.weight_scale`, per tensor [] / [1] or per output channel [out] / [out, 1]).
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/fp8_quant.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "model/weights_layout.h"

// fn(ctx, r) for every row r < rows, on n_threads threads claiming rows atomically.
typedef struct {
  void (*fn)(void *ctx, int64_t r);
  void *ctx;
  int64_t rows;
  atomic_llong next;
} row_job;

static void *row_worker(void *arg) {
  row_job *j = arg;
  for (int64_t r; (r = atomic_fetch_add(&j->next, 1)) < j->rows;) j->fn(j->ctx, r);
  return NULL;
}

static void parallel_rows(int64_t rows, int n_threads, void (*fn)(void *ctx, int64_t r), void *ctx) {
  row_job j = {.fn = fn, .ctx = ctx, .rows = rows};
  atomic_init(&j.next, 0);
  pthread_t th[64];
  int started = 0;
  for (int i = 1; i < n_threads && i < 64; i++)
    if (pthread_create(&th[started], NULL, row_worker, &j) == 0) started++;
  row_worker(&j);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
}

// One row of src quantised into q and scale; per tensor, every scale[r] already holds the
// tensor's scale (tensor_scale set).
typedef struct {
  const lj_tensor *src;
  uint8_t *q;
  float *scale;
  int tensor_scale;
} quant_job;

static float row_amax(const lj_tensor *t, int64_t r) {
  int64_t cols = t->shape[1];
  float amax = 0.0f;
  for (int64_t i = 0; i < cols; i++) {
    float a = lj_load_f32(t->data, t->dtype, (size_t)(r * cols + i));
    a = a < 0 ? -a : a;
    if (a > amax) amax = a;
  }
  return amax;
}

// Per tensor, first pass: scale[r] = the row's amax (the reduction is done after, in any order).
static void amax_row(void *ctx, int64_t r) {
  quant_job *j = ctx;
  j->scale[r] = row_amax(j->src, r);
}

static void quant_row(void *ctx, int64_t r) {
  quant_job *j = ctx;
  const lj_tensor *t = j->src;
  int64_t cols = t->shape[1];
  float s = j->tensor_scale ? j->scale[r] : lj_fp8_row_scale(row_amax(t, r));
  j->scale[r] = s;
  for (int64_t i = 0; i < cols; i++)
    j->q[r * cols + i] = lj_fp8_quantize(lj_load_f32(t->data, t->dtype, (size_t)(r * cols + i)), s);
}

static int quantize_tensor(lj_weights *w, lj_tensor *t, int n_threads, int scale_mode) {
  if (t->dtype == LJ_DTYPE_F8_E4M3) {
    if (scale_mode == LJ_FP8_SCALE_TENSOR)
      return LJ_FAIL(LJ_EUNSUPPORTED, "'%s' is already F8_E4M3 (an FP8 checkpoint): its own scales are used; per-tensor "
                     "scales (--fp8-scale tensor) apply to weights quantised on load only", t->name);
    return LJ_OK;
  }
  int64_t rows = t->shape[0], cols = t->shape[1];
  uint8_t *q = malloc((size_t)(rows * cols) + 1);
  float *scale = malloc((size_t)rows * sizeof *scale + 1);
  if (!q || !scale) {
    free(q);
    free(scale);
    return LJ_FAIL(LJ_ENOMEM, "FP8 quantisation of '%s': out of memory (%lld x %lld)", t->name, (long long)rows,
                   (long long)cols);
  }
  quant_job j = {.src = t, .q = q, .scale = scale, .tensor_scale = scale_mode == LJ_FP8_SCALE_TENSOR};
  if (j.tensor_scale) {
    parallel_rows(rows, n_threads, amax_row, &j);
    float amax = 0.0f;
    for (int64_t r = 0; r < rows; r++) amax = scale[r] > amax ? scale[r] : amax;
    float s = lj_fp8_row_scale(amax);
    for (int64_t r = 0; r < rows; r++) scale[r] = s;
  }
  parallel_rows(rows, n_threads, quant_row, &j);
  int rc = lj_weights_adopt(w, q);
  if (rc < 0) {  // adopt frees q on failure; scale is still ours
    free(scale);
    return rc;
  }
  LJ_TRY(lj_weights_adopt(w, scale));
  t->data = q;
  t->dtype = LJ_DTYPE_F8_E4M3;
  t->scale = scale;
  return LJ_OK;
}

int lj_weights_is_fp8(const lj_weights *w) {
  for (int l = 0; l < w->config.n_layers; l++) {
    const lj_layer_weights *L = &w->layers[l];
    const lj_tensor *ts[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    for (int i = 0; i < 7; i++)
      if (ts[i]->dtype == LJ_DTYPE_F8_E4M3) return 1;
  }
  return 0;
}

// One F8_E4M3 row dequantised to bf16: bf16(e4m3(code) * scale), as lj_tensor_at gives it rounded.
typedef struct {
  const lj_tensor *src;
  uint16_t *out;
} dequant_job;

static void dequant_row(void *ctx, int64_t r) {
  dequant_job *j = ctx;
  int64_t cols = j->src->shape[1];
  for (int64_t i = 0; i < cols; i++) j->out[r * cols + i] = lj_f32_to_bf16(lj_tensor_at(j->src, r, i));
}

static int dequantize_tensor(lj_weights *w, lj_tensor *t, int n_threads) {
  if (t->dtype != LJ_DTYPE_F8_E4M3) return LJ_OK;
  int64_t rows = t->shape[0], cols = t->shape[1];
  uint16_t *out = malloc((size_t)(rows * cols) * sizeof *out + 1);
  if (!out)
    return LJ_FAIL(LJ_ENOMEM, "dequantising '%s' to bf16: out of memory (%lld x %lld)", t->name, (long long)rows,
                   (long long)cols);
  dequant_job j = {.src = t, .out = out};
  parallel_rows(rows, n_threads, dequant_row, &j);
  LJ_TRY(lj_weights_adopt(w, out));
  t->data = out;
  t->dtype = LJ_DTYPE_BF16;
  t->scale = NULL;  // still owned by w (adopted or mapped); no longer read
  return LJ_OK;
}

int lj_weights_dequantize_fp8(lj_weights *w, int n_threads) {
  for (int l = 0; l < w->config.n_layers; l++) {
    lj_layer_weights *L = &w->layers[l];
    lj_tensor *ts[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    for (int i = 0; i < 7; i++) LJ_TRY(dequantize_tensor(w, ts[i], n_threads));
  }
  return LJ_OK;
}

int lj_weights_quantize_fp8(lj_weights *w, int n_threads, int scale_mode) {
  if (scale_mode != LJ_FP8_SCALE_ROW && scale_mode != LJ_FP8_SCALE_TENSOR)
    return LJ_FAIL(LJ_EINVAL, "FP8 quantisation: unknown scale mode %d (row 0, tensor 1)", scale_mode);
  for (int l = 0; l < w->config.n_layers; l++) {
    lj_layer_weights *L = &w->layers[l];
    lj_tensor *ts[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    for (int i = 0; i < 7; i++) LJ_TRY(quantize_tensor(w, ts[i], n_threads, scale_mode));
  }
  return LJ_OK;
}

int lj_weights_fp8_scales(lj_weights *w, const lj_st_set *set, lj_tensor *t, const char *file) {
  char name[128];
  if ((size_t)snprintf(name, sizeof name, "%s_scale", t->name) >= sizeof name)
    return LJ_FAIL(LJ_EINVAL, "%s: tensor name '%s' too long", file, t->name);
  if (!lj_weights_is_linear(w, t))
    return LJ_FAIL(LJ_EUNSUPPORTED, "%s: tensor '%s' is F8_E4M3; only the linear layers (q/k/v/o_proj, "
                   "gate/up/down_proj) may be FP8 (embeddings, norms and lm_head must be F32, F16 or BF16)",
                   file, t->name);
  const lj_st_tensor *s = lj_st_set_find(set, name);
  if (!s)
    return LJ_FAIL(LJ_EUNSUPPORTED, "%s: tensor '%s' is F8_E4M3 but '%s' is missing (supported: the "
                   "compressed-tensors layout with a per-tensor or per-output-channel weight_scale; block-wise "
                   "scales such as weight_scale_inv are not)", file, t->name, name);
  if (s->dtype == LJ_DTYPE_F8_E4M3)
    return LJ_FAIL(LJ_EINVAL, "%s: scale tensor '%s' is F8_E4M3; expected F32, F16 or BF16", s->file, name);
  int64_t rows = t->shape[0], n = 1;
  for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
  int per_tensor = n == 1 && s->ndim <= 2;
  int per_row = n == rows && (s->ndim == 1 || (s->ndim == 2 && s->shape[1] == 1));
  if (!per_tensor && !per_row) {
    char shape[96];
    size_t len = (size_t)snprintf(shape, sizeof shape, "[");
    for (int d = 0; d < s->ndim && len < sizeof shape; d++)
      len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld", d ? ", " : "", (long long)s->shape[d]);
    if (len < sizeof shape) snprintf(shape + len, sizeof shape - len, "]");
    return LJ_FAIL(LJ_EUNSUPPORTED, "%s: scale tensor '%s' has shape %s; supported are per tensor ([] or [1]) "
                   "and per output channel ([%lld] or [%lld, 1])", s->file, name, shape, (long long)rows,
                   (long long)rows);
  }
  float *scale = malloc((size_t)rows * sizeof *scale + 1);
  if (!scale) return LJ_FAIL(LJ_ENOMEM, "%s: out of memory for '%s'", s->file, name);
  for (int64_t r = 0; r < rows; r++) {
    float v = lj_load_f32(s->data, s->dtype, per_row ? (size_t)r : 0);
    if (!(v > 0.0f) || v > 3.4028235e38f) {
      free(scale);
      return LJ_FAIL(LJ_EINVAL, "%s: scale tensor '%s': element %lld is %g (scales must be positive and finite)",
                     s->file, name, (long long)(per_row ? r : 0), (double)v);
    }
    scale[r] = v;
  }
  LJ_TRY(lj_weights_adopt(w, scale));
  t->scale = scale;
  return LJ_OK;
}
