#include "cli/source_option.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "store/store.h"

// A store starts with SQLite's 16-byte magic; anything else is read as CSV.
static int is_sqlite_file(const char *path) {
  char magic[16] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(magic, 1, sizeof magic, f);
  fclose(f);
  return n == sizeof magic && !memcmp(magic, "SQLite format 3", 16);
}

int lj_cli_load_trace(const char *file, lj_trace *out) {
  if (!is_sqlite_file(file)) return lj_trace_read_csv(file, out);
  lj_store *st;
  LJ_TRY(lj_store_open_readonly(file, &st));
  int64_t run = 0;
  int rc = lj_store_latest_run(st, NULL, &run);
  if (rc == 0) rc = LJ_FAIL(LJ_EINVAL, "store '%s' holds no run to replay", file);
  if (rc > 0) rc = lj_store_load_trace(st, run, out);
  lj_store_close(st);
  return rc;
}

int lj_cli_check_source(const char *cmd, const char *spec) {
  if (!strcmp(spec, "nvml") || !strcmp(spec, "nvidia-smi") || (!strncmp(spec, "replay:", 7) && spec[7])) return 0;
  fprintf(stderr, "llamajoule: error: %s: --source '%s': expected nvml, nvidia-smi or replay:FILE\n", cmd, spec);
  return -1;
}

int lj_cli_open_source(const char *spec, lj_source **out) {
  *out = NULL;
  if (!spec || !strcmp(spec, "nvml")) return lj_source_open_nvml(out, NULL);
  if (!strcmp(spec, "nvidia-smi")) return lj_source_open_smi(out, NULL);
  if (!strncmp(spec, "replay:", 7) && spec[7]) {
    lj_trace trace;
    lj_trace_init(&trace);
    int rc = lj_cli_load_trace(spec + 7, &trace);
    if (rc == 0) rc = lj_source_open_replay(out, &trace, 1);
    lj_trace_free(&trace);
    return rc;
  }
  return LJ_FAIL(LJ_EINVAL, "--source '%s': expected nvml, nvidia-smi or replay:FILE", spec);
}
