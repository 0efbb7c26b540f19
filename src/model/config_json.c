// HF config.json of the Llama family -> lj_model_config. Reads both the form
// of the published Llama 3 checkpoints (rope_theta + rope_scaling,
// torch_dtype) and the one transformers >= 5 writes (rope_parameters, dtype).
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/input_file.h"
#include "model/config.h"

typedef struct {
  const char *path;
  json_t *root;
} reader;

// Integer field; `required` = 0 leaves *out unchanged when absent or null.
static int get_int(const reader *r, json_t *obj, const char *obj_name, const char *key, int required, int *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) return LJ_FAIL(LJ_EINVAL, "%s: field '%s%s' is missing", r->path, obj_name, key);
    return LJ_OK;
  }
  if (!json_is_integer(v))
    return LJ_FAIL(LJ_EINVAL, "%s: field '%s%s' must be an integer", r->path, obj_name, key);
  json_int_t i = json_integer_value(v);
  if (i < 0 || i > 0x7FFFFFFF)
    return LJ_FAIL(LJ_EINVAL, "%s: field '%s%s' = %lld is out of range", r->path, obj_name, key, (long long)i);
  *out = (int)i;
  return LJ_OK;
}

static int get_number(const reader *r, json_t *obj, const char *obj_name, const char *key, int required, double *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) return LJ_FAIL(LJ_EINVAL, "%s: field '%s%s' is missing", r->path, obj_name, key);
    return LJ_OK;
  }
  if (!json_is_number(v)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s%s' must be a number", r->path, obj_name, key);
  double d = json_number_value(v);
  if (!isfinite(d)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s%s' is not finite", r->path, obj_name, key);
  *out = d;
  return LJ_OK;
}

static int get_bool(const reader *r, const char *key, int *out) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) return LJ_OK;
  if (!json_is_boolean(v)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s' must be true or false", r->path, key);
  *out = json_is_true(v);
  return LJ_OK;
}

// A field that must hold one value if present (e.g. hidden_act "silu").
static int expect_string(const reader *r, const char *key, const char *want) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) return LJ_OK;
  if (!json_is_string(v)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s' must be a string", r->path, key);
  if (strcmp(json_string_value(v), want))
    return LJ_FAIL(LJ_EINVAL, "%s: field '%s' is '%s'; only '%s' (Llama) is supported", r->path, key,
                   json_string_value(v), want);
  return LJ_OK;
}

