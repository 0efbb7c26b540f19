// llamajoule tokenize: UTF-8 texts on stdin -> Llama 3 token ids on stdout.
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
          "usage: llamajoule tokenize [--tokenizer FILE] [--null] [--bos]\n\n"
          "Reads UTF-8 texts from stdin, one per line, and prints the token ids of each\n"
          "text space-separated, one output line per text. Special tokens written in the\n"
          "text (<|eot_id|>, ...) are recognised; none are added unless --bos.\n\n"
          "  --tokenizer FILE  HF tokenizer.json (default: $LLAMAJOULE_TOKENIZER, else the\n"
          "                    Llama 3 tokenizer installed by scripts/setup.sh)\n"
          "  --null            texts are NUL-terminated instead (a text may hold newlines)\n"
          "  --bos             prepend <|begin_of_text|> to each text\n\n"
          "In line mode only the \\n ends a text: a \\r before it belongs to the text.\n"
          "Invalid UTF-8 stops with an error naming the text number and byte offset (exit 3).\n");
}

// Appends the decimal ids, space-separated, and a newline to stdout.
static int print_ids(const int32_t *ids, size_t n) {
  char buf[16];
  for (size_t i = 0; i < n; i++) {
    int32_t v = ids[i];
    char *p = buf + sizeof buf;
    *--p = i + 1 < n ? ' ' : '\n';
    do *--p = (char)('0' + v % 10); while ((v /= 10) > 0);
    fwrite(p, 1, (size_t)(buf + sizeof buf - p), stdout);
  }
  if (n == 0) putchar('\n');
  return ferror(stdout) ? lj_stdout_check() : 0;
}

int lj_cmd_tokenize(int argc, char **argv) {
  const char *tokenizer_path = NULL;
  int null_sep = 0, bos = 0;
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
    } else if (!strcmp(argv[i], "--bos")) {
      bos = 1;
    } else {
      return lj_cli_bad_argument("tokenize", argv[i], !strcmp(argv[i], "--tokenizer"));
    }
  }
  char path[4096];
  lj_tokenizer *tok = NULL;
  int rc = lj_tokenizer_find(tokenizer_path, NULL, path, sizeof path);
  if (rc == 0) rc = lj_tokenizer_load(path, &tok);
  if (rc < 0) return lj_report_error(rc);

  static char out_buf[1 << 16];
  setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
  char *line = NULL;
  size_t line_cap = 0, text_no = 0;
  ssize_t got;
  int delim = null_sep ? '\0' : '\n';
  while (rc == 0 && (got = getdelim(&line, &line_cap, delim, stdin)) >= 0) {
    text_no++;
    size_t len = (size_t)got;
    if (len && line[len - 1] == (char)delim) len--;
    int32_t *ids = NULL;
    size_t n = 0;
    rc = lj_tokenizer_encode(tok, line, len, bos, &ids, &n);
    if (rc < 0)
      lj_fail_context(rc, "tokenize: text %zu", text_no);
    else
      rc = print_ids(ids, n);
    free(ids);
  }
  if (rc == 0 && ferror(stdin)) rc = LJ_FAIL(LJ_EIO, "tokenize: cannot read stdin");
  if (rc == 0) rc = lj_stdout_check();
  free(line);
  lj_tokenizer_free(tok);
  return rc < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
}
