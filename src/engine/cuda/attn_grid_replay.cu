// Decode attention alone on K and V of its own, for the attention-head grid
// (docs/attribution.md "Attention heads"): `batch` sequences of kv_len cached
// positions, the first `groups` KV groups and their query heads active, one query
// token per sequence, captured `calls` times in one graph. The engine's own cache
// holds only the run's batch x context, so the grid brings its own: random values
// (lj_random_unit, as lj_cuda_fake_context), laid out as the engine's cache with
// ctx_cap = kv_len. Call i reads copy i % copies, the copies together at least twice
// the L2, so that small points stream from HBM as in the run instead of from a warm L2.
#include <stdlib.h>

#include "engine/cuda/attention_decode.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_engine_internal.h"
#include "model/random_init.h"

static __global__ void fill_unit_kernel(bf16 *x, size_t n, uint64_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    x[i] = __float2bfloat16(lj_random_unit(seed, 0xFFFFFFFEu, i));
}

static __global__ void fill_batch_kernel(int *seq, int *pos, int *kv_len, int batch, int len) {
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < batch) seq[t] = t, pos[t] = len - 1, kv_len[t] = len;
}

static size_t round256(size_t n) { return (n + 255) / 256 * 256; }

// What every call of the replay reads and writes; call i reads K and V copy i % copies.
typedef struct {
  int variant, batch;
  char *kv;
  size_t copies, copy, half;
  bf16 *q, *o;
  int *seq, *pos, *len;
  float *scratch;
  unsigned *counters;
  const float *inv_freq;
  const lj_attn_decode_shape *sh;
} grid_call;

static int run_call(const grid_call *g, size_t i, cudaStream_t s) {
  bf16 *k = (bf16 *)(g->kv + (i % g->copies) * g->copy), *v = (bf16 *)((char *)k + g->half);
  return lj_cuda_attention_decode_variant(g->variant, g->o, g->q, k, v, g->seq, g->pos, g->len, g->inv_freq, g->batch,
                                          g->sh, g->scratch, g->counters, s);
}

