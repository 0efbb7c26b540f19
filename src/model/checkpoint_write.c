// Writes lj_weights as an HF checkpoint directory: config.json (the form of
// the published Llama 3 checkpoints) + model.safetensors, so HF transformers
// can load exactly the weights the engines run (random weights included).
// Both files are written under temporary names in the folder and renamed into
// place only when both are complete: a failed write (a full disk, a file size
// limit) leaves the folder as it was, with no truncated model.safetensors and
// no config.json without its weights.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/output_file.h"
#include "model/weights.h"
#include "model/weights_layout.h"

static json_t *config_json(const lj_model_config *c, lj_dtype dtype) {
  json_t *o = json_object();
  json_object_set_new(o, "architectures", json_pack("[s]", "LlamaForCausalLM"));
  json_object_set_new(o, "model_type", json_string("llama"));
  json_object_set_new(o, "hidden_size", json_integer(c->dim));
  json_object_set_new(o, "intermediate_size", json_integer(c->hidden_dim));
  json_object_set_new(o, "num_hidden_layers", json_integer(c->n_layers));
  json_object_set_new(o, "num_attention_heads", json_integer(c->n_heads));
  json_object_set_new(o, "num_key_value_heads", json_integer(c->n_kv_heads));
  json_object_set_new(o, "head_dim", json_integer(c->head_dim));
  json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
  json_object_set_new(o, "max_position_embeddings", json_integer(c->max_seq_len));
  json_object_set_new(o, "rms_norm_eps", json_real(c->norm_eps));
  json_object_set_new(o, "rope_theta", json_real(c->rope_theta));
  if (c->rope_type == LJ_ROPE_LLAMA3)
    json_object_set_new(o, "rope_scaling",
                        json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor", c->rope_factor,
                                  "low_freq_factor", c->rope_low_freq_factor, "high_freq_factor",
                                  c->rope_high_freq_factor, "original_max_position_embeddings",
                                  c->rope_original_max_pos));
  else
    json_object_set_new(o, "rope_scaling", json_null());
  json_object_set_new(o, "tie_word_embeddings", json_boolean(c->tie_embeddings));
  json_object_set_new(o, "torch_dtype", json_string(dtype == LJ_DTYPE_BF16 || dtype == LJ_DTYPE_F8_E4M3 ? "bfloat16"
                                                     : dtype == LJ_DTYPE_F16 ? "float16" : "float32"));
  if (dtype == LJ_DTYPE_F8_E4M3)  // compressed-tensors, as llm-compressor writes FP8 weights per channel
    json_object_set_new(o, "quantization_config",
                        json_pack("{s:s, s:s, s:{s:{s:[s], s:{s:i, s:s, s:s, s:b, s:b}}}, s:[s]}", "quant_method",
                                  "compressed-tensors", "format", "float-quantized", "config_groups", "group_0",
                                  "targets", "Linear", "weights", "num_bits", 8, "type", "float", "strategy",
                                  "channel", "symmetric", 1, "dynamic", 0, "ignore", "lm_head"));
  json_object_set_new(o, "hidden_act", json_string("silu"));
  json_object_set_new(o, "attention_bias", json_false());
  json_object_set_new(o, "mlp_bias", json_false());
  json_object_set_new(o, "initializer_range", json_real(0.02));
  json_object_set_new(o, "use_cache", json_true());
  json_object_set_new(o, "bos_token_id", c->bos_id >= 0 ? json_integer(c->bos_id) : json_null());
  json_object_set_new(o, "eos_token_id", c->eos_id >= 0 ? json_integer(c->eos_id) : json_null());
  return o;
}

// Element i of t widened to f32 (FP8 codes times their row's scale).
static float element(const lj_tensor *t, int64_t i) {
  int64_t cols = t->ndim == 2 ? t->shape[1] : lj_tensor_numel(t);
  return lj_tensor_at(t, cols ? i / cols : 0, cols ? i % cols : 0);
}

