// Added (special) tokens such as <|eot_id|>: a byte trie finds the longest
// one starting at a position of the text, so the encoder can cut them out
// before pre-tokenization (leftmost-longest, as HF tokenizers does).
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/tokenizer_internal.h"

static int32_t trie_new_node(lj_added_trie *tr, uint8_t byte) {
  if (tr->n_nodes == tr->cap_nodes) {
    int32_t cap = tr->cap_nodes ? 2 * tr->cap_nodes : 256;
    lj_trie_node *nodes = realloc(tr->nodes, (size_t)cap * sizeof *nodes);
    if (!nodes) return LJ_FAIL(LJ_ENOMEM, "tokenizer: out of memory for added tokens");
    tr->nodes = nodes;
    tr->cap_nodes = cap;
  }
  tr->nodes[tr->n_nodes] = (lj_trie_node){-1, -1, -1, byte};
  return tr->n_nodes++;
}

int lj_added_trie_init(lj_added_trie *tr) {
  memset(tr, 0, sizeof *tr);
  return trie_new_node(tr, 0) < 0 ? LJ_ENOMEM : 0;
}

void lj_added_trie_free(lj_added_trie *tr) {
  free(tr->nodes);
  memset(tr, 0, sizeof *tr);
}

static int32_t trie_child(const lj_added_trie *tr, int32_t node, uint8_t byte) {
  for (int32_t c = tr->nodes[node].first_child; c >= 0; c = tr->nodes[c].next_sibling)
    if (tr->nodes[c].byte == byte) return c;
  return -1;
}

int lj_added_trie_put(lj_added_trie *tr, const char *s, size_t len, int32_t id) {
  if (len == 0) return LJ_FAIL(LJ_EINVAL, "empty content");
  int32_t node = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t b = (uint8_t)s[i];
    int32_t child = trie_child(tr, node, b);
    if (child < 0) {
      child = trie_new_node(tr, b);
      if (child < 0) return child;
      tr->nodes[child].next_sibling = tr->nodes[node].first_child;
      tr->nodes[node].first_child = child;
    }
    node = child;
  }
  if (tr->nodes[node].token < 0) tr->n_tokens++;
  tr->nodes[node].token = id;
  tr->starts[(uint8_t)s[0]] = 1;
  return 0;
}

int32_t lj_added_trie_match(const lj_added_trie *tr, const char *text, size_t len, size_t pos,
                            size_t *match_len) {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < len; i++) {
    node = trie_child(tr, node, (uint8_t)text[i]);
    if (node < 0) break;
    if (tr->nodes[node].token >= 0) {
      best = tr->nodes[node].token;
      *match_len = i + 1 - pos;
    }
  }
  return best;
}
