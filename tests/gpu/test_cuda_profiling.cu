// The CUDA engine's profiling hooks on the tiny model (random weights):
//   - a replay graph of QKV cycling the layers leaves exactly what one call of
//     the last layer leaves (the replay runs the real stage on the real batch);
//   - a sequence replay of the whole layer over n_layers calls, between embed and the
//     final norm and LM head, gives the prefill's logits bit for bit (it is the run's
//     order); spans outside the layer or backwards are refused;
//   - stage marks: one interval per stage call in the engine's order, ordered in
//     time, on the host's clock axis; marks change no generated token;
//   - attention with g < n_kv_heads groups gives the full run's first g groups
//     bit for bit (same splits, same data);
//   - the SAMPLE stage (greedy) picks the argmax of the logits;
//   - rewind: a generation can be repeated from the prompt's cache;
//   - a replay of the layer's stages in a given order: in the run's order it is the
//     sequence replay (the prefill's logits bit for bit); leaving one stage out leaves
//     exactly that stage's output untouched while the others run; other orders run;
//     repeated, foreign or skipped stages are refused;
//   - the calibration copy changes no logit and no generated token, makes the run
//     measurably longer, and replays alone;
//   - the layer skip: a layer whose o_proj and down weights are zero adds nothing to the
//     residual, so skipping it (first, middle, last) gives the full run's logits and
//     generated tokens bit for bit (the residual passes through, the rounding is the same);
//     with its real weights skipping it changes the logits; out-of-range layers are refused;
//   - the per-layer replay: one layer alone in the run's order on the prefill's state
//     leaves what one stage-by-stage call of that layer leaves;
//   - the head replay of the last layer's skip check: the final norm and LM head on the last
//     captured slot give the prefill's logits, on the slot before it the logits of the prefill
//     with the last layer skipped, bit for bit;
//   - replays on recorded stage inputs: the records are the run's, and the whole layer or the
//     layer without a stage, replayed again and again, computes the run's bytes (the live
//     buffers drift).
//   - the spacer: refused while off, out of range or listed twice; in an order it idles the GPU
//     for its time in every call (between 1x and 2x the spacers' time in all).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka has no C++ guards
#include <cmocka.h>
}

#include <string.h>
#include <time.h>
#include <vector>

extern "C" {
#include "common/error.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/cuda_engine_internal.h"
#include "gpu_test_util.h"
extern "C" {
#include "model/config.h"
#include "store/profile_result.h"  // lj_layer_order_stage: a layer's stages on one GPU, in run order
}

static lj_cuda_engine *make_engine(lj_model_config *c, int ctx) {
  assert_int_equal(lj_config_preset("tiny", c), 0);
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_ctx = ctx, o.max_tokens = 64, o.print_plan = 0;
  lj_cuda_engine *e = NULL;
  int rc = lj_cuda_engine_create_random(&e, c, 77, &o);
  if (rc < 0) fprintf(stderr, "%s\n", lj_error_message());
  assert_int_equal(rc, 0);
  return e;
}

static std::vector<uint16_t> copy_bf16(const void *d, size_t n) {
  std::vector<uint16_t> h(n);
  GPU_OK(cudaMemcpy(h.data(), d, 2 * n, cudaMemcpyDeviceToHost));
  return h;
}

static void prompt(std::vector<int> *ids, int n) {
  ids->resize(n);
  for (int i = 0; i < n; i++) (*ids)[i] = (i * 7919 + 13) % 32000;
}

// A prefill of n prompt tokens, rewound to an empty cache, and b that prefill's batch: the state
// the profile's prefill replays start from.
static void prefill_state(lj_cuda_engine *e, std::vector<int> *ids, int n, lj_cuda_batch *b) {
  prompt(ids, n);
  int m = n, zero = 0;
  assert_int_equal(lj_cuda_prefill(e, 1, ids->data(), &m), 0);
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  assert_int_equal(lj_cuda_prepare_batch(e, 1, ids->data(), &m, b), 0);
}

// The tiny model's engine (context 64) at that state.
static lj_cuda_engine *engine_at_prefill(lj_model_config *c, std::vector<int> *ids, int n, lj_cuda_batch *b) {
  lj_cuda_engine *e = make_engine(c, 64);
  prefill_state(e, ids, n, b);
  return e;
}

static void test_replay_matches_one_call(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 12);
  int n = 12;
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  int one = 1, tok = 5;
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, &tok, &one, &b), 0);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  size_t qkv = (size_t)lj_q_dim(&c) + 2 * lj_kv_dim(&c);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_QKV, c.n_layers - 1, &b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  std::vector<uint16_t> ref = copy_bf16(a.qkv, qkv);
  GPU_OK(cudaMemset(a.qkv, 0xFF, 2 * qkv));
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create(e, LJ_STAGE_QKV, &b, 3 * c.n_layers, &rp), 0);
  assert_int_equal(lj_cuda_replay_calls(rp), 3 * c.n_layers);
  GPU_OK(cudaMemset(a.qkv, 0xFF, 2 * qkv));
  assert_int_equal(lj_cuda_replay_launch(rp, 2), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  std::vector<uint16_t> got = copy_bf16(a.qkv, qkv);
  assert_memory_equal(got.data(), ref.data(), 2 * qkv);
  lj_cuda_replay_free(rp);
  // Refused: a skipped stage, marks on.
  lj_cuda_set_skip_mask(e, 1u << LJ_STAGE_QKV);
  assert_int_equal(lj_cuda_replay_create(e, LJ_STAGE_QKV, &b, 2, &rp), LJ_EINVAL);
  lj_cuda_set_skip_mask(e, 0);
  lj_cuda_engine_free(e);
}

