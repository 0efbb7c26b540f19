// The Llama 3 chat format, rendered as the model's chat template does
// (tokenizer_config.json of Llama 3 instruct models), then encoded.
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer.h"

// Whitespace the template's `trim` removes: ASCII whitespace and the Unicode
// space separators (U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000). Returns the byte length of the space at s, 0 if none.
static size_t space_len(const unsigned char *s, size_t len) {
  if (len >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) return 1;
  if (len >= 2 && s[0] == 0xC2 && s[1] == 0xA0) return 2;
  if (len >= 3) {
    unsigned cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    if ((s[0] & 0xF0) == 0xE0 &&
        (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000))
      return 3;
  }
  return 0;
}

// The message without surrounding whitespace: [*start, *start + *len).
static void trim(const char *text, size_t *start, size_t *len) {
  const unsigned char *s = (const unsigned char *)text;
  size_t a = 0, b = strlen(text), k;
  while (a < b && (k = space_len(s + a, b - a)) > 0) a += k;
  for (;;) {  // strip from the end: try each length a space can have
    size_t cut = 0;
    for (size_t w = 1; w <= 3 && w <= b - a && !cut; w++)
      if (space_len(s + b - w, w) == w) cut = w;
    if (!cut) break;
    b -= cut;
  }
  *start = a;
  *len = b - a;
}

static void append(char *dst, size_t *pos, const char *src, size_t len) {
  memcpy(dst + *pos, src, len);
  *pos += len;
}

int lj_tokenizer_encode_chat(const lj_tokenizer *t, const char *system, const char *user, int32_t **ids,
                             size_t *n_ids) {
  static const char BOS[] = "<|begin_of_text|>", HEAD[] = "<|start_header_id|>", TAIL[] = "<|end_header_id|>\n\n",
                    EOT[] = "<|eot_id|>";
  *ids = NULL;
  *n_ids = 0;
  if (!user) return LJ_FAIL(LJ_EINVAL, "chat: no user message");
  size_t sys_start = 0, sys_len = 0, user_start, user_len;
  if (system) trim(system, &sys_start, &sys_len);
  trim(user, &user_start, &user_len);
  size_t cap = sizeof BOS + 3 * (sizeof HEAD + sizeof TAIL + sizeof EOT + 16) + sys_len + user_len;
  char *text = malloc(cap);
  if (!text) return LJ_FAIL(LJ_ENOMEM, "chat: out of memory");
  size_t pos = 0;
  append(text, &pos, BOS, sizeof BOS - 1);
  if (system) {
    append(text, &pos, HEAD, sizeof HEAD - 1);
    append(text, &pos, "system", 6);
    append(text, &pos, TAIL, sizeof TAIL - 1);
    append(text, &pos, system + sys_start, sys_len);
    append(text, &pos, EOT, sizeof EOT - 1);
  }
  append(text, &pos, HEAD, sizeof HEAD - 1);
  append(text, &pos, "user", 4);
  append(text, &pos, TAIL, sizeof TAIL - 1);
  append(text, &pos, user + user_start, user_len);
  append(text, &pos, EOT, sizeof EOT - 1);
  append(text, &pos, HEAD, sizeof HEAD - 1);
  append(text, &pos, "assistant", 9);
  append(text, &pos, TAIL, sizeof TAIL - 1);
  int rc = lj_tokenizer_encode(t, text, pos, 0, ids, n_ids);
  free(text);
  return rc;
}
