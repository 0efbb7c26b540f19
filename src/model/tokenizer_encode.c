// Encoding: UTF-8 check, added tokens cut out of the text, then each section
// between them pre-tokenized and BPE-encoded.
#include <stdlib.h>

#include "common/error.h"
#include "model/tokenizer_internal.h"

static int encode_text(const lj_tokenizer *t, const char *text, size_t len, pcre2_match_data *md,
                       lj_id_vec *out) {
  size_t section = 0;  // start of the text not yet encoded
  for (size_t pos = 0; pos < len; pos++) {
    if (!t->trie.starts[(uint8_t)text[pos]]) continue;
    size_t match_len = 0;
    int32_t id = lj_added_trie_match(&t->trie, text, len, pos, &match_len);
    if (id < 0) continue;
    LJ_TRY(lj_encode_section(t, text + section, pos - section, md, out));
    LJ_TRY(lj_id_vec_push(out, id));
    pos += match_len - 1;
    section = pos + 1;
  }
  return lj_encode_section(t, text + section, len - section, md, out);
}

int lj_tokenizer_encode(const lj_tokenizer *t, const char *text, size_t len, int add_bos,
                        int32_t **ids, size_t *n_ids) {
  *ids = NULL;
  *n_ids = 0;
  if (!text && len) return LJ_FAIL(LJ_EINVAL, "tokenizer: no text given");
  size_t bad = lj_utf8_invalid_offset(text, len);
  if (bad != len)
    return LJ_FAIL(LJ_EINVAL, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad, (unsigned char)text[bad]);
  if (add_bos && t->bos_id < 0)
    return LJ_FAIL(LJ_EINVAL, "%s: no <|begin_of_text|> token among added_tokens to prepend", t->path);

  lj_id_vec out = {0};
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->split_re, NULL);
  int rc = md ? 0 : LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for regex match data");
  if (rc == 0 && add_bos) rc = lj_id_vec_push(&out, t->bos_id);
  if (rc == 0 && len) rc = encode_text(t, text, len, md, &out);
  if (rc == 0 && !out.ids && !(out.ids = malloc(sizeof *out.ids)))  // never NULL on success
    rc = LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory");
  pcre2_match_data_free(md);
  if (rc < 0) {
    free(out.ids);
    return rc;
  }
  *ids = out.ids;
  *n_ids = out.n;
  return 0;
}
