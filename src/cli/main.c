// llamajoule: entry point. Dispatches to one sub-command per job.
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "cli/commands.h"
#include "common/error.h"

const lj_command lj_commands[] = {
    {"devices", lj_cmd_devices, "list GPUs and the power readings each supports (--characterize measures them)"},
    {"idle", lj_cmd_idle, "measure idle power with a CUDA context open and store it"},
    {"meter", lj_cmd_meter, "run a program and measure its GPU energy and power"},
    {"tokenize", lj_cmd_tokenize, "text on stdin -> Llama 3 token ids"},
    {"detokenize", lj_cmd_detokenize, "token ids on stdin -> text"},
    {"generate", lj_cmd_generate, "run a Llama model (CPU reference or CUDA engine) and print text and ids"},
    {"profile", lj_cmd_profile, "energy per phase, layer and stage of a model's inference, with error bars"},
    {"sweep", lj_cmd_sweep, "a study: one profile per point (models x batches x lengths) in one store, resumable"},
    {"report", lj_cmd_report, "render a stored profile: HTML page (charts, offline), text, JSON, CSV, Perfetto"},
    {"compare", lj_cmd_compare, "runs side by side in one HTML page: J/token, tokens/J, stage-group shares"},
    {NULL, NULL, NULL},
};

static void print_usage(FILE *f) {
  fprintf(f,
          "llamajoule %s - where the energy of Llama inference goes on NVIDIA GPUs\n\n"
          "usage: llamajoule <command> [options]\n"
          "       llamajoule <command> --help\n\n"
          "commands:\n",
          LJ_VERSION);
  for (const lj_command *c = lj_commands; c->name; c++) fprintf(f, "  %-11s %s\n", c->name, c->summary);
  fprintf(f,
          "\nexit codes:\n"
          "  0    success (meter: the measured program's own exit code)\n"
          "  1    runtime failure (I/O, CUDA, store)\n"
          "  2    bad command line\n"
          "  3    bad input file or value\n"
          "  4    no NVIDIA driver, GPU or CUDA build where one is needed\n"
          "  130  interrupted (Ctrl-C); what was measured is kept, marked incomplete\n"
          "\nset LLAMAJOULE_DEBUG=1 to show the source location of errors.\n");
}

static void print_version(void) {
#ifdef LLAMAJOULE_HAVE_CUDA
  const char *cuda = "CUDA engine built in";
#else
  const char *cuda = "CPU-only build (no CUDA engine)";
#endif
  printf("llamajoule %s (%s, %s)\n", LJ_VERSION, LJ_BUILD_TYPE, cuda);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return LJ_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    print_usage(stdout);
    return LJ_EXIT_OK;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
    print_version();
    return LJ_EXIT_OK;
  }
  for (const lj_command *c = lj_commands; c->name; c++)
    if (!strcmp(c->name, cmd)) return c->run(argc - 1, argv + 1);
  fprintf(stderr, "llamajoule: error: unknown command '%s' (see llamajoule --help)\n", cmd);
  return LJ_EXIT_USAGE;
}
