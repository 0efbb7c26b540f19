// One stage of one decoder layer replayed alone on that layer's own input and
// weights (the layers x stages of --per-layer; docs/attribution.md §2f). Back to
// back on one layer, a matrix stage's weights would stay in the 50 MB L2 (1B:
// qkv 12.6 MB, o_proj 8.4 MB, down 33.5 MB) and cost far less than in the run,
// where they stream from HBM. So the replay rotates over copies of that layer's
// weights of the stage, at least twice the L2 in all; the other stages read
// activations (in the L2 in the run too) and the layer's own KV cache.
#include <stdlib.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

// The stage's weights in layer ld, and their bytes (bf16, or FP8 codes and row scales).
static linear_dev *stage_linear(layer_dev *ld, lj_stage st) {
  switch (st) {
    case LJ_STAGE_QKV: return &ld->wqkv;
    case LJ_STAGE_O_PROJ: return &ld->wo;
    case LJ_STAGE_GATE_UP: return &ld->wgu;
    case LJ_STAGE_DOWN: return &ld->wdown;
    default: return NULL;
  }
}

static void stage_shape(const lj_cuda_engine *e, lj_stage st, size_t *rows, size_t *cols) {
  const lj_model_config *c = &e->cfg;
  size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
  *rows = st == LJ_STAGE_QKV ? (size_t)e->qkv_dim : st == LJ_STAGE_O_PROJ ? d : st == LJ_STAGE_GATE_UP ? 2 * h : d;
  *cols = st == LJ_STAGE_QKV ? d : st == LJ_STAGE_O_PROJ ? (size_t)e->q_dim : st == LJ_STAGE_GATE_UP ? d : h;
}

// Copies of layer `layer`'s weights of stage st in one block, shadow[i] the layer with copy i.
// Too little memory: no copies (1, the layer's own), said by lj_cuda_replay_weight_copies.
static int weight_copies(lj_cuda_engine *e, lj_stage st, int layer, layer_dev *shadow, int *n, void **mem) {
  *n = 1, *mem = NULL;
  shadow[0] = e->layers[layer];
  linear_dev *own = stage_linear(&e->layers[layer], st);
  if (!own) return 0;
  size_t rows, cols;
  stage_shape(e, st, &rows, &cols);
  size_t w_bytes = own->q ? rows * cols : rows * cols * sizeof(bf16), s_bytes = own->q ? rows * sizeof(float) : 0;
  int l2 = 0;
  if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, e->opt.device) != cudaSuccess || l2 <= 0) l2 = 50 << 20;
  size_t want = (2 * (size_t)l2 + w_bytes - 1) / w_bytes;
  if (want > (size_t)e->cfg.n_layers) want = (size_t)e->cfg.n_layers;
  if (want <= 1) return 0;
  size_t each = (w_bytes + s_bytes + 255) / 256 * 256;
  if (cudaMalloc(mem, each * want) != cudaSuccess) {
    (void)cudaGetLastError();  // the failed allocation is not an error of what follows
    *mem = NULL;
    return 0;
  }
  for (size_t i = 0; i < want; i++) {
    char *base = (char *)*mem + i * each;
    shadow[i] = e->layers[layer];
    linear_dev *lin = stage_linear(&shadow[i], st);
    void *src = own->q ? (void *)own->q : (void *)own->w;
    CUDA_CHECK(cudaMemcpyAsync(base, src, w_bytes, cudaMemcpyDeviceToDevice, e->stream));
    if (own->q) {
      lin->q = (uint8_t *)base;
      lin->scale = (float *)(base + w_bytes);
      CUDA_CHECK(cudaMemcpyAsync(lin->scale, own->scale, s_bytes, cudaMemcpyDeviceToDevice, e->stream));
    } else {
      lin->w = (bf16 *)base;
    }
  }
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  *n = (int)want;
  return 0;
}

int lj_cuda_replay_create_layer_stage(lj_cuda_engine *e, lj_stage st, int layer, const lj_cuda_layer_inputs *in,
                                      const lj_cuda_batch *b, int calls, lj_cuda_replay **out) {
  *out = NULL;
  if (layer < 0 || layer >= e->cfg.n_layers)
    return LJ_FAIL(LJ_EINVAL, "replay of a stage of layer %d: the model has layers 0 .. %d", layer, e->cfg.n_layers - 1);
  if (!((unsigned)st < LJ_STAGE_COUNT && lj_stage_is_per_layer(st)))
    return LJ_FAIL(LJ_EINVAL, "replay of stage %d (%s) of one layer: expected a simple stage of the decoder layer",
                   (int)st, lj_stage_name(st));
  if (!in || lj_cuda_layer_inputs_tokens(in) != b->n_tokens)
    return LJ_FAIL(LJ_EINVAL, "replay of %s of layer %d: its captured input holds %d tokens, the batch %d",
                   lj_stage_name(st), layer, lj_cuda_layer_inputs_tokens(in), b->n_tokens);
  if (calls < 1) return LJ_FAIL(LJ_EINVAL, "replay of %d calls: need >= 1", calls);
  if (e->marks_on || e->skip_mask || e->skip_layer_plus1)
    return LJ_FAIL(LJ_EINVAL, "replay of %s of layer %d: stage marks, skipped stages and skipped layers must be off",
                   lj_stage_name(st), layer);
  // The stage's input: the layer's input, then its stages before st, once.
  LJ_TRY(lj_cuda_layer_inputs_restore(e, in, layer));
  for (int k = LJ_STAGE_LAYER_FIRST; k < (int)st; k++)
    if (lj_cuda_stage_at(e, b, (lj_stage)k) != LJ_STAGE_NONE)  // not an all-reduce on one GPU
      LJ_TRY(lj_cuda_run_stage(e, (lj_stage)k, layer, b, &e->acts));
  layer_dev *shadow = (layer_dev *)calloc((size_t)e->cfg.n_layers, sizeof *shadow);
  if (!shadow) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  int copies = 1;
  void *mem = NULL;
  int rc = weight_copies(e, st, layer, shadow, &copies, &mem);
  if (rc < 0) {
    if (mem) cudaFree(mem);
    free(shadow);
    return rc;
  }
  lj_cuda_replay_what w = {st, st, &st, 1, layer, NULL, copies > 1 ? shadow : NULL, copies};
  rc = lj_cuda_replay_capture(e, &w, b, calls, lj_stage_name(st), mem, copies, out);
  free(shadow);  // the graph holds the copies' addresses, not the array
  return rc;
}
