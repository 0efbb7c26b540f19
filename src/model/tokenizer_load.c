// Loading an HF tokenizer.json (jansson): model.vocab, model.merges (as
// "a b" strings or ["a", "b"] pairs), model.ignore_merges, added_tokens, the
// pre_tokenizer (a Split regex followed by ByteLevel, or ByteLevel with the
// GPT-2 regex) and the ByteLevel decoder. What this tokenizer cannot honour
// (a normalizer, byte fallback, dropout, lstrip/rstrip...) is refused with an
// error naming the field rather than silently encoded differently.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/input_file.h"
#include "model/tokenizer_internal.h"

enum { MAX_TOKEN_ID = 1 << 24 };  // bounds the id tables against absurd files

// GPT-2's pre-tokenizer, for a ByteLevel pre_tokenizer with use_regex true.
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Appends a token's bytes to the blob; their offset in *off.
static int add_bytes(lj_tokenizer *t, const char *bytes, size_t len, uint32_t *off) {
  if (t->blob_len + len > UINT32_MAX) return LJ_FAIL(LJ_EINVAL, "%s: tokens too large in total", t->path);
  if (t->blob_len + len > t->blob_cap) {
    size_t cap = t->blob_cap ? t->blob_cap : 1 << 16;
    while (cap < t->blob_len + len) cap *= 2;
    char *blob = realloc(t->blob, cap);
    if (!blob) return LJ_FAIL(LJ_ENOMEM, "%s: out of memory for token bytes", t->path);
    t->blob = blob;
    t->blob_cap = cap;
  }
  memcpy(t->blob + t->blob_len, bytes, len);
  *off = (uint32_t)t->blob_len;
  t->blob_len += len;
  return 0;
}

static int is_null_or_absent(const json_t *v) { return !v || json_is_null(v); }
static int is_false_or_absent(const json_t *v) { return !v || json_is_false(v) || json_is_null(v); }

static int expect_string(const lj_tokenizer *t, const json_t *parent, const char *key, const char *want,
                         const char *field) {
  const json_t *v = json_object_get(parent, key);
  if (!json_is_string(v))
    return LJ_FAIL(LJ_EINVAL, "%s: %s.%s: expected the string \"%s\"", t->path, field, key, want);
  if (strcmp(json_string_value(v), want))
    return LJ_FAIL(LJ_EINVAL, "%s: %s.%s is \"%s\": only \"%s\" is supported", t->path, field, key,
                   json_string_value(v), want);
  return 0;
}

static int check_unsupported(const lj_tokenizer *t, int ok, const char *field, const char *what) {
  if (ok) return 0;
  return LJ_FAIL(LJ_EINVAL, "%s: %s: %s is not supported", t->path, field, what);
}

static int read_token_id(const lj_tokenizer *t, const json_t *v, const char *field, int64_t *id) {
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= MAX_TOKEN_ID)
    return LJ_FAIL(LJ_EINVAL, "%s: %s: expected a token id, an integer in [0, %d)", t->path, field,
                   MAX_TOKEN_ID);
  *id = json_integer_value(v);
  return 0;
}

// First pass: the highest id, so the id tables can be sized once.
static int find_highest_id(const lj_tokenizer *t, const json_t *vocab, const json_t *added, int64_t *max_id) {
  const char *key;
  size_t key_len;
  json_t *value;
  *max_id = -1;
  json_object_keylen_foreach((json_t *)vocab, key, key_len, value) {
    int64_t id = 0;
    if (read_token_id(t, value, "model.vocab", &id) < 0)
      return LJ_FAIL(LJ_EINVAL, "%s: model.vocab[\"%.*s\"]: expected a token id, an integer in [0, %d)",
                     t->path, (int)(key_len > 40 ? 40 : key_len), key, MAX_TOKEN_ID);
    if (id > *max_id) *max_id = id;
  }
  for (size_t i = 0; added && i < json_array_size(added); i++) {
    char field[64];
    snprintf(field, sizeof field, "added_tokens[%zu].id", i);
    int64_t id = 0;
    LJ_TRY(read_token_id(t, json_object_get(json_array_get(added, i), "id"), field, &id));
    if (id > *max_id) *max_id = id;
  }
  return 0;
}

