// libFuzzer: encode arbitrary bytes with the real Llama 3 tokenizer.
// Properties: valid UTF-8 (by our check) always encodes, and decoding the ids
// gives back the exact bytes; invalid UTF-8 is refused with LJ_EINVAL. The same
// bytes read as ids must decode or be refused, never crash.
// The tokenizer comes from $LLAMAJOULE_TOKENIZER or the source tree's
// node_modules (lj_tokenizer_find). An input "\xFF<pattern>\xFF<text>" (0xFF is
// never UTF-8) replaces its pre-tokenizer regex with <pattern> for this input,
// so that patterns as odd as a tokenizer.json may hold ("$", "x*") are reached;
// then a regex failure (match limit) may refuse valid text.
//   build-fuzz/fuzz_tokenizer fuzz/corpus/tokenizer -max_total_time=600
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"

static lj_tokenizer *g_tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char path[4096];
  if (lj_tokenizer_find(NULL, NULL, path, sizeof path) < 0 || lj_tokenizer_load(path, &g_tok) < 0) {
    fprintf(stderr, "fuzz_tokenizer: %s\n", lj_error_message());
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const lj_tokenizer *tok = g_tok;
  lj_tokenizer custom;
  const uint8_t *sep = size > 1 && data[0] == 0xFF ? memchr(data + 1, 0xFF, size - 1) : NULL;
  if (sep) {
    custom = *g_tok;  // shares everything but the regex, which is freed below
    if (lj_pretokenizer_compile(&custom, (const char *)data + 1, (size_t)(sep - data - 1), "fuzz pattern") < 0)
      return 0;
    tok = &custom;
    size -= (size_t)(sep + 1 - data);
    data = sep + 1;
  }
  const char *text = (const char *)data;
  int valid = lj_utf8_invalid_offset(text, size) == size;
  int add_bos = size > 0 && (data[0] & 1);
  int32_t *ids = NULL;
  size_t n = 0;
  int rc = lj_tokenizer_encode(tok, text, size, add_bos, &ids, &n);
  if (sep) pcre2_code_free(custom.split_re);
  if (valid != (rc == 0) && !(sep && valid && rc == LJ_EINVAL)) abort();  // valid text encodes, invalid text is refused
  if (rc == 0) {
    char *back = NULL;
    size_t len = 0;
    if (lj_tokenizer_decode(g_tok, ids + add_bos, n - (size_t)add_bos, &back, &len) < 0) abort();
    if (len != size || memcmp(back, text, size) != 0) abort();  // exact round trip
    free(back);
  } else if (rc != LJ_EINVAL || ids) {
    abort();
  }
  free(ids);

  // The bytes as ids: each decodes or is refused.
  size_t n_ids = size / sizeof(int32_t);
  int32_t *as_ids = malloc(n_ids ? n_ids * sizeof *as_ids : 1);
  memcpy(as_ids, data, n_ids * sizeof *as_ids);
  for (size_t i = 0; i < n_ids; i++) as_ids[i] &= (i & 1) ? 0x1FFFF : -1;  // mostly plausible ids
  char *out = NULL;
  size_t out_len = 0;
  if (lj_tokenizer_decode(g_tok, as_ids, n_ids, &out, &out_len) == 0) free(out);
  free(as_ids);
  return 0;
}
