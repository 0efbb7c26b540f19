// bench_engine: how fast the CUDA engine runs, against floors measured in the same run.
//
//   1. ceilings: device-to-device copy bandwidth (bytes read + written) and the
//      cuBLASLt bf16 GEMM rate at 8192^3;
//   2. per model (random weights): batch-1 decode at context 512 (tok/s, ms/token,
//      achieved GB/s, % of the floor = bytes read per token / copy bandwidth), with
//      the own GEMV and with cuBLASLt only; prefill of 2048 tokens (effective
//      TFLOP/s, % of the GEMM rate); decode throughput for batch 1, 4, 16, 64, 256 at
//      context 512 and 4096 (CUDA-graph steps, greedy sampling included).
//   3. --weights bf16|fp8|both (default bf16): the weight formats measured. With FP8 the decode
//      floor counts FP8 bytes (1 per linear-layer weight + row scales, docs/engine-cuda.md), the
//      prefill is compared with the cuBLASLt FP8 GEMM rate at 8192^3 (E4M3 x E4M3 -> bf16 with
//      outer-vector scales, the engine's prefill GEMM), measured here too; RESULT lines carry
//      weights=bf16|fp8. FP8 batch 1 runs the own GEMV unfused only (no cuBLASLt-only or fused variant).
//   4. --fusion none|production|norm-once|both|all (default both: none and production): the
//      execution modes measured. Batch-1 decode and its stage table run in each; the batch sweep
//      runs batches <= 8 (where the fused kernels apply) in each, larger batches once (RESULT
//      kind=decode for the unfused mode, kind=decode_fused for production, decode_norm_once).
//   5. --fp8-gemv NAME|all (default: the engine's default, LJ_FP8_GEMV_DEFAULT): the FP8 GEMV
//      kernels measured (base, warp, pipe, splitk; fp8_gemv_variant.h). FP8 batch-1 decode, its
//      stage table and the sweep's batches <= 8 run once per variant; their RESULT lines carry
//      fp8_gemv=NAME.
//   6. --decode-only: batch-1 decode and its stage tables, then batches 4 and 8 at context 512;
//      no prefill, no larger batches (scripts/gpu/fp8_gemv.sh: several models in one device call).
//   7. --attn-prefill NAME|all (default: the engine's default, LJ_ATTN_PREFILL_DEFAULT): the
//      prefill attention kernels measured (wmma, mma, mma64, mma128, mma_k32;
//      attn_prefill_variant.h). The prefill of 2048 tokens and its stage table run once per
//      variant, with the attention stage's ms and TFLOP/s; RESULT kind=prefill lines carry
//      attn_prefill=NAME. --prefill-only: only that (scripts/gpu/attn_prefill.sh).
//   8. --attn-decode NAME|all (default: the engine's default, LJ_ATTN_DECODE_DEFAULT): the decode
//      attention variants measured (split, one, one_rope; attn_decode_variant.h). Batch-1 decode,
//      its stage table and every sweep batch run once per variant; with --decode-only the sweep
//      also runs batch 16. RESULT kind=decode_b1 / decode lines carry attn_decode=NAME
//      (scripts/gpu/attn_decode.sh).
//   9. --fp8-scale row|tensor|both (default row; needs FP8 among --weights): the FP8 weights' scales,
//      one per output row or one per tensor (stored in every row's slot: the same kernels and
//      bytes), or each in turn; RESULT lines of per-tensor runs carry weights=fp8-tensor.
//  10. --fp8-fold on|off|swiglu|both|levels (default on): FP8 prefill with every foldable pass around
//      its GEMMs folded into a neighbouring kernel (lj_cuda_set_fp8_fold, LJ_CUDA_FP8_FOLD_ALL), none
//      (off), the SwiGLU folds only (swiglu), off
//      and on (both), or all three (levels); the prefill and its stage table run once per setting,
//      RESULT kind=prefill lines of FP8 carry fp8_fold=off|swiglu|on (scripts/gpu/fp8_prefill.sh).
//      The ceilings line also gives the FP8 GEMM's rate without its scale pass (gemm_fp8_sums_tflops,
//      the fallback's GEMM alone; equal to gemm_fp8_tflops where cuBLASLt scales in its epilogue).
//  11. --swiglu-quant row256|row512|row1024|split|all (default: the engine's, LJ_SWIGLU_QUANT_DEFAULT):
//      the kernel of SwiGLU + down's activation quantisation (swiglu.h; the same bits) at the fold
//      levels that run it; labels of a non-default kernel end in ", swiglu_quant NAME" and every FP8
//      prefill RESULT line carries swiglu_quant=NAME.
//  11. --tune: the decode knobs swept instead of the measurements above (docs/engine-cuda.md,
//      "Decode tuning"): per model and weight format, batch-1 decode at context 512 (graph replay,
//      GEMV+PDL, fusion none, as kind=decode_b1) once per GEMV configuration applied to every
//      class (bf16: --gemv-config LIST, default all twelve; FP8: the pipe variant's --fp8-pipe LIST,
//      default all nine), then the best configuration per class from the stage tables of those runs,
//      then each decode attention split count of --attn-split LIST (default 0,1,2,4,8,16,32; 0 =
//      the rule) with the best GEMV setting. One RESULT kind=tune line per run (tok/s, % of the
//      floor), then kind=tune_best per model: the fastest setting against the defaults.
//  12. --decode-energy: J/token instead of the measurements above (docs/engine-cuda.md, "Decode
//      energy"): per model, batch (--batch LIST, default 1), GEMV setting (the defaults and each of
//      --gemv-config / --fp8-pipe LIST on every class) and fusion mode (--fusion), batch decode at
//      context 512 by graph replay in NVML energy windows (--energy-repeats, default 3, of
//      >= --energy-seconds, default 2.0, after a 0.3 s pre-roll), the windows of all points
//      interleaved in a seeded random order; idle (--idle-seconds, default 3) measured first and
//      subtracted. RESULT kind=decode_energy per point, kind=decode_energy_best per model and batch.
// Every measurement also prints one "RESULT key=value ..." line (read by
// bench/hf_engine_bench.py to print the HF comparison side by side).
//
// usage: bench_engine [--models llama-3.2-1b,llama-3.2-3b,llama-3.1-8b] [--quick]
//                     [--fusion none|production|norm-once|both|all] [--weights bf16|fp8|both]
//                     [--fp8-gemv base|warp|pipe|splitk|all] [--decode-only]
//                     [--attn-prefill wmma|mma|mma64|mma128|mma_k32|all] [--prefill-only]
//                     [--attn-decode split|one|one_rope|all] [--fp8-scale row|tensor|both]
//                     [--fp8-fold on|off|swiglu|both|levels] [--swiglu-quant NAME|all]
//                     [--tune [--gemv-config LIST] [--fp8-pipe LIST] [--attn-split LIST]]
//                     [--decode-energy [--gemv-config LIST] [--fp8-pipe LIST] [--batch LIST] [--energy-repeats N]
//                      [--energy-seconds S] [--idle-seconds S] [--energy-seed N]]
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include "common/clock.h"
#include "common/error.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/gemm_lt.h"
#include "engine/cuda/gemv_defaults.h"
#include "engine/cuda/memory_plan.h"
#include "engine/cuda/pdl.h"
#include "engine/cuda/swiglu.h"
#include "engine/cuda/weight_fill.h"
#include "engine/cuda/weight_fp8.h"
extern "C" {
#include "model/fp8_quant.h"
#include "model/random_init.h"
#include "profile/decode_energy.h"
#include "profile/trial_conditions.h"
}

