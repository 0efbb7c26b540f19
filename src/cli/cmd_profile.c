// llamajoule profile: energy per phase, per layer and per stage of a Llama
// model's inference on one GPU, with error bars and the check that the parts
// add up (docs/attribution.md); on a machine without a usable GPU, the CPU
// engine's times only. Everything goes to the store; the summary to stdout.
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/option_names.h"
#include "cli/run_record.h"
#include "common/error.h"
#include "common/output_file.h"
#include "engine/weight_format.h"
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/cuda/tp_comm.h"
#include "profile/profile_plan.h"
#include "profile/profile_run.h"
#include "profile/sweep.h"
#include "report/report.h"
#include "store/store.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: llamajoule profile [--model PRESET|DIR] [options]\n\n"
          "Measures where the energy of a model's inference goes on one GPU: per phase (load, tokenize,\n"
          "prefill, decode, detokenize), per stage inside the layers (norms, qkv, rope, attn, o_proj,\n"
          "gate_up, swiglu, down, lm_head, sample) and per layer, with 95%% intervals and the check that\n"
          "the stages add up to the measured phases. Without a usable GPU the CPU engine runs, timing only.\n\n"
          "workload:\n"
          "  --model M              preset (random weights: llama-3.2-1b (default), llama-3.2-3b,\n"
          "                         llama-3.1-8b, llama-3.3-70b, tiny, tiny-untied) or an HF\n"
          "                         checkpoint directory\n"
          "  --batch B              sequences (default 1)\n"
          "  --prompt-len P         prompt tokens per sequence (default 128)\n"
          "  --prompt TEXT          prompt text, cut or repeated to P tokens (default: a built-in text)\n"
          "  --gen-len G            generated tokens per sequence (default 128)\n"
          "  --tokenizer FILE       tokenizer.json (default: the checkpoint's, then the installed one)\n"
          "measurement:\n"
          "  --repeats R            windows per phase (default 3)\n"
          "  --trials N             replay trials per stage, interleaved across the stages in a random\n"
          "                         order each round (default 8)\n"
          "  --replay-seconds S     length of one replay trial (default 0.4)\n"
          "  --phase-seconds S      minimum length of a phase window; short phases repeat (default 2)\n"
          "  --decode-kv N          KV lengths at which decode attention is replayed (default 3)\n"
          "  --idle-seconds S       idle measurement before the run (default 5)\n"
          "  --cooldown-seconds S   idle after the measurements, for idle against temperature (default 6; 0: off)\n"
          "  --idle-w W             use W watts as the idle baseline instead of measuring\n"
          "  --replay-duty D        fraction of a replay trial the stage runs, in (0, 1]: ~2 ms bursts and\n"
          "                         idle gaps, so that a stage does not sit at the power cap (default 0.5;\n"
          "                         1 = back to back)\n"
          "  --no-sequence          skip the sequence replay of the layer's stages (prefill and decode)\n"
          "  --no-shapley           skip the leave-one-out and permuted-order replays (the Shapley split)\n"
          "  --per-layer            replay each decoder layer alone, and each stage of each layer, on its own\n"
          "                         input, prefill and decode; check that the layers agree and skip layers in\n"
          "                         the real run (1B on an H100: ~8.5 min more; docs/cli.md); --no-layer-stages\n"
          "                         leaves the layers x stages out (~2 min less)\n"
          "  --skip-rounds N        with --per-layer: rounds of the layer-skip windows, each skipped window\n"
          "                         between two full ones (default 10, --quick 4; 1B: ~28 s a round)\n"
          "  --known-answer         insert a calibration copy into each layer (an eighth of a layer's bf16\n"
          "                         weights, 16 MiB at least) and check that every method recovers its\n"
          "                         energy (~60 s more); --known-answer-mb N sets its size\n"
          "  --quick                a first look (<= 90 s; 60 s for 1B on an H100): --repeats 2 --phase-seconds 1\n"
          "                         --trials 3 --replay-seconds 0.3 --decode-kv 2 --idle-seconds 2 --cooldown-seconds 3\n"
          "                         --no-sequence --no-shapley --ablate none --no-overhead --skip-rounds 4 (no head fit);\n"
          "                         options given with it override these\n"
          "  --ablate none|attn|mlp|both  prefill and decode without that part, against each method's\n"
          "                         estimate (default both)\n"
          "  --ablation-rounds N    rounds of the ablation windows, each ablated window between two full\n"
          "                         ones (default 4, --quick 3; 1B: ~19 s a round)\n"
          "  --head-fit             the attention-head grid: decode attention alone at KV lengths x batches x\n"
          "                         active KV groups, 2 trials each in a random order, fitted as fixed + per KV\n"
          "                         group + per byte of K and V read, with a lack-of-fit test (off by default;\n"
          "                         1B on an H100: ~65 s; the time is estimated before it starts)\n"
          "  --head-fit-kv LIST     its KV lengths (default 512,1024,2048,4096,8192,16384,32768)\n"
          "  --head-fit-batch LIST  its batches (default 1,8,32)\n"
          "  --head-fit-groups LIST its active KV-group counts (default 1, half and all of the model's)\n"
          "  --head-fit-trials N    trials per point (default 2: the lack-of-fit test needs >= 2)\n"
          "  --head-fit-seconds S   one trial's window (default 0.3); each --head-fit-* option implies --head-fit\n"
          "  --no-timeline, --no-ablation, --no-head-fit, --no-overhead   skip that part\n"
          "  --device N             GPU (CUDA index, default 0)\n"
          "  --engine auto|cuda|cpu auto (default): cuda where a GPU is usable, else cpu (timing only)\n"
          "  --threads N            CPU engine threads (default: all)\n"
          "  --tp N                 tensor-parallel degree (default 1): with --engine cpu the CPU engine emulates\n"
          "                         N ranks, and the all-reduce stages attn_allreduce and mlp_allreduce get rows\n"
          "                         of their own (docs/tensor-parallel.md); on the GPU the ranks' phase windows\n"
          "                         are measured on every rank's GPU (per-GPU table; the stage methods are not\n"
          "                         built for the ranks yet: --per-layer, --head-fit, --known-answer and\n"
          "                         --fusion production are refused, the other methods left out)\n"
          "  --tp-backend B         the GPU's ranks: nccl (default: rank r on GPU r) or loopback (every rank on\n"
          "                         --device, a test of the sharded path on one GPU); given at --tp 1, the\n"
          "                         tensor-parallel profile runs one rank\n"
          "  --seed S               weights of a preset, replay offsets (default 0)\n"
          "  --weights bf16|fp8     the linear layers: bf16 (default) or FP8 E4M3 (docs/engine-cuda.md)\n"
          "  --fp8-scale row|tensor with --weights fp8: one scale per output row (default) or one per\n"
          "                         tensor, stored as weights fp8-tensor\n"
          "  --fusion none|production|norm-once  the CUDA engine's decode kernels: one per stage (none,\n"
          "                         default) or a fused mode's composite stages (production, norm-once;\n"
          "                         bf16 weights only; the CPU engine refuses them); `compare` of two\n"
          "                         modes says what the boundaries cost\n"
          "  --gemv-config NAME     the CUDA engine's decode GEMVs: defaults (the per-shape settings measured\n"
          "                         fastest) or one bf16 configuration on every matrix, r1u1 .. r8u4 (r4u2: 4\n"
          "                         rows per block, 2 loads in flight); bf16 weights only, the CPU engine refuses\n"
          "                         it; the plan records it (docs/engine-cuda.md, \"Decode energy\")\n"
          "output:\n"
          "  -o, --output FILE      store (SQLite; default: the default store, see docs/store.md)\n"
          "  --json                 print the summary as JSON to stdout (docs/profile-json.md), the text to stderr\n"
          "  -h, --help\n\n"
          "Ctrl-C (or SIGTERM, SIGHUP) stops the run; what was measured is stored, marked incomplete\n"
          "(exit code 130). The plan is stored as the run starts and each phase window as it closes, so\n"
          "even a killed run keeps them (report renders it, marked incomplete).\n");
}

