// ATTN stage for prefill, FlashAttention-2 style on mma.sync (attention_prefill_mma.cu): the
// arguments and result of lj_cuda_attention_prefill (attention_prefill.h), head_dim 64 and 128.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "engine/cuda/attention_prefill.h"
#include "engine/cuda/attn_prefill_variant.h"

// variant: LJ_ATTN_PREFILL_MMA, _MMA64, _MMA128 or _MMA_K32 (else LJ_EINVAL); a head_dim other
// than 64 and 128 is LJ_EUNSUPPORTED. Pointers 16-byte aligned (lj_cuda_attention_prefill_variant
// checks and falls back to wmma).
int lj_cuda_attention_prefill_mma(int variant, __nv_bfloat16 *out, const __nv_bfloat16 *qkv,
                                  const __nv_bfloat16 *k_cache, const __nv_bfloat16 *v_cache, const int *q_start,
                                  const int *q_len, const int *ctx_start, int n_seqs, int max_q_len,
                                  const lj_attn_prefill_shape *s, cudaStream_t stream);
