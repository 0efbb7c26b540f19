// The CPU reference engine against HF transformers (float32) on the models in
// tests/data/models/, made by scripts/hf_reference/make_fixtures.py (see
// reference.json in each for the versions). For every fixture:
//   - prefill of the prompt: logits of every position vs HF's;
//   - 16 greedy steps with the KV cache: the same tokens, logits vs HF's;
//   - a ragged batch (three prefixes of the prompt, then one decode step of
//     each) gives the logits HF gives for those prefixes;
//   - 1 and 3 threads give bit-identical logits.
// Relative error of a logits row = max|ours - hf| / max|hf| <= 1e-4.
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "engine/cpu/cpu_engine.h"
#include "engine/cpu/cpu_ops.h"
#include "model/weights.h"

#define REL_TOL 1e-4

static const char *const fixtures[] = {"gqa4-tied-llama3", "mha-untied-norope", "gqa2-headdim24-v5config",
                                       "mqa-tied-sharded", "gqa2-bf16"};

typedef struct {
  char dir[512];
  int32_t prompt[64];
  int n_prompt;
  int32_t greedy[64];
  int n_steps;
  int vocab;
  float *logits_prompt;  // (n_prompt, vocab)
  float *logits_steps;   // (n_steps, vocab)
} fixture;

static float *read_f32(const char *dir, const char *file, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *fp = fopen(path, "rb");
  if (!fp) fail_msg("cannot open %s", path);
  float *v = malloc(n * sizeof *v);
  assert_non_null(v);
  if (fread(v, sizeof *v, n, fp) != n) fail_msg("%s: shorter than %zu floats", path, n);
  fclose(fp);
  return v;
}

static void load_fixture(const char *name, fixture *f) {
  const char *src = getenv("LLAMAJOULE_SOURCE_DIR");
  snprintf(f->dir, sizeof f->dir, "%s/tests/data/models/%s", src ? src : ".", name);
  char path[1024];
  snprintf(path, sizeof path, "%s/reference.json", f->dir);
  json_error_t err;
  json_t *ref = json_load_file(path, 0, &err);
  if (!ref) fail_msg("%s: %s", path, err.text);
  json_t *prompt = json_object_get(ref, "prompt_ids"), *greedy = json_object_get(ref, "greedy_ids");
  f->n_prompt = (int)json_array_size(prompt);
  f->n_steps = (int)json_array_size(greedy);
  assert_true(f->n_prompt > 0 && f->n_prompt <= 64 && f->n_steps > 0 && f->n_steps <= 64);
  for (int i = 0; i < f->n_prompt; i++) f->prompt[i] = (int32_t)json_integer_value(json_array_get(prompt, (size_t)i));
  for (int i = 0; i < f->n_steps; i++) f->greedy[i] = (int32_t)json_integer_value(json_array_get(greedy, (size_t)i));
  f->vocab = (int)json_integer_value(json_object_get(ref, "vocab_size"));
  json_decref(ref);
  f->logits_prompt = read_f32(f->dir, "logits_prompt.f32", (size_t)f->n_prompt * (size_t)f->vocab);
  f->logits_steps = read_f32(f->dir, "logits_steps.f32", (size_t)f->n_steps * (size_t)f->vocab);
}

static void free_fixture(fixture *f) {
  free(f->logits_prompt);
  free(f->logits_steps);
}

static double rel_err(const float *ours, const float *ref, int n) {
  double diff = 0, scale = 0;
  for (int i = 0; i < n; i++) {
    double d = fabs((double)ours[i] - ref[i]);
    if (!(d <= diff)) diff = d;  // NaN propagates as a failure
    if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
  }
  return diff / scale;
}

static void expect_close(const char *what, const char *name, int row, const float *ours, const float *ref, int n,
                         double *worst) {
  double e = rel_err(ours, ref, n);
  if (!(e <= REL_TOL)) fail_msg("%s: %s row %d: relative error %.3g > %.0e", name, what, row, e, REL_TOL);
  if (e > *worst) *worst = e;
}

