// Decoding ids back to the exact bytes, and looking tokens up by name.
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer_internal.h"

int lj_tokenizer_decode(const lj_tokenizer *t, const int32_t *ids, size_t n, char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= t->n_ids || t->tok_kind[ids[i]] == LJ_TOKEN_NONE)
      return LJ_FAIL(LJ_EINVAL, "id %d (number %zu) is not a token of %s (ids 0..%d)", ids[i], i + 1, t->path,
                     t->n_ids - 1);
    total += t->tok_len[ids[i]];
  }
  char *out = malloc(total + 1);
  if (!out) return LJ_FAIL(LJ_ENOMEM, "out of memory decoding %zu ids", n);
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    memcpy(out + pos, t->blob + t->tok_off[ids[i]], t->tok_len[ids[i]]);
    pos += t->tok_len[ids[i]];
  }
  out[pos] = '\0';
  *text = out;
  *len = pos;
  return 0;
}

int lj_tokenizer_vocab_size(const lj_tokenizer *t) { return t->n_ids; }

int32_t lj_tokenizer_token_id(const lj_tokenizer *t, const char *token) {
  size_t len = strlen(token);
  int32_t id = lj_bytes_map_get(&t->added, t, token, len);
  if (id >= 0 || len == 0) return id;
  char *bytes = malloc(len);
  if (!bytes) return -1;
  long n = lj_byte_level_to_bytes(token, len, bytes);
  id = n < 0 ? -1 : lj_bytes_map_get(&t->vocab, t, bytes, (size_t)n);
  free(bytes);
  return id;
}
