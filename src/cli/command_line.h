// The command line as typed, for the store's runs.command_line.
#pragma once
#include <stddef.h>

// "llamajoule <argv[0]> <argv[1]> ..." (argv[0] = the command name), truncated to cap.
void lj_cli_command_line(int argc, char **argv, char *buf, size_t cap);
