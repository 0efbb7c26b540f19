// Host KV cache: keys and values of every layer, sequence slot and position,
// f32, post-RoPE keys (what attention reads).
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
  int n_layers, max_seqs, max_ctx, kv_dim;
  float *k;   // (n_layers, max_seqs, max_ctx, kv_dim)
  float *v;   // (n_layers, max_seqs, max_ctx, kv_dim)
  int *len;   // (max_seqs) positions filled per sequence
} lj_kv_cache;

int lj_kv_cache_build(lj_kv_cache *c, int n_layers, int max_seqs, int max_ctx, int kv_dim);
void lj_kv_cache_free(lj_kv_cache *c);
void lj_kv_cache_reset(lj_kv_cache *c, int seq);  // forget one sequence

// (max_ctx, kv_dim) block of one layer and sequence.
static inline float *lj_kv_cache_k(const lj_kv_cache *c, int layer, int seq) {
  return c->k + (((size_t)layer * (size_t)c->max_seqs + (size_t)seq) * (size_t)c->max_ctx) * (size_t)c->kv_dim;
}
static inline float *lj_kv_cache_v(const lj_kv_cache *c, int layer, int seq) {
  return c->v + (((size_t)layer * (size_t)c->max_seqs + (size_t)seq) * (size_t)c->max_ctx) * (size_t)c->kv_dim;
}
