// Model weights as both engines read them: tensor views in HF layout
// (nn.Linear: W is (out_features, in_features), y = x W^T), of dtype
// F32/F16/BF16 (linear layers also F8_E4M3 with per-row scales), pointing into memory-mapped safetensors files or into
// buffers of generated random weights. The CUDA engine copies them to the
// device; the CPU engine reads them in place.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/dtype.h"

typedef struct {
  const void *data;   // host memory, row-major; NULL when absent
  lj_dtype dtype;
  int ndim;           // 1 (vectors) or 2 (matrices)
  int64_t shape[2];   // (rows, cols) for matrices, (n, -) for vectors
  const char *name;   // HF name, e.g. "model.layers.3.self_attn.q_proj.weight" (owned by lj_weights)
  const float *scale; // F8_E4M3 only: one scale per row, element = e4m3 value * scale[row]
} lj_tensor;

static inline int64_t lj_tensor_numel(const lj_tensor *t) {
  return t->ndim == 1 ? t->shape[0] : t->shape[0] * t->shape[1];
}
static inline size_t lj_tensor_nbytes(const lj_tensor *t) {
  return (size_t)lj_tensor_numel(t) * lj_dtype_size(t->dtype) + (t->scale ? (size_t)t->shape[0] * 4 : 0);
}
// Element (row, col) widened to f32, the per-row scale applied for F8_E4M3.
static inline float lj_tensor_at(const lj_tensor *t, int64_t row, int64_t col) {
  int64_t cols = t->ndim == 2 ? t->shape[1] : 1;
  float v = lj_load_f32(t->data, t->dtype, (size_t)(row * cols + col));
  return t->dtype == LJ_DTYPE_F8_E4M3 ? v * t->scale[row] : v;
}
// A view of a plain f32 buffer (tests, scratch): rows x cols, or a vector when cols == 0.
static inline lj_tensor lj_tensor_f32(const float *data, int64_t rows, int64_t cols) {
  lj_tensor t = {data, LJ_DTYPE_F32, cols ? 2 : 1, {rows, cols}, "f32", NULL};
  return t;
}

typedef struct {
  lj_tensor attn_norm;  // (dim)                    input_layernorm.weight
  lj_tensor wq;         // (n_heads*head_dim, dim)  self_attn.q_proj.weight
  lj_tensor wk;         // (n_kv_heads*head_dim, dim)
  lj_tensor wv;         // (n_kv_heads*head_dim, dim)
  lj_tensor wo;         // (dim, n_heads*head_dim)  self_attn.o_proj.weight
  lj_tensor ffn_norm;   // (dim)                    post_attention_layernorm.weight
  lj_tensor w_gate;     // (hidden_dim, dim)        mlp.gate_proj.weight
  lj_tensor w_up;       // (hidden_dim, dim)        mlp.up_proj.weight
  lj_tensor w_down;     // (dim, hidden_dim)        mlp.down_proj.weight
} lj_layer_weights;

struct lj_weight_storage;  // mmaps / owned buffers behind the views (private)

typedef struct {
  lj_model_config config;
  lj_tensor embed;            // (vocab, dim)  model.embed_tokens.weight
  lj_layer_weights *layers;   // n_layers
  lj_tensor final_norm;       // (dim)         model.norm.weight
  lj_tensor lm_head;          // (vocab, dim)  lm_head.weight; same data as embed when tied
  int random;                 // 1: generated from the seed below, not read from a checkpoint
  uint64_t seed;
  struct lj_weight_storage *storage;
} lj_weights;

// Loads an HF checkpoint directory (config.json + model.safetensors or
// model.safetensors.index.json and its shards), memory-mapped. A missing
// tensor or a wrong shape fails naming the tensor, the file and the expected shape.
int lj_weights_load(const char *dir, lj_weights *out);

// The checks of lj_weights_load without keeping the weights: config.json, then every safetensors
// header mapped and checked (each tensor the configuration needs present with its shape and a
// supported dtype, offsets inside its file, no tensor it does not use). Reads no tensor data but
// an FP8 checkpoint's scales (4 bytes a row). For refusing a checkpoint before anything is stored.
int lj_weights_check_checkpoint(const char *dir);

// Random weights for a configuration (model/random_init.h), stored as bf16
// (every value is bf16-rounded so the CPU fp32 and the GPU bf16 engines start
// from the same numbers). Filled with n_threads threads.
int lj_weights_random(const lj_model_config *c, uint64_t seed, int n_threads, lj_weights *out);

// Points the views at an already resident set of tensors; checks each
// against the configuration (dtype any, shape exact). Used by the loaders.
int lj_weights_check(const lj_weights *w, const char *origin);

// Bytes of all tensors (a tied lm_head counted once).
size_t lj_weights_nbytes(const lj_weights *w);

void lj_weights_free(lj_weights *w);

// Quantises every linear-layer matrix (wq, wk, wv, wo, w_gate, w_up, w_down) to F8_E4M3 with
// one fp32 scale per row, or with scale_mode LJ_FP8_SCALE_TENSOR one per matrix stored in every
// row's slot (model/fp8_quant.h), into host memory owned by w; embeddings, norms and lm_head stay
// as they are. Matrices already in F8_E4M3 are kept with their own scales (per row only: asking
// per tensor of an FP8 checkpoint is LJ_EUNSUPPORTED). The CPU reference of the CUDA engine's
// FP8 weights (the same codes and scales, bit for bit).
int lj_weights_quantize_fp8(lj_weights *w, int n_threads, int scale_mode);
// The reverse for FP8 checkpoints run with bf16 linear layers (--weights bf16): every F8_E4M3
// matrix becomes BF16 holding bf16(e4m3(code) * scale) (what transformers' dequantisation of a
// compressed-tensors checkpoint to bfloat16 gives); other matrices are kept.
int lj_weights_dequantize_fp8(lj_weights *w, int n_threads);
// 1 when any linear layer is F8_E4M3 (an FP8 checkpoint, or quantised).
int lj_weights_is_fp8(const lj_weights *w);
// 1 when the tensor is one of a layer's linear-layer matrices (the ones FP8 may hold).
int lj_weights_is_linear(const lj_weights *w, const lj_tensor *t);
// Hands a malloc'd buffer to w: freed by lj_weights_free. Frees p and fails when out of memory.
int lj_weights_adopt(lj_weights *w, void *p);

// Writes an HF checkpoint: config.json + model.safetensors with every tensor
// in `dtype` (LJ_DTYPE_BF16, LJ_DTYPE_F16 or LJ_DTYPE_F32). LJ_DTYPE_F8_E4M3: the layout of
// published FP8 checkpoints (compressed-tensors): every linear layer as F8_E4M3 codes with a
// `<name>_scale` F32 [rows, 1], everything else bf16; the linear layers must already be FP8
// (lj_weights_quantize_fp8). Creates `dir` if needed.
int lj_checkpoint_write(const char *dir, const lj_weights *w, lj_dtype dtype);
