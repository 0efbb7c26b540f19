// The GPU profile's units of work on a tensor-parallel group (docs/tensor-parallel.md §4): one load
// of every rank, one prefill of the batch, one generation of gen_len tokens per sequence. The
// ranks run eagerly (no CUDA graphs yet): each forward call is every stage on every rank, the
// all-reduce stages joining them, then every rank's stream synchronised, so a window that ends
// after a unit holds all of its work on every GPU. Greedy tokens: the prefill's from rank 0's
// logits on the host (the single-GPU prefill unit samples none; its decode samples the first),
// the decode's by the sample stage on every rank's GPU, as the single-GPU decode unit samples.
#include <stdlib.h>

#include "engine/cuda/cuda_generate.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/greedy.h"
#include "model/weights.h"
#include "profile/gpu_run.h"

static int sync_ranks(gpu_run *g) {
  for (int r = 0; r < lj_cuda_tp_degree(g->tp); r++) LJ_TRY(lj_cuda_synchronize(lj_cuda_tp_rank(g->tp, r)));
  return 0;
}

static int rewind_ranks(gpu_run *g, const int *len) {
  for (int r = 0; r < lj_cuda_tp_degree(g->tp); r++)
    LJ_TRY(lj_cuda_rewind(lj_cuda_tp_rank(g->tp, r), g->o->batch, len));
  return 0;
}

// Each row's greedy token into g->tp_next; non-finite logits are an error, as in generate and the
// single-GPU decode (whose sampler on the GPU flags them).
static int greedy_rows(gpu_run *g, int rows) {
  int V = g->r->plan.config.vocab_size;
  for (int s = 0; s < rows; s++) {
    int tok = lj_greedy_token(g->tp_logits + (size_t)s * (size_t)V, V);
    if (tok < 0) return lj_fail_context(tok, "profile: prefill, sequence %d", s);
    g->tp_next[s] = tok;
  }
  return 0;
}

int lj_gpu_tp_unit_load(gpu_run *g) {
  const lj_profile_options *o = g->o;
  lj_cuda_tp_free(g->tp);
  g->tp = NULL;
  int B = o->batch;
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.device = g->m.cuda_index;  // loopback's one GPU; nccl puts rank r on device r
  opt.max_batch = B, opt.max_ctx = o->prompt_len + o->gen_len + 1, opt.max_tokens = B * o->prompt_len;
  opt.print_plan = 0;
  opt.weights = o->weights, opt.fp8_scale = o->fp8_scale;
  if (g->ckpt_dir) {
    lj_weights w;
    LJ_TRY(lj_weights_load(g->ckpt_dir, &w));
    int rc = lj_cuda_tp_from_weights(&w, o->tp_degree, g->tp_backend, &opt, &g->tp);
    lj_weights_free(&w);
    LJ_TRY(rc);
  } else {
    LJ_TRY(lj_cuda_tp_random(&g->r->plan.config, o->seed, o->tp_degree, g->tp_backend, &opt, &g->tp));
  }
  LJ_TRY(lj_cuda_tp_set_fusion(g->tp, o->fusion));
  LJ_TRY(lj_cuda_tp_apply_gemv_choice(g->tp, o->gemv));
  return sync_ranks(g);
}

int lj_gpu_tp_unit_prefill(gpu_run *g) {
  int B = g->o->batch, P = g->o->prompt_len, n = B * P;
  int32_t *seq = malloc(sizeof(int32_t) * (size_t)(2 * n + B));
  if (!seq) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
  int32_t *pos = seq + n, *rows = pos + n;
  for (int s = 0; s < B; s++) {
    for (int i = 0; i < P; i++) seq[s * P + i] = s, pos[s * P + i] = i;
    rows[s] = s * P + P - 1;
  }
  int rc = rewind_ranks(g, g->prompt_lens + B);  // batch zeros after the lengths
  if (rc == 0) rc = lj_cuda_tp_forward_batch(g->tp, g->prompt.ids, seq, pos, n, rows, B, g->tp_logits);
  free(seq);
  LJ_TRY(rc);
  LJ_TRY(greedy_rows(g, B));
  return sync_ranks(g);
}

// As lj_cuda_generate after a prefill: the first token from the prefill's logits, then `steps` - 1
// decode steps, each feeding back the last token; gen_steps (when steps <= gen_len) gets the tokens.
// Sampling is the engine's sample stage on the GPUs, as in the single-GPU decode (the stage the
// isolation replay measures, gen_len calls a unit): once at the start, where lj_cuda_generate
// samples its first token from the logits the engine holds (the token kept is the prefill's greedy
// one, which the ranks computed from the prompt), then once after each step, the logits never
// leaving the devices.
static int generate_steps(gpu_run *g, int steps) {
  int B = g->o->batch;
  int32_t *seq = g->tp_work, *pos = seq + B, *rows = pos + B, *tok = rows + B, *first = tok + B;
  lj_cuda_sampling greedy = {0.0f, 1.0f, g->o->seed, 0};
  LJ_TRY(rewind_ranks(g, g->prompt_lens));
  LJ_TRY(lj_cuda_tp_sample(g->tp, B, &greedy, NULL));
  for (int s = 0; s < B; s++) seq[s] = s, rows[s] = s, tok[s] = first[s] = g->tp_next[s];
  for (int step = 0; step < steps; step++) {
    if (step < g->o->gen_len)
      for (int s = 0; s < B; s++) g->gen_steps[(size_t)step * B + s] = tok[s];
    if (step == steps - 1) break;
    for (int s = 0; s < B; s++) pos[s] = g->prompt_lens[s] + step;
    LJ_TRY(lj_cuda_tp_forward_batch(g->tp, tok, seq, pos, B, rows, B, NULL));
    LJ_TRY(lj_cuda_tp_sample(g->tp, B, &greedy, tok));
  }
  for (int s = 0; s < B; s++) g->tp_next[s] = first[s];  // the prefill's, for the next unit
  return sync_ranks(g);
}

int lj_gpu_tp_unit_decode(gpu_run *g) { return generate_steps(g, g->o->gen_len); }

int lj_gpu_tp_prefill_state(gpu_run *g, lj_cuda_batch *b) {
  LJ_TRY(lj_gpu_tp_unit_prefill(g));
  LJ_TRY(rewind_ranks(g, g->prompt_lens + g->o->batch));
  return lj_cuda_tp_prepare_batch(g->tp, g->o->batch, g->prompt.ids, g->n_tokens, b);
}

// As lj_gpu_decode_state_at: a prefill, then generation up to kv cached positions; b is the next step.
int lj_gpu_tp_decode_state_at(gpu_run *g, int64_t kv, lj_cuda_batch *b) {
  const lj_profile_options *o = g->o;
  LJ_TRY(lj_gpu_tp_unit_prefill(g));
  int steps = (int)(kv - o->prompt_len) + 1;
  if (steps > 1) LJ_TRY(generate_steps(g, steps));
  int B = o->batch;
  int *ones = g->tp_work, *tokens = ones + B;  // the decode unit's arrays, free between units
  for (int s = 0; s < B; s++) ones[s] = 1, tokens[s] = g->gen_ids[(size_t)s * o->gen_len];
  return lj_cuda_tp_prepare_batch(g->tp, B, tokens, ones, b);
}
