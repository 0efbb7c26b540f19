// Units of work of the GPU profile: one load of the model, one tokenization
// of the prompts, one prefill of the batch, one generation of gen_len tokens
// per sequence, one detokenization; and the pre-roll that runs the same units
// before a window. Every window and replay counts these units, so a wrong
// unit shows as a phase window whose units x tokens disagree with the plan
// (tests/test_profile_analyze.c checks the per-unit figures).
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "engine/cuda/gemv_choice.h"
#include "model/random_init.h"
#include "model/weights.h"
#include "profile/gpu_run.h"

int lj_gpu_interrupted(const gpu_run *g) { return g->o->interrupted && *g->o->interrupted; }

void lj_gpu_step_done(gpu_run *g) { lj_progress_update(&g->progress, ++g->done); }

double lj_gpu_uniform01(gpu_run *g) {
  g->rng = lj_splitmix64(g->rng + 0x9E3779B97F4A7C15ull);
  return (double)(g->rng >> 11) * 0x1.0p-53;
}

int lj_gpu_run_alloc(gpu_run *g) {
  int B = g->o->batch;
  size_t G = (size_t)g->o->gen_len;
  g->n_tokens = malloc(sizeof(int) * (size_t)B);
  g->prompt_lens = malloc(sizeof(int) * 2 * (size_t)B);
  g->gen_steps = malloc(sizeof(int32_t) * (size_t)B * G);
  g->gen_ids = malloc(sizeof(int32_t) * (size_t)B * G);
  if (!g->n_tokens || !g->prompt_lens || !g->gen_steps || !g->gen_ids)
    return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  for (int s = 0; s < B; s++) g->n_tokens[s] = g->prompt_lens[s] = g->o->prompt_len, g->prompt_lens[B + s] = 0;
  return 0;
}

void lj_gpu_run_free(gpu_run *g) {
  free(g->n_tokens), free(g->prompt_lens), free(g->gen_steps), free(g->gen_ids);
  free(g->tp_logits), free(g->tp_next), free(g->tp_work);
  free(g->window_handles), free(g->trial_handles);
}

int lj_gpu_unit_tokenize(gpu_run *g) { return lj_profile_tokenize_unit(&g->prompt); }
int lj_gpu_unit_detokenize(gpu_run *g) { return lj_profile_detokenize_unit(&g->prompt, g->gen_ids, g->o->gen_len); }

int lj_gpu_unit_prefill(gpu_run *g) {
  int *zeros = g->prompt_lens + g->o->batch;  // batch zeros after the lengths
  LJ_TRY(lj_cuda_rewind(g->e, g->o->batch, zeros));
  LJ_TRY(lj_cuda_prefill_graphed(g->e, g->o->batch, g->prompt.ids, g->n_tokens));
  return lj_cuda_synchronize(g->e);
}

// One generation from the prompt's cache (lj_cuda_generate synchronises).
int lj_gpu_unit_decode(gpu_run *g) {
  LJ_TRY(lj_cuda_rewind(g->e, g->o->batch, g->prompt_lens));
  lj_cuda_sampling sp = {0.0f, 1.0f, g->o->seed, 0};
  return lj_cuda_generate(g->e, g->o->batch, g->o->gen_len, &sp, g->gen_steps);
}

void lj_gpu_keep_generated(gpu_run *g) {
  int B = g->o->batch, G = g->o->gen_len;
  for (int s = 0; s < B; s++)
    for (int i = 0; i < G; i++) g->gen_ids[(size_t)s * G + i] = g->gen_steps[(size_t)i * B + s];
}

int lj_gpu_unit_load(gpu_run *g) {
  const lj_profile_options *o = g->o;
  lj_gpu_drop_stage_inputs(g);
  lj_cuda_engine_free(g->e);
  g->e = NULL;
  int B = o->batch, ctx = o->prompt_len + o->gen_len + 1;
  if (g->ckpt_dir) {
    lj_weights w;
    LJ_TRY(lj_weights_load(g->ckpt_dir, &w));
    int rc = lj_cuda_engine_from_weights(&w, o->weights, o->fp8_scale, B, ctx, B * o->prompt_len, &g->e);
    lj_weights_free(&w);
    if (rc == 0) rc = lj_cuda_set_fusion(g->e, o->fusion);
    if (rc == 0) rc = lj_cuda_apply_gemv_choice(g->e, o->gemv);
    return rc;
  }
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.device = g->m.cuda_index;
  opt.max_batch = B, opt.max_ctx = ctx, opt.max_tokens = B * o->prompt_len, opt.print_plan = 0;
  opt.weights = o->weights, opt.fp8_scale = o->fp8_scale;
  LJ_TRY(lj_cuda_engine_create_random(&g->e, &g->r->plan.config, o->seed, &opt));
  LJ_TRY(lj_cuda_set_fusion(g->e, o->fusion));
  return lj_cuda_apply_gemv_choice(g->e, o->gemv);
}

int lj_gpu_preroll_units(gpu_run *g, gpu_unit_fn fn, double seconds) {
  int64_t t0 = lj_mono_ns();
  do {
    LJ_TRY(fn(g));
  } while ((double)(lj_mono_ns() - t0) < seconds * 1e9 && !lj_gpu_interrupted(g));
  return 0;
}