int lj_cuda_replay_create_attn_grid(lj_cuda_engine *e, int batch, int kv_len, int groups, int calls,
                                    lj_cuda_replay **out) {
  *out = NULL;
  const lj_model_config *c = &e->cfg;
  if (batch < 1 || kv_len < 1 || groups < 1 || groups > c->n_kv_heads || calls < 1)
    return LJ_FAIL(LJ_EINVAL, "attention grid replay of batch %d, KV %d, %d groups, %d calls: expected >= 1 each and "
                   "groups <= %d", batch, kv_len, groups, calls, c->n_kv_heads);
  if (e->marks_on) return LJ_FAIL(LJ_EINVAL, "replay with stage marks on: disable them first");
  int hpg = c->n_heads / c->n_kv_heads, hd = c->head_dim;
  lj_attn_decode_shape sh = lj_attn_decode_plan(c->n_heads, c->n_kv_heads, hd, kv_len, batch, e->n_sms, e->attn_splits);
  sh.n_heads = groups * hpg;  // as lj_cuda_set_attn_groups: fewer groups, the same splits
  sh.n_kv_heads = groups;
  size_t half = (size_t)batch * groups * kv_len * hd * sizeof(bf16), copy = round256(2 * half);
  size_t q_b = round256((size_t)batch * e->qkv_dim * sizeof(bf16)), o_b = round256((size_t)batch * e->q_dim * sizeof(bf16));
  size_t s_b = round256(lj_attn_decode_scratch_bytes(&sh, batch)), c_b = round256(lj_attn_decode_counter_bytes(&sh, batch));
  size_t i_b = round256(3 * (size_t)batch * sizeof(int)), rest = q_b + o_b + s_b + c_b + i_b;
  int l2 = 0;
  if (cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, e->opt.device) != cudaSuccess || l2 <= 0) l2 = 50 << 20;
  size_t copies = (2 * (size_t)l2 + copy - 1) / copy;
  if (copies > 1024) copies = 1024;  // 1B's smallest point: 128 KiB a copy, 128 MiB in all
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const size_t margin = (size_t)256 << 20;  // cuBLASLt, graphs and the driver need some room
  while (copies > 1 && copies * copy + rest + margin > free_b) copies--;
  if (copy + rest + margin > free_b)
    return LJ_FAIL(LJ_ENOMEM, "K and V of batch %d x %d groups x KV %d x %d x 2 x 2 B = %.2f GiB do not fit the "
                   "%.2f GiB free", batch, groups, kv_len, hd, (double)(2 * half) / (1 << 30),
                   (double)free_b / (1 << 30));
  char *mem = NULL;
  if (cudaMalloc((void **)&mem, copies * copy + rest) != cudaSuccess) {
    (void)cudaGetLastError();
    return LJ_FAIL(LJ_ENOMEM, "K and V of %.2f GiB (x %zu copies): the allocation failed", (double)copy / (1 << 30),
                   copies);
  }
  char *rp = mem + copies * copy;
  bf16 *q = (bf16 *)rp, *o = (bf16 *)(rp + q_b);
  float *scratch = (float *)(rp + q_b + o_b);
  unsigned *counters = (unsigned *)(rp + q_b + o_b + s_b);
  int *seq = (int *)(rp + q_b + o_b + s_b + c_b), *pos = seq + batch, *len = pos + batch;
  int rc = 0;
  cudaStream_t s = e->stream;
  fill_unit_kernel<<<4096, 256, 0, s>>>((bf16 *)mem, copies * copy / sizeof(bf16), 0x6b76ULL + (uint64_t)kv_len);
  fill_unit_kernel<<<256, 256, 0, s>>>(q, q_b / sizeof(bf16), 0x71ULL);
  fill_batch_kernel<<<(batch + 255) / 256, 256, 0, s>>>(seq, pos, len, batch, kv_len);
  if (cudaMemsetAsync(counters, 0, c_b, s) != cudaSuccess || cudaGetLastError() != cudaSuccess)
    rc = LJ_FAIL(LJ_ECUDA, "attention grid replay: filling its K and V failed");
  // ATTN alone runs "one" for one_rope (its q is already rotated), as in the engine's ATTN stage
  grid_call gc;
  gc.variant = e->attn_decode == LJ_ATTN_DECODE_ONE_ROPE ? LJ_ATTN_DECODE_ONE : e->attn_decode;
  gc.batch = batch, gc.kv = mem, gc.copies = copies, gc.copy = copy, gc.half = half;
  gc.q = q, gc.o = o, gc.seq = seq, gc.pos = pos, gc.len = len, gc.scratch = scratch, gc.counters = counters;
  gc.inv_freq = e->inv_freq, gc.sh = &sh;
  if (rc == 0) rc = run_call(&gc, 0, s);  // one eager call: a bad launch fails here, not inside the capture
  if (rc == 0 && cudaStreamSynchronize(s) != cudaSuccess)
    rc = LJ_FAIL(LJ_ECUDA, "attention grid replay: %s", cudaGetErrorString(cudaGetLastError()));
  cudaGraphExec_t exec = NULL;
  if (rc == 0) {
    cudaGraph_t g;
    cudaError_t begin = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    if (begin != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "attention grid replay capture: %s", cudaGetErrorString(begin));
    for (int i = 0; rc == 0 && i < calls; i++) rc = run_call(&gc, (size_t)i, s);
    if (begin == cudaSuccess) {
      cudaError_t end = cudaStreamEndCapture(s, &g);
      if (rc == 0 && end != cudaSuccess) rc = LJ_FAIL(LJ_ECUDA, "attention grid replay capture failed: %s", cudaGetErrorString(end));
      if (rc == 0 && cudaGraphInstantiate(&exec, g, 0) != cudaSuccess)
        rc = LJ_FAIL(LJ_ECUDA, "attention grid replay: graph instantiation failed");
      if (end == cudaSuccess) cudaGraphDestroy(g);
    }
  }
  if (rc < 0) {
    cudaFree(mem);
    return rc;
  }
  return lj_cuda_replay_adopt(e, exec, calls, mem, (int)copies, out);
}