static int load_vocab(lj_tokenizer *t, const json_t *vocab) {
  LJ_TRY(lj_bytes_map_init(&t->vocab, (uint32_t)json_object_size(vocab)));
  char *bytes = NULL;
  size_t bytes_cap = 0;
  const char *key;
  size_t key_len;
  json_t *value;
  int rc = 0;
  json_object_keylen_foreach((json_t *)vocab, key, key_len, value) {
    int32_t id = (int32_t)json_integer_value(value);
    int shown = (int)(key_len > 40 ? 40 : key_len);
    if (key_len == 0) {
      rc = LJ_FAIL(LJ_EINVAL, "%s: model.vocab: empty token for id %d", t->path, id);
      break;
    }
    if (key_len > bytes_cap) {
      bytes_cap = 2 * key_len;
      char *grown = realloc(bytes, bytes_cap);
      if (!grown) {
        rc = LJ_FAIL(LJ_ENOMEM, "%s: out of memory reading model.vocab", t->path);
        break;
      }
      bytes = grown;
    }
    long n = lj_byte_level_to_bytes(key, key_len, bytes);
    if (n < 0) {
      rc = LJ_FAIL(LJ_EINVAL, "%s: model.vocab[\"%.*s\"]: not a byte-level token (a character outside "
                   "the 256 that stand for bytes)", t->path, shown, key);
      break;
    }
    if (t->tok_kind[id] != LJ_TOKEN_NONE) {
      rc = LJ_FAIL(LJ_EINVAL, "%s: model.vocab[\"%.*s\"]: id %d is used twice", t->path, shown, key, id);
      break;
    }
    if ((rc = add_bytes(t, bytes, (size_t)n, &t->tok_off[id])) < 0) break;
    t->tok_len[id] = (uint32_t)n;
    t->tok_kind[id] = LJ_TOKEN_VOCAB;
    int32_t old = lj_bytes_map_put(&t->vocab, t, id);
    if (old == -2) {
      rc = LJ_ENOMEM;
      break;
    }
    if (old >= 0) {
      rc = LJ_FAIL(LJ_EINVAL, "%s: model.vocab[\"%.*s\"]: the same bytes as id %d", t->path, shown, key, old);
      break;
    }
  }
  free(bytes);
  LJ_TRY(rc);
  for (int b = 0; b < 256; b++) {
    char c = (char)b;
    t->byte_id[b] = lj_bytes_map_get(&t->vocab, t, &c, 1);
    if (t->byte_id[b] < 0)
      return LJ_FAIL(LJ_EINVAL, "%s: model.vocab: no token for byte 0x%02X (\"\\u%04X\"); byte-level BPE "
                     "needs all 256", t->path, b, (unsigned)lj_byte_to_unicode((uint8_t)b));
  }
  return 0;
}

// Splits one merges entry into its two tokens.
static int merge_parts(const lj_tokenizer *t, const json_t *entry, size_t i, const char **a, size_t *a_len,
                       const char **b, size_t *b_len) {
  if (json_is_string(entry)) {
    const char *s = json_string_value(entry);
    size_t len = json_string_length(entry);
    const char *space = memchr(s, ' ', len);
    if (!space || space == s || space == s + len - 1 || memchr(space + 1, ' ', (size_t)(s + len - space - 1)))
      return LJ_FAIL(LJ_EINVAL, "%s: model.merges[%zu]: expected \"left right\" (two tokens, one space), got "
                     "\"%.40s\"", t->path, i, s);
    *a = s;
    *a_len = (size_t)(space - s);
    *b = space + 1;
    *b_len = len - *a_len - 1;
    return 0;
  }
  if (json_is_array(entry) && json_array_size(entry) == 2 && json_is_string(json_array_get(entry, 0)) &&
      json_is_string(json_array_get(entry, 1))) {
    *a = json_string_value(json_array_get(entry, 0));
    *a_len = json_string_length(json_array_get(entry, 0));
    *b = json_string_value(json_array_get(entry, 1));
    *b_len = json_string_length(json_array_get(entry, 1));
    return 0;
  }
  return LJ_FAIL(LJ_EINVAL, "%s: model.merges[%zu]: expected a string \"left right\" or a pair [\"left\", "
                 "\"right\"]", t->path, i);
}

// Id of a token written as in the file, -1 if not in model.vocab. The JSON
// object is itself a hash table of the written form: no conversion needed.
static int32_t vocab_id_of_text(const json_t *vocab, const char *s, size_t len) {
  const json_t *v = json_object_getn(vocab, s, len);
  return v ? (int32_t)json_integer_value(v) : -1;  // ids were checked by find_highest_id
}

