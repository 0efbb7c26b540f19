// The grid of the elementwise passes over (rows, cols) matrices that read a per-column vector
// (the FP8 scale pass, the folded SwiGLU): x covers the columns with `threads` per block, y the
// rows, as many as keep ~`blocks` blocks in all; a thread walks the rest of the rows by a stride
// of gridDim.y, so its per-column values are loaded once for several rows.
#pragma once
#include <cuda_runtime.h>

static inline dim3 lj_row_grid(int cols, int rows, int threads, int blocks) {
  int gx = (cols + threads - 1) / threads, gy = blocks / gx;
  if (gy < 1) gy = 1;
  if (gy > rows) gy = rows;
  return dim3((unsigned)gx, (unsigned)gy);
}
