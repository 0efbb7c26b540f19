// libFuzzer: the tokenizer.json loader on small JSON inputs. Each input is
// written to a file and loaded; a load must succeed or fail with a message,
// never crash. What loads is then used: encode a few texts (the regex comes
// from the input) and decode the result.
//   build-fuzz/fuzz_tokenizer_json fuzz/corpus/tokenizer_json -max_len=16384 -max_total_time=600
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "model/tokenizer.h"

static char g_path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  snprintf(g_path, sizeof g_path, "/tmp/fuzz_tokenizer_json_%d.json", (int)getpid());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(g_path, "wb");
  if (!f) abort();
  fwrite(data, 1, size, f);
  fclose(f);
  lj_tokenizer *t = NULL;
  if (lj_tokenizer_load(g_path, &t) < 0) {
    if (t || !lj_error_message()[0]) abort();  // failure: no tokenizer, and a message
    return 0;
  }
  static const char *const texts[] = {"Hello world", "abc abcd ab's 123456 \r\n\n  x", "<|x|>ab<|eot_id|>",
                                      "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (lj_tokenizer_encode(t, texts[i], strlen(texts[i]), 0, &ids, &n) == 0) {
      char *back = NULL;
      size_t len = 0;
      if (lj_tokenizer_decode(t, ids, n, &back, &len) < 0) abort();
      free(back);
    }
    free(ids);
  }
  lj_tokenizer_token_id(t, "ab");
  lj_tokenizer_free(t);
  return 0;
}
