// llamajoule compare: several profiled runs side by side in one HTML page.
// Each argument is a store (its newest profile run) or STORE:N (run N).
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/option_names.h"
#include "common/error.h"
#include "common/output_file.h"
#include "common/same_file.h"
#include "report/card_spread.h"
#include "report/fusion_cost.h"
#include "report/report_page.h"
#include "report/report_run.h"
#include "report/report_study.h"
#include "report/study_analysis.h"

#define MAX_RUNS 32

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule compare A.db B.db ... [--latency-ms L] [-o compare.html]\n\n"
          "Runs side by side in one self-contained HTML page: J/token and tokens/J of prefill and decode,\n"
          "J per billion parameters per token, decode's stage-group shares, and J/token against batch and\n"
          "prompt length where the runs span them. Each argument is a store (its newest profile run),\n"
          "FILE.db:N (run N of it), or a study (llamajoule sweep): every done point, with the study's points\n"
          "and J/token, tokens/J and J per billion parameters per token against batch, per model, for prefill\n"
          "and decode, the best batch under a latency bound, the knee, ML.ENERGY's figures beside ours and\n"
          "findings; several studies are analysed together, each file's lines with their own best batch and knee.\n"
          "Two profiles of one model, card, shape and GEMV setting, one with --fusion none and one with --fusion\n"
          "production, also get the kernel boundaries' cost on stderr: decode J/token (none - production) with\n"
          "its interval, and per stage group where both have stage estimates. At most %d arguments, each run or\n"
          "study once (one file by two names counts once). Stores are only read.\n\n"
          "  --latency-ms L  a study's bound on one decode step for its best batch (default 50 ms)\n"
          "  -o, --output F  the page (default compare.html; '-' is stdout)\n"
          "  -h, --help\n\n"
          "exit codes: 0 written, 1 writing failed, 2 bad command line, 3 a store is not readable as a profile.\n",
          MAX_RUNS);
}

// The same profile on several cards: the card-to-card term of the uncertainty budget, once per group.
static void card_spreads(const lj_report_run *runs, size_t n) {
  const lj_profile_result **group = calloc(n ? n : 1, sizeof *group);
  if (!group) return;
  for (size_t i = 0; i < n; i++) {
    int seen = 0;  // grouped with an earlier run already
    for (size_t j = 0; j < i && !seen; j++) seen = lj_card_spread_same(&runs[j].prof, &runs[i].prof);
    size_t k = 0;
    for (size_t j = i; j < n && !seen; j++)
      if (j == i || lj_card_spread_same(&runs[i].prof, &runs[j].prof)) group[k++] = &runs[j].prof;
    lj_card_spread c;
    if (!seen && lj_card_spread_compute(group, k, &c)) lj_card_spread_print(stderr, group[0], &c);
  }
  free(group);
}

static int usage_error(int rc) {
  lj_report_error(rc);
  return LJ_EXIT_USAGE;
}

// "FILE.db:N" -> path and run. A file of that whole name is taken whole (a name may hold a colon).
// Where the part before the last colon is a file, the suffix must be a run number: "a.db:0" or
// "a.db:x" is a usage error, not a missing file "a.db:0". Otherwise a path without a run number
// is taken whole.
static int split_arg(const char *arg, char *path, size_t cap, int64_t *run) {
  snprintf(path, cap, "%s", arg);
  *run = 0;
  struct stat sb;
  char *colon = strrchr(path, ':');
  if (!colon || stat(arg, &sb) == 0) return 0;
  char *end;
  errno = 0;
  long long v = strtoll(colon + 1, &end, 10);
  int number = colon[1] && !errno && !*end;
  *colon = '\0';
  if (stat(path, &sb) != 0) {
    if (!number || v < 1) *colon = ':';
    else *run = v;
    return 0;
  }
  if (!number)
    return LJ_FAIL(LJ_EINVAL, "compare: '%s': '%s' is not a run number (FILE.db:N, runs count from 1)", arg,
                   colon + 1);
  if (v < 1) return LJ_FAIL(LJ_EINVAL, "compare: '%s': no run %lld: runs count from 1 (FILE.db:N)", arg, v);
  *run = v;
  return 0;
}