static int load_merges(lj_tokenizer *t, const json_t *vocab, const json_t *merges) {
  size_t n = json_array_size(merges);
  if (n >= INT32_MAX) return LJ_FAIL(LJ_EINVAL, "%s: model.merges: too many entries", t->path);
  LJ_TRY(lj_pair_map_init(&t->merges, (uint32_t)n));
  char *joined = NULL;  // left + right
  size_t joined_cap = 0;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    if ((rc = merge_parts(t, json_array_get(merges, i), i, &a, &a_len, &b, &b_len)) < 0) break;
    if (a_len + b_len > joined_cap) {
      joined_cap = 2 * (a_len + b_len) + 64;
      char *grown = realloc(joined, joined_cap);
      if (!grown) {
        rc = LJ_FAIL(LJ_ENOMEM, "%s: out of memory reading model.merges", t->path);
        break;
      }
      joined = grown;
    }
    memcpy(joined, a, a_len);
    memcpy(joined + a_len, b, b_len);
    int32_t left = vocab_id_of_text(vocab, a, a_len);
    int32_t right = vocab_id_of_text(vocab, b, b_len);
    int32_t merged = vocab_id_of_text(vocab, joined, a_len + b_len);
    if (left < 0 || right < 0 || merged < 0) {
      const char *missing = left < 0 ? a : right < 0 ? b : joined;
      size_t missing_len = left < 0 ? a_len : right < 0 ? b_len : a_len + b_len;
      rc = LJ_FAIL(LJ_EINVAL, "%s: model.merges[%zu]: token \"%.*s\" is not in model.vocab", t->path, i,
                   (int)(missing_len > 40 ? 40 : missing_len), missing);
      break;
    }
    rc = lj_pair_map_put(&t->merges, left, right, (int32_t)i, merged);
  }
  free(joined);
  return rc;
}

static int load_added_tokens(lj_tokenizer *t, const json_t *added) {
  LJ_TRY(lj_bytes_map_init(&t->added, (uint32_t)json_array_size(added)));
  LJ_TRY(lj_added_trie_init(&t->trie));
  for (size_t i = 0; i < json_array_size(added); i++) {
    const json_t *tok = json_array_get(added, i);
    char field[64];
    snprintf(field, sizeof field, "added_tokens[%zu]", i);
    const json_t *content = json_object_get(tok, "content");
    if (!json_is_string(content) || json_string_length(content) == 0)
      return LJ_FAIL(LJ_EINVAL, "%s: %s.content: expected a non-empty string", t->path, field);
    static const char *const flags[] = {"lstrip", "rstrip", "single_word"};
    for (int f = 0; f < 3; f++)
      if (!is_false_or_absent(json_object_get(tok, flags[f])))
        return LJ_FAIL(LJ_EINVAL, "%s: %s.%s: only false is supported", t->path, field, flags[f]);
    int32_t id = (int32_t)json_integer_value(json_object_get(tok, "id"));  // checked by find_highest_id
    const char *s = json_string_value(content);
    size_t len = json_string_length(content);
    LJ_TRY(add_bytes(t, s, len, &t->tok_off[id]));
    t->tok_len[id] = (uint32_t)len;
    t->tok_kind[id] = LJ_TOKEN_ADDED;
    if (lj_bytes_map_put(&t->added, t, id) == -2) return LJ_ENOMEM;
    if (lj_added_trie_put(&t->trie, s, len, id) < 0) return lj_fail_context(LJ_EINVAL, "%s: %s", t->path, field);
  }
  t->bos_id = lj_bytes_map_get(&t->added, t, "<|begin_of_text|>", 17);
  return 0;
}

static int load_split(lj_tokenizer *t, const json_t *split, const char *field) {
  char sub[96];
  snprintf(sub, sizeof sub, "%s.pattern", field);
  const json_t *pattern = json_object_get(split, "pattern");
  const json_t *regex = json_object_get(pattern, "Regex");
  if (!json_is_string(regex))
    return LJ_FAIL(LJ_EINVAL,
                   "%s: %s: expected {\"Regex\": \"...\"}", t->path, sub);
  LJ_TRY(expect_string(t, split, "behavior", "Isolated", field));
  snprintf(sub, sizeof sub, "%s.invert", field);
  LJ_TRY(check_unsupported(t, is_false_or_absent(json_object_get(split, "invert")), sub, "true"));
  snprintf(sub, sizeof sub, "%s.pattern.Regex", field);
  return lj_pretokenizer_compile(t, json_string_value(regex), json_string_length(regex), sub);
}

