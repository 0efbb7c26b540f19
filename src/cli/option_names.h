// Options by their full names only, and one line for an argument a command cannot take.
//
// GNU getopt_long takes any unambiguous prefix of a long option (`--f text` for --format):
// an option added later could make a user's abbreviation ambiguous or change its meaning,
// so every command takes long options only as written in its --help.
#pragma once
#include <getopt.h>

// getopt_long without abbreviations: a long option given by a prefix of its name is returned
// as '?' (unknown), with optind set so that argv[optind - 1] is the option as given, the
// word every command's "unknown option" line names. Otherwise what getopt_long returns.
int lj_getopt_exact(int argc, char **argv, const char *shortopts, const struct option *longopts);

// Prints "llamajoule: error: CMD: unknown option 'ARG' (see llamajoule CMD --help)", or
// "missing value for 'ARG'" where known_option is set, or "unexpected argument 'ARG'" for a
// word that is not an option. Returns the usage exit code (2).
int lj_cli_bad_argument(const char *cmd, const char *arg, int known_option);
