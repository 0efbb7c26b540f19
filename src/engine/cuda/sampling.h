// SAMPLE stage: next token per sequence from fp32 logits, on the GPU.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

// logits: (n_rows, vocab) fp32. For each row:
//   temperature <= 0: argmax (lowest index on ties, like torch.argmax);
//   else sample from softmax(logits / temperature) restricted to the top_k most likely
//   tokens (top_k > 0; ties at the k-th value all kept), then to the smallest
//   set of most likely tokens whose probability reaches top_p (top_p >= 1: all),
//   with a uniform number drawn from (seed, *step, row) (splitmix64), so runs repeat.
// step: device int (the decode step; a captured graph reads the current value).
// A row with a NaN or infinite logit gets LJ_CUDA_SAMPLE_NONFINITE, never a
// token (the embedding reads a negative id as a zero row, so feeding it back is safe).
// out_tokens: device (n_rows,).
#define LJ_CUDA_SAMPLE_NONFINITE (-1)
int lj_cuda_sample(int *out_tokens, const float *logits, int n_rows, int vocab, float temperature,
                   float top_p, int top_k, uint64_t seed, const int *step, cudaStream_t stream);
