// Token sampling: greedy, or temperature -> top-k -> top-p (HF's order),
// drawn from a seeded splitmix64 stream: the same seed and logits give the
// same tokens on every machine.
#pragma once
#include <stdint.h>

typedef struct {
  float temperature;  // 0: greedy (argmax)
  int top_k;          // 0: off
  float top_p;        // 1: off
} lj_sampling_params;

typedef struct {
  uint64_t state;
} lj_rng;

static inline lj_rng lj_rng_seed(uint64_t seed) { return (lj_rng){seed}; }
uint64_t lj_rng_next(lj_rng *r);   // splitmix64
double lj_rng_uniform(lj_rng *r);  // [0, 1), 53 bits

typedef struct lj_token_sampler lj_token_sampler;

int lj_token_sampler_create(int vocab, const lj_sampling_params *p, lj_token_sampler **out);
void lj_token_sampler_free(lj_token_sampler *s);
// Checks the parameters (temperature >= 0, top_k >= 0, 0 < top_p <= 1); errors name the option.
int lj_sampling_params_check(const lj_sampling_params *p);

// Picks a token from logits (vocab); a NaN or infinite logit is LJ_EINVAL. Does not modify logits.
int lj_sample(lj_token_sampler *s, const float *logits, lj_rng *rng);
