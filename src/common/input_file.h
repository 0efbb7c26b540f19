// Opening input files (checkpoints, config.json, tokenizer.json, indexes) for
// reading: only regular files. A FIFO would block open() until a writer comes
// (so it is opened with O_NONBLOCK and refused after fstat); a directory would
// read as an empty or unreadable file and be reported as a syntax error.
#pragma once
#include <stdio.h>

// An fd open for reading, or a negative lj_status naming `path` ("is a directory",
// "is not a regular file (a FIFO, socket or device)", or why open failed).
// A missing file is missing_code (LJ_EINVAL where the file is an input the user named).
int lj_open_input(const char *path, int missing_code);
// The same as a FILE ("rb"); NULL with the error recorded.
FILE *lj_fopen_input(const char *path, int missing_code, int *rc);
