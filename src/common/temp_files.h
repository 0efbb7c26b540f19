// Temporary files that a SIGINT, SIGTERM or SIGHUP must not leave behind: an
// output written under a temporary name and renamed into place when complete
// (output_file.h). The handler unlinks every registered path (unlink is
// async-signal-safe) and then lets the signal end the process as it would
// have. It is installed only where the signal's disposition is the default:
// a command that handles the signal itself (profile) stops on its own path,
// which removes its temporaries as any failure does.
#pragma once

enum { LJ_TEMP_FILES_MAX = 8 };

// Creates a file with mkstemp(tmpl) (tmpl ends in XXXXXX and receives the name) and
// registers it, the signals held off between the two. Returns the fd, or -1 with errno
// set (ENOSPC when every slot is taken); *slot receives the registration.
int lj_temp_create(char *tmpl, int *slot);
// The path is no longer a temporary (renamed into place or removed by the caller).
void lj_temp_forget(int slot);
