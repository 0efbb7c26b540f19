// The --source option shared by devices, idle and meter:
//   nvml         the NVIDIA driver's library (default)
//   nvidia-smi   nvidia-smi's query loop through a pipe
//   replay:FILE  a recorded trace, played back in real time: FILE is a CSV
//                trace (docs/meter.md) or a store (.db), whose newest run is
//                replayed (so any recorded run can be analysed again).
#pragma once
#include "llamajoule/meter.h"

int lj_cli_open_source(const char *spec, lj_source **out);
// The option's form, checked while the command line is parsed (a bad one is a
// usage error, exit 2): 0, or -1 after printing "llamajoule: error: CMD: --source ...".
int lj_cli_check_source(const char *cmd, const char *spec);
// Loads FILE of "replay:FILE" (CSV or store) into `out` (lj_trace_init'ed).
int lj_cli_load_trace(const char *file, lj_trace *out);
