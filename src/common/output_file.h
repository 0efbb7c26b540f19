// Writing a file the user named (-o FILE, a checkpoint's files) so that a failed
// or interrupted write never leaves half a file where FILE was:
// - "-" is standard output, and so is a FILE that already is it (-o /dev/stdout);
// - an existing FILE that is not a regular file (a device, a FIFO) is written in
//   place: a rename would replace it with a regular file;
// - anything else is written to a temporary made with mkstemp in FILE's folder
//   (the folder of the file a symbolic link names, so the link stays a link),
//   renamed over FILE once complete and removed on any failure or on SIGINT,
//   SIGTERM or SIGHUP (temp_files.h). It takes the mode of the file it replaces.
#pragma once
#include <limits.h>
#include <stdio.h>

typedef struct {
  FILE *f;                // write here
  const char *name;       // FILE as given, for messages
  char target[PATH_MAX];  // what the temporary is renamed over
  char tmp[PATH_MAX];     // "" when written in place
  int slot;               // the temporary's registration (temp_files.h)
  int is_stdout;
} lj_output;

// Opens `path` for writing as above; a negative lj_status naming it on failure.
int lj_output_open(lj_output *o, const char *path);
// Completes the writing (flush, fsync, close). Given rc < 0 (the writer failed), or when
// the writing fails, the temporary is removed; returns rc or the failure.
int lj_output_finish(lj_output *o, int rc);
// Renames a finished temporary into place (nothing to do for one written in place).
int lj_output_commit(lj_output *o);
// Removes a finished temporary that is not to be committed.
void lj_output_discard(lj_output *o);
// lj_output_finish, then lj_output_commit when it succeeded.
int lj_output_close(lj_output *o, int rc);

// Standard output flushed and checked (a full disk, a closed pipe):
// "cannot write standard output: <reason>", LJ_EIO.
int lj_stdout_check(void);
