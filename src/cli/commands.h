// One function per sub-command, each in src/cli/cmd_<name>.c. Each takes the
// arguments after the command name (argv[0] is the command name), prints its
// own --help, and returns a process exit code (common/error.h: LJ_EXIT_*).
#pragma once

int lj_cmd_devices(int argc, char **argv);
int lj_cmd_idle(int argc, char **argv);
int lj_cmd_meter(int argc, char **argv);
int lj_cmd_tokenize(int argc, char **argv);
int lj_cmd_detokenize(int argc, char **argv);
int lj_cmd_generate(int argc, char **argv);
int lj_cmd_profile(int argc, char **argv);
int lj_cmd_sweep(int argc, char **argv);
int lj_cmd_report(int argc, char **argv);
int lj_cmd_compare(int argc, char **argv);

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} lj_command;

extern const lj_command lj_commands[];  // NULL-name terminated, in main.c
