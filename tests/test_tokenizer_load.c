// Loading tokenizer.json: a small synthetic byte-level BPE tokenizer (written
// here with jansson) checks merges in both JSON forms, ignore_merges, added
// tokens and holes in the ids; broken variants of it check that every error
// names the file and the field.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/error.h"
#include "model/tokenizer.h"
#include "model/tokenizer_internal.h"

#define LLAMA3_REGEX                                                                                 \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static char g_path[256];

// Byte b has id b; then "ab" 256, "abc" 257, "cd" 258, "abcd" 259; "<|x|>" is
// the added token 300 (ids 260..299 are unused).
static json_t *base_json(int pairs_form, int ignore_merges) {
  json_t *vocab = json_object();
  for (int b = 0; b < 256; b++) {
    char utf8[4];
    uint32_t cp = lj_byte_to_unicode((uint8_t)b);
    size_t n = cp < 0x80 ? 1 : 2;
    if (n == 1) utf8[0] = (char)cp;
    else { utf8[0] = (char)(0xC0 | (cp >> 6)); utf8[1] = (char)(0x80 | (cp & 0x3F)); }
    json_object_setn_new(vocab, utf8, n, json_integer(b));
  }
  json_object_set_new(vocab, "ab", json_integer(256));
  json_object_set_new(vocab, "abc", json_integer(257));
  json_object_set_new(vocab, "cd", json_integer(258));
  json_object_set_new(vocab, "abcd", json_integer(259));
  json_t *merges = pairs_form ? json_pack("[[ss][ss][ss]]", "a", "b", "c", "d", "ab", "cd")
                              : json_pack("[sss]", "a b", "c d", "ab cd");
  return json_pack("{s:s, s:n, s:[{s:i, s:s, s:b, s:b, s:b, s:b}], s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b}]},"
                   " s:{s:s}, s:{s:s, s:n, s:b, s:o, s:o}}",
                   "version", "1.0", "normalizer",
                   "added_tokens", "id", 300, "content", "<|x|>", "special", 1, "lstrip", 0, "rstrip", 0, "normalized", 0,
                   "pre_tokenizer", "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
                   LLAMA3_REGEX, "behavior", "Isolated", "invert", 0, "type", "ByteLevel", "add_prefix_space", 0,
                   "use_regex", 0,
                   "decoder", "type", "ByteLevel",
                   "model", "type", "BPE", "dropout", "ignore_merges", ignore_merges, "vocab", vocab, "merges", merges);
}

static int load_json(json_t *root, lj_tokenizer **t) {
  assert_int_equal(json_dump_file(root, g_path, 0), 0);
  json_decref(root);
  return lj_tokenizer_load(g_path, t);
}

static void expect(lj_tokenizer *t, const char *text, const int32_t *want, size_t n_want) {
  int32_t *ids;
  size_t n;
  assert_int_equal(lj_tokenizer_encode(t, text, strlen(text), 0, &ids, &n), 0);
  if (n != n_want) print_error("\"%s\": %zu ids, expected %zu\n", text, n, n_want);
  assert_int_equal(n, n_want);
  for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
  free(ids);
}

#define EXPECT(t, text, ...)                               \
  do {                                                     \
    static const int32_t want_[] = {__VA_ARGS__};          \
    expect(t, text, want_, sizeof want_ / sizeof *want_);  \
  } while (0)

static void test_both_merge_forms_and_ignore_merges(void **state) {
  for (int form = 0; form < 2; form++) {
    lj_tokenizer *t;
    assert_int_equal(load_json(base_json(form, 1), &t), 0);
    assert_int_equal(lj_tokenizer_vocab_size(t), 301);
    EXPECT(t, "abc", 257);              // in the vocabulary: whole (ignore_merges)
    EXPECT(t, "abcd", 259);
    EXPECT(t, "abab", 256, 256);        // merged pair by pair
    EXPECT(t, "cdab", 258, 256);
    EXPECT(t, "x abcd", 'x', ' ', 259);  // " abcd" is not in the vocab: ' ' + "abcd"
    EXPECT(t, "ab<|x|>cd", 256, 300, 258);
    lj_tokenizer_free(t);

    assert_int_equal(load_json(base_json(form, 0), &t), 0);
    EXPECT(t, "abc", 256, 'c');         // merges only: no merge makes "abc"
    EXPECT(t, "abcd", 259);
    lj_tokenizer_free(t);
  }
}

static void test_decode_skips_nothing_and_rejects_holes(void **state) {
  lj_tokenizer *t;
  assert_int_equal(load_json(base_json(0, 1), &t), 0);
  static const int32_t ids[] = {257, 300, 0, 255};
  char *text;
  size_t len;
  assert_int_equal(lj_tokenizer_decode(t, ids, 4, &text, &len), 0);
  assert_int_equal(len, 10);
  assert_memory_equal(text, "abc<|x|>\0\xff", 10);
  free(text);
  static const int32_t hole[] = {280};
  assert_int_equal(lj_tokenizer_decode(t, hole, 1, &text, &len), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "id 280"));
  assert_int_equal(lj_tokenizer_token_id(t, "<|x|>"), 300);
  assert_int_equal(lj_tokenizer_token_id(t, "abc"), 257);
  // add_bos needs <|begin_of_text|>, which this tokenizer lacks
  int32_t *out;
  size_t n;
  assert_int_equal(lj_tokenizer_encode(t, "a", 1, 1, &out, &n), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "<|begin_of_text|>"));
  lj_tokenizer_free(t);
}

