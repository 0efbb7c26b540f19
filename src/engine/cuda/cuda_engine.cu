// The CUDA engine: owns the weights (bf16, fused q|k|v and gate|up), the KV
// cache, the activation buffers and the batch state; runs the forward pass as
// a sequence of stages (common/stage.h), each an op entry of its own file.
//
// Device memory (sizes from memory_plan.c):
//   weights  one allocation; per layer: attn_norm (dim), wqkv (q+2kv, dim), wo (dim, q),
//            ffn_norm (dim), wgu (2 hidden, dim) = [gate; up], wdown (dim, hidden);
//            embed (vocab, dim), final_norm (dim), lm_head (vocab, dim) unless tied
//   kv       per layer K and V: (max_batch, n_kv_heads, max_ctx, head_dim)
//   acts     lj_cuda_acts for max_tokens tokens, xf/logits/next for max_batch rows
//   batch    tokens/seq/pos/kv_len (max_tokens), q_start/q_len/ctx_start/last_row
//            (max_batch), step counter, token history (max_ctx, max_batch)
#include <nvtx3/nvToolsExt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/attention_decode.h"
#include "engine/cuda/attention_prefill.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/cuda_engine_internal.h"
#include "engine/cuda/embedding.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/cuda/gemv.h"
#include "engine/cuda/gemv_defaults.h"
#include "engine/cuda/gemv_fp8.h"
#include "engine/cuda/weight_fp8.h"
#include "engine/cuda/memory_plan.h"
#include "engine/cuda/no_device_reason.h"
#include "engine/cuda/norm_gemv.h"
#include "engine/cuda/norm_once.h"
#include "engine/cuda/rmsnorm.h"
#include "engine/cuda/rope.h"
#include "engine/cuda/sampling.h"
#include "engine/cuda/swiglu.h"
#include "engine/cuda/weight_fill.h"
#include "engine/cuda/weight_upload.h"
#include "model/random_init.h"
extern "C" {
#include "model/tp_shard.h"
}

void lj_cuda_options_default(lj_cuda_options *o) {
  memset(o, 0, sizeof *o);
  o->max_batch = 1;
  o->max_ctx = 2048;
  o->max_tokens = 2048;
  o->use_gemv = 1;
  o->print_plan = 1;
}

// ---------------------------------------------------------------- creation

static int check_config(const lj_model_config *c) {
  int g = c->n_kv_heads > 0 ? c->n_heads / c->n_kv_heads : 0;
  if (c->dim % 8 || c->hidden_dim % 8 || c->head_dim > 128 || c->head_dim % 2 || g < 1 ||
      c->n_heads % c->n_kv_heads || g > LJ_ATTN_DECODE_MAX_GROUP || c->dim > 8192)
    return LJ_FAIL(LJ_EUNSUPPORTED,
                   "model %s: the CUDA engine needs dim and hidden_dim multiples of 8 (dim <= 8192), "
                   "an even head_dim <= 128 and n_heads / n_kv_heads <= %d (got dim %d, hidden %d, "
                   "head_dim %d, %d/%d heads)",
                   c->name, LJ_ATTN_DECODE_MAX_GROUP, c->dim, c->hidden_dim, c->head_dim, c->n_heads,
                   c->n_kv_heads);
  return 0;
}

// The widest input of an FP8 GEMM (its activations are quantised into act_q).
static size_t fp8_act_width(const lj_model_config *c) {
  int w = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
  return (size_t)(lj_q_dim(c) > w ? lj_q_dim(c) : w);
}

// Carves `bytes` (rounded to 256) off a bump allocator.
static void *carve(char **cursor, size_t bytes) {
  void *p = *cursor;
  *cursor += (bytes + 255) / 256 * 256;
  return p;
}

static int allocate(lj_cuda_engine *e) {
  const lj_model_config *c = &e->cfg;
  lj_cuda_options *o = &e->opt;
  size_t d = c->dim, h = c->hidden_dim, V = c->vocab_size, L = c->n_layers;
  size_t T = o->max_tokens, B = o->max_batch;

  const int fp8 = o->weights == LJ_WEIGHTS_FP8;
  lj_cuda_memory_plan plan;
  lj_cuda_memory_plan_compute(c, o->weights, o->max_batch, o->max_ctx, o->max_tokens, &plan);
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (o->print_plan)
    lj_cuda_memory_plan_print(c, o->weights, o->max_batch, o->max_ctx, o->max_tokens, &plan, (int64_t)free_b);
  LJ_TRY(lj_cuda_memory_plan_check(c, o->weights, o->max_batch, o->max_ctx, o->max_tokens, &plan, (int64_t)free_b));

  // weights: a linear layer is bf16 (2 bytes per weight) or FP8 codes (1 byte) + fp32 row scales
  size_t lin_elem = fp8 ? 1 : 2, lin_rows = (size_t)e->qkv_dim + d + 2 * h + d;
  size_t per_layer = 2 * 2 * d + lin_elem * ((size_t)e->qkv_dim * d + d * e->q_dim + 2 * h * d + d * h) +
                     (fp8 ? 4 * lin_rows : 0) + 10 * 256;
  size_t wbytes = per_layer * L + 2 * (V * d + d) + (c->tie_embeddings ? 0 : 2 * V * d) + 4 * 256;
  CUDA_CHECK(cudaMalloc(&e->weight_mem, wbytes));
  char *cur = (char *)e->weight_mem;
  e->layers = (layer_dev *)calloc(L, sizeof(layer_dev));
  if (!e->layers) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  for (size_t l = 0; l < L; l++) {
    layer_dev *ld = &e->layers[l];
    linear_dev *lin[4] = {&ld->wqkv, &ld->wo, &ld->wgu, &ld->wdown};
    size_t rows[4] = {(size_t)e->qkv_dim, d, 2 * h, d}, cols[4] = {d, (size_t)e->q_dim, d, h};
    ld->attn_norm = (bf16 *)carve(&cur, 2 * d);
    ld->ffn_norm = (bf16 *)carve(&cur, 2 * d);
    for (int k = 0; k < 4; k++) {
      if (fp8) {
        lin[k]->q = (uint8_t *)carve(&cur, rows[k] * cols[k]);
        lin[k]->scale = (float *)carve(&cur, 4 * rows[k]);
      } else {
        lin[k]->w = (bf16 *)carve(&cur, 2 * rows[k] * cols[k]);
      }
    }
  }
  e->embed = (bf16 *)carve(&cur, 2 * V * d);
  e->final_norm = (bf16 *)carve(&cur, 2 * d);
  e->lm_head = c->tie_embeddings ? e->embed : (bf16 *)carve(&cur, 2 * V * d);

  // KV cache
  size_t kv_layer = B * (size_t)e->kv_dim * o->max_ctx * 2;  // one of K or V
  e->kv_layer_bytes = kv_layer;
  CUDA_CHECK(cudaMalloc(&e->kv_mem, 2 * kv_layer * L));
  for (size_t l = 0; l < L; l++) {
    e->layers[l].k_cache = (bf16 *)((char *)e->kv_mem + 2 * l * kv_layer);
    e->layers[l].v_cache = (bf16 *)((char *)e->kv_mem + (2 * l + 1) * kv_layer);
  }

  // activations + batch state + attention scratch (worst case: every slot decoding with
  // the finest split, or the largest prefill). The rule gives one sequence one block per SM and
  // a batch two; from two sequences on the count only falls as the batch grows, so one sequence
  // planned at two blocks per SM bounds every batch (and the tune's targets up to it).
  lj_attn_decode_shape worst = lj_attn_decode_plan(c->n_heads, c->n_kv_heads, c->head_dim,
                                                   o->max_ctx, 1, e->n_sms, 0);
  lj_attn_decode_shape twice = lj_attn_decode_plan(c->n_heads, c->n_kv_heads, c->head_dim, o->max_ctx, 1, e->n_sms,
                                                   (2 * e->n_sms + c->n_kv_heads - 1) / c->n_kv_heads);
  if (twice.n_splits > worst.n_splits) worst = twice;
  e->attn_split_cap = worst.n_splits;  // the scratch holds no more splits than this
  e->attn_scratch_bytes = lj_attn_decode_scratch_bytes(&worst, o->max_batch);
  size_t counter_bytes = lj_attn_decode_counter_bytes(&worst, o->max_batch);
  size_t abytes = 2 * T * (2 * d + e->qkv_dim + e->q_dim + d + 3 * h) + 2 * B * d + 4 * B * V +
                  4 * B + 4 * 4 * T + 4 * 4 * B + 4 + 4 * (size_t)o->max_ctx * B +
                  e->attn_scratch_bytes + counter_bytes + 4 * T + sizeof(int) + 2 * 256 + (fp8 ? T * fp8_act_width(c) + 8 * T + T * h + 8 * T + T * d + 8 * T : 0) + 43 * 256;
  CUDA_CHECK(cudaMalloc(&e->act_mem, abytes));
  e->act_bytes = abytes;
  cur = (char *)e->act_mem;
  lj_cuda_acts *a = &e->acts;
  a->x = carve(&cur, 2 * T * d);
  a->xn = carve(&cur, 2 * T * d);
  a->qkv = carve(&cur, 2 * T * e->qkv_dim);
  a->attn = carve(&cur, 2 * T * e->q_dim);
  a->delta = carve(&cur, 2 * T * d);
  a->gu = carve(&cur, 2 * T * 2 * h);
  a->h = carve(&cur, 2 * T * h);
  a->xf = carve(&cur, 2 * B * d);
  a->logits = (float *)carve(&cur, 4 * B * V);
  a->next = (int *)carve(&cur, 4 * B);
  e->d_tokens = (int *)carve(&cur, 4 * T);
  e->d_seq = (int *)carve(&cur, 4 * T);
  e->d_pos = (int *)carve(&cur, 4 * T);
  e->d_kv_len = (int *)carve(&cur, 4 * T);
  e->d_q_start = (int *)carve(&cur, 4 * B);
  e->d_q_len = (int *)carve(&cur, 4 * B);
  e->d_ctx_start = (int *)carve(&cur, 4 * B);
  e->d_last_row = (int *)carve(&cur, 4 * B);
  e->d_step = (int *)carve(&cur, 4);
  e->d_history = (int *)carve(&cur, 4 * (size_t)o->max_ctx * B);
  e->attn_scratch = (float *)carve(&cur, e->attn_scratch_bytes);
  e->d_fuse_counter = (int *)carve(&cur, sizeof(int));
  e->d_norm_counter = (int *)carve(&cur, sizeof(int));
  e->norm_rstd = (float *)carve(&cur, 4 * T);
  e->d_attn_counters = (unsigned *)carve(&cur, counter_bytes);
  if (fp8) {
    e->act_q = (uint8_t *)carve(&cur, T * fp8_act_width(c));
    e->act_scale = (float *)carve(&cur, 4 * T);
    e->gu_scale = (float *)carve(&cur, 4 * T);
    e->h_q = (uint8_t *)carve(&cur, T * h);
    e->h_scale = (float *)carve(&cur, 4 * T);
    e->h_amax = (unsigned *)carve(&cur, 4 * T);
    e->xn_q = (uint8_t *)carve(&cur, T * d);
    e->xn_scale = (float *)carve(&cur, 4 * T);
    e->o_scale = (float *)carve(&cur, 4 * T);
  }
  if ((size_t)(cur - (char *)e->act_mem) > abytes)
    return LJ_FAIL(LJ_ENOMEM, "internal: activation layout overflows its allocation");

  CUDA_CHECK(cudaMemsetAsync(e->d_fuse_counter, 0, sizeof(int), e->stream));  // synchronised below
  CUDA_CHECK(cudaMemsetAsync(e->d_norm_counter, 0, sizeof(int), e->stream));
  CUDA_CHECK(cudaMemsetAsync(e->d_attn_counters, 0, counter_bytes, e->stream));
  e->h_len = (int *)calloc(B, sizeof(int));
  if (!e->h_len) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  float *inv = (float *)malloc(sizeof(float) * (c->head_dim / 2));
  if (!inv) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  lj_rope_inv_freq(c, inv);
  int rc = 0;
  cudaError_t err = cudaMalloc(&e->inv_freq, sizeof(float) * (c->head_dim / 2));
  if (err == cudaSuccess)
    err = cudaMemcpyAsync(e->inv_freq, inv, sizeof(float) * (c->head_dim / 2), cudaMemcpyHostToDevice,
                          e->stream);  // on the engine's stream: a plain cudaMemcpy is not ordered with it
  if (err == cudaSuccess) err = cudaStreamSynchronize(e->stream);
  free(inv);
  if (err != cudaSuccess)
    rc = LJ_FAIL(LJ_ECUDA, "rope table upload failed: %s", cudaGetErrorString(err));
  return rc;
}

