// llamajoule generate: run a model (preset with random weights, or an HF
// checkpoint directory) on a prompt with the CPU reference engine.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/option_names.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/output_file.h"
#include "common/same_file.h"
#include "engine/cpu/cpu_engine.h"
#include "engine/cpu/thread_pool.h"
#include "engine/cuda/cuda_generate.h"
#include "engine/cuda/cuda_generate_fast.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/generate.h"
#include "model/config.h"
#include "model/tokenizer.h"
#include "model/tp_shard.h"
#include "model/weights.h"

static void usage(FILE *fp) {
  fprintf(fp,
          "usage: llamajoule generate --model PRESET|DIR (--prompt TEXT | --prompt-ids \"1 2 3\")... [options]\n"
          "  --model M            a preset (random weights: llama-3.2-1b, llama-3.2-3b, llama-3.1-8b,\n"
          "                       llama-3.3-70b, tiny, tiny-untied) or an HF checkpoint directory\n"
          "  --prompt TEXT        text prompt (needs the tokenizer; BOS added)\n"
          "  --prompt-ids IDS     prompt as token ids, space-separated (no BOS added)\n"
          "                       (repeat --prompt / --prompt-ids for a batch of different prompts)\n"
          "  --chat               wrap the prompt in the Llama 3 chat format\n"
          "  --tokenizer FILE     tokenizer.json (default: the checkpoint's, then the installed one);\n"
          "                       with --prompt-ids the output is decoded only with --tokenizer or\n"
          "                       a checkpoint's own tokenizer.json\n"
          "  -n, --max-new N      tokens to generate per sequence (default 32)\n"
          "  --batch B            run B copies of each prompt in the batch (default 1)\n"
          "  --seed S             sampling seed; sequence i uses S + i (default 0)\n"
          "  --temperature T      0 = greedy (default 0)\n"
          "  --top-k K            keep the K most likely tokens (0 = off)\n"
          "  --top-p P            nucleus sampling (1 = off)\n"
          "  --ignore-eos         do not stop at end-of-sequence tokens\n"
          "  --weight-seed S      seed of the random weights of a preset (default 0)\n"
          "  --threads N          CPU threads (default: all online CPUs)\n"
          "  --device cpu|cuda    engine (default: cuda where a GPU is usable, else cpu)\n"
          "  --tp N               tensor-parallel degree (default 1): the CPU engine runs N ranks,\n"
          "                       each with its heads and MLP rows, and sums their o_proj and\n"
          "                       down_proj outputs (docs/tensor-parallel.md); N must divide the\n"
          "                       heads, KV heads and intermediate size; the CUDA engine runs N\n"
          "                       ranks too (eager, no CUDA graphs yet), bf16 weights only\n"
          "  --tp-backend nccl|loopback  CUDA ranks' all-reduce: nccl (default; rank r on GPU r,\n"
          "                       libnccl.so.2 loaded at run time, $LLAMAJOULE_NCCL first) or\n"
          "                       loopback (every rank on one GPU: a test device, not a\n"
          "                       performance mode); given with --tp 1, the one rank runs through\n"
          "                       the tensor-parallel path\n"
          "  --fusion none|production|norm-once  CUDA engine's decode kernels: one per stage\n"
          "                       (none, the default: measured faster), the fused composites\n"
          "                       attn_norm+qkv, ffn_norm+gate_up+swiglu (production), or\n"
          "                       attn_norm+qkv, o_proj+ffn_norm, gate_up+swiglu (norm-once: the\n"
          "                       FFN norm once per token; one GPU) (docs/engine-cuda.md)\n"
          "  --gemv-config NAME   CUDA engine's decode GEMVs: defaults (the per-shape settings,\n"
          "                       measured fastest) or one bf16 configuration on every matrix,\n"
          "                       r1u1 .. r8u4 (r4u2: 4 rows per block, 2 loads in flight; less\n"
          "                       energy per token, docs/engine-cuda.md \"Decode energy\"); bf16\n"
          "                       weights only\n"
          "  --weights bf16|fp8   linear layers in bf16 (default) or FP8 E4M3 with one scale per\n"
          "                       output row, quantised on load (cuda: on the GPU; cpu: the fp32\n"
          "                       reference of the same FP8 values); default: fp8 for an FP8\n"
          "                       checkpoint (compressed-tensors), which loads as it is, else bf16;\n"
          "                       bf16 with an FP8 checkpoint dequantises it (bf16(code x scale))\n"
          "  --fp8-scale row|tensor  with FP8 weights quantised on load: one scale per output row\n"
          "                       (default) or one per tensor (amax of the whole matrix / 448)\n"
          "  --dump-logits FILE   write every step's logits (format in docs/model.md)\n"
          "  --write-checkpoint DIR  write the model as an HF checkpoint (config.json +\n"
          "                       model.safetensors) and exit\n"
          "  --checkpoint-dtype bf16|f16|f32|fp8  dtype of --write-checkpoint (default bf16; fp8:\n"
          "                       FP8 linear layers with per-row weight_scale, compressed-tensors layout)\n");
}

