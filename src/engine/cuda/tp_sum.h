// The loopback all-reduce's arithmetic, one function for the device kernel (tp_comm.cu) and the
// host tests: element i of the N ranks' bf16 partial sums added in fp32 in rank order
// (0 + 1 + 2 ...), as the CPU emulation adds its ranks' partials, then rounded once to bf16.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "model/dtype.h"

LJ_DTYPE_FN uint16_t lj_tp_sum_bf16(const uint16_t *const *parts, int n, size_t i) {
  float s = lj_bf16_to_f32(parts[0][i]);
  for (int r = 1; r < n; r++) s += lj_bf16_to_f32(parts[r][i]);
  return lj_f32_to_bf16(s);
}
