// Byte-level BPE of one pre-token.
//
// The piece starts as one token per byte; the adjacent pair with the lowest
// merge rank is merged (the leftmost one on ties) until no pair merges, as in
// HF tokenizers and transformers.js. Short pieces (nearly all of them) use a
// flat array rescanned after each merge; long ones a linked list and a binary
// heap, so that a megabyte-long run of letters stays O(n log n).
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer_internal.h"

enum { SHORT_PIECE = 48 };
#define NO_RANK INT32_MAX

int lj_id_vec_push(lj_id_vec *v, int32_t id) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 64;
    int32_t *ids = realloc(v->ids, cap * sizeof *ids);
    if (!ids) return LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for %zu ids", cap);
    v->ids = ids;
    v->cap = cap;
  }
  v->ids[v->n++] = id;
  return 0;
}

static int32_t pair_rank(const lj_tokenizer *t, int32_t left, int32_t right) {
  const lj_pair_slot *s = lj_pair_map_get(&t->merges, left, right);
  return s ? s->rank : NO_RANK;
}

// Rank of the pair (left, right), and the id it merges into in *merged.
static int32_t pair_merge(const lj_tokenizer *t, int32_t left, int32_t right, int32_t *merged) {
  const lj_pair_slot *s = lj_pair_map_get(&t->merges, left, right);
  if (!s) return NO_RANK;
  *merged = s->merged;
  return s->rank;
}

static int bpe_short(const lj_tokenizer *t, const char *piece, size_t len, lj_id_vec *out) {
  // ranks[i] and merged[i]: the pair (ids[i], ids[i + 1])
  int32_t ids[SHORT_PIECE], ranks[SHORT_PIECE], merged[SHORT_PIECE];
  size_t n = len;
  for (size_t i = 0; i < n; i++) ids[i] = t->byte_id[(uint8_t)piece[i]];
  for (size_t i = 0; i + 1 < n; i++) ranks[i] = pair_merge(t, ids[i], ids[i + 1], &merged[i]);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; i++)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == NO_RANK) break;
    ids[best] = merged[best];
    // drop ids[best + 1] and the pair that started there
    size_t tail = n - best - 2;
    memmove(ids + best + 1, ids + best + 2, tail * sizeof *ids);
    if (tail > 0) {
      memmove(ranks + best + 1, ranks + best + 2, (tail - 1) * sizeof *ranks);
      memmove(merged + best + 1, merged + best + 2, (tail - 1) * sizeof *merged);
    }
    n--;
    if (best > 0) ranks[best - 1] = pair_merge(t, ids[best - 1], ids[best], &merged[best - 1]);
    if (best + 1 < n) ranks[best] = pair_merge(t, ids[best], ids[best + 1], &merged[best]);
  }
  for (size_t i = 0; i < n; i++) LJ_TRY(lj_id_vec_push(out, ids[i]));
  return 0;
}

// Min-heap of candidate merges, (rank << 32 | left position): lowest rank
// first, then leftmost.
typedef struct {
  uint64_t *items;
  size_t n;
} merge_heap;

static void heap_push(merge_heap *h, uint64_t item) {
  size_t i = h->n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->items[parent] <= item) break;
    h->items[i] = h->items[parent];
    i = parent;
  }
  h->items[i] = item;
}

static uint64_t heap_pop(merge_heap *h) {
  uint64_t top = h->items[0], last = h->items[--h->n];
  size_t i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= h->n) break;
    if (child + 1 < h->n && h->items[child + 1] < h->items[child]) child++;
    if (h->items[child] >= last) break;
    h->items[i] = h->items[child];
    i = child;
  }
  if (h->n) h->items[i] = last;
  return top;
}

static void push_candidate(const lj_tokenizer *t, merge_heap *h, const int32_t *ids, int32_t left,
                           int32_t right) {
  int32_t rank = pair_rank(t, ids[left], ids[right]);
  if (rank != NO_RANK) heap_push(h, ((uint64_t)(uint32_t)rank << 32) | (uint32_t)left);
}

static int bpe_long(const lj_tokenizer *t, const char *piece, size_t len, lj_id_vec *out) {
  if (len > INT32_MAX / 2) return LJ_FAIL(LJ_EINVAL, "tokenizer: a pre-token of %zu bytes is too long", len);
  int32_t n = (int32_t)len;
  int32_t *ids = malloc((size_t)n * sizeof *ids);     // (n) -1 once merged into its left
  int32_t *prev = malloc((size_t)n * sizeof *prev);   // (n) -1 at the start
  int32_t *next = malloc((size_t)n * sizeof *next);   // (n) -1 at the end
  // Each merge pushes at most two candidates: n initial + 2n later.
  merge_heap heap = {malloc(3 * (size_t)n * sizeof *heap.items), 0};
  int rc = 0;
  if (!ids || !prev || !next || !heap.items) {
    rc = LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for a pre-token of %zu bytes", len);
    goto done;
  }
  for (int32_t i = 0; i < n; i++) {
    ids[i] = t->byte_id[(uint8_t)piece[i]];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  for (int32_t i = 0; i + 1 < n; i++) push_candidate(t, &heap, ids, i, i + 1);
  while (heap.n) {
    uint64_t top = heap_pop(&heap);
    int32_t rank = (int32_t)(top >> 32), left = (int32_t)(uint32_t)top;
    int32_t right = next[left];
    if (ids[left] < 0 || right < 0) continue;  // stale: merged away since
    const lj_pair_slot *m = lj_pair_map_get(&t->merges, ids[left], ids[right]);
    if (!m || m->rank != rank) continue;  // stale: a neighbour changed
    ids[left] = m->merged;
    ids[right] = -1;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    if (prev[left] >= 0) push_candidate(t, &heap, ids, prev[left], left);
    if (next[left] >= 0) push_candidate(t, &heap, ids, left, next[left]);
  }
  for (int32_t i = 0; i >= 0 && rc == 0; i = next[i]) rc = lj_id_vec_push(out, ids[i]);
done:
  free(ids);
  free(prev);
  free(next);
  free(heap.items);
  return rc;
}

int lj_bpe_encode_piece(const lj_tokenizer *t, const char *piece, size_t len, lj_id_vec *out) {
  if (len == 0) return 0;
  if (t->ignore_merges || len == 1) {
    int32_t id = lj_bytes_map_get(&t->vocab, t, piece, len);
    if (id >= 0) return lj_id_vec_push(out, id);
  }
  return len <= SHORT_PIECE ? bpe_short(t, piece, len, out) : bpe_long(t, piece, len, out);
}
