// Refusals known before a profile runs, made before the store is opened, so
// that bad input stores nothing (docs/cli.md): a tokenizer with more ids than
// the model's vocabulary, and random weights that cannot fit in memory.
#include <stdio.h>

#include "common/error.h"
#include "model/tokenizer.h"
#include "profile/profile_plan.h"

// MemAvailable of /proc/meminfo in bytes; 0 when unknown (as lj_weights_random reads it).
static unsigned long long mem_available(void) {
  FILE *fp = fopen("/proc/meminfo", "r");
  if (!fp) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (fgets(line, sizeof line, fp))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  fclose(fp);
  return kb * 1024;
}

// The same tokenizer the run will load (profile_prompt.c), and the same checks.
static int check_tokenizer(const lj_profile_options *o, const lj_model_config *c, const char *ckpt_dir) {
  char path[4096];
  lj_tokenizer *tok = NULL;
  int rc = lj_tokenizer_find(o->tokenizer, ckpt_dir, path, sizeof path);
  if (rc == 0) rc = lj_tokenizer_load(path, &tok);
  if (rc < 0) {
    if (o->tokenizer || o->prompt) return lj_fail_context(rc, "profile: the prompt needs a tokenizer");
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
  // The CPU engine runs on host bf16 weights; the CUDA engine makes random weights on the device.
  if (!on_gpu && !ckpt_dir) {
    double need = (double)lj_config_n_params(&p->config) * 2;
    unsigned long long avail = mem_available();
    if (avail && need > (double)avail)
      return LJ_FAIL(LJ_ENOMEM, "%s: random bf16 weights need %.1f GB of memory; %.1f GB are available",
                     p->config.name, need / 1e9, (double)avail / 1e9);
  }
  return check_tokenizer(o, &p->config, ckpt_dir);
}