void lj_cuda_driver_version(char *buf, int cap) {
  int v = 0;
  if (cap <= 0) return;
  if (cudaDriverGetVersion(&v) != cudaSuccess || v <= 0) {
    cudaGetLastError();
    buf[0] = '\0';
    return;
  }
  snprintf(buf, (size_t)cap, "%d.%d", v / 1000, (v % 1000) / 10);
}

int lj_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error for later calls
    return 0;
  }
  return n;
}

static int engine_begin(lj_cuda_engine **out, const lj_model_config *cfg, const lj_cuda_options *opt) {
  *out = NULL;
  LJ_TRY(check_config(cfg));
  if (opt && opt->weights != LJ_WEIGHTS_BF16 && opt->weights != LJ_WEIGHTS_FP8)
    return LJ_FAIL(LJ_EINVAL, "CUDA engine: unknown weight format %d", opt->weights);
  if (opt && opt->weights == LJ_WEIGHTS_FP8 &&
      (cfg->dim % 16 || cfg->hidden_dim % 16 || lj_q_dim(cfg) % 16 || lj_kv_dim(cfg) % 16))
    return LJ_FAIL(LJ_EUNSUPPORTED,
                   "model %s: FP8 weights need dim, hidden_dim, n_heads x head_dim and n_kv_heads x head_dim "
                   "multiples of 16 (16-byte rows and columns for the FP8 GEMV and cuBLASLt); got %d, %d, %d, %d",
                   cfg->name, cfg->dim, cfg->hidden_dim, lj_q_dim(cfg), lj_kv_dim(cfg));
  if (opt && opt->fp8_scale != LJ_FP8_SCALE_ROW &&
      (opt->fp8_scale != LJ_FP8_SCALE_TENSOR || opt->weights != LJ_WEIGHTS_FP8))
    return LJ_FAIL(LJ_EINVAL, "CUDA engine: FP8 scale mode %d with %s weights (per tensor, 1, needs FP8 weights)",
                   opt->fp8_scale, lj_weight_format_name(opt->weights));
  int n_dev = 0;
  cudaError_t err = cudaGetDeviceCount(&n_dev);
  if (err != cudaSuccess || n_dev == 0)
    return LJ_FAIL(LJ_ENODEV, "no CUDA device: %s",
                   lj_cuda_no_device_reason(err, err != cudaSuccess ? cudaGetErrorString(err) : NULL));
  lj_cuda_engine *e = (lj_cuda_engine *)calloc(1, sizeof *e);
  if (!e) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  *out = e;
  e->cfg = *cfg;
  e->stage_sampling.top_p = 1.0f;  // greedy
  e->fp8_gemv = LJ_FP8_GEMV_DEFAULT;
  e->fp8_fold = LJ_CUDA_FP8_FOLD_DEFAULT;
  e->attn_prefill = LJ_ATTN_PREFILL_DEFAULT;
  e->swiglu_quant = LJ_SWIGLU_QUANT_DEFAULT;
  e->attn_decode = LJ_ATTN_DECODE_DEFAULT;
  lj_gemv_model_defaults(cfg, 0, e->gemv_cfg);  // a rank's layer shape under tensor parallelism
  lj_gemv_model_defaults(cfg, 1, e->fp8_pipe_cfg);
  if (opt)
    e->opt = *opt;
  else
    lj_cuda_options_default(&e->opt);
  if (e->opt.max_tokens <= 0) e->opt.max_tokens = 2048;
  if (e->opt.max_batch <= 0 || e->opt.max_ctx <= 0)
    return LJ_FAIL(LJ_EINVAL, "CUDA engine: max_batch (%d) and max_ctx (%d) must be positive",
                   e->opt.max_batch, e->opt.max_ctx);
  if (e->opt.max_tokens < e->opt.max_batch) e->opt.max_tokens = e->opt.max_batch;  // one decode step
  if (e->opt.device < 0 || e->opt.device >= n_dev)
    return LJ_FAIL(LJ_EINVAL, "CUDA device %d does not exist (%d found)", e->opt.device, n_dev);
  CUDA_CHECK(cudaSetDevice(e->opt.device));
  CUDA_CHECK(cudaDeviceGetAttribute(&e->n_sms, cudaDevAttrMultiProcessorCount, e->opt.device));
  e->q_dim = lj_q_dim(cfg);
  e->kv_dim = lj_kv_dim(cfg);
  e->qkv_dim = e->q_dim + 2 * e->kv_dim;
  CUDA_CHECK(cudaStreamCreateWithFlags(&e->stream, cudaStreamNonBlocking));
  LJ_TRY(lj_gemm_lt_create(&e->gemm, LJ_CUDA_GEMM_WORKSPACE));
  LJ_TRY(allocate(e));
  return 0;
}

// Rows or columns of weight w that rank `rank` of `degree` holds (model/tp_shard.h), generated with the
// values the whole tensor has there, at row dst_row0 of lin (q, k and v share wqkv, gate and up wgu).
static int fill_linear(lj_cuda_engine *e, const linear_dev *lin, size_t dst_row0, const lj_model_config *full,
                       int degree, int rank, lj_tp_weight w, uint32_t id, uint64_t seed) {
  int64_t rows, cols, row0 = 0, col0 = 0, full_cols;
  lj_tp_weight_shape(full, w, &rows, &cols);
  full_cols = cols;
  lj_tp_slice sl = lj_tp_shard(full, degree, rank, w);
  if (sl.split == LJ_TP_ROWS) row0 = sl.begin, rows = sl.end - sl.begin;
  if (sl.split == LJ_TP_COLS) col0 = sl.begin, cols = sl.end - sl.begin;
  if (!lin->q)
    return lj_cuda_fill_random_block(lin->w + dst_row0 * (size_t)cols, (size_t)rows, (size_t)cols, (size_t)full_cols,
                                     (size_t)row0, (size_t)col0, seed, id, 0, e->stream);
  if (row0 || col0)
    return LJ_FAIL(LJ_EUNSUPPORTED, "FP8 weights with tensor parallelism: not supported (docs/tensor-parallel.md)");
  return lj_cuda_fill_random_fp8(lin->q + dst_row0 * (size_t)cols, lin->scale + dst_row0, (size_t)rows, (int)cols,
                                 seed, id, e->opt.fp8_scale, e->stream);
}

int lj_cuda_engine_create_random_rank(lj_cuda_engine **out, const lj_model_config *full, int degree, int rank,
                                      uint64_t seed, const lj_cuda_options *opt) {
  lj_model_config rc_cfg;
  int rc = lj_tp_check(full, degree, full->name);
  if (rc < 0) return rc;
  lj_tp_rank_config(full, degree, &rc_cfg);
  rc = engine_begin(out, &rc_cfg, opt);
  lj_cuda_engine *e = *out;
  if (rc < 0) {
    lj_cuda_engine_free(e);
    *out = NULL;
    return rc;
  }
  e->tp_degree = degree;
  const lj_model_config *c = &e->cfg;
  size_t d = c->dim, h = c->hidden_dim, V = c->vocab_size;
  cudaStream_t s = e->stream;
#define FILL(ptr, n, id, norm) \
  do { if ((rc = lj_cuda_fill_random((ptr), (n), seed, (id), (norm), s)) < 0) goto fail; } while (0)
#define FILL_LIN(lin, row0, w, id) \
  do { if ((rc = fill_linear(e, &(lin), (row0), full, degree, rank, (w), (id), seed)) < 0) goto fail; } while (0)
  for (int l = 0; l < c->n_layers; l++) {
    layer_dev *ld = &e->layers[l];
    FILL(ld->attn_norm, d, lj_layer_tensor_id(l, LJ_TENSOR_ATTN_NORM), 1);
    FILL_LIN(ld->wqkv, 0, LJ_TP_WQ, lj_layer_tensor_id(l, LJ_TENSOR_WQ));
    FILL_LIN(ld->wqkv, e->q_dim, LJ_TP_WK, lj_layer_tensor_id(l, LJ_TENSOR_WK));
    FILL_LIN(ld->wqkv, e->q_dim + e->kv_dim, LJ_TP_WV, lj_layer_tensor_id(l, LJ_TENSOR_WV));
    FILL_LIN(ld->wo, 0, LJ_TP_WO, lj_layer_tensor_id(l, LJ_TENSOR_WO));
    FILL(ld->ffn_norm, d, lj_layer_tensor_id(l, LJ_TENSOR_FFN_NORM), 1);
    FILL_LIN(ld->wgu, 0, LJ_TP_W_GATE, lj_layer_tensor_id(l, LJ_TENSOR_W_GATE));
    FILL_LIN(ld->wgu, h, LJ_TP_W_UP, lj_layer_tensor_id(l, LJ_TENSOR_W_UP));
    FILL_LIN(ld->wdown, 0, LJ_TP_W_DOWN, lj_layer_tensor_id(l, LJ_TENSOR_W_DOWN));
  }
#undef FILL_LIN
  FILL(e->embed, V * d, lj_global_tensor_id(LJ_TENSOR_EMBED), 0);
  FILL(e->final_norm, d, lj_global_tensor_id(LJ_TENSOR_FINAL_NORM), 1);
  if (!c->tie_embeddings) FILL(e->lm_head, V * d, lj_global_tensor_id(LJ_TENSOR_LM_HEAD), 0);
#undef FILL
  if (cudaStreamSynchronize(s) != cudaSuccess) {
    rc = LJ_FAIL(LJ_ECUDA, "random weight fill failed: %s", cudaGetErrorString(cudaGetLastError()));
    goto fail;
  }
  return 0;
fail:
  lj_cuda_engine_free(e);
  *out = NULL;
  return rc;
}

int lj_cuda_engine_create_random(lj_cuda_engine **out, const lj_model_config *cfg, uint64_t seed,
                                 const lj_cuda_options *opt) {
  return lj_cuda_engine_create_random_rank(out, cfg, 1, 0, seed, opt);
}

static int upload(lj_cuda_uploader *u, bf16 *dst, const lj_cuda_host_tensor *t, size_t n, const char *name,
                  int layer) {
  if (!t->data) return LJ_FAIL(LJ_EINVAL, "CUDA engine: weight %s of layer %d is missing", name, layer);
  if (t->dtype == LJ_DTYPE_F8_E4M3)
    return LJ_FAIL(LJ_EUNSUPPORTED, "CUDA engine: weight %s of layer %d is F8_E4M3; %s", name, layer,
                   layer < 0 ? "only the linear layers may be FP8"
                             : "FP8 checkpoints need FP8 weights on the GPU (--weights fp8)");
  if (t->dtype != LJ_DTYPE_F32 && t->dtype != LJ_DTYPE_F16 && t->dtype != LJ_DTYPE_BF16)
    return LJ_FAIL(LJ_EUNSUPPORTED, "CUDA engine: weight %s of layer %d has an unknown dtype", name, layer);
  return lj_cuda_upload(u, dst, t->data, n, t->dtype);
}

