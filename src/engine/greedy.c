#include "engine/greedy.h"

#include <math.h>

#include "common/error.h"
#include "engine/cpu/cpu_ops.h"

// A NaN or an infinity makes every probability NaN: no candidate would pass
// the top-p cut and argmax would pick token 0, so it is an error, never a token.
int lj_logits_check_finite(const float *logits, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(logits[i]))
      return LJ_FAIL(LJ_EINVAL, "the logit of token %d is %s (the model's output overflowed)", i,
                     isnan(logits[i]) ? "NaN" : logits[i] > 0 ? "+Inf" : "-Inf");
  return 0;
}

int lj_greedy_token(const float *logits, int n) {
  LJ_TRY(lj_logits_check_finite(logits, n));
  return lj_cpu_argmax(logits, n);
}