static void test_sequence_replay_is_the_forward(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 24);
  int n = 24, zero = 0;
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  std::vector<float> ref(c.vocab_size), got(c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, ref.data(), 1), 0);
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, ids.data(), &n, &b), 0);
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_span(e, LJ_STAGE_ATTN_NORM, LJ_STAGE_DOWN, &b, c.n_layers, &rp), 0);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  GPU_OK(cudaMemset(a.logits, 0, sizeof(float) * c.vocab_size));
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_EMBED, -1, &b, &a), 0);
  assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_FINAL_NORM, -1, &b, &a), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_LM_HEAD, -1, &b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  assert_int_equal(lj_cuda_get_logits(e, got.data(), 1), 0);
  assert_memory_equal(got.data(), ref.data(), sizeof(float) * c.vocab_size);
  lj_cuda_replay_free(rp);
  // Refused: a span reaching outside the layer, a backward span.
  assert_int_equal(lj_cuda_replay_create_span(e, LJ_STAGE_EMBED, LJ_STAGE_QKV, &b, 2, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_span(e, LJ_STAGE_DOWN, LJ_STAGE_QKV, &b, 2, &rp), LJ_EINVAL);
  assert_null(rp);
  lj_cuda_engine_free(e);
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void check_order(const lj_cuda_mark_interval *iv, int n, int n_layers, int with_sample, int64_t t0,
                        int64_t t1) {
  const int per_layer = LJ_LAYER_STAGES;  // 9 stages in a layer (no all-reduce on one GPU)
  assert_int_equal(n, 1 + per_layer * n_layers + 2 + with_sample);
  assert_int_equal(iv[0].stage, LJ_STAGE_EMBED);
  for (int l = 0; l < n_layers; l++)
    for (int s = 0; s < per_layer; s++) {
      assert_int_equal(iv[1 + per_layer * l + s].stage, lj_layer_order_stage(0, s));
      assert_int_equal(iv[1 + per_layer * l + s].layer, l);
    }
  assert_int_equal(iv[1 + per_layer * n_layers].stage, LJ_STAGE_FINAL_NORM);
  assert_int_equal(iv[2 + per_layer * n_layers].stage, LJ_STAGE_LM_HEAD);
  if (with_sample) assert_int_equal(iv[3 + per_layer * n_layers].stage, LJ_STAGE_SAMPLE);
  for (int i = 0; i < n; i++) {
    assert_true(iv[i].end_ns >= iv[i].begin_ns);
    // contiguous (one stamp between stages), but for a stage whose two stamps came out
    // in reverse by the SMs' clock skew: zero length, within a microsecond
    if (i) assert_true(iv[i].begin_ns <= iv[i - 1].end_ns && iv[i - 1].end_ns - iv[i].begin_ns < 1000);
  }
  // On the host axis, within the clock alignment (a few tens of us) of the host's own bracket.
  assert_true(iv[0].begin_ns > t0 - 200000);
  assert_true(iv[n - 1].end_ns < t1 + 200000);
}

static void test_marks(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 10);
  int n = 10, G = 6;
  lj_cuda_sampling sp = {0.0f, 1.0f, 0, 0};
  // Reference tokens without marks.
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  std::vector<int> ref(G), got(G);
  assert_int_equal(lj_cuda_generate(e, 1, G, &sp, ref.data()), 0);
  lj_cuda_reset(e);
  assert_int_equal(lj_cuda_marks_enable(e, G + 1), 0);
  assert_true(lj_cuda_marks_alignment_ns(e) > 0);
  assert_int_equal(lj_cuda_marks_set_step(e, 0), 0);
  int64_t t0 = mono_ns();
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  int64_t t1 = mono_ns();
  lj_cuda_mark_interval iv[256];
  int m = 0;
  assert_int_equal(lj_cuda_marks_read(e, 0, 0, iv, 256, &m), 0);
  check_order(iv, m, c.n_layers, 0, t0, t1);
  t0 = mono_ns();
  assert_int_equal(lj_cuda_generate(e, 1, G, &sp, got.data()), 0);
  t1 = mono_ns();
  assert_memory_equal(got.data(), ref.data(), sizeof(int) * G);
  int64_t prev_end = 0;
  for (int s = 1; s < G; s++) {
    assert_int_equal(lj_cuda_marks_read(e, s, 1, iv, 256, &m), 0);
    check_order(iv, m, c.n_layers, 1, t0, t1);
    assert_true(iv[0].begin_ns >= prev_end);  // steps in order
    prev_end = iv[m - 1].end_ns;
  }
  lj_cuda_marks_disable(e);
  // Rewind to the prompt and generate again without marks: the work repeats from the cache.
  int len = n;
  assert_int_equal(lj_cuda_rewind(e, 1, &len), 0);
  assert_int_equal(lj_cuda_seq_len(e, 0), n);
  assert_int_equal(lj_cuda_generate(e, 1, G, &sp, got.data()), 0);
  assert_int_equal(lj_cuda_seq_len(e, 0), n + G - 1);
  lj_cuda_engine_free(e);
}

static void test_attention_groups(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 20);
  int n = 20;
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  int one = 1, tok = 9;
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, &tok, &one, &b), 0);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_QKV, 0, &b, &a), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_ROPE, 0, &b, &a), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_ATTN, 0, &b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  size_t q = lj_q_dim(&c);
  std::vector<uint16_t> full = copy_bf16(a.attn, q);
  size_t per_group = (size_t)(c.n_heads / c.n_kv_heads) * c.head_dim;
  for (int g = 1; g < c.n_kv_heads; g++) {
    GPU_OK(cudaMemset(a.attn, 0, 2 * q));
    assert_int_equal(lj_cuda_set_attn_groups(e, g), 0);
    assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_ATTN, 0, &b, &a), 0);
    assert_int_equal(lj_cuda_synchronize(e), 0);
    std::vector<uint16_t> part = copy_bf16(a.attn, q);
    assert_memory_equal(part.data(), full.data(), 2 * per_group * g);
  }
  assert_int_equal(lj_cuda_set_attn_groups(e, c.n_kv_heads + 1), LJ_EINVAL);
  assert_int_equal(lj_cuda_set_attn_groups(e, 0), 0);
  lj_cuda_engine_free(e);
}

