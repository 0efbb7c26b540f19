// SWIGLU stage: out(n, hidden) = silu(gate) * up, from the fused gate|up
// projection's output gu(n, 2 * hidden) = [gate | up] per row.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

// Like HF in bf16: silu(gate) rounded to bf16, then the product rounded.
int lj_cuda_swiglu(__nv_bfloat16 *out, const __nv_bfloat16 *gu, int n_tokens, int hidden,
                   cudaStream_t stream);
// FP8 prefill with gate|up's scaling folded in: gu holds gate|up's unscaled bf16 sums
// (lj_gemm_lt_run_fp8_sums), x_scale (n_tokens) the per-token scales of gate|up's input and w_scale
// (2 hidden) the weights' row scales. Each of gate and up is first scaled and rounded to bf16 as
// the GEMM's scale pass would (lj_fp8_scale_sum), so the output equals lj_cuda_swiglu on the
// scaled gu bit for bit.
int lj_cuda_swiglu_fp8(__nv_bfloat16 *out, const __nv_bfloat16 *gu, const float *x_scale, const float *w_scale,
                       int n_tokens, int hidden, cudaStream_t stream);
// FP8 prefill with down's activation quantisation folded in as well: h as lj_cuda_swiglu_fp8
// (x_scale, w_scale as there) or, with x_scale NULL, as lj_cuda_swiglu computes it, written to out
// and also quantised per token into q (n_tokens, hidden) E4M3 codes and q_scale (n_tokens): the
// codes and scales lj_cuda_quantize_act makes of out, bit for bit, whichever variant runs:
// - row256, row512, row1024: one block of that many threads per token row, the row in registers
//   (hidden % 8 == 0, up to 32768, aligned pointers);
// - split: a (columns, rows) grid writes h and gathers each row's amax into amax (n_tokens
//   scratch words, zeroed here), then a second pass writes the codes.
// Where a variant cannot run (shape, alignment, no amax for split): the two passes.
enum { LJ_SWIGLU_QUANT_ROW256, LJ_SWIGLU_QUANT_ROW512, LJ_SWIGLU_QUANT_ROW1024, LJ_SWIGLU_QUANT_SPLIT,
       LJ_SWIGLU_QUANT_COUNT };
#define LJ_SWIGLU_QUANT_DEFAULT LJ_SWIGLU_QUANT_ROW512  // fastest of the four on an H100 (2026-12-07)
const char *lj_swiglu_quant_name(int variant);  // "row256" ... "split"; NULL when out of range
int lj_swiglu_quant_parse(const char *name);    // -1 when unknown
int lj_cuda_swiglu_quant(__nv_bfloat16 *out, uint8_t *q, float *q_scale, const __nv_bfloat16 *gu,
                         const float *x_scale, const float *w_scale, int n_tokens, int hidden, int variant,
                         unsigned *amax, cudaStream_t stream);
