// llamajoule sweep: a study of many profile points in one store (docs/cli.md).
// Each point (model, batch, prompt length, generated length) is one profile
// run with phase windows only, unless --stages asks for the per-stage
// attribution there. Resumable: a re-run with the same arguments skips the
// done points; --max-seconds stops before a point that would not finish in time.
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/option_names.h"
#include "common/clock.h"
#include "common/error.h"
#include "engine/weight_format.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/gemv_choice.h"
#include "model/tokenizer.h"
#include "profile/profile_plan.h"
#include "profile/sweep.h"
#include "store/store_study.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule sweep --models M1,M2,... [--batch B1,B2,...] [--prompt-len P1,...] [--gen-len G1,...]\n"
          "                        [--stages all|none|POINTS] [--engine auto|cuda|cpu] [--max-seconds S] -o STUDY.db\n\n"
          "A study: one profile run per point (model x batch x prompt length x generated length) in one store,\n"
          "with phase windows only (load, prefill, decode, ... with their repeats and pre-rolls; each point its\n"
          "own idle baseline and conditions). A point that does not fit the GPU is skipped, with the reason.\n"
          "Run it again with the same arguments to resume: done points are skipped, cut-short points redone.\n\n"
          "points:\n"
          "  --models M,...         presets or checkpoint directories (required)\n"
          "  --batch B,...          sequences (default 1)\n"
          "  --prompt-len P,...     prompt tokens per sequence (default 128)\n"
          "  --gen-len G,...        generated tokens per sequence (default 128)\n"
          "  --stages S             per-stage attribution (replays, timeline): all, none (default), or points\n"
          "                         MODEL:BATCH:PROMPT[:GEN], comma-separated (e.g. llama-3.2-1b:1:128)\n"
          "measurement (per point):\n"
          "  --repeats R            windows per phase (default 3)\n"
          "  --phase-seconds S      minimum length of a phase window (default 2)\n"
          "  --idle-seconds S       idle measured before each point (default 2)\n"
          "  --engine auto|cuda|cpu auto (default): cuda where a GPU is usable, else cpu (timing only)\n"
          "  --device N, --threads N, --seed S, --weights bf16|fp8, --fp8-scale row|tensor   as for\n"
          "                         profile (tensor joins the study's identity)\n"
          "  --gemv-config NAME     as for profile: every point's decode GEMVs (a name other than defaults\n"
          "                         joins the study's identity)\n"
          "study:\n"
          "  --max-seconds S        stop before a point that would not end within S seconds of the start\n"
          "                         (estimated from the points done); resume later (exit code 75)\n"
          "  --name NAME            the study's name (default: from the models)\n"
          "  -o, --output FILE      the study's store (required)\n"
          "  -h, --help\n\n"
          "Time per point (GPU, phase windows only): about idle 2 s + load >= 2 s + 3 x (tokenize 2 s + prefill\n"
          "0.2 + 2 s + decode 0.2 + 2 s + detokenize 2 s) + ~5 s of warm-up, setup and storing: ~35 s.\n"
          "exit codes: 0 every point done or skipped, 1 a point failed (the others ran), 2 bad command line,\n"
          "3 an unknown model or a store holding another study, 4 --engine cuda without a GPU,\n"
          "75 stopped by --max-seconds (resumable), 130 interrupted (the point marked incomplete; resumable).\n");
}

typedef struct {
  char models[LJ_SWEEP_MAX_VALUES][512];
  int n_models, batches[LJ_SWEEP_MAX_VALUES], n_batches, prompts[LJ_SWEEP_MAX_VALUES], n_prompts,
      gens[LJ_SWEEP_MAX_VALUES], n_gens;
  const char *stages, *engine, *out, *name;
  double max_seconds;
  lj_sweep_settings s;
} sweep_args;

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return LJ_FAIL(LJ_EINVAL, "%s '%s': expected a number in [%g, %g]", opt, s, lo, hi);
  *out = v;
  return 0;
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
  double v = 0;
  LJ_TRY(parse_num(opt, s, lo, hi, &v));
  if (v != floor(v)) return LJ_FAIL(LJ_EINVAL, "%s '%s': expected an integer", opt, s);
  *out = (int)v;
  return 0;
}