#define CK(call)                                                                  \
  do {                                                                            \
    cudaError_t e_ = (call);                                                      \
    if (e_ != cudaSuccess) {                                                      \
      fprintf(stderr, "bench_engine: %s: %s\n", #call, cudaGetErrorString(e_));   \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)
#define LJ(call)                                                                  \
  do {                                                                            \
    int r_ = (call);                                                              \
    if (r_ < 0) {                                                                 \
      fprintf(stderr, "bench_engine: %s: %s\n", #call, lj_error_message());       \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over 10 timed runs (after 2 warm-ups) of `work` on the default stream, in ms.
template <typename F>
static double median_event_ms(F work) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<double> t;
  for (int i = 0; i < 12; i++) {
    CK(cudaEventRecord(e0));
    work();
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    if (i >= 2) t.push_back(ms);
  }
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  return median(t);
}

// Copy bandwidth: 1 GiB device-to-device copies, counting read + write.
static double measure_copy_gbs(void) {
  size_t bytes = 1ull << 30;
  void *a, *b;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemset(a, 1, bytes));
  double ms = median_event_ms([&] { CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); });
  CK(cudaFree(a));
  CK(cudaFree(b));
  return 2.0 * bytes / (ms * 1e-3) / 1e9;
}

// bf16 GEMM rate of cuBLASLt at 8192^3 on random data.
static double measure_gemm_tflops(void) {
  int n = 8192;
  size_t elems = (size_t)n * n;
  __nv_bfloat16 *x, *w, *y;
  CK(cudaMalloc(&x, 2 * elems));
  CK(cudaMalloc(&w, 2 * elems));
  CK(cudaMalloc(&y, 2 * elems));
  LJ(lj_cuda_fill_random(x, elems, 1, 1, 0, 0));
  LJ(lj_cuda_fill_random(w, elems, 1, 2, 0, 0));
  lj_gemm_lt *g;
  LJ(lj_gemm_lt_create(&g, 32 << 20));
  double ms = median_event_ms([&] { LJ(lj_gemm_lt_run(g, y, 0, x, w, n, n, n, 0)); });
  lj_gemm_lt_free(g);
  CK(cudaFree(x));
  CK(cudaFree(w));
  CK(cudaFree(y));
  return 2.0 * n * (double)n * n / (ms * 1e-3) / 1e12;
}

// The engine's FP8 prefill GEMM (per-token x per-channel scales) at 8192^3; *sums_tflops: the
// same without the fallback's scale pass (where there is one).
static double measure_gemm_fp8_tflops(double *sums_tflops) {
  int n = 8192;
  size_t elems = (size_t)n * n;
  uint8_t *xq, *wq;
  float *xs, *ws;
  __nv_bfloat16 *y;
  CK(cudaMalloc(&xq, elems));
  CK(cudaMalloc(&wq, elems));
  CK(cudaMalloc(&xs, 4 * (size_t)n));
  CK(cudaMalloc(&ws, 4 * (size_t)n));
  CK(cudaMalloc(&y, 2 * elems));
  LJ(lj_cuda_fill_random_fp8(xq, xs, n, n, 1, 1, LJ_FP8_SCALE_ROW, 0));
  LJ(lj_cuda_fill_random_fp8(wq, ws, n, n, 1, 2, LJ_FP8_SCALE_ROW, 0));
  lj_gemm_lt *g;
  LJ(lj_gemm_lt_create(&g, 32 << 20));
  double ms = median_event_ms([&] { LJ(lj_gemm_lt_run_fp8(g, y, xq, xs, wq, ws, n, n, n, 0)); });
  double sums_ms = lj_gemm_lt_fp8_outer(g, n, n, n) ? ms
                                                     : median_event_ms([&] { LJ(lj_gemm_lt_run_fp8_sums(g, y, xq, wq, n, n, n, 0)); });
  *sums_tflops = 2.0 * n * (double)n * n / (sums_ms * 1e-3) / 1e12;
  lj_gemm_lt_free(g);
  CK(cudaFree(xq));
  CK(cudaFree(wq));
  CK(cudaFree(xs));
  CK(cudaFree(ws));
  CK(cudaFree(y));
  return 2.0 * n * (double)n * n / (ms * 1e-3) / 1e12;
}

// Seconds per decode step for n_seqs sequences at context ctx: the cache holds ctx - 1
// random positions, one prefill token each, then graph steps (greedy sampling included).
static double decode_step_s(lj_cuda_engine *e, int n_seqs, int ctx, int steps) {
  std::vector<int> tok(n_seqs, 128000), ones(n_seqs, 1);
  lj_cuda_sampling greedy = {0.0f, 1.0f, 1, 0};
  // warm-up: captures the graph for this batch
  LJ(lj_cuda_fake_context(e, n_seqs, ctx - 1 - 2, 7));
  LJ(lj_cuda_prefill(e, n_seqs, tok.data(), ones.data()));
  LJ(lj_cuda_generate(e, n_seqs, 3, &greedy, NULL));
  std::vector<double> t;
  for (int rep = 0; rep < 3; rep++) {
    LJ(lj_cuda_fake_context(e, n_seqs, ctx - 1 - steps / 2, 7));  // mean context = ctx
    LJ(lj_cuda_prefill(e, n_seqs, tok.data(), ones.data()));
    LJ(lj_cuda_synchronize(e));
    int64_t t0 = lj_mono_ns();
    LJ(lj_cuda_generate(e, n_seqs, steps + 1, &greedy, NULL));
    t.push_back((double)(lj_mono_ns() - t0) * 1e-9 / steps);
  }
  return median(t);
}

static int64_t kv_bytes_read(const lj_model_config *c, int n_seqs, int ctx) {
  return 2ll * c->n_layers * n_seqs * (int64_t)ctx * lj_kv_dim(c) * 2;
}

// Causal attention FLOPs of T tokens of one sequence: QK^T and PV over the T(T+1)/2 pairs.
static double attn_flops(const lj_model_config *c, int T) {
  return 2.0 * 2.0 * c->n_layers * lj_q_dim(c) * ((double)T * (T + 1) / 2);
}

// Matmul FLOPs of a forward over T tokens of one sequence (lm_head on the last only),
// plus causal attention.
static double prefill_flops(const lj_model_config *c, int T) {
  double d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  double per_tok = 2.0 * c->n_layers * (d * (q + 2 * kv) + q * d + 3 * d * h);
  return per_tok * T + attn_flops(c, T) + 2.0 * d * c->vocab_size;
}

// Time of each stage (summed over layers) in one forward call, each stage bracketed by
// events (so no overlap between kernels: the sum exceeds the graph's step time).
// Returns the median ms of each stage (index lj_stage).
static std::vector<double> stage_profile(lj_cuda_engine *e, const lj_model_config *c, int n_seqs, int per_seq,
                                         int ctx, const char *label) {
  lj_cuda_reset(e);
  if (ctx > 0) LJ(lj_cuda_fake_context(e, n_seqs, ctx, 7));
  std::vector<int> tok((size_t)n_seqs * per_seq), lens(n_seqs, per_seq);
  for (size_t i = 0; i < tok.size(); i++) tok[i] = (int)(lj_splitmix64(i + 5) % 128000);
  lj_cuda_batch b;
  LJ(lj_cuda_prepare_batch(e, n_seqs, tok.data(), lens.data(), &b));
  cudaStream_t st = (cudaStream_t)lj_cuda_engine_stream(e);
  int n_calls = 1 + c->n_layers * (LJ_STAGE_LAYER_LAST - LJ_STAGE_LAYER_FIRST + 1) + 2;  // at most
  std::vector<cudaEvent_t> ev(n_calls + 1);
  for (auto &x : ev) CK(cudaEventCreate(&x));
  std::vector<std::vector<double>> per_stage(LJ_STAGE_ALL_COUNT);
  for (int rep = 0; rep < 6; rep++) {
    std::vector<int> which;
    int k = 0;
    CK(cudaEventRecord(ev[k++], st));
    auto one = [&](lj_stage s, int layer) {
      LJ(lj_cuda_run_stage(e, s, layer, &b, NULL));
      CK(cudaEventRecord(ev[k++], st));
      which.push_back(s);
    };
    one(LJ_STAGE_EMBED, -1);
    for (int l = 0; l < c->n_layers; l++)
      for (int s = LJ_STAGE_LAYER_FIRST; s <= LJ_STAGE_LAYER_LAST; s++) {
        lj_stage run = lj_cuda_stage_at(e, &b, (lj_stage)s), last = run;  // the engine's order
        if (run == LJ_STAGE_NONE) continue;  // not run on one GPU (an all-reduce)
        one(run, l);
        lj_stage_parts(run, NULL, &last);
        s = (int)last;
      }
    one(LJ_STAGE_FINAL_NORM, -1);
    one(LJ_STAGE_LM_HEAD, -1);
    CK(cudaEventSynchronize(ev[k - 1]));
    std::vector<double> sum(LJ_STAGE_ALL_COUNT, 0.0);
    for (int i = 0; i < (int)which.size(); i++) {
      float ms;
      CK(cudaEventElapsedTime(&ms, ev[i], ev[i + 1]));
      sum[which[i]] += ms;
    }
    if (rep > 0)
      for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++) per_stage[s].push_back(sum[s]);
  }
  double total = 0;
  std::vector<double> med(LJ_STAGE_ALL_COUNT);
  for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++) total += (med[s] = per_stage[s].empty() ? 0 : median(per_stage[s]));
  printf("  stage times, %s (events around each stage, summed over layers): total %.3f ms\n", label, total);
  for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++)
    if (med[s] > 0) {
      printf("    %-23s %8.3f ms %5.1f%%\n", lj_stage_name((lj_stage)s), med[s], 100.0 * med[s] / total);
      printf("RESULT model=%s kind=stage what=\"%s\" stage=%s ms=%.4f\n", c->name, label, lj_stage_name((lj_stage)s),
             med[s]);
    }
  for (auto &x : ev) CK(cudaEventDestroy(x));
  lj_cuda_reset(e);
  return med;
}