// The graphed prefill gives the eager prefill's logits bit for bit, on its eager
// first call and on the graph replays after it.
static void test_prefill_graphed(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 24);
  int n = 24;
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  std::vector<float> ref(c.vocab_size), got(c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, ref.data(), 1), 0);
  for (int k = 0; k < 3; k++) {
    int zero = 0;
    assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
    assert_int_equal(lj_cuda_prefill_graphed(e, 1, ids.data(), &n), 0);
    assert_int_equal(lj_cuda_seq_len(e, 0), n);
    assert_int_equal(lj_cuda_get_logits(e, got.data(), 1), 0);
    assert_memory_equal(got.data(), ref.data(), sizeof(float) * c.vocab_size);
  }
  lj_cuda_engine_free(e);
}

static void test_sample_stage(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 8);
  int n = 8;
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  std::vector<float> logits(c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, logits.data(), 1), 0);
  int best = 0;
  for (int i = 1; i < c.vocab_size; i++)
    if (logits[i] > logits[best]) best = i;
  int one = 1, tok = 1;
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, &tok, &one, &b), 0);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_SAMPLE, -1, &b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);  // the engine's stream does not sync with cudaMemcpy's
  int next = -1;
  GPU_OK(cudaMemcpy(&next, a.next, sizeof next, cudaMemcpyDeviceToHost));
  assert_int_equal(next, best);
  lj_cuda_engine_free(e);
}

static double graphed_prefill_seconds(lj_cuda_engine *e, const std::vector<int> &ids, int n, int reps) {
  int zero = 0;
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  assert_int_equal(lj_cuda_prefill_graphed(e, 1, ids.data(), &n), 0);  // eager + capture
  assert_int_equal(lj_cuda_synchronize(e), 0);
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(lj_cuda_prefill_graph_launch(e, reps), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  return (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
}

// The layer in the run's order, as a list (the leave-one-out replay's starting point).
static std::vector<lj_stage> run_order(int without) {
  std::vector<lj_stage> v;
  for (int k = 0; k < LJ_LAYER_STAGES; k++)
    if (lj_layer_order_stage(0, k) != without) v.push_back(lj_layer_order_stage(0, k));
  return v;
}

// embed, the order over n_layers calls, final norm, LM head; the logits into out.
static void forward_by_order(lj_cuda_engine *e, const lj_model_config &c, const lj_cuda_batch *b,
                             const std::vector<lj_stage> &order, std::vector<float> *out) {
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_order(e, order.data(), (int)order.size(), b, c.n_layers, &rp), 0);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_EMBED, -1, b, &a), 0);
  assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_FINAL_NORM, -1, b, &a), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_LM_HEAD, -1, b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  assert_int_equal(lj_cuda_get_logits(e, out->data(), 1), 0);
  lj_cuda_replay_free(rp);
}

static void test_order_replay(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 24);
  int n = 24, zero = 0;
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  std::vector<float> ref(c.vocab_size), got(c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, ref.data(), 1), 0);
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, ids.data(), &n, &b), 0);
  // The whole layer in the run's order is the forward pass.
  forward_by_order(e, c, &b, run_order(-1), &got);
  assert_memory_equal(got.data(), ref.data(), sizeof(float) * c.vocab_size);
  // Without swiglu (or attention): its output buffer keeps what it held, the stage after it
  // reads that, and everything else runs.
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  size_t h_elems = (size_t)n * c.hidden_dim, attn_elems = (size_t)n * lj_q_dim(&c);
  const struct {
    lj_stage out;
    void *buf;
    size_t elems;
  } cases[2] = {{LJ_STAGE_SWIGLU, a.h, h_elems}, {LJ_STAGE_ATTN, a.attn, attn_elems}};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
    GPU_OK(cudaMemset(cases[k].buf, 0x3C, 2 * cases[k].elems));  // bf16 1.0078: finite
    GPU_OK(cudaMemset(a.gu, 0, 2 * (size_t)n * 2 * c.hidden_dim));
    forward_by_order(e, c, &b, run_order(cases[k].out), &got);
    std::vector<uint16_t> left = copy_bf16(cases[k].buf, cases[k].elems), gu = copy_bf16(a.gu, 2 * h_elems);
    for (size_t i = 0; i < left.size(); i++)
      if (left[i] != 0x3C3C) fail_msg("without %s: its output changed at %zu", lj_stage_name(cases[k].out), i);
    size_t written = 0;
    for (size_t i = 0; i < gu.size(); i++) written += gu[i] != 0;
    if (written < gu.size() / 2) fail_msg("without %s: gate_up wrote %zu of %zu", lj_stage_name(cases[k].out), written, gu.size());
    if (memcmp(got.data(), ref.data(), sizeof(float) * c.vocab_size) == 0)
      fail_msg("without %s: the logits did not change", lj_stage_name(cases[k].out));
  }
  // Another order runs; repeated, foreign and skipped stages and the calibration copy while
  // off are refused.
  std::vector<lj_stage> rev = run_order(-1);
  std::vector<lj_stage> fwd = rev;
  for (size_t i = 0; i < rev.size(); i++) rev[i] = fwd[fwd.size() - 1 - i];
  forward_by_order(e, c, &b, rev, &got);
  lj_cuda_replay *rp = NULL;
  lj_stage twice[2] = {LJ_STAGE_QKV, LJ_STAGE_QKV}, foreign[2] = {LJ_STAGE_QKV, LJ_STAGE_LM_HEAD},
           cal[1] = {LJ_CUDA_CALIBRATION};
  assert_int_equal(lj_cuda_replay_create_order(e, twice, 2, &b, 2, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_order(e, foreign, 2, &b, 2, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_order(e, cal, 1, &b, 2, &rp), LJ_EINVAL);
  lj_cuda_set_skip_mask(e, 1u << LJ_STAGE_QKV);
  assert_int_equal(lj_cuda_replay_create_order(e, twice, 1, &b, 2, &rp), LJ_EINVAL);
  lj_cuda_set_skip_mask(e, 0);
  assert_null(rp);
  lj_cuda_engine_free(e);
}

static void test_calibration_copy(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 24);
  int n = 24, zero = 0;
  lj_cuda_sampling sp = {0.0f, 1.0f, 0, 0};
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  std::vector<float> ref(c.vocab_size), got(c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, ref.data(), 1), 0);
  int ref_tokens[6], tokens[6];
  assert_int_equal(lj_cuda_generate(e, 1, 6, &sp, ref_tokens), 0);
  double plain = graphed_prefill_seconds(e, ids, n, 20);
  assert_int_equal(lj_cuda_set_calibration(e, 64 << 20), 0);
  for (int k = 0; k < 2; k++) {
    assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
    assert_int_equal(lj_cuda_prefill_graphed(e, 1, ids.data(), &n), 0);
    assert_int_equal(lj_cuda_get_logits(e, got.data(), 1), 0);
    assert_memory_equal(got.data(), ref.data(), sizeof(float) * c.vocab_size);
  }
  assert_int_equal(lj_cuda_generate(e, 1, 6, &sp, tokens), 0);
  assert_memory_equal(tokens, ref_tokens, sizeof tokens);
  // 64 MiB copied per layer: far more than the tiny model's own work
  double copied = graphed_prefill_seconds(e, ids, n, 20);
  if (!(copied > 1.5 * plain)) fail_msg("a 64 MiB copy per layer: %.3g s against %.3g s without", copied, plain);
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, ids.data(), &n, &b), 0);
  lj_stage cal[1] = {LJ_CUDA_CALIBRATION};
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_order(e, cal, 1, &b, 4, &rp), 0);
  assert_int_equal(lj_cuda_replay_launch(rp, 2), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  lj_cuda_replay_free(rp);
  assert_int_equal(lj_cuda_set_calibration(e, 0), 0);
  assert_int_equal(lj_cuda_replay_create_order(e, cal, 1, &b, 4, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_set_calibration(e, -1), LJ_EINVAL);
  lj_cuda_engine_free(e);
}

// Prefill logits and 4 greedy tokens of the prompt from an empty cache.
static void run_prompt(lj_cuda_engine *e, const lj_model_config *c, std::vector<int> &ids, std::vector<float> *logits,
                       int *tokens) {
  int n = (int)ids.size(), zero = 0;
  lj_cuda_sampling sp = {0.0f, 1.0f, 0, 0};
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  logits->resize(c->vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, logits->data(), 1), 0);
  assert_int_equal(lj_cuda_generate(e, 1, 4, &sp, tokens), 0);
}