// Rows [row0, row0 + rows) of a linear layer (cols wide) from host tensor t.
static int upload_linear(lj_cuda_uploader *u, const linear_dev *lin, size_t row0, size_t rows, size_t cols,
                         const lj_cuda_host_tensor *t, const char *name, int layer, int fp8_scale) {
  if (!lin->q) return upload(u, lin->w + row0 * cols, t, rows * cols, name, layer);
  if (!t->data) return LJ_FAIL(LJ_EINVAL, "CUDA engine: weight %s of layer %d is missing", name, layer);
  if (t->dtype == LJ_DTYPE_F8_E4M3 && !t->scale)
    return LJ_FAIL(LJ_EINVAL, "CUDA engine: weight %s of layer %d is F8_E4M3 without scales", name, layer);
  if (t->dtype > LJ_DTYPE_F8_E4M3)
    return LJ_FAIL(LJ_EUNSUPPORTED, "CUDA engine: weight %s of layer %d has an unknown dtype", name, layer);
  if (t->dtype == LJ_DTYPE_F8_E4M3 && fp8_scale != LJ_FP8_SCALE_ROW)
    return LJ_FAIL(LJ_EUNSUPPORTED, "CUDA engine: weight %s of layer %d is F8_E4M3 (an FP8 checkpoint) and keeps its "
                   "own scales; per-tensor scales (--fp8-scale tensor) apply to weights quantised on load only",
                   name, layer);
  return lj_cuda_upload_fp8(u, lin->q + row0 * cols, lin->scale + row0, t->data, t->dtype, t->scale, rows,
                            (int)cols, fp8_scale);
}

int lj_cuda_engine_create(lj_cuda_engine **out, const lj_model_config *cfg,
                          const lj_cuda_host_weights *w, const lj_cuda_options *opt) {
  int rc = engine_begin(out, cfg, opt);
  lj_cuda_engine *e = *out;
  lj_cuda_uploader *u = NULL;
  if (rc < 0) goto fail;
  if ((rc = lj_cuda_uploader_create(&u, e->stream, (size_t)32 << 20)) < 0) goto fail;
  {
    const lj_model_config *c = &e->cfg;
    size_t d = c->dim, h = c->hidden_dim, V = c->vocab_size;
#define UP(dst, t, n, name, l) \
  do { if ((rc = upload(u, (dst), &(t), (n), (name), (l))) < 0) goto fail; } while (0)
#define LIN(lin, row0, rows, cols, t, name, l) \
  do { if ((rc = upload_linear(u, &(lin), (row0), (rows), (cols), &(t), (name), (l), e->opt.fp8_scale)) < 0) goto fail; } while (0)
    if (!w->layers) {
      rc = LJ_FAIL(LJ_EINVAL, "CUDA engine: host weights have no layers");
      goto fail;
    }
    for (int l = 0; l < c->n_layers; l++) {
      const lj_cuda_host_layer *hl = &w->layers[l];
      layer_dev *ld = &e->layers[l];
      UP(ld->attn_norm, hl->attn_norm, d, "attn_norm", l);
      LIN(ld->wqkv, 0, e->q_dim, d, hl->wq, "wq", l);
      LIN(ld->wqkv, e->q_dim, e->kv_dim, d, hl->wk, "wk", l);
      LIN(ld->wqkv, e->q_dim + e->kv_dim, e->kv_dim, d, hl->wv, "wv", l);
      LIN(ld->wo, 0, d, e->q_dim, hl->wo, "wo", l);
      UP(ld->ffn_norm, hl->ffn_norm, d, "ffn_norm", l);
      LIN(ld->wgu, 0, h, d, hl->w_gate, "w_gate", l);
      LIN(ld->wgu, h, h, d, hl->w_up, "w_up", l);
      LIN(ld->wdown, 0, d, h, hl->w_down, "w_down", l);
    }
    UP(e->embed, w->embed, V * d, "embed", -1);
    UP(e->final_norm, w->final_norm, d, "final_norm", -1);
    if (!c->tie_embeddings) UP(e->lm_head, w->lm_head, V * d, "lm_head", -1);
#undef UP
#undef LIN
  }
  rc = lj_cuda_uploader_finish(u);
  u = NULL;
  if (rc < 0) goto fail;
  return 0;
fail:
  lj_cuda_uploader_finish(u);
  lj_cuda_engine_free(e);
  *out = NULL;
  return rc;
}

void lj_cuda_engine_free(lj_cuda_engine *e) {
  if (!e) return;
  if (e->stream) cudaStreamSynchronize(e->stream);
  lj_cuda_drop_graph(e);
  lj_cuda_marks_release(e);
  lj_gemm_lt_free(e->gemm);
  if (e->weight_mem) cudaFree(e->weight_mem);
  if (e->kv_mem) cudaFree(e->kv_mem);
  if (e->act_mem) cudaFree(e->act_mem);
  lj_cuda_calibration_release(e);
  lj_cuda_hold_release(e);
  if (e->inv_freq) cudaFree(e->inv_freq);
  if (e->stream) cudaStreamDestroy(e->stream);
  free(e->layers);
  free(e->h_len);
  free(e);
}

// ---------------------------------------------------------------- batches