// Which execution modes to measure (--fusion).
static int g_fusion_on[3] = {1, 1, 0};  // by lj_cuda_fusion_mode: none, production, norm-once
static const int g_fusions = 3;
// The FP8 GEMV variants to measure (--fp8-gemv); --decode-only.
static std::vector<int> g_fp8_gemvs = {LJ_FP8_GEMV_DEFAULT};
// --fp8-scale: the scale granularities of the FP8 weights measured (lj_fp8_scale_mode).
static std::vector<int> g_fp8_scales = {LJ_FP8_SCALE_ROW};
static int g_decode_only = 0;
// The prefill attention variants to measure (--attn-prefill); --prefill-only.
static std::vector<int> g_attn_prefills = {LJ_ATTN_PREFILL_DEFAULT};
static int g_prefill_only = 0;
// The decode attention variants to measure (--attn-decode); whether the option was given.
static std::vector<int> g_attn_decodes = {LJ_ATTN_DECODE_DEFAULT};
static int g_attn_decode_given = 0;
// FP8 prefill: the fold levels measured (--fp8-fold; LJ_CUDA_FP8_FOLD_*).
static std::vector<int> g_fp8_folds = {LJ_CUDA_FP8_FOLD_ALL};
// FP8 prefill: the kernels of SwiGLU + down's quantisation measured where the fold runs it (--swiglu-quant).
static std::vector<int> g_swiglu_quants = {LJ_SWIGLU_QUANT_DEFAULT};
// A fold level's name in labels and RESULT lines.
static const char *fold_name(int level) {
  return level == LJ_CUDA_FP8_FOLD_OFF ? "off" : level == LJ_CUDA_FP8_FOLD_ALL ? "on" : "swiglu";
}
// ", attention NAME" for labels when variants are compared, else "".
static std::string attn_label(int ad) {
  return g_attn_decode_given ? std::string(", attention ") + lj_attn_decode_name(ad) : "";
}

// The variants a measurement runs: every selected FP8 GEMV with FP8 weights, else one (-1).
static std::vector<int> gemv_variants(int wf) {
  return wf == LJ_WEIGHTS_FP8 ? g_fp8_gemvs : std::vector<int>{-1};
}
// " fp8_gemv=NAME" for a RESULT line, "" for bf16.
static std::string gemv_field(int v) { return v < 0 ? "" : std::string(" fp8_gemv=") + lj_fp8_gemv_name(v); }

// The decode GEMVs' defaults for this model (gemv_defaults.c: by matrix shape, from the measured
// shape nearest to each), what --tune starts from and every other run uses.
static void print_gemv_defaults(const lj_model_config *c, int fp8) {
  printf("  GEMV defaults at 1-2 tokens (by shape, gemv_defaults.c):");
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) {
    int64_t rows, len;
    lj_gemv_class_shape(c, k, &rows, &len);
    int pipe = fp8 && k != LJ_GEMV_CLASS_LM_HEAD;  // the lm_head is bf16 in either format
    const lj_gemv_measured *m = lj_gemv_nearest_measured(pipe, k, rows, len);
    printf(" %s %lldx%lld %s%s (%s)", lj_gemv_class_name(k), (long long)rows, (long long)len,
           pipe ? "pipe " : "", pipe ? lj_fp8_pipe_config_name(m->cfg) : lj_gemv_config_name(m->cfg), m->model);
  }
  printf("\n");
}