static void test_skip_layer(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 24);
  std::vector<float> full, skipped;
  int full_tokens[4], skipped_tokens[4];
  // with its weights, the middle layer matters
  int mid = c.n_layers / 2;
  run_prompt(e, &c, ids, &full, full_tokens);
  assert_int_equal(lj_cuda_set_skip_layer(e, mid), 0);
  run_prompt(e, &c, ids, &skipped, skipped_tokens);
  assert_true(memcmp(full.data(), skipped.data(), sizeof(float) * c.vocab_size) != 0);
  assert_int_equal(lj_cuda_set_skip_layer(e, -1), 0);
  int layers[3] = {0, mid, c.n_layers - 1};
  for (int i = 0; i < 3; i++) {
    int L = layers[i];
    // zero output projections: layer L's deltas are exactly 0
    GPU_OK(cudaMemset(e->layers[L].wo.w, 0, sizeof(bf16) * (size_t)e->q_dim * c.dim));
    GPU_OK(cudaMemset(e->layers[L].wdown.w, 0, sizeof(bf16) * (size_t)c.hidden_dim * c.dim));
    run_prompt(e, &c, ids, &full, full_tokens);
    assert_int_equal(lj_cuda_set_skip_layer(e, L), 0);
    run_prompt(e, &c, ids, &skipped, skipped_tokens);
    assert_int_equal(lj_cuda_set_skip_layer(e, -1), 0);
    if (memcmp(full.data(), skipped.data(), sizeof(float) * c.vocab_size) != 0)
      fail_msg("layer %d skipped: the logits differ from the run whose layer %d adds nothing", L, L);
    assert_memory_equal(skipped_tokens, full_tokens, sizeof full_tokens);
  }
  assert_int_equal(lj_cuda_set_skip_layer(e, c.n_layers), LJ_EINVAL);
  assert_int_equal(lj_cuda_set_skip_layer(e, -2), LJ_EINVAL);
  lj_cuda_engine_free(e);
}