static lj_weights load_weights(const fixture *f) {
  lj_weights w;
  if (lj_weights_load(f->dir, &w) < 0) fail_msg("%s", lj_error_message());
  assert_int_equal(w.config.vocab_size, f->vocab);
  return w;
}

// Prefill of the whole prompt (logits of every position), then greedy decode.
static void run_greedy(const char *name, int n_threads, float **all_logits_out) {
  fixture f;
  load_fixture(name, &f);
  lj_weights w = load_weights(&f);
  lj_cpu_engine *e;
  assert_int_equal(lj_cpu_engine_create(&w, 1, f.n_prompt + f.n_steps, n_threads, &e), 0);
  const int V = f.vocab, P = f.n_prompt;
  // Every row: the prompt positions, then one per decode step after the first.
  float *logits = malloc((size_t)(P + f.n_steps - 1) * (size_t)V * sizeof *logits);
  int32_t seq[64] = {0}, pos[64], rows[64];
  for (int i = 0; i < P; i++) pos[i] = rows[i] = i;
  lj_batch b = {f.prompt, seq, pos, P, rows, P};
  if (lj_cpu_forward(e, &b, logits) < 0) fail_msg("%s", lj_error_message());
  double worst = 0;
  for (int i = 0; i < P; i++)
    expect_close("prompt logits", name, i, logits + (size_t)i * V, f.logits_prompt + (size_t)i * V, V, &worst);
  // Step k's logits are those of the last position before greedy token k.
  float *step = logits + (size_t)(P - 1) * V;
  for (int k = 0; k < f.n_steps; k++) {
    expect_close("step logits", name, k, step, f.logits_steps + (size_t)k * V, V, &worst);
    int token = lj_cpu_argmax(step, V);
    if (token != f.greedy[k]) fail_msg("%s: greedy step %d: token %d, HF chose %d", name, k, token, f.greedy[k]);
    if (k + 1 == f.n_steps) break;
    int32_t t1[1] = {token}, s1[1] = {0}, p1[1] = {P + k}, r1[1] = {0};
    lj_batch d = {t1, s1, p1, 1, r1, 1};
    step = logits + (size_t)(P + k) * V;
    if (lj_cpu_forward(e, &d, step) < 0) fail_msg("%s", lj_error_message());
  }
  printf("%-26s %d threads: prompt %d + %d greedy steps, max relative error %.2e\n", name, n_threads, P, f.n_steps,
         worst);
  lj_cpu_engine_free(e);
  lj_weights_free(&w);
  free_fixture(&f);
  *all_logits_out = logits;
}

static void test_greedy_and_threads(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
    float *one, *three;
    run_greedy(fixtures[i], 1, &one);
    run_greedy(fixtures[i], 3, &three);
    fixture f;
    load_fixture(fixtures[i], &f);
    size_t n = (size_t)(f.n_prompt + f.n_steps - 1) * (size_t)f.vocab;
    if (memcmp(one, three, n * sizeof *one)) fail_msg("%s: 1 and 3 threads give different logits", fixtures[i]);
    free_fixture(&f);
    free(one);
    free(three);
  }
}