enum { MAX_PROMPTS = 256 };

typedef struct {
  const char *model, *tokenizer, *dump_logits, *write_checkpoint, *device;
  const char *prompts[MAX_PROMPTS];  // in command-line order
  int prompt_is_text[MAX_PROMPTS];
  int n_prompts, n_text_prompts;
  int chat, n_new, batch, threads, ignore_eos;
  int tp;  // tensor-parallel degree
  int tp_backend, tp_backend_given;  // lj_tp_backend; 1 when --tp-backend was given
  uint64_t seed, weight_seed;
  lj_sampling_params sampling;
  lj_dtype checkpoint_dtype;
  int fusion;  // lj_cuda_fusion_mode
  int gemv;  // gemv_choice.h: LJ_GEMV_CHOICE_DEFAULTS or one bf16 configuration on every class
  int weights;  // lj_weight_format
  int fp8_scale, fp8_scale_given;  // lj_fp8_scale_mode; 1 when --fp8-scale was given
} gen_args;

static int parse_int(const char *opt, const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return LJ_FAIL(LJ_EINVAL, "%s '%s': expected an integer in [%ld, %ld]", opt, s, min, max);
  *out = v;
  return LJ_OK;
}

static int parse_float(const char *opt, const char *s, float *out) {
  char *end;
  errno = 0;
  float v = strtof(s, &end);
  if (errno || end == s || *end) return LJ_FAIL(LJ_EINVAL, "%s '%s': expected a number", opt, s);
  *out = v;
  return LJ_OK;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || *s == '-') return LJ_FAIL(LJ_EINVAL, "%s '%s': expected a non-negative integer", opt, s);
  *out = v;
  return LJ_OK;
}

enum { OPT_PROMPT_IDS = 256, OPT_CHAT, OPT_TOKENIZER, OPT_BATCH, OPT_SEED, OPT_TEMP, OPT_TOPK, OPT_TOPP, OPT_IGNORE_EOS,
       OPT_WSEED, OPT_THREADS, OPT_DEVICE, OPT_DUMP, OPT_WRITE, OPT_CKPT_DTYPE, OPT_FUSION, OPT_WEIGHTS,
       OPT_FP8_SCALE, OPT_TP, OPT_TP_BACKEND, OPT_GEMV };

// The weight format --fp8-scale is checked against: --checkpoint-dtype fp8 quantises too (its
// scales are what --fp8-scale says); without --weights a preset is bf16, and a checkpoint
// directory is unknown (-1) until loaded (an FP8 one stays FP8).
static int fp8_target(const gen_args *a) {
  struct stat st;
  if (a->write_checkpoint && a->checkpoint_dtype == LJ_DTYPE_F8_E4M3) return LJ_WEIGHTS_FP8;
  if (a->weights < 0 && !(stat(a->model, &st) == 0 && S_ISDIR(st.st_mode))) return LJ_WEIGHTS_BF16;
  return a->weights;
}

// The CUDA engine through its tensor-parallel path: --tp N > 1, or --tp-backend given.
static int cuda_tp(const gen_args *a) { return !strcmp(a->device, "cuda") && (a->tp > 1 || a->tp_backend_given); }

// --tp N > 1: bf16 (or wider) linear layers only. Checked again once an FP8 checkpoint's format is known.
static int check_tp(const gen_args *a) {
  if (a->tp_backend_given && strcmp(a->device, "cuda"))
    return LJ_FAIL(LJ_EINVAL, "--tp-backend applies to --device cuda (the CPU emulation adds its ranks itself)");
  if ((a->tp > 1 || cuda_tp(a)) && a->weights == LJ_WEIGHTS_FP8)
    return LJ_FAIL(LJ_EUNSUPPORTED,
                   "--tp %d with FP8 weights: not supported yet (each rank would quantise its own slice of "
                   "o_proj's and down_proj's input, which nothing checks yet); use --weights bf16",
                   a->tp);
  return LJ_OK;
}

