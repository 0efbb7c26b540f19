// The per-output error bound of the FP8 GEMM's fallback (engine/cuda/gemm_lt.cu: scalar-scaled
// cuBLASLt GEMM to bf16, then scale_outer_kernel), against float64 on the same quantised values:
// ref = sum_i x_i w_i of the dequantised values, abs_sum = sum_i |x_i w_i|, in = K. Shared by
// tests/gpu/test_cuda_fp8.cu (the device) and tests/test_fp8.c (the path simulated on the host).
//
// y = bf16(bf16(S') * fl(sA * sB)), S' the GEMM's sum of code products (S exactly), so
//   - rounding: two bf16 roundings (8 significant bits: unit roundoff 2^-8 each, not 2^-9) and two
//     fp32 multiplies (2^-24 each): (1 + 2^-8)^2 (1 + 2^-24)^2 - 1 < 2^-7 + 2^-15 of |S'| scaled;
//   - accumulation |S' - S| (scaled): Hopper's FP8 MMA (K = 32 per instruction) adds into an
//     accumulator of ~14 significant bits, so each instruction's add is exact to 2^-13 of a
//     magnitude <= its K block's sum of |terms|; with fast accumulation off cuBLASLt promotes the
//     partial sum to fp32 every K block (128 codes = 4 instructions): 4 x 2^-13 = 2^-11 of each
//     block's sum of |terms|, then ceil(in / 128) fp32 adds of the blocks (2^-24 each);
//   - |y - ref| <= acc + (2^-7 + 2^-15)(|ref| + acc), and 2^-7 + 2^-15 < 2^-6.
#pragma once
#include <math.h>

static inline double lj_fp8_fallback_accumulation(double abs_sum, int in) {
  return (0x1p-11 + (double)((in + 127) / 128) * 0x1p-24) * abs_sum;
}

static inline double lj_fp8_fallback_bound(double ref, double abs_sum, int in) {
  double acc = lj_fp8_fallback_accumulation(abs_sum, in);
  return (0x1p-7 + 0x1p-15) * fabs(ref) + (1.0 + 0x1p-6) * acc;
}