enum {
  OPT_MODELS = 256, OPT_BATCH, OPT_PROMPT_LEN, OPT_GEN_LEN, OPT_STAGES, OPT_ENGINE, OPT_MAX_S, OPT_REPEATS,
  OPT_PHASE_S, OPT_IDLE_S, OPT_DEVICE, OPT_THREADS, OPT_SEED, OPT_NAME, OPT_WEIGHTS, OPT_FP8_SCALE,
  OPT_GEMV
};

// 0 ok, 1 help printed, negative: usage error (message recorded).
static int parse_args(int argc, char **argv, sweep_args *a) {
  static const struct option opts[] = {
      {"models", required_argument, 0, OPT_MODELS}, {"batch", required_argument, 0, OPT_BATCH},
      {"prompt-len", required_argument, 0, OPT_PROMPT_LEN}, {"gen-len", required_argument, 0, OPT_GEN_LEN},
      {"stages", required_argument, 0, OPT_STAGES}, {"engine", required_argument, 0, OPT_ENGINE},
      {"max-seconds", required_argument, 0, OPT_MAX_S}, {"repeats", required_argument, 0, OPT_REPEATS},
      {"phase-seconds", required_argument, 0, OPT_PHASE_S}, {"idle-seconds", required_argument, 0, OPT_IDLE_S},
      {"device", required_argument, 0, OPT_DEVICE}, {"threads", required_argument, 0, OPT_THREADS},
      {"seed", required_argument, 0, OPT_SEED}, {"name", required_argument, 0, OPT_NAME},
      {"weights", required_argument, 0, OPT_WEIGHTS}, {"fp8-scale", required_argument, 0, OPT_FP8_SCALE},
      {"gemv-config", required_argument, 0, OPT_GEMV},
      {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  memset(a, 0, sizeof *a);
  lj_sweep_settings_default(&a->s);
  a->batches[0] = 1, a->prompts[0] = 128, a->gens[0] = 128;
  a->n_batches = a->n_prompts = a->n_gens = 1;
  a->stages = "none", a->engine = "auto";
  optind = 1;
  opterr = 0;
  int c, fp8_scale_given = 0;
  double v = 0;
  while ((c = lj_getopt_exact(argc, argv, ":o:h", opts)) != -1) {
    switch (c) {
      case OPT_MODELS: LJ_TRY(lj_sweep_parse_names("--models", optarg, a->models, LJ_SWEEP_MAX_VALUES, &a->n_models)); break;
      case OPT_BATCH:
        LJ_TRY(lj_sweep_parse_ints("--batch", optarg, 1, 1024, a->batches, LJ_SWEEP_MAX_VALUES, &a->n_batches));
        break;
      case OPT_PROMPT_LEN:
        LJ_TRY(lj_sweep_parse_ints("--prompt-len", optarg, 1, 131072, a->prompts, LJ_SWEEP_MAX_VALUES, &a->n_prompts));
        break;
      case OPT_GEN_LEN:
        LJ_TRY(lj_sweep_parse_ints("--gen-len", optarg, 2, 131072, a->gens, LJ_SWEEP_MAX_VALUES, &a->n_gens));
        break;
      case OPT_STAGES: a->stages = optarg; break;
      case OPT_ENGINE: a->engine = optarg; break;
      case OPT_MAX_S: LJ_TRY(parse_num("--max-seconds", optarg, 1, 1e7, &a->max_seconds)); break;
      case OPT_REPEATS: LJ_TRY(parse_int("--repeats", optarg, 1, 32, &a->s.repeats)); break;
      case OPT_PHASE_S: LJ_TRY(parse_num("--phase-seconds", optarg, 0.01, 600, &a->s.phase_seconds)); break;
      case OPT_IDLE_S: LJ_TRY(parse_num("--idle-seconds", optarg, 0.5, 600, &a->s.idle_seconds)); break;
      case OPT_DEVICE: LJ_TRY(parse_int("--device", optarg, 0, 255, &a->s.device)); break;
      case OPT_THREADS: LJ_TRY(parse_int("--threads", optarg, 1, 4096, &a->s.threads)); break;
      case OPT_SEED: LJ_TRY(parse_num("--seed", optarg, 0, 9007199254740992.0, &v)); a->s.seed = (uint64_t)v; break;
      case OPT_WEIGHTS:
        a->s.weights = lj_weight_format_parse(optarg);
        if (a->s.weights < 0) return LJ_FAIL(LJ_EINVAL, "--weights '%s': expected bf16 or fp8", optarg);
        break;
      case OPT_FP8_SCALE:
        a->s.fp8_scale = lj_fp8_scale_parse(optarg);
        if (a->s.fp8_scale < 0) return LJ_FAIL(LJ_EINVAL, "--fp8-scale '%s': expected row or tensor", optarg);
        fp8_scale_given = 1;
        break;
      case OPT_GEMV: LJ_TRY(lj_gemv_choice_parse(optarg, &a->s.gemv)); break;
      case OPT_NAME:
        if (!*optarg || strlen(optarg) >= 256) return LJ_FAIL(LJ_EINVAL, "--name: 1 to 255 bytes");
        a->name = optarg;
        break;
      case 'o': a->out = optarg; break;
      case 'h': usage(stdout); return 1;
      case ':': return LJ_FAIL(LJ_EINVAL, "option %s needs a value", argv[optind - 1]);
      default: return LJ_FAIL(LJ_EINVAL, "unknown option '%s' (see llamajoule sweep --help)", argv[optind - 1]);
    }
  }
  if (optind < argc) return LJ_FAIL(LJ_EINVAL, "unexpected argument '%s'", argv[optind]);
  if (!a->n_models) return LJ_FAIL(LJ_EINVAL, "sweep: which models? (--models llama-3.2-1b,llama-3.2-3b)");
  LJ_TRY(lj_fp8_scale_check(a->s.weights, a->s.fp8_scale, fp8_scale_given));
  if (!a->out) return LJ_FAIL(LJ_EINVAL, "sweep: -o STUDY.db is required (the study's own store)");
  if (strcmp(a->engine, "auto") && strcmp(a->engine, "cuda") && strcmp(a->engine, "cpu"))
    return LJ_FAIL(LJ_EINVAL, "--engine '%s': expected auto, cuda or cpu", a->engine);
  return 0;
}

// Models are checked before anything is stored: a preset or a checkpoint directory.
static int check_model(const char *m) {
  struct stat sb;
  lj_model_config c;
  if (stat(m, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
  if (lj_config_preset(m, &c) == 0) return 0;
  return lj_fail_context(LJ_EINVAL, "--models: '%s' is neither a checkpoint directory nor a preset", m);
}

static void duration_text(double s, char *buf, size_t cap) {
  if (!(s >= 0) || !isfinite(s)) snprintf(buf, cap, "?");
  else if (s < 60) snprintf(buf, cap, "%.1f s", s);
  else if (s < 3600) snprintf(buf, cap, "%d min %02d s", (int)s / 60, (int)s % 60);
  else snprintf(buf, cap, "%d h %02d min", (int)s / 3600, (int)s % 3600 / 60);
}

// "decode 0.0123 J/token above idle (0.0161 gross)" or, timing only, "decode 1.23 ms/token", for
// prefill and decode: both figures, so that a reader does not take the dynamic one for the gross one.
static void phase_text(const lj_profile_result *r, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int ph = LJ_PHASE_PREFILL; ph <= LJ_PHASE_DECODE; ph++) {
    const lj_phase_summary *s = &r->phases[ph];
    if (s->n == 0 || s->tokens_per_unit <= 0) continue;
    int k = r->plan.timing_only || !isfinite(s->dynamic_j_per_token)
                ? snprintf(buf + used, cap - used, "%s%s %.4g ms/token", used ? ", " : "", lj_phase_name((lj_phase)ph),
                           s->time_s.mean / (double)s->tokens_per_unit * 1e3)
                : snprintf(buf + used, cap - used, "%s%s %.4g J/token above idle (%.4g gross)", used ? ", " : "",
                           lj_phase_name((lj_phase)ph), s->dynamic_j_per_token, s->gross_j_per_token);
    if (k < 0 || (size_t)k >= cap - used) break;
    used += (size_t)k;
  }
}

static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig) {
  (void)sig;
  g_interrupted = 1;
}

// "llamajoule sweep ..." as typed.
static void command_line(int argc, char **argv, char *buf, size_t cap) {
  size_t used = 0;
  int n = snprintf(buf, cap, "llamajoule");
  used = n > 0 ? (size_t)n : 0;
  for (int i = 0; i < argc && used < cap; i++) {
    n = snprintf(buf + used, cap - used, " %s", argv[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
}

typedef struct {
  lj_store *st;
  lj_study study;
  lj_study_point *points;
  size_t n;
  int on_gpu;
  double *estimate;         // per point: seconds before calibration (0: it cannot run here)
  char (*refusal)[512];     // per point: why it cannot run here ("" when it can)
} sweep_state;

// Why the point cannot run here ("" when it can): its shapes for the model and
// the profile's own refusals (a tokenizer larger than the vocabulary, CPU memory).
static int point_refusal(const sweep_state *w, const lj_profile_options *o, char *reason, size_t cap) {
  const char *ckpt = NULL;
  lj_profile_plan plan;
  reason[0] = '\0';
  memset(&plan, 0, sizeof plan);
  int rc = lj_profile_plan_make(o, &plan, &ckpt);
  if (rc == 0) rc = lj_profile_preflight(o, &plan, ckpt, w->on_gpu);
  if (rc == LJ_EINVAL || rc == LJ_ENOMEM) {  // this point's shapes, not a failure of the study
    snprintf(reason, cap, "%s", lj_error_message());
    lj_clear_error();
    return 0;
  }
  return rc;
}

// On the GPU: does the point's memory plan fit the memory free now? ("" when it does.)
static int gpu_refusal(const sweep_args *a, const sweep_state *w, const lj_profile_options *o, char *reason,
                       size_t cap) {
  reason[0] = '\0';
  if (!w->on_gpu) return 0;
  const char *ckpt = NULL;
  lj_profile_plan plan;
  memset(&plan, 0, sizeof plan);
  LJ_TRY(lj_profile_plan_make(o, &plan, &ckpt));
  int64_t free_b = 0, total_b = 0;
  LJ_TRY(lj_cuda_device_memory(a->s.device, &free_b, &total_b));
  lj_study_point p;
  memset(&p, 0, sizeof p);
  p.batch = o->batch, p.prompt_len = o->prompt_len, p.gen_len = o->gen_len;
  lj_sweep_point_fits(&plan.config, a->s.weights, &p, free_b, reason, cap);
  return 0;
}

static double estimate_point(const sweep_state *w, const lj_profile_options *o) {
  lj_profile_plan plan;
  const char *ckpt = NULL;
  memset(&plan, 0, sizeof plan);
  if (lj_profile_plan_make(o, &plan, &ckpt) < 0) {
    lj_clear_error();
    return 0;
  }
  char path[4096];
  int tokenizer = lj_tokenizer_find(o->tokenizer, ckpt, path, sizeof path) == 0;
  lj_clear_error();
  return lj_sweep_estimate_s(&plan.config, o, w->on_gpu, tokenizer);
}

// Before the first point: what each point to run would take, and which cannot run here.
static int precheck(const sweep_args *a, sweep_state *w) {
  w->estimate = calloc(w->n, sizeof *w->estimate);
  w->refusal = calloc(w->n, sizeof *w->refusal);
  if (!w->estimate || !w->refusal) return LJ_FAIL(LJ_ENOMEM, "sweep: out of memory");
  for (size_t i = 0; i < w->n; i++) {
    if (!lj_sweep_point_pending(&w->points[i])) continue;
    lj_profile_options o;
    lj_sweep_point_options(&a->s, &w->points[i], &o);
    LJ_TRY(point_refusal(w, &o, w->refusal[i], sizeof w->refusal[i]));
    if (!w->refusal[i][0]) LJ_TRY(gpu_refusal(a, w, &o, w->refusal[i], sizeof w->refusal[i]));
    if (!w->refusal[i][0]) w->estimate[i] = estimate_point(w, &o);
  }
  return 0;
}

// Estimated seconds of the points still to run, scaled by what this machine took so far.
static double time_left(const sweep_state *w, size_t from) {
  double k = lj_sweep_calibration(w->points, w->n), s = 0;
  for (size_t i = from; i < w->n; i++)
    if (lj_sweep_point_pending(&w->points[i])) s += w->estimate[i] * k;
  return s;
}

static void counts(const sweep_state *w, size_t *done, size_t *skipped, size_t *failed) {
  *done = *skipped = *failed = 0;
  for (size_t i = 0; i < w->n; i++) {
    *done += w->points[i].status == LJ_POINT_DONE;
    *skipped += w->points[i].status == LJ_POINT_SKIPPED;
    *failed += w->points[i].status == LJ_POINT_FAILED;
  }
}

static void point_label(const lj_study_point *p, char *buf, size_t cap) {
  snprintf(buf, cap, "%s batch %d prompt %d gen %d%s", p->model, p->batch, p->prompt_len, p->gen_len,
           p->stages ? " +stages" : "");
}

// Runs every pending point in order. Returns an exit code.
static int run_points(const sweep_args *a, sweep_state *w, const char *cmdline) {
  int64_t t0 = lj_mono_ns();
  int any_failed = 0;
  for (size_t i = 0; i < w->n; i++) {
    lj_study_point *p = &w->points[i];
    char label[700], tl[32], el[32];
    point_label(p, label, sizeof label);
    if (!lj_sweep_point_pending(p)) continue;
    if (g_interrupted) break;
    lj_profile_options o;
    lj_sweep_point_options(&a->s, p, &o);
    o.interrupted = &g_interrupted;
    char reason[512];
    snprintf(reason, sizeof reason, "%s", w->refusal[i]);
    int rc = reason[0] ? 0 : gpu_refusal(a, w, &o, reason, sizeof reason);  // the memory free now
    if (rc < 0) return lj_report_error(rc);
    if (reason[0]) {
      p->status = LJ_POINT_SKIPPED, p->run_id = 0;
      snprintf(p->reason, sizeof p->reason, "%s", reason);
      w->estimate[i] = 0;
      if ((rc = lj_store_study_set_point(w->st, w->study.id, i, p)) < 0) return lj_report_error(rc);
      fprintf(stderr, "llamajoule: sweep: [%zu/%zu] %s: skipped: %s\n", i + 1, w->n, label, reason);
      continue;
    }
    double estimate = w->estimate[i], predicted = estimate * lj_sweep_calibration(w->points, w->n);
    double elapsed = (double)(lj_mono_ns() - t0) * 1e-9;
    if (!lj_sweep_budget_allows(elapsed, predicted, a->max_seconds)) {
      size_t done, skipped, failed;
      counts(w, &done, &skipped, &failed);
      duration_text(predicted, tl, sizeof tl);
      duration_text(elapsed, el, sizeof el);
      fprintf(stderr,
              "llamajoule: sweep: stopped before point %zu/%zu (%s): it should take %s and %s of the %.0f s "
              "(--max-seconds) are used; %zu of %zu points done, %zu skipped. Run the same command to resume.\n",
              i + 1, w->n, label, tl, el, a->max_seconds, done, w->n, skipped);
      return LJ_EXIT_UNFINISHED;
    }
    duration_text(predicted, tl, sizeof tl);
    fprintf(stderr, "llamajoule: sweep: [%zu/%zu] %s: running (about %s)%s\n", i + 1, w->n, label, tl,
            p->attempts ? " again: it was cut short before" : "");
    p->estimate_s = estimate;
    lj_profile_result r;
    lj_profile_result_init(&r);
    rc = lj_sweep_run_point(w->st, w->study.id, i, p, &o, w->on_gpu, cmdline, &r);
    char phases[256];
    phase_text(&r, phases, sizeof phases);
    lj_profile_result_free(&r);
    if (rc == LJ_EINTERRUPTED || g_interrupted) {
      fprintf(stderr,
              "llamajoule: sweep: interrupted: point %zu/%zu (%s) is marked incomplete (run %lld); run the same "
              "command to resume\n",
              i + 1, w->n, label, (long long)p->run_id);
      return LJ_EXIT_INTERRUPTED;
    }
    if (rc < 0 && p->status != LJ_POINT_FAILED) return lj_report_error(rc);  // the store itself failed
    if (rc < 0) {
      any_failed = 1;
      fprintf(stderr, "llamajoule: sweep: [%zu/%zu] %s: FAILED (run %lld): %s\n", i + 1, w->n, label,
              (long long)p->run_id, p->reason);
      lj_clear_error();
      continue;
    }
    size_t done, skipped, failed;
    counts(w, &done, &skipped, &failed);
    duration_text(p->seconds, el, sizeof el);
    duration_text(time_left(w, i + 1), tl, sizeof tl);
    fprintf(stderr, "llamajoule: sweep: [%zu/%zu] %s: done in %s (run %lld; %s); %zu done, %zu skipped, about %s left\n",
            i + 1, w->n, label, el, (long long)p->run_id, phases[0] ? phases : "no phase", done, skipped, tl);
  }
  if (g_interrupted) {
    fprintf(stderr, "llamajoule: sweep: interrupted between points; run the same command to resume\n");
    return LJ_EXIT_INTERRUPTED;
  }
  return any_failed ? LJ_EXIT_FAILURE : LJ_EXIT_OK;
}

static void print_plan(const sweep_args *a, const sweep_state *w, int resumed) {
  size_t done, skipped, failed, todo = 0, refused = 0;
  counts(w, &done, &skipped, &failed);
  for (size_t i = 0; i < w->n; i++)
    if (lj_sweep_point_pending(&w->points[i])) todo += !w->refusal[i][0], refused += w->refusal[i][0] != 0;
  char tl[32], mean[32];
  duration_text(time_left(w, 0), tl, sizeof tl);
  duration_text(todo ? time_left(w, 0) / (double)todo : 0, mean, sizeof mean);
  fprintf(stderr, "llamajoule: sweep: study '%s' in %s: %zu points (%s engine%s)\n", w->study.name, a->out, w->n,
          w->on_gpu ? "cuda" : "cpu", w->on_gpu ? "" : ", TIMING ONLY: no energy without an NVIDIA GPU");
  if (resumed)
    fprintf(stderr, "llamajoule: sweep: resuming: %zu points done before are skipped\n", done);
  for (size_t i = 0; i < w->n; i++)
    if (resumed && w->points[i].status == LJ_POINT_DONE) {
      char label[700];
      point_label(&w->points[i], label, sizeof label);
      fprintf(stderr, "llamajoule: sweep: [%zu/%zu] %s: already done (run %lld), skipped\n", i + 1, w->n, label,
              (long long)w->points[i].run_id);
    }
  if (w->on_gpu)
    fprintf(stderr,
            "llamajoule: sweep: per point: idle %g s + load (>= %g s) + %d x (tokenize %g s, prefill 0.2 + %g s, "
            "decode 0.2 + %g s, detokenize %g s) + warm-up, setup and storing; --stages adds the replays\n",
            a->s.idle_seconds, a->s.phase_seconds, a->s.repeats, a->s.phase_seconds, a->s.phase_seconds,
            a->s.phase_seconds, a->s.phase_seconds);
  else
    fprintf(stderr,
            "llamajoule: sweep: per point: load + %d x (tokenize, prefill windows of >= %g s, one decode, "
            "detokenize) + setup and storing\n",
            a->s.repeats, a->s.phase_seconds);
  fprintf(stderr, "llamajoule: sweep: %zu points to run, about %s (%s per point)%s\n", todo, tl, mean,
          refused ? "; some cannot run here and will be skipped" : "");
}

int lj_cmd_sweep(int argc, char **argv) {
  sweep_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc == 1) return LJ_EXIT_OK;
  if (rc < 0) {
    lj_report_error(rc);
    return LJ_EXIT_USAGE;
  }
  for (int i = 0; i < a.n_models; i++)
    if ((rc = check_model(a.models[i])) < 0) return lj_report_error(rc);
  sweep_state w;
  memset(&w, 0, sizeof w);
  rc = lj_sweep_points_make(a.models, a.n_models, a.batches, a.n_batches, a.prompts, a.n_prompts, a.gens, a.n_gens,
                            &w.points, &w.n);
  if (rc == 0) rc = lj_sweep_parse_stages(a.stages, w.points, w.n);
  if (rc < 0) {
    free(w.points);
    lj_report_error(rc);
    return LJ_EXIT_USAGE;
  }
  w.on_gpu = strcmp(a.engine, "cpu") != 0 && lj_cuda_device_count() > 0;
  if (!strcmp(a.engine, "cuda") && !w.on_gpu) {
    free(w.points);
    return lj_report_error(LJ_FAIL(LJ_ENODEV, "--engine cuda: no usable CUDA device (or a build without CUDA)"));
  }
  // The whole study's setting: refused before anything is stored, not point by point.
  if ((rc = lj_gemv_choice_check(a.s.gemv, w.on_gpu, a.s.weights, LJ_FUSION_NONE)) < 0) {
    free(w.points);
    return lj_report_error(rc);
  }
  a.s.engine = w.on_gpu ? "cuda" : "cpu";
  lj_sweep_arguments(&a.s, w.points, w.n, w.study.arguments, sizeof w.study.arguments);
  snprintf(w.study.engine, sizeof w.study.engine, "%s", a.s.engine);
  if (a.name) {
    snprintf(w.study.name, sizeof w.study.name, "%s", a.name);
  } else {
    size_t used = (size_t)snprintf(w.study.name, sizeof w.study.name, "sweep of");
    for (int i = 0; i < a.n_models && used < sizeof w.study.name; i++)
      used += (size_t)snprintf(w.study.name + used, sizeof w.study.name - used, "%s%s", i ? ", " : " ", a.models[i]);
  }
  char cmdline[2048];
  command_line(argc, argv, cmdline, sizeof cmdline);
  snprintf(w.study.command_line, sizeof w.study.command_line, "%s", cmdline);
  int resumed = 0;
  struct stat sb;
  int existed = stat(a.out, &sb) == 0;  // a store this run creates and cannot start in is removed again
  rc = lj_store_open(a.out, &w.st);
  if (rc == 0) rc = lj_store_study_begin(w.st, &w.study, w.points, w.n, &resumed);
  if (rc < 0) {
    lj_store_close(w.st);
    if (!existed) lj_store_remove_unused(a.out);
    free(w.points);
    return lj_report_error(rc);
  }
  if (!w.on_gpu)
    fprintf(stderr, "llamajoule: sweep: no usable NVIDIA GPU%s: the CPU engine runs, TIMING ONLY (no energy).\n",
            strcmp(a.engine, "cpu") ? "" : " requested (--engine cpu)");
  if ((rc = precheck(&a, &w)) < 0) {
    lj_store_close(w.st);
    free(w.points), free(w.estimate), free(w.refusal);
    return lj_report_error(rc);
  }
  print_plan(&a, &w, resumed);

  // Ctrl-C, SIGTERM or a hang-up stop the point in progress (kept, marked
  // incomplete) and the study; started under nohup, a hang-up is ignored.
  static const int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};
  enum { kNumStop = sizeof kStopSignals / sizeof kStopSignals[0] };
  struct sigaction sa, old[kNumStop];
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < kNumStop; i++) {
    sigaction(kStopSignals[i], NULL, &old[i]);
    if (!(kStopSignals[i] == SIGHUP && old[i].sa_handler == SIG_IGN)) sigaction(kStopSignals[i], &sa, NULL);
  }
  int code = run_points(&a, &w, cmdline);
  for (int i = 0; i < kNumStop; i++) sigaction(kStopSignals[i], &old[i], NULL);

  size_t done, skipped, failed;
  counts(&w, &done, &skipped, &failed);
  fprintf(stderr, "llamajoule: sweep: %s: %zu of %zu points done, %zu skipped, %zu failed, %zu to do%s\n", a.out, done,
          w.n, skipped, failed, w.n - done - skipped,
          code == LJ_EXIT_OK ? "" : " (run the same command to resume)");
  lj_store_close(w.st);
  free(w.points), free(w.estimate), free(w.refusal);
  return code;
}