static void bench_model(const char *name, double copy_gbs, double gemm_tflops, int quick, int wf, int fp8_scale) {
  lj_model_config c;
  LJ(lj_config_preset(name, &c));
  const char *wname = lj_weights_label(wf, fp8_scale);
  printf("\n== %s, %s weights: %.2f B parameters, %.2f GB of weights\n", name, wname, lj_config_n_params(&c) / 1e9,
         lj_cuda_weight_storage_bytes(&c, wf) / 1e9);
  print_gemv_defaults(&c, wf == LJ_WEIGHTS_FP8);

  // --- batch 1: decode at context 512, prefill of 2048 tokens
  {
    lj_cuda_options o;
    lj_cuda_options_default(&o);
    o.max_batch = 1, o.max_ctx = 4096 + 512, o.max_tokens = 2048, o.weights = wf, o.fp8_scale = fp8_scale;
    lj_cuda_engine *e;
    LJ(lj_cuda_engine_create_random(&e, &c, 1, &o));
    int64_t wbytes = lj_cuda_weight_bytes(e);
    struct { int gemv, pdl, fusion; const char *name; } variants[] = {
        {1, 1, LJ_FUSION_NONE, "GEMV+PDL"},        {1, 0, LJ_FUSION_NONE, "GEMV"},
        {0, 1, LJ_FUSION_NONE, "cuBLASLt"},        {1, 1, LJ_FUSION_PRODUCTION, "fused+PDL"},
        {1, 0, LJ_FUSION_PRODUCTION, "fused"},     {1, 1, LJ_FUSION_NORM_ONCE, "norm-once+PDL"},
        {1, 0, LJ_FUSION_NORM_ONCE, "norm-once"}};
    double best_s[3] = {0, 0, 0};  // GEMV+PDL per mode
    for (auto v : variants)
    for (int g8 : gemv_variants(wf))
    for (int ad : g_attn_decodes) {
      if (g_prefill_only) break;
      if (!g_fusion_on[v.fusion]) continue;
      if (wf == LJ_WEIGHTS_FP8 && (!v.gemv || v.fusion != LJ_FUSION_NONE)) continue;  // FP8: GEMV, unfused
      if (g8 >= 0) LJ(lj_cuda_set_fp8_gemv(e, g8));
      int gemv = v.gemv;
      lj_cuda_set_pdl(v.pdl);
      lj_cuda_set_use_gemv(e, gemv);
      LJ(lj_cuda_set_fusion(e, v.fusion));
      LJ(lj_cuda_set_attn_decode(e, ad));
      int ctx = 512, steps = quick ? 64 : 256;
      double s = decode_step_s(e, 1, ctx, steps);
      int64_t bytes = wbytes + kv_bytes_read(&c, 1, ctx);
      double floor_s = (double)bytes / (copy_gbs * 1e9);
      printf("  decode batch 1, context %d, %-9s%s%-6s%s: %8.1f tok/s  %7.3f ms/token  %7.0f GB/s  floor %.3f ms "
             "(%.0f tok/s): %5.1f%% of floor\n",
             ctx, v.name, g8 >= 0 ? " fp8 gemv " : "", g8 >= 0 ? lj_fp8_gemv_name(g8) : "", attn_label(ad).c_str(),
             1.0 / s, s * 1e3, bytes / s / 1e9, floor_s * 1e3, 1.0 / floor_s, 100.0 * floor_s / s);
      printf("RESULT model=%s kind=decode_b1 matmul=%s batch=1 ctx=%d tok_s=%.2f ms_token=%.4f gbs=%.1f "
             "floor_ms=%.4f pct_floor=%.1f fusion=%s weights=%s%s attn_decode=%s\n",
             name, v.name, ctx, 1.0 / s, s * 1e3, bytes / s / 1e9, floor_s * 1e3,
             100.0 * floor_s / s, lj_cuda_fusion_name(v.fusion), wname, gemv_field(g8).c_str(), lj_attn_decode_name(ad));
      if (gemv && v.pdl && ad == g_attn_decodes[0]) best_s[v.fusion] = s;
    }
    for (int f = 1; f < g_fusions; f++)
      if (best_s[0] > 0 && best_s[f] > 0)
        printf("  decode batch 1: fusion %s saves %.3f ms/token (%.1f%%): %.1f -> %.1f tok/s\n",
               lj_cuda_fusion_name(f), (best_s[0] - best_s[f]) * 1e3, 100.0 * (best_s[0] - best_s[f]) / best_s[0],
               1.0 / best_s[0], 1.0 / best_s[f]);
    lj_cuda_set_pdl(1);
    lj_cuda_set_use_gemv(e, 1);
    for (int f = 0; f < g_fusions; f++)
      for (int g8 : gemv_variants(wf))
      for (int ad : g_attn_decodes) {
        if (g_prefill_only || !g_fusion_on[f] || (wf == LJ_WEIGHTS_FP8 && f != LJ_FUSION_NONE)) continue;
        LJ(lj_cuda_set_fusion(e, f));
        LJ(lj_cuda_set_attn_decode(e, ad));
        if (g8 >= 0) LJ(lj_cuda_set_fp8_gemv(e, g8));
        char label[128];
        snprintf(label, sizeof label, "decode batch 1 context 512, fusion %s%s%s%s", lj_cuda_fusion_name(f),
                 g8 >= 0 ? ", fp8 gemv " : "", g8 >= 0 ? lj_fp8_gemv_name(g8) : "", attn_label(ad).c_str());
        stage_profile(e, &c, 1, 1, 512, label);
      }
    LJ(lj_cuda_set_fusion(e, LJ_FUSION_NONE));  // prefill is unfused in either mode
    LJ(lj_cuda_set_attn_decode(e, LJ_ATTN_DECODE_DEFAULT));
    if (wf == LJ_WEIGHTS_FP8) LJ(lj_cuda_set_fp8_gemv(e, g_fp8_gemvs[0]));
    if (!g_decode_only)  // prefill: its stage table and its time, per attention kernel (and FP8 fold setting)
      for (int ap : g_attn_prefills)
      for (int fold : wf == LJ_WEIGHTS_FP8 ? g_fp8_folds : std::vector<int>{-1})
      for (int sq : fold >= LJ_CUDA_FP8_FOLD_SWIGLU ? g_swiglu_quants : std::vector<int>{LJ_SWIGLU_QUANT_DEFAULT}) {
        LJ(lj_cuda_set_attn_prefill(e, ap));
        if (fold >= 0) lj_cuda_set_fp8_fold(e, fold);
        if (wf == LJ_WEIGHTS_FP8) LJ(lj_cuda_set_swiglu_quant(e, sq));
        const char *apn = lj_attn_prefill_name(ap);
        // the default SwiGLU kernel keeps the label of before (scripts/gpu/fp8_prefill.sh reads it)
        std::string sq_label = sq == LJ_SWIGLU_QUANT_DEFAULT ? "" : std::string(", swiglu_quant ") + lj_swiglu_quant_name(sq);
        std::string fold_label = fold < 0 ? "" : std::string(", fp8 fold ") + fold_name(fold) + sq_label;
        std::string fold_field = fold < 0 ? "" : std::string(" fp8_fold=") + fold_name(fold) +
                                 " swiglu_quant=" + lj_swiglu_quant_name(sq);
        int T = 2048;
        char label[128];
        snprintf(label, sizeof label, "prefill %d, attention %s%s", T, apn, fold_label.c_str());
        double attn_ms = stage_profile(e, &c, 1, T, 0, label)[LJ_STAGE_ATTN];
        std::vector<int> prompt(T);
        for (int i = 0; i < T; i++) prompt[i] = (int)(lj_splitmix64(i) % 128000);
        std::vector<double> t;
        for (int rep = 0; rep < (quick ? 3 : 6); rep++) {
          lj_cuda_reset(e);
          LJ(lj_cuda_synchronize(e));
          int64_t t0 = lj_mono_ns();
          LJ(lj_cuda_prefill(e, 1, prompt.data(), &T));
          LJ(lj_cuda_synchronize(e));
          if (rep > 0) t.push_back((double)(lj_mono_ns() - t0) * 1e-9);
        }
        double s = median(t), fl = prefill_flops(&c, T), attn_tf = attn_flops(&c, T) / (attn_ms * 1e-3) / 1e12;
        printf("  prefill %d tokens, attention %s (runs %s)%s: %8.2f ms  %7.1f tok/s  %6.1f TFLOP/s effective = "
               "%5.1f%% of the GEMM rate (%.0f TFLOP/s); attention stage %.3f ms, %.1f TFLOP/s\n",
               T, apn, lj_attn_prefill_name(lj_attn_prefill_runs(ap, c.head_dim)), fold_label.c_str(), s * 1e3, T / s,
               fl / s / 1e12, 100.0 * fl / s / 1e12 / gemm_tflops, gemm_tflops, attn_ms, attn_tf);
        printf("RESULT model=%s kind=prefill tokens=%d ms=%.3f tflops=%.1f pct_gemm=%.1f gemm_tflops=%.1f weights=%s "
               "attn_prefill=%s attn_runs=%s attn_ms=%.4f attn_tflops=%.1f%s\n",
               name, T, s * 1e3, fl / s / 1e12, 100.0 * fl / s / 1e12 / gemm_tflops, gemm_tflops, wname, apn,
               lj_attn_prefill_name(lj_attn_prefill_runs(ap, c.head_dim)), attn_ms, attn_tf, fold_field.c_str());
      }
    if (wf == LJ_WEIGHTS_FP8) lj_cuda_set_fp8_fold(e, LJ_CUDA_FP8_FOLD_DEFAULT);
    if (wf == LJ_WEIGHTS_FP8) LJ(lj_cuda_set_swiglu_quant(e, LJ_SWIGLU_QUANT_DEFAULT));
    lj_cuda_engine_free(e);
  }

  if (g_prefill_only) return;
  // --- decode throughput over batch sizes
  std::vector<int> batches = g_decode_only ? std::vector<int>{4, 8} : std::vector<int>{1, 4, 16, 64, 256};
  if (g_decode_only && g_attn_decode_given) batches.push_back(16);
  int ctxs[] = {512, 4096};
  for (int ci = 0; ci < (g_decode_only ? 1 : 2); ci++) {
    int ctx = ctxs[ci], steps = quick ? 16 : 32;
    lj_cuda_options o;
    lj_cuda_options_default(&o);
    o.max_ctx = ctx + steps + 8, o.max_tokens = 256, o.print_plan = 0, o.weights = wf, o.fp8_scale = fp8_scale;
    size_t free_b, total_b;
    CK(cudaMemGetInfo(&free_b, &total_b));
    int fit = lj_cuda_memory_plan_max_batch(&c, wf, o.max_ctx, o.max_tokens, 0, (int64_t)free_b);
    o.max_batch = fit < 256 ? fit : 256;
    int most = batches.back();
    if (g_decode_only && o.max_batch > most) o.max_batch = most;  // the listed batches only: no larger KV cache
    if (o.max_batch < 1) {
      printf("  context %d: even batch 1 does not fit\n", ctx);
      continue;
    }
    lj_cuda_engine *e;
    LJ(lj_cuda_engine_create_random(&e, &c, 1, &o));
    for (int b : batches) {
      if (b > o.max_batch) {
        printf("  decode batch %3d, context %4d: does not fit (largest batch at this context: %d)\n", b, ctx, fit);
        printf("RESULT model=%s kind=decode batch=%d ctx=%d fits=0 max_batch=%d\n", name, b, ctx, fit);
        continue;
      }
      for (int f = 0; f < g_fusions; f++)
      for (int g8 : b <= 8 ? gemv_variants(wf) : std::vector<int>{gemv_variants(wf)[0]})
      for (int ad : g_attn_decodes) {
        if (!g_fusion_on[f]) continue;
        if (f != LJ_FUSION_NONE && g_fusion_on[LJ_FUSION_NONE] && b > 8) continue;  // the same kernels as unfused
        LJ(lj_cuda_set_fusion(e, f));
        LJ(lj_cuda_set_attn_decode(e, ad));
        if (g8 >= 0) LJ(lj_cuda_set_fp8_gemv(e, g8));
        double s = decode_step_s(e, b, ctx, steps);
        int64_t bytes = lj_cuda_weight_bytes(e) + kv_bytes_read(&c, b, ctx);
        printf("  decode batch %3d, context %4d, fusion %-10s%s%-6s%s: %9.1f tok/s  %7.3f ms/step  %7.0f GB/s\n", b,
               ctx, lj_cuda_fusion_name(f), g8 >= 0 ? " fp8 gemv " : "", g8 >= 0 ? lj_fp8_gemv_name(g8) : "",
               attn_label(ad).c_str(), b / s, s * 1e3, bytes / s / 1e9);
        double floor_s = (double)bytes / (copy_gbs * 1e9);
        printf("RESULT model=%s kind=%s batch=%d ctx=%d fits=1 tok_s=%.2f ms_step=%.4f gbs=%.1f fusion=%s "
               "floor_ms=%.4f pct_floor=%.1f weights=%s%s attn_decode=%s\n", name,
               f == LJ_FUSION_PRODUCTION ? "decode_fused" : f == LJ_FUSION_NORM_ONCE ? "decode_norm_once" : "decode", b, ctx, b / s, s * 1e3, bytes / s / 1e9,
               lj_cuda_fusion_name(f), floor_s * 1e3, 100.0 * floor_s / s, wname, gemv_field(g8).c_str(),
               lj_attn_decode_name(ad));
      }
    }
    lj_cuda_engine_free(e);
  }
}

// ---------------------------------------------------------------- --tune
static int g_tune = 0;
static std::vector<int> g_tune_gemv, g_tune_fp8_pipe, g_tune_splits = {0, 1, 2, 4, 8, 16, 32};