// Ablation with held outputs: a full run records each layer's attention output and down's delta;
// with attention (or the MLP) skipped, the stages after it read the records, so the prefill's
// logits are the full run's bit for bit (the ablated run differs only by the skipped kernels).
// Without the records they differ (the stale buffer), which is why the profile's ablations hold.
static void test_held_outputs(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = make_engine(&c, 64);
  std::vector<int> ids;
  prompt(&ids, 24);
  std::vector<float> full, ablated;
  int full_tokens[4], ablated_tokens[4];
  const uint32_t masks[2] = {1u << LJ_STAGE_ATTN,
                             (1u << LJ_STAGE_GATE_UP) | (1u << LJ_STAGE_SWIGLU) | (1u << LJ_STAGE_DOWN)};
  assert_int_equal(lj_cuda_set_hold_record(e, 1), LJ_EINVAL);  // nothing allocated
  assert_int_equal(lj_cuda_hold_outputs(e, 1 << 30), LJ_EINVAL);
  for (int m = 0; m < 2; m++) {
    lj_cuda_set_skip_mask(e, 0);
    run_prompt(e, &c, ids, &full, full_tokens);
    // stale buffers: the ablated logits differ from the full run's
    lj_cuda_set_skip_mask(e, masks[m]);
    run_prompt(e, &c, ids, &ablated, ablated_tokens);
    assert_true(memcmp(full.data(), ablated.data(), sizeof(float) * c.vocab_size) != 0);
    // held: record on a full prefill, then the ablated prefill is the full one
    lj_cuda_set_skip_mask(e, 0);
    assert_int_equal(lj_cuda_hold_outputs(e, (int)ids.size()), 0);
    assert_int_equal(lj_cuda_set_hold_record(e, 1), 0);
    int n = (int)ids.size(), zero = 0;  // a prefill only: a decode step would record its own row 0
    assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
    assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
    assert_int_equal(lj_cuda_set_hold_record(e, 0), 0);
    lj_cuda_set_skip_mask(e, masks[m]);
    assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
    assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
    assert_int_equal(lj_cuda_get_logits(e, ablated.data(), 1), 0);
    if (memcmp(full.data(), ablated.data(), sizeof(float) * c.vocab_size) != 0)
      fail_msg("mask 0x%x with held outputs: the prefill logits differ from the full run's", masks[m]);
    // records of fewer rows than the call: refused, not read past their end
    assert_int_equal(lj_cuda_hold_outputs(e, 4), 0);
    assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
    assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), LJ_EINVAL);
    assert_int_equal(lj_cuda_hold_outputs(e, 0), 0);
  }
  lj_cuda_set_skip_mask(e, 0);
  lj_cuda_engine_free(e);
}

static void test_layer_replay(void **state) {
  (void)state;
  lj_model_config c;
  std::vector<int> ids;
  lj_cuda_batch b;
  int n = 12;
  lj_cuda_engine *e = engine_at_prefill(&c, &ids, n, &b);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  size_t xn = (size_t)n * c.dim;
  int L = c.n_layers / 2;
  enum { STAGES = LJ_LAYER_STAGES };
  lj_stage run[STAGES];
  for (int k = 0; k < STAGES; k++) run[k] = lj_layer_order_stage(0, k);
  // the reference: embed, then layer L once, stage by stage
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_EMBED, -1, &b, &a), 0);
  std::vector<uint16_t> x0 = copy_bf16(a.x, xn), d0 = copy_bf16(a.delta, xn);
  for (int k = 0; k < STAGES; k++) assert_int_equal(lj_cuda_run_stage(e, run[k], L, &b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  std::vector<uint16_t> ref = copy_bf16(a.delta, xn);
  // the replay of one call of layer L alone from the same state
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_layer(e, run, STAGES, L, &b, 1, &rp), 0);
  GPU_OK(cudaMemcpy(a.x, x0.data(), 2 * xn, cudaMemcpyHostToDevice));
  GPU_OK(cudaMemcpy(a.delta, d0.data(), 2 * xn, cudaMemcpyHostToDevice));
  assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  std::vector<uint16_t> got = copy_bf16(a.delta, xn);
  assert_memory_equal(got.data(), ref.data(), 2 * xn);
  lj_cuda_replay_free(rp);
  assert_int_equal(lj_cuda_replay_create_layer(e, run, STAGES, c.n_layers, &b, 1, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_layer(e, run, STAGES, -1, &b, 1, &rp), LJ_EINVAL);
  assert_null(rp);
  lj_cuda_engine_free(e);
}

// Each layer's own input (layer_inputs.cu): captured in a stage-by-stage forward call of the
// prefill's state, then layer L replayed alone on slot L must leave exactly slot L + 1 in x and
// delta, bit for bit, for every layer, after one call and after three (every call restores its
// input); the last slot through the final norm and LM head gives the prefill's logits bit for bit.
// A stage of one layer (lj_cuda_replay_create_layer_stage) leaves what that stage leaves when the
// layer runs stage by stage from its input, whichever weight copy it ran on. Decode too.
static void check_layer_inputs(lj_cuda_engine *e, const lj_model_config &c, const lj_cuda_batch &b, int n) {
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  size_t xn = (size_t)n * c.dim;
  lj_cuda_layer_inputs *in = NULL;
  assert_int_equal(lj_cuda_layer_inputs_capture(e, &b, 1, &in), LJ_EINVAL);  // over a 1-byte limit
  assert_null(in);
  assert_int_equal(lj_cuda_layer_inputs_capture(e, &b, 0, &in), 0);
  assert_int_equal(lj_cuda_layer_inputs_tokens(in), n);
  assert_true(lj_cuda_layer_inputs_bytes(&c, n) == 2 * (int64_t)(c.n_layers + 1) * n * c.dim * 2);
  enum { STAGES = LJ_LAYER_STAGES };
  lj_stage run[STAGES];
  for (int k = 0; k < STAGES; k++) run[k] = lj_layer_order_stage(0, k);
  std::vector<uint16_t> wx(xn), wd(xn);
  for (int L = 0; L < c.n_layers; L++) {
    assert_int_equal(lj_cuda_layer_inputs_read(in, L + 1, wx.data(), wd.data()), 0);
    for (int calls = 1; calls <= 3; calls += 2) {
      lj_cuda_replay *rp = NULL;
      assert_int_equal(lj_cuda_replay_create_layer_input(e, run, STAGES, L, in, &b, calls, &rp), 0);
      GPU_OK(cudaMemset(a.x, 0, 2 * xn));  // nothing of the last state left: the replay restores it
      assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);
      assert_int_equal(lj_cuda_synchronize(e), 0);
      assert_memory_equal(copy_bf16(a.x, xn).data(), wx.data(), 2 * xn);
      assert_memory_equal(copy_bf16(a.delta, xn).data(), wd.data(), 2 * xn);
      lj_cuda_replay_free(rp);
    }
  }
  // slot n_layers through the final norm and the LM head: the phase's logits
  std::vector<float> want((size_t)c.vocab_size), got((size_t)c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, want.data(), 1), 0);
  assert_int_equal(lj_cuda_layer_inputs_restore(e, in, c.n_layers), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_FINAL_NORM, -1, &b, &a), 0);
  assert_int_equal(lj_cuda_run_stage(e, LJ_STAGE_LM_HEAD, -1, &b, &a), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  assert_int_equal(lj_cuda_get_logits(e, got.data(), 1), 0);
  assert_memory_equal(got.data(), want.data(), sizeof(float) * want.size());
  // one stage of the middle layer on its own input: qkv and down against the layer stage by stage
  int L = c.n_layers / 2;
  size_t qkv = (size_t)n * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
  assert_int_equal(lj_cuda_layer_inputs_restore(e, in, L), 0);
  for (int k = 0; k < 2; k++) assert_int_equal(lj_cuda_run_stage(e, run[k], L, &b, &a), 0);
  std::vector<uint16_t> ref_qkv = copy_bf16(a.qkv, qkv);
  for (int k = 2; k < STAGES; k++) assert_int_equal(lj_cuda_run_stage(e, run[k], L, &b, &a), 0);
  std::vector<uint16_t> ref_down = copy_bf16(a.delta, xn);
  lj_stage check[2] = {LJ_STAGE_QKV, LJ_STAGE_DOWN};
  for (int i = 0; i < 2; i++) {
    lj_cuda_replay *rp = NULL;
    assert_int_equal(lj_cuda_replay_create_layer_stage(e, check[i], L, in, &b, 5, &rp), 0);
    // the tiny model's matrices are far below the L2: one copy per layer, at most
    assert_int_equal(lj_cuda_replay_weight_copies(rp), c.n_layers);
    GPU_OK(cudaMemset(i ? a.delta : a.qkv, 0, i ? 2 * xn : 2 * qkv));
    assert_int_equal(lj_cuda_replay_launch(rp, 2), 0);
    assert_int_equal(lj_cuda_synchronize(e), 0);
    if (i) assert_memory_equal(copy_bf16(a.delta, xn).data(), ref_down.data(), 2 * xn);
    else assert_memory_equal(copy_bf16(a.qkv, qkv).data(), ref_qkv.data(), 2 * qkv);
    lj_cuda_replay_free(rp);
  }
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_layer_stage(e, LJ_STAGE_LM_HEAD, L, in, &b, 1, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_layer_stage(e, LJ_STAGE_QKV, c.n_layers, in, &b, 1, &rp), LJ_EINVAL);
  assert_null(rp);
  lj_cuda_layer_inputs_free(in);
}

