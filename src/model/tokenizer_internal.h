// Internals of the tokenizer shared by its files (tokenizer_*.c). Not for
// other code: use tokenizer.h.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "model/tokenizer.h"

// ---- byte strings -> id (open addressing; keys live in the tokenizer's blob)
typedef struct {
  uint32_t hash;  // full hash, 0 = empty slot (real hashes are forced non-zero)
  int32_t id;
  uint32_t off, len;  // the key's bytes in the blob, kept here to spare two cache misses
} lj_bytes_slot;

typedef struct {
  lj_bytes_slot *slots;  // (mask + 1)
  uint32_t mask;
  uint32_t count;
} lj_bytes_map;

// ---- merge pair (left id, right id) -> (rank, merged id)
typedef struct {
  uint64_t key;  // (left << 32) | right; UINT64_MAX = empty
  int32_t rank;
  int32_t merged;
} lj_pair_slot;

typedef struct {
  lj_pair_slot *slots;  // (mask + 1)
  uint32_t mask;
  uint32_t count;
} lj_pair_map;

// ---- added tokens: a byte trie for leftmost-longest matching in text
typedef struct {
  int32_t first_child;   // -1 none
  int32_t next_sibling;  // -1 none
  int32_t token;         // id of the token ending here, -1 none
  uint8_t byte;
} lj_trie_node;

typedef struct {
  lj_trie_node *nodes;  // node 0 is the root
  int32_t n_nodes, cap_nodes;
  uint8_t starts[256];  // 1 where a token may start with this byte
  int n_tokens;
} lj_added_trie;

enum { LJ_TOKEN_NONE = 0, LJ_TOKEN_VOCAB = 1, LJ_TOKEN_ADDED = 2 };

struct lj_tokenizer {
  char path[512];
  int32_t n_ids;       // highest id + 1
  char *blob;          // bytes of every token, back to back
  size_t blob_len, blob_cap;
  uint32_t *tok_off;   // (n_ids) offset of the token's bytes in blob
  uint32_t *tok_len;   // (n_ids)
  uint8_t *tok_kind;   // (n_ids) LJ_TOKEN_*
  lj_bytes_map vocab;  // model.vocab as raw bytes -> id
  lj_bytes_map added;  // added_tokens content -> id
  int32_t byte_id[256];  // id of each single-byte token
  lj_pair_map merges;
  int ignore_merges;
  lj_added_trie trie;
  pcre2_code *split_re;  // the pre-tokenizer's Split regex
  int split_jit;         // 1 when JIT-compiled
  int32_t bos_id;        // <|begin_of_text|>, -1 if absent
};

// tokenizer_bytes.c: GPT-2 byte-level mapping and UTF-8 checks.
// Code point that stands for byte b in byte-level tokens.
uint32_t lj_byte_to_unicode(uint8_t b);
// Byte that code point cp stands for; -1 if cp is not one of the 256.
int lj_unicode_to_byte(uint32_t cp);
// Converts a byte-level token string (UTF-8 of mapped code points) into the
// bytes it stands for. out needs len bytes. Returns the byte count, or -1 if
// the string holds a character outside the mapping.
long lj_byte_level_to_bytes(const char *s, size_t len, char *out);
// Offset of the first invalid UTF-8 byte (surrogates, overlongs and code
// points above U+10FFFF are invalid), or len if all of s is valid.
size_t lj_utf8_invalid_offset(const char *s, size_t len);

// tokenizer_table.c
uint32_t lj_hash_bytes(const char *s, size_t len);
int lj_bytes_map_init(lj_bytes_map *m, uint32_t expected);
void lj_bytes_map_free(lj_bytes_map *m);
// Inserts id for its bytes (in t's blob). Returns the id already holding those
// bytes (nothing inserted), -1 once inserted, or -2 when out of memory.
int32_t lj_bytes_map_put(lj_bytes_map *m, const lj_tokenizer *t, int32_t id);
int32_t lj_bytes_map_get(const lj_bytes_map *m, const lj_tokenizer *t, const char *s, size_t len);
int lj_pair_map_init(lj_pair_map *m, uint32_t expected);
void lj_pair_map_free(lj_pair_map *m);
// Returns 0, 1 when the pair was already there (the new rank replaces the old),
// or LJ_ENOMEM.
int lj_pair_map_put(lj_pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t merged);
const lj_pair_slot *lj_pair_map_get(const lj_pair_map *m, int32_t left, int32_t right);

// tokenizer_special.c
int lj_added_trie_init(lj_added_trie *tr);
void lj_added_trie_free(lj_added_trie *tr);
int lj_added_trie_put(lj_added_trie *tr, const char *s, size_t len, int32_t id);
// Longest added token starting at text[pos]; its length in *match_len, or -1.
int32_t lj_added_trie_match(const lj_added_trie *tr, const char *text, size_t len, size_t pos,
                            size_t *match_len);

// tokenizer_pretokenize.c
// Compiles the Split regex (PCRE2_UTF | PCRE2_UCP, JIT where available).
// `field` names it in errors.
int lj_pretokenizer_compile(lj_tokenizer *t, const char *pattern, size_t len, const char *field);

// Output ids, grown as needed.
typedef struct {
  int32_t *ids;
  size_t n, cap;
} lj_id_vec;
int lj_id_vec_push(lj_id_vec *v, int32_t id);

// Appends the ids of one section of text holding no added token: split by the
// regex, then BPE per piece. md is a match data block for t->split_re.
int lj_encode_section(const lj_tokenizer *t, const char *text, size_t len, pcre2_match_data *md,
                      lj_id_vec *out);

// tokenizer_bpe.c: appends the BPE ids of one pre-token (raw bytes).
int lj_bpe_encode_piece(const lj_tokenizer *t, const char *piece, size_t len, lj_id_vec *out);