static int parse_args(int argc, char **argv, gen_args *a) {
  static const struct option opts[] = {
      {"model", required_argument, 0, 'm'},        {"prompt", required_argument, 0, 'p'},
      {"prompt-ids", required_argument, 0, OPT_PROMPT_IDS}, {"chat", no_argument, 0, OPT_CHAT},
      {"tokenizer", required_argument, 0, OPT_TOKENIZER}, {"max-new", required_argument, 0, 'n'},
      {"batch", required_argument, 0, OPT_BATCH},  {"seed", required_argument, 0, OPT_SEED},
      {"temperature", required_argument, 0, OPT_TEMP}, {"top-k", required_argument, 0, OPT_TOPK},
      {"top-p", required_argument, 0, OPT_TOPP},   {"ignore-eos", no_argument, 0, OPT_IGNORE_EOS},
      {"weight-seed", required_argument, 0, OPT_WSEED}, {"threads", required_argument, 0, OPT_THREADS},
      {"device", required_argument, 0, OPT_DEVICE}, {"dump-logits", required_argument, 0, OPT_DUMP},
      {"write-checkpoint", required_argument, 0, OPT_WRITE},
      {"checkpoint-dtype", required_argument, 0, OPT_CKPT_DTYPE}, {"fusion", required_argument, 0, OPT_FUSION},
      {"weights", required_argument, 0, OPT_WEIGHTS}, {"fp8-scale", required_argument, 0, OPT_FP8_SCALE},
      {"tp", required_argument, 0, OPT_TP}, {"tp-backend", required_argument, 0, OPT_TP_BACKEND},
      {"gemv-config", required_argument, 0, OPT_GEMV},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  *a = (gen_args){.n_new = 32, .batch = 1, .tp = 1, .threads = lj_default_threads(), .device = NULL,
                  .sampling = {0.0f, 0, 1.0f}, .checkpoint_dtype = LJ_DTYPE_BF16, .fusion = LJ_FUSION_NONE,
                  .weights = -1};
  optind = 1;
  opterr = 0;
  int ch;
  long v = 0;
  while ((ch = lj_getopt_exact(argc, argv, ":m:p:n:h", opts)) != -1) {
    switch (ch) {
      case 'm': a->model = optarg; break;
      case 'p':
      case OPT_PROMPT_IDS:
        if (a->n_prompts == MAX_PROMPTS) return LJ_FAIL(LJ_EINVAL, "more than %d prompts", MAX_PROMPTS);
        a->prompt_is_text[a->n_prompts] = ch == 'p';
        a->n_text_prompts += ch == 'p';
        a->prompts[a->n_prompts++] = optarg;
        break;
      case OPT_CHAT: a->chat = 1; break;
      case OPT_TOKENIZER: a->tokenizer = optarg; break;
      case 'n': LJ_TRY(parse_int("-n", optarg, 1, 1 << 24, &v)); a->n_new = (int)v; break;
      case OPT_BATCH: LJ_TRY(parse_int("--batch", optarg, 1, 4096, &v)); a->batch = (int)v; break;
      case OPT_SEED: LJ_TRY(parse_u64("--seed", optarg, &a->seed)); break;
      case OPT_TEMP: LJ_TRY(parse_float("--temperature", optarg, &a->sampling.temperature)); break;
      case OPT_TOPK: LJ_TRY(parse_int("--top-k", optarg, 0, 1 << 24, &v)); a->sampling.top_k = (int)v; break;
      case OPT_TOPP: LJ_TRY(parse_float("--top-p", optarg, &a->sampling.top_p)); break;
      case OPT_IGNORE_EOS: a->ignore_eos = 1; break;
      case OPT_WSEED: LJ_TRY(parse_u64("--weight-seed", optarg, &a->weight_seed)); break;
      case OPT_THREADS: LJ_TRY(parse_int("--threads", optarg, 1, 1024, &v)); a->threads = (int)v; break;
      case OPT_DEVICE: a->device = optarg; break;
      case OPT_TP: LJ_TRY(parse_int("--tp", optarg, 1, 64, &v)); a->tp = (int)v; break;
      case OPT_TP_BACKEND: LJ_TRY(lj_tp_backend_parse(optarg, &a->tp_backend)); a->tp_backend_given = 1; break;
      case OPT_DUMP: a->dump_logits = optarg; break;
      case OPT_WRITE: a->write_checkpoint = optarg; break;
      case OPT_CKPT_DTYPE:
        if (!strcmp(optarg, "bf16")) a->checkpoint_dtype = LJ_DTYPE_BF16;
        else if (!strcmp(optarg, "f32")) a->checkpoint_dtype = LJ_DTYPE_F32;
        else if (!strcmp(optarg, "f16")) a->checkpoint_dtype = LJ_DTYPE_F16;
        else if (!strcmp(optarg, "fp8")) a->checkpoint_dtype = LJ_DTYPE_F8_E4M3;
        else return LJ_FAIL(LJ_EINVAL, "--checkpoint-dtype '%s': expected bf16, f16, f32 or fp8", optarg);
        break;
      case OPT_WEIGHTS:
        a->weights = lj_weight_format_parse(optarg);
        if (a->weights < 0) return LJ_FAIL(LJ_EINVAL, "--weights '%s': expected bf16 or fp8", optarg);
        break;
      case OPT_FP8_SCALE:
        a->fp8_scale = lj_fp8_scale_parse(optarg);
        if (a->fp8_scale < 0) return LJ_FAIL(LJ_EINVAL, "--fp8-scale '%s': expected row or tensor", optarg);
        a->fp8_scale_given = 1;
        break;
      case OPT_FUSION:
        a->fusion = lj_cuda_fusion_parse(optarg);
        if (a->fusion < 0) return LJ_FAIL(LJ_EINVAL, "--fusion '%s': expected none, production or norm-once", optarg);
        break;
      case OPT_GEMV: LJ_TRY(lj_gemv_choice_parse(optarg, &a->gemv)); break;
      case 'h': usage(stdout); return 1;
      case ':': return LJ_FAIL(LJ_EINVAL, "option %s needs a value", argv[optind - 1]);
      default: return LJ_FAIL(LJ_EINVAL, "unknown option '%s' (see llamajoule generate --help)", argv[optind - 1]);
    }
  }
  if (optind < argc) return LJ_FAIL(LJ_EINVAL, "unexpected argument '%s'", argv[optind]);
  if (!a->model) return LJ_FAIL(LJ_EINVAL, "--model is required (a preset name or a checkpoint directory)");
  if (!a->write_checkpoint && a->n_prompts == 0) return LJ_FAIL(LJ_EINVAL, "give --prompt TEXT or --prompt-ids \"1 2 3\"");
  for (int i = 0; i < a->n_prompts; i++)  // an empty prompt is no prompt
    if (!a->prompts[i][a->prompt_is_text[i] ? 0 : strspn(a->prompts[i], " \t,\n")])
      return LJ_FAIL(LJ_EINVAL, "%s: the prompt is empty", a->prompt_is_text[i] ? "--prompt" : "--prompt-ids");
  if (a->chat && a->n_text_prompts == 0) return LJ_FAIL(LJ_EINVAL, "--chat needs --prompt TEXT");
  int device_given = a->device != NULL;
  if (!a->device) a->device = lj_cuda_device_count() > 0 ? "cuda" : "cpu";
  if (strcmp(a->device, "cpu") && strcmp(a->device, "cuda"))
    return LJ_FAIL(LJ_EINVAL, "--device '%s': expected cpu or cuda", a->device);
  // The CPU engine has one execution mode: a fused one asked of it would run unfused unsaid.
  if (!strcmp(a->device, "cpu") && a->fusion != LJ_FUSION_NONE)
    return LJ_FAIL(LJ_EUNSUPPORTED, "--fusion %s: the CPU engine has no fused mode (it runs one kernel per stage)%s; "
                   "run on a CUDA device (--device cuda) or use --fusion none", lj_cuda_fusion_name(a->fusion),
                   device_given ? "" : " and runs here, as no CUDA device is usable");
  if (fp8_target(a) >= 0) LJ_TRY(lj_fp8_scale_check(fp8_target(a), a->fp8_scale, a->fp8_scale_given));
  LJ_TRY(check_tp(a));
  // A checkpoint's weight format is known once loaded: checked again then (lj_cmd_generate).
  if (!a->write_checkpoint) LJ_TRY(lj_gemv_choice_check(a->gemv, !strcmp(a->device, "cuda"), fp8_target(a), a->fusion));
  return lj_sampling_params_check(&a->sampling);
}

// The model's config without its weights: a preset's, or the checkpoint's config.json.
static int model_config(const gen_args *a, lj_model_config *c) {
  struct stat st;
  char path[4096];
  if (stat(a->model, &st) == 0 && S_ISDIR(st.st_mode)) {
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", a->model) >= sizeof path)
      return LJ_FAIL(LJ_EINVAL, "--model '%s': path too long", a->model);
    return lj_config_from_json(path, c);
  }
  if (lj_config_preset(a->model, c) < 0)
    return lj_fail_context(LJ_EINVAL, "--model '%s' is neither a checkpoint directory nor a preset", a->model);
  return LJ_OK;
}

static int load_model(const gen_args *a, lj_weights *w) {
  struct stat st;
  int64_t t0 = lj_mono_ns();
  if (stat(a->model, &st) == 0 && S_ISDIR(st.st_mode)) {
    LJ_TRY(lj_weights_load(a->model, w));
    lj_info("%s: checkpoint %s, %.3f B parameters, %.2f GB, loaded in %.2f s", w->config.name, a->model,
            (double)lj_config_n_params(&w->config) / 1e9, (double)lj_weights_nbytes(w) / 1e9,
            (double)(lj_mono_ns() - t0) / 1e9);
    return LJ_OK;
  }
  lj_model_config c;
  LJ_TRY(model_config(a, &c));
  LJ_TRY(lj_tp_check(&c, a->tp, c.name));  // before the weights (minutes for 8B on the CPU)
  LJ_TRY(lj_weights_random(&c, a->weight_seed, a->threads, w));
  // Drawn in bf16; with --weights fp8 they are quantised before they run (lj_cmd_generate), as on the GPU.
  int fp8 = a->weights == LJ_WEIGHTS_FP8 && !a->write_checkpoint;
  lj_info("%s: RANDOM weights (seed %llu, bf16%s%s), %.3f B parameters, %.2f GB, generated in %.2f s", c.name,
          (unsigned long long)a->weight_seed, fp8 ? ", stored as " : "", fp8 ? lj_weights_label(a->weights, a->fp8_scale) : "",
          (double)lj_config_n_params(&c) / 1e9, (double)lj_weights_nbytes(w) / 1e9, (double)(lj_mono_ns() - t0) / 1e9);
  return LJ_OK;
}

// "1 2 3" -> ids; each must be inside the vocabulary.
static int parse_prompt_ids(const char *s, int vocab, int32_t **ids, int *n) {
  *ids = NULL;
  *n = 0;
  int cap = 0;
  const char *p = s;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n') p++;
    if (!*p) break;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 0 || v >= vocab) {
      free(*ids);
      *ids = NULL;
      return LJ_FAIL(LJ_EINVAL, "--prompt-ids: '%.*s' at character %d is not a token id in [0, %d)",
                     (int)strcspn(p, " \t,\n"), p, (int)(p - s), vocab);
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      int32_t *g = realloc(*ids, (size_t)cap * sizeof *g);
      if (!g) {
        free(*ids);
        *ids = NULL;
        return LJ_FAIL(LJ_ENOMEM, "out of memory");
      }
      *ids = g;
    }
    (*ids)[(*n)++] = (int32_t)v;
    p = end;
  }
  if (*n == 0) return LJ_FAIL(LJ_EINVAL, "--prompt-ids: the prompt is empty");
  return LJ_OK;
}

