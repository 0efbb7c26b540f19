// Whether a study point fits the GPU: the CUDA engine's memory plan for the
// shapes the profile loads, checked before the point starts.
#include <stdio.h>

#include "common/error.h"
#include "engine/cuda/memory_plan.h"
#include "profile/sweep.h"

static double gib(int64_t b) { return (double)b / (double)(1ll << 30); }

// As profile_gpu.c's load: the context holds prompt + generated + 1 positions,
// and the prefill's one forward call all B x P tokens.
static int fits(const lj_model_config *c, int weights, int batch, int prompt_len, int gen_len, int64_t free_bytes,
                lj_cuda_memory_plan *plan) {
  int ctx = prompt_len + gen_len + 1, tokens = batch * prompt_len;
  lj_cuda_memory_plan_compute(c, weights, batch, ctx, tokens, plan);
  int ok = lj_cuda_memory_plan_check(c, weights, batch, ctx, tokens, plan, free_bytes) == 0;
  lj_clear_error();
  return ok;
}

int lj_sweep_point_fits(const lj_model_config *c, int weights, const lj_study_point *p, int64_t free_bytes, char *reason,
                        size_t cap) {
  lj_cuda_memory_plan plan, other;
  if (reason && cap) reason[0] = '\0';
  if (fits(c, weights, p->batch, p->prompt_len, p->gen_len, free_bytes, &plan)) return 1;
  // The largest batch that fits, its prefill's tokens growing with it (the plan's own
  // hint keeps the tokens per call fixed).
  int lo = 0, hi = p->batch;
  while (lo + 1 < hi) {
    int mid = lo + (hi - lo) / 2;
    if (fits(c, weights, mid, p->prompt_len, p->gen_len, free_bytes, &other)) lo = mid;
    else hi = mid;
  }
  if (reason && cap)
    snprintf(reason, cap,
             "does not fit the GPU: %s at batch %d, prompt %d, gen %d needs %.2f GiB (weights %.2f, KV cache %.2f, "
             "activations %.2f, workspace %.2f, %.2f kept aside), %.2f GiB free; %s%d",
             c->name, p->batch, p->prompt_len, p->gen_len, gib(plan.total + LJ_CUDA_MEMORY_MARGIN), gib(plan.weights),
             gib(plan.kv_cache), gib(plan.activations), gib(plan.workspace), gib(LJ_CUDA_MEMORY_MARGIN),
             gib(free_bytes), lo ? "the largest batch that fits is " : "not even batch 1 fits: largest batch ", lo);
  return 0;
}
