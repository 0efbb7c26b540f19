#include "engine/sampling.h"

#include <math.h>
#include <stdlib.h>

#include "common/error.h"
#include "engine/cpu/cpu_ops.h"
#include "engine/greedy.h"
#include "model/random_init.h"

struct lj_token_sampler {
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

int lj_token_sampler_create(int vocab, const lj_sampling_params *p, lj_token_sampler **out) {
  *out = NULL;
  LJ_TRY(lj_sampling_params_check(p));
  lj_token_sampler *s = calloc(1, sizeof *s);
  if (s) {
    s->order = malloc((size_t)vocab * sizeof *s->order);
    s->probs = malloc((size_t)vocab * sizeof *s->probs);
  }
  if (!s || !s->order || !s->probs) {
    lj_token_sampler_free(s);
    return LJ_FAIL(LJ_ENOMEM, "sampler: out of memory");
  }
  s->vocab = vocab;
  s->p = *p;
  *out = s;
  return LJ_OK;
}

void lj_token_sampler_free(lj_token_sampler *s) {
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

// Draws from the first n candidates of s->order with weights s->probs (sum `sum`).
static int draw(const lj_token_sampler *s, int n, double sum, lj_rng *rng) {
  double u = lj_rng_uniform(rng) * sum, cum = 0.0;
  for (int i = 0; i < n; i++) {
    cum += s->probs[i];
    if (u < cum) return s->order[i];
  }
  return s->order[n - 1];
}

// Keeps in s->order[0..k) the k ids of largest logit (a min-heap, O(vocab log k)).
static void top_k_ids(lj_token_sampler *s, const float *logits, int k) {
  int *h = s->order;
  g_sort_logits = logits;
  for (int id = 0; id < s->vocab; id++) {
    if (id < k) {
      int i = id;  // sift up: the heap's root is the smallest kept
      h[i] = id;
      while (i > 0 && by_logit_desc(&h[(i - 1) / 2], &h[i]) < 0) {
        int p = (i - 1) / 2, t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
      }
    } else if (by_logit_desc(&id, &h[0]) < 0) {
      h[0] = id;  // sift down
      for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && by_logit_desc(&h[l], &h[m]) > 0) m = l;
        if (r < k && by_logit_desc(&h[r], &h[m]) > 0) m = r;
        if (m == i) break;
        int t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
      }
    }
  }
}

// Candidates are kept in descending logit order (ties by id), except plain
// temperature sampling over the whole vocabulary, which walks ids in order.
int lj_sample(lj_token_sampler *s, const float *logits, lj_rng *rng) {
  if (s->p.temperature == 0.0f) return lj_greedy_token(logits, s->vocab);
  LJ_TRY(lj_logits_check_finite(logits, s->vocab));
  const double inv_t = 1.0 / s->p.temperature;
  int n = s->vocab;
  float max = logits[lj_cpu_argmax(logits, s->vocab)];
  if (s->p.top_k > 0 && s->p.top_k < n) {
    n = s->p.top_k;
    top_k_ids(s, logits, n);
  } else {
    for (int i = 0; i < n; i++) s->order[i] = i;
  }
  double sum = 0.0;
  for (int i = 0; i < n; i++) {
    double e = exp((logits[s->order[i]] - max) * inv_t);
    s->probs[i] = (float)e;
    sum += e;
  }
  if (s->p.top_p >= 1.0f) {
    if (n < s->vocab) {  // top-k: descending order for the draw
      g_sort_logits = logits;
      qsort(s->order, (size_t)n, sizeof *s->order, by_logit_desc);
      for (int i = 0; i < n; i++) s->probs[i] = (float)exp((logits[s->order[i]] - max) * inv_t);
    }
    return draw(s, n, sum, rng);
  }
  // top-p: a token below (1 - p) / (n - 1) of the mass can never be in the
  // smallest prefix reaching p, so only the others are sorted.
  double cutoff = n > 1 ? (1.0 - s->p.top_p) / (n - 1) * sum : 0.0;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (s->probs[i] >= cutoff) s->order[m++] = s->order[i];
  g_sort_logits = logits;
  qsort(s->order, (size_t)m, sizeof *s->order, by_logit_desc);
  double cum = 0.0, kept = 0.0;
  int keep = m;
  for (int i = 0; i < m; i++) {
    s->probs[i] = (float)exp((logits[s->order[i]] - max) * inv_t);
    cum += s->probs[i];
    if (cum >= s->p.top_p * sum) {
      keep = i + 1;
      break;
    }
  }
  for (int i = 0; i < keep; i++) kept += s->probs[i];
  return draw(s, keep, kept, rng);
}