static void print_ids(const int32_t *ids, int n) {
  for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", (int)ids[i]);
}

// The tokenizer, when the prompt is text, or when one is found for decoding the output.
static int open_tokenizer(const gen_args *a, const lj_model_config *c, int required, lj_tokenizer **tok) {
  *tok = NULL;
  struct stat st;
  const char *ckpt = stat(a->model, &st) == 0 && S_ISDIR(st.st_mode) ? a->model : NULL;
  char path[4096];
  if (!required && !a->tokenizer) {
    // --prompt-ids: decode the output only with a tokenizer that comes with the checkpoint
    // (loading the default one costs more than a small model's whole run).
    if (!ckpt || (size_t)snprintf(path, sizeof path, "%s/tokenizer.json", ckpt) >= sizeof path ||
        access(path, R_OK) != 0)
      return LJ_OK;
  }
  int rc = lj_tokenizer_find(a->tokenizer, ckpt, path, sizeof path);
  if (rc < 0) return required ? rc : LJ_OK;
  rc = lj_tokenizer_load(path, tok);
  if (rc < 0) return required || a->tokenizer ? rc : LJ_OK;
  if (lj_tokenizer_vocab_size(*tok) > c->vocab_size) {
    int n = lj_tokenizer_vocab_size(*tok);
    lj_tokenizer_free(*tok);
    *tok = NULL;
    if (required || a->tokenizer)
      return LJ_FAIL(LJ_EINVAL, "tokenizer %s has %d ids but the model's vocabulary has %d", path, n, c->vocab_size);
  }
  return LJ_OK;
}

