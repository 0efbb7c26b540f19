// Names of the prefill attention kernels (attn_prefill_variant.h), for bench_engine and the
// docs; built with and without CUDA.
#include <string.h>

#include "engine/cuda/attn_prefill_variant.h"

static const char *const names[LJ_ATTN_PREFILL_COUNT] = {"wmma", "mma", "mma64", "mma128", "mma_k32"};

const char *lj_attn_prefill_name(int variant) {
  return variant >= 0 && variant < LJ_ATTN_PREFILL_COUNT ? names[variant] : NULL;
}

int lj_attn_prefill_parse(const char *name) {
  for (int v = 0; name && v < LJ_ATTN_PREFILL_COUNT; v++)
    if (!strcmp(name, names[v])) return v;
  return -1;
}

int lj_attn_prefill_runs(int variant, int head_dim) {
  if (!lj_attn_prefill_name(variant)) return -1;
  if (head_dim != 64 && head_dim != 128) return LJ_ATTN_PREFILL_WMMA;
  // "mma" per head size: 128 queries share each K/V tile where registers allow one 8-warp block
  // per SM (head_dim 128: O, Q and S take ~225 registers); at 64 three 4-warp blocks fit.
  if (variant == LJ_ATTN_PREFILL_MMA) return head_dim == 128 ? LJ_ATTN_PREFILL_MMA128 : LJ_ATTN_PREFILL_MMA64;
  return variant;
}