// Three sequences of different lengths in one batch (the prefixes of the
// prompt of lengths L0 > L1 > L2, in slots 2, 0, 1), then one decode step of
// each in one batch: every row equals HF's logits for that prefix.
static void test_ragged_batch(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
    fixture f;
    load_fixture(fixtures[i], &f);
    lj_weights w = load_weights(&f);
    lj_cpu_engine *e;
    assert_int_equal(lj_cpu_engine_create(&w, 3, f.n_prompt + 1, 2, &e), 0);
    const int V = f.vocab, P = f.n_prompt;
    const int lens[3] = {P, P - 4, 3}, slots[3] = {2, 0, 1};
    int32_t tokens[256], seq[256], pos[256], rows[3];
    int n = 0;
    for (int s = 0; s < 3; s++) {
      for (int p = 0; p < lens[s]; p++, n++) {
        tokens[n] = f.prompt[p];
        seq[n] = slots[s];
        pos[n] = p;
      }
      rows[s] = n - 1;
    }
    float *logits = malloc(3 * (size_t)V * sizeof *logits);
    lj_batch b = {tokens, seq, pos, n, rows, 3};
    if (lj_cpu_forward(e, &b, logits) < 0) fail_msg("%s", lj_error_message());
    double worst = 0;
    for (int s = 0; s < 3; s++)
      expect_close("ragged prefill", fixtures[i], s, logits + (size_t)s * V,
                   f.logits_prompt + (size_t)(lens[s] - 1) * V, V, &worst);
    // Decode: the full prompt takes HF's first greedy token; the prefixes take their next prompt token.
    int32_t dt[3] = {f.greedy[0], f.prompt[lens[1]], f.prompt[lens[2]]};
    int32_t ds[3] = {slots[0], slots[1], slots[2]}, dp[3] = {lens[0], lens[1], lens[2]}, dr[3] = {0, 1, 2};
    lj_batch d = {dt, ds, dp, 3, dr, 3};
    if (lj_cpu_forward(e, &d, logits) < 0) fail_msg("%s", lj_error_message());
    expect_close("ragged decode", fixtures[i], 0, logits, f.logits_steps + (size_t)V, V, &worst);
    expect_close("ragged decode", fixtures[i], 1, logits + V, f.logits_prompt + (size_t)lens[1] * V, V, &worst);
    expect_close("ragged decode", fixtures[i], 2, logits + 2 * (size_t)V, f.logits_prompt + (size_t)lens[2] * V, V,
                 &worst);
    printf("%-26s ragged batch (%d, %d, %d tokens) + decode: max relative error %.2e\n", fixtures[i], lens[0], lens[1],
           lens[2], worst);
    free(logits);
    lj_cpu_engine_free(e);
    lj_weights_free(&w);
    free_fixture(&f);
  }
}

// Bad batches are refused with a message, not computed.
static void test_bad_batches(void **state) {
  (void)state;
  fixture f;
  load_fixture("gqa2-bf16", &f);
  lj_weights w = load_weights(&f);
  lj_cpu_engine *e;
  assert_int_equal(lj_cpu_engine_create(&w, 2, 8, 1, &e), 0);
  float logits[256 * 2];
  int32_t tok[3] = {5, 6, 7}, seq[3] = {0, 0, 0}, pos[3] = {0, 1, 2}, rows[1] = {2};
  int32_t far[3] = {0, 1, 9}, gap[3] = {0, 2, 3}, mixed[3] = {0, 1, 0}, bad_tok[3] = {5, 256, 7};
  lj_batch b = {tok, seq, far, 3, rows, 1};
  assert_int_equal(lj_cpu_forward(e, &b, logits), LJ_EINVAL);  // position beyond the context
  assert_non_null(strstr(lj_error_message(), "position 9"));
  b.pos = gap;
  assert_int_equal(lj_cpu_forward(e, &b, logits), LJ_EINVAL);  // positions not consecutive
  b.pos = pos;
  b.seq = mixed;
  assert_int_equal(lj_cpu_forward(e, &b, logits), LJ_EINVAL);  // sequence 0 not contiguous
  b.seq = seq;
  b.tokens = bad_tok;
  assert_int_equal(lj_cpu_forward(e, &b, logits), LJ_EINVAL);  // token outside the vocabulary
  assert_non_null(strstr(lj_error_message(), "256"));
  int32_t late[1] = {3}, one_seq[1] = {1}, one_row[1] = {0};
  lj_batch skip = {tok, one_seq, late, 1, one_row, 1};
  assert_int_equal(lj_cpu_forward(e, &skip, logits), LJ_EINVAL);  // skips cached positions of an empty sequence
  lj_cpu_engine_free(e);
  lj_weights_free(&w);
  free_fixture(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_greedy_and_threads),
      cmocka_unit_test(test_ragged_batch),
      cmocka_unit_test(test_bad_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