static int encode_prompt(const gen_args *a, const lj_tokenizer *tok, const char *text, int32_t **ids, int *n) {
  size_t len = strlen(text), n_ids = 0;
  if (len == 0) return LJ_FAIL(LJ_EINVAL, "--prompt: the prompt is empty");
  int rc = a->chat ? lj_tokenizer_encode_chat(tok, NULL, text, ids, &n_ids)
                   : lj_tokenizer_encode(tok, text, len, 1, ids, &n_ids);
  if (rc < 0) return lj_fail_context(rc, "--prompt");
  if (n_ids > (size_t)1 << 30) return LJ_FAIL(LJ_EINVAL, "--prompt: too long");
  *n = (int)n_ids;
  return LJ_OK;
}

static void print_text(const lj_tokenizer *tok, const int32_t *ids, int n) {
  char *text = NULL;
  size_t len = 0;
  if (lj_tokenizer_decode(tok, ids, (size_t)n, &text, &len) == 0) fwrite(text, 1, len, stdout);
  free(text);
}

// The prompts as ids, each checked against the vocabulary and the context.
typedef struct {
  int32_t *ids[MAX_PROMPTS];
  int len[MAX_PROMPTS];
  int n;
  int longest;
} prompt_set;

static void free_prompts(prompt_set *p) {
  for (int i = 0; i < p->n; i++) free(p->ids[i]);
  p->n = 0;
}

static int build_prompts(const gen_args *a, const lj_tokenizer *tok, const lj_model_config *c, prompt_set *p) {
  memset(p, 0, sizeof *p);
  for (int i = 0; i < a->n_prompts; i++) {
    int rc = a->prompt_is_text[i] ? encode_prompt(a, tok, a->prompts[i], &p->ids[i], &p->len[i])
                                  : parse_prompt_ids(a->prompts[i], c->vocab_size, &p->ids[i], &p->len[i]);
    p->n = i + 1;
    if (rc < 0) return rc;
    for (int k = 0; k < p->len[i]; k++)
      if (p->ids[i][k] >= c->vocab_size)
        return LJ_FAIL(LJ_EINVAL, "prompt %d: token %d is outside the model's vocabulary of %d", i + 1,
                       (int)p->ids[i][k], c->vocab_size);
    if (p->len[i] + a->n_new > c->max_seq_len)
      return LJ_FAIL(LJ_EINVAL,
                     "prompt %d: %d tokens + %d new tokens exceeds the context of %d (max_position_embeddings)", i + 1,
                     p->len[i], a->n_new, c->max_seq_len);
    if (p->len[i] > p->longest) p->longest = p->len[i];
  }
  return LJ_OK;
}