static int check_byte_level(const lj_tokenizer *t, const json_t *bl, const char *field, int want_regex) {
  char sub[96];
  snprintf(sub, sizeof sub, "%s.add_prefix_space", field);
  LJ_TRY(check_unsupported(t, is_false_or_absent(json_object_get(bl, "add_prefix_space")), sub, "true"));
  const json_t *use_regex = json_object_get(bl, "use_regex");
  int uses_regex = !use_regex || json_is_true(use_regex);  // HF's default is true
  if (uses_regex != want_regex) {
    snprintf(sub, sizeof sub, "%s.use_regex", field);
    return LJ_FAIL(LJ_EINVAL, "%s: %s: expected %s here", t->path, sub, want_regex ? "true" : "false");
  }
  return 0;
}

static int load_pre_tokenizer(lj_tokenizer *t, const json_t *pre) {
  const json_t *type = json_object_get(pre, "type");
  if (!json_is_string(type)) return LJ_FAIL(LJ_EINVAL, "%s: pre_tokenizer.type: expected a string", t->path);
  if (!strcmp(json_string_value(type), "ByteLevel")) {
    LJ_TRY(check_byte_level(t, pre, "pre_tokenizer", 1));
    return lj_pretokenizer_compile(t, GPT2_PATTERN, sizeof GPT2_PATTERN - 1, "pre_tokenizer (GPT-2 regex)");
  }
  if (strcmp(json_string_value(type), "Sequence"))
    return LJ_FAIL(LJ_EINVAL, "%s: pre_tokenizer.type is \"%s\": expected Sequence [Split, ByteLevel] "
                   "or ByteLevel", t->path, json_string_value(type));
  const json_t *seq = json_object_get(pre, "pretokenizers");
  if (!json_is_array(seq) || json_array_size(seq) != 2)
    return LJ_FAIL(LJ_EINVAL, "%s: pre_tokenizer.pretokenizers: expected [Split, ByteLevel]", t->path);
  LJ_TRY(expect_string(t, json_array_get(seq, 0), "type", "Split", "pre_tokenizer.pretokenizers[0]"));
  LJ_TRY(expect_string(t, json_array_get(seq, 1), "type", "ByteLevel", "pre_tokenizer.pretokenizers[1]"));
  LJ_TRY(load_split(t, json_array_get(seq, 0), "pre_tokenizer.pretokenizers[0]"));
  return check_byte_level(t, json_array_get(seq, 1), "pre_tokenizer.pretokenizers[1]", 0);
}

static int load_model(lj_tokenizer *t, const json_t *model) {
  if (!json_is_object(model)) return LJ_FAIL(LJ_EINVAL, "%s: model: missing or not an object", t->path);
  const json_t *type = json_object_get(model, "type");
  if (type) LJ_TRY(expect_string(t, model, "type", "BPE", "model"));
  LJ_TRY(check_unsupported(t, is_null_or_absent(json_object_get(model, "dropout")), "model.dropout", "a value"));
  LJ_TRY(check_unsupported(t, is_false_or_absent(json_object_get(model, "byte_fallback")), "model.byte_fallback",
                           "true"));
  static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
  for (int i = 0; i < 2; i++) {
    const json_t *v = json_object_get(model, affixes[i]);
    if (!is_null_or_absent(v) && !(json_is_string(v) && json_string_length(v) == 0))
      return LJ_FAIL(LJ_EINVAL, "%s: model.%s: only null is supported", t->path, affixes[i]);
  }
  const json_t *ignore = json_object_get(model, "ignore_merges");
  if (ignore && !json_is_boolean(ignore))
    return LJ_FAIL(LJ_EINVAL, "%s: model.ignore_merges: expected true or false", t->path);
  t->ignore_merges = json_is_true(ignore);
  return 0;
}

