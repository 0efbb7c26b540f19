// Held outputs for ablations. A skipped stage leaves its output buffer stale, and whatever reads
// it then computes on other data: with attention skipped every layer's o_proj reads the last
// layer's attention output of an earlier run; with the MLP skipped the next norm adds o_proj's
// delta a second time. The tensor cores' power depends on their operands (a 1B prefill with
// attention skipped read 4.7% more energy than the full run), so such an ablation does not
// measure the skipped stages alone. Here a full run first records, per layer, what attention
// wrote (acts.attn) and what down wrote (acts.delta); while stages are skipped, the reader of a
// skipped producer takes that layer's record instead (a pointer in the captured graph: no copy
// runs inside a measured window), and everything after the skipped group computes on the full
// run's data. Prefill is exact (the same prompt each time); decode holds the last step's outputs.
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

void lj_cuda_hold_release(lj_cuda_engine *e) {
  if (e->held_mem) cudaFree(e->held_mem);
  e->held_mem = NULL;
  e->held_tokens = 0;
  e->hold_record = 0;
}

int lj_cuda_hold_outputs(lj_cuda_engine *e, int n_tokens) {
  if (n_tokens < 0 || n_tokens > e->opt.max_tokens)
    return LJ_FAIL(LJ_EINVAL, "held outputs for %d tokens: expected 0 .. %d (the engine's max_tokens)", n_tokens,
                   e->opt.max_tokens);
  LJ_TRY(lj_cuda_synchronize(e));
  lj_cuda_hold_release(e);
  lj_cuda_drop_graph(e);
  if (n_tokens == 0) return 0;
  size_t total = sizeof(bf16) * (size_t)n_tokens * (size_t)(e->q_dim + e->cfg.dim) * (size_t)e->cfg.n_layers;
  cudaError_t err = cudaMalloc(&e->held_mem, total);
  if (err != cudaSuccess) {
    e->held_mem = NULL;
    (void)cudaGetLastError();  // the caller goes on without records: the next launch check must not see it
    return LJ_FAIL(LJ_ENOMEM, "held outputs: %zu bytes of device memory: %s", total, cudaGetErrorString(err));
  }
  CUDA_CHECK(cudaMemsetAsync(e->held_mem, 0, total, e->stream));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  e->held_tokens = n_tokens;
  return 0;
}

int lj_cuda_set_hold_record(lj_cuda_engine *e, int on) {
  if (on && !e->held_mem) return LJ_FAIL(LJ_EINVAL, "recording held outputs: none allocated (lj_cuda_hold_outputs)");
  e->hold_record = on != 0;
  lj_cuda_drop_graph(e);
  return 0;
}

// Layer L's record of attention's output (q_dim per token) or of down's delta (dim per token).
static bf16 *held_attn(const lj_cuda_engine *e, int layer) {
  return (bf16 *)e->held_mem + (size_t)layer * (size_t)e->held_tokens * (size_t)(e->q_dim + e->cfg.dim);
}
static bf16 *held_delta(const lj_cuda_engine *e, int layer) {
  return held_attn(e, layer) + (size_t)e->held_tokens * (size_t)e->q_dim;
}

int lj_cuda_hold_after(lj_cuda_engine *e, lj_stage st, int layer, int n_tokens, const lj_cuda_acts *a) {
  // rope+attn (the one_rope decode attention) writes attention's output as ATTN does
  if (!e->hold_record || (st != LJ_STAGE_ATTN && st != LJ_STAGE_ROPE_ATTN && st != LJ_STAGE_DOWN)) return 0;
  if (n_tokens > e->held_tokens)
    return LJ_FAIL(LJ_EINVAL, "held outputs: a forward call of %d tokens, %d held", n_tokens, e->held_tokens);
  int attn = st != LJ_STAGE_DOWN;
  size_t bytes = sizeof(bf16) * (size_t)n_tokens * (size_t)(attn ? e->q_dim : e->cfg.dim);
  CUDA_CHECK(cudaMemcpyAsync(attn ? held_attn(e, layer) : held_delta(e, layer), attn ? a->attn : a->delta, bytes,
                             cudaMemcpyDeviceToDevice, e->stream));
  return 0;
}

static int held_for(const lj_cuda_engine *e, lj_stage producer) {
  return e->held_mem && !e->hold_record && ((e->skip_mask >> producer) & 1u);
}

int lj_cuda_hold_check(const lj_cuda_engine *e, int n_tokens) {
  if ((held_for(e, LJ_STAGE_ATTN) || held_for(e, LJ_STAGE_DOWN)) && n_tokens > e->held_tokens)
    return LJ_FAIL(LJ_EINVAL, "held outputs: a forward call of %d tokens reads records of %d", n_tokens,
                   e->held_tokens);
  return 0;
}

const void *lj_cuda_attn_in(const lj_cuda_engine *e, int layer, const lj_cuda_acts *a) {
  return held_for(e, LJ_STAGE_ATTN) ? held_attn(e, layer) : a->attn;
}

const void *lj_cuda_delta_in(const lj_cuda_engine *e, int layer, const lj_cuda_acts *a) {
  // a layer skipped (lj_cuda_set_skip_layer) left the delta of the one before it
  if (layer == e->skip_layer_plus1 - 1) layer--;
  return layer >= 0 && held_for(e, LJ_STAGE_DOWN) ? held_delta(e, layer) : a->delta;
}