// One comma-separated list of names (parse: name -> index, -1 unknown) or "all" (0 .. count - 1).
static int parse_names(const char *opt, const char *list, int (*parse)(const char *), int count,
                       std::vector<int> *out) {
  out->clear();
  std::string l(list);
  if (l == "all") {
    for (int v = 0; v < count; v++) out->push_back(v);
    return 0;
  }
  size_t at = 0;
  while (at <= l.size()) {
    size_t end = l.find(',', at);
    std::string name = l.substr(at, end == std::string::npos ? std::string::npos : end - at);
    int v = parse(name.c_str());
    if (v < 0) {
      fprintf(stderr, "bench_engine: %s %s: '%s' is not a configuration\n", opt, list, name.c_str());
      return -1;
    }
    out->push_back(v);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return 0;
}

// The GEMV stages a class's time is read from in a stage table.
static const lj_stage g_class_stage[LJ_GEMV_CLASS_COUNT] = {LJ_STAGE_QKV, LJ_STAGE_O_PROJ, LJ_STAGE_GATE_UP,
                                                            LJ_STAGE_DOWN, LJ_STAGE_LM_HEAD};

struct tune_point {
  std::string gemv;
  int splits;
  double tok_s, pct;
};

// Batch-1 decode at context 512 with the engine's current knobs: one RESULT kind=tune line.
static tune_point tune_run(lj_cuda_engine *e, const lj_model_config *c, const char *wname, int fp8, double copy_gbs,
                           int steps) {
  int bf[LJ_GEMV_CLASS_COUNT], f8[LJ_GEMV_CLASS_COUNT];
  lj_cuda_gemv_configs(e, bf, f8);
  char spec[160];
  lj_gemv_spec_format(fp8 ? f8 : bf, fp8, spec, sizeof spec);
  int ctx = 512, splits = lj_cuda_attn_splits(e);
  double s = decode_step_s(e, 1, ctx, steps);
  int64_t bytes = lj_cuda_weight_bytes(e) + kv_bytes_read(c, 1, ctx);
  double floor_s = (double)bytes / (copy_gbs * 1e9);
  printf("  tune %s %-44s splits %2d: %8.1f tok/s  %7.3f ms/token  %5.1f%% of floor (%.3f ms)\n", fp8 ? "fp8 pipe" : "gemv",
         spec, splits, 1.0 / s, s * 1e3, 100.0 * floor_s / s, floor_s * 1e3);
  printf("RESULT model=%s kind=tune weights=%s gemv=%s attn_splits=%d batch=1 ctx=%d tok_s=%.2f ms_token=%.4f "
         "floor_ms=%.4f pct_floor=%.1f copy_gbs=%.1f\n", c->name, wname, spec, splits, ctx, 1.0 / s, s * 1e3,
         floor_s * 1e3, 100.0 * floor_s / s, copy_gbs);
  return {spec, splits, 1.0 / s, 100.0 * floor_s / s};
}

// The sweep of one model and weight format (--tune).
static void bench_tune(const char *name, double copy_gbs, int quick, int wf) {
  lj_model_config c;
  LJ(lj_config_preset(name, &c));
  int fp8 = wf == LJ_WEIGHTS_FP8;
  const char *wname = lj_weights_label(wf, LJ_FP8_SCALE_ROW);
  printf("\n== tune %s, %s weights: batch-1 decode at context 512 per knob setting\n", name, wname);
  print_gemv_defaults(&c, fp8);
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  // 1024 positions: the decode reaches ~580; a target of one split then holds the whole cache
  o.max_batch = 1, o.max_ctx = 1024, o.max_tokens = 16, o.weights = wf;
  lj_cuda_engine *e;
  LJ(lj_cuda_engine_create_random(&e, &c, 1, &o));
  lj_cuda_set_pdl(1);
  lj_cuda_set_use_gemv(e, 1);
  LJ(lj_cuda_set_fusion(e, LJ_FUSION_NONE));
  int steps = quick ? 64 : 128;
  int dflt[LJ_GEMV_CLASS_COUNT];
  lj_gemv_model_defaults(&c, fp8, dflt);
  auto set = [&](const int *cfg) { LJ(lj_cuda_set_gemv_configs(e, fp8 ? NULL : cfg, fp8 ? cfg : NULL)); };
  set(dflt);
  tune_point base = tune_run(e, &c, wname, fp8, copy_gbs, steps), best = base;
  std::vector<int> best_cfg(dflt, dflt + LJ_GEMV_CLASS_COUNT);
  // every configuration on every class; each class's stage time kept for the per-class choice
  std::vector<double> class_ms(LJ_GEMV_CLASS_COUNT, 1e30);
  std::vector<int> class_best(dflt, dflt + LJ_GEMV_CLASS_COUNT);
  for (int v : fp8 ? g_tune_fp8_pipe : g_tune_gemv) {
    std::vector<int> cfg(LJ_GEMV_CLASS_COUNT, v);  // FP8: lm_head is bf16 and ignores its pipe entry
    set(cfg.data());
    tune_point t = tune_run(e, &c, wname, fp8, copy_gbs, steps);
    if (t.tok_s > best.tok_s) best = t, best_cfg = cfg;
    char label[96];
    snprintf(label, sizeof label, "tune %s %s", fp8 ? "fp8 pipe" : "gemv",
             fp8 ? lj_fp8_pipe_config_name(v) : lj_gemv_config_name(v));
    std::vector<double> med = stage_profile(e, &c, 1, 1, 512, label);
    for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++)
      if (!(fp8 && k == LJ_GEMV_CLASS_LM_HEAD) && med[g_class_stage[k]] < class_ms[k])
        class_ms[k] = med[g_class_stage[k]], class_best[k] = v;
  }
  // the fastest configuration of each class (event-timed stages) together
  set(class_best.data());
  tune_point per_class = tune_run(e, &c, wname, fp8, copy_gbs, steps);
  if (per_class.tok_s > best.tok_s) best = per_class, best_cfg = class_best;
  // the attention's split count with the best GEMV setting
  set(best_cfg.data());
  for (int sp : g_tune_splits) {
    if (lj_cuda_set_attn_splits(e, sp) < 0) {
      printf("  tune splits %d: %s (skipped)\n", sp, lj_error_message());
      continue;
    }
    tune_point t = tune_run(e, &c, wname, fp8, copy_gbs, steps);
    if (t.tok_s > best.tok_s) best = t;
  }
  LJ(lj_cuda_set_attn_splits(e, 0));
  printf("  best: %s, splits %d: %.1f tok/s (%.1f%% of floor) against the defaults' %.1f (%.1f%%): %+.1f%%\n",
         best.gemv.c_str(), best.splits, best.tok_s, best.pct, base.tok_s, base.pct,
         100.0 * (best.tok_s / base.tok_s - 1.0));
  printf("RESULT model=%s kind=tune_best weights=%s gemv=%s attn_splits=%d tok_s=%.2f pct_floor=%.1f "
         "default_tok_s=%.2f default_pct_floor=%.1f gain_pct=%.1f\n", name, wname, best.gemv.c_str(), best.splits,
         best.tok_s, best.pct, base.tok_s, base.pct, 100.0 * (best.tok_s / base.tok_s - 1.0));
  lj_cuda_engine_free(e);
}

// ---------------------------------------------------------------- --decode-energy
// Decode energy per GEMV setting, fusion mode and batch (docs/engine-cuda.md, "Decode energy"): the
// schedule and the statistics live in profile/decode_energy.c (tested without a GPU); here the
// meter, the engine and the windows.
static int g_denergy = 0, g_energy_repeats = 3;
static double g_energy_seconds = 2.0, g_idle_seconds = 3.0;
static uint64_t g_energy_seed = 1;
static std::vector<int> g_batches = {1};
// GEMV settings applied to every class (bf16; FP8: the pipe variant's), -1 = the model's defaults.
static std::vector<int> g_energy_gemv = {-1}, g_energy_pipe = {-1};
// Steps per generate call: context 480 .. 544 around 512, as the batch-1 decode rows' mean.
static const int g_energy_ctx = 512, g_energy_chunk = 64;

// The meter: NVML, CUDA device 0's GPU, a sampler whose sink keeps the readings of the windows'
// conditions (temperature, SM clock, throttle reasons).
struct energy_meter {
  lj_source *src = NULL;
  lj_sampler *s = NULL;
  int dev = 0;
  lj_decode_energy_idle idle;
  std::mutex lock;
  std::vector<lj_sample> readings;
};

static int keep_readings(void *user, const lj_sample *x, size_t n) {
  energy_meter *m = (energy_meter *)user;
  std::lock_guard<std::mutex> g(m->lock);
  for (size_t i = 0; i < n; i++) {
    int r = x[i].reading;
    if (x[i].device == m->dev &&
        (r == LJ_READING_TEMPERATURE || r == LJ_READING_CLOCK_SM || r == LJ_READING_THROTTLE))
      m->readings.push_back(x[i]);
  }
  return 0;
}

// Opens NVML on CUDA device 0's GPU (the context open), measures idle, starts the sampler.
// Returns 77 (no NVML: no energy to measure), else 0.
static int energy_meter_open(energy_meter *m) {
  int rc = lj_source_open_nvml(&m->src, NULL);
  if (rc < 0) {
    printf("bench_engine: --decode-energy measures the GPU through NVML, which is not usable here: %s\n",
           lj_error_message());
    return 77;
  }
  for (int d = 0; d < lj_source_device_count(m->src); d++) {
    lj_device_info info;
    if (lj_source_device_info(m->src, d, &info) == 0 && info.cuda_index == 0) m->dev = d;
  }
  lj_device_info info;
  LJ(lj_source_device_info(m->src, m->dev, &info));
  CK(cudaFree(0));  // the context open: an idle GPU with one draws more than one without
  lj_idle_result ir;
  LJ(lj_measure_idle(m->src, m->dev, g_idle_seconds, &ir));
  m->idle.sample_w = ir.n_samples > 0 ? ir.sample_mean_w : ir.mean_w;
  m->idle.sample_sd_w = ir.n_samples > 1 ? ir.sample_stddev_w : NAN;
  m->idle.counter_w = ir.n_counter_updates > 1 ? ir.counter_mean_w : ir.mean_w;
  m->idle.counter_sd_w = ir.n_counter_updates > 1 ? ir.counter_stddev_w : NAN;
  printf("meter: NVML, %s %s, driver %s, power limit %.0f W\n", info.name, info.uuid, info.driver_version,
         info.power_limit_w);
  printf("idle (%.1f s, CUDA context open, %.0f C): %.2f W by the power samples (sd %.2f W, %d samples), %.2f W by "
         "the counter (sd %.2f W, %d updates); each source's own idle is subtracted from its figure\n",
         ir.seconds, ir.temperature_c, m->idle.sample_w, m->idle.sample_sd_w, ir.n_samples, m->idle.counter_w,
         m->idle.counter_sd_w, ir.n_counter_updates);
  printf("RESULT kind=decode_energy_idle seconds=%.1f sample_w=%.3f sample_sd_w=%.3f counter_w=%.3f counter_sd_w=%.3f "
         "temp_c=%.1f device=\"%s\" uuid=%s\n", ir.seconds, m->idle.sample_w, m->idle.sample_sd_w, m->idle.counter_w,
         m->idle.counter_sd_w, ir.temperature_c, info.name, info.uuid);
  lj_sampler_config cfg;
  lj_sampler_config_default(&cfg);
  cfg.devices = 1ull << m->dev;
  cfg.sink = keep_readings, cfg.sink_user = m;
  LJ(lj_sampler_create(&m->s, m->src, &cfg));
  LJ(lj_sampler_start(m->s));
  return 0;
}

