// The check every sampler on the host makes of the logits before it picks a token (generate's
// lj_sample, the CPU profile's greedy decode, the tensor-parallel profile's prefill token), so that
// a model whose output overflowed is an error everywhere, never token 0. Apart from sampling.h:
// its lj_sample clashes with the meter's sample type, which the profile includes.
#pragma once

// LJ_EINVAL naming the first NaN or infinite logit of n (the model's output overflowed), else 0.
int lj_logits_check_finite(const float *logits, int n);

// The greedy token of n logits (the first of equal maxima), or lj_logits_check_finite's error.
int lj_greedy_token(const float *logits, int n);