// Streams one tensor converted to `dtype`.
static int write_tensor(FILE *fp, const lj_tensor *t, lj_dtype dtype, const char *path) {
  enum { CHUNK = 1 << 16 };
  static _Thread_local uint32_t buf[CHUNK];
  int64_t n = lj_tensor_numel(t);
  for (int64_t i = 0; i < n; i += CHUNK) {
    int64_t m = n - i < CHUNK ? n - i : CHUNK;
    if (dtype == LJ_DTYPE_F32) {
      float *f = (float *)buf;
      for (int64_t k = 0; k < m; k++) f[k] = element(t, i + k);
    } else {
      uint16_t *h = (uint16_t *)buf;
      for (int64_t k = 0; k < m; k++) {
        float v = element(t, i + k);
        h[k] = dtype == LJ_DTYPE_BF16 ? lj_f32_to_bf16(v) : lj_f32_to_f16(v);
      }
    }
    if (fwrite(buf, lj_dtype_size(dtype), (size_t)m, fp) != (size_t)m)
      return LJ_FAIL(LJ_EIO, "%s: write failed (tensor '%s'): %s", path, t->name, strerror(errno));
  }
  return LJ_OK;
}

// One tensor of the file: a weight converted to `dtype`, or an FP8 weight's scales.
typedef struct {
  const lj_tensor *t;
  char name[112];
  lj_dtype dtype;
  int is_scale;  // t's per-row scales, F32 [rows, 1] (compressed-tensors' weight_scale)
} entry;

// FP8 checkpoints keep FP8 matrices as codes + scales and write everything else in bf16.
static lj_dtype out_dtype(const lj_tensor *t, lj_dtype dtype) {
  if (dtype != LJ_DTYPE_F8_E4M3) return dtype;
  return t->dtype == LJ_DTYPE_F8_E4M3 ? LJ_DTYPE_F8_E4M3 : LJ_DTYPE_BF16;
}

static int write_entry(FILE *fp, const entry *e, const char *path) {
  const lj_tensor *t = e->t;
  size_t n = e->is_scale ? (size_t)t->shape[0] : (size_t)lj_tensor_numel(t);
  const void *raw = e->is_scale ? (const void *)t->scale : e->dtype == LJ_DTYPE_F8_E4M3 ? t->data : NULL;
  if (!raw) return write_tensor(fp, t, e->dtype, path);
  if (fwrite(raw, lj_dtype_size(e->dtype), n, fp) != n)
    return LJ_FAIL(LJ_EIO, "%s: write failed (tensor '%s'): %s", path, e->name, strerror(errno));
  return LJ_OK;
}

static int write_safetensors(FILE *fp, const char *path, lj_weights *w, lj_dtype dtype) {
  int n = lj_weight_slot_count(&w->config);
  lj_weight_slot *slots = calloc((size_t)n, sizeof *slots);
  entry *ents = calloc(2 * (size_t)n, sizeof *ents);
  if (!slots || !ents) {
    free(slots);
    free(ents);
    return LJ_FAIL(LJ_ENOMEM, "out of memory");
  }
  lj_weight_slots(w, slots);
  // Data order: scales (F32), then 2- and 4-byte tensors, then FP8 codes, so every tensor
  // starts aligned to its element size without gaps.
  int m = 0;
  for (int pass = 0; pass < 3; pass++)
    for (int i = 0; i < n; i++) {
      const lj_tensor *t = slots[i].t;
      lj_dtype d = out_dtype(t, dtype);
      if (pass == 0 && d == LJ_DTYPE_F8_E4M3) {
        ents[m] = (entry){t, "", LJ_DTYPE_F32, 1};
        snprintf(ents[m++].name, sizeof ents[0].name, "%s_scale", slots[i].name);
      } else if ((pass == 1 && d != LJ_DTYPE_F8_E4M3) || (pass == 2 && d == LJ_DTYPE_F8_E4M3)) {
        ents[m] = (entry){t, "", d, 0};
        snprintf(ents[m++].name, sizeof ents[0].name, "%s", slots[i].name);
      }
    }
  json_t *header = json_object();
  json_object_set_new(header, "__metadata__", json_pack("{s:s}", "format", "pt"));
  uint64_t offset = 0;
  for (int i = 0; i < m; i++) {
    const lj_tensor *t = ents[i].t;
    uint64_t numel = ents[i].is_scale ? (uint64_t)t->shape[0] : (uint64_t)lj_tensor_numel(t);
    uint64_t bytes = numel * lj_dtype_size(ents[i].dtype);
    json_t *shape = ents[i].is_scale ? json_pack("[I, I]", (json_int_t)t->shape[0], (json_int_t)1)
                    : t->ndim == 2   ? json_pack("[I, I]", (json_int_t)t->shape[0], (json_int_t)t->shape[1])
                                     : json_pack("[I]", (json_int_t)t->shape[0]);
    json_object_set_new(header, ents[i].name,
                        json_pack("{s:s, s:o, s:[I, I]}", "dtype", lj_dtype_name(ents[i].dtype), "shape", shape,
                                  "data_offsets", (json_int_t)offset, (json_int_t)(offset + bytes)));
    offset += bytes;
  }
  char *text = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(header);
  int rc = LJ_OK;
  if (!text) {
    rc = LJ_FAIL(LJ_ENOMEM, "out of memory");
    goto done;
  }
  // The header is padded with spaces so the data starts 8-byte aligned.
  size_t len = strlen(text), padded = (len + 7) / 8 * 8;
  uint8_t size_le[8];
  for (int i = 0; i < 8; i++) size_le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
  if (fwrite(size_le, 1, 8, fp) != 8 || fwrite(text, 1, len, fp) != len ||
      fwrite("       ", 1, padded - len, fp) != padded - len) {
    rc = LJ_FAIL(LJ_EIO, "%s: write failed: %s", path, strerror(errno));
    goto done;
  }
  for (int i = 0; i < m && rc == LJ_OK; i++) rc = write_entry(fp, &ents[i], path);
done:
  free(text);
  free(slots);
  free(ents);
  return rc;
}