static int expect_false(const reader *r, const char *key) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) return LJ_OK;
  if (!json_is_boolean(v)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s' must be true or false", r->path, key);
  if (json_is_true(v)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s' is true; Llama has no biases, not supported", r->path, key);
  return LJ_OK;
}

// bos/eos: an integer, a list of integers (the first is used), or null.
static int get_token_id(const reader *r, const char *key, int *out) {
  json_t *v = json_object_get(r->root, key);
  if (!v || json_is_null(v)) return LJ_OK;
  if (json_is_array(v)) {
    if (json_array_size(v) == 0) return LJ_OK;
    json_t *first = json_array_get(v, 0);
    for (size_t i = 0; i < json_array_size(v); i++)
      if (!json_is_integer(json_array_get(v, i)) || json_integer_value(json_array_get(v, i)) < 0)
        return LJ_FAIL(LJ_EINVAL, "%s: field '%s[%zu]' must be a non-negative integer", r->path, key, i);
    v = first;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7FFFFFFF)
    return LJ_FAIL(LJ_EINVAL, "%s: field '%s' must be a non-negative integer or a list of them", r->path, key);
  *out = (int)json_integer_value(v);
  return LJ_OK;
}

// rope_scaling (legacy) or rope_parameters (transformers >= 5): null, an
// object with "rope_type" (or the older "type") "default" or "llama3".
static int read_rope(const reader *r, lj_model_config *c) {
  const char *key = "rope_scaling";
  json_t *rope = json_object_get(r->root, "rope_parameters");
  if (rope && !json_is_null(rope)) key = "rope_parameters";
  else rope = json_object_get(r->root, "rope_scaling");
  c->rope_type = LJ_ROPE_DEFAULT;
  if (!rope || json_is_null(rope)) return LJ_OK;
  if (!json_is_object(rope)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s' must be an object or null", r->path, key);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "%s.", key);
  LJ_TRY(get_number(r, rope, prefix, "rope_theta", 0, &c->rope_theta));
  json_t *type = json_object_get(rope, "rope_type");
  if (!type) type = json_object_get(rope, "type");
  if (!type || json_is_null(type)) {
    if (!strcmp(key, "rope_parameters")) return LJ_OK;  // only rope_theta
    return LJ_FAIL(LJ_EINVAL, "%s: field '%s.rope_type' is missing", r->path, key);
  }
  if (!json_is_string(type)) return LJ_FAIL(LJ_EINVAL, "%s: field '%s.rope_type' must be a string", r->path, key);
  const char *t = json_string_value(type);
  if (!strcmp(t, "default")) return LJ_OK;
  if (strcmp(t, "llama3"))
    return LJ_FAIL(LJ_EINVAL, "%s: field '%s.rope_type' is '%s'; supported: llama3, default (or null)", r->path, key, t);
  c->rope_type = LJ_ROPE_LLAMA3;
  LJ_TRY(get_number(r, rope, prefix, "factor", 1, &c->rope_factor));
  LJ_TRY(get_number(r, rope, prefix, "low_freq_factor", 1, &c->rope_low_freq_factor));
  LJ_TRY(get_number(r, rope, prefix, "high_freq_factor", 1, &c->rope_high_freq_factor));
  LJ_TRY(get_int(r, rope, prefix, "original_max_position_embeddings", 1, &c->rope_original_max_pos));
  return LJ_OK;
}

static int read_config(const reader *r, lj_model_config *c) {
  json_t *root = r->root;
  if (!json_is_object(root)) return LJ_FAIL(LJ_EINVAL, "%s: expected a JSON object", r->path);
  LJ_TRY(expect_string(r, "model_type", "llama"));
  LJ_TRY(expect_string(r, "hidden_act", "silu"));
  LJ_TRY(expect_false(r, "attention_bias"));
  LJ_TRY(expect_false(r, "mlp_bias"));
  LJ_TRY(get_int(r, root, "", "hidden_size", 1, &c->dim));
  LJ_TRY(get_int(r, root, "", "intermediate_size", 1, &c->hidden_dim));
  LJ_TRY(get_int(r, root, "", "num_hidden_layers", 1, &c->n_layers));
  LJ_TRY(get_int(r, root, "", "num_attention_heads", 1, &c->n_heads));
  c->n_kv_heads = c->n_heads;  // HF: num_key_value_heads defaults to num_attention_heads
  LJ_TRY(get_int(r, root, "", "num_key_value_heads", 0, &c->n_kv_heads));
  LJ_TRY(get_int(r, root, "", "vocab_size", 1, &c->vocab_size));
  c->max_seq_len = 2048;  // HF LlamaConfig default
  LJ_TRY(get_int(r, root, "", "max_position_embeddings", 0, &c->max_seq_len));
  c->head_dim = 0;
  LJ_TRY(get_int(r, root, "", "head_dim", 0, &c->head_dim));
  if (c->head_dim == 0) {
    if (c->n_heads == 0 || c->dim % c->n_heads != 0)
      return LJ_FAIL(LJ_EINVAL,
                     "%s: field 'head_dim' is missing and hidden_size %d is not divisible by num_attention_heads %d",
                     r->path, c->dim, c->n_heads);
    c->head_dim = c->dim / c->n_heads;
  }
  c->norm_eps = 1e-6;  // HF LlamaConfig default
  LJ_TRY(get_number(r, root, "", "rms_norm_eps", 0, &c->norm_eps));
  c->rope_theta = 10000.0;  // HF default
  LJ_TRY(get_number(r, root, "", "rope_theta", 0, &c->rope_theta));
  LJ_TRY(read_rope(r, c));
  c->tie_embeddings = 0;  // LlamaConfig default
  LJ_TRY(get_bool(r, "tie_word_embeddings", &c->tie_embeddings));
  c->bos_id = -1;
  c->eos_id = -1;
  LJ_TRY(get_token_id(r, "bos_token_id", &c->bos_id));
  LJ_TRY(get_token_id(r, "eos_token_id", &c->eos_id));
  for (const char *const *k = (const char *const[]){"torch_dtype", "dtype", NULL}; *k; k++) {
    json_t *v = json_object_get(root, *k);
    if (v && !json_is_null(v) && !json_is_string(v))
      return LJ_FAIL(LJ_EINVAL, "%s: field '%s' must be a string", r->path, *k);
  }
  return LJ_OK;
}

// The checkpoint directory's base name from ".../<dir>/config.json".
static void name_from_path(const char *path, char *name, size_t cap) {
  const char *end = strrchr(path, '/');
  const char *start = end;
  while (start && start > path && start[-1] != '/') start--;
  int len = end ? (int)(end - start) : 0;
  snprintf(name, cap, "%.*s", len > 0 ? len : 1, len > 0 ? start : ".");
}

int lj_config_from_json_text(const char *text, size_t len, const char *origin, lj_model_config *out) {
  memset(out, 0, sizeof *out);
  json_error_t jerr;
  reader r = {origin, json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)};
  if (!r.root) return LJ_FAIL(LJ_EINVAL, "%s: line %d: %s", origin, jerr.line, jerr.text);
  int rc = read_config(&r, out);
  json_decref(r.root);
  if (rc < 0) return rc;
  name_from_path(origin, out->name, sizeof out->name);
  return lj_config_validate(out, origin);
}

int lj_config_from_json(const char *path, lj_model_config *out) {
  memset(out, 0, sizeof *out);
  int rc;
  FILE *fp = lj_fopen_input(path, LJ_EINVAL, &rc);
  if (!fp) return rc;
  enum { MAX_CONFIG = 1 << 20 };
  char *text = malloc(MAX_CONFIG);
  size_t len = text ? fread(text, 1, MAX_CONFIG, fp) : 0;
  int too_big = text && len == MAX_CONFIG;
  fclose(fp);
  if (!text) return LJ_FAIL(LJ_ENOMEM, "%s: out of memory", path);
  rc = too_big ? LJ_FAIL(LJ_EINVAL, "%s: larger than 1 MB, not a config.json", path)
                   : lj_config_from_json_text(text, len, path, out);
  free(text);
  return rc;
}

int lj_config_validate(const lj_model_config *c, const char *origin) {
  struct { const char *field; int value, max; } ranges[] = {
      {"hidden_size", c->dim, 1 << 17},           {"intermediate_size", c->hidden_dim, 1 << 20},
      {"num_hidden_layers", c->n_layers, 4096},    {"num_attention_heads", c->n_heads, 4096},
      {"num_key_value_heads", c->n_kv_heads, 4096}, {"head_dim", c->head_dim, 4096},
      {"vocab_size", c->vocab_size, 1 << 24},      {"max_position_embeddings", c->max_seq_len, 1 << 24},
  };
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    if (ranges[i].value < 1 || ranges[i].value > ranges[i].max)
      return LJ_FAIL(LJ_EINVAL, "%s: field '%s' = %d must be in [1, %d]", origin, ranges[i].field, ranges[i].value,
                     ranges[i].max);
  if (c->n_heads % c->n_kv_heads != 0)
    return LJ_FAIL(LJ_EINVAL, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", origin,
                   c->n_heads, c->n_kv_heads);
  if (c->head_dim % 2 != 0)
    return LJ_FAIL(LJ_EINVAL, "%s: field 'head_dim' = %d must be even (RoPE rotates pairs)", origin, c->head_dim);
  if ((int64_t)c->n_heads * c->head_dim > (1 << 17))
    return LJ_FAIL(LJ_EINVAL, "%s: num_attention_heads x head_dim = %lld is too large", origin,
                   (long long)c->n_heads * c->head_dim);
  if (!(c->norm_eps > 0 && c->norm_eps < 1))
    return LJ_FAIL(LJ_EINVAL, "%s: field 'rms_norm_eps' = %g must be in (0, 1)", origin, c->norm_eps);
  if (!(c->rope_theta > 1))
    return LJ_FAIL(LJ_EINVAL, "%s: field 'rope_theta' = %g must be > 1", origin, c->rope_theta);
  if (c->rope_type == LJ_ROPE_LLAMA3) {
    if (!(c->rope_factor >= 1 && c->rope_factor <= 1e6))
      return LJ_FAIL(LJ_EINVAL, "%s: rope scaling 'factor' = %g must be in [1, 1e6]", origin, c->rope_factor);
    if (!(c->rope_low_freq_factor > 0 && c->rope_high_freq_factor > c->rope_low_freq_factor))
      return LJ_FAIL(LJ_EINVAL, "%s: rope scaling needs 0 < low_freq_factor (%g) < high_freq_factor (%g)", origin,
                     c->rope_low_freq_factor, c->rope_high_freq_factor);
    if (c->rope_original_max_pos < 1)
      return LJ_FAIL(LJ_EINVAL, "%s: rope scaling 'original_max_position_embeddings' must be >= 1", origin);
  } else if (c->rope_type != LJ_ROPE_DEFAULT) {
    return LJ_FAIL(LJ_EINVAL, "%s: unknown rope type %d", origin, (int)c->rope_type);
  }
  if (c->bos_id >= c->vocab_size || c->eos_id >= c->vocab_size)
    return LJ_FAIL(LJ_EINVAL, "%s: bos_token_id %d / eos_token_id %d outside vocab_size %d", origin, c->bos_id,
                   c->eos_id, c->vocab_size);
  return LJ_OK;
}
