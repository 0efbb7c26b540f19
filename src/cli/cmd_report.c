// llamajoule report: one profiled run read back from its store and rendered:
// a self-contained HTML page (default), the terminal summary, JSON, CSV or a
// Perfetto trace. Reads only; the store is opened strictly read-only.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/option_names.h"
#include "common/error.h"
#include "common/output_file.h"
#include "common/same_file.h"
#include "profile/profile_analyze.h"
#include "report/report.h"
#include "report/report_run.h"
#include "report/report_study.h"
#include "report/study_analysis.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule report RUN.db [--run N] [--format html|text|json|csv|perfetto] [--latency-ms L] [-o FILE]\n\n"
          "Renders a run that `llamajoule profile` stored, without a GPU. The store is only read.\n"
          "A study (llamajoule sweep) without --run: html is the page of every done point (as compare),\n"
          "text a table of the points, json the study and its points; --run N renders one point's run.\n\n"
          "  --run N        the run to render (default: the newest profile run in the file)\n"
          "  --format F     html (default): one self-contained page (charts inlined, opens offline);\n"
          "                 text: the terminal summary; json: docs/profile-json.md;\n"
          "                 csv: every table of the run, one section each;\n"
          "                 perfetto: a Chrome trace-event JSON for ui.perfetto.dev (stages, power, clocks)\n"
          "  --latency-ms L a study's bound on one decode step for its best batch (default 50 ms)\n"
          "  -o, --output F the file to write (default: RUN.html beside the store for html, stdout otherwise;\n"
          "                 '-' is stdout)\n"
          "  -h, --help\n\n"
          "exit codes: 0 written, 1 writing failed, 2 bad command line, 3 not a llamajoule store, another\n"
          "schema version, no such run or not a profile run.\n");
}

static int usage_error(int rc) {
  lj_report_error(rc);
  return LJ_EXIT_USAGE;
}

typedef int (*render_fn)(FILE *f, const lj_report_run *r);
static int render_text(FILE *f, const lj_report_run *r) { return lj_profile_report_text(f, &r->prof); }
static int render_json(FILE *f, const lj_report_run *r) { return lj_profile_report_json(f, &r->prof); }

static const struct {
  const char *name;
  render_fn fn;
} kFormats[] = {{"html", lj_report_html},
                {"text", render_text},
                {"json", render_json},
                {"csv", lj_report_csv},
                {"perfetto", lj_report_perfetto}};

typedef int (*study_fn)(FILE *f, const lj_report_study *s);
static int study_json(FILE *f, const lj_report_study *s) {
  json_t *j = lj_report_study_json(s);
  if (!j) return LJ_FAIL(LJ_ENOMEM, "report: out of memory");
  int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 && fputc('\n', f) != EOF
               ? 0
               : LJ_FAIL(LJ_EIO, "report: writing the JSON failed");
  json_decref(j);
  return rc;
}

// A study file without --run: its exit code, or -1 when it is not a study (its newest run is rendered).
static int report_study(const char *path, const char *format, const char *out, double latency_ms) {
  lj_report_study s;
  int found = lj_report_study_load(path, &s);
  s.latency_ms = latency_ms;
  if (found <= 0) {
    lj_clear_error();  // not a study, or unreadable: the run's loader says why
    return -1;
  }
  study_fn fn = !strcmp(format, "html") ? lj_report_study_html : !strcmp(format, "text") ? lj_report_study_text
              : !strcmp(format, "json") ? study_json : NULL;
  int rc = 0;
  if (!fn) {
    lj_report_study_free(&s);
    return usage_error(LJ_FAIL(LJ_EINVAL, "report: '%s' is a study: --format %s needs one point's run (--run N; the points' runs are "
                            "in `llamajoule report %s --format text`)", path, format, path));
  }
  if (fn == lj_report_study_html && s.n_runs == 0) {
    rc = LJ_FAIL(LJ_EINVAL, "report: study '%s' has no done point yet", path);
  } else {
    lj_output o;
    rc = lj_output_open(&o, out ? out : "-");
    if (rc == 0) rc = lj_output_close(&o, fn(o.f, &s));
    if (rc == 0 && !o.is_stdout)
      fprintf(stderr, "llamajoule: report: wrote %s (study '%s', %zu done points)\n", out, s.study.name, s.n_runs);
  }
  lj_report_study_free(&s);
  return rc < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
}