// Loads a broken variant and checks the error names the field.
static void expect_error(json_t *root, int code, const char *needle) {
  lj_tokenizer *t = (lj_tokenizer *)1;
  assert_int_equal(load_json(root, &t), code);
  assert_null(t);
  if (!strstr(lj_error_message(), needle) || !strstr(lj_error_message(), g_path))
    print_error("message \"%s\" lacks \"%s\" or the path\n", lj_error_message(), needle);
  assert_non_null(strstr(lj_error_message(), needle));
  assert_non_null(strstr(lj_error_message(), g_path));
}

static json_t *model_of(json_t *root) { return json_object_get(root, "model"); }

static void test_errors_name_the_field(void **state) {
  json_t *r;
  r = base_json(0, 1), json_object_del(model_of(r), "vocab");
  expect_error(r, LJ_EINVAL, "model.vocab: missing");
  r = base_json(0, 1), json_object_del(r, "model");
  expect_error(r, LJ_EINVAL, "model: missing");
  r = base_json(0, 1), json_object_set_new(model_of(r), "merges", json_string("a b"));
  expect_error(r, LJ_EINVAL, "model.merges: missing or not an array");
  r = base_json(0, 1), json_array_set_new(json_object_get(model_of(r), "merges"), 1, json_string("cd"));
  expect_error(r, LJ_EINVAL, "model.merges[1]: expected \"left right\"");
  r = base_json(0, 1), json_array_set_new(json_object_get(model_of(r), "merges"), 2, json_string("a b c"));
  expect_error(r, LJ_EINVAL, "model.merges[2]");
  r = base_json(1, 1), json_array_set_new(json_object_get(model_of(r), "merges"), 1, json_pack("[s]", "c"));
  expect_error(r, LJ_EINVAL, "model.merges[1]: expected a string");
  r = base_json(0, 1), json_array_set_new(json_object_get(model_of(r), "merges"), 0, json_integer(5));
  expect_error(r, LJ_EINVAL, "model.merges[0]");
  r = base_json(0, 1), json_array_set_new(json_object_get(model_of(r), "merges"), 1, json_string("c zz"));
  expect_error(r, LJ_EINVAL, "model.merges[1]: token \"zz\" is not in model.vocab");
  r = base_json(0, 1), json_array_set_new(json_object_get(model_of(r), "merges"), 1, json_string("b c"));
  expect_error(r, LJ_EINVAL, "model.merges[1]: token \"bc\" is not in model.vocab");
  r = base_json(0, 1), json_object_set_new(json_object_get(model_of(r), "vocab"), "zz", json_string("7"));
  expect_error(r, LJ_EINVAL, "model.vocab[\"zz\"]: expected a token id");
  r = base_json(0, 1), json_object_set_new(json_object_get(model_of(r), "vocab"), "zz", json_integer(-3));
  expect_error(r, LJ_EINVAL, "model.vocab[\"zz\"]");
  r = base_json(0, 1), json_object_set_new(json_object_get(model_of(r), "vocab"), "zz", json_integer(256));
  expect_error(r, LJ_EINVAL, "id 256 is used twice");
  r = base_json(0, 1), json_object_set_new(json_object_get(model_of(r), "vocab"), "\xe2\x82\xac", json_integer(270));
  expect_error(r, LJ_EINVAL, "not a byte-level token");
  r = base_json(0, 1), json_object_del(json_object_get(model_of(r), "vocab"), "q");
  expect_error(r, LJ_EINVAL, "no token for byte 0x71");
  r = base_json(0, 1), json_object_set_new(model_of(r), "ignore_merges", json_string("yes"));
  expect_error(r, LJ_EINVAL, "model.ignore_merges");
  r = base_json(0, 1), json_object_set_new(model_of(r), "byte_fallback", json_true());
  expect_error(r, LJ_EINVAL, "model.byte_fallback");
  r = base_json(0, 1), json_object_set_new(model_of(r), "type", json_string("Unigram"));
  expect_error(r, LJ_EINVAL, "model.type is \"Unigram\"");
  r = base_json(0, 1), json_object_set_new(r, "normalizer", json_pack("{s:s}", "type", "NFC"));
  expect_error(r, LJ_EINVAL, "normalizer");
  r = base_json(0, 1), json_object_set_new(json_array_get(json_object_get(r, "added_tokens"), 0), "content", json_integer(1));
  expect_error(r, LJ_EINVAL, "added_tokens[0].content");
  r = base_json(0, 1), json_object_set_new(json_array_get(json_object_get(r, "added_tokens"), 0), "id", json_string("x"));
  expect_error(r, LJ_EINVAL, "added_tokens[0].id");
  r = base_json(0, 1), json_object_set_new(json_array_get(json_object_get(r, "added_tokens"), 0), "lstrip", json_true());
  expect_error(r, LJ_EINVAL, "added_tokens[0].lstrip");
  r = base_json(0, 1), json_object_set_new(json_array_get(json_object_get(json_object_get(r, "pre_tokenizer"), "pretokenizers"), 0),
                                           "pattern", json_pack("{s:s}", "Regex", "(unclosed"));
  expect_error(r, LJ_EINVAL, "pre_tokenizer.pretokenizers[0].pattern.Regex: regex does not compile");
  r = base_json(0, 1), json_object_set_new(json_array_get(json_object_get(json_object_get(r, "pre_tokenizer"), "pretokenizers"), 0),
                                           "behavior", json_string("Removed"));
  expect_error(r, LJ_EINVAL, "pre_tokenizer.pretokenizers[0].behavior is \"Removed\"");
  r = base_json(0, 1), json_object_set_new(r, "pre_tokenizer", json_pack("{s:s}", "type", "Whitespace"));
  expect_error(r, LJ_EINVAL, "pre_tokenizer.type is \"Whitespace\"");
  r = base_json(0, 1), json_object_set_new(r, "decoder", json_pack("{s:s}", "type", "WordPiece"));
  expect_error(r, LJ_EINVAL, "decoder.type is \"WordPiece\"");
  r = json_array();
  expect_error(r, LJ_EINVAL, "expected a JSON object at the top");
}