// The texts and ids on stdout; a failed write (a full disk, a closed pipe) is an error.
static int print_results(const lj_tokenizer *tok, const int32_t *const *prompts, const int *lens,
                         const lj_generate_result *res) {
  for (int q = 0; q < res->n_seqs; q++) {
    if (tok) {
      if (res->n_seqs > 1) printf("[%d] ", q);
      print_text(tok, prompts[q], lens[q]);
      print_text(tok, res->out[q], res->n_out[q]);
      printf("\n");
    }
    if (res->n_seqs > 1) printf("[%d] ", q);
    printf("ids: ");
    print_ids(prompts[q], lens[q]);
    printf(" | ");
    print_ids(res->out[q], res->n_out[q]);
    printf("\n");
  }
  int rc = lj_stdout_check();
  fprintf(stderr,
          "llamajoule: prefill %lld tokens in %.3f s (%.1f tok/s); decode %lld tokens in %.3f s (%.2f tok/s)\n",
          (long long)res->prefill_tokens, (double)res->prefill_ns / 1e9,
          res->prefill_ns ? (double)res->prefill_tokens * 1e9 / (double)res->prefill_ns : 0.0,
          (long long)res->decode_tokens, (double)res->decode_ns / 1e9,
          res->decode_ns ? (double)res->decode_tokens * 1e9 / (double)res->decode_ns : 0.0);
  return rc;
}

