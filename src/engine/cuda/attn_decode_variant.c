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
