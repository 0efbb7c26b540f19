#include "engine/generate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/progress.h"

int lj_cpu_forward_fn(void *engine, const lj_batch *b, float *logits) { return lj_cpu_forward(engine, b, logits); }

int lj_logits_dump_header(FILE *fp, int vocab, int n_seqs) {
  uint32_t h[4] = {1, (uint32_t)vocab, (uint32_t)n_seqs, 0};
  if (fwrite("LJLOGIT1", 1, 8, fp) != 8 || fwrite(h, sizeof h, 1, fp) != 1)
    return LJ_FAIL(LJ_EIO, "--dump-logits: write failed: %s", strerror(errno));
  return LJ_OK;
}

int lj_logits_dump_record(FILE *fp, int step, int seq, int token, const float *logits, int vocab) {
  int32_t r[4] = {step, seq, token, 0};
  if (fwrite(r, sizeof r, 1, fp) != 1 || fwrite(logits, sizeof *logits, (size_t)vocab, fp) != (size_t)vocab)
    return LJ_FAIL(LJ_EIO, "--dump-logits: write failed: %s", strerror(errno));
  return LJ_OK;
}

void lj_generate_result_free(lj_generate_result *r) {
  for (int i = 0; r->out && i < r->n_seqs; i++) free(r->out[i]);
  free(r->out);
  free(r->n_out);
  memset(r, 0, sizeof *r);
}

typedef struct {
  int32_t *tokens, *seq, *pos, *rows;  // batch arrays
  float *logits;                       // (n_seqs, vocab)
  int *live;                           // (n_seqs) 1 while generating
  int *last_pos;                       // (n_seqs) position of the last token fed
  lj_rng *rng;                         // (n_seqs)
  lj_token_sampler *sampler;
} gen_state;

static void free_state(gen_state *s) {
  free(s->tokens);
  free(s->seq);
  free(s->pos);
  free(s->rows);
  free(s->logits);
  free(s->live);
  free(s->last_pos);
  free(s->rng);
  lj_token_sampler_free(s->sampler);
}

int lj_generate_is_stop(const lj_generate_opts *o, int token) {
  if (o->ignore_eos) return 0;
  for (int i = 0; i < o->n_stop; i++)
    if (o->stop_ids[i] == token) return 1;
  return 0;
}

// Samples one token per sequence from the logits of `rows` (row i = sequence seqs[i]).
static int take_tokens(gen_state *s, const lj_generate_opts *o, lj_generate_result *r, int vocab, int step,
                       const int32_t *seqs, int n) {
  for (int i = 0; i < n; i++) {
    int q = seqs[i];
    const float *lg = s->logits + (size_t)i * (size_t)vocab;
    int token = lj_sample(s->sampler, lg, &s->rng[q]);
    if (token < 0)
      return lj_fail_context(token, "generate: step %d (%s), sequence %d", step, step ? "decode" : "prefill", q);
    if (o->dump_logits) LJ_TRY(lj_logits_dump_record(o->dump_logits, step, q, token, lg, vocab));
    r->out[q][r->n_out[q]++] = token;
    if (r->n_out[q] >= o->n_new || lj_generate_is_stop(o, token)) s->live[q] = 0;
  }
  return LJ_OK;
}