static void energy_meter_close(energy_meter *m) {
  lj_sampler_stats st;
  lj_sampler_stats_get(m->s, &st);
  LJ(lj_sampler_stop(m->s));
  printf("sampler: %.2f%% of one core, %llu samples, %llu dropped, %llu driver-buffer gaps\n", st.cpu_percent,
         (unsigned long long)st.samples, (unsigned long long)st.dropped, (unsigned long long)st.buffer_gaps);
  lj_sampler_free(m->s);
  lj_source_close(m->src);
}

struct energy_point {
  int batch, gemv, fusion;
  std::string gemv_name, label;
  std::vector<int> handles, slots;  // each window's meter handle and place in the run's order
  std::vector<int64_t> steps;
};

// The points of one model and weight format: batch x GEMV setting x fusion mode. FP8 runs unfused
// only, and the fused modes apply to calls of <= LJ_CUDA_FUSED_MAX_TOKENS tokens only.
static std::vector<energy_point> energy_points(int fp8, int verbose) {
  std::vector<energy_point> pts;
  for (int b : g_batches)
    for (int g : fp8 ? g_energy_pipe : g_energy_gemv)
      for (int f = 0; f < g_fusions; f++) {
        if (!g_fusion_on[f]) continue;
        if (f != LJ_FUSION_NONE && (fp8 || b > LJ_CUDA_FUSED_MAX_TOKENS)) {
          if (verbose && g == (fp8 ? g_energy_pipe : g_energy_gemv)[0])
            printf("  fusion %s at batch %d: not measured (%s)\n", lj_cuda_fusion_name(f), b,
                   fp8 ? "FP8 runs unfused" : "the same kernels as unfused above 8 tokens");
          continue;
        }
        energy_point p;
        p.batch = b, p.gemv = g, p.fusion = f;
        p.gemv_name = g < 0 ? "defaults" : fp8 ? lj_fp8_pipe_config_name(g) : lj_gemv_config_name(g);
        p.label = "gemv=" + p.gemv_name + " fusion=" + lj_cuda_fusion_name(f);
        pts.push_back(p);
      }
  return pts;
}

// Rewinds batch sequences to context base and decodes one chunk: g_energy_chunk graph steps.
static void energy_chunk(lj_cuda_engine *e, int batch, const std::vector<int> &base) {
  lj_cuda_sampling greedy = {0.0f, 1.0f, 1, 0};
  LJ(lj_cuda_rewind(e, batch, base.data()));
  LJ(lj_cuda_generate(e, batch, g_energy_chunk + 1, &greedy, NULL));
}

// One window of point p: its settings, its context, the graph captured, the pre-roll, then
// chunks until the window has lasted g_energy_seconds.
static void energy_window(lj_cuda_engine *e, const lj_model_config *c, int fp8, energy_meter *m, energy_point *p,
                          int slot) {
  int dflt[LJ_GEMV_CLASS_COUNT];
  lj_gemv_model_defaults(c, fp8, dflt);
  std::vector<int> cfg(LJ_GEMV_CLASS_COUNT, p->gemv);
  const int *use = p->gemv < 0 ? dflt : cfg.data();
  LJ(lj_cuda_set_gemv_configs(e, fp8 ? NULL : use, fp8 ? use : NULL));
  LJ(lj_cuda_set_fusion(e, p->fusion));
  int b = p->batch, start = g_energy_ctx - g_energy_chunk / 2;
  std::vector<int> tok(b, 128000), ones(b, 1), base(b, start);
  LJ(lj_cuda_fake_context(e, b, start - 1, 7));
  LJ(lj_cuda_prefill(e, b, tok.data(), ones.data()));
  energy_chunk(e, b, base);  // captures the graph for this batch and setting
  int64_t t0 = lj_mono_ns();
  while ((double)(lj_mono_ns() - t0) < LJ_DECODE_ENERGY_PREROLL_S * 1e9) energy_chunk(e, b, base);
  int h = lj_meter_begin(m->s, "decode_energy");
  LJ(h);
  int64_t steps = 0;
  t0 = lj_mono_ns();
  do {
    energy_chunk(e, b, base);
    steps += g_energy_chunk;
  } while ((double)(lj_mono_ns() - t0) < g_energy_seconds * 1e9);
  LJ(lj_meter_end_handle(m->s, h));
  p->handles.push_back(h);
  p->slots.push_back(slot);
  p->steps.push_back(steps);
}

static std::string fmt_or_na(const char *f, double v) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A point's windows read back and summed up: one line and one RESULT kind=decode_energy.
static lj_decode_energy_point energy_report(const char *name, const char *wname, const lj_model_config *c,
                                            lj_cuda_engine *e, double copy_gbs, energy_meter *m, energy_point *p) {
  std::vector<lj_decode_energy_window> w(p->handles.size());
  for (size_t i = 0; i < w.size(); i++) {
    lj_window_result r;
    LJ(lj_meter_result(m->s, p->handles[i], m->dev, &r, 5000000000ll));
    w[i].seconds = r.duration_s, w[i].steps = p->steps[i];
    w[i].sample_j = r.flags & LJ_WINDOW_NO_SAMPLES ? NAN : r.sample_energy_j;
    w[i].counter_j = r.flags & LJ_WINDOW_NO_COUNTER ? NAN : r.counter_energy_j;
    {
      std::lock_guard<std::mutex> g(m->lock);
      lj_decode_energy_window_conditions(m->readings.data(), m->readings.size(), m->dev, r.begin_ns, r.end_ns, &w[i]);
    }
    printf("    %s batch %d window %d: %.3f s, %lld steps, %.2f J by the samples, %.2f J by the counter, %s -> %s C\n",
           p->label.c_str(), p->batch, p->slots[i], w[i].seconds, (long long)w[i].steps, w[i].sample_j, w[i].counter_j,
           fmt_or_na("%.0f", w[i].temp_first_c).c_str(), fmt_or_na("%.0f", w[i].temp_last_c).c_str());
    if (r.flags & (LJ_WINDOW_PENDING | LJ_WINDOW_GAP | LJ_WINDOW_COUNTER_RESET | LJ_WINDOW_EXTRAPOLATED))
      printf("  note: %s window %zu flags 0x%x (pending 0x2, gap 0x40, counter reset 0x20, extrapolated 0x80)\n",
             p->label.c_str(), i, r.flags);
  }
  lj_decode_energy_point s;
  LJ(lj_decode_energy_point_stats(w.data(), (int)w.size(), p->batch, &m->idle, 0.95, &s));
  int64_t bytes = lj_cuda_weight_bytes(e) + kv_bytes_read(c, p->batch, g_energy_ctx);
  double floor_ms = (double)bytes / (copy_gbs * 1e9) * 1e3, pct = 100.0 * floor_ms / s.ms_per_step.mean;
  char thr[256];
  lj_throttle_names(s.throttle, thr, sizeof thr);
  const char *src = s.by_samples ? "power samples" : "counter";
  printf("  batch %d %-28s %8.4f ms/token %8.4f ms/step %8.1f tok/s %5.1f%% of floor | J/token above idle %.4f "
         "+- %.4f (95%%, %d windows, %s; %s %s) gross %.4f | %.1f W | %s -> %s C | SM %s-%s MHz | throttle %s\n",
         p->batch, p->label.c_str(), s.ms_per_token, s.ms_per_step.mean, s.tok_s, pct, s.dyn_j.mean,
         s.dyn_j.half_width, s.n, src, s.by_samples ? "counter" : "samples",
         fmt_or_na("%.4f", s.other_dyn_j.n ? s.other_dyn_j.mean : NAN).c_str(), s.gross_j.mean, s.mean_w,
         fmt_or_na("%.0f", s.temp_first_c).c_str(), fmt_or_na("%.0f", s.temp_last_c).c_str(),
         fmt_or_na("%.0f", s.sm_mhz_min).c_str(), fmt_or_na("%.0f", s.sm_mhz_max).c_str(), thr);
  printf("RESULT kind=decode_energy model=%s weights=%s batch=%d gemv=%s fusion=%s ctx=%d ms_per_token=%.4f "
         "ms_per_step=%.4f ms_per_step_ci=%.4f tok_s=%.2f floor_ms=%.4f pct_floor=%.1f j_per_token_dyn=%.5f "
         "j_per_token_dyn_ci=%.5f j_per_token_gross=%.5f source=%s j_per_token_dyn_other=%.5f windows=%d "
         "window_s=%.1f mean_w=%.2f idle_w=%.2f temp_c_first=%.1f temp_c_last=%.1f sm_mhz_min=%.0f sm_mhz_max=%.0f "
         "throttle=%s\n",
         name, wname, p->batch, p->gemv_name.c_str(), lj_cuda_fusion_name(p->fusion), g_energy_ctx, s.ms_per_token,
         s.ms_per_step.mean, s.ms_per_step.half_width, s.tok_s, floor_ms, pct, s.dyn_j.mean, s.dyn_j.half_width,
         s.gross_j.mean, s.by_samples ? "samples" : "counter", s.other_dyn_j.n ? s.other_dyn_j.mean : NAN, s.n,
         g_energy_seconds, s.mean_w, s.by_samples ? m->idle.sample_w : m->idle.counter_w, s.temp_first_c,
         s.temp_last_c, s.sm_mhz_min, s.sm_mhz_max, thr);
  return s;
}