// The head's change in the last layer's skip check (lj_cuda_replay_create_head_input): the final norm
// and LM head replayed on slot n_layers give the prefill's logits bit for bit, and on slot n_layers - 1
// the logits of the prefill with the last layer skipped (its skip leaves the final norm that pair),
// after one call and after three (each call restores the slot); slots outside are refused.
static void check_head_replay(lj_cuda_engine *e, const lj_model_config &c, std::vector<int> &ids) {
  int n = (int)ids.size(), zero = 0;
  std::vector<float> full((size_t)c.vocab_size), skipped((size_t)c.vocab_size), got((size_t)c.vocab_size);
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  assert_int_equal(lj_cuda_get_logits(e, full.data(), 1), 0);
  assert_int_equal(lj_cuda_set_skip_layer(e, c.n_layers - 1), 0);
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  assert_int_equal(lj_cuda_prefill(e, 1, ids.data(), &n), 0);
  assert_int_equal(lj_cuda_get_logits(e, skipped.data(), 1), 0);
  assert_int_equal(lj_cuda_set_skip_layer(e, -1), 0);
  assert_true(memcmp(full.data(), skipped.data(), sizeof(float) * full.size()) != 0);
  assert_int_equal(lj_cuda_rewind(e, 1, &zero), 0);
  lj_cuda_batch b;
  assert_int_equal(lj_cuda_prepare_batch(e, 1, ids.data(), &n, &b), 0);
  lj_cuda_layer_inputs *in = NULL;
  assert_int_equal(lj_cuda_layer_inputs_capture(e, &b, 0, &in), 0);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  for (int slot = c.n_layers - 1; slot <= c.n_layers; slot++)
    for (int calls = 1; calls <= 3; calls += 2) {
      lj_cuda_replay *rp = NULL;
      assert_int_equal(lj_cuda_replay_create_head_input(e, slot, in, &b, calls, &rp), 0);
      GPU_OK(cudaMemset(a.logits, 0, sizeof(float) * c.vocab_size));
      assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);
      assert_int_equal(lj_cuda_synchronize(e), 0);
      assert_int_equal(lj_cuda_get_logits(e, got.data(), 1), 0);
      if (memcmp(got.data(), (slot == c.n_layers ? full : skipped).data(), sizeof(float) * got.size()) != 0)
        fail_msg("the head on slot %d (%d calls): the logits differ from the %s run", slot, calls,
                 slot == c.n_layers ? "full" : "last-layer-skipped");
      lj_cuda_replay_free(rp);
    }
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_head_input(e, c.n_layers + 1, in, &b, 1, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_head_input(e, -1, in, &b, 1, &rp), LJ_EINVAL);
  assert_int_equal(lj_cuda_replay_create_head_input(e, 0, NULL, &b, 1, &rp), LJ_EINVAL);
  assert_null(rp);
  lj_cuda_layer_inputs_free(in);
}