// w NULL: a preset on the CUDA engine, its random weights generated on the device (no host copy).
// tok and ps come from prepare_prompts, and are freed here.
static int run_generate(const gen_args *a, const lj_model_config *c, lj_weights *w, lj_tokenizer *tok, prompt_set ps) {
  int rc = LJ_OK;
  // Stop at the model's eos, and at Llama 3's end-of-turn / end-of-text tokens.
  int32_t stop[3];
  int n_stop = 0;
  if (c->eos_id >= 0) stop[n_stop++] = c->eos_id;
  for (const char *const *name = (const char *const[]){"<|eot_id|>", "<|end_of_text|>", NULL}; tok && *name; name++) {
    int32_t id = lj_tokenizer_token_id(tok, *name);
    if (id >= 0 && id != c->eos_id) stop[n_stop++] = id;
  }
  // Sequence q runs prompt q / batch.
  int n_seqs = ps.n * a->batch;
  const int32_t **prompts = calloc((size_t)n_seqs, sizeof *prompts);
  int *lens = calloc((size_t)n_seqs, sizeof *lens);
  if (rc == LJ_OK && (!prompts || !lens)) rc = LJ_FAIL(LJ_ENOMEM, "out of memory");
  for (int q = 0; rc == LJ_OK && q < n_seqs; q++) {
    prompts[q] = ps.ids[q / a->batch];
    lens[q] = ps.len[q / a->batch];
  }
  lj_cpu_engine *engine = NULL;
  // --device cuda: the CUDA engine runs the same loop (engine/cuda/cuda_generate.h).
  int on_cuda = !strcmp(a->device, "cuda");
  lj_cuda_engine *cuda = NULL;
  // A prefill call holds every prompt; prompts of one length may be split into calls of 8192 tokens.
  int same_len = 1;
  for (int q = 1; q < n_seqs; q++) same_len &= rc == LJ_OK && lens[q] == lens[0];
  int max_tokens = n_seqs * ps.longest;
  if (same_len && max_tokens > 8192) max_tokens = 8192 > n_seqs ? 8192 : n_seqs;
  // --tp N (or --tp-backend) on the GPU: N ranks of the CUDA engine, driven stage by stage.
  lj_cuda_tp *tp = NULL;
  if (rc == LJ_OK && cuda_tp(a)) {
    lj_cuda_options co;
    lj_cuda_options_default(&co);
    co.max_batch = n_seqs, co.max_ctx = ps.longest + a->n_new, co.max_tokens = max_tokens;
    co.weights = a->weights;  // FP8: refused with its reason
    rc = w ? lj_cuda_tp_from_weights(w, a->tp, a->tp_backend, &co, &tp)
           : lj_cuda_tp_random(c, a->weight_seed, a->tp, a->tp_backend, &co, &tp);
    if (rc == LJ_OK)
      lj_info("%s: tensor parallelism on the CUDA engine: %d rank(s), all-reduce after o_proj and down_proj; %s; "
              "eager (no CUDA graphs)", c->name, a->tp, lj_cuda_tp_describe(tp));
  }
  if (rc == LJ_OK && on_cuda && !tp && w)
    rc = lj_cuda_engine_from_weights(w, a->weights, a->fp8_scale, n_seqs, ps.longest + a->n_new, max_tokens, &cuda);
  if (rc == LJ_OK && on_cuda && !tp && !w) {
    lj_cuda_options co;
    lj_cuda_options_default(&co);
    co.max_batch = n_seqs, co.max_ctx = ps.longest + a->n_new, co.max_tokens = max_tokens, co.weights = a->weights;
    co.fp8_scale = a->fp8_scale;
    int64_t t0 = lj_mono_ns();
    rc = lj_cuda_engine_create_random(&cuda, c, a->weight_seed, &co);
    if (rc == LJ_OK)
      lj_info("%s: RANDOM weights (seed %llu, bf16, stored as %s) generated on the GPU, %.3f B parameters, in %.2f s",
              c->name, (unsigned long long)a->weight_seed, lj_weights_label(a->weights, a->fp8_scale), (double)lj_config_n_params(c) / 1e9,
              (double)(lj_mono_ns() - t0) / 1e9);
  }
  else if (rc == LJ_OK && !on_cuda)
    rc = lj_cpu_engine_create_tp(w, n_seqs, ps.longest + a->n_new, a->threads, a->tp, &engine);
  if (rc == LJ_OK && a->tp > 1 && !on_cuda)
    lj_info("%s: tensor parallelism emulated on the CPU: %d ranks, all-reduce after o_proj and down_proj", c->name,
            a->tp);
  if (rc == LJ_OK && cuda) rc = lj_cuda_set_fusion(cuda, a->fusion);
  if (rc == LJ_OK && tp) rc = lj_cuda_tp_set_fusion(tp, a->fusion);
  if (rc == LJ_OK && cuda) rc = lj_cuda_apply_gemv_choice(cuda, a->gemv);
  if (rc == LJ_OK && tp) rc = lj_cuda_tp_apply_gemv_choice(tp, a->gemv);
  if (rc == LJ_OK && (cuda || tp) && a->gemv != LJ_GEMV_CHOICE_DEFAULTS) {
    // what the engine now holds, read back per class, not the option echoed
    char held[256] = "";
    if (cuda) {
      int bf[LJ_GEMV_CLASS_COUNT], f8[LJ_GEMV_CLASS_COUNT];
      lj_cuda_gemv_configs(cuda, bf, f8);
      size_t n = 0;
      for (int k = 0; k < LJ_GEMV_CLASS_COUNT && n < sizeof held; k++)
        n += (size_t)snprintf(held + n, sizeof held - n, "%s%s %s", k ? ", " : "; the engine holds ",
                              lj_gemv_class_name(k), lj_gemv_config_name(bf[k]));
    }
    lj_info("%s: decode GEMVs %s on every matrix (--gemv-config; the per-shape defaults otherwise)%s", c->name,
            lj_gemv_choice_name(a->gemv), held);
  }
  // The logits file is written as every -o file is (output_file.h): complete, or not at all.
  lj_output dump_out;
  FILE *dump = NULL;
  if (rc == LJ_OK && a->dump_logits) {
    rc = lj_output_open(&dump_out, a->dump_logits);
    if (rc < 0) rc = lj_fail_context(rc, "--dump-logits");
    else dump = dump_out.f;
  }
  lj_generate_result res = {0};
  if (rc == LJ_OK) {
    lj_generate_opts o = {.n_new = a->n_new, .stop_ids = stop, .n_stop = n_stop, .ignore_eos = a->ignore_eos,
                          .sampling = a->sampling, .seed = a->seed, .dump_logits = dump, .progress = 1};
    // CUDA: graph replays with sampling on the GPU; the host loop only to dump every step's logits.
    // Tensor parallelism: the host loop (the ranks run eagerly, stage by stage).
    if (tp)
      rc = lj_generate(lj_cuda_tp_forward_fn, tp, c->vocab_size, prompts, lens, n_seqs, &o, &res);
    else if (on_cuda && !dump)
      rc = lj_cuda_generate_fast(cuda, prompts, lens, n_seqs, &o, &res);
    else if (on_cuda)
      rc = lj_generate(lj_cuda_forward_fn, cuda, c->vocab_size, prompts, lens, n_seqs, &o, &res);
    else
      rc = lj_generate(lj_cpu_forward_fn, engine, c->vocab_size, prompts, lens, n_seqs, &o, &res);
  }
  if (dump) {
    int drc = lj_output_close(&dump_out, rc);
    if (rc == LJ_OK && drc < 0) rc = lj_fail_context(drc, "--dump-logits");
  }
  if (rc == LJ_OK) rc = print_results(tok, prompts, lens, &res);
  lj_generate_result_free(&res);
  free(prompts);
  free(lens);
  free_prompts(&ps);
  lj_tokenizer_free(tok);
  lj_cpu_engine_free(engine);
  lj_cuda_engine_free(cuda);
  lj_cuda_tp_free(tp);
  return rc;
}

// The prompts as ids, before any weights are built or loaded (1B's random weights take seconds):
// a bad prompt is refused at once. What it made is the caller's to free, failed or not.
static int prepare_prompts(const gen_args *a, lj_tokenizer **tok, prompt_set *ps) {
  lj_model_config c;
  LJ_TRY(model_config(a, &c));
  LJ_TRY(open_tokenizer(a, &c, a->n_text_prompts > 0, tok));
  return build_prompts(a, *tok, &c, ps);
}