int lj_checkpoint_write(const char *dir, const lj_weights *w, lj_dtype dtype) {
  if (dtype != LJ_DTYPE_BF16 && dtype != LJ_DTYPE_F32 && dtype != LJ_DTYPE_F16 && dtype != LJ_DTYPE_F8_E4M3)
    return LJ_FAIL(LJ_EINVAL, "checkpoint dtype must be bf16, f16, f32 or fp8");
  if (dtype == LJ_DTYPE_F8_E4M3)
    for (int l = 0; l < w->config.n_layers; l++) {
      const lj_layer_weights *L = &w->layers[l];
      const lj_tensor *ts[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
      for (int i = 0; i < 7; i++)
        if (ts[i]->dtype != LJ_DTYPE_F8_E4M3)
          return LJ_FAIL(LJ_EINVAL, "an fp8 checkpoint needs FP8 linear layers: '%s' is %s (quantise first)",
                         ts[i]->name, lj_dtype_name(ts[i]->dtype));
    }
  int made = mkdir(dir, 0777) == 0;  // removed again if the checkpoint fails
  if (!made && errno != EEXIST)
    return LJ_FAIL(errno == EACCES ? LJ_EPERM : LJ_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
  char cfg_path[4096], st_path[4096];
  if ((size_t)snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir) >= sizeof cfg_path ||
      (size_t)snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir) >= sizeof st_path)
    return LJ_FAIL(LJ_EINVAL, "path too long: %s", dir);
  lj_output cfg_out, st_out;
  memset(&st_out, 0, sizeof st_out);
  int rc = lj_output_open(&cfg_out, cfg_path);
  if (rc == LJ_OK) rc = lj_output_open(&st_out, st_path);
  json_t *cfg = config_json(&w->config, dtype);
  if (rc == LJ_OK && json_dumpf(cfg, cfg_out.f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) != 0)
    rc = LJ_FAIL(LJ_EIO, "%s: cannot write", cfg_path);
  json_decref(cfg);
  // The slot walk needs a mutable lj_weights (it only takes addresses of the views).
  lj_weights copy = *w;
  if (rc == LJ_OK) rc = write_safetensors(st_out.f, st_path, &copy, dtype);
  rc = lj_output_finish(&st_out, rc);
  rc = lj_output_finish(&cfg_out, rc);
  // The weights first: a folder holding a config.json always holds its weights.
  if (rc == LJ_OK) rc = lj_output_commit(&st_out);
  if (rc == LJ_OK) rc = lj_output_commit(&cfg_out);
  lj_output_discard(&st_out);
  lj_output_discard(&cfg_out);
  if (rc < 0 && made) rmdir(dir);
  return rc;
}