static void test_file_errors(void **state) {
  lj_tokenizer *t;
  assert_int_equal(lj_tokenizer_load("/nonexistent/tokenizer.json", &t), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "/nonexistent/tokenizer.json: cannot open"));
  FILE *f = fopen(g_path, "w");
  fputs("{\"model\": {\"vocab\": {\"a\": 1,}}", f);
  fclose(f);
  assert_int_equal(lj_tokenizer_load(g_path, &t), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "not valid JSON at line 1"));
  f = fopen(g_path, "w");
  fclose(f);
  assert_int_equal(lj_tokenizer_load(g_path, &t), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "not valid JSON"));
}

// The GPT-2 form: a ByteLevel pre_tokenizer with its built-in regex.
static void test_byte_level_pre_tokenizer(void **state) {
  json_t *r = base_json(0, 1);
  json_object_set_new(r, "pre_tokenizer", json_pack("{s:s, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "use_regex", 1));
  lj_tokenizer *t;
  assert_int_equal(load_json(r, &t), 0);
  EXPECT(t, "ab's", 256, '\'', 's');  // 's is a piece of its own; not in the vocab, so bytes
  lj_tokenizer_free(t);
}

static void expect_exact(lj_tokenizer *t, const char *text, const int32_t *want, size_t n_want) {
  size_t len = strlen(text);
  char *exact = malloc(len);  // no NUL after the text: a read past it is an ASan error
  assert_non_null(exact);
  memcpy(exact, text, len);
  int32_t *ids;
  size_t n;
  assert_int_equal(lj_tokenizer_encode(t, exact, len, 0, &ids, &n), 0);
  assert_int_equal(n, n_want);
  for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
  free(ids);
  free(exact);
}

// A pre-tokenizer regex that matches the empty string ("$" matches at the end
// of the text) once read the byte after the text.
static void test_empty_match_regex(void **state) {
  static const struct {
    const char *pattern, *text;
    int32_t want[4];
    size_t n;
  } cases[] = {
      {"$", "abcd", {259}, 1},                 // no piece: the whole text
      {"$", "ab", {256}, 1},
      {"x*", "abxxcd", {256, 'x', 'x', 258}, 4},  // empty matches between the pieces
      {"(?=c)|$", "abcd", {259}, 1},          // empty matches split nothing
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    json_t *r = base_json(0, 1);
    json_t *split = json_array_get(json_object_get(json_object_get(r, "pre_tokenizer"), "pretokenizers"), 0);
    json_object_set_new(split, "pattern", json_pack("{s:s}", "Regex", cases[i].pattern));
    lj_tokenizer *t;
    assert_int_equal(load_json(r, &t), 0);
    expect_exact(t, cases[i].text, cases[i].want, cases[i].n);
    lj_tokenizer_free(t);
  }
}

int main(void) {
  snprintf(g_path, sizeof g_path, "/tmp/lj_test_tokenizer_%d.json", (int)getpid());
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_both_merge_forms_and_ignore_merges),
      cmocka_unit_test(test_decode_skips_nothing_and_rejects_holes),
      cmocka_unit_test(test_errors_name_the_field),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_byte_level_pre_tokenizer),
      cmocka_unit_test(test_empty_match_regex),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  unlink(g_path);
  return failed;
}
