// libFuzzer target: a store file (any bytes, a mutated store) read back as a
// replay trace must load or fail with a one-line error naming the file, and
// never crash; what loads must be a consistent trace.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/source_option.h"
#include "common/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Always an SQLite header: the CSV path is fuzzed by fuzz_trace_csv.
  static const char magic[16] = "SQLite format 3";
  if (size < 100) return 0;
  char path[64];
  snprintf(path, sizeof path, "/tmp/lj_fuzz_store_%d.db", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (fwrite(magic, 1, 16, f) != 16 || fwrite(data + 16, 1, size - 16, f) != size - 16) abort();
  fclose(f);
  lj_trace t;
  lj_trace_init(&t);
  int rc = lj_cli_load_trace(path, &t);
  if (rc < 0 && (!strstr(lj_error_message(), path) || strchr(lj_error_message(), '\n'))) abort();
  if (rc == 0) {
    if (t.n_devices < 1) abort();
    for (size_t i = 0; i < t.n_samples; i++) {
      if (t.samples[i].device >= t.n_devices || t.samples[i].reading >= LJ_READING_COUNT) abort();
      if (i && t.samples[i].t_ns < t.samples[i - 1].t_ns) abort();
    }
  }
  lj_trace_free(&t);
  char side[80];
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  unlink(path);
  return 0;
}