// Every point of one model and weight format, the windows interleaved in a seeded random order.
static void bench_decode_energy(const char *name, double copy_gbs, int wf, energy_meter *m, uint64_t seed) {
  lj_model_config c;
  LJ(lj_config_preset(name, &c));
  int fp8 = wf == LJ_WEIGHTS_FP8;
  const char *wname = lj_weights_label(wf, LJ_FP8_SCALE_ROW);
  printf("\n== decode energy %s, %s weights: context %d (%d .. %d), windows >= %.1f s after %.1f s of pre-roll\n",
         name, wname, g_energy_ctx, g_energy_ctx - g_energy_chunk / 2, g_energy_ctx + g_energy_chunk / 2,
         g_energy_seconds, LJ_DECODE_ENERGY_PREROLL_S);
  print_gemv_defaults(&c, fp8);
  std::vector<energy_point> pts = energy_points(fp8, 1);
  if (pts.empty()) {
    printf("  no point to measure (see above)\n");
    return;
  }
  int most = *std::max_element(g_batches.begin(), g_batches.end());
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_batch = most, o.max_ctx = g_energy_ctx + g_energy_chunk, o.max_tokens = std::max(most, 16);
  o.print_plan = 0;
  o.weights = wf;
  lj_cuda_engine *e;
  LJ(lj_cuda_engine_create_random(&e, &c, 1, &o));
  lj_cuda_set_pdl(1);
  lj_cuda_set_use_gemv(e, 1);
  LJ(lj_cuda_set_attn_decode(e, LJ_ATTN_DECODE_DEFAULT));
  if (fp8) LJ(lj_cuda_set_fp8_gemv(e, g_fp8_gemvs[0]));
  std::vector<int> order(pts.size() * g_energy_repeats);
  LJ(lj_decode_energy_order((int)pts.size(), g_energy_repeats, seed, order.data()));
  printf("  %zu points x %d windows, seed %llu: about %.0f s\n", pts.size(), g_energy_repeats,
         (unsigned long long)seed, lj_decode_energy_estimate_s((int)order.size(), g_energy_seconds));
  for (size_t k = 0; k < order.size(); k++) energy_window(e, &c, fp8, m, &pts[order[k]], (int)k);
  std::vector<lj_decode_energy_point> res;
  for (auto &p : pts) res.push_back(energy_report(name, wname, &c, e, copy_gbs, m, &p));
  for (int b : g_batches) {  // the closing line of each batch
    std::vector<lj_decode_energy_point> sub;
    std::vector<const char *> labels;
    std::vector<const energy_point *> which;
    for (size_t i = 0; i < pts.size(); i++)
      if (pts[i].batch == b) sub.push_back(res[i]), labels.push_back(pts[i].label.c_str()), which.push_back(&pts[i]);
    if (sub.empty()) continue;
    lj_decode_energy_summary s;
    LJ(lj_decode_energy_summarize(sub.data(), (int)sub.size(), &s));
    char text[768];
    lj_decode_energy_summary_text(sub.data(), labels.data(), &s, text, sizeof text);
    printf("  %s batch %d: %s\n", name, b, text);
    const energy_point *f = which[s.fastest], *l = which[s.least];
    printf("RESULT kind=decode_energy_best model=%s weights=%s batch=%d fastest_gemv=%s fastest_fusion=%s "
           "least_gemv=%s least_fusion=%s time_pct=%.2f energy_pct=%.2f time_noise=%d energy_noise=%d\n",
           name, wname, b, f->gemv_name.c_str(), lj_cuda_fusion_name(f->fusion), l->gemv_name.c_str(),
           lj_cuda_fusion_name(l->fusion), s.time_pct, s.energy_pct, s.time_noise, s.energy_noise);
  }
  {
    std::lock_guard<std::mutex> g(m->lock);
    m->readings.clear();  // this model's windows are read
  }
  lj_cuda_engine_free(e);
}