typedef struct {
  int quick;  // --quick given
  int tp_backend_given;  // --tp-backend given: the tensor-parallel GPU profile even at --tp 1
  lj_profile_options o;
  const char *out_path, *engine;
  int json;
} profile_args;

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
  OPT_BATCH = 256, OPT_PROMPT_LEN, OPT_PROMPT, OPT_GEN_LEN, OPT_TOKENIZER, OPT_REPEATS, OPT_TRIALS, OPT_REPLAY_S,
  OPT_PHASE_S, OPT_DECODE_KV, OPT_IDLE_S, OPT_COOLDOWN_S, OPT_IDLE_W, OPT_NO_TIMELINE, OPT_NO_ABLATION, OPT_NO_HEAD_FIT,
  OPT_NO_SEQUENCE, OPT_NO_OVERHEAD, OPT_DEVICE, OPT_ENGINE, OPT_THREADS, OPT_SEED, OPT_JSON, OPT_MODEL,
  OPT_DUTY, OPT_ABLATE, OPT_QUICK, OPT_WEIGHTS, OPT_FP8_SCALE, OPT_FUSION, OPT_HEAD_FIT, OPT_NO_SHAPLEY, OPT_KNOWN, OPT_KNOWN_MB,
  OPT_PER_LAYER, OPT_NO_LAYER_STAGES, OPT_SKIP_ROUNDS, OPT_ABLATION_ROUNDS, OPT_HEAD_KV, OPT_HEAD_BATCH,
  OPT_HEAD_GROUPS, OPT_HEAD_TRIALS, OPT_HEAD_SECONDS, OPT_TP, OPT_TP_BACKEND, OPT_GEMV
};

