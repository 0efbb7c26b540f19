// Replay: one stage (or a span of a layer's stages in the run's order) captured
// `calls` times back to back in a CUDA graph. Per-layer stages cycle through the
// layers so that every call streams its own layer's weights (and KV cache) from
// HBM, as in the real run: replaying one layer's 12-100 MB of weights would run
// from a warm 50 MB L2 instead.
#include <stdlib.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

struct lj_cuda_replay {
  lj_cuda_engine *e;
  cudaGraphExec_t exec;
  int calls;
  void *owned;  // device memory the graph reads (weight copies), freed with it
  int copies;
};

typedef lj_cuda_replay_what replay_what;

// Stage st in a replay, on the weights of layer `weights` (a shadow copy's index with w->shadow) and
// on the recorded inputs of layer `layer` where the engine holds them and the replay restores no
// layer input of its own (stage_inputs.cu), else on the live buffers.
static int run_stage(lj_cuda_engine *e, const replay_what *w, lj_stage st, int weights, int layer,
                     const lj_cuda_batch *b) {
  lj_cuda_acts rec;
  if (!w->in && lj_cuda_stage_inputs_acts(e, st, layer, b, &rec)) return lj_cuda_run_stage(e, st, weights, b, &rec);
  return lj_cuda_run_stage(e, st, weights, b, &e->acts);
}

// One ordered call on `layer`: its captured input first (w->in), the stages on the shadow weights
// (w->shadow, layer index `shadow_i`) or on the layer's own.
static int record_order_call(lj_cuda_engine *e, const replay_what *w, const lj_cuda_batch *b, int layer,
                             int shadow_i) {
  if (w->in) LJ_TRY(lj_cuda_layer_inputs_restore(e, w->in, layer));
  layer_dev *own = e->layers;
  if (w->shadow) e->layers = (layer_dev *)w->shadow;  // stage_body reads e->layers[layer]
  int rc = 0;
  for (int k = 0; k < w->n && rc == 0; k++)
    if (w->order[k] == LJ_CUDA_CALIBRATION) rc = lj_cuda_calibration_run(e, layer);
    else if (w->order[k] == LJ_CUDA_SPACER) rc = lj_cuda_spacer_run(e);
    else rc = run_stage(e, w, w->order[k], w->shadow ? shadow_i : layer, layer, b);
  e->layers = own;
  return rc;
}

// Call i runs the replay's stages on layer i % n_layers (one stage outside the layers: layer -1),
// as the forward pass runs them: in fused mode a composite whose parts lie in the span replaces them.
static int record(lj_cuda_engine *e, const replay_what *w, const lj_cuda_batch *b, int calls) {
  int n_layers = e->cfg.n_layers;
  for (int i = 0; i < calls; i++) {
    if (w->order) {
      LJ_TRY(record_order_call(e, w, b, w->layer >= 0 ? w->layer : i % n_layers, w->shadow ? i % w->n_shadow : 0));
      continue;
    }
    lj_stage first = w->first, last = w->last;
    int layer = lj_stage_is_per_layer(first) ? i % n_layers : -1;
    if (first == last) {  // one stage, simple or composite
      LJ_TRY(run_stage(e, w, first, layer, layer, b));
      continue;
    }
    for (int st = first; st <= (int)last; st++) {
      lj_stage run = lj_cuda_stage_at(e, b, (lj_stage)st), end = run;
      if (run == LJ_STAGE_NONE) continue;  // not run at this degree
      lj_stage_parts(run, NULL, &end);
      if (end > last) run = (lj_stage)st, end = run;  // the span ends inside the composite
      LJ_TRY(run_stage(e, w, run, layer, layer, b));
      st = (int)end;
    }
  }
  return 0;
}

static int capture_graph(lj_cuda_engine *e, const replay_what *w, const lj_cuda_batch *b, int calls,
                         const char *name, lj_cuda_replay *r) {
  // One eager round first: cuBLASLt picks and caches its algorithms outside the capture.
  LJ_TRY(record(e, w, b, calls < e->cfg.n_layers ? calls : e->cfg.n_layers));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  cudaGraph_t g;
  cudaError_t begin = cudaStreamBeginCapture(e->stream, cudaStreamCaptureModeThreadLocal);
  if (begin != cudaSuccess) return LJ_FAIL(LJ_ECUDA, "replay capture of %s: %s", name, cudaGetErrorString(begin));
  int rc = record(e, w, b, calls);
  cudaError_t end = cudaStreamEndCapture(e->stream, &g);
  if (rc == 0 && end != cudaSuccess)
    rc = LJ_FAIL(LJ_ECUDA, "replay capture of %s failed: %s", name, cudaGetErrorString(end));
  if (rc == 0) {
    cudaError_t err = cudaGraphInstantiate(&r->exec, g, 0);
    if (err != cudaSuccess)
      rc = LJ_FAIL(LJ_ECUDA, "replay graph of %s: instantiation failed: %s", name, cudaGetErrorString(err));
  }
  if (end == cudaSuccess) cudaGraphDestroy(g);
  return rc;
}

