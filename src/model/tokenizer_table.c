// Hash tables of the tokenizer: token bytes -> id and merge pair -> rank.
// Open addressing with linear probing, sized to stay at most half full.
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer_internal.h"

// FNV-1a, 32-bit: tokens are short (a few bytes), so a simple byte loop wins.
uint32_t lj_hash_bytes(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h ? h : 1;  // 0 marks an empty slot
}

static uint32_t table_size_for(uint32_t expected) {
  uint32_t size = 64;
  while (size < 2 * (uint64_t)expected + 2) size *= 2;
  return size;
}

int lj_bytes_map_init(lj_bytes_map *m, uint32_t expected) {
  uint32_t size = table_size_for(expected);
  m->slots = calloc(size, sizeof *m->slots);
  if (!m->slots) return LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for a table of %u entries", size);
  m->mask = size - 1;
  m->count = 0;
  return 0;
}

void lj_bytes_map_free(lj_bytes_map *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

static int bytes_map_grow(lj_bytes_map *m) {
  lj_bytes_map bigger;
  LJ_TRY(lj_bytes_map_init(&bigger, (m->mask + 1)));
  for (uint32_t i = 0; i <= m->mask; i++) {
    if (!m->slots[i].hash) continue;
    uint32_t j = m->slots[i].hash & bigger.mask;
    while (bigger.slots[j].hash) j = (j + 1) & bigger.mask;
    bigger.slots[j] = m->slots[i];
  }
  bigger.count = m->count;
  free(m->slots);
  *m = bigger;
  return 0;
}

static const char *token_bytes(const lj_tokenizer *t, int32_t id) { return t->blob + t->tok_off[id]; }

int32_t lj_bytes_map_get(const lj_bytes_map *m, const lj_tokenizer *t, const char *s, size_t len) {
  uint32_t h = lj_hash_bytes(s, len);
  for (uint32_t j = h & m->mask;; j = (j + 1) & m->mask) {
    const lj_bytes_slot *slot = &m->slots[j];
    if (!slot->hash) return -1;
    if (slot->hash == h && slot->len == len && !memcmp(t->blob + slot->off, s, len)) return slot->id;
  }
}

int32_t lj_bytes_map_put(lj_bytes_map *m, const lj_tokenizer *t, int32_t id) {
  const char *s = token_bytes(t, id);
  size_t len = t->tok_len[id];
  int32_t old = lj_bytes_map_get(m, t, s, len);
  if (old >= 0) return old;
  if (2 * (m->count + 1) > m->mask + 1 && bytes_map_grow(m) < 0) return -2;
  uint32_t h = lj_hash_bytes(s, len);
  uint32_t j = h & m->mask;
  while (m->slots[j].hash) j = (j + 1) & m->mask;
  m->slots[j] = (lj_bytes_slot){h, id, t->tok_off[id], t->tok_len[id]};
  m->count++;
  return -1;
}

static uint32_t pair_hash(uint64_t key) { return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32); }

int lj_pair_map_init(lj_pair_map *m, uint32_t expected) {
  uint32_t size = table_size_for(expected);
  m->slots = malloc((size_t)size * sizeof *m->slots);
  if (!m->slots) return LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for %u merges", expected);
  memset(m->slots, 0xFF, (size_t)size * sizeof *m->slots);  // key UINT64_MAX = empty
  m->mask = size - 1;
  m->count = 0;
  return 0;
}

void lj_pair_map_free(lj_pair_map *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

const lj_pair_slot *lj_pair_map_get(const lj_pair_map *m, int32_t left, int32_t right) {
  uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
  for (uint32_t j = pair_hash(key) & m->mask;; j = (j + 1) & m->mask) {
    const lj_pair_slot *slot = &m->slots[j];
    if (slot->key == key) return slot;
    if (slot->key == UINT64_MAX) return NULL;
  }
}

int lj_pair_map_put(lj_pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t merged) {
  uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
  lj_pair_slot *old = (lj_pair_slot *)lj_pair_map_get(m, left, right);
  if (old) {  // a pair listed twice: the later entry wins, as in HF tokenizers and transformers.js
    old->rank = rank;
    old->merged = merged;
    return 1;
  }
  if (2 * (m->count + 1) > m->mask + 1) {
    lj_pair_map bigger;
    LJ_TRY(lj_pair_map_init(&bigger, m->mask + 1));
    for (uint32_t i = 0; i <= m->mask; i++) {
      if (m->slots[i].key == UINT64_MAX) continue;
      uint32_t j = pair_hash(m->slots[i].key) & bigger.mask;
      while (bigger.slots[j].key != UINT64_MAX) j = (j + 1) & bigger.mask;
      bigger.slots[j] = m->slots[i];
    }
    bigger.count = m->count;
    free(m->slots);
    *m = bigger;
  }
  uint32_t j = pair_hash(key) & m->mask;
  while (m->slots[j].key != UINT64_MAX) j = (j + 1) & m->mask;
  m->slots[j] = (lj_pair_slot){key, rank, merged};
  m->count++;
  return 0;
}
