// Every stage's inputs of one forward call, recorded per layer, so that a replay of any
// set of the layer's stages in any order (the Shapley rounds, the sequence prefixes,
// isolation) computes on the bytes the run computed on. On the live buffers a replay
// feeds itself: the norms add delta to x in place and ROPE rotates q in place at every
// call, a stage left out leaves its reader a stale buffer, and thousands of passes over
// the layers drift the data far from the run's. Tensor cores draw power by their
// operands (held_outputs.cu), so such windows measured other data, not other stages.
// Here each stage reads its own record and writes a scratch buffer that no stage reads:
// the same call gives the same bytes however often and in whatever company it runs.
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/attn_decode_variant.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

struct lj_cuda_stage_inputs {
  int n_layers, n_tokens, dim;
  void *mem;
  size_t at[2][LJ_STAGE_COUNT];  // where the two inputs of (layer 0, stage) start, in rows of one token
  size_t per_layer;              // one layer's records, in rows of one token
  size_t final_at;               // FINAL_NORM's x then delta, after the layers
  lj_cuda_acts scratch;          // outputs nobody reads
};

// What stage st reads, described once for recording and replaying: up to two buffers, each the
// lj_cuda_acts field the run reads it from (live), the field a replay points at its record (rec:
// x_in and qkv_in where the stage writes that buffer in place) and its width per token. No buffers:
// not recorded (composites, embed, LM head, sample, the all-reduces).
enum { W_DIM, W_QKV, W_Q, W_GU, W_H };
typedef struct {
  size_t live, rec;
  int width;
} input;
typedef struct {
  int n;
  input in[2];
} reads;

#define IN(live, rec, w) {offsetof(lj_cuda_acts, live), offsetof(lj_cuda_acts, rec), w}
static reads stage_reads(lj_stage st) {
  switch (st) {
    case LJ_STAGE_ATTN_NORM:
    case LJ_STAGE_FFN_NORM:
    case LJ_STAGE_FINAL_NORM: return (reads){2, {IN(x, x_in, W_DIM), IN(delta, delta, W_DIM)}};
    case LJ_STAGE_QKV:
    case LJ_STAGE_GATE_UP: return (reads){1, {IN(xn, xn, W_DIM)}};
    case LJ_STAGE_ROPE: return (reads){1, {IN(qkv, qkv_in, W_QKV)}};
    case LJ_STAGE_ATTN: return (reads){1, {IN(qkv, qkv, W_QKV)}};
    case LJ_STAGE_O_PROJ: return (reads){1, {IN(attn, attn, W_Q)}};
    case LJ_STAGE_SWIGLU: return (reads){1, {IN(gu, gu, W_GU)}};
    case LJ_STAGE_DOWN: return (reads){1, {IN(h, h, W_H)}};
    default: return (reads){0, {}};
  }
}
#undef IN

static size_t width(const lj_cuda_engine *e, int w) {
  size_t h = (size_t)e->cfg.hidden_dim;
  return w == W_QKV ? (size_t)e->qkv_dim : w == W_Q ? (size_t)e->q_dim : w == W_GU ? 2 * h : w == W_H ? h
                                                                                                  : (size_t)e->cfg.dim;
}

// The pointer field at `offset` of an lj_cuda_acts (void * or const void *: memcpy, not a cast).
static const void *field(const lj_cuda_acts *a, size_t offset) {
  const void *p;
  memcpy(&p, (const char *)a + offset, sizeof p);
  return p;
}

// One layer's records, in rows of one token (the final norm's are counted apart).
static size_t layer_width(const lj_cuda_engine *e) {
  size_t w = 0;
  for (int st = 0; st < LJ_STAGE_COUNT; st++) {
    reads r = stage_reads((lj_stage)st);
    for (int k = 0; st != LJ_STAGE_FINAL_NORM && k < r.n; k++) w += width(e, r.in[k].width);
  }
  return w;
}

int64_t lj_cuda_stage_inputs_bytes(const lj_cuda_engine *e, int n_tokens) {
  size_t d = (size_t)e->cfg.dim, h = (size_t)e->cfg.hidden_dim;
  size_t scratch = 4 * d + (size_t)e->qkv_dim + (size_t)e->q_dim + 3 * h;  // x, xn, delta, xf, qkv, attn, gu, h
  return (int64_t)(sizeof(bf16) * (size_t)n_tokens * (layer_width(e) * (size_t)e->cfg.n_layers + 2 * d + scratch));
}

static bf16 *rec(const lj_cuda_stage_inputs *in, int layer, lj_stage st, int k) {
  size_t base = layer < 0 ? in->final_at + (size_t)k * (size_t)in->dim : (size_t)layer * in->per_layer + in->at[k][st];
  return (bf16 *)in->mem + base * (size_t)in->n_tokens;
}

// The acts stage st of `layer` (-1: FINAL_NORM) runs on: its inputs the records, its outputs scratch.
static lj_cuda_acts acts_of(const lj_cuda_stage_inputs *in, int layer, lj_stage st) {
  lj_cuda_acts a = in->scratch;
  reads r = stage_reads(st);
  for (int k = 0; k < r.n; k++) {
    const void *p = rec(in, layer, st, k);
    memcpy((char *)&a + r.in[k].rec, &p, sizeof p);
  }
  return a;
}

static int record_inputs(lj_cuda_engine *e, lj_cuda_stage_inputs *in, int layer, lj_stage st) {
  reads r = stage_reads(st);
  for (int k = 0; k < r.n; k++)
    CUDA_CHECK(cudaMemcpyAsync(rec(in, layer, st, k), field(&e->acts, r.in[k].live),
                               sizeof(bf16) * width(e, r.in[k].width) * in->n_tokens, cudaMemcpyDeviceToDevice,
                               e->stream));
  return 0;
}

