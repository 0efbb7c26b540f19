// The decode GEMVs' default configurations (gemv_config.h) as a function of the matrix shape:
// a table of the shapes measured on an H100 with the setting that decoded fastest there, and the
// nearest measured shape for the others. Plain C; built with and without CUDA.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "engine/cuda/gemv_config.h"
#include "model/config.h"

// The shape of class cls's weight in a model (or a tensor-parallel rank's layer shape): rows =
// outputs, len = the row length (inputs). qkv (q + 2 kv, dim), o_proj (dim, q), gate_up (2 hidden,
// dim), down (dim, hidden), lm_head (vocab, dim).
void lj_gemv_class_shape(const lj_model_config *c, int cls, int64_t *rows, int64_t *len);

// One measured shape: the model it belongs to, the class, the shape, the setting that decoded that
// model fastest at batch 1 on every class, and the tok/s it gave against the kernel before the knob
// (r4u2 / auto on every class), in the same run.
typedef struct {
  const char *model;
  int fp8, cls;
  int64_t rows, len;
  int cfg;
  double tok_s, before_tok_s;
} lj_gemv_measured;

// The measured shape of the same class and table (fp8: the FP8 pipe table, else bf16's) nearest to
// (rows, len) in |log2(rows / rows_m)| + |log2(len / len_m)|, the first in the table on a tie.
// Shapes beyond the largest measured take the largest's (70B gets 8B's), below the smallest the
// smallest's (the tiny test models get 1B's). NULL only for an unknown class.
const lj_gemv_measured *lj_gemv_nearest_measured(int fp8, int cls, int64_t rows, int64_t len);

// Its configuration: the default of a GEMV of class cls with `rows` outputs over rows of `len`.
int lj_gemv_default_config(int fp8, int cls, int64_t rows, int64_t len);

// Every class's default for model c (fp8: the pipe table; its lm_head entry is unused, the
// lm_head being bf16 in either weight format).
void lj_gemv_model_defaults(const lj_model_config *c, int fp8, int cfg[LJ_GEMV_CLASS_COUNT]);

#ifdef __cplusplus
}
#endif