int lj_cmd_compare(int argc, char **argv) {
  static const struct option opts[] = {
      {"output", required_argument, 0, 'o'}, {"latency-ms", required_argument, 0, 'l'},
      {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
  const char *out = "compare.html";
  double latency_ms = LJ_STUDY_LATENCY_MS;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = lj_getopt_exact(argc, argv, ":o:h", opts)) != -1) {
    switch (c) {
      case 'o': out = optarg; break;
      case 'l':
        if (lj_report_study_parse_latency(optarg, &latency_ms) < 0) return usage_error(LJ_EINVAL);
        break;
      case 'h': usage(stdout); return LJ_EXIT_OK;
      case ':': return usage_error(LJ_FAIL(LJ_EINVAL, "option %s needs a value", argv[optind - 1]));
      default:
        return usage_error(LJ_FAIL(LJ_EINVAL, "unknown option '%s' (see llamajoule compare --help)", argv[optind - 1]));
    }
  }
  int n = argc - optind;
  if (n < 1) return usage_error(LJ_FAIL(LJ_EINVAL, "compare: which stores? (llamajoule compare A.db B.db ...)"));
  if (n > MAX_RUNS) return usage_error(LJ_FAIL(LJ_EINVAL, "compare: %d runs, at most %d", n, MAX_RUNS));
  // Every argument's run number before any store is read; writing a store over itself would lose
  // it (a link or another name for it included). One run (or study) named twice would stand on the
  // page twice and weigh twice in every fit and spread: refused, whatever the spelling of its path.
  static char paths[MAX_RUNS][1024];
  int64_t runs_of[MAX_RUNS];
  for (int i = 0; i < n; i++) {
    char *path = paths[i];
    if (split_arg(argv[optind + i], path, sizeof paths[i], &runs_of[i]) < 0) return usage_error(LJ_EINVAL);
    if (strcmp(out, "-") && (lj_same_file(out, path) || lj_same_file(out, argv[optind + i])))
      return usage_error(LJ_FAIL(LJ_EINVAL, "compare: the output '%s' is a store being read ('%s'); give another -o",
                                 out, argv[optind + i]));
    for (int j = 0; j < i; j++)
      if (runs_of[j] == runs_of[i] && lj_same_file(paths[j], path))
        return usage_error(LJ_FAIL(LJ_EINVAL, "compare: '%s' and '%s' are the same %s; name each once",
                                   argv[optind + j], argv[optind + i],
                                   runs_of[i] ? "run" : "store (its newest run, or its study)"));
  }
  // A study file stands for its done points. Every study goes into one (each file's lines apart in its
  // analysis), whose runs take the first study's place on the page.
  size_t cap = (size_t)n, loaded = 0, study_at = 0;
  lj_report_run *runs = calloc(cap, sizeof *runs);
  if (!runs) return lj_report_error(LJ_FAIL(LJ_ENOMEM, "compare: out of memory"));
  lj_report_study all;
  memset(&all, 0, sizeof all);
  int studies = 0;
  json_t *study = NULL;
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    char path[1024];
    int64_t run = 0;
    (void)split_arg(argv[optind + i], path, sizeof path, &run);  // checked above
    lj_report_study s;
    int found = run ? 0 : lj_report_study_load(path, &s);
    if (found < 0) {
      rc = found;
      break;
    }
    if (found) {
      if (!studies++) all = s, study_at = loaded;
      else if ((rc = lj_report_study_merge(&all, &s)) < 0) lj_report_study_free(&s);
      continue;
    }
    rc = lj_report_load(path, run, &runs[loaded]);
    if (rc == 0) loaded++;
  }
  if (studies) {
    lj_report_run *more = rc == 0 ? realloc(runs, (cap + all.n_runs) * sizeof *runs) : NULL;
    all.latency_ms = latency_ms;
    // The analysis reads the runs: the JSON is made before they move to the page's list.
    if (more) runs = more, study = lj_report_study_json(&all);
    if (rc == 0 && !study) rc = LJ_FAIL(LJ_ENOMEM, "compare: out of memory");
    if (study) {
      memmove(runs + study_at + all.n_runs, runs + study_at, (loaded - study_at) * sizeof *runs);
      memcpy(runs + study_at, all.runs, all.n_runs * sizeof *runs);
      loaded += all.n_runs, all.n_runs = 0;  // moved
    }
    lj_report_study_free(&all);
  }
  if (rc == 0 && loaded == 0)
    rc = LJ_FAIL(LJ_EINVAL, "compare: no done point in %s (run llamajoule sweep until some are done)", argv[optind]);
  if (rc == 0) {
    lj_output o;
    rc = lj_output_open(&o, out);
    if (rc == 0) rc = lj_output_close(&o, lj_report_compare_html_study(o.f, runs, loaded, study));
  }
  // Two profiles of one model and card in both execution modes: what the kernel boundaries cost.
  for (size_t i = 0; rc == 0 && i < loaded; i++)
    for (size_t j = i + 1; j < loaded; j++) {
      const lj_profile_result *unfused, *fused;
      lj_fusion_cost cost;
      if (!lj_fusion_cost_pair(&runs[i].prof, &runs[j].prof, &unfused, &fused)) continue;
      if (lj_fusion_cost_compute(unfused, fused, &cost) == 0) lj_fusion_cost_print(stderr, unfused, &cost);
      else fprintf(stderr, "llamajoule: compare: %s\n", lj_error_message()), lj_clear_error();
    }
  if (rc == 0) card_spreads(runs, loaded);
  for (size_t i = 0; i < loaded; i++) lj_report_run_free(&runs[i]);
  free(runs);
  json_decref(study);
  if (rc < 0) return lj_report_error(rc);
  if (strcmp(out, "-")) fprintf(stderr, "llamajoule: compare: wrote %s (%zu runs)\n", out, loaded);
  return LJ_EXIT_OK;
}
