// The decode attention kernels the engine can run (attention_decode.cu), so that bench_engine can
// measure them side by side on one card. Plain C; built with and without CUDA.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LJ_ATTN_DECODE_SPLIT = 0,  // "split": rope_kv kernel, split-KV kernel, combine kernel (three launches)
  LJ_ATTN_DECODE_ONE,        // "one": rope_kv kernel, then one kernel whose last block per (token, kv head) combines
  LJ_ATTN_DECODE_ONE_ROPE,   // "one_rope": one kernel that also rotates q and the new k and appends k, v to the cache
  LJ_ATTN_DECODE_COUNT
} lj_attn_decode_variant;

// What the engine runs unless told otherwise: change here once bench_engine --attn-decode all
// has measured the variants (scripts/gpu/attn_decode.sh prints the winner).
#define LJ_ATTN_DECODE_DEFAULT LJ_ATTN_DECODE_SPLIT

// "split", "one", "one_rope"; NULL for an unknown variant.
const char *lj_attn_decode_name(int variant);
// The variant of a name; -1 for an unknown one.
int lj_attn_decode_parse(const char *name);
// Keys of one sequence's cache that one split block holds at most (its scores live in shared
// memory): under the rule, and with a target split count (up to 64 KB of scores at a group of 8,
// above the 48 KB a launch gets without asking).
#define LJ_ATTN_DECODE_MAX_SPLIT_KEYS 512
#define LJ_ATTN_DECODE_MAX_TARGET_SPLIT_KEYS 2048

// The split count of decode attention for n_seq sequences with caches of ctx_cap positions:
// `target` splits per (token, KV head) when > 0 (lj_cuda_set_attn_splits, bench_engine --tune),
// else the rule: one sequence fills the GPU once (n_sms / n_kv_heads: measured faster at batch 1),
// a batch twice (2 x n_sms over n_seq x n_kv_heads, rounded up). Either
// way at least ctx_cap / LJ_ATTN_DECODE_MAX_SPLIT_KEYS (shared memory; with a target, ctx_cap /
// LJ_ATTN_DECODE_MAX_TARGET_SPLIT_KEYS) and at most one split per 16 positions. The count is fixed for a graph; each step shares the current length among them.
int lj_attn_decode_splits(int n_kv_heads, int ctx_cap, int n_seq, int n_sms, int target);

// 1 when the variant does RoPE and the KV append itself (decode runs the composite stage rope+attn
// instead of rope, attn), 0 when not, -1 for an unknown variant.
int lj_attn_decode_fuses_rope(int variant);

#ifdef __cplusplus
}
#endif