// A profile killed outright (SIGKILL, a crash) kept its plan and its windows but not the phase
// summaries, which are written at the end: they are summarised here from the windows, as the
// profile does, so that its phases show; the run stays marked incomplete.
static int summarize_kept_windows(lj_report_run *r) {
  if (r->prof.complete || r->prof.n_windows == 0) return 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    if (r->prof.phases[p].n > 0) return 0;
  LJ_TRY(lj_profile_summarize_phases(&r->prof));
  lj_report_missing(r, r->missing, sizeof r->missing);
  return 0;
}

int lj_cmd_report(int argc, char **argv) {
  static const struct option opts[] = {{"run", required_argument, 0, 'r'},
                                       {"format", required_argument, 0, 'f'},
                                       {"output", required_argument, 0, 'o'},
                                       {"latency-ms", required_argument, 0, 'l'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *out = NULL, *format = "html";
  long long run_id = 0;
  double latency_ms = LJ_STUDY_LATENCY_MS;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = lj_getopt_exact(argc, argv, ":o:h", opts)) != -1) {
    char *end;
    switch (c) {
      case 'r':
        errno = 0;
        run_id = strtoll(optarg, &end, 10);
        if (errno || end == optarg || *end || run_id < 1)
          return usage_error(LJ_FAIL(LJ_EINVAL, "--run '%s': expected a run number >= 1", optarg));
        break;
      case 'f': format = optarg; break;
      case 'o': out = optarg; break;
      case 'l':
        if (lj_report_study_parse_latency(optarg, &latency_ms) < 0) return usage_error(LJ_EINVAL);
        break;
      case 'h': usage(stdout); return LJ_EXIT_OK;
      case ':': return usage_error(LJ_FAIL(LJ_EINVAL, "option %s needs a value", argv[optind - 1]));
      default:
        return usage_error(
            LJ_FAIL(LJ_EINVAL, "unknown option '%s' (see llamajoule report --help)", argv[optind - 1]));
    }
  }
  if (optind >= argc) return usage_error(LJ_FAIL(LJ_EINVAL, "report: which store? (llamajoule report RUN.db)"));
  if (optind + 1 < argc)
    return usage_error(LJ_FAIL(LJ_EINVAL, "report: one store at a time ('%s' is extra; see compare)", argv[optind + 1]));
  render_fn fn = NULL;
  for (size_t i = 0; i < sizeof kFormats / sizeof kFormats[0]; i++)
    if (!strcmp(format, kFormats[i].name)) fn = kFormats[i].fn;
  if (!fn) return usage_error(LJ_FAIL(LJ_EINVAL, "--format '%s': expected html, text, json, csv or perfetto", format));
  const char *path = argv[optind];
  char html_path[1100];
  if (!out && !strcmp(format, "html")) {  // the page beside the store
    size_t n = strlen(path);
    int has_db = n > 3 && !strcmp(path + n - 3, ".db");
    snprintf(html_path, sizeof html_path, "%.*s.html", (int)(has_db ? n - 3 : n), path);
    out = html_path;
  }
  // Writing the store over itself would lose it (a link or another name for it included).
  if (out && strcmp(out, "-") && lj_same_file(out, path))
    return usage_error(LJ_FAIL(LJ_EINVAL, "report: the output '%s' is the store being read ('%s'); give another -o",
                               out, path));
  if (run_id == 0) {
    int code = report_study(path, format, out, latency_ms);
    if (code >= 0) return code;
  }

  lj_report_run r;
  int rc = lj_report_load(path, run_id, &r);
  if (rc < 0) return lj_report_error(rc);
  if ((rc = summarize_kept_windows(&r)) < 0) {
    lj_report_run_free(&r);
    return lj_report_error(rc);
  }
  lj_output o;
  rc = lj_output_open(&o, out ? out : "-");
  if (rc == 0) rc = lj_output_close(&o, fn(o.f, &r));
  lj_report_run_free(&r);
  if (rc < 0) return lj_report_error(rc);
  if (!o.is_stdout) fprintf(stderr, "llamajoule: report: wrote %s\n", out);
  return LJ_EXIT_OK;
}
