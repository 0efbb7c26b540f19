// Each decoder layer's own input, captured in one real forward call, so that
// the per-layer replay runs layer L on what layer L saw in the run rather than
// on whatever the buffers hold after the last layer (docs/attribution.md §2f).
// A layer's input is the pair (x, delta) its attn_norm adds: two n_tokens x dim
// bf16 tensors per layer, plus the pair after the last layer (the final norm's
// input), so that a test can check layer L's replay against slot L + 1.
#include <stdlib.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"

struct lj_cuda_layer_inputs {
  int n_layers, n_tokens, dim;
  bf16 *mem;  // (n_layers + 1, 2: x then delta, n_tokens, dim)
};

int64_t lj_cuda_layer_inputs_bytes(const lj_model_config *c, int n_tokens) {
  return 2 * (int64_t)(c->n_layers + 1) * n_tokens * c->dim * (int64_t)sizeof(bf16);
}

static bf16 *slot(const lj_cuda_layer_inputs *in, int layer, int delta) {
  return in->mem + ((size_t)2 * layer + (size_t)delta) * (size_t)in->n_tokens * (size_t)in->dim;
}

static int save(lj_cuda_engine *e, lj_cuda_layer_inputs *in, int layer) {
  size_t bytes = (size_t)in->n_tokens * (size_t)in->dim * sizeof(bf16);
  CUDA_CHECK(cudaMemcpyAsync(slot(in, layer, 0), e->acts.x, bytes, cudaMemcpyDeviceToDevice, e->stream));
  CUDA_CHECK(cudaMemcpyAsync(slot(in, layer, 1), e->acts.delta, bytes, cudaMemcpyDeviceToDevice, e->stream));
  return 0;
}

static int forward_saving(lj_cuda_engine *e, const lj_cuda_batch *b, lj_cuda_layer_inputs *in) {
  LJ_TRY(lj_cuda_run_stage(e, LJ_STAGE_EMBED, -1, b, &e->acts));
  for (int l = 0; l < e->cfg.n_layers; l++) {
    LJ_TRY(save(e, in, l));
    for (int st = LJ_STAGE_LAYER_FIRST; st <= LJ_STAGE_LAYER_LAST; st++)
      if (lj_cuda_stage_at(e, b, (lj_stage)st) != LJ_STAGE_NONE)  // not an all-reduce on one GPU
        LJ_TRY(lj_cuda_run_stage(e, (lj_stage)st, l, b, &e->acts));
  }
  LJ_TRY(save(e, in, e->cfg.n_layers));
  CUDA_CHECK(cudaStreamSynchronize(e->stream));
  return 0;
}

int lj_cuda_layer_inputs_capture(lj_cuda_engine *e, const lj_cuda_batch *b, int64_t max_bytes,
                                 lj_cuda_layer_inputs **out) {
  *out = NULL;
  if (e->marks_on || e->skip_mask || e->skip_layer_plus1)
    return LJ_FAIL(LJ_EINVAL, "capture of the layers' inputs: stage marks, skipped stages and skipped layers must be "
                   "off (they change what the layers compute on)");
  int64_t bytes = lj_cuda_layer_inputs_bytes(&e->cfg, b->n_tokens);
  if (max_bytes > 0 && bytes > max_bytes)
    return LJ_FAIL(LJ_EINVAL, "capture of the layers' inputs: %d tokens x %d layers need %.0f MiB of device memory, "
                   "over the limit of %.0f MiB (use a shorter prompt or a smaller batch)", b->n_tokens,
                   e->cfg.n_layers, (double)bytes / 1048576.0, (double)max_bytes / 1048576.0);
  lj_cuda_layer_inputs *in = (lj_cuda_layer_inputs *)calloc(1, sizeof *in);
  if (!in) return LJ_FAIL(LJ_ENOMEM, "out of host memory");
  in->n_layers = e->cfg.n_layers, in->n_tokens = b->n_tokens, in->dim = e->cfg.dim;
  cudaError_t err = cudaMalloc(&in->mem, (size_t)bytes);
  if (err != cudaSuccess) {
    free(in);
    return LJ_FAIL(LJ_ENOMEM, "capture of the layers' inputs: %.0f MiB of device memory: %s",
                   (double)bytes / 1048576.0, cudaGetErrorString(err));
  }
  int rc = forward_saving(e, b, in);
  if (rc < 0) {
    lj_cuda_layer_inputs_free(in);
    return rc;
  }
  *out = in;
  return 0;
}

// Both tensors of a slot in one kernel: inside a replay graph one node per call, not two copies.
// Grid: ceil(n / 4 / 256) blocks of 256 threads, 8 bytes (4 bf16) of each tensor per thread (n % 4 == 0:
// dim is a multiple of 4), or one element per thread otherwise.
static __global__ void restore_kernel(bf16 *x, bf16 *delta, const bf16 *src, size_t n) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (n % 4 == 0) {
    if (4 * i >= n) return;
    ((uint2 *)x)[i] = ((const uint2 *)src)[i];
    ((uint2 *)delta)[i] = ((const uint2 *)(src + n))[i];
  } else if (i < n) {
    x[i] = src[i];
    delta[i] = src[n + i];
  }
}

int lj_cuda_layer_inputs_restore(lj_cuda_engine *e, const lj_cuda_layer_inputs *in, int layer) {
  if (layer < 0 || layer > in->n_layers)
    return LJ_FAIL(LJ_EINVAL, "restore of layer %d's input: slots 0 .. %d", layer, in->n_layers);
  size_t n = (size_t)in->n_tokens * (size_t)in->dim, threads = n % 4 == 0 ? n / 4 : n;
  unsigned blocks = (unsigned)((threads + 255) / 256);
  restore_kernel<<<blocks, 256, 0, e->stream>>>((bf16 *)e->acts.x, (bf16 *)e->acts.delta, slot(in, layer, 0), n);
  CUDA_CHECK_LAUNCH("restore of a layer's input");
  return 0;
}

int lj_cuda_layer_inputs_read(const lj_cuda_layer_inputs *in, int layer, uint16_t *x, uint16_t *delta) {
  if (layer < 0 || layer > in->n_layers)
    return LJ_FAIL(LJ_EINVAL, "read of layer %d's input: slots 0 .. %d", layer, in->n_layers);
  size_t bytes = (size_t)in->n_tokens * (size_t)in->dim * sizeof(bf16);
  if (x) CUDA_CHECK(cudaMemcpy(x, slot(in, layer, 0), bytes, cudaMemcpyDeviceToHost));
  if (delta) CUDA_CHECK(cudaMemcpy(delta, slot(in, layer, 1), bytes, cudaMemcpyDeviceToHost));
  return 0;
}

int lj_cuda_layer_inputs_tokens(const lj_cuda_layer_inputs *in) { return in ? in->n_tokens : 0; }

void lj_cuda_layer_inputs_free(lj_cuda_layer_inputs *in) {
  if (!in) return;
  if (in->mem) {
    cudaDeviceSynchronize();  // a replay may still read it
    cudaFree(in->mem);
  }
  free(in);
}
