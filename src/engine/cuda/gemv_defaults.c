// The decode GEMVs' defaults per matrix shape (gemv_defaults.h).
//
// Source: two bench_engine --tune runs on H100 80GB HBM3 cards, 2026-12-07: batch-1 decode at
// context 512 by graph replay with PDL, fusion none, one setting on every class, 64 steps x 3
// repeats; bench/results/engine/2026-12-07-h100-decode-rule16/ with the engine's split rule (the
// numbers below) and 2026-12-07-h100-decode-tune/ with the rule before it (in brackets). Each
// model's winner is the best or within 0.1% of it in both runs. The per-class mixes (each class's
// fastest event-timed stage) were slower than the best single setting for every model in both
// (rule run: 1B 797.0 against 817.8 tok/s, 3B 332.0 / 333.2, 8B 166.9 / 169.2, 8B FP8 252.3 /
// 259.7): events around each stage hide what PDL overlaps, so every shape of a measured model takes
// its model's best whole-model setting.
#include <math.h>
#include <stddef.h>

#include "engine/cuda/gemv_defaults.h"

// The five shapes of one model: qkv (q + 2 kv, dim), o_proj (dim, q), gate_up (2 hidden, dim),
// down (dim, hidden), lm_head (vocab, dim).
#define SHAPES(model, fp8, dim, q, kv, hidden, vocab, cfg, tok, before)             \
  {model, fp8, LJ_GEMV_CLASS_QKV, (q) + 2 * (kv), dim, cfg, tok, before},           \
      {model, fp8, LJ_GEMV_CLASS_O_PROJ, dim, q, cfg, tok, before},                 \
      {model, fp8, LJ_GEMV_CLASS_GATE_UP, 2 * (hidden), dim, cfg, tok, before},     \
      {model, fp8, LJ_GEMV_CLASS_DOWN, dim, hidden, cfg, tok, before},              \
      {model, fp8, LJ_GEMV_CLASS_LM_HEAD, vocab, dim, cfg, tok, before}

// bf16 indices: r4u2 = 7, r1u1 = 0; FP8 pipe: r4d1 = 3 (gemv_config.h).
static const lj_gemv_measured measured[] = {
    // 1B: r4u2 817.8 tok/s, the fastest of the twelve (r2u1 808.1) [768.8; r2u1 762.3]
    SHAPES("llama-3.2-1b", 0, 2048, 2048, 512, 8192, 128256, 7, 817.80, 817.80),
    // 3B: r1u1 333.2 against r4u2's 326.7 (+2.0%; r2u4 332.4, r2u2 330.8) [r1u1 322.9, r2u2 323.0, r4u2 318.8]
    SHAPES("llama-3.2-3b", 0, 3072, 3072, 1024, 8192, 128256, 0, 333.20, 326.65),
    // 8B: r1u1 169.2 against r4u2's 164.2 (+3.0%; r1u4 168.6) [166.2 against 162.0]
    SHAPES("llama-3.1-8b", 0, 4096, 4096, 1024, 14336, 128256, 0, 169.15, 164.22),
    // 8B FP8, pipe variant: r4d1 259.7 against auto's 253.7 (+2.4%) [252.7 against 247.6]
    SHAPES("llama-3.1-8b", 1, 4096, 4096, 1024, 14336, 128256, 3, 259.71, 253.71),
};

const lj_gemv_measured *lj_gemv_nearest_measured(int fp8, int cls, int64_t rows, int64_t len) {
  const lj_gemv_measured *best = NULL;
  double best_d = 0;
  if (rows < 1) rows = 1;
  if (len < 1) len = 1;
  for (size_t i = 0; i < sizeof measured / sizeof measured[0]; i++) {
    const lj_gemv_measured *m = &measured[i];
    if (m->fp8 != !!fp8 || m->cls != cls) continue;
    double d = fabs(log2((double)rows / (double)m->rows)) + fabs(log2((double)len / (double)m->len));
    if (!best || d < best_d) best = m, best_d = d;
  }
  return best;
}

int lj_gemv_default_config(int fp8, int cls, int64_t rows, int64_t len) {
  const lj_gemv_measured *m = lj_gemv_nearest_measured(fp8, cls, rows, len);
  if (m) return m->cfg;
  return fp8 ? LJ_FP8_PIPE_CONFIG_DEFAULT : LJ_GEMV_CONFIG_DEFAULT;
}

void lj_gemv_class_shape(const lj_model_config *c, int cls, int64_t *rows, int64_t *len) {
  int64_t d = c->dim, q = lj_q_dim(c), kv = lj_kv_dim(c), h = c->hidden_dim;
  switch (cls) {
    case LJ_GEMV_CLASS_QKV: *rows = q + 2 * kv, *len = d; break;
    case LJ_GEMV_CLASS_O_PROJ: *rows = d, *len = q; break;
    case LJ_GEMV_CLASS_GATE_UP: *rows = 2 * h, *len = d; break;
    case LJ_GEMV_CLASS_DOWN: *rows = d, *len = h; break;
    default: *rows = c->vocab_size, *len = d; break;
  }
}

void lj_gemv_model_defaults(const lj_model_config *c, int fp8, int cfg[LJ_GEMV_CLASS_COUNT]) {
  for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) {
    int64_t rows, len;
    lj_gemv_class_shape(c, k, &rows, &len);
    cfg[k] = lj_gemv_default_config(fp8, k, rows, len);
  }
}
