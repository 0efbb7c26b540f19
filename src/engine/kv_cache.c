#include "engine/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int lj_kv_cache_build(lj_kv_cache *c, int n_layers, int max_seqs, int max_ctx, int kv_dim) {
  memset(c, 0, sizeof *c);
  if (n_layers < 1 || max_seqs < 1 || max_ctx < 1 || kv_dim < 1)
    return LJ_FAIL(LJ_EINVAL, "KV cache: bad size (layers %d, sequences %d, context %d, kv_dim %d)", n_layers,
                   max_seqs, max_ctx, kv_dim);
  size_t n = (size_t)n_layers * (size_t)max_seqs * (size_t)max_ctx * (size_t)kv_dim;
  *c = (lj_kv_cache){n_layers, max_seqs, max_ctx, kv_dim, calloc(n, sizeof(float)), calloc(n, sizeof(float)),
                     calloc((size_t)max_seqs, sizeof(int))};
  if (!c->k || !c->v || !c->len) {
    lj_kv_cache_free(c);
    return LJ_FAIL(LJ_ENOMEM, "KV cache: cannot allocate %.2f GB (%d sequences x %d positions)",
                   2.0 * (double)n * 4 / 1e9, max_seqs, max_ctx);
  }
  return LJ_OK;
}

void lj_kv_cache_free(lj_kv_cache *c) {
  free(c->k);
  free(c->v);
  free(c->len);
  memset(c, 0, sizeof *c);
}

void lj_kv_cache_reset(lj_kv_cache *c, int seq) {
  if (seq >= 0 && seq < c->max_seqs) c->len[seq] = 0;
}
