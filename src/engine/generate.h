// The generate loop shared by the engines: prefill every prompt in one
// ragged batch, then decode one token per live sequence per step until each
// has n_new tokens or emits a stop token.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "engine/cpu/cpu_engine.h"
#include "engine/sampling.h"

// An engine's forward pass (lj_cpu_forward has this shape).
typedef int (*lj_forward_fn)(void *engine, const lj_batch *b, float *logits /* (n_logits, vocab) */);

typedef struct {
  int n_new;                   // tokens to generate per sequence
  const int32_t *stop_ids;     // a sequence ends after emitting one of these (unless ignore_eos)
  int n_stop;
  int ignore_eos;
  lj_sampling_params sampling;
  uint64_t seed;               // sequence i samples from lj_rng_seed(seed + i)
  FILE *dump_logits;           // NULL, or a file for lj_logits_dump records
  int progress;                // progress line on stderr (when a terminal)
} lj_generate_opts;

typedef struct {
  int n_seqs;
  int32_t **out;        // (n_seqs) generated ids of each sequence
  int *n_out;           // (n_seqs)
  int64_t prefill_ns, decode_ns;
  int64_t prefill_tokens, decode_tokens;
} lj_generate_result;

int lj_generate(lj_forward_fn forward, void *engine, int vocab, const int32_t *const *prompts, const int *prompt_lens,
                int n_seqs, const lj_generate_opts *o, lj_generate_result *r);
void lj_generate_result_free(lj_generate_result *r);
// 1 when `token` ends a sequence under o (a stop id, unless ignore_eos).
int lj_generate_is_stop(const lj_generate_opts *o, int token);

// --dump-logits file format (little-endian):
//   header  char magic[8] = "LJLOGIT1", uint32 version = 1, uint32 vocab,
//           uint32 n_seqs, uint32 reserved = 0                       (24 bytes)
//   records int32 step, int32 seq, int32 token, int32 reserved,
//           float32 logits[vocab]          (one per sequence per step)
// Step 0 holds the logits of the prompt's last position; `token` is the
// token sampled from them.
int lj_logits_dump_header(FILE *fp, int vocab, int n_seqs);
int lj_logits_dump_record(FILE *fp, int step, int seq, int token, const float *logits, int vocab);

// lj_cpu_forward as an lj_forward_fn.
int lj_cpu_forward_fn(void *engine, const lj_batch *b, float *logits);
