// FP8 E4M3 weight quantisation with one fp32 scale per output row (per output channel) or
// one per tensor (lj_fp8_scale_mode), the same arithmetic on the host (model/weights_fp8.c, the CPU reference) and on the
// device (engine/cuda/weight_fp8.cu): every step is one IEEE fp32 operation or exact, so
// the codes and scales are bit-identical.
//   amax     = max |w[row, :]|   (w widened exactly to f32 from F32/F16/BF16)
//   scale    = amax / 448        (1 for an all-zero row; at least FLT_MIN, so that a row of
//                                  amax < 448 FLT_MIN gets no subnormal or zero scale)
//   q[row,i] = e4m3(w[row, i] / scale)  (round to nearest even, saturating at 448)
//   value    = e4m3_value(q) * scale
// Per tensor, amax is the whole tensor's (max is exact in any order, so a device reduction over
// the rows equals the host's) and the one scale is stored in every row's slot, so the GEMV and
// GEMM kernels, which read a scale per row, are the same for both.
#pragma once
#include "model/dtype.h"

#define LJ_FP8_E4M3_MAX 448.0f

// Forward calls of up to this many tokens keep the activations entering an FP8 linear layer as
// they are (W8A16: the GPU's FP8 GEMV); larger calls quantise them per token with the rule above
// (W8A8: the GPU's cuBLASLt FP8 GEMM, lj_cuda_quantize_act), and so does the CPU reference.
#define LJ_FP8_W8A16_MAX_TOKENS 8

// Scale granularity of weights quantised on load (`--fp8-scale row|tensor`; engine/weight_format.h
// names them). FP8 checkpoints keep the scales they carry.
typedef enum { LJ_FP8_SCALE_ROW = 0, LJ_FP8_SCALE_TENSOR = 1 } lj_fp8_scale_mode;

LJ_DTYPE_FN float lj_fp8_row_scale(float amax) {
  if (!(amax > 0.0f && amax <= 3.4028235e38f)) return 1.0f;
  float s = amax / LJ_FP8_E4M3_MAX;
  return s < 1.17549435e-38f ? 1.17549435e-38f : s;  // FLT_MIN: codes only get smaller, still exact
}

LJ_DTYPE_FN uint8_t lj_fp8_quantize(float v, float scale) { return lj_f32_to_e4m3(v / scale); }

// The FP8 GEMM's output scaling where cuBLASLt cannot apply the scales (the fallback, and the
// gate|up sums that the SwiGLU stage scales): y the GEMM's sum rounded to bf16, one fp32 product
// of the two scales, then one of y (the caller rounds the result to bf16). One expression for
// the host and every device kernel that applies it, so they agree bit for bit.
LJ_DTYPE_FN float lj_fp8_scale_sum(float y, float w_scale, float x_scale) { return y * (w_scale * x_scale); }
