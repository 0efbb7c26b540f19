// The profiled workload's prompts and the tokenize / detokenize phases:
// the prompt text (given, or a built-in paragraph repeated until it holds
// prompt_len tokens), its ids cut to exactly prompt_len per sequence, and one
// "unit" of each text phase (what the phase windows repeat).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/tokenizer.h"
#include "store/profile_result.h"
#include "profile/profile_run.h"

typedef struct {
  lj_tokenizer *tok;      // NULL: no tokenizer found (then no text phases; ids are synthetic)
  char *text;             // the text one sequence tokenizes
  size_t text_len;
  int64_t text_tokens;    // ids the text encodes to (BOS included)
  int32_t *ids;           // (batch, prompt_len): the prompts the engine runs
  int batch, prompt_len;
} lj_profile_prompt;

// checkpoint_dir may be NULL (a preset). Notes what it chose in r (plan.prompt_source, notes).
int lj_profile_prompt_build(const lj_profile_options *o, const lj_model_config *c, const char *checkpoint_dir,
                            lj_profile_prompt *p, lj_profile_result *r);
void lj_profile_prompt_free(lj_profile_prompt *p);
// One tokenize unit: the text encoded once per sequence.
int lj_profile_tokenize_unit(const lj_profile_prompt *p);
// One detokenize unit: each sequence's generated ids decoded to text (ids: (batch, n)).
int lj_profile_detokenize_unit(const lj_profile_prompt *p, const int32_t *ids, int n);
