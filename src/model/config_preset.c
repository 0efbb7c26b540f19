// Built-in model configurations: the published Llama 3.x configurations (HF
// config.json of meta-llama/Llama-3.2-1B, -3.2-3B, -3.1-8B, -3.3-70B-Instruct)
// and tiny models for tests.
#include <string.h>

#include "common/error.h"
#include "model/config.h"

#define LLAMA3_COMMON                                                               \
  .vocab_size = 128256, .max_seq_len = 131072, .rope_theta = 500000.0,              \
  .rope_type = LJ_ROPE_LLAMA3, .rope_low_freq_factor = 1.0, .rope_high_freq_factor = 4.0, \
  .rope_original_max_pos = 8192, .norm_eps = 1e-5, .bos_id = 128000, .eos_id = 128001

static const lj_model_config presets[] = {
    {.name = "llama-3.2-1b", .dim = 2048, .hidden_dim = 8192, .n_layers = 16, .n_heads = 32,
     .n_kv_heads = 8, .head_dim = 64, .rope_factor = 32.0, .tie_embeddings = 1, LLAMA3_COMMON},
    {.name = "llama-3.2-3b", .dim = 3072, .hidden_dim = 8192, .n_layers = 28, .n_heads = 24,
     .n_kv_heads = 8, .head_dim = 128, .rope_factor = 32.0, .tie_embeddings = 1, LLAMA3_COMMON},
    {.name = "llama-3.1-8b", .dim = 4096, .hidden_dim = 14336, .n_layers = 32, .n_heads = 32,
     .n_kv_heads = 8, .head_dim = 128, .rope_factor = 8.0, .tie_embeddings = 0, LLAMA3_COMMON},
    {.name = "llama-3.3-70b", .dim = 8192, .hidden_dim = 28672, .n_layers = 80, .n_heads = 64,
     .n_kv_heads = 8, .head_dim = 128, .rope_factor = 8.0, .tie_embeddings = 0, LLAMA3_COMMON},
    // Tiny models for tests: the real vocabulary (so the real tokenizer works),
    // llama3 rope scaling, GQA 2:1, head_dim * n_heads != dim.
    {.name = "tiny", .dim = 64, .hidden_dim = 160, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
     .head_dim = 24, .rope_factor = 32.0, .tie_embeddings = 1, LLAMA3_COMMON},
    // Untied, MHA-free GQA 4:1, odd intermediate size.
    {.name = "tiny-untied", .dim = 96, .hidden_dim = 200, .n_layers = 3, .n_heads = 8, .n_kv_heads = 2,
     .head_dim = 12, .rope_factor = 8.0, .tie_embeddings = 0, LLAMA3_COMMON},
};

static const char *const preset_names[] = {"llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b",
                                           "llama-3.3-70b", "tiny", "tiny-untied", NULL};

const char *const *lj_config_preset_names(void) { return preset_names; }

int lj_config_preset(const char *name, lj_model_config *out) {
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
    if (!strcmp(presets[i].name, name)) {
      *out = presets[i];
      return LJ_OK;
    }
  }
  return LJ_FAIL(LJ_EINVAL,
                 "unknown model preset '%s' (known: llama-3.2-1b, llama-3.2-3b, llama-3.1-8b, "
                 "llama-3.3-70b, tiny, tiny-untied; or give a checkpoint directory)",
                 name);
}

int64_t lj_config_n_params(const lj_model_config *c) {
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  int64_t per_layer = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * h;
  int64_t embed = (int64_t)c->vocab_size * d;
  return embed + (c->tie_embeddings ? 0 : embed) + d + per_layer * c->n_layers;
}