static int run(lj_forward_fn forward, void *engine, int vocab, const int32_t *const *prompts, const int *prompt_lens,
               int n_seqs, const lj_generate_opts *o, lj_generate_result *r, gen_state *s) {
  int total = 0;
  for (int q = 0; q < n_seqs; q++) total += prompt_lens[q];
  int cap = total > n_seqs ? total : n_seqs;
  s->tokens = malloc((size_t)cap * sizeof(int32_t));
  s->seq = malloc((size_t)cap * sizeof(int32_t));
  s->pos = malloc((size_t)cap * sizeof(int32_t));
  s->rows = malloc((size_t)n_seqs * sizeof(int32_t));
  s->logits = malloc((size_t)n_seqs * (size_t)vocab * sizeof(float));
  s->live = calloc((size_t)n_seqs, sizeof(int));
  s->last_pos = calloc((size_t)n_seqs, sizeof(int));
  s->rng = calloc((size_t)n_seqs, sizeof(lj_rng));
  r->n_seqs = n_seqs;
  r->out = calloc((size_t)n_seqs, sizeof *r->out);
  r->n_out = calloc((size_t)n_seqs, sizeof *r->n_out);
  if (!s->tokens || !s->seq || !s->pos || !s->rows || !s->logits || !s->live || !s->last_pos || !s->rng || !r->out ||
      !r->n_out)
    return LJ_FAIL(LJ_ENOMEM, "generate: out of memory");
  for (int q = 0; q < n_seqs; q++) {
    r->out[q] = malloc((size_t)(o->n_new > 0 ? o->n_new : 1) * sizeof(int32_t));
    if (!r->out[q]) return LJ_FAIL(LJ_ENOMEM, "generate: out of memory");
    s->rng[q] = lj_rng_seed(o->seed + (uint64_t)q);
    s->live[q] = o->n_new > 0;
  }
  LJ_TRY(lj_token_sampler_create(vocab, &o->sampling, &s->sampler));
  if (o->dump_logits) LJ_TRY(lj_logits_dump_header(o->dump_logits, vocab, n_seqs));

  // Prefill: all prompts in one batch; logits of each prompt's last token.
  int n = 0;
  for (int q = 0; q < n_seqs; q++) {
    if (prompt_lens[q] < 1) return LJ_FAIL(LJ_EINVAL, "generate: sequence %d has an empty prompt", q);
    for (int p = 0; p < prompt_lens[q]; p++, n++) {
      s->tokens[n] = prompts[q][p];
      s->seq[n] = q;
      s->pos[n] = p;
    }
    s->rows[q] = n - 1;
    s->last_pos[q] = prompt_lens[q] - 1;
  }
  int64_t t0 = lj_mono_ns();
  lj_batch b = {s->tokens, s->seq, s->pos, n, s->rows, n_seqs};
  LJ_TRY(forward(engine, &b, s->logits));
  for (int q = 0; q < n_seqs; q++) s->seq[q] = q;  // rows of the logits: sequence q
  LJ_TRY(take_tokens(s, o, r, vocab, 0, s->seq, n_seqs));
  r->prefill_ns = lj_mono_ns() - t0;
  r->prefill_tokens = n;

  // Decode: one token per live sequence per step.
  lj_progress prog;
  if (o->progress) lj_progress_begin(&prog, "decode", o->n_new);
  t0 = lj_mono_ns();
  for (int step = 1; step < o->n_new; step++) {
    int m = 0;
    for (int q = 0; q < n_seqs; q++) {
      if (!s->live[q]) continue;
      s->tokens[m] = r->out[q][r->n_out[q] - 1];
      s->seq[m] = q;
      s->pos[m] = ++s->last_pos[q];
      s->rows[m] = m;
      m++;
    }
    if (m == 0) break;
    lj_batch d = {s->tokens, s->seq, s->pos, m, s->rows, m};
    LJ_TRY(forward(engine, &d, s->logits));
    LJ_TRY(take_tokens(s, o, r, vocab, step, s->seq, m));
    r->decode_tokens += m;
    if (o->progress) lj_progress_update(&prog, step + 1);
  }
  r->decode_ns = lj_mono_ns() - t0;
  if (o->progress) lj_progress_end(&prog);
  return LJ_OK;
}

int lj_generate(lj_forward_fn forward, void *engine, int vocab, const int32_t *const *prompts, const int *prompt_lens,
                int n_seqs, const lj_generate_opts *o, lj_generate_result *r) {
  memset(r, 0, sizeof *r);
  gen_state s = {0};
  int rc = run(forward, engine, vocab, prompts, prompt_lens, n_seqs, o, r, &s);
  free_state(&s);
  if (rc < 0) lj_generate_result_free(r);
  return rc;
}