// The prompts' memory back, then the error's exit code.
static int free_and_report(int rc, prompt_set *ps, lj_tokenizer *tok) {
  free_prompts(ps);
  lj_tokenizer_free(tok);
  return lj_report_error(rc);
}

int lj_cmd_generate(int argc, char **argv) {
  gen_args a;
  int rc = parse_args(argc, argv, &a);
  if (rc == 1) return LJ_EXIT_OK;
  if (rc < 0) {
    lj_report_error(rc);
    return LJ_EXIT_USAGE;
  }
  // Before building the weights (6.5 GB for 3B take half a minute), as profile does.
  if (!a.write_checkpoint && !strcmp(a.device, "cuda") && lj_cuda_device_count() == 0)
    return lj_report_error(LJ_FAIL(LJ_ENODEV, "--device cuda: no usable CUDA device (no NVIDIA driver or GPU, or a "
                                              "build without CUDA); --device cpu runs the CPU engine"));
  lj_tokenizer *tok = NULL;
  prompt_set ps = {0};
  if (!a.write_checkpoint && (rc = prepare_prompts(&a, &tok, &ps)) < 0) return free_and_report(rc, &ps, tok);
  // A preset on the CUDA engine needs no host weights: the GPU generates them.
  struct stat st;
  lj_model_config preset;
  if (!a.write_checkpoint && !strcmp(a.device, "cuda") && !(stat(a.model, &st) == 0 && S_ISDIR(st.st_mode)) &&
      lj_config_preset(a.model, &preset) == LJ_OK) {
    if (a.weights < 0) a.weights = LJ_WEIGHTS_BF16;
    if ((rc = lj_fp8_scale_check(a.weights, a.fp8_scale, a.fp8_scale_given)) == LJ_OK)
      return (rc = run_generate(&a, &preset, NULL, tok, ps)) < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
    return free_and_report(rc, &ps, tok);
  }
  // The checkpoint's files would replace those being read (a link or another name for the folder included).
  if (a.write_checkpoint && lj_same_file(a.write_checkpoint, a.model)) {
    lj_report_error(LJ_FAIL(LJ_EINVAL, "--write-checkpoint '%s' is the folder of the model being read ('%s'); give "
                                       "another folder", a.write_checkpoint, a.model));
    return LJ_EXIT_USAGE;
  }
  lj_weights w;
  rc = load_model(&a, &w);
  if (rc < 0) return free_and_report(rc, &ps, tok);
  // Without --weights, an FP8 checkpoint keeps its FP8 linear layers; anything else is bf16.
  if (a.weights < 0) a.weights = lj_weights_is_fp8(&w) ? LJ_WEIGHTS_FP8 : LJ_WEIGHTS_BF16;
  rc = lj_fp8_scale_check(fp8_target(&a), a.fp8_scale, a.fp8_scale_given);
  if (rc == LJ_OK && !a.write_checkpoint) rc = check_tp(&a);
  if (rc == LJ_OK && !a.write_checkpoint) rc = lj_gemv_choice_check(a.gemv, !strcmp(a.device, "cuda"), a.weights, a.fusion);
  // FP8 on the CPU (the reference) or for an FP8 checkpoint: quantised here, as the GPU does.
  if (rc == LJ_OK && ((a.weights == LJ_WEIGHTS_FP8 && !strcmp(a.device, "cpu") && !a.write_checkpoint) ||
                      (a.write_checkpoint && a.checkpoint_dtype == LJ_DTYPE_F8_E4M3)))
    rc = lj_weights_quantize_fp8(&w, a.threads, a.fp8_scale);
  // An FP8 checkpoint with --weights bf16 runs bf16 linear layers on either device, as asked:
  // dequantised here, bf16(code x scale) (the GPU's bf16 path would refuse FP8 tensors).
  else if (rc == LJ_OK && !a.write_checkpoint && a.weights == LJ_WEIGHTS_BF16 && lj_weights_is_fp8(&w)) {
    rc = lj_weights_dequantize_fp8(&w, a.threads);
    if (rc == LJ_OK)
      lj_info("%s: FP8 linear layers dequantised to bf16 (code x scale, rounded to bf16) for --weights bf16",
              w.config.name);
  }
  if (rc < 0) {
    lj_weights_free(&w);
    return free_and_report(rc, &ps, tok);
  }
  if (a.write_checkpoint) {
    int64_t t0 = lj_mono_ns();
    rc = lj_checkpoint_write(a.write_checkpoint, &w, a.checkpoint_dtype);
    if (rc == LJ_OK)
      lj_info("wrote %s (config.json + model.safetensors, %s) in %.2f s", a.write_checkpoint,
              lj_dtype_name(a.checkpoint_dtype), (double)(lj_mono_ns() - t0) / 1e9);
  } else {
    rc = run_generate(&a, &w.config, &w, tok, ps);
  }
  lj_weights_free(&w);
  return rc < 0 ? lj_report_error(rc) : LJ_EXIT_OK;
}