static void test_layer_inputs(void **state) {
  (void)state;
  lj_model_config c;
  std::vector<int> ids;
  lj_cuda_batch b;
  int n = 12, one = 1;
  lj_cuda_engine *e = engine_at_prefill(&c, &ids, n, &b);
  check_layer_inputs(e, c, b, n);
  // decode: the step after the prompt, its logits from lj_cuda_decode first
  assert_int_equal(lj_cuda_rewind(e, 1, &n), 0);
  int tok = 42;
  assert_int_equal(lj_cuda_decode(e, 1, &tok), 0);
  assert_int_equal(lj_cuda_rewind(e, 1, &n), 0);
  assert_int_equal(lj_cuda_prepare_batch(e, 1, &tok, &one, &b), 0);
  check_layer_inputs(e, c, b, 1);
  // refused while a layer is skipped
  lj_cuda_layer_inputs *in = NULL;
  assert_int_equal(lj_cuda_set_skip_layer(e, 1), 0);
  assert_int_equal(lj_cuda_layer_inputs_capture(e, &b, 0, &in), LJ_EINVAL);
  assert_null(in);
  assert_int_equal(lj_cuda_set_skip_layer(e, -1), 0);
  check_head_replay(e, c, ids);
  lj_cuda_engine_free(e);
}

// What stage st of layer l read in the run (its k-th recorded input), from the records.
static std::vector<uint16_t> record_of(lj_cuda_engine *e, const lj_cuda_batch *b, lj_stage st, int l, int k,
                                       size_t elems) {
  lj_cuda_acts a;
  assert_int_equal(lj_cuda_stage_inputs_acts(e, st, l, b, &a), 1);
  const void *p = NULL;
  switch (st) {
    case LJ_STAGE_ATTN_NORM: case LJ_STAGE_FFN_NORM: case LJ_STAGE_FINAL_NORM: p = k ? a.delta : a.x_in; break;
    case LJ_STAGE_QKV: case LJ_STAGE_GATE_UP: p = a.xn; break;
    case LJ_STAGE_ROPE: p = a.qkv_in; break;
    case LJ_STAGE_ATTN: p = a.qkv; break;
    case LJ_STAGE_O_PROJ: p = a.attn; break;
    case LJ_STAGE_SWIGLU: p = a.gu; break;
    case LJ_STAGE_DOWN: p = a.h; break;
    default: fail_msg("stage %s has no record", lj_stage_name(st));
  }
  return copy_bf16(p, elems);
}

// Replays on recorded stage inputs: the records are what one forward call read (the layers'
// inputs equal lj_cuda_layer_inputs' slots bit for bit), and a replay of the whole layer or of the
// layer without a stage, launched again and again, computes the run's bytes every time and leaves
// the records as they were; on the live buffers the same replay drifts (the norms add delta to x
// at every call).
static void test_stage_inputs(void **state) {
  (void)state;
  lj_model_config c;
  std::vector<int> ids;
  lj_cuda_batch b;
  int n = 12;
  lj_cuda_engine *e = engine_at_prefill(&c, &ids, n, &b);
  lj_cuda_layer_inputs *li = NULL;
  assert_int_equal(lj_cuda_layer_inputs_capture(e, &b, 0, &li), 0);
  lj_cuda_stage_inputs *in = NULL;
  assert_int_equal(lj_cuda_stage_inputs_capture(e, &b, 0, &in), 0);
  assert_int_equal(lj_cuda_stage_inputs_tokens(in), n);
  lj_cuda_set_stage_inputs(e, in);
  size_t d = (size_t)n * c.dim;
  std::vector<uint16_t> x(d), delta(d);
  for (int l = 0; l <= c.n_layers; l++) {
    assert_int_equal(lj_cuda_layer_inputs_read(li, l, x.data(), delta.data()), 0);
    lj_stage st = l < c.n_layers ? LJ_STAGE_ATTN_NORM : LJ_STAGE_FINAL_NORM;
    int ll = l < c.n_layers ? l : -1;
    if (record_of(e, &b, st, ll, 0, d) != x) fail_msg("layer %d: the recorded x is not the layer's input", l);
    if (l > 0 && record_of(e, &b, st, ll, 1, d) != delta) fail_msg("layer %d: the recorded delta differs", l);
  }
  // The last layer's outputs are the records of what reads them next.
  const int last = c.n_layers - 1;
  size_t hd = (size_t)n * c.hidden_dim;
  std::vector<uint16_t> want_xn = record_of(e, &b, LJ_STAGE_GATE_UP, last, 0, d),
                        want_h = record_of(e, &b, LJ_STAGE_DOWN, last, 0, hd),
                        want_delta = record_of(e, &b, LJ_STAGE_FINAL_NORM, -1, 1, d),
                        want_x = record_of(e, &b, LJ_STAGE_FINAL_NORM, -1, 0, d),
                        qkv_rec = record_of(e, &b, LJ_STAGE_QKV, last, 0, d);
  lj_cuda_acts out;  // the scratch buffers: ROPE's acts point only qkv_in at a record
  assert_int_equal(lj_cuda_stage_inputs_acts(e, LJ_STAGE_ROPE, last, &b, &out), 1);
  std::vector<uint16_t> records = copy_bf16(out.qkv_in, (size_t)n * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim);
  for (int without = -1; without < 2; without++) {  // the whole layer, without attn_norm, without rope
    lj_stage drop = without < 0 ? LJ_STAGE_NONE : without == 0 ? LJ_STAGE_ATTN_NORM : LJ_STAGE_ROPE;
    std::vector<lj_stage> order = run_order(drop);
    lj_cuda_replay *rp = NULL;
    assert_int_equal(lj_cuda_replay_create_order(e, order.data(), (int)order.size(), &b, 3 * c.n_layers, &rp), 0);
    assert_int_equal(lj_cuda_replay_launch(rp, 4), 0);
    assert_int_equal(lj_cuda_synchronize(e), 0);
    lj_cuda_replay_free(rp);
    if (copy_bf16(out.x, d) != want_x) fail_msg("without %s: ffn_norm's x is not the run's", lj_stage_name(drop));
    if (copy_bf16(out.h, hd) != want_h) fail_msg("without %s: swiglu's h is not the run's", lj_stage_name(drop));
    if (copy_bf16(out.delta, d) != want_delta) fail_msg("without %s: down's delta is not the run's", lj_stage_name(drop));
    if (copy_bf16(out.xn, d) != want_xn) fail_msg("without %s: ffn_norm's xn is not the run's", lj_stage_name(drop));
    if (record_of(e, &b, LJ_STAGE_QKV, last, 0, d) != qkv_rec) fail_msg("a replay wrote into a record");
    if (copy_bf16(out.qkv_in, records.size()) != records) fail_msg("a replay wrote into ROPE's record");
  }
  // The same replay on the live buffers: x grows by delta at every call, so one launch more changes it.
  lj_cuda_set_stage_inputs(e, NULL);
  lj_cuda_acts a = lj_cuda_engine_acts(e);
  std::vector<lj_stage> order = run_order(-1);
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_order(e, order.data(), (int)order.size(), &b, 3 * c.n_layers, &rp), 0);
  assert_int_equal(lj_cuda_replay_launch(rp, 4), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  std::vector<uint16_t> live = copy_bf16(a.x, d);
  assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);
  assert_int_equal(lj_cuda_synchronize(e), 0);
  lj_cuda_replay_free(rp);
  if (copy_bf16(a.x, d) == live) fail_msg("the live replay did not drift: this test cannot tell records from live");
  // Refused while a layer is skipped, in a fused mode and over max_bytes.
  lj_cuda_stage_inputs *no = NULL;
  assert_int_equal(lj_cuda_set_skip_layer(e, 1), 0);
  assert_int_equal(lj_cuda_stage_inputs_capture(e, &b, 0, &no), LJ_EUNSUPPORTED);
  assert_int_equal(lj_cuda_set_skip_layer(e, -1), 0);
  assert_int_equal(lj_cuda_set_fusion(e, LJ_FUSION_PRODUCTION), 0);
  assert_int_equal(lj_cuda_stage_inputs_capture(e, &b, 0, &no), LJ_EUNSUPPORTED);
  assert_int_equal(lj_cuda_set_fusion(e, LJ_FUSION_NONE), 0);
  assert_int_equal(lj_cuda_stage_inputs_capture(e, &b, 1, &no), LJ_ENOMEM);  // over max_bytes
  assert_null(no);
  lj_cuda_stage_inputs_free(in);
  lj_cuda_layer_inputs_free(li);
  lj_cuda_engine_free(e);
}

