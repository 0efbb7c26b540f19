// Published energy figures the study is set beside: the ML.ENERGY benchmark
// v3 (arXiv 2601.22076), steady-state decode energy per output token.
#pragma once
#include <stddef.h>

typedef struct {
  const char *model;   // as our presets name it ("llama-3.1-8b"); matched case-insensitively in the model name
  const char *gpu;     // matched in the GPU's name ("H100")
  int batch;
  double j_per_token;  // gross GPU energy (NVML counter) per output token
  double tolerance;    // relative, how exactly the figure could be read (0.02: read from their chart)
} lj_reference_point;

extern const lj_reference_point lj_mlenergy_points[];
extern const size_t lj_mlenergy_n_points;
// Where the figures come from, one line.
extern const char lj_mlenergy_source[];
// How their conditions differ from a study's, one line (our prompt and generated lengths are added).
extern const char lj_mlenergy_conditions[];