void lj_cuda_reset(lj_cuda_engine *e) {
  memset(e->h_len, 0, sizeof(int) * e->opt.max_batch);
  e->gen_rows = 0;
}
int lj_cuda_seq_len(const lj_cuda_engine *e, int s) {
  return s >= 0 && s < e->opt.max_batch ? e->h_len[s] : -1;
}
lj_cuda_acts lj_cuda_engine_acts(const lj_cuda_engine *e) { return e->acts; }
// Settings that change the recorded kernels: the decode graph is captured again on next use.
void lj_cuda_drop_graph(lj_cuda_engine *e) {
  if (e->graph) cudaGraphExecDestroy(e->graph);
  e->graph = NULL;
  if (e->prefill_graph) cudaGraphExecDestroy(e->prefill_graph);
  e->prefill_graph = NULL;
}
void lj_cuda_set_stage_sampling(lj_cuda_engine *e, const lj_cuda_sampling *sp) { e->stage_sampling = *sp; }
int lj_cuda_set_attn_groups(lj_cuda_engine *e, int groups) {
  if (groups < 0 || groups > e->cfg.n_kv_heads)
    return LJ_FAIL(LJ_EINVAL, "attention groups %d: the model has %d KV heads (0 = all)", groups,
                   e->cfg.n_kv_heads);
  e->attn_groups = groups == e->cfg.n_kv_heads ? 0 : groups;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_rewind(lj_cuda_engine *e, int n_seqs, const int *len) {
  if (n_seqs <= 0 || n_seqs > e->opt.max_batch)
    return LJ_FAIL(LJ_EINVAL, "rewind of %d sequences: the engine was created for 1 .. %d", n_seqs,
                   e->opt.max_batch);
  for (int s = 0; s < n_seqs; s++)
    if (len[s] < 0 || len[s] > e->opt.max_ctx)
      return LJ_FAIL(LJ_EINVAL, "rewind: sequence %d to %d positions, outside [0, %d]", s, len[s], e->opt.max_ctx);
  for (int s = 0; s < n_seqs; s++) e->h_len[s] = len[s];
  e->last_rows = n_seqs;
  e->gen_rows = 0;  // a new forward call: nothing to continue
  return 0;
}
void lj_cuda_set_skip_mask(lj_cuda_engine *e, uint32_t mask) {
  e->skip_mask = mask;
  lj_cuda_drop_graph(e);
}
int lj_cuda_set_skip_layer(lj_cuda_engine *e, int layer) {
  if (layer < -1 || layer >= e->cfg.n_layers)
    return LJ_FAIL(LJ_EINVAL, "skip layer %d: the model has layers 0 .. %d (-1: none)", layer, e->cfg.n_layers - 1);
  e->skip_layer_plus1 = layer + 1;
  lj_cuda_drop_graph(e);
  return 0;
}
// The first layer the forward pass runs: its attn_norm has no residual delta to add.
static int first_layer_run(const lj_cuda_engine *e) { return e->skip_layer_plus1 == 1 ? 1 : 0; }
void lj_cuda_set_use_gemv(lj_cuda_engine *e, int on) {
  e->opt.use_gemv = on;
  lj_cuda_drop_graph(e);
}
// The tensor-parallel degree of a rank: random-weight ranks know it at creation (tp_degree), every
// rank once it joins its group (group_degree).
static int rank_degree(const lj_cuda_engine *e) { return e->group_degree > e->tp_degree ? e->group_degree : e->tp_degree; }

int lj_cuda_set_fusion(lj_cuda_engine *e, int mode) {
  if (!lj_cuda_fusion_name(mode))
    return LJ_FAIL(LJ_EINVAL, "fusion mode %d: expected LJ_FUSION_NONE, LJ_FUSION_PRODUCTION or LJ_FUSION_NORM_ONCE",
                   mode);
  if (mode == LJ_FUSION_NORM_ONCE && rank_degree(e) > 1)
    return LJ_FAIL(LJ_EUNSUPPORTED, "fusion norm-once with tensor parallelism (degree %d): o_proj+ffn_norm would run "
                   "the norm before the all-reduce of o_proj's partial sums; use none or production", rank_degree(e));
  e->fusion = mode;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_fusion(const lj_cuda_engine *e) { return e->fusion; }
int lj_cuda_set_fp8_gemv(lj_cuda_engine *e, int variant) {
  if (!lj_fp8_gemv_name(variant))
    return LJ_FAIL(LJ_EINVAL, "FP8 GEMV variant %d: expected 0 .. %d (base, warp, pipe, splitk)", variant,
                   LJ_FP8_GEMV_COUNT - 1);
  e->fp8_gemv = variant;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_fp8_gemv(const lj_cuda_engine *e) { return e->fp8_gemv; }
void lj_cuda_set_fp8_fold(lj_cuda_engine *e, int level) {
  e->fp8_fold = level < LJ_CUDA_FP8_FOLD_OFF ? LJ_CUDA_FP8_FOLD_OFF : level > LJ_CUDA_FP8_FOLD_ALL ? LJ_CUDA_FP8_FOLD_ALL : level;
  lj_cuda_drop_graph(e);
}
int lj_cuda_fp8_fold(const lj_cuda_engine *e) { return e->fp8_fold; }
void lj_cuda_set_fp8_scalar_only(lj_cuda_engine *e, int on) {
  lj_gemm_lt_set_fp8_scalar_only(e->gemm, on);
  lj_cuda_drop_graph(e);
}
int lj_cuda_set_attn_prefill(lj_cuda_engine *e, int variant) {
  if (!lj_attn_prefill_name(variant))
    return LJ_FAIL(LJ_EINVAL, "prefill attention variant %d: expected 0 .. %d (wmma, mma, mma64, mma128, mma_k32)",
                   variant, LJ_ATTN_PREFILL_COUNT - 1);
  e->attn_prefill = variant;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_attn_prefill(const lj_cuda_engine *e) { return e->attn_prefill; }

int lj_cuda_set_swiglu_quant(lj_cuda_engine *e, int variant) {
  if (!lj_swiglu_quant_name(variant))
    return LJ_FAIL(LJ_EINVAL, "swiglu_quant variant %d: expected 0 .. %d", variant, LJ_SWIGLU_QUANT_COUNT - 1);
  e->swiglu_quant = variant;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_swiglu_quant_variant(const lj_cuda_engine *e) { return e->swiglu_quant; }
int lj_cuda_set_attn_decode(lj_cuda_engine *e, int variant) {
  if (!lj_attn_decode_name(variant))
    return LJ_FAIL(LJ_EINVAL, "decode attention variant %d: expected 0 .. %d (split, one, one_rope)", variant,
                   LJ_ATTN_DECODE_COUNT - 1);
  e->attn_decode = variant;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_attn_decode(const lj_cuda_engine *e) { return e->attn_decode; }
int lj_cuda_set_attn_splits(lj_cuda_engine *e, int splits) {
  if (splits < 0 || splits > e->attn_split_cap)
    return LJ_FAIL(LJ_EINVAL, "decode attention splits %d: expected 0 (the rule) .. %d (what the scratch of a "
                   "context of %d holds)", splits, e->attn_split_cap, e->opt.max_ctx);
  e->attn_splits = splits;
  lj_cuda_drop_graph(e);
  return 0;
}
int lj_cuda_attn_splits(const lj_cuda_engine *e) { return e->attn_splits; }
int lj_cuda_set_gemv_configs(lj_cuda_engine *e, const int *bf16_cfg, const int *fp8_pipe_cfg) {
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) {
    if (bf16_cfg && !lj_gemv_config_name(bf16_cfg[k]))
      return LJ_FAIL(LJ_EINVAL, "GEMV configuration %d for %s: expected 0 .. %d", bf16_cfg[k], lj_gemv_class_name(k),
                     LJ_GEMV_CONFIG_COUNT - 1);
    if (fp8_pipe_cfg && !lj_fp8_pipe_config_name(fp8_pipe_cfg[k]))
      return LJ_FAIL(LJ_EINVAL, "FP8 pipe GEMV configuration %d for %s: expected 0 .. %d", fp8_pipe_cfg[k],
                     lj_gemv_class_name(k), LJ_FP8_PIPE_CONFIG_COUNT - 1);
  }
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) {
    if (bf16_cfg) e->gemv_cfg[k] = bf16_cfg[k];
    if (fp8_pipe_cfg) e->fp8_pipe_cfg[k] = fp8_pipe_cfg[k];
  }
  lj_cuda_drop_graph(e);
  return 0;
}
void lj_cuda_gemv_configs(const lj_cuda_engine *e, int *bf16_cfg, int *fp8_pipe_cfg) {
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) {
    if (bf16_cfg) bf16_cfg[k] = e->gemv_cfg[k];
    if (fp8_pipe_cfg) fp8_pipe_cfg[k] = e->fp8_pipe_cfg[k];
  }
}
void *lj_cuda_engine_stream(const lj_cuda_engine *e) { return (void *)e->stream; }
int lj_cuda_synchronize(lj_cuda_engine *e) {
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  return 0;
}

int64_t lj_cuda_weight_bytes(const lj_cuda_engine *e) {
  const lj_model_config *c = &e->cfg;
  int64_t d = c->dim;
  int64_t lin = lj_cuda_linear_params(c);
  int64_t lin_bytes = e->opt.weights == LJ_WEIGHTS_FP8 ? lin + 4 * lj_cuda_linear_rows(c) : 2 * lin;
  // + norms, final norm and the lm_head (read once per step; the embedding rows are not counted)
  return lin_bytes + 2 * 2 * d * c->n_layers + 2 * (d + (int64_t)c->vocab_size * d);
}

int lj_cuda_weight_format(const lj_cuda_engine *e) { return e->opt.weights; }

int lj_cuda_prepare_batch(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens,
                          lj_cuda_batch *out) {
  const lj_cuda_options *o = &e->opt;
  if (n_seqs <= 0 || n_seqs > o->max_batch)
    return LJ_FAIL(LJ_EINVAL, "batch of %d sequences: the engine was created for 1 .. %d", n_seqs,
                   o->max_batch);
  int total = 0, max_q = 0, decode = 1;
  for (int s = 0; s < n_seqs; s++) {
    if (n_tokens[s] < 1) return LJ_FAIL(LJ_EINVAL, "sequence %d has %d new tokens (need >= 1)", s, n_tokens[s]);
    if (e->h_len[s] + n_tokens[s] > o->max_ctx)
      return LJ_FAIL(LJ_EINVAL, "sequence %d would reach %d positions; the context is %d", s,
                     e->h_len[s] + n_tokens[s], o->max_ctx);
    total += n_tokens[s];
    if (n_tokens[s] > max_q) max_q = n_tokens[s];
    if (n_tokens[s] != 1) decode = 0;
  }
  if (total > o->max_tokens)
    return LJ_FAIL(LJ_EINVAL, "%d tokens in one forward call; the engine takes at most %d (max_tokens)",
                   total, o->max_tokens);
  int *h = (int *)malloc(sizeof(int) * (4 * (size_t)total + 4 * (size_t)n_seqs));
  if (!h) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  int *h_seq = h, *h_pos = h + total, *h_kv = h + 2 * total, *h_tok = h + 3 * total;
  int *h_qs = h + 4 * total, *h_ql = h_qs + n_seqs, *h_cs = h_ql + n_seqs, *h_lr = h_cs + n_seqs;
  int row = 0;
  for (int s = 0; s < n_seqs; s++) {
    h_qs[s] = row, h_ql[s] = n_tokens[s], h_cs[s] = e->h_len[s];
    for (int i = 0; i < n_tokens[s]; i++, row++) {
      int t = tokens[row];
      if (t < 0 || t >= e->cfg.vocab_size) {
        free(h);
        return LJ_FAIL(LJ_EINVAL, "token %d of sequence %d is %d, outside the vocabulary [0, %d)", i, s,
                       t, e->cfg.vocab_size);
      }
      h_tok[row] = t, h_seq[row] = s, h_pos[row] = e->h_len[s] + i, h_kv[row] = e->h_len[s] + i + 1;
    }
    h_lr[s] = row - 1;
  }
  cudaError_t err = cudaSuccess;
#define PUT(d, hsrc, n) \
  if (err == cudaSuccess) err = cudaMemcpyAsync((d), (hsrc), sizeof(int) * (n), cudaMemcpyHostToDevice, e->stream)
  PUT(e->d_tokens, h_tok, total);
  PUT(e->d_seq, h_seq, total);
  PUT(e->d_pos, h_pos, total);
  PUT(e->d_kv_len, h_kv, total);
  PUT(e->d_q_start, h_qs, n_seqs);
  PUT(e->d_q_len, h_ql, n_seqs);
  PUT(e->d_ctx_start, h_cs, n_seqs);
  PUT(e->d_last_row, h_lr, n_seqs);
#undef PUT
  if (err == cudaSuccess) err = cudaStreamSynchronize(e->stream);  // h is freed next
  free(h);
  if (err != cudaSuccess) return LJ_FAIL(LJ_ECUDA, "batch upload failed: %s", cudaGetErrorString(err));
  lj_cuda_batch b = {total, n_seqs, decode, max_q, e->d_tokens, e->d_seq, e->d_pos, e->d_kv_len,
                     e->d_q_start, e->d_q_len, e->d_ctx_start, e->d_last_row};
  *out = b;
  return 0;
}

// ---------------------------------------------------------------- stages

// cls: the GEMV's shape class (lj_gemv_class), which picks its configuration.
static int matmul(lj_cuda_engine *e, int cls, void *y, int y_fp32, const void *x, const bf16 *w, int n,
                  int in, int out) {
  if (e->opt.use_gemv && lj_cuda_gemv_supported(n, in))
    return lj_cuda_gemv_cfg(y, y_fp32, (const bf16 *)x, w, n, in, out, e->gemv_cfg[cls], e->stream);
  return lj_gemm_lt_run(e->gemm, y, y_fp32, (const bf16 *)x, w, n, in, out, e->stream);
}

// A linear layer, y (n, out) bf16. FP8: the FP8 GEMV for <= 8 tokens (bf16 activations, the
// weights dequantised in registers), else the activations quantised per token and one
// cuBLASLt FP8 GEMM with both scale vectors applied (in its epilogue, or by the fallback's pass).
static int linear(lj_cuda_engine *e, int cls, void *y, const void *x, const linear_dev *lin, int n, int in, int out) {
  if (!lin->q) return matmul(e, cls, y, 0, x, lin->w, n, in, out);
  if (e->opt.use_gemv && lj_cuda_gemv_fp8_supported(n, in))
    return lj_cuda_gemv_fp8_cfg(y, 0, (const bf16 *)x, lin->q, lin->scale, n, in, out, e->fp8_gemv,
                                e->fp8_pipe_cfg[cls], e->stream);
  LJ_TRY(lj_cuda_quantize_act(e->act_q, e->act_scale, (const bf16 *)x, n, in, e->stream));
  return lj_gemm_lt_run_fp8(e->gemm, (bf16 *)y, e->act_q, e->act_scale, lin->q, lin->scale, n, in, out, e->stream);
}

// 1 when a call of n tokens runs lin as the FP8 GEMM (FP8 weights, more tokens than the GEMV takes).
static int fp8_gemm(const lj_cuda_engine *e, const linear_dev *lin, int n, int in) {
  return lin->q && !(e->opt.use_gemv && lj_cuda_gemv_fp8_supported(n, in));
}

// 1 when the norm before lin (attn_norm before qkv, ffn_norm before gate|up) writes lin's FP8 input
// (xn_q; scales in xn_scale after attn_norm, gu_scale after ffn_norm) instead of xn: fold NORMS.
static int fp8_norm_quant(const lj_cuda_engine *e, const linear_dev *lin, int n) {
  return e->fp8_fold >= LJ_CUDA_FP8_FOLD_NORMS && fp8_gemm(e, lin, n, e->cfg.dim);
}

// 1 when gate_up of a call of n tokens writes its unscaled sums (its input's per-token scales in
// gu_scale) and SwiGLU applies the scales: FP8 weights, the GEMM rather than the GEMV, the fold
// on, and a gate|up plan that takes the fallback (where cuBLASLt scales in its epilogue there is
// no pass to fold). Both stages ask, so they agree; < 0 when the plan cannot be built.
static int fp8_folds_gate_up(lj_cuda_engine *e, const layer_dev *ld, int n) {
  const lj_model_config *c = &e->cfg;
  if (e->fp8_fold < LJ_CUDA_FP8_FOLD_SWIGLU || !fp8_gemm(e, &ld->wgu, n, c->dim)) return 0;
  int outer = lj_gemm_lt_fp8_plan(e->gemm, n, c->dim, 2 * c->hidden_dim);
  return outer < 0 ? outer : !outer;
}

static int gate_up(lj_cuda_engine *e, const layer_dev *ld, int n, const lj_cuda_acts *a) {
  const lj_model_config *c = &e->cfg;
  int fold = fp8_folds_gate_up(e, ld, n), pre = fp8_norm_quant(e, &ld->wgu, n);
  if (fold < 0) return fold;
  if (!fold && !pre) return linear(e, LJ_GEMV_CLASS_GATE_UP, a->gu, a->xn, &ld->wgu, n, c->dim, 2 * c->hidden_dim);
  const uint8_t *xq = pre ? e->xn_q : e->act_q;  // pre: ffn_norm quantised xn into xn_q, gu_scale
  if (!pre) LJ_TRY(lj_cuda_quantize_act(e->act_q, e->gu_scale, (const bf16 *)a->xn, n, c->dim, e->stream));
  if (!fold)
    return lj_gemm_lt_run_fp8(e->gemm, (bf16 *)a->gu, xq, e->gu_scale, ld->wgu.q, ld->wgu.scale, n, c->dim,
                              2 * c->hidden_dim, e->stream);
  return lj_gemm_lt_run_fp8_sums(e->gemm, (bf16 *)a->gu, xq, ld->wgu.q, n, c->dim, 2 * c->hidden_dim, e->stream);
}

static int qkv(lj_cuda_engine *e, const layer_dev *ld, int n, const lj_cuda_acts *a) {
  if (!fp8_norm_quant(e, &ld->wqkv, n)) return linear(e, LJ_GEMV_CLASS_QKV, a->qkv, a->xn, &ld->wqkv, n, e->cfg.dim, e->qkv_dim);
  return lj_gemm_lt_run_fp8(e->gemm, (bf16 *)a->qkv, e->xn_q, e->xn_scale, ld->wqkv.q, ld->wqkv.scale, n,
                            e->cfg.dim, e->qkv_dim, e->stream);
}

// 1 when swiglu of a call of n tokens also quantises h per token for down (h_q, h_scale) and down's
// GEMM reads those: FP8 weights, the GEMM rather than the GEMV, the fold on. Both stages ask.
static int fp8_folds_down(const lj_cuda_engine *e, const layer_dev *ld, int n) {
  return e->fp8_fold >= LJ_CUDA_FP8_FOLD_SWIGLU && fp8_gemm(e, &ld->wdown, n, e->cfg.hidden_dim);
}

// 1 when o_proj of a call of n tokens writes its unscaled sums to delta (its input's per-token scales
// in o_scale) and ffn_norm scales them before the residual add: fold O_PROJ, FP8 weights, the GEMM,
// o_proj not skipped (a skipped o_proj leaves delta as the last writer left it, scaled: ffn_norm then
// adds it as it is) and an o_proj plan that takes the fallback. Both stages ask; < 0: no plan.
static int fp8_folds_o_proj(lj_cuda_engine *e, const layer_dev *ld, int n) {
  if (e->fp8_fold < LJ_CUDA_FP8_FOLD_O_PROJ || !fp8_gemm(e, &ld->wo, n, e->q_dim) ||
      ((e->skip_mask >> LJ_STAGE_O_PROJ) & 1u))
    return 0;
  int outer = lj_gemm_lt_fp8_plan(e->gemm, n, e->q_dim, e->cfg.dim);
  return outer < 0 ? outer : !outer;
}

static int o_proj(lj_cuda_engine *e, const layer_dev *ld, int layer, int n, const lj_cuda_acts *a) {
  int fold = fp8_folds_o_proj(e, ld, n);
  if (fold < 0) return fold;
  const void *in = lj_cuda_attn_in(e, layer, a);
  if (!fold) return linear(e, LJ_GEMV_CLASS_O_PROJ, a->delta, in, &ld->wo, n, e->q_dim, e->cfg.dim);
  LJ_TRY(lj_cuda_quantize_act(e->act_q, e->o_scale, (const bf16 *)in, n, e->q_dim, e->stream));
  return lj_gemm_lt_run_fp8_sums(e->gemm, (bf16 *)a->delta, e->act_q, ld->wo.q, n, e->q_dim, e->cfg.dim, e->stream);
}

// The residual add and norm before lin: attn_norm (scales into xn_scale) or ffn_norm (gu_scale).
// With fold NORMS it writes lin's FP8 input, not xn (only lin's GEMM reads it); delta_xs/delta_ws
// non-NULL: delta holds o_proj's sums, scaled here (fold O_PROJ).
static int norm(lj_cuda_engine *e, const lj_cuda_acts *a, const linear_dev *lin, float *q_scale, const void *delta,
                const float *delta_xs, const float *delta_ws, const bf16 *w, int n) {
  float eps = (float)e->cfg.norm_eps;
  int quant = fp8_norm_quant(e, lin, n);
  const bf16 *x_in = (const bf16 *)(a->x_in ? a->x_in : a->x);
  if (!quant && !delta_xs)
    return lj_cuda_rmsnorm((bf16 *)a->xn, (bf16 *)a->x, x_in, (const bf16 *)delta, w, NULL, n, e->cfg.dim, eps,
                           e->stream);
  return lj_cuda_rmsnorm_fp8(quant ? NULL : (bf16 *)a->xn, quant ? e->xn_q : NULL, quant ? q_scale : NULL,
                             (bf16 *)a->x, x_in, (const bf16 *)delta, delta_xs, delta_ws, w, NULL, n,
                             e->cfg.dim, eps, e->stream);
}

static int ffn_norm(lj_cuda_engine *e, const layer_dev *ld, int n, const lj_cuda_acts *a) {
  int fold = fp8_folds_o_proj(e, ld, n);
  if (fold < 0) return fold;
  return norm(e, a, &ld->wgu, e->gu_scale, a->delta, fold ? e->o_scale : NULL, fold ? ld->wo.scale : NULL,
              ld->ffn_norm, n);
}

static int swiglu(lj_cuda_engine *e, const layer_dev *ld, int n, const lj_cuda_acts *a) {
  int fold = fp8_folds_gate_up(e, ld, n), h = e->cfg.hidden_dim;
  if (fold < 0) return fold;
  const float *xs = fold ? e->gu_scale : NULL, *ws = fold ? ld->wgu.scale : NULL;
  if (fp8_folds_down(e, ld, n))
    return lj_cuda_swiglu_quant((bf16 *)a->h, e->h_q, e->h_scale, (const bf16 *)a->gu, xs, ws, n, h,
                                e->swiglu_quant, e->h_amax, e->stream);
  if (!fold) return lj_cuda_swiglu((bf16 *)a->h, (const bf16 *)a->gu, n, h, e->stream);
  return lj_cuda_swiglu_fp8((bf16 *)a->h, (const bf16 *)a->gu, xs, ws, n, h, e->stream);
}

static int down(lj_cuda_engine *e, const layer_dev *ld, int n, const lj_cuda_acts *a) {
  const lj_model_config *c = &e->cfg;
  if (!fp8_folds_down(e, ld, n)) return linear(e, LJ_GEMV_CLASS_DOWN, a->delta, a->h, &ld->wdown, n, c->hidden_dim, c->dim);
  return lj_gemm_lt_run_fp8(e->gemm, (bf16 *)a->delta, e->h_q, e->h_scale, ld->wdown.q, ld->wdown.scale, n,
                            c->hidden_dim, c->dim, e->stream);
}

static int stage_body(lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_batch *b,
                      const lj_cuda_acts *a) {
  const lj_model_config *c = &e->cfg;
  cudaStream_t s = e->stream;
  int n = b->n_tokens;
  const layer_dev *ld = layer >= 0 && layer < c->n_layers ? &e->layers[layer] : NULL;
  if (lj_stage_is_per_layer(st) && !ld)
    return LJ_FAIL(LJ_EINVAL, "stage %s needs a layer in [0, %d), got %d", lj_stage_name(st),
                   c->n_layers, layer);
  float eps = (float)c->norm_eps;
  switch (st) {
    case LJ_STAGE_EMBED:
      return lj_cuda_embedding((bf16 *)a->x, e->embed, b->tokens, n, c->dim, c->vocab_size, s);
    case LJ_STAGE_ATTN_NORM:
      return norm(e, a, &ld->wqkv, e->xn_scale, layer > first_layer_run(e) ? lj_cuda_delta_in(e, layer - 1, a) : NULL,
                  NULL, NULL, ld->attn_norm, n);
    case LJ_STAGE_QKV:
      return qkv(e, ld, n, a);
    case LJ_STAGE_ROPE:
      return lj_cuda_rope_kv_from((bf16 *)a->qkv, (const bf16 *)(a->qkv_in ? a->qkv_in : a->qkv), ld->k_cache,
                                  ld->v_cache, b->seq, b->pos, e->inv_freq, n, c->n_heads, c->n_kv_heads, c->head_dim,
                                  e->opt.max_ctx, s);
    case LJ_STAGE_ATTN:
    case LJ_STAGE_ROPE_ATTN:
      if (b->decode) {
        lj_attn_decode_shape sh = lj_attn_decode_plan(c->n_heads, c->n_kv_heads, c->head_dim,
                                                      e->opt.max_ctx, b->n_seqs, e->n_sms, e->attn_splits);
        if (e->attn_groups > 0) {
          // Fewer groups, same splits: group g's queries and cache rows stay in bounds
          // (the strides shrink with the head counts), the work per group is unchanged.
          sh.n_heads = e->attn_groups * (c->n_heads / c->n_kv_heads);
          sh.n_kv_heads = e->attn_groups;
        }
        // ATTN alone after a separate ROPE runs "one" for one_rope (its q is already rotated).
        int v = st == LJ_STAGE_ROPE_ATTN                     ? LJ_ATTN_DECODE_ONE_ROPE
                : e->attn_decode == LJ_ATTN_DECODE_ONE_ROPE ? LJ_ATTN_DECODE_ONE
                                                            : e->attn_decode;
        return lj_cuda_attention_decode_variant(v, (bf16 *)a->attn, (const bf16 *)a->qkv, ld->k_cache, ld->v_cache,
                                                b->seq, b->pos, b->kv_len, e->inv_freq, n, &sh, e->attn_scratch,
                                                e->d_attn_counters, s);
      } else if (st == LJ_STAGE_ROPE_ATTN) {
        return LJ_FAIL(LJ_EUNSUPPORTED, "stage rope+attn runs decode calls only (one new token per sequence)");
      } else {
        lj_attn_prefill_shape sh = {c->n_heads, c->n_kv_heads, c->head_dim, e->opt.max_ctx};
        return lj_cuda_attention_prefill_variant(e->attn_prefill, (bf16 *)a->attn, (const bf16 *)a->qkv,
                                                 ld->k_cache, ld->v_cache, b->q_start, b->q_len, b->ctx_start,
                                                 b->n_seqs, b->max_q_len, &sh, s);
      }
    case LJ_STAGE_O_PROJ:
      return o_proj(e, ld, layer, n, a);
    case LJ_STAGE_FFN_NORM:
      return ffn_norm(e, ld, n, a);
    case LJ_STAGE_GATE_UP:
      return gate_up(e, ld, n, a);
    case LJ_STAGE_SWIGLU:
      return swiglu(e, ld, n, a);
    case LJ_STAGE_DOWN:
      return down(e, ld, n, a);
    case LJ_STAGE_FINAL_NORM:
      return lj_cuda_rmsnorm((bf16 *)a->xf, (bf16 *)a->x, (const bf16 *)(a->x_in ? a->x_in : a->x),
                             (const bf16 *)lj_cuda_delta_in(e, c->n_layers - 1, a), e->final_norm, b->decode ? NULL : b->last_row, b->n_seqs, c->dim, eps, s);
    case LJ_STAGE_LM_HEAD:
      return matmul(e, LJ_GEMV_CLASS_LM_HEAD, a->logits, 1, a->xf, e->lm_head, b->n_seqs, c->dim, c->vocab_size);
    case LJ_STAGE_SAMPLE:
      return lj_cuda_sample(a->next, a->logits, b->n_seqs, c->vocab_size, e->stage_sampling.temperature,
                            e->stage_sampling.top_p, e->stage_sampling.top_k, e->stage_sampling.seed,
                            e->d_step, s);
    case LJ_STAGE_ATTN_ALLREDUCE:
    case LJ_STAGE_MLP_ALLREDUCE:  // in place on delta, o_proj's or down's partial sum (tp_engine.cu)
      if (!e->group || e->group_degree < 2)
        return LJ_FAIL(LJ_EINVAL, "stage %s runs on a rank of a tensor-parallel group of degree > 1 only",
                       lj_stage_name(st));
      return e->group->allreduce_rank(e->group->ctx, e->group_rank, n);
    case LJ_STAGE_ATTN_NORM_QKV:
    case LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU:
    case LJ_STAGE_O_PROJ_FFN_NORM:
    case LJ_STAGE_GATE_UP_SWIGLU:
      if (!ld->wqkv.w)
        return LJ_FAIL(LJ_EUNSUPPORTED, "stage %s: the fused kernels read bf16 weights; this engine holds FP8",
                       lj_stage_name(st));
      if (st == LJ_STAGE_O_PROJ_FFN_NORM)
        return lj_cuda_gemv_residual_norm((bf16 *)a->delta, (bf16 *)a->x, e->norm_rstd,
                                          (const bf16 *)lj_cuda_attn_in(e, layer, a), ld->wo.w, n, e->q_dim, c->dim,
                                          eps, e->d_norm_counter, e->gemv_cfg[LJ_GEMV_CLASS_O_PROJ], s);
      if (st == LJ_STAGE_GATE_UP_SWIGLU)  // reads the rstd the last o_proj+ffn_norm wrote
        return lj_cuda_scaled_gemv_swiglu((bf16 *)a->h, (const bf16 *)a->x, e->norm_rstd, ld->ffn_norm, ld->wgu.w, n,
                                          c->dim, c->hidden_dim, e->gemv_cfg[LJ_GEMV_CLASS_GATE_UP], s);
      if (st == LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU)
        return lj_cuda_norm_gemv_swiglu((bf16 *)a->h, (bf16 *)a->x, (const bf16 *)a->delta, ld->ffn_norm,
                                        ld->wgu.w, n, c->dim, c->hidden_dim, eps, e->d_fuse_counter, s);
      return lj_cuda_norm_gemv((bf16 *)a->qkv, (bf16 *)a->x,
                               layer > first_layer_run(e) ? (const bf16 *)lj_cuda_delta_in(e, layer - 1, a) : NULL,
                               ld->attn_norm, ld->wqkv.w, n, c->dim, e->qkv_dim, eps, e->d_fuse_counter, s);
    default:
      return LJ_FAIL(LJ_EINVAL, "unknown stage %d", (int)st);
  }
}

int lj_cuda_run_stage(lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_batch *b,
                      const lj_cuda_acts *a) {
  if ((unsigned)st < LJ_STAGE_ALL_COUNT && (e->skip_mask >> st) & 1u) return 0;
  nvtxRangePushA(lj_stage_name(st));
  const lj_cuda_acts *acts = a ? a : &e->acts;
  LJ_TRY(lj_cuda_hold_check(e, b->n_tokens));
  int rc = stage_body(e, st, layer, b, acts);
  if (rc == 0) rc = lj_cuda_hold_after(e, st, layer, b->n_tokens, acts);
  nvtxRangePop();
  if (rc == 0 && e->marks_on) rc = lj_cuda_mark_after(e, st, layer);
  return rc;
}

lj_stage lj_cuda_stage_at(const lj_cuda_engine *e, const lj_cuda_batch *b, lj_stage st) {
  lj_stage comp;
  // one GPU (a lone engine, or a group of one): no all-reduce
  if (!lj_stage_runs_at_degree(st, e->group_degree > 1 ? e->group_degree : 1)) return LJ_STAGE_NONE;
  if (st == LJ_STAGE_ROPE) {  // decode attention that does RoPE and the KV append itself
    if (!b->decode || lj_attn_decode_fuses_rope(e->attn_decode) != 1 ||
        (e->skip_mask & lj_stage_part_mask(LJ_STAGE_ROPE_ATTN)))
      return st;
    return LJ_STAGE_ROPE_ATTN;
  }
  uint32_t parts;
  if (st == LJ_STAGE_ATTN_NORM) {
    comp = LJ_STAGE_ATTN_NORM_QKV;
  } else if (e->fusion == LJ_FUSION_PRODUCTION && st == LJ_STAGE_FFN_NORM) {
    comp = LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU;
  } else if (e->fusion == LJ_FUSION_NORM_ONCE && (st == LJ_STAGE_O_PROJ || st == LJ_STAGE_GATE_UP)) {
    // The pair runs together or not at all: gate_up+swiglu reads the rstd o_proj+ffn_norm writes.
    if (rank_degree(e) > 1 || !lj_cuda_norm_once_supported(b->n_tokens, e->q_dim, e->cfg.dim)) return st;
    comp = st == LJ_STAGE_O_PROJ ? LJ_STAGE_O_PROJ_FFN_NORM : LJ_STAGE_GATE_UP_SWIGLU;
  } else {
    return st;
  }
  // Only where the own GEMV would run the matrices (decode), and only while every part
  // runs as itself: the ablation of a simple stage keeps its meaning (FP8 has no fused kernel).
  if (e->fusion == LJ_FUSION_NONE || !e->opt.use_gemv || e->opt.weights == LJ_WEIGHTS_FP8 ||
      !lj_cuda_norm_gemv_supported(b->n_tokens, e->cfg.dim))
    return st;
  parts = lj_stage_part_mask(comp);
  if (comp == LJ_STAGE_O_PROJ_FFN_NORM || comp == LJ_STAGE_GATE_UP_SWIGLU)
    parts = lj_stage_part_mask(LJ_STAGE_O_PROJ_FFN_NORM) | lj_stage_part_mask(LJ_STAGE_GATE_UP_SWIGLU);
  if (e->skip_mask & parts) return st;
  return comp;
}

// The whole forward pass of n ranks (tensor parallelism: each on its own weights, KV cache and
// activations; 1: the engine alone): embed, layers, final norm, LM head, stage by stage, every
// rank in turn on its own device and stream. At degree > 1 the layer's stages include
// attn_allreduce and mlp_allreduce (lj_cuda_stage_at), whose last rank's run enqueues the
// collective. Fused composites never contain down or an all-reduce, nor o_proj at degree > 1
// (o_proj+ffn_norm: norm-once, refused on ranks).
static int forward_ranks(lj_cuda_engine *const *es, int n, const lj_cuda_batch *bs) {
  const lj_cuda_engine *e0 = es[0];
  for (int r = 0; r < n; r++) {
    if (n > 1) CUDA_CHECK(cudaSetDevice(es[r]->opt.device));
    if (es[r]->marks_on) LJ_TRY(lj_cuda_mark_begin(es[r]));
    LJ_TRY(lj_cuda_run_stage(es[r], LJ_STAGE_EMBED, -1, &bs[r], &es[r]->acts));
  }
  for (int l = 0; l < e0->cfg.n_layers; l++)
    for (int st = LJ_STAGE_LAYER_FIRST; st <= LJ_STAGE_LAYER_LAST && l != e0->skip_layer_plus1 - 1; st++) {
      lj_stage last = (lj_stage)st;
      if (lj_cuda_stage_at(e0, &bs[0], (lj_stage)st) == LJ_STAGE_NONE) continue;  // an all-reduce on one GPU
      for (int r = 0; r < n; r++) {
        if (n > 1) CUDA_CHECK(cudaSetDevice(es[r]->opt.device));
        lj_stage run = lj_cuda_stage_at(es[r], &bs[r], (lj_stage)st);
        LJ_TRY(lj_cuda_run_stage(es[r], run, l, &bs[r], &es[r]->acts));
        lj_stage first = run;
        last = run;
        lj_stage_parts(run, &first, &last);
        // after o_proj, or after the composite that holds it (o_proj+ffn_norm)
        if (first <= LJ_STAGE_O_PROJ && last >= LJ_STAGE_O_PROJ) LJ_TRY(lj_cuda_calibration_run(es[r], l));
      }
      st = (int)last;  // a composite covers its parts
    }
  for (int r = 0; r < n; r++) {
    if (n > 1) CUDA_CHECK(cudaSetDevice(es[r]->opt.device));
    LJ_TRY(lj_cuda_run_stage(es[r], LJ_STAGE_FINAL_NORM, -1, &bs[r], &es[r]->acts));
    LJ_TRY(lj_cuda_run_stage(es[r], LJ_STAGE_LM_HEAD, -1, &bs[r], &es[r]->acts));
  }
  return 0;
}

void lj_cuda_engine_join_group(lj_cuda_engine *e, const lj_cuda_group *g, int degree, int rank) {
  e->group = g, e->group_degree = degree, e->group_rank = rank;
  lj_cuda_drop_graph(e);  // its stages changed
}

static int forward(lj_cuda_engine *e, const lj_cuda_batch *b) { return forward_ranks(&e, 1, b); }

int lj_cuda_prefill(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens) {
  nvtxRangePushA(lj_phase_name(LJ_PHASE_PREFILL));
  int rc = 0;
  // Chunk so that one forward call holds at most max_tokens tokens: whole sequences
  // while they fit, a long prompt in pieces (each piece continues the cache).
  int *left = (int *)malloc(sizeof(int) * 2 * (size_t)n_seqs);
  if (!left) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  int *take = left + n_seqs;
  const int *cursor = tokens;
  if (n_seqs <= 0 || n_seqs > e->opt.max_batch) {
    free(left);
    nvtxRangePop();
    return LJ_FAIL(LJ_EINVAL, "prefill of %d sequences: the engine was created for 1 .. %d", n_seqs,
                   e->opt.max_batch);
  }
  for (int s = 0; s < n_seqs; s++) left[s] = n_tokens[s];
  int *packed = (int *)malloc(sizeof(int) * (size_t)e->opt.max_tokens);
  const int **src = (const int **)malloc(sizeof(int *) * (size_t)n_seqs);
  if (!packed || !src) rc = LJ_FAIL(LJ_ENOMEM, "out of host memory");
  for (int s = 0; s < n_seqs && rc == 0; s++) {
    if (n_tokens[s] < 1) rc = LJ_FAIL(LJ_EINVAL, "prompt %d is empty", s);
    src[s] = cursor;
    cursor += n_tokens[s];
  }
  while (rc == 0) {
    // This round: each unfinished sequence gets up to an equal share of max_tokens.
    int active = 0;
    for (int s = 0; s < n_seqs; s++) active += left[s] > 0;
    if (!active) break;
    int share = e->opt.max_tokens / active, used = 0;
    for (int s = 0; s < n_seqs; s++) {
      int t = left[s] < share ? left[s] : share;
      take[s] = t;
      memcpy(packed + used, src[s], sizeof(int) * (size_t)t);
      used += t;
    }
    // A forward call covers slots 0 .. n-1 together, so a round runs only while every
    // sequence still has tokens; prompts that outlast the others beyond max_tokens are refused.
    if (active == n_seqs) {
      lj_cuda_batch b;
      if ((rc = lj_cuda_prepare_batch(e, n_seqs, packed, take, &b)) < 0) break;
      e->mark_step_ptr = e->d_mark_step;
      if ((rc = forward(e, &b)) < 0) break;
      if (e->marks_on) e->marks_prefill_n = e->mark_k, e->mark_k = 0;
      for (int s = 0; s < n_seqs; s++) e->h_len[s] += take[s], left[s] -= take[s], src[s] += take[s];
      e->last_rows = n_seqs;
      e->gen_rows = 0;  // a new forward call: nothing to continue
    } else {
      rc = LJ_FAIL(LJ_EUNSUPPORTED,
                   "prefill: prompts of very different lengths beyond max_tokens (%d) in one batch; "
                   "prefill them one call per sequence",
                   e->opt.max_tokens);
    }
  }
  free(packed);
  free(src);
  free(left);
  nvtxRangePop();
  return rc;
}

int lj_cuda_prefill_graphed(lj_cuda_engine *e, int n_seqs, const int *tokens, const int *n_tokens) {
  lj_cuda_batch b;
  LJ_TRY(lj_cuda_prepare_batch(e, n_seqs, tokens, n_tokens, &b));
  nvtxRangePushA(lj_phase_name(LJ_PHASE_PREFILL));
  e->mark_step_ptr = e->d_mark_step;
  int rc = 0;
  if (e->prefill_graph && e->prefill_graph_tokens == b.n_tokens && e->prefill_graph_seqs == b.n_seqs &&
      e->prefill_graph_max_q == b.max_q_len) {
    cudaError_t err = cudaGraphLaunch(e->prefill_graph, e->stream);
    if (err != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "prefill graph launch failed: %s", cudaGetErrorString(err));
  } else {
    // This call runs eagerly (cuBLASLt picks its algorithms outside a capture); the
    // next one with the same shapes replays the graph captured here.
    if (e->prefill_graph) cudaGraphExecDestroy(e->prefill_graph);
    e->prefill_graph = NULL;
    rc = forward(e, &b);
    if (rc == 0) rc = lj_cuda_synchronize(e);
    cudaGraph_t g = NULL;
    cudaError_t begin = rc == 0 ? cudaStreamBeginCapture(e->stream, cudaStreamCaptureModeThreadLocal) : cudaSuccess;
    if (rc == 0 && begin != cudaSuccess)
      rc = LJ_FAIL(LJ_ECUDA, "prefill graph capture: %s", cudaGetErrorString(begin));
    if (rc == 0) {
      int frc = forward(e, &b);
      cudaError_t end = cudaStreamEndCapture(e->stream, &g);
      if (frc < 0) rc = frc;
      else if (end != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "prefill graph capture failed: %s", cudaGetErrorString(end));
      if (rc == 0) {
        cudaError_t err = cudaGraphInstantiate(&e->prefill_graph, g, 0);
        if (err != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "prefill graph instantiation failed: %s", cudaGetErrorString(err));
      }
      if (g) cudaGraphDestroy(g);
      if (rc == 0)
        e->prefill_graph_tokens = b.n_tokens, e->prefill_graph_seqs = b.n_seqs, e->prefill_graph_max_q = b.max_q_len;
      if (rc == 0 && e->marks_on) e->marks_prefill_n = e->mark_k, e->mark_k = 0;  // the graph's stamps
    }
  }
  if (rc == 0) {
    for (int s = 0; s < n_seqs; s++) e->h_len[s] += n_tokens[s];
    e->last_rows = n_seqs;
    e->gen_rows = 0;  // a new forward call: nothing to continue
  }
  nvtxRangePop();
  return rc;
}

int lj_cuda_prefill_graph_launch(lj_cuda_engine *e, int n) {
  if (!e->prefill_graph) return LJ_FAIL(LJ_EINVAL, "prefill graph launch: no prefill graph captured yet");
  for (int i = 0; i < n; i++) CUDA_CHECK(cudaGraphLaunch(e->prefill_graph, e->stream));
  return 0;
}

int lj_cuda_decode(lj_cuda_engine *e, int n_seqs, const int *tokens) {
  if (n_seqs <= 0 || n_seqs > e->opt.max_batch)
    return LJ_FAIL(LJ_EINVAL, "decode of %d sequences: the engine was created for 1 .. %d", n_seqs,
                   e->opt.max_batch);
  int *ones = (int *)malloc(sizeof(int) * (size_t)n_seqs);
  if (!ones) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  for (int s = 0; s < n_seqs; s++) ones[s] = 1;
  lj_cuda_batch b;
  int rc = lj_cuda_prepare_batch(e, n_seqs, tokens, ones, &b);
  free(ones);
  LJ_TRY(rc);
  LJ_TRY(forward(e, &b));
  for (int s = 0; s < n_seqs; s++) e->h_len[s]++;
  e->last_rows = n_seqs;
  e->gen_rows = 0;  // a new forward call: nothing to continue
  return 0;
}

// Decode shape with arbitrary slots: the batch arrays are written directly.
static int upload_decode_slots(lj_cuda_engine *e, const int32_t *tokens, const int32_t *seq, const int32_t *pos, int n,
                               lj_cuda_batch *out) {
  int *h = (int *)malloc(sizeof(int) * 4 * (size_t)n);
  if (!h) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  for (int i = 0; i < n; i++) h[i] = tokens[i], h[n + i] = seq[i], h[2 * n + i] = pos[i], h[3 * n + i] = pos[i] + 1;
  cudaError_t err = cudaMemcpyAsync(e->d_tokens, h, sizeof(int) * n, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess) err = cudaMemcpyAsync(e->d_seq, h + n, sizeof(int) * n, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess) err = cudaMemcpyAsync(e->d_pos, h + 2 * n, sizeof(int) * n, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess) err = cudaMemcpyAsync(e->d_kv_len, h + 3 * n, sizeof(int) * n, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess) err = cudaStreamSynchronize(e->stream);
  free(h);
  if (err != cudaSuccess) return LJ_FAIL(LJ_ECUDA, "batch upload failed: %s", cudaGetErrorString(err));
  lj_cuda_batch b = {n, n, 1, 1, e->d_tokens, e->d_seq, e->d_pos, e->d_kv_len,
                     e->d_q_start, e->d_q_len, e->d_ctx_start, e->d_last_row};
  *out = b;
  return 0;
}

static int use_device(const lj_cuda_engine *e, int n_ranks) {
  if (n_ranks > 1) CUDA_CHECK(cudaSetDevice(e->opt.device));
  return 0;
}

int lj_cuda_forward_group(lj_cuda_engine *const *es, int n_ranks, const int32_t *tokens,
                          const int32_t *seq, const int32_t *pos, int n, const int32_t *logit_rows, int n_logits,
                          float *logits) {
  lj_cuda_engine *e = es[0];
  const lj_cuda_options *o = &e->opt;
  if (n_ranks < 1 || n_ranks > LJ_CUDA_MAX_RANKS)
    return LJ_FAIL(LJ_EINVAL, "forward over %d ranks: 1 .. %d", n_ranks, LJ_CUDA_MAX_RANKS);
  if (n <= 0 || n > o->max_tokens)
    return LJ_FAIL(LJ_EINVAL, "forward of %d tokens: the engine takes 1 .. %d", n, o->max_tokens);
  for (int i = 0; i < n; i++) {
    if (seq[i] < 0 || seq[i] >= o->max_batch || pos[i] < 0 || pos[i] >= o->max_ctx ||
        pos[i] > e->h_len[seq[i]] + i)
      return LJ_FAIL(LJ_EINVAL, "token %d: slot %d position %d outside the engine's %d x %d cache", i, seq[i],
                     pos[i], o->max_batch, o->max_ctx);
    if (tokens[i] < 0 || tokens[i] >= e->cfg.vocab_size)
      return LJ_FAIL(LJ_EINVAL, "token %d is %d, outside the vocabulary [0, %d)", i, tokens[i], e->cfg.vocab_size);
  }
  lj_cuda_batch bs[LJ_CUDA_MAX_RANKS];
  // Decode shape?
  int decode = n_logits == n;
  for (int i = 0; decode && i < n; i++) {
    if (logit_rows[i] != i) decode = 0;
    for (int j = 0; decode && j < i; j++)
      if (seq[j] == seq[i]) decode = 0;
  }
  if (decode) {
    for (int r = 0; r < n_ranks; r++) {
      LJ_TRY(use_device(es[r], n_ranks));
      LJ_TRY(upload_decode_slots(es[r], tokens, seq, pos, n, &bs[r]));
    }
    LJ_TRY(forward_ranks(es, n_ranks, bs));
    for (int r = 0; r < n_ranks; r++) {
      for (int i = 0; i < n; i++) es[r]->h_len[seq[i]] = pos[i] + 1;
      es[r]->last_rows = n;
      es[r]->gen_rows = 0;  // a new forward call: nothing to continue
    }
  } else {
    // Prefill shape: slots 0 .. k-1 in order, consecutive positions, one logits row each
    // (its last token: the engine's final norm takes each sequence's last row).
    int k = 0;
    int *lens = (int *)calloc((size_t)o->max_batch, sizeof(int));
    if (!lens) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
      if (i == 0 || seq[i] != seq[i - 1]) {
        ok = seq[i] == k;
        if (ok) {
          for (int r = 0; r < n_ranks; r++) es[r]->h_len[k] = pos[i];  // positions from pos[i] on are (over)written
          k++;
        }
      } else {
        ok = pos[i] == pos[i - 1] + 1;
      }
      if (ok) lens[seq[i]]++;
    }
    int row = 0;
    for (int s = 0; ok && s < k; s++) {
      row += lens[s];
      ok = n_logits == k && logit_rows[s] == row - 1;
    }
    int rc = 0;
    if (!ok)
      rc = LJ_FAIL(LJ_EUNSUPPORTED,
                   "CUDA engine: a forward call must be a decode step (one token per slot) or a prefill of "
                   "slots 0 .. k-1 in order with the logits of each one's last token");
    for (int r = 0; rc == 0 && r < n_ranks; r++)
      if ((rc = use_device(es[r], n_ranks)) == 0) rc = lj_cuda_prepare_batch(es[r], k, tokens, lens, &bs[r]);
    if (rc == 0) rc = forward_ranks(es, n_ranks, bs);
    for (int r = 0; rc == 0 && r < n_ranks; r++) {
      for (int s = 0; s < k; s++) es[r]->h_len[s] += lens[s];
      es[r]->last_rows = k;
      es[r]->gen_rows = 0;  // a new forward call: nothing to continue
    }
    free(lens);
    LJ_TRY(rc);
  }
  LJ_TRY(use_device(e, n_ranks));
  if (!logits) return 0;  // left on the device, where the sample stage reads them
  return lj_cuda_get_logits(e, logits, n_logits);
}

int lj_cuda_forward_batch(lj_cuda_engine *e, const int32_t *tokens, const int32_t *seq, const int32_t *pos,
                          int n, const int32_t *logit_rows, int n_logits, float *logits) {
  return lj_cuda_forward_group(&e, 1, tokens, seq, pos, n, logit_rows, n_logits, logits);
}

int lj_cuda_get_logits(lj_cuda_engine *e, float *out, int n_rows) {
  if (n_rows > e->last_rows)
    return LJ_FAIL(LJ_EINVAL, "asked for %d logits rows, the last call left %d", n_rows, e->last_rows);
  CUDA_CHECK(cudaMemcpyAsync(out, e->acts.logits, sizeof(float) * (size_t)n_rows * e->cfg.vocab_size,
                             cudaMemcpyDeviceToHost, e->stream));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  return 0;
}

// ---------------------------------------------------------------- sampling and generation

static __global__ void advance_kernel(int *tokens, const int *next, int *pos, int *kv_len, int *step,
                                      int *history, int n_seqs) {
  pdl_trigger();
  pdl_wait();  // inputs come from the previous kernel
  int s = threadIdx.x + blockIdx.x * blockDim.x;
  int st = *step;
  if (s < n_seqs) {
    tokens[s] = next[s] < 0 ? 0 : next[s];  // a non-finite row's marker is never embedded
    history[(size_t)st * n_seqs + s] = next[s];
    pos[s] += 1;
    kv_len[s] += 1;
  }
  __syncthreads();
  if (s == 0 && blockIdx.x == 0) *step = st + 1;  // single-block launch (n_seqs <= 1024 checked)
}

static __global__ void first_token_kernel(int *tokens, const int *next, int *history, int n_seqs) {
  int s = threadIdx.x + blockIdx.x * blockDim.x;
  if (s < n_seqs) tokens[s] = next[s] < 0 ? 0 : next[s], history[s] = next[s];
}

// Sampled tokens (n_steps, n_seqs) from step `first` on: a row whose logits were not finite is an error.
static int check_sampled(const int *tokens, int n_steps, int n_seqs, int first) {
  for (int i = 0; i < n_steps * n_seqs; i++)
    if (tokens[i] == LJ_CUDA_SAMPLE_NONFINITE) {
      int step = first + i / n_seqs;
      return LJ_FAIL(LJ_EINVAL, "CUDA sampling: step %d (%s), sequence %d: a logit is NaN or infinite "
                     "(the model's output overflowed)", step, step ? "decode" : "prefill", i % n_seqs);
    }
  return 0;
}

// Token-history rows [first, first + n_rows) to out (may be NULL), after the stream's work.
// Always read back (a few KB), so that non-finite logits are an error even where the
// caller does not want the tokens.
static int read_history(lj_cuda_engine *e, int first, int n_rows, int n_seqs, int *out) {
  int *tokens = out;
  if (!tokens && !(tokens = (int *)malloc(sizeof(int) * (size_t)n_rows * n_seqs)))
    return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  cudaError_t err = cudaMemcpyAsync(tokens, e->d_history + (size_t)first * n_seqs,
                                    sizeof(int) * (size_t)n_rows * n_seqs, cudaMemcpyDeviceToHost, e->stream);
  if (err == cudaSuccess) err = cudaStreamSynchronize(e->stream);
  int rc = err != cudaSuccess ? LJ_FAIL(LJ_ECUDA, "decode failed: %s", cudaGetErrorString(err))
                              : check_sampled(tokens, n_rows, n_seqs, first);
  if (tokens != out) free(tokens);
  return rc;
}

int lj_cuda_sample_tokens(lj_cuda_engine *e, int n_rows, const lj_cuda_sampling *sp, int *out_tokens) {
  if (n_rows > e->last_rows || n_rows <= 0)
    return LJ_FAIL(LJ_EINVAL, "asked to sample %d rows, the last call left %d", n_rows, e->last_rows);
  if ((e->skip_mask >> LJ_STAGE_SAMPLE) & 1u) return 0;
  nvtxRangePushA(lj_stage_name(LJ_STAGE_SAMPLE));
  CUDA_CHECK(cudaMemsetAsync(e->d_step, 0, sizeof(int), e->stream));
  int rc = lj_cuda_sample(e->acts.next, e->acts.logits, n_rows, e->cfg.vocab_size, sp->temperature,
                          sp->top_p, sp->top_k, sp->seed, e->d_step, e->stream);
  nvtxRangePop();
  LJ_TRY(rc);
  if (out_tokens) {
    CUDA_CHECK(cudaMemcpyAsync(out_tokens, e->acts.next, sizeof(int) * n_rows, cudaMemcpyDeviceToHost, e->stream));
    CUDA_CHECK(cudaStreamSynchronize(e->stream));
    LJ_TRY(check_sampled(out_tokens, 1, n_rows, 0));
  }
  return 0;
}

// Records one decode step (forward, sample, advance) on the stream.
static int decode_step_body(lj_cuda_engine *e, int n_seqs, const lj_cuda_sampling *sp) {
  lj_cuda_batch b = {n_seqs, n_seqs, 1, 1, e->d_tokens, e->d_seq, e->d_pos, e->d_kv_len,
                     e->d_q_start, e->d_q_len, e->d_ctx_start, e->d_last_row};
  e->mark_step_ptr = e->d_step;
  LJ_TRY(forward(e, &b));
  lj_cuda_sampling keep = e->stage_sampling;
  e->stage_sampling = *sp;
  int rc = lj_cuda_run_stage(e, LJ_STAGE_SAMPLE, -1, &b, &e->acts);
  e->stage_sampling = keep;
  LJ_TRY(rc);
  if (e->marks_on) e->marks_decode_n = e->mark_k, e->mark_k = 0;
  lj_launch(advance_kernel, dim3(1), dim3(1024), 0, e->stream, e->d_tokens, e->acts.next, e->d_pos, e->d_kv_len,
                                            e->d_step, e->d_history, n_seqs);
  CUDA_CHECK_LAUNCH("advance");
  return 0;
}

static int same_sampling(const lj_cuda_sampling *a, const lj_cuda_sampling *b) {
  return a->temperature == b->temperature && a->top_p == b->top_p && a->seed == b->seed && a->top_k == b->top_k;
}

static int capture_graph(lj_cuda_engine *e, int n_seqs, const lj_cuda_sampling *sp) {
  if (e->graph && e->graph_n_seqs == n_seqs && same_sampling(&e->graph_sampling, sp)) return 0;
  if (e->graph) {
    CUDA_CHECK(cudaGraphExecDestroy(e->graph));
    e->graph = NULL;
  }
  cudaGraph_t g;
  CUDA_CHECK(cudaStreamBeginCapture(e->stream, cudaStreamCaptureModeThreadLocal));
  int rc = decode_step_body(e, n_seqs, sp);
  cudaError_t end = cudaStreamEndCapture(e->stream, &g);
  LJ_TRY(rc);
  if (end != cudaSuccess) return LJ_FAIL(LJ_ECUDA, "decode graph capture failed: %s", cudaGetErrorString(end));
  cudaError_t err = cudaGraphInstantiate(&e->graph, g, 0);
  cudaGraphDestroy(g);
  if (err != cudaSuccess) return LJ_FAIL(LJ_ECUDA, "decode graph instantiation failed: %s", cudaGetErrorString(err));
  e->graph_n_seqs = n_seqs;
  e->graph_sampling = *sp;
  return 0;
}

// Device decode state for slots 0..n-1 from the host lengths: seq = s, pos = len, kv_len = len + 1.
static int upload_decode_state(lj_cuda_engine *e, int n_seqs, int step) {
  int *h = (int *)malloc(sizeof(int) * 3 * (size_t)n_seqs);
  if (!h) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  for (int s = 0; s < n_seqs; s++) h[s] = s, h[n_seqs + s] = e->h_len[s], h[2 * n_seqs + s] = e->h_len[s] + 1;
  cudaError_t err = cudaMemcpyAsync(e->d_seq, h, sizeof(int) * n_seqs, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess)
    err = cudaMemcpyAsync(e->d_pos, h + n_seqs, sizeof(int) * n_seqs, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess)
    err = cudaMemcpyAsync(e->d_kv_len, h + 2 * n_seqs, sizeof(int) * n_seqs, cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess)
    err = cudaMemcpyAsync(e->d_step, &step, sizeof(int), cudaMemcpyHostToDevice, e->stream);
  if (err == cudaSuccess) err = cudaStreamSynchronize(e->stream);
  free(h);
  if (err != cudaSuccess) return LJ_FAIL(LJ_ECUDA, "decode state upload failed: %s", cudaGetErrorString(err));
  return 0;
}

int lj_cuda_generate(lj_cuda_engine *e, int n_seqs, int n_steps, const lj_cuda_sampling *sp,
                     int *out_tokens) {
  if (n_seqs <= 0 || n_seqs > e->opt.max_batch || n_seqs > 1024 || n_seqs != e->last_rows)
    return LJ_FAIL(LJ_EINVAL, "generate for %d sequences: needs the logits of a prefill of as many "
                   "(last call left %d rows; engine batch %d)", n_seqs, e->last_rows, e->opt.max_batch);
  if (n_steps <= 0) return 0;
  for (int s = 0; s < n_seqs; s++)
    if (e->h_len[s] + n_steps - 1 > e->opt.max_ctx)
      return LJ_FAIL(LJ_EINVAL, "sequence %d: %d cached + %d new tokens exceed the context of %d", s,
                     e->h_len[s], n_steps - 1, e->opt.max_ctx);
  if (n_steps > e->opt.max_ctx)
    return LJ_FAIL(LJ_EINVAL, "%d steps exceed the token history (%d)", n_steps, e->opt.max_ctx);
  nvtxRangePushA(lj_phase_name(LJ_PHASE_DECODE));
  // First token from the prefill's logits.
  int rc = upload_decode_state(e, n_seqs, 0);
  if (rc == 0)
    rc = lj_cuda_sample(e->acts.next, e->acts.logits, n_seqs, e->cfg.vocab_size, sp->temperature,
                        sp->top_p, sp->top_k, sp->seed, e->d_step, e->stream);
  if (rc == 0) {
    first_token_kernel<<<(n_seqs + 255) / 256, 256, 0, e->stream>>>(e->d_tokens, e->acts.next,
                                                                    e->d_history, n_seqs);
    if (cudaGetLastError() != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "first-token kernel failed");
  }
  e->gen_rows = 0;
  int need_capture = !(e->graph && e->graph_n_seqs == n_seqs && same_sampling(&e->graph_sampling, sp));
  if (rc == 0 && n_steps > 1 && need_capture) {
    // One eager step first: cuBLASLt plans for these shapes are built outside the
    // capture. It runs as step 1 (history row 1, the RNG draw of step 1) and writes the
    // same K/V the first replay writes; the first tokens are then restored from row 0.
    rc = upload_decode_state(e, n_seqs, 1);
    if (rc == 0) rc = decode_step_body(e, n_seqs, sp);
    if (rc == 0) {
      cudaError_t err = cudaMemcpyAsync(e->d_tokens, e->d_history, sizeof(int) * n_seqs,
                                        cudaMemcpyDeviceToDevice, e->stream);
      if (err != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "token restore failed: %s", cudaGetErrorString(err));
    }
    if (rc == 0) rc = capture_graph(e, n_seqs, sp);
  }
  if (rc == 0 && n_steps > 1) rc = upload_decode_state(e, n_seqs, 1);
  for (int i = 1; rc == 0 && i < n_steps; i++) {
    cudaError_t err = cudaGraphLaunch(e->graph, e->stream);
    if (err != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "decode graph launch failed: %s", cudaGetErrorString(err));
  }
  if (rc == 0) rc = read_history(e, 0, n_steps, n_seqs, out_tokens);
  if (rc == 0)
    for (int s = 0; s < n_seqs; s++) e->h_len[s] += n_steps - 1;
  if (rc == 0 && n_steps > 1) e->last_rows = n_seqs;  // logits of the last replayed step
  if (rc == 0 && n_steps > 1) e->gen_rows = n_steps;
  nvtxRangePop();
  return rc;
}

int lj_cuda_generate_more(lj_cuda_engine *e, int n_seqs, int n_more, int *out_tokens) {
  if (!e->graph || e->gen_rows < 2 || e->graph_n_seqs != n_seqs)
    return LJ_FAIL(LJ_EINVAL, "generate_more for %d sequences: no lj_cuda_generate of as many (with >= 2 steps) "
                   "to continue", n_seqs);
  if (n_more <= 0) return 0;
  if (e->gen_rows + n_more > e->opt.max_ctx)
    return LJ_FAIL(LJ_EINVAL, "%d more steps exceed the token history (%d of %d used)", n_more, e->gen_rows,
                   e->opt.max_ctx);
  for (int s = 0; s < n_seqs; s++)
    if (e->h_len[s] + n_more > e->opt.max_ctx)
      return LJ_FAIL(LJ_EINVAL, "sequence %d: %d cached + %d new tokens exceed the context of %d", s, e->h_len[s],
                     n_more, e->opt.max_ctx);
  // The graph's device state (tokens, positions, step) is where the last replay left it.
  nvtxRangePushA(lj_phase_name(LJ_PHASE_DECODE));
  int rc = 0;
  for (int i = 0; rc == 0 && i < n_more; i++) {
    cudaError_t err = cudaGraphLaunch(e->graph, e->stream);
    if (err != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "decode graph launch failed: %s", cudaGetErrorString(err));
  }
  if (rc == 0) rc = read_history(e, e->gen_rows, n_more, n_seqs, out_tokens);
  if (rc == 0) {
    for (int s = 0; s < n_seqs; s++) e->h_len[s] += n_more;
    e->gen_rows += n_more;
  }
  nvtxRangePop();
  return rc;
}

// ---------------------------------------------------------------- benchmarks

static __global__ void fill_kv_kernel(bf16 *kv, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    kv[i] = __float2bfloat16(lj_random_unit(seed, 0xFFFFFFFFu, i));
}

int lj_cuda_fake_context(lj_cuda_engine *e, int n_seqs, int len, uint64_t seed) {
  if (n_seqs > e->opt.max_batch || len > e->opt.max_ctx || len < 0)
    return LJ_FAIL(LJ_EINVAL, "fake context %d x %d exceeds the engine's %d x %d", n_seqs, len,
                   e->opt.max_batch, e->opt.max_ctx);
  size_t n = (size_t)2 * e->cfg.n_layers * e->opt.max_batch * e->kv_dim * e->opt.max_ctx;
  fill_kv_kernel<<<4096, 256, 0, e->stream>>>((bf16 *)e->kv_mem, n, seed);
  CUDA_CHECK_LAUNCH("fill_kv");
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  for (int s = 0; s < n_seqs; s++) e->h_len[s] = len;
  return 0;
}