static int load_from_json(lj_tokenizer *t, const json_t *root) {
  if (!json_is_object(root)) return LJ_FAIL(LJ_EINVAL, "%s: expected a JSON object at the top", t->path);
  LJ_TRY(check_unsupported(t, is_null_or_absent(json_object_get(root, "normalizer")), "normalizer", "a normalizer"));
  const json_t *model = json_object_get(root, "model");
  LJ_TRY(load_model(t, model));
  const json_t *vocab = json_object_get(model, "vocab");
  if (!json_is_object(vocab)) return LJ_FAIL(LJ_EINVAL, "%s: model.vocab: missing or not an object", t->path);
  const json_t *merges = json_object_get(model, "merges");
  if (!json_is_array(merges)) return LJ_FAIL(LJ_EINVAL, "%s: model.merges: missing or not an array", t->path);
  const json_t *added = json_object_get(root, "added_tokens");
  if (added && !json_is_array(added)) return LJ_FAIL(LJ_EINVAL, "%s: added_tokens: expected an array", t->path);
  for (size_t i = 0; added && i < json_array_size(added); i++)
    if (!json_is_object(json_array_get(added, i)))
      return LJ_FAIL(LJ_EINVAL, "%s: added_tokens[%zu]: expected an object", t->path, i);
  const json_t *pre = json_object_get(root, "pre_tokenizer");
  if (!json_is_object(pre)) return LJ_FAIL(LJ_EINVAL, "%s: pre_tokenizer: missing or not an object", t->path);
  const json_t *decoder = json_object_get(root, "decoder");
  if (!is_null_or_absent(decoder)) LJ_TRY(expect_string(t, decoder, "type", "ByteLevel", "decoder"));

  int64_t max_id;
  LJ_TRY(find_highest_id(t, vocab, added, &max_id));
  t->n_ids = (int32_t)(max_id + 1);
  size_t n = t->n_ids > 0 ? (size_t)t->n_ids : 1;
  t->tok_off = calloc(n, sizeof *t->tok_off);
  t->tok_len = calloc(n, sizeof *t->tok_len);
  t->tok_kind = calloc(n, sizeof *t->tok_kind);
  if (!t->tok_off || !t->tok_len || !t->tok_kind)
    return LJ_FAIL(LJ_ENOMEM, "%s: out of memory for %zu token ids", t->path, n);
  LJ_TRY(load_vocab(t, vocab));
  LJ_TRY(load_merges(t, vocab, merges));
  LJ_TRY(load_added_tokens(t, added));  // json_array_size(NULL) is 0
  return load_pre_tokenizer(t, pre);
}

static int read_whole_file(const char *path, char **bytes, size_t *size) {
  int rc;
  FILE *f = lj_fopen_input(path, LJ_EINVAL, &rc);
  if (!f) return rc;
  size_t cap = 1 << 20, len = 0, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      char *grown = realloc(buf, cap *= 2);
      if (!grown) free(buf);
      buf = grown;
    }
  }
  int failed = buf && ferror(f);
  fclose(f);
  if (!buf) return LJ_FAIL(LJ_ENOMEM, "%s: out of memory reading the file", path);
  if (failed) {
    free(buf);
    return LJ_FAIL(LJ_EIO, "%s: read error", path);
  }
  *bytes = buf;
  *size = len;
  return 0;
}

int lj_tokenizer_load(const char *tokenizer_json_path, lj_tokenizer **out) {
  *out = NULL;
  lj_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return LJ_FAIL(LJ_ENOMEM, "out of memory loading a tokenizer");
  snprintf(t->path, sizeof t->path, "%s", tokenizer_json_path);
  t->bos_id = -1;
  char *bytes = NULL;
  size_t size = 0;
  int rc = read_whole_file(tokenizer_json_path, &bytes, &size);
  if (rc == 0) {
    json_error_t err;
    json_t *root = json_loadb(bytes, size, JSON_REJECT_DUPLICATES, &err);
    free(bytes);
    if (!root) {
      rc = LJ_FAIL(LJ_EINVAL, "%s: not valid JSON at line %d, column %d (byte %d): %s", tokenizer_json_path,
                   err.line, err.column, err.position, err.text);
    } else {
      rc = load_from_json(t, root);
      json_decref(root);
    }
  }
  if (rc < 0) {
    lj_tokenizer_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void lj_tokenizer_free(lj_tokenizer *t) {
  if (!t) return;
  free(t->blob);
  free(t->tok_off);
  free(t->tok_len);
  free(t->tok_kind);
  lj_bytes_map_free(&t->vocab);
  lj_bytes_map_free(&t->added);
  lj_pair_map_free(&t->merges);
  lj_added_trie_free(&t->trie);
  if (t->split_re) pcre2_code_free(t->split_re);
  free(t);
}
