// Prompts and the text phases of a profile.
#include "profile/profile_prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

// English prose of ordinary token density (~1.3 tokens per word).
static const char kBuiltinText[] =
    "The history of computing is a history of measurement. Engineers who built the first machines counted "
    "vacuum tubes and kilowatts; those who build today's accelerators count joules per token. A language model "
    "spends its energy in a few places: reading weights from memory, multiplying them with activations, moving "
    "the key and value cache, and waiting. Knowing which of these dominates tells you whether to batch more "
    "requests, quantize the weights, shorten the context, or buy a different chip. ";

int lj_profile_prompt_build(const lj_profile_options *o, const lj_model_config *c, const char *checkpoint_dir,
                            lj_profile_prompt *p, lj_profile_result *r) {
  memset(p, 0, sizeof *p);
  p->batch = o->batch, p->prompt_len = o->prompt_len;
  p->ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)o->batch * (size_t)o->prompt_len);
  if (!p->ids) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory for the prompts");
  char path[4096];
  int rc = lj_tokenizer_find(o->tokenizer, checkpoint_dir, path, sizeof path);
  if (rc == 0) rc = lj_tokenizer_load(path, &p->tok);
  if (rc < 0) {
    if (lj_tokenizer_asked(o->tokenizer) || o->prompt)
      return lj_fail_context(rc, "profile: the prompt needs a tokenizer");
    // No tokenizer: deterministic ids, no text phases.
    p->tok = NULL;
    for (int i = 0; i < o->batch * o->prompt_len; i++)
      p->ids[i] = i % o->prompt_len == 0 ? c->bos_id : (int32_t)(1000 + (i * 7919) % 30000) % c->vocab_size;
    snprintf(r->plan.prompt_source, sizeof r->plan.prompt_source, "token ids");
    lj_profile_note(r, "No tokenizer.json was found (%s): the prompts are synthetic token ids and the tokenize "
                    "and detokenize phases were not measured.", lj_error_message());
    lj_clear_error();
    return 0;
  }
  if (lj_tokenizer_vocab_size(p->tok) > c->vocab_size)
    return LJ_FAIL(LJ_EINVAL, "tokenizer %s has %d ids but model %s only %d", path, lj_tokenizer_vocab_size(p->tok),
                   c->name, c->vocab_size);
  const char *unit = o->prompt ? o->prompt : kBuiltinText;
  size_t unit_len = strlen(unit);
  if (!unit_len) return LJ_FAIL(LJ_EINVAL, "--prompt is empty");
  snprintf(r->plan.prompt_source, sizeof r->plan.prompt_source, "%s", o->prompt ? "text" : "built-in text");
  // Repeat the text until it encodes to at least prompt_len tokens.
  int32_t *ids = NULL;
  size_t n_ids = 0, reps = 0;
  for (;;) {
    reps++;
    char *t = (char *)realloc(p->text, unit_len * reps + 1);
    if (!t) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory for the prompt text");
    p->text = t;
    memcpy(p->text + unit_len * (reps - 1), unit, unit_len);
    p->text[unit_len * reps] = '\0';
    p->text_len = unit_len * reps;
    free(ids);
    ids = NULL;
    LJ_TRY(lj_tokenizer_encode(p->tok, p->text, p->text_len, 1, &ids, &n_ids));
    if ((int64_t)n_ids >= o->prompt_len || n_ids <= 1) break;
  }
  if (n_ids <= 1) {
    free(ids);
    return LJ_FAIL(LJ_EINVAL, "--prompt encodes to no tokens");
  }
  if ((int64_t)n_ids > o->prompt_len) {
    // Cut the text too, roughly, so that tokenization works on about prompt_len tokens.
    size_t keep = (size_t)((double)p->text_len * (double)o->prompt_len / (double)n_ids);
    while (keep < p->text_len && (p->text[keep] & 0xC0) == 0x80) keep++;  // whole UTF-8 characters
    p->text_len = keep;
    p->text[keep] = '\0';
  }
  for (int s = 0; s < o->batch; s++)
    for (int i = 0; i < o->prompt_len; i++) p->ids[(size_t)s * o->prompt_len + i] = ids[i % n_ids];
  free(ids);
  // What one tokenize unit produces (the cut text).
  LJ_TRY(lj_tokenizer_encode(p->tok, p->text, p->text_len, 1, &ids, &n_ids));
  free(ids);
  p->text_tokens = (int64_t)n_ids;
  return 0;
}

void lj_profile_prompt_free(lj_profile_prompt *p) {
  lj_tokenizer_free(p->tok);
  free(p->text);
  free(p->ids);
  memset(p, 0, sizeof *p);
}

int lj_profile_tokenize_unit(const lj_profile_prompt *p) {
  for (int s = 0; s < p->batch; s++) {
    int32_t *ids = NULL;
    size_t n = 0;
    LJ_TRY(lj_tokenizer_encode(p->tok, p->text, p->text_len, 1, &ids, &n));
    free(ids);
  }
  return 0;
}

int lj_profile_detokenize_unit(const lj_profile_prompt *p, const int32_t *ids, int n) {
  for (int s = 0; s < p->batch; s++) {
    char *text = NULL;
    size_t len = 0;
    LJ_TRY(lj_tokenizer_decode(p->tok, ids + (size_t)s * n, (size_t)n, &text, &len));
    free(text);
  }
  return 0;
}