// 0 ok, 1 help printed, negative: usage error (message recorded).
static int parse_args(int argc, char **argv, profile_args *a) {
  static const struct option opts[] = {
      {"model", required_argument, 0, OPT_MODEL}, {"batch", required_argument, 0, OPT_BATCH},
      {"prompt-len", required_argument, 0, OPT_PROMPT_LEN}, {"prompt", required_argument, 0, OPT_PROMPT},
      {"gen-len", required_argument, 0, OPT_GEN_LEN}, {"tokenizer", required_argument, 0, OPT_TOKENIZER},
      {"repeats", required_argument, 0, OPT_REPEATS}, {"trials", required_argument, 0, OPT_TRIALS},
      {"replay-seconds", required_argument, 0, OPT_REPLAY_S}, {"phase-seconds", required_argument, 0, OPT_PHASE_S},
      {"decode-kv", required_argument, 0, OPT_DECODE_KV}, {"idle-seconds", required_argument, 0, OPT_IDLE_S},
      {"cooldown-seconds", required_argument, 0, OPT_COOLDOWN_S},
      {"idle-w", required_argument, 0, OPT_IDLE_W}, {"no-timeline", no_argument, 0, OPT_NO_TIMELINE},
      {"no-ablation", no_argument, 0, OPT_NO_ABLATION}, {"no-head-fit", no_argument, 0, OPT_NO_HEAD_FIT},
      {"no-sequence", no_argument, 0, OPT_NO_SEQUENCE},
      {"no-overhead", no_argument, 0, OPT_NO_OVERHEAD}, {"device", required_argument, 0, OPT_DEVICE},
      {"engine", required_argument, 0, OPT_ENGINE}, {"threads", required_argument, 0, OPT_THREADS},
      {"tp", required_argument, 0, OPT_TP}, {"tp-backend", required_argument, 0, OPT_TP_BACKEND},
      {"seed", required_argument, 0, OPT_SEED}, {"json", no_argument, 0, OPT_JSON},
      {"replay-duty", required_argument, 0, OPT_DUTY}, {"ablate", required_argument, 0, OPT_ABLATE},
      {"quick", no_argument, 0, OPT_QUICK},
      {"weights", required_argument, 0, OPT_WEIGHTS}, {"fusion", required_argument, 0, OPT_FUSION},
      {"fp8-scale", required_argument, 0, OPT_FP8_SCALE}, {"gemv-config", required_argument, 0, OPT_GEMV},
      {"head-fit", no_argument, 0, OPT_HEAD_FIT}, {"no-shapley", no_argument, 0, OPT_NO_SHAPLEY},
      {"known-answer", no_argument, 0, OPT_KNOWN}, {"known-answer-mb", required_argument, 0, OPT_KNOWN_MB},
      {"per-layer", no_argument, 0, OPT_PER_LAYER}, {"no-layer-stages", no_argument, 0, OPT_NO_LAYER_STAGES},
      {"skip-rounds", required_argument, 0, OPT_SKIP_ROUNDS},
      {"ablation-rounds", required_argument, 0, OPT_ABLATION_ROUNDS},
      {"head-fit-kv", required_argument, 0, OPT_HEAD_KV}, {"head-fit-batch", required_argument, 0, OPT_HEAD_BATCH},
      {"head-fit-groups", required_argument, 0, OPT_HEAD_GROUPS},
      {"head-fit-trials", required_argument, 0, OPT_HEAD_TRIALS},
      {"head-fit-seconds", required_argument, 0, OPT_HEAD_SECONDS},
      {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  memset(a, 0, sizeof *a);
  lj_profile_options_default(&a->o);
  a->o.model = "llama-3.2-1b";
  a->engine = "auto";
  // --quick sets the defaults it changes before any option is read, so that an option given
  // with it wins wherever it stands on the line.
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], "--quick")) lj_profile_options_quick(&a->o), a->quick = 1;
  optind = 1;
  opterr = 0;
  int c;
  lj_profile_options *o = &a->o;
  double v = 0;
  int fp8_scale_given = 0;
  while ((c = lj_getopt_exact(argc, argv, ":o:h", opts)) != -1) {
    switch (c) {
      case OPT_MODEL: o->model = optarg; break;
      case OPT_BATCH: LJ_TRY(parse_int("--batch", optarg, 1, 1024, &o->batch)); break;
      case OPT_PROMPT_LEN: LJ_TRY(parse_int("--prompt-len", optarg, 1, 131072, &o->prompt_len)); break;
      case OPT_PROMPT: o->prompt = optarg; break;
      case OPT_GEN_LEN: LJ_TRY(parse_int("--gen-len", optarg, 2, 131072, &o->gen_len)); break;
      case OPT_TOKENIZER: o->tokenizer = optarg; break;
      case OPT_REPEATS: LJ_TRY(parse_int("--repeats", optarg, 1, 32, &o->repeats)); break;
      case OPT_TRIALS: LJ_TRY(parse_int("--trials", optarg, 1, 100, &o->trials)); break;
      case OPT_REPLAY_S: LJ_TRY(parse_num("--replay-seconds", optarg, 0.05, 600, &o->replay_seconds)); break;
      case OPT_PHASE_S: LJ_TRY(parse_num("--phase-seconds", optarg, 0.01, 600, &o->phase_seconds)); break;
      case OPT_DECODE_KV: LJ_TRY(parse_int("--decode-kv", optarg, 1, LJ_PROFILE_MAX_KV, &o->n_decode_kv)); break;
      case OPT_IDLE_S: LJ_TRY(parse_num("--idle-seconds", optarg, 0.5, 600, &o->idle_seconds)); break;
      case OPT_COOLDOWN_S: LJ_TRY(parse_num("--cooldown-seconds", optarg, 0, 600, &o->cooldown_seconds)); break;
      case OPT_IDLE_W: LJ_TRY(parse_num("--idle-w", optarg, 0, 10000, &o->idle_w)); break;
      case OPT_NO_TIMELINE: o->timeline = 0; break;
      case OPT_NO_ABLATION: o->ablation = 0; break;
      case OPT_NO_HEAD_FIT: o->head_fit = 0; break;
      case OPT_NO_SEQUENCE: o->sequence = 0; break;
      case OPT_HEAD_FIT: o->head_fit = 1; break;
      case OPT_HEAD_KV:
        LJ_TRY(lj_sweep_parse_ints("--head-fit-kv", optarg, 1, 1 << 20, o->head_kv, LJ_HEAD_GRID_MAX_VALUES,
                                   &o->n_head_kv));
        o->head_fit = 1;
        break;
      case OPT_HEAD_BATCH:
        LJ_TRY(lj_sweep_parse_ints("--head-fit-batch", optarg, 1, 1024, o->head_batch, LJ_HEAD_GRID_MAX_VALUES,
                                   &o->n_head_batch));
        o->head_fit = 1;
        break;
      case OPT_HEAD_GROUPS:
        LJ_TRY(lj_sweep_parse_ints("--head-fit-groups", optarg, 1, 1024, o->head_groups, LJ_HEAD_GRID_MAX_VALUES,
                                   &o->n_head_groups));
        o->head_fit = 1;
        break;
      case OPT_HEAD_TRIALS: LJ_TRY(parse_int("--head-fit-trials", optarg, 1, 32, &o->head_reps)); o->head_fit = 1; break;
      case OPT_HEAD_SECONDS:
        LJ_TRY(parse_num("--head-fit-seconds", optarg, 0.001, 60, &o->head_trial_s));
        o->head_fit = 1;
        break;
      case OPT_NO_SHAPLEY: o->shapley = 0; break;
      case OPT_PER_LAYER: o->per_layer = 1; break;
      case OPT_SKIP_ROUNDS:
        LJ_TRY(parse_int("--skip-rounds", optarg, 1, LJ_PROFILE_MAX_SKIP_ROUNDS, &o->skip_rounds));
        break;
      case OPT_ABLATION_ROUNDS:
        LJ_TRY(parse_int("--ablation-rounds", optarg, 1, LJ_PROFILE_MAX_ABLATION_ROUNDS, &o->ablation_rounds));
        break;
      case OPT_NO_LAYER_STAGES: o->layer_stages = 0; break;
      case OPT_KNOWN: if (!o->known_answer_mb) o->known_answer_mb = LJ_KNOWN_ANSWER_AUTO; break;
      case OPT_KNOWN_MB: LJ_TRY(parse_int("--known-answer-mb", optarg, 1, 4096, &o->known_answer_mb)); break;
      case OPT_NO_OVERHEAD: o->overhead = 0; break;
      case OPT_DEVICE: LJ_TRY(parse_int("--device", optarg, 0, 255, &o->device)); break;
      case OPT_ENGINE: a->engine = optarg; break;
      case OPT_THREADS: LJ_TRY(parse_int("--threads", optarg, 1, 4096, &o->threads)); break;
      case OPT_TP: LJ_TRY(parse_int("--tp", optarg, 1, 64, &o->tp_degree)); break;
      case OPT_TP_BACKEND: LJ_TRY(lj_tp_backend_parse(optarg, &o->tp_backend)); a->tp_backend_given = 1; break;
      case OPT_SEED: LJ_TRY(parse_num("--seed", optarg, 0, 9007199254740992.0, &v)); o->seed = (uint64_t)v; break;
      case OPT_JSON: a->json = 1; break;
      case OPT_DUTY: LJ_TRY(parse_num("--replay-duty", optarg, 0.05, 1, &o->replay_duty)); break;
      case OPT_WEIGHTS:
        o->weights = lj_weight_format_parse(optarg);
        if (o->weights < 0) return LJ_FAIL(LJ_EINVAL, "--weights '%s': expected bf16 or fp8", optarg);
        break;
      case OPT_FP8_SCALE:
        o->fp8_scale = lj_fp8_scale_parse(optarg);
        if (o->fp8_scale < 0) return LJ_FAIL(LJ_EINVAL, "--fp8-scale '%s': expected row or tensor", optarg);
        fp8_scale_given = 1;
        break;
      case OPT_FUSION:
        o->fusion = lj_cuda_fusion_parse(optarg);
        if (o->fusion < 0) return LJ_FAIL(LJ_EINVAL, "--fusion '%s': expected none, production or norm-once", optarg);
        break;
      case OPT_GEMV: LJ_TRY(lj_gemv_choice_parse(optarg, &o->gemv)); break;
      case OPT_ABLATE:
        if (!strcmp(optarg, "none")) o->ablation = 0;
        else if (!strcmp(optarg, "attn")) o->ablation = 1;
        else if (!strcmp(optarg, "mlp")) o->ablation = 2;
        else if (!strcmp(optarg, "both")) o->ablation = 3;
        else return LJ_FAIL(LJ_EINVAL, "--ablate '%s': expected none, attn, mlp or both", optarg);
        break;
      case OPT_QUICK: break;  // applied above
      case 'o': a->out_path = optarg; break;
      case 'h': usage(stdout); return 1;
      case ':': return LJ_FAIL(LJ_EINVAL, "option %s needs a value", argv[optind - 1]);
      default: return LJ_FAIL(LJ_EINVAL, "unknown option '%s' (see llamajoule profile --help)", argv[optind - 1]);
    }
  }
  if (optind < argc) return LJ_FAIL(LJ_EINVAL, "unexpected argument '%s'", argv[optind]);
  if (o->prompt && !*o->prompt) return LJ_FAIL(LJ_EINVAL, "--prompt is empty");
  LJ_TRY(lj_fp8_scale_check(o->weights, o->fp8_scale, fp8_scale_given));
  if (strcmp(a->engine, "auto") && strcmp(a->engine, "cuda") && strcmp(a->engine, "cpu"))
    return LJ_FAIL(LJ_EINVAL, "--engine '%s': expected auto, cuda or cpu", a->engine);
  return 0;
}

