// Tokenizer speed: MB/s of lj_tokenizer_encode, single-threaded, on a large
// text. The default text is the parity corpus repeated plus generated English
// prose (deterministic, --mb megabytes in all); --text FILE uses a file
// instead, --write-text FILE saves the text so that another tokenizer
// (bench/hf_tokenizers_speed.py) can be timed on the very same bytes.
//   bench_tokenizer [--tokenizer FILE] [--text FILE | --mb N] [--write-text FILE]
//                   [--split whole|lines|both] [--repeat R] [--write-ids FILE]
// --write-ids saves the ids of the whole text, space-separated, to compare
// with another tokenizer's.
// Two ways to cut the text: `whole` encodes it in one call; `lines` encodes
// each line on its own (as `llamajoule tokenize` does).
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "model/tokenizer.h"

#define CORPUS "tests/data/tokenizer/corpus.jsonl"

typedef struct {
  char *data;
  size_t len, cap;
} text_buf;

static void buf_append(text_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = 2 * (b->len + n + 1);
    b->data = realloc(b->data, b->cap);
    if (!b->data) { fprintf(stderr, "out of memory\n"); exit(1); }
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static uint32_t next_random(uint64_t *state) {  // xorshift64*
  *state ^= *state >> 12, *state ^= *state << 25, *state ^= *state >> 27;
  return (uint32_t)((*state * 2685821657736338717ull) >> 32);
}

// English-like prose: sentences of common words, some numbers and
// punctuation, paragraphs separated by blank lines.
static void append_prose(text_buf *b, size_t bytes, uint64_t *rng) {
  static const char *const words[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
      "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
      "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would",
      "who", "so", "no", "energy", "power", "measurement", "inference", "model", "layer", "attention", "tokens",
      "throughput", "latency", "GPU", "memory", "bandwidth", "kernel", "matrix", "projection", "normalization",
      "government", "understanding", "development", "international", "responsibility", "characteristics",
      "however", "although", "because", "therefore", "nevertheless", "approximately", "significantly", "Llama",
      "NVIDIA", "H100", "don't", "it's", "we're", "they'll", "I've", "she'd"};
  size_t n_words = sizeof words / sizeof *words, target = b->len + bytes;
  while (b->len < target) {
    int sentence_words = 6 + (int)(next_random(rng) % 18);
    for (int w = 0; w < sentence_words; w++) {
      const char *word = words[next_random(rng) % n_words];
      char tmp[64];
      int n = snprintf(tmp, sizeof tmp, "%s", word);
      if (w == 0 && tmp[0] >= 'a' && tmp[0] <= 'z') tmp[0] = (char)(tmp[0] - 'a' + 'A');
      uint32_t r = next_random(rng) % 100;
      if (r < 4) n = snprintf(tmp, sizeof tmp, "%u", next_random(rng) % 100000);
      else if (r < 10) tmp[n++] = ',';
      buf_append(b, w ? " " : "", w ? 1 : 0);
      buf_append(b, tmp, (size_t)n);
    }
    uint32_t end = next_random(rng) % 10;
    buf_append(b, end < 7 ? "." : end < 9 ? "?" : "!", 1);
    buf_append(b, next_random(rng) % 6 ? " " : "\n\n", next_random(rng) % 6 ? 1 : 2);
  }
}

static int append_corpus_once(text_buf *b) {
  FILE *f = fopen(CORPUS, "r");
  if (!f) return LJ_FAIL(LJ_EINVAL, "%s: cannot open (run from the source directory or give --text)", CORPUS);
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_t *s = json_loads(line, JSON_DECODE_ANY, NULL);
    if (json_is_string(s)) {
      buf_append(b, json_string_value(s), json_string_length(s));
      buf_append(b, "\n", 1);
    }
    json_decref(s);
  }
  free(line);
  fclose(f);
  return 0;
}

static int build_text(text_buf *b, double mb) {
  size_t target = (size_t)(mb * 1e6);
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  // half corpus (code, many scripts, emoji...), half prose, interleaved
  while (b->len < target) {
    LJ_TRY(append_corpus_once(b));
    append_prose(b, 220000, &rng);
  }
  return 0;
}

static int read_file(const char *path, text_buf *b) {
  FILE *f = fopen(path, "rb");
  if (!f) return LJ_FAIL(LJ_EINVAL, "%s: cannot open", path);
  char chunk[1 << 16];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(b, chunk, n);
  fclose(f);
  if (!b->data) buf_append(b, "", 0);
  return 0;
}

