// bench_engine_dump: runs the CUDA engine on a preset with random weights
// (model/random_init.h) and writes what scripts/gpu/e2e_hf.py compares with HF
// transformers:
//   DIR/config.json    HF-style config of the preset
//   DIR/prompt.i32     the prompt token ids (int32)
//   DIR/gen.i32        greedy tokens, one per step (int32, steps)
//   DIR/logits.f32     (steps, vocab) fp32: row 0 after the prefill, row i after
//                      decoding gen[i-1] (so row i predicts gen[i])
//   DIR/inv_freq.f32   the RoPE frequency table the engine uses
// Greedy steps run eagerly (same kernels as the decode graph) with host argmax.
//
// usage: bench_engine_dump --model PRESET --out DIR [--seed N] [--prompt-len N] [--steps N]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vector>

extern "C" {
#include "common/error.h"
#include "model/random_init.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/rope.h"

static int write_file(const char *dir, const char *name, const void *p, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(p, 1, bytes, f) != bytes) {
    fprintf(stderr, "bench_engine_dump: cannot write %s\n", path);
    if (f) fclose(f);
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *model = NULL, *out = NULL;
  unsigned long long seed = 1;
  int prompt_len = 24, steps = 17;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--prompt-len") && i + 1 < argc) prompt_len = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_engine_dump --model PRESET --out DIR [--seed N] [--prompt-len N] [--steps N]\n");
      return 2;
    }
  }
  if (!model || !out || prompt_len < 1 || steps < 1) {
    fprintf(stderr, "bench_engine_dump: --model and --out are required; lengths must be positive\n");
    return 2;
  }
  lj_model_config c;
  if (lj_config_preset(model, &c) < 0) return lj_report_error(LJ_EINVAL);
  mkdir(out, 0755);
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_batch = 1, o.max_ctx = prompt_len + steps + 1, o.max_tokens = prompt_len;
  lj_cuda_engine *e;
  int rc = lj_cuda_engine_create_random(&e, &c, seed, &o);
  if (rc < 0) return lj_report_error(rc);
  std::vector<int> prompt(prompt_len), gen(steps);
  for (int i = 0; i < prompt_len; i++) prompt[i] = (int)(lj_splitmix64(seed * 1000 + i) % 128000);
  std::vector<float> logits((size_t)steps * c.vocab_size);
  rc = lj_cuda_prefill(e, 1, prompt.data(), &prompt_len);
  for (int s = 0; rc == 0 && s < steps; s++) {
    float *row = &logits[(size_t)s * c.vocab_size];
    rc = lj_cuda_get_logits(e, row, 1);
    if (rc < 0) break;
    int best = 0;
    for (int i = 1; i < c.vocab_size; i++)
      if (row[i] > row[best]) best = i;
    gen[s] = best;
    if (s + 1 < steps) rc = lj_cuda_decode(e, 1, &best);
  }
  lj_cuda_engine_free(e);
  if (rc < 0) return lj_report_error(rc);

  // Probe values of the weight hash (before bf16 rounding) for the Python re-implementation:
  // (tensor id, index) pairs in the order e2e_hf.py lists them.
  const uint32_t probe_ids[4] = {lj_global_tensor_id(LJ_TENSOR_EMBED), lj_layer_tensor_id(0, LJ_TENSOR_WQ),
                                 lj_layer_tensor_id(1, LJ_TENSOR_ATTN_NORM), lj_global_tensor_id(LJ_TENSOR_FINAL_NORM)};
  const uint64_t probe_idx[3] = {0, 1, 1000003};
  std::vector<float> probe;
  for (int t = 0; t < 4; t++)
    for (int k = 0; k < 3; k++)
      probe.push_back(t == 2 || t == 3 ? lj_random_norm_weight(seed, probe_ids[t], probe_idx[k])
                                       : lj_random_matrix_weight(seed, probe_ids[t], probe_idx[k]));
  std::vector<float> inv(c.head_dim / 2);
  lj_rope_inv_freq(&c, inv.data());
  char cfg[2048];
  int n = snprintf(cfg, sizeof cfg,
                   "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": %d, "
                   "\"intermediate_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
                   "\"num_key_value_heads\": %d, \"head_dim\": %d, \"vocab_size\": %d, "
                   "\"max_position_embeddings\": %d, \"rope_theta\": %.1f, \"rope_scaling\": {\"rope_type\": \"llama3\", "
                   "\"factor\": %.1f, \"low_freq_factor\": %.1f, \"high_freq_factor\": %.1f, "
                   "\"original_max_position_embeddings\": %d}, \"rms_norm_eps\": %g, \"tie_word_embeddings\": %s, "
                   "\"bos_token_id\": %d, \"eos_token_id\": %d, \"hidden_act\": \"silu\", \"torch_dtype\": \"bfloat16\", "
                   "\"llamajoule_seed\": %llu, \"llamajoule_preset\": \"%s\"}\n",
                   c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size, c.max_seq_len,
                   c.rope_theta, c.rope_factor, c.rope_low_freq_factor, c.rope_high_freq_factor,
                   c.rope_original_max_pos, c.norm_eps, c.tie_embeddings ? "true" : "false", c.bos_id, c.eos_id, seed,
                   c.name);
  if (write_file(out, "config.json", cfg, (size_t)n) || write_file(out, "prompt.i32", prompt.data(), 4 * prompt.size()) ||
      write_file(out, "gen.i32", gen.data(), 4 * gen.size()) ||
      write_file(out, "logits.f32", logits.data(), 4 * logits.size()) ||
      write_file(out, "inv_freq.f32", inv.data(), 4 * inv.size()) ||
      write_file(out, "probe.f32", probe.data(), 4 * probe.size()))
    return 1;
  printf("bench_engine_dump: %s: prompt %d tokens, %d greedy steps written to %s\n", model, prompt_len, steps, out);
  return 0;
}
