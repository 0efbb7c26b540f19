#include "engine/sampling.h"

#include <math.h>
#include <stdlib.h>

#include "common/error.h"
#include "engine/cpu/cpu_ops.h"
#include "model/random_init.h"

struct lj_sampler {
  int vocab;
  lj_sampling_params p;
  int *order;    // (vocab) candidate ids, sorted by logit descending
  float *probs;  // (vocab) probabilities of `order`
};

// The splitmix64 sequence: lj_splitmix64 adds the increment before mixing.
uint64_t lj_rng_next(lj_rng *r) {
  uint64_t out = lj_splitmix64(r->state);
  r->state += 0x9E3779B97F4A7C15ull;
  return out;
}

double lj_rng_uniform(lj_rng *r) { return (double)(lj_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

int lj_sampling_params_check(const lj_sampling_params *p) {
  if (!(p->temperature >= 0) || !isfinite(p->temperature))
    return LJ_FAIL(LJ_EINVAL, "--temperature %g must be >= 0 (0 = greedy)", p->temperature);
  if (p->top_k < 0) return LJ_FAIL(LJ_EINVAL, "--top-k %d must be >= 0 (0 = off)", p->top_k);
  if (!(p->top_p > 0 && p->top_p <= 1)) return LJ_FAIL(LJ_EINVAL, "--top-p %g must be in (0, 1]", p->top_p);
  return LJ_OK;
}

int lj_sampler_create(int vocab, const lj_sampling_params *p, lj_sampler **out) {
  *out = NULL;
  LJ_TRY(lj_sampling_params_check(p));
  lj_sampler *s = calloc(1, sizeof *s);
  if (s) {
    s->order = malloc((size_t)vocab * sizeof *s->order);
    s->probs = malloc((size_t)vocab * sizeof *s->probs);
  }
  if (!s || !s->order || !s->probs) {
    lj_sampler_free(s);
    return LJ_FAIL(LJ_ENOMEM, "sampler: out of memory");
  }
  s->vocab = vocab;
  s->p = *p;
  *out = s;
  return LJ_OK;
}

void lj_sampler_free(lj_sampler *s) {
  if (!s) return;
  free(s->order);
  free(s->probs);
  free(s);
}

// Descending logit, ties by ascending id (deterministic).
static _Thread_local const float *g_sort_logits;
static int by_logit_desc(const void *a, const void *b) {
  int i = *(const int *)a, j = *(const int *)b;
  float x = g_sort_logits[i], y = g_sort_logits[j];
  if (x != y) return x > y ? -1 : 1;
  return (i > j) - (i < j);
}

int lj_sample(lj_sampler *s, const float *logits, lj_rng *rng) {
  if (s->p.temperature == 0.0f) return lj_cpu_argmax(logits, s->vocab);
  int n = s->vocab;
  for (int i = 0; i < n; i++) s->order[i] = i;
  g_sort_logits = logits;
  qsort(s->order, (size_t)n, sizeof *s->order, by_logit_desc);
  if (s->p.top_k > 0 && s->p.top_k < n) n = s->p.top_k;
  // Softmax of logits / T over the kept candidates, in double.
  double max = logits[s->order[0]] / s->p.temperature, sum = 0.0;
  for (int i = 0; i < n; i++) {
    double e = exp(logits[s->order[i]] / s->p.temperature - max);
    s->probs[i] = (float)e;
    sum += e;
  }
  // top-p: the smallest prefix whose probability reaches p (at least one token).
  if (s->p.top_p < 1.0f) {
    double cum = 0.0;
    int keep = n;
    for (int i = 0; i < n; i++) {
      cum += s->probs[i] / sum;
      if (cum >= s->p.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
    sum = 0.0;
    for (int i = 0; i < n; i++) sum += s->probs[i];
  }
  double u = lj_rng_uniform(rng) * sum, cum = 0.0;
  for (int i = 0; i < n; i++) {
    cum += s->probs[i];
    if (u < cum) return s->order[i];
  }
  return s->order[n - 1];
}