static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig) {
  (void)sig;
  g_interrupted = 1;
}

int lj_cmd_profile(int argc, char **argv) {
  profile_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc == 1) return LJ_EXIT_OK;
  if (rc < 0) {
    lj_report_error(rc);
    return LJ_EXIT_USAGE;
  }
  // The model and shapes are checked before anything is stored or measured.
  lj_profile_plan check;
  const char *ckpt = NULL;
  memset(&check, 0, sizeof check);
  rc = lj_profile_plan_make(&a.o, &check, &ckpt);
  if (rc < 0) return lj_report_error(rc);
  int on_gpu = strcmp(a.engine, "cpu") != 0 && lj_cuda_device_count() > 0;
  if (!strcmp(a.engine, "cuda") && !on_gpu)
    return lj_report_error(LJ_FAIL(LJ_ENODEV, "--engine cuda: no usable CUDA device (or a build without CUDA)"));
  int tp_gpu = on_gpu && (a.o.tp_degree > 1 || a.tp_backend_given);
  if (tp_gpu && (rc = lj_profile_gpu_tp_check(&a.o)) < 0) {
    lj_report_error(rc);
    return LJ_EXIT_USAGE;
  }
  if (a.tp_backend_given && !on_gpu) {
    lj_report_error(LJ_FAIL(LJ_EINVAL, "--tp-backend applies to the GPU's ranks (the CUDA engine); the CPU engine "
                                       "emulates them with --tp alone"));
    return LJ_EXIT_USAGE;
  }
  if ((rc = lj_profile_preflight(&a.o, &check, ckpt, on_gpu)) < 0) return lj_report_error(rc);
  if (!on_gpu)
    fprintf(stderr,
            "llamajoule: profile: no usable NVIDIA GPU%s: running the CPU engine in TIMING-ONLY mode.\n"
            "  No energy is measured: joules per phase, layer and stage need an NVIDIA GPU and its driver (NVML).\n",
            strcmp(a.engine, "cpu") ? "" : " requested (--engine cpu)");
  char path[1024];
  lj_store *st = NULL;
  int64_t run_id = 0;
  rc = lj_cli_begin_run(a.out_path, "profile", on_gpu ? "nvml" : "none (timing only)", argc, argv, &st, &run_id, path,
                        sizeof path);
  if (rc < 0) return lj_report_error(rc);
  a.o.store = st, a.o.run_id = run_id;
  a.o.interrupted = &g_interrupted;
  // A hang-up (terminal closed, ssh dropped) stops the run like Ctrl-C: what
  // was measured is kept. Each window is already in the store as it closes.
  // Started with SIGHUP ignored (nohup), the run goes on as asked.
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

  lj_profile_result r;
  lj_profile_result_init(&r);
  if (a.quick)
    lj_profile_note(&r, "A --quick run (a first look): fewer and shorter windows and trials than the default, "
                        "so wider intervals; no sequence replay, Shapley split, ablation, head fit or overhead unless "
                        "asked for.");
  rc = tp_gpu ? lj_profile_run_gpu_tp(&a.o, &r) : on_gpu ? lj_profile_run_gpu(&a.o, &r) : lj_profile_run_cpu(&a.o, &r);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", lj_error_message());
  for (int i = 0; i < kNumStop; i++) sigaction(kStopSignals[i], &old[i], NULL);

  // The store is finished before anything is printed: after a hang-up the terminal may be gone.
  int src = lj_store_add_profile(st, run_id, &r);
  if (src < 0) lj_report_error(src);
  int status = rc == 0 && src == 0 ? LJ_RUN_COMPLETE : rc == LJ_EINTERRUPTED || g_interrupted ? LJ_RUN_INCOMPLETE
                                                                                               : LJ_RUN_FAILED;
  int exit_code = rc == 0 ? (src == 0 ? LJ_EXIT_OK : LJ_EXIT_FAILURE)
                          : g_interrupted ? LJ_EXIT_INTERRUPTED : lj_exit_code(rc);
  lj_store_end_run(st, run_id, status, exit_code);
  // With --json the JSON goes to stdout and the text summary to stderr, so a log keeps both.
  lj_profile_report_text(a.json ? stderr : stdout, &r);
  if (a.json) lj_profile_report_json(stdout, &r);
  // The run is stored: a summary that could not be written (a full disk, a closed pipe) still fails the command.
  int out = lj_stdout_check();
  if (out < 0) {
    lj_report_error(out);
    if (exit_code == LJ_EXIT_OK) exit_code = LJ_EXIT_FAILURE;
  }
  fprintf(stderr, "llamajoule: profile: stored in %s, run %lld (%s)\n", path, (long long)run_id,
          lj_run_status_name(status));
  lj_store_close(st);
  lj_profile_result_free(&r);
  if (rc < 0) {
    fprintf(stderr, "llamajoule: error: %s\n", msg);
    return exit_code;
  }
  return exit_code;
}
