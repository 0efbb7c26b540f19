// The pre-tokenizer: a Split with the regex from tokenizer.json, behaviour
// "Isolated" (every match is a piece, and so is any text between matches).
// Compiled by PCRE2 with UTF and Unicode properties (\p{L}, \s as Unicode
// space), JIT-compiled where the platform allows.
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer_internal.h"

int lj_pretokenizer_compile(lj_tokenizer *t, const char *pattern, size_t len, const char *field) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  // \C could end a match inside a character; the next match would then start
  // there, which PCRE2_NO_UTF_CHECK does not allow.
  t->split_re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &err,
                              &err_offset, NULL);
  if (!t->split_re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return LJ_FAIL(LJ_EINVAL, "%s: %s: regex does not compile at offset %zu: %s", t->path, field,
                   (size_t)err_offset, (const char *)msg);
  }
  // JIT is an optimisation: where it is unavailable the interpreter is used.
  t->split_jit = pcre2_jit_compile(t->split_re, PCRE2_JIT_COMPLETE) == 0;
  return 0;
}

static int split_match(const lj_tokenizer *t, const char *text, size_t len, size_t start,
                       pcre2_match_data *md, pcre2_match_context *mc) {
  if (t->split_jit) return pcre2_jit_match(t->split_re, (PCRE2_SPTR)text, len, start, 0, md, mc);
  return pcre2_match(t->split_re, (PCRE2_SPTR)text, len, start, PCRE2_NO_UTF_CHECK, md, mc);
}

// PCRE2's default limit (10 M backtracking steps) is hit by Llama 3's own
// pattern on a long run of spaces: "\s*[\r\n]+" backtracks over the whole run
// before "\s+(?!\S)" takes it in one piece. A limit that grows with the text
// keeps such input encodable and still stops a pattern that backtracks without end.
static uint32_t match_limit(size_t len) {
  uint64_t limit = 10000000u + 16u * (uint64_t)len;
  return limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
}

static size_t utf8_char_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

int lj_encode_section(const lj_tokenizer *t, const char *text, size_t len, pcre2_match_data *md,
                      lj_id_vec *out) {
  size_t done = 0, search = 0;  // text[0, done) is encoded; the next match is sought from search
  pcre2_match_context *mc = pcre2_match_context_create(NULL);
  if (!mc) return LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for the regex match context");
  uint32_t limit = match_limit(len);
  pcre2_set_match_limit(mc, limit);
  while (search < len) {
    int rc = split_match(t, text, len, search, md, mc);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      pcre2_match_context_free(mc);
      return LJ_FAIL(LJ_EINVAL, "tokenizer: pre-tokenizer regex failed at byte %zu: %s (limit: %u backtracking "
                     "steps for a text of %zu bytes)", search, (const char *)msg, limit, len);
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t match_start = ov[0], match_end = ov[1];
    if (match_end == match_start) {  // an empty match splits nothing: look further
      if (match_start >= len) break;  // at the end ("$"): there is no next character to step over
      search = match_start + utf8_char_len((unsigned char)text[match_start]);
      continue;
    }
    int prc = match_start > done ? lj_bpe_encode_piece(t, text + done, match_start - done, out) : 0;
    if (prc == 0) prc = lj_bpe_encode_piece(t, text + match_start, match_end - match_start, out);
    if (prc < 0) {
      pcre2_match_context_free(mc);
      return prc;
    }
    done = search = match_end;
  }
  pcre2_match_context_free(mc);
  if (done < len) LJ_TRY(lj_bpe_encode_piece(t, text + done, len - done, out));
  return 0;
}
