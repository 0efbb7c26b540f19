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
// 1 when the variant does RoPE and the KV append itself (decode runs the composite stage rope+attn
// instead of rope, attn), 0 when not, -1 for an unknown variant.
int lj_attn_decode_fuses_rope(int variant);

#ifdef __cplusplus
}
#endif