// The spacer (spacer.cu): refused while off or out of range, listed at most once; in an order it
// keeps the GPU idle for its time in every call (a replay of calls x (attn_norm + a 50 us spacer)
// takes >= calls x 50 us).
static void test_spacer(void **state) {
  (void)state;
  lj_model_config c;
  std::vector<int> ids;
  lj_cuda_batch b;
  lj_cuda_engine *e = engine_at_prefill(&c, &ids, 12, &b);
  const lj_stage with[2] = {LJ_STAGE_ATTN_NORM, LJ_CUDA_SPACER}, twice[3] = {LJ_CUDA_SPACER, LJ_STAGE_QKV, LJ_CUDA_SPACER};
  lj_cuda_replay *rp = NULL;
  assert_int_equal(lj_cuda_replay_create_order(e, with, 2, &b, 4, &rp), LJ_EINVAL);  // off
  assert_int_equal(lj_cuda_set_spacer(e, -1), LJ_EINVAL);
  assert_int_equal(lj_cuda_set_spacer(e, 2000000000LL), LJ_EINVAL);
  assert_int_equal(lj_cuda_set_spacer(e, 50000), 0);
  assert_int_equal(lj_cuda_replay_create_order(e, twice, 3, &b, 4, &rp), LJ_EINVAL);
  const int calls = 4 * c.n_layers;
  assert_int_equal(lj_cuda_replay_create_order(e, with, 2, &b, calls, &rp), 0);
  cudaStream_t st = (cudaStream_t)lj_cuda_engine_stream(e);
  cudaEvent_t t0, t1;
  GPU_OK(cudaEventCreate(&t0));
  GPU_OK(cudaEventCreate(&t1));
  assert_int_equal(lj_cuda_replay_launch(rp, 1), 0);  // the graph's first launch uploads it: not timed
  assert_int_equal(lj_cuda_synchronize(e), 0);
  GPU_OK(cudaEventRecord(t0, st));
  assert_int_equal(lj_cuda_replay_launch(rp, 2), 0);
  GPU_OK(cudaEventRecord(t1, st));
  assert_int_equal(lj_cuda_synchronize(e), 0);
  float ms = 0;
  GPU_OK(cudaEventElapsedTime(&ms, t0, t1));
  // at least the spacers' time; at most twice it (attn_norm on 12 tokens and a launch: a few us a call)
  if (ms < 2 * calls * 0.050f || ms > 2 * calls * 0.100f)
    fail_msg("%d calls with a 50 us spacer took %.3f ms, expected %.3f to %.3f", 2 * calls, ms, 2 * calls * 0.05,
             2 * calls * 0.1);
  lj_cuda_replay_free(rp);
  GPU_OK(cudaEventDestroy(t0));
  GPU_OK(cudaEventDestroy(t1));
  assert_int_equal(lj_cuda_set_spacer(e, 0), 0);
  assert_int_equal(lj_cuda_replay_create_order(e, with, 2, &b, 4, &rp), LJ_EINVAL);  // off again
  lj_cuda_engine_free(e);
}

int main(void) {
  gpu_test_require_device();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replay_matches_one_call),
      cmocka_unit_test(test_sequence_replay_is_the_forward),
      cmocka_unit_test(test_marks),
      cmocka_unit_test(test_attention_groups),
      cmocka_unit_test(test_sample_stage),
      cmocka_unit_test(test_prefill_graphed),
      cmocka_unit_test(test_order_replay),
      cmocka_unit_test(test_calibration_copy),
      cmocka_unit_test(test_skip_layer),
      cmocka_unit_test(test_held_outputs),
      cmocka_unit_test(test_layer_replay),
      cmocka_unit_test(test_layer_inputs),
      cmocka_unit_test(test_stage_inputs),
      cmocka_unit_test(test_spacer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
