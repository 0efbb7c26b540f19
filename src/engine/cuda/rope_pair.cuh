// One RoPE rotation of the pair (x[i], x[i + hd/2]) at position p, as HF computes it (angle in
// fp32, cos and sin rounded to bf16); shared by rope.cu and the decode attention that fuses RoPE
// (attention_decode.cu), so both write the same bits. Included by .cu files only.
#pragma once
#include <cuda_bf16.h>

static __device__ __forceinline__ void rope_pair(float x1, float x2, int p, float inv_freq, __nv_bfloat16 *o1,
                                                 __nv_bfloat16 *o2) {
  float angle = (float)p * inv_freq, sn, c;
  sincosf(angle, &sn, &c);
  c = __bfloat162float(__float2bfloat16(c));
  sn = __bfloat162float(__float2bfloat16(sn));
  *o1 = __float2bfloat16(x1 * c - x2 * sn);
  *o2 = __float2bfloat16(x2 * c + x1 * sn);
}
