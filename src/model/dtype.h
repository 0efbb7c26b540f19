// Tensor element types of HF checkpoints and the bf16/f16 <-> f32 conversions
// both engines use (host and device: plain bit manipulation, no intrinsics).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define LJ_DTYPE_FN static inline __host__ __device__
#else
#define LJ_DTYPE_FN static inline
#endif

// F8_E4M3: OCP FP8 E4M3 ("fn": no infinities, S.1111.111 is NaN, largest finite 448), the
// float8_e4m3fn of torch. Only linear-layer weights are stored in it, each with fp32 scales
// (value = e4m3 * scale, see model/fp8_quant.h).
typedef enum { LJ_DTYPE_F32 = 0, LJ_DTYPE_F16 = 1, LJ_DTYPE_BF16 = 2, LJ_DTYPE_F8_E4M3 = 3 } lj_dtype;

LJ_DTYPE_FN size_t lj_dtype_size(lj_dtype t) {
  return t == LJ_DTYPE_F32 ? 4 : t == LJ_DTYPE_F8_E4M3 ? 1 : 2;
}

// The safetensors spelling: "F32", "F16", "BF16", "F8_E4M3".
static inline const char *lj_dtype_name(lj_dtype t) {
  return t == LJ_DTYPE_F32 ? "F32" : t == LJ_DTYPE_F16 ? "F16" : t == LJ_DTYPE_BF16 ? "BF16"
       : t == LJ_DTYPE_F8_E4M3 ? "F8_E4M3" : "?";
}

LJ_DTYPE_FN uint32_t lj_f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
LJ_DTYPE_FN float lj_bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// bf16 is the top half of an f32: widening is exact.
LJ_DTYPE_FN float lj_bf16_to_f32(uint16_t h) { return lj_bits_f32((uint32_t)h << 16); }

// Round to nearest, ties to even (what torch's .to(torch.bfloat16) does); NaN stays NaN.
LJ_DTYPE_FN uint16_t lj_f32_to_bf16(float f) {
  uint32_t u = lj_f32_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);  // quiet NaN
  u += 0x7FFFu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

// f32 rounded to the nearest bf16 value, kept as f32.
LJ_DTYPE_FN float lj_round_bf16(float f) { return lj_bf16_to_f32(lj_f32_to_bf16(f)); }

// A non-negative float below 2^23 rounded to the nearest integer, ties to even.
LJ_DTYPE_FN uint32_t lj_round_even_u32(float v) {
  uint32_t m = (uint32_t)v;
  float frac = v - (float)m;
  if (frac > 0.5f || (frac == 0.5f && (m & 1u))) m++;
  return m;
}

// IEEE half -> f32, exact (subnormals, inf, NaN included).
LJ_DTYPE_FN float lj_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  if (exp == 0x1F) return lj_bits_f32(sign | 0x7F800000u | (man << 13));
  if (exp == 0) {
    if (man == 0) return lj_bits_f32(sign);
    float v = (float)man * (1.0f / 16777216.0f);  // man * 2^-24
    return sign ? -v : v;
  }
  return lj_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

// f32 -> IEEE half, round to nearest even; overflow gives inf.
LJ_DTYPE_FN uint16_t lj_f32_to_f16(float f) {
  uint32_t u = lj_f32_bits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u);
  if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (a < 0x38800000u) {                                    // below 2^-14: subnormal half
    // Scale into units of 2^-24 (exact) and round to nearest even.
    return (uint16_t)(sign | lj_round_even_u32(lj_bits_f32(a) * 16777216.0f));
  }
  uint32_t r = a + 0xFFFu + ((a >> 13) & 1u);
  return (uint16_t)(sign | (((r >> 13) - (112u << 10)) & 0x7FFFu));
}

// E4M3 -> f32, exact: exponent bias 7, subnormals m * 2^-9, S.1111.111 NaN.
LJ_DTYPE_FN float lj_e4m3_to_f32(uint8_t b) {
  uint32_t sign = (uint32_t)(b & 0x80u) << 24, exp = (b >> 3) & 0xFu, man = b & 7u;
  if (exp == 0xF && man == 7) return lj_bits_f32(sign | 0x7FC00000u);
  if (exp == 0) {
    float v = (float)man * (1.0f / 512.0f);
    return sign ? -v : v;
  }
  return lj_bits_f32(sign | ((exp + 120u) << 23) | (man << 20));
}

// f32 -> E4M3, round to nearest even, saturating: |f| beyond 448 (infinities included)
// gives +-448, NaN gives NaN (0x7F | sign). The semantics of CUDA's
// __nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3); tests/gpu checks them equal.
LJ_DTYPE_FN uint8_t lj_f32_to_e4m3(float f) {
  uint32_t u = lj_f32_bits(f);
  uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return (uint8_t)(sign | 0x7Fu);
  if (a >= 0x43E00000u) return (uint8_t)(sign | 0x7Eu);  // >= 448
  if (a < 0x3C800000u) {                                 // below 2^-6: subnormal, units of 2^-9
    // m == 8 is 2^-6, the smallest normal
    return (uint8_t)(sign | lj_round_even_u32(lj_bits_f32(a) * 512.0f));
  }
  uint32_t r = a + 0x7FFFFu + ((a >> 20) & 1u);          // round 23 mantissa bits to 3
  return (uint8_t)(sign | (((r >> 20) - (120u << 3)) & 0x7Fu));  // < 448 stays <= 448
}

// Element i of a buffer of type t, widened to f32 (F8_E4M3: the unscaled code's value).
LJ_DTYPE_FN float lj_load_f32(const void *data, lj_dtype t, size_t i) {
  if (t == LJ_DTYPE_F32) return ((const float *)data)[i];
  if (t == LJ_DTYPE_F8_E4M3) return lj_e4m3_to_f32(((const uint8_t *)data)[i]);
  uint16_t h = ((const uint16_t *)data)[i];
  return t == LJ_DTYPE_BF16 ? lj_bf16_to_f32(h) : lj_f16_to_f32(h);
}
