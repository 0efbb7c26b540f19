// Where a command records its run: the store named by -o, or the default
// store, opened before anything is measured (an unwritable path fails at once).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

// Opens `path` (NULL = the default store, its directories created) and inserts
// a run of `kind` with the command line as typed (argv[0] = the command name).
// path_used receives the file's name. On failure *st is NULL.
int lj_cli_begin_run(const char *path, const char *kind, const char *source, int argc, char **argv, lj_store **st,
                     int64_t *run, char *path_used, size_t cap);
