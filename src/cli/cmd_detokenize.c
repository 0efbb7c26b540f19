// llamajoule detokenize: lines of token ids on stdin -> the texts on stdout.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/option_names.h"
#include "common/error.h"
#include "common/output_file.h"
#include "model/tokenizer.h"

static void print_help(FILE *f) {
  fprintf(f,
          "usage: llamajoule detokenize [--tokenizer FILE] [--null]\n\n"
          "Reads lines of space-separated token ids from stdin (one line per text, as\n"
          "`llamajoule tokenize` prints them) and writes each text, as its exact bytes,\n"
          "followed by a newline.\n\n"
          "  --tokenizer FILE  HF tokenizer.json (default: $LLAMAJOULE_TOKENIZER, else the\n"
          "                    Llama 3 tokenizer installed by scripts/setup.sh)\n"
          "  --null            end each text with NUL instead of newline (texts may hold\n"
          "                    newlines)\n\n"
          "A word that is not a token id stops with an error naming the line (exit 3).\n");
}

// Parses the ids of one line into *ids (grown as needed).
static int parse_ids(const char *line, size_t line_no, int32_t **ids, size_t *n, size_t *cap) {
  *n = 0;
  const char *p = line;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (!*p) return 0;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ' ' && *end != '\t' && *end != '\r' &&
                                                        *end != '\n'))
      return LJ_FAIL(LJ_EINVAL, "detokenize: line %zu, column %zu: expected a token id (a non-negative integer)",
                     line_no, (size_t)(p - line) + 1);
    if (*n == *cap) {
      size_t grown_cap = *cap ? 2 * *cap : 256;
      int32_t *grown = realloc(*ids, grown_cap * sizeof *grown);
      if (!grown) return LJ_FAIL(LJ_ENOMEM, "detokenize: out of memory");
      *ids = grown;
      *cap = grown_cap;
    }
    (*ids)[(*n)++] = (int32_t)v;
    p = end;
  }
}

int lj_cmd_detokenize(int argc, char **argv) {
  const char *tokenizer_path = NULL;
  int null_sep = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      print_help(stdout);
      return LJ_EXIT_OK;
    } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
      tokenizer_path = argv[++i];
    } else if (!strncmp(argv[i], "--tokenizer=", 12)) {
      tokenizer_path = argv[i] + 12;
    } else if (!strcmp(argv[i], "--null")) {
      null_sep = 1;
    } else {
      return lj_cli_bad_argument("detokenize", argv[i], !strcmp(argv[i], "--tokenizer"));
    }
  }
  char path[4096];
  lj_tokenizer *tok = NULL;
  int rc = lj_tokenizer_find(tokenizer_path, NULL, path, sizeof path);
  if (rc == 0) rc = lj_tokenizer_load(path, &tok);
  if (rc < 0) return lj_report_error(rc);

  char *line = NULL;
  size_t line_cap = 0, line_no = 0, n = 0, ids_cap = 0;
  int32_t *ids = NULL;
  while (rc == 0 && getline(&line, &line_cap, stdin) >= 0) {
    line_no++;
    rc = parse_ids(line, line_no, &ids, &n, &ids_cap);
    char *text = NULL;
    size_t len = 0;
    if (rc == 0 && (rc = lj_tokenizer_decode(tok, ids, n, &text, &len)) < 0)
      lj_fail_context(rc, "detokenize: line %zu", line_no);
    if (rc == 0) {
      fwrite(text, 1, len, stdout);
      putchar(null_sep ? '\0' : '\n');
      if (ferror(stdout)) rc = lj_stdout_check();
    }
    free(text);
  }
  if (rc == 0 && ferror(stdin)) rc = LJ_FAIL(LJ_EIO, "detokenize: cannot read stdin");
  if (rc == 0) rc = lj_stdout_check();
  free(line);
  free(ids);
  lj_tokenizer_free(tok);
  return rc < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
}
