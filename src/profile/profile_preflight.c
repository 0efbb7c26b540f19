// Refusals known before a profile runs, made before the store is opened, so
// that bad input stores nothing (docs/cli.md): a checkpoint whose safetensors do not
// match its config.json (headers only: the loader's checks, no weights read), a tokenizer with
// more ids than the model's vocabulary, random weights that cannot fit in host memory (CPU
// engine), and a model, batch and context whose CUDA memory plan does not fit the GPU.
#include <stdio.h>

#include "common/error.h"
#include "common/mem_available.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/cuda/memory_plan.h"
#include "engine/cuda/tp_comm.h"
#include "model/tp_shard.h"
#include "model/tokenizer.h"
#include "model/weights.h"
#include "profile/profile_plan.h"

// The same tokenizer the run will load (profile_prompt.c), and the same checks.
static int check_tokenizer(const lj_profile_options *o, const lj_model_config *c, const char *ckpt_dir) {
  char path[4096];
  lj_tokenizer *tok = NULL;
  int rc = lj_tokenizer_find(o->tokenizer, ckpt_dir, path, sizeof path);
  if (rc == 0) rc = lj_tokenizer_load(path, &tok);
  if (rc < 0) {
    if (lj_tokenizer_asked(o->tokenizer) || o->prompt)
      return lj_fail_context(rc, "profile: the prompt needs a tokenizer");
    lj_clear_error();  // no tokenizer: the run uses token ids and says so
    return 0;
  }
  int n = lj_tokenizer_vocab_size(tok);
  lj_tokenizer_free(tok);
  if (n > c->vocab_size)
    return LJ_FAIL(LJ_EINVAL, "tokenizer %s has %d ids but model %s only %d", path, n, c->name, c->vocab_size);
  return 0;
}

int lj_profile_preflight(const lj_profile_options *o, const lj_profile_plan *p, const char *ckpt_dir, int on_gpu) {
  // The CPU engine runs on host bf16 weights (random ones are built in memory; a checkpoint is
  // mapped) and an fp32 KV cache; the CUDA engine makes random weights on the device.
  if (!on_gpu && o->fusion != LJ_FUSION_NONE)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--fusion %s: the CPU engine has no fused mode (it runs one kernel per stage); "
                   "profile on a CUDA device or use --fusion none", p->fusion);
  LJ_TRY(lj_gemv_choice_check(o->gemv, on_gpu, o->weights, o->fusion));
  if (ckpt_dir) LJ_TRY(lj_weights_check_checkpoint(ckpt_dir));
  if (!on_gpu) {
    const lj_model_config *c = &p->config;
    double weights = ckpt_dir ? 0.0 : (double)lj_config_n_params(c) * 2;
    double kv = 2.0 * c->n_layers * o->batch * (o->prompt_len + o->gen_len + 1.0) * lj_kv_dim(c) * 4;
    uint64_t avail = lj_mem_available();
    if (avail && weights + kv > (double)avail)
      return LJ_FAIL(LJ_ENOMEM, "%s: %.1f GB of %sKV cache (%d sequences x %d positions) need more memory than "
                     "the %.1f GB available", c->name, (weights + kv) / 1e9, ckpt_dir ? "" : "random bf16 weights and ",
                     o->batch, o->prompt_len + o->gen_len + 1, (double)avail / 1e9);
  }
  if (on_gpu) {
    // The plan the runner's engine is created with (profile_gpu.c, load_once); at --tp N each rank's
    // (its layer shape): loopback puts the N ranks on the one GPU, nccl rank r on GPU r (a GPU
    // missing there is the communicator's error, which names the count).
    int B = o->batch, ctx = o->prompt_len + o->gen_len + 1, N = o->tp_degree > 1 ? o->tp_degree : 1;
    lj_model_config c = p->config;
    if (N > 1) lj_tp_rank_config(&p->config, N, &c);
    lj_cuda_memory_plan plan;
    lj_cuda_memory_plan_compute(&c, o->weights, B, ctx, B * o->prompt_len, &plan);
    int shared = N > 1 && o->tp_backend == LJ_TP_BACKEND_LOOPBACK, spread = N > 1 && !shared;
    int n_check = spread ? N : 1, n_dev = lj_cuda_device_count();
    if (spread && n_check > n_dev) n_check = n_dev;
    for (int d = 0; d < n_check; d++) {
      int64_t free_b = 0, total_b = 0;
      LJ_TRY(lj_cuda_device_memory(spread ? d : o->device, &free_b, &total_b));
      if (shared) free_b = (free_b - LJ_CUDA_MEMORY_MARGIN) / N + LJ_CUDA_MEMORY_MARGIN;  // each rank's part
      int rc = lj_cuda_memory_plan_check(&c, o->weights, B, ctx, B * o->prompt_len, &plan, free_b);
      if (rc < 0 && N > 1)
        return lj_fail_context(rc, "--tp %d: each rank's share of %s (%s)", N, p->config.name,
                               shared ? "all ranks on one GPU" : "rank r on GPU r");
      LJ_TRY(rc);
    }
  }
  return check_tokenizer(o, &p->config, ckpt_dir);
}
