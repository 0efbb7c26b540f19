// Whether a study point fits the GPU: the CUDA engine's memory plan for the
// shapes the profile loads, checked before the point starts.
#include <stdio.h>

#include "common/error.h"
#include "engine/cuda/memory_plan.h"
#include "profile/sweep.h"

int lj_sweep_point_fits(const lj_model_config *c, const lj_study_point *p, int64_t free_bytes, char *reason,
                        size_t cap) {
  // As profile_gpu.c's load: the context holds prompt + generated + 1 positions,
  // and the prefill's one forward call all B x P tokens.
  int ctx = p->prompt_len + p->gen_len + 1, tokens = p->batch * p->prompt_len;
  lj_cuda_memory_plan plan;
  lj_cuda_memory_plan_compute(c, p->batch, ctx, tokens, &plan);
  if (reason && cap) reason[0] = '\0';
  if (lj_cuda_memory_plan_check(c, p->batch, ctx, tokens, &plan, free_bytes) == 0) return 1;
  if (reason && cap) snprintf(reason, cap, "does not fit the GPU: %s", lj_error_message());
  lj_clear_error();
  return 0;
}
