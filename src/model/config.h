// Llama model configuration: the published presets and HF config.json.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum { LJ_ROPE_DEFAULT = 0, LJ_ROPE_LLAMA3 = 1 } lj_rope_type;

typedef struct {
  char name[64];          // preset name or checkpoint directory's base name
  int dim;                // hidden_size
  int hidden_dim;         // intermediate_size (MLP)
  int n_layers;           // num_hidden_layers
  int n_heads;            // num_attention_heads
  int n_kv_heads;         // num_key_value_heads (GQA: n_heads % n_kv_heads == 0)
  int head_dim;           // head_dim (not always dim / n_heads)
  int vocab_size;         // 128256 for Llama 3
  int max_seq_len;        // max_position_embeddings
  double rope_theta;      // 500000 for Llama 3
  lj_rope_type rope_type;
  double rope_factor;             // llama3 scaling: factor (8 for 3.1, 32 for 3.2)
  double rope_low_freq_factor;    // 1
  double rope_high_freq_factor;   // 4
  int rope_original_max_pos;      // original_max_position_embeddings (8192)
  double norm_eps;        // rms_norm_eps
  int tie_embeddings;     // lm_head shares the embedding matrix (1B, 3B)
  int bos_id, eos_id;     // 128000, 128001 (base) / 128009 (<|eot_id|> for instruct)
} lj_model_config;

// Fills `out` with a built-in preset: llama-3.2-1b, llama-3.2-3b, llama-3.1-8b,
// llama-3.3-70b, and tiny test models. LJ_EINVAL naming the preset if unknown.
int lj_config_preset(const char *name, lj_model_config *out);
const char *const *lj_config_preset_names(void);  // NULL-terminated

// Reads an HF config.json (Llama family). Errors name the file and field.
int lj_config_from_json(const char *path, lj_model_config *out);
// The same from text in memory; `origin` names it in errors (and gives the name).
int lj_config_from_json_text(const char *text, size_t len, const char *origin, lj_model_config *out);

// Checks the fields agree with each other (heads divide, head_dim > 0, ...).
int lj_config_validate(const lj_model_config *c, const char *origin);

// Derived sizes.
static inline int lj_q_dim(const lj_model_config *c) { return c->n_heads * c->head_dim; }
static inline int lj_kv_dim(const lj_model_config *c) { return c->n_kv_heads * c->head_dim; }
int64_t lj_config_n_params(const lj_model_config *c);  // counts a tied lm_head once