int lj_cuda_replay_capture(lj_cuda_engine *e, const replay_what *w, const lj_cuda_batch *b, int calls,
                           const char *name, void *owned, int copies, lj_cuda_replay **out) {
  *out = NULL;
  lj_cuda_replay *r = (lj_cuda_replay *)calloc(1, sizeof *r);
  if (!r) {
    if (owned) cudaFree(owned);
    return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  }
  r->e = e, r->calls = calls, r->owned = owned, r->copies = copies;
  int rc = capture_graph(e, w, b, calls, name, r);
  if (rc < 0) {
    lj_cuda_replay_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int lj_cuda_replay_adopt(lj_cuda_engine *e, cudaGraphExec_t exec, int calls, void *owned, int copies,
                         lj_cuda_replay **out) {
  *out = (lj_cuda_replay *)calloc(1, sizeof **out);
  if (!*out) {
    if (exec) cudaGraphExecDestroy(exec);
    if (owned) cudaFree(owned);
    return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  }
  (*out)->e = e, (*out)->exec = exec, (*out)->calls = calls, (*out)->owned = owned, (*out)->copies = copies;
  return 0;
}

static int capture(lj_cuda_engine *e, const replay_what *w, const lj_cuda_batch *b, int calls, const char *name,
                   lj_cuda_replay **out) {
  return lj_cuda_replay_capture(e, w, b, calls, name, NULL, 1, out);
}

int lj_cuda_replay_create(lj_cuda_engine *e, lj_stage st, const lj_cuda_batch *b, int calls,
                          lj_cuda_replay **out) {
  return lj_cuda_replay_create_span(e, st, st, b, calls, out);
}

int lj_cuda_replay_create_span(lj_cuda_engine *e, lj_stage first, lj_stage last, const lj_cuda_batch *b, int calls,
                               lj_cuda_replay **out) {
  *out = NULL;
  int composite = lj_stage_is_composite(first) || lj_stage_is_composite(last);
  if ((unsigned)first >= LJ_STAGE_ALL_COUNT || (unsigned)last >= LJ_STAGE_ALL_COUNT || last < first ||
      (composite && first != last))
    return LJ_FAIL(LJ_EINVAL, "replay of stages %d .. %d: expected known stages in the run's order (a composite "
                   "stage on its own)", (int)first, (int)last);
  if (first != last && !(lj_stage_is_per_layer(first) && lj_stage_is_per_layer(last)))
    return LJ_FAIL(LJ_EINVAL, "replay of the span %s .. %s: a span must lie inside the decoder layer",
                   lj_stage_name(first), lj_stage_name(last));
  if (calls < 1) return LJ_FAIL(LJ_EINVAL, "replay of %d calls: need >= 1", calls);
  if (e->marks_on) return LJ_FAIL(LJ_EINVAL, "replay with stage marks on: disable them first");
  if (composite && ((e->skip_mask >> first) & 1u))
    return LJ_FAIL(LJ_EINVAL, "replay of stage %s, which is skipped", lj_stage_name(first));
  for (int st = first; !composite && st <= (int)last; st++)
    if ((e->skip_mask >> st) & 1u)
      return LJ_FAIL(LJ_EINVAL, "replay of stage %s, which is skipped", lj_stage_name((lj_stage)st));
  replay_what w = {first, last, NULL, 0, -1, NULL, NULL, 0};
  return capture(e, &w, b, calls, lj_stage_name(last), out);
}

static int create_order(lj_cuda_engine *e, const lj_stage *order, int n, int layer, const lj_cuda_layer_inputs *in,
                        const lj_cuda_batch *b, int calls, lj_cuda_replay **out) {
  *out = NULL;
  if (layer < -1 || layer >= e->cfg.n_layers)
    return LJ_FAIL(LJ_EINVAL, "replay of layer %d: the model has layers 0 .. %d", layer, e->cfg.n_layers - 1);
  if (!order || n < 1 || n > LJ_STAGE_COUNT + 2 || calls < 1)
    return LJ_FAIL(LJ_EINVAL, "replay of %d stages in %d calls: expected 1 .. %d stages and >= 1 call", n, calls,
                   LJ_STAGE_COUNT + 2);
  if (e->marks_on) return LJ_FAIL(LJ_EINVAL, "replay with stage marks on: disable them first");
  uint32_t seen = 0;
  for (int k = 0; k < n; k++) {
    lj_stage st = order[k];
    int extra = st == LJ_CUDA_CALIBRATION || st == LJ_CUDA_SPACER;  // the replay-only stages
    int bit = st == LJ_CUDA_CALIBRATION ? LJ_STAGE_COUNT : st == LJ_CUDA_SPACER ? LJ_STAGE_COUNT + 1 : (int)st;
    if (!extra && !((unsigned)st < LJ_STAGE_COUNT && lj_stage_is_per_layer(st)))
      return LJ_FAIL(LJ_EINVAL, "replay order: stage %d (%s) is not a simple stage of the decoder layer", (int)st,
                     lj_stage_name(st));
    if (st == LJ_CUDA_CALIBRATION && e->calib_bytes <= 0)
      return LJ_FAIL(LJ_EINVAL, "replay order: the calibration copy is off (lj_cuda_set_calibration first)");
    if (st == LJ_CUDA_SPACER && e->spacer_ns <= 0)
      return LJ_FAIL(LJ_EINVAL, "replay order: the spacer is off (lj_cuda_set_spacer first)");
    if ((seen >> bit) & 1u)
      return LJ_FAIL(LJ_EINVAL, "replay order: stage %s listed twice",
                     st == LJ_CUDA_SPACER ? "spacer" : st == LJ_CUDA_CALIBRATION ? "calibration" : lj_stage_name(st));
    if (!extra && ((e->skip_mask >> st) & 1u))
      return LJ_FAIL(LJ_EINVAL, "replay of stage %s, which is skipped", lj_stage_name(st));
    seen |= 1u << bit;
  }
  if (in && (layer < 0 || lj_cuda_layer_inputs_tokens(in) != b->n_tokens))
    return LJ_FAIL(LJ_EINVAL, "replay of layer %d on its captured input: the input holds %d tokens, the batch %d",
                   layer, lj_cuda_layer_inputs_tokens(in), b->n_tokens);
  replay_what w = {order[0], order[n - 1], order, n, layer, in, NULL, 0};
  return capture(e, &w, b, calls, layer >= 0 ? "one layer" : "a stage order", out);
}

int lj_cuda_replay_create_order(lj_cuda_engine *e, const lj_stage *order, int n, const lj_cuda_batch *b, int calls,
                                lj_cuda_replay **out) {
  return create_order(e, order, n, -1, NULL, b, calls, out);
}

int lj_cuda_replay_create_layer(lj_cuda_engine *e, const lj_stage *order, int n, int layer, const lj_cuda_batch *b,
                                int calls, lj_cuda_replay **out) {
  if (layer < 0) {
    *out = NULL;
    return LJ_FAIL(LJ_EINVAL, "replay of layer %d: expected a layer >= 0", layer);
  }
  return create_order(e, order, n, layer, NULL, b, calls, out);
}

int lj_cuda_replay_create_layer_input(lj_cuda_engine *e, const lj_stage *order, int n, int layer,
                                      const lj_cuda_layer_inputs *in, const lj_cuda_batch *b, int calls,
                                      lj_cuda_replay **out) {
  *out = NULL;
  if (layer < 0 || !in) return LJ_FAIL(LJ_EINVAL, "replay of layer %d on its input: expected a layer >= 0 and an input", layer);
  return create_order(e, order, n, layer, in, b, calls, out);
}

int lj_cuda_replay_create_head_input(lj_cuda_engine *e, int slot, const lj_cuda_layer_inputs *in,
                                     const lj_cuda_batch *b, int calls, lj_cuda_replay **out) {
  *out = NULL;
  static const lj_stage order[2] = {LJ_STAGE_FINAL_NORM, LJ_STAGE_LM_HEAD};
  if (!in || slot < 0 || slot > e->cfg.n_layers)
    return LJ_FAIL(LJ_EINVAL, "replay of the head on slot %d: expected a captured input and a slot in 0 .. %d", slot,
                   e->cfg.n_layers);
  if (lj_cuda_layer_inputs_tokens(in) != b->n_tokens)
    return LJ_FAIL(LJ_EINVAL, "replay of the head on its captured input: the input holds %d tokens, the batch %d",
                   lj_cuda_layer_inputs_tokens(in), b->n_tokens);
  if (calls < 1) return LJ_FAIL(LJ_EINVAL, "replay of %d calls: need >= 1", calls);
  if (e->marks_on) return LJ_FAIL(LJ_EINVAL, "replay with stage marks on: disable them first");
  for (int k = 0; k < 2; k++)
    if ((e->skip_mask >> order[k]) & 1u)
      return LJ_FAIL(LJ_EINVAL, "replay of stage %s, which is skipped", lj_stage_name(order[k]));
  // record_order_call restores slot w.layer, then runs the two stages (which take no layer's weights)
  replay_what w = {order[0], order[1], order, 2, slot, in, NULL, 0};
  return capture(e, &w, b, calls, "the head", out);
}

int lj_cuda_replay_launch(lj_cuda_replay *r, int n) {
  for (int i = 0; i < n; i++) CUDA_CHECK(cudaGraphLaunch(r->exec, r->e->stream));
  return 0;
}

int lj_cuda_replay_calls(const lj_cuda_replay *r) { return r->calls; }
int lj_cuda_replay_weight_copies(const lj_cuda_replay *r) { return r->copies; }

void lj_cuda_replay_free(lj_cuda_replay *r) {
  if (!r) return;
  cudaStreamSynchronize(r->e->stream);
  if (r->exec) cudaGraphExecDestroy(r->exec);
  if (r->owned) cudaFree(r->owned);
  free(r);
}