// One forward call of b's layers on the live buffers (as layer_inputs.cu's), each stage's inputs
// recorded just before it runs.
static int forward_recording(lj_cuda_engine *e, const lj_cuda_batch *b, lj_cuda_stage_inputs *in) {
  LJ_TRY(lj_cuda_run_stage(e, LJ_STAGE_EMBED, -1, b, &e->acts));
  for (int l = 0; l < e->cfg.n_layers; l++)
    for (int st = LJ_STAGE_LAYER_FIRST; st <= LJ_STAGE_LAYER_LAST; st++) {
      if (lj_cuda_stage_at(e, b, (lj_stage)st) == LJ_STAGE_NONE) continue;  // not an all-reduce on one GPU
      LJ_TRY(record_inputs(e, in, l, (lj_stage)st));
      LJ_TRY(lj_cuda_run_stage(e, (lj_stage)st, l, b, &e->acts));
    }
  LJ_TRY(record_inputs(e, in, -1, LJ_STAGE_FINAL_NORM));
  LJ_TRY(lj_cuda_run_stage(e, LJ_STAGE_FINAL_NORM, -1, b, &e->acts));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  return 0;
}

int lj_cuda_stage_inputs_capture(lj_cuda_engine *e, const lj_cuda_batch *b, int64_t max_bytes,
                                 lj_cuda_stage_inputs **out) {
  *out = NULL;
  if (e->marks_on || e->skip_mask || e->skip_layer_plus1 || e->group_degree > 1)
    return LJ_FAIL(LJ_EUNSUPPORTED, "recording the stages' inputs: stage marks, skipped stages, skipped layers and "
                   "tensor parallelism must be off");
  // one_rope: a replay's ATTN runs rope+attn, which has no record of its own
  if (e->fusion != LJ_FUSION_NONE || e->layers[0].wqkv.q || lj_attn_decode_fuses_rope(e->attn_decode) == 1)
    return LJ_FAIL(LJ_EUNSUPPORTED, "recording the stages' inputs: bf16 weights, fusion none and a decode attention "
                   "that does not fuse RoPE only (the fused kernels and FP8's quantised activations keep inputs of "
                   "their own)");
  int64_t bytes = lj_cuda_stage_inputs_bytes(e, b->n_tokens);
  if (max_bytes > 0 && bytes > max_bytes)
    return LJ_FAIL(LJ_ENOMEM, "recording the stages' inputs: %d tokens x %d layers need %.0f MiB of device memory, "
                   "over the limit of %.0f MiB", b->n_tokens, e->cfg.n_layers, (double)bytes / 1048576.0,
                   (double)max_bytes / 1048576.0);
  lj_cuda_stage_inputs *in = (lj_cuda_stage_inputs *)calloc(1, sizeof *in);
  if (!in) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  in->n_layers = e->cfg.n_layers, in->n_tokens = b->n_tokens, in->dim = e->cfg.dim;
  for (int st = 0; st < LJ_STAGE_COUNT; st++) {
    reads r = stage_reads((lj_stage)st);
    for (int k = 0; st != LJ_STAGE_FINAL_NORM && k < r.n; k++)
      in->at[k][st] = in->per_layer, in->per_layer += width(e, r.in[k].width);
  }
  in->final_at = in->per_layer * (size_t)in->n_layers;
  cudaError_t err = cudaMalloc(&in->mem, (size_t)bytes);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // the caller goes on with live buffers: the next launch check must not see it
    free(in);
    return LJ_FAIL(LJ_ENOMEM, "recording the stages' inputs: %.0f MiB of device memory: %s", (double)bytes / 1048576.0,
                   cudaGetErrorString(err));
  }
  size_t d = (size_t)e->cfg.dim, h = (size_t)e->cfg.hidden_dim, n = (size_t)b->n_tokens;
  bf16 *s = (bf16 *)in->mem + (in->final_at + 2 * d) * n;
  lj_cuda_acts *a = &in->scratch;
  *a = e->acts;  // logits and next: the live ones (no recorded stage writes them)
  a->x_in = a->qkv_in = NULL;
  a->x = s, s += d * n;
  a->xn = s, s += d * n;
  a->delta = s, s += d * n;
  a->xf = s, s += d * n;
  a->qkv = s, s += (size_t)e->qkv_dim * n;
  a->attn = s, s += (size_t)e->q_dim * n;
  a->gu = s, s += 2 * h * n;
  a->h = s;
  int rc = forward_recording(e, b, in);
  if (rc < 0) {
    lj_cuda_stage_inputs_free(in);
    return rc;
  }
  *out = in;
  return 0;
}

int lj_cuda_stage_inputs_acts(const lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_batch *b,
                              lj_cuda_acts *a) {
  const lj_cuda_stage_inputs *in = e->stage_in;
  if (!in || b->n_tokens != in->n_tokens || stage_reads(st).n == 0 || layer >= in->n_layers ||
      (layer < 0) != (st == LJ_STAGE_FINAL_NORM))
    return 0;
  *a = acts_of(in, layer, st);
  return 1;
}

void lj_cuda_set_stage_inputs(lj_cuda_engine *e, const lj_cuda_stage_inputs *in) { e->stage_in = in; }

int lj_cuda_stage_inputs_tokens(const lj_cuda_stage_inputs *in) { return in ? in->n_tokens : 0; }

void lj_cuda_stage_inputs_free(lj_cuda_stage_inputs *in) {
  if (!in) return;
  if (in->mem) {
    cudaDeviceSynchronize();  // a replay may still read it
    cudaFree(in->mem);
  }
  free(in);
}
