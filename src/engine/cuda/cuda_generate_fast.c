// The fast path of `generate --device cuda` (see cuda_generate_fast.h).
#include "engine/cuda/cuda_generate_fast.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"

// Appends one step's tokens (n_seqs) to the live sequences; returns how many are still live.
static int keep_step(const lj_generate_opts *o, lj_generate_result *r, int *live, const int *tokens, int n_seqs) {
  int n_live = 0;
  for (int q = 0; q < n_seqs; q++) {
    if (!live[q]) continue;
    r->out[q][r->n_out[q]++] = tokens[q];
    if (r->n_out[q] >= o->n_new || lj_generate_is_stop(o, tokens[q])) live[q] = 0;
    n_live += live[q];
  }
  return n_live;
}

static int fast_run(lj_cuda_engine *e, const int32_t *const *prompts, const int *prompt_lens, int n_seqs,
                    const lj_generate_opts *o, lj_generate_result *r, int *live, int **buf) {
  if (o->dump_logits) return LJ_FAIL(LJ_EINVAL, "internal: the fast generate path does not dump logits");
  if (n_seqs < 1) return LJ_FAIL(LJ_EINVAL, "generate: no sequence");
  int total = 0;
  for (int q = 0; q < n_seqs; q++) {
    if (prompt_lens[q] < 1) return LJ_FAIL(LJ_EINVAL, "generate: sequence %d has an empty prompt", q);
    total += prompt_lens[q];
  }
  int *tokens = malloc((size_t)total * sizeof *tokens);
  r->n_seqs = n_seqs;
  r->out = calloc((size_t)n_seqs, sizeof *r->out);
  r->n_out = calloc((size_t)n_seqs, sizeof *r->n_out);
  const int chunk_max = 256;
  *buf = malloc((size_t)(chunk_max + 1) * (size_t)n_seqs * sizeof **buf);  // row 0 + a chunk
  if (!tokens || !r->out || !r->n_out || !*buf) {
    free(tokens);
    return LJ_FAIL(LJ_ENOMEM, "generate: out of memory");
  }
  for (int q = 0, n = 0; q < n_seqs; q++)
    for (int p = 0; p < prompt_lens[q]; p++) tokens[n++] = prompts[q][p];
  for (int q = 0; q < n_seqs; q++) {
    r->out[q] = malloc((size_t)(o->n_new > 0 ? o->n_new : 1) * sizeof(int32_t));
    if (!r->out[q]) {
      free(tokens);
      return LJ_FAIL(LJ_ENOMEM, "generate: out of memory");
    }
    live[q] = o->n_new > 0;
  }
  if (o->n_new <= 0) {
    free(tokens);
    return LJ_OK;
  }
  lj_cuda_sampling sp = {o->sampling.temperature, o->sampling.top_p, o->seed, o->sampling.top_k};
  int64_t t0 = lj_mono_ns();
  lj_cuda_reset(e);
  int rc = lj_cuda_prefill(e, n_seqs, tokens, prompt_lens);
  free(tokens);
  LJ_TRY(rc);
  // The first token is sampled from the prefill's logits: as in the host loop, it belongs to the prefill.
  LJ_TRY(lj_cuda_generate(e, n_seqs, 1, &sp, *buf));
  r->prefill_ns = lj_mono_ns() - t0;
  r->prefill_tokens = total;
  int n_live = keep_step(o, r, live, *buf, n_seqs);

  // Decode in chunks of 16, 32, ... 256 steps: few host round trips, yet an early stop wastes
  // at most one chunk. The first chunk re-samples step 0 from the same logits (same draw).
  lj_progress prog;
  if (o->progress) lj_progress_begin(&prog, "decode", o->n_new);
  t0 = lj_mono_ns();
  int done = 1, chunk = 16;
  for (int first = 1; n_live > 0 && done < o->n_new; first = 0) {
    int n = o->n_new - done < chunk ? o->n_new - done : chunk;
    if (first) {
      LJ_TRY(lj_cuda_generate(e, n_seqs, n + 1, &sp, *buf));  // rows 0 (step 0 again) .. n
    } else {
      LJ_TRY(lj_cuda_generate_more(e, n_seqs, n, *buf + n_seqs));
    }
    for (int k = 1; k <= n && n_live > 0; k++) {
      int before = 0;
      for (int q = 0; q < n_seqs; q++) before += live[q];
      n_live = keep_step(o, r, live, *buf + (size_t)k * n_seqs, n_seqs);
      r->decode_tokens += before;
    }
    done += n;
    chunk = chunk * 2 < chunk_max ? chunk * 2 : chunk_max;
    if (o->progress) lj_progress_update(&prog, done);
  }
  r->decode_ns = lj_mono_ns() - t0;
  if (o->progress) lj_progress_end(&prog);
  return LJ_OK;
}

int lj_cuda_generate_fast(lj_cuda_engine *e, const int32_t *const *prompts, const int *prompt_lens, int n_seqs,
                          const lj_generate_opts *o, lj_generate_result *r) {
  memset(r, 0, sizeof *r);
  if (n_seqs < 1) return LJ_FAIL(LJ_EINVAL, "generate: no sequence");
  int *live = calloc((size_t)n_seqs, sizeof *live), *buf = NULL;
  int rc = live ? fast_run(e, prompts, prompt_lens, n_seqs, o, r, live, &buf)
                : LJ_FAIL(LJ_ENOMEM, "generate: out of memory");
  free(live);
  free(buf);
  if (rc < 0) lj_generate_result_free(r);
  return rc;
}
