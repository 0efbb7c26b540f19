#include "meter/ring.h"

#include <stdlib.h>

#include "common/error.h"

int lj_ring_init(lj_ring *r, size_t min_capacity) {
  size_t cap = 16;
  while (cap < min_capacity) cap *= 2;
  r->buf = malloc(cap * sizeof *r->buf);
  if (!r->buf) return LJ_FAIL(LJ_ENOMEM, "out of memory for a sample ring of %zu samples", cap);
  r->cap = cap;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  atomic_init(&r->dropped, 0);
  return 0;
}

void lj_ring_free(lj_ring *r) {
  free(r->buf);
  r->buf = NULL;
}

size_t lj_ring_push(lj_ring *r, const lj_sample *s, size_t n) {
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t room = r->cap - (head - tail);
  size_t k = n < room ? n : room;
  for (size_t i = 0; i < k; i++) r->buf[(head + i) & (r->cap - 1)] = s[i];
  atomic_store_explicit(&r->head, head + k, memory_order_release);
  if (k < n) atomic_fetch_add_explicit(&r->dropped, n - k, memory_order_relaxed);
  return k;
}

size_t lj_ring_pop(lj_ring *r, lj_sample *out, size_t max) {
  size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
  size_t k = head - tail < max ? head - tail : max;
  for (size_t i = 0; i < k; i++) out[i] = r->buf[(tail + i) & (r->cap - 1)];
  atomic_store_explicit(&r->tail, tail + k, memory_order_release);
  return k;
}
