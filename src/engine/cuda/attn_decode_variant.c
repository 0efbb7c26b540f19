// Names of the decode attention kernels (attn_decode_variant.h), for bench_engine and the docs;
// built with and without CUDA.
#include <string.h>

#include "engine/cuda/attn_decode_variant.h"

static const char *const names[LJ_ATTN_DECODE_COUNT] = {"split", "one", "one_rope"};

const char *lj_attn_decode_name(int variant) {
  return variant >= 0 && variant < LJ_ATTN_DECODE_COUNT ? names[variant] : NULL;
}

int lj_attn_decode_parse(const char *name) {
  for (int v = 0; name && v < LJ_ATTN_DECODE_COUNT; v++)
    if (!strcmp(name, names[v])) return v;
  return -1;
}

int lj_attn_decode_fuses_rope(int variant) {
  if (!lj_attn_decode_name(variant)) return -1;
  return variant == LJ_ATTN_DECODE_ONE_ROPE;
}

int lj_attn_decode_splits(int n_kv_heads, int ctx_cap, int n_seq, int n_sms, int target) {
  int per_seq = n_kv_heads * (n_seq > 0 ? n_seq : 1);
  // The rule: one sequence fills the SMs once (bench/results/engine/2026-12-07-h100-decode-tune: on an H100
  // at context 512, 16 splits beat the 33 of two blocks per SM by 2-7% for 1B, 3B and 8B); batches
  // keep two blocks per SM, not yet measured against it.
  int splits = target > 0 ? target : n_seq <= 1 ? n_sms / per_seq : (2 * n_sms + per_seq - 1) / per_seq;
  int keys = target > 0 ? LJ_ATTN_DECODE_MAX_TARGET_SPLIT_KEYS : LJ_ATTN_DECODE_MAX_SPLIT_KEYS;
  int min_splits = (ctx_cap + keys - 1) / keys;  // the scores of a split fit shared memory
  if (splits < min_splits) splits = min_splits;
  if (splits > (ctx_cap + 15) / 16) splits = (ctx_cap + 15) / 16;
  return splits < 1 ? 1 : splits;
}