// --decode-energy's GEMV list: the defaults (-1) always first, then each configuration named in
// `list` ("defaults" may be named too, "all" = every configuration).
static int energy_configs(const char *opt, const char *list, int (*parse)(const char *), int count,
                          std::vector<int> *out) {
  out->assign(1, -1);
  if (!list) return 0;
  std::string rest, l(list);
  size_t at = 0;
  while (at <= l.size()) {
    size_t end = l.find(',', at);
    std::string one = l.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (one != "defaults") rest += (rest.empty() ? "" : ",") + one;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  std::vector<int> named;
  if (!rest.empty() && parse_names(opt, rest.c_str(), parse, count, &named) < 0) return -1;
  for (int v : named)
    if (std::find(out->begin(), out->end(), v) == out->end()) out->push_back(v);
  return 0;
}

// A comma-separated list of integers in [lo, hi] (each kept once), else -1 saying what was expected.
static int parse_ints(const char *opt, const char *list, long lo, long hi, const char *what, std::vector<int> *out) {
  out->clear();
  for (const char *q = list; *q;) {
    char *end;
    long v = strtol(q, &end, 10);
    if (end == q || v < lo || v > hi || (*end && *end != ',')) {
      fprintf(stderr, "bench_engine: %s %s: expected %s, comma-separated\n", opt, list, what);
      return -1;
    }
    if (std::find(out->begin(), out->end(), (int)v) == out->end()) out->push_back((int)v);
    q = *end ? end + 1 : end;
  }
  return out->empty() ? (fprintf(stderr, "bench_engine: %s: an empty list\n", opt), -1) : 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // whole lines: the memory plan goes to stderr in between
  const char *models = "llama-3.2-1b,llama-3.2-3b,llama-3.1-8b";
  int quick = 0, w_bf16 = 1, w_fp8 = 0;
  const char *fp8_scale_given = NULL, *gemv_given = NULL, *pipe_given = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
    else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
      const char *f = argv[++i];
      w_bf16 = !strcmp(f, "both") || lj_weight_format_parse(f) == LJ_WEIGHTS_BF16;
      w_fp8 = !strcmp(f, "both") || lj_weight_format_parse(f) == LJ_WEIGHTS_FP8;
      if (!w_bf16 && !w_fp8) {
        fprintf(stderr, "bench_engine: --weights %s: expected bf16, fp8 or both\n", f);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--fp8-scale") && i + 1 < argc) {
      const char *f = argv[++i];
      int m = lj_fp8_scale_parse(f);
      if (!strcmp(f, "both")) g_fp8_scales = {LJ_FP8_SCALE_ROW, LJ_FP8_SCALE_TENSOR};
      else if (m >= 0) g_fp8_scales = {m};
      else {
        fprintf(stderr, "bench_engine: --fp8-scale %s: expected row, tensor or both\n", f);
        return 2;
      }
      fp8_scale_given = f;
    }
    else if (!strcmp(argv[i], "--quick")) quick = 1;
    else if (!strcmp(argv[i], "--tune")) g_tune = 1;
    else if (!strcmp(argv[i], "--gemv-config") && i + 1 < argc) gemv_given = argv[++i];  // parsed below
    else if (!strcmp(argv[i], "--fp8-pipe") && i + 1 < argc) pipe_given = argv[++i];
    else if (!strcmp(argv[i], "--decode-energy")) g_denergy = 1;
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
      if (parse_ints("--batch", argv[++i], 1, 256, "batch sizes 1 .. 256", &g_batches) < 0) return 2;
    }
    else if (!strcmp(argv[i], "--energy-repeats") && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > 100) {
        fprintf(stderr, "bench_engine: --energy-repeats %s: expected windows per point, 1 .. 100\n", argv[i]);
        return 2;
      }
      g_energy_repeats = (int)v;
    }
    else if ((!strcmp(argv[i], "--energy-seconds") || !strcmp(argv[i], "--idle-seconds")) && i + 1 < argc) {
      const char *opt = argv[i];
      char *end;
      double v = strtod(argv[++i], &end);
      if (*end || !(v >= 0.5 && v <= 600)) {
        fprintf(stderr, "bench_engine: %s %s: expected seconds, 0.5 .. 600\n", opt, argv[i]);
        return 2;
      }
      (!strcmp(opt, "--idle-seconds") ? g_idle_seconds : g_energy_seconds) = v;
    }
    else if (!strcmp(argv[i], "--energy-seed") && i + 1 < argc) g_energy_seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--attn-split") && i + 1 < argc) {
      if (parse_ints("--attn-split", argv[++i], 0, 4096, "split counts >= 0 (0: the rule)", &g_tune_splits) < 0)
        return 2;
    }
    else if (!strcmp(argv[i], "--decode-only")) g_decode_only = 1;
    else if (!strcmp(argv[i], "--prefill-only")) g_prefill_only = 1;
    else if (!strcmp(argv[i], "--attn-prefill") && i + 1 < argc) {
      const char *f = argv[++i];
      g_attn_prefills.clear();
      for (int v = 0; v < LJ_ATTN_PREFILL_COUNT; v++)
        if (!strcmp(f, "all") || v == lj_attn_prefill_parse(f)) g_attn_prefills.push_back(v);
      if (g_attn_prefills.empty()) {
        fprintf(stderr, "bench_engine: --attn-prefill %s: expected wmma, mma, mma64, mma128, mma_k32 or all\n", f);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--attn-decode") && i + 1 < argc) {
      const char *f = argv[++i];
      g_attn_decodes.clear();
      g_attn_decode_given = 1;
      for (int v = 0; v < LJ_ATTN_DECODE_COUNT; v++)
        if (!strcmp(f, "all") || v == lj_attn_decode_parse(f)) g_attn_decodes.push_back(v);
      if (g_attn_decodes.empty()) {
        fprintf(stderr, "bench_engine: --attn-decode %s: expected split, one, one_rope or all\n", f);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--fp8-gemv") && i + 1 < argc) {
      const char *f = argv[++i];
      g_fp8_gemvs.clear();
      for (int v = 0; v < LJ_FP8_GEMV_COUNT; v++)
        if (!strcmp(f, "all") || v == lj_fp8_gemv_parse(f)) g_fp8_gemvs.push_back(v);
      if (g_fp8_gemvs.empty()) {
        fprintf(stderr, "bench_engine: --fp8-gemv %s: expected base, warp, pipe, splitk or all\n", f);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--fp8-fold") && i + 1 < argc) {
      const char *f = argv[++i];
      if (!strcmp(f, "on")) g_fp8_folds = {LJ_CUDA_FP8_FOLD_ALL};
      else if (!strcmp(f, "off")) g_fp8_folds = {LJ_CUDA_FP8_FOLD_OFF};
      else if (!strcmp(f, "swiglu")) g_fp8_folds = {LJ_CUDA_FP8_FOLD_SWIGLU};
      else if (!strcmp(f, "both")) g_fp8_folds = {LJ_CUDA_FP8_FOLD_OFF, LJ_CUDA_FP8_FOLD_ALL};
      else if (!strcmp(f, "levels"))
        g_fp8_folds = {LJ_CUDA_FP8_FOLD_OFF, LJ_CUDA_FP8_FOLD_SWIGLU, LJ_CUDA_FP8_FOLD_ALL};
      else {
        fprintf(stderr, "bench_engine: --fp8-fold %s: expected on, off, swiglu, both or levels\n", f);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--swiglu-quant") && i + 1 < argc) {
      const char *f = argv[++i];
      g_swiglu_quants.clear();
      for (int v = 0; v < LJ_SWIGLU_QUANT_COUNT; v++)
        if (!strcmp(f, "all") || v == lj_swiglu_quant_parse(f)) g_swiglu_quants.push_back(v);
      if (g_swiglu_quants.empty()) {
        fprintf(stderr, "bench_engine: --swiglu-quant %s: expected row256, row512, row1024, split or all\n", f);
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--fusion") && i + 1 < argc) {
      const char *f = argv[++i];
      for (int k = 0; k < g_fusions; k++) g_fusion_on[k] = 0;
      std::string l(f);
      for (size_t at = 0; at <= l.size();) {  // a comma-separated list of modes, both or all
        size_t end = std::min(l.find(',', at), l.size());
        std::string one = l.substr(at, end - at);
        int m = lj_cuda_fusion_parse(one.c_str()), all = one == "all";
        if (!all && one != "both" && (m < 0 || m >= g_fusions)) {
          fprintf(stderr, "bench_engine: --fusion %s: expected none, production, norm-once, both (none and "
                  "production) or all, or a comma-separated list of them\n", f);
          return 2;
        }
        for (int k = 0; k < g_fusions; k++)
          g_fusion_on[k] |= all || (m < 0 ? k != LJ_FUSION_NORM_ONCE : k == m);
        at = end + 1;
      }
    } else {
      fprintf(stderr, "usage: bench_engine [--models a,b,c] [--quick] [--fusion none|production|norm-once|both|all] "
                      "[--weights bf16|fp8|both] [--fp8-gemv base|warp|pipe|splitk|all] [--decode-only]\n"
                      "       [--attn-prefill wmma|mma|mma64|mma128|mma_k32|all] [--prefill-only]\n"
                      "       [--attn-decode split|one|one_rope|all] [--fp8-scale row|tensor|both]\n"
                      "       [--fp8-fold on|off|swiglu|both|levels]\n"
                      "       [--tune [--gemv-config all|r4u2,...] [--fp8-pipe all|auto,...] [--attn-split 0,1,8,...]]\n"
                      "       [--decode-energy [--gemv-config defaults,r4u2,...] [--fp8-pipe defaults,...] [--batch 1,8]\n"
                      "        [--energy-repeats N] [--energy-seconds S] [--idle-seconds S] [--energy-seed N]]\n");
      return 2;
    }
  }
  if (g_denergy) {  // the model's defaults, then the named settings
    if (energy_configs("--gemv-config", gemv_given, lj_gemv_config_parse, LJ_GEMV_CONFIG_COUNT, &g_energy_gemv) < 0 ||
        energy_configs("--fp8-pipe", pipe_given, lj_fp8_pipe_config_parse, LJ_FP8_PIPE_CONFIG_COUNT,
                       &g_energy_pipe) < 0)
      return 2;
  } else if (parse_names("--gemv-config", gemv_given ? gemv_given : "all", lj_gemv_config_parse, LJ_GEMV_CONFIG_COUNT,
                         &g_tune_gemv) < 0 ||
             parse_names("--fp8-pipe", pipe_given ? pipe_given : "all", lj_fp8_pipe_config_parse,
                         LJ_FP8_PIPE_CONFIG_COUNT, &g_tune_fp8_pipe) < 0) {
    return 2;
  }
  if (fp8_scale_given && !w_fp8) {
    fprintf(stderr, "bench_engine: --fp8-scale %s: the scales of FP8 weights; add --weights fp8 or both\n",
            fp8_scale_given);
    return 2;
  }
  int n = 0;
  cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess || n == 0) {
    printf("no CUDA device: %s\n", cudaGetErrorString(rc));
    return 77;
  }
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, 0));
  int drv = 0;
  CK(cudaDriverGetVersion(&drv));
  printf("device: %s, %d SMs, %.1f GiB, CUDA driver API %d\n", p.name, p.multiProcessorCount,
         p.totalGlobalMem / 1073741824.0, drv);
  energy_meter meter;
  if (g_denergy) {
    int n_models = 1;
    for (const char *q = models; *q; q++) n_models += *q == ',';
    size_t per_model = (w_bf16 ? energy_points(0, 0).size() : 0) + (w_fp8 ? energy_points(1, 0).size() : 0);
    int windows = (int)(n_models * per_model) * g_energy_repeats;
    printf("decode energy: %d windows of >= %.1f s: about %.0f s, plus %.1f s of idle and each model's load\n", windows,
           g_energy_seconds, lj_decode_energy_estimate_s(windows, g_energy_seconds), g_idle_seconds);
    int rc_meter = energy_meter_open(&meter);  // idle first, before any work warms the card
    if (rc_meter) return rc_meter;
  }
  int decode_only = g_tune || g_denergy;
  double copy = measure_copy_gbs(), gemm = decode_only ? 0 : measure_gemm_tflops(), sums8 = 0;
  double gemm8 = w_fp8 && !decode_only ? measure_gemm_fp8_tflops(&sums8) : 0;  // decode only: no GEMM ceilings
  printf("ceilings: copy %.0f GB/s (read + write), cuBLASLt bf16 GEMM 8192^3 %.0f TFLOP/s", copy, gemm);
  if (w_fp8) printf(", FP8 GEMM 8192^3 %.0f TFLOP/s (%.0f without the scale pass)", gemm8, sums8);
  printf("\nRESULT kind=ceilings copy_gbs=%.1f gemm_tflops=%.1f gemm_fp8_tflops=%.1f gemm_fp8_sums_tflops=%.1f "
         "device=\"%s\"\n", copy, gemm, gemm8, sums8, p.name);
  char *list = strdup(models);
  uint64_t seed = g_energy_seed;
  for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
    if (g_denergy) {  // each model and format its own order
      if (w_bf16) bench_decode_energy(tok, copy, LJ_WEIGHTS_BF16, &meter, seed++);
      if (w_fp8) bench_decode_energy(tok, copy, LJ_WEIGHTS_FP8, &meter, seed++);
      continue;
    }
    if (g_tune) {
      if (w_bf16) bench_tune(tok, copy, quick, LJ_WEIGHTS_BF16);
      if (w_fp8) bench_tune(tok, copy, quick, LJ_WEIGHTS_FP8);
      continue;
    }
    if (w_bf16) bench_model(tok, copy, gemm, quick, LJ_WEIGHTS_BF16, LJ_FP8_SCALE_ROW);
    if (w_fp8)
      for (int sc : g_fp8_scales) bench_model(tok, copy, gemm8, quick, LJ_WEIGHTS_FP8, sc);
  }
  free(list);
  if (g_denergy) energy_meter_close(&meter);
  return 0;
}
