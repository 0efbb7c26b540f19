// Checkpoints are memory-mapped and read long after they are checked (the CPU
// engine reads its weights from the map on every forward pass, in worker
// threads). If a file shrinks meanwhile (truncated or rewritten in place), a
// read of the lost pages raises SIGBUS in whichever thread touches them; there
// is no read call to return an error from. So a SIGBUS handler looks the
// faulting address up among the registered maps and ends the process with the
// usual one-line error naming the file, exit 3 (bad input file); a SIGBUS
// elsewhere keeps its default action.
#pragma once
#include <stddef.h>

// Registers [addr, addr + size) as the map of `path` (installs the handler on
// first use). Returns 0, or LJ_ENOMEM when the table (1024 maps) is full.
int lj_map_guard_add(const void *addr, size_t size, const char *path);
void lj_map_guard_remove(const void *addr);
