#include "cli/option_names.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

// "--name" or "--name=value" names `name` exactly.
static int names_exactly(const char *word, const char *name) {
  size_t n = strlen(name);
  return !strncmp(word, "--", 2) && !strncmp(word + 2, name, n) && (word[2 + n] == '\0' || word[2 + n] == '=');
}

int lj_getopt_exact(int argc, char **argv, const char *shortopts, const struct option *longopts) {
  int index = -1;
  int c = getopt_long(argc, argv, shortopts, longopts, &index);
  if (c == ':' && optind >= 1 && !strncmp(argv[optind - 1], "--", 2)) {
    // A value missing after the last word: it is an option only if named in full.
    for (const struct option *o = longopts; o->name; o++)
      if (names_exactly(argv[optind - 1], o->name)) return c;
    return '?';
  }
  if (c == -1 || index < 0) return c;
  // The value, when it came as the next word, follows the option's own word.
  int word = optarg && optind >= 2 && optarg == argv[optind - 1] ? optind - 2 : optind - 1;
  if (names_exactly(argv[word], longopts[index].name)) return c;
  optind = word + 1;
  return '?';
}

int lj_cli_bad_argument(const char *cmd, const char *arg, int known_option) {
  fprintf(stderr, "llamajoule: error: %s: %s '%s' (see llamajoule %s --help)\n", cmd,
          arg[0] != '-' ? "unexpected argument" : known_option ? "missing value for" : "unknown option", arg, cmd);
  return LJ_EXIT_USAGE;
}