// Encodes the text once (whole or line by line); returns the token count.
static int encode_once(const lj_tokenizer *t, const text_buf *b, int by_lines, size_t *n_tokens) {
  *n_tokens = 0;
  size_t start = 0;
  while (start < b->len || (start == 0 && b->len == 0)) {
    size_t end = b->len;
    if (by_lines) {
      const char *nl = memchr(b->data + start, '\n', b->len - start);
      if (nl) end = (size_t)(nl - b->data);
    }
    int32_t *ids;
    size_t n;
    LJ_TRY(lj_tokenizer_encode(t, b->data + start, end - start, 0, &ids, &n));
    free(ids);
    *n_tokens += n;
    start = end + 1;
    if (!by_lines) break;
  }
  return 0;
}

static int write_ids(const lj_tokenizer *t, const text_buf *b, const char *path) {
  int32_t *ids;
  size_t n;
  LJ_TRY(lj_tokenizer_encode(t, b->data, b->len, 0, &ids, &n));
  FILE *f = fopen(path, "w");
  for (size_t i = 0; f && i < n; i++) fprintf(f, i + 1 < n ? "%d " : "%d", ids[i]);
  int rc = f && fputc('\n', f) != EOF && fclose(f) == 0 ? 0 : LJ_FAIL(LJ_EIO, "%s: cannot write", path);
  free(ids);
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int run(int argc, char **argv) {
  const char *tokenizer_arg = NULL, *text_path = NULL, *write_path = NULL, *ids_path = NULL, *split = "both";
  double mb = 16;
  int repeat = 5;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--tokenizer") && v) tokenizer_arg = v, i++;
    else if (!strcmp(a, "--text") && v) text_path = v, i++;
    else if (!strcmp(a, "--write-text") && v) write_path = v, i++;
    else if (!strcmp(a, "--write-ids") && v) ids_path = v, i++;
    else if (!strcmp(a, "--split") && v) split = v, i++;
    else if (!strcmp(a, "--mb") && v) mb = atof(v), i++;
    else if (!strcmp(a, "--repeat") && v) repeat = atoi(v), i++;
    else return LJ_FAIL(LJ_EINVAL, "usage: bench_tokenizer [--tokenizer FILE] [--text FILE | --mb N] "
                        "[--write-text FILE] [--split whole|lines|both] [--repeat R] [--write-ids FILE]");
  }
  if (repeat < 1) repeat = 1;
  char path[4096];
  LJ_TRY(lj_tokenizer_find(tokenizer_arg, NULL, path, sizeof path));
  int64_t t0 = lj_mono_ns();
  lj_tokenizer *tok;
  LJ_TRY(lj_tokenizer_load(path, &tok));
  double load_s = (double)(lj_mono_ns() - t0) * 1e-9;

  text_buf text = {0};
  int rc = text_path ? read_file(text_path, &text) : build_text(&text, mb);
  if (rc == 0 && write_path) {
    FILE *f = fopen(write_path, "wb");
    if (!f || fwrite(text.data, 1, text.len, f) != text.len) rc = LJ_FAIL(LJ_EIO, "%s: cannot write", write_path);
    if (f) fclose(f);
  }
  printf("tokenizer: %s (loaded in %.3f s)\n", path, load_s);
  printf("text: %s, %zu bytes (%.2f MB)\n", text_path ? text_path : "corpus repeated + generated prose", text.len,
         (double)text.len / 1e6);
  for (int by_lines = 0; rc == 0 && by_lines < 2; by_lines++) {
    if (strcmp(split, "both") && strcmp(split, by_lines ? "lines" : "whole")) continue;
    double *secs = malloc((size_t)repeat * sizeof *secs);
    size_t n_tokens = 0;
    for (int r = 0; rc == 0 && r < repeat; r++) {
      int64_t start = lj_mono_ns();
      rc = encode_once(tok, &text, by_lines, &n_tokens);
      secs[r] = (double)(lj_mono_ns() - start) * 1e-9;
    }
    if (rc == 0) {
      qsort(secs, (size_t)repeat, sizeof *secs, cmp_double);
      double best = secs[0], median = secs[repeat / 2];
      printf("llamajoule split=%s: %zu tokens, best %.3f s = %.2f MB/s, median %.3f s = %.2f MB/s "
             "(%.2f M tokens/s), %d runs, 1 thread\n",
             by_lines ? "lines" : "whole", n_tokens, best, (double)text.len / 1e6 / best, median,
             (double)text.len / 1e6 / median, (double)n_tokens / 1e6 / median, repeat);
    }
    free(secs);
  }
  if (rc == 0 && ids_path) rc = write_ids(tok, &text, ids_path);
  free(text.data);
  lj_tokenizer_free(tok);
  return rc;
}

int main(int argc, char **argv) {
  int rc = run(argc, argv);
  return rc < 0 ? lj_report_error(rc) : 0;
}
