// The CUDA engine end to end on the tiny test models (random weights generated
// on the device), against a float64 host forward pass written from the Llama
// definition (HF LlamaForCausalLM): same weights (model/random_init.h rounded to
// bf16), no bf16 rounding of activations on the host side.
//   - prefill of a batch of prompts of different lengths: last-token logits,
//     rel err <= 2e-2 (bf16 activations through 2-3 layers);
//   - decode steps after the prefill (KV cache, positions), same tolerance;
//   - graph generation (greedy) equals eager decode + host argmax of the engine's logits;
//   - the fused mode (composite stages in decode) gives the unfused mode's greedy tokens,
//     its logits within the same tolerance of the reference, and runs the composites;
//   - a batch that does not fit is refused naming the largest batch that fits;
//   - every prefill attention variant gives the wmma variant's prefill logits (1B and 3B heads);
//   - every decode attention variant passes run_model's checks on the tiny models and gives the
//     split variant's greedy tokens and decode logits (tiny, 1B and 3B heads); one_rope's graphed
//     decode step runs rope+attn in place of rope and attn.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka has no C++ guards
#include <cmocka.h>
}

#include <vector>

extern "C" {
#include "common/error.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/gemv_defaults.h"
#include "engine/cuda/rope.h"
#include "gpu_test_util.h"
extern "C" {
#include "model/config.h"
#include "model/dtype.h"
#include "model/weights.h"
}

#define TOL_LOGITS 2e-2
static const uint64_t SEED = 1234;

// ---------------------------------------------------------------- host reference
struct ref_model {
  lj_model_config c;
  std::vector<std::vector<double>> attn_norm, wq, wk, wv, wo, ffn_norm, wg, wu, wd;
  std::vector<double> embed, final_norm, lm_head;
  std::vector<float> inv_freq;
};

static std::vector<double> host_weights(uint32_t id, size_t n, int norm) {
  std::vector<double> w(n);
  for (size_t i = 0; i < n; i++)
    w[i] = bf16_round(norm ? lj_random_norm_weight(SEED, id, i) : lj_random_matrix_weight(SEED, id, i));
  return w;
}

static void ref_build(ref_model *m, const char *preset) {
  assert_int_equal(lj_config_preset(preset, &m->c), 0);
  const lj_model_config &c = m->c;
  size_t d = c.dim, h = c.hidden_dim, q = lj_q_dim(&c), kv = lj_kv_dim(&c);
  for (int l = 0; l < c.n_layers; l++) {
    m->attn_norm.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_ATTN_NORM), d, 1));
    m->wq.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_WQ), q * d, 0));
    m->wk.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_WK), kv * d, 0));
    m->wv.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_WV), kv * d, 0));
    m->wo.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_WO), d * q, 0));
    m->ffn_norm.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_FFN_NORM), d, 1));
    m->wg.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_W_GATE), h * d, 0));
    m->wu.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_W_UP), h * d, 0));
    m->wd.push_back(host_weights(lj_layer_tensor_id(l, LJ_TENSOR_W_DOWN), d * h, 0));
  }
  m->embed = host_weights(lj_global_tensor_id(LJ_TENSOR_EMBED), (size_t)c.vocab_size * d, 0);
  m->final_norm = host_weights(lj_global_tensor_id(LJ_TENSOR_FINAL_NORM), d, 1);
  if (!c.tie_embeddings) m->lm_head = host_weights(lj_global_tensor_id(LJ_TENSOR_LM_HEAD), (size_t)c.vocab_size * d, 0);
  m->inv_freq.resize(c.head_dim / 2);
  lj_rope_inv_freq(&c, m->inv_freq.data());
}

static void matvec(double *y, const double *W, const double *x, int out, int in) {
  for (int o = 0; o < out; o++) {
    double a = 0;
    for (int k = 0; k < in; k++) a += W[(size_t)o * in + k] * x[k];
    y[o] = a;
  }
}

static void rmsnorm(double *y, const double *x, const double *w, int d, double eps) {
  double ss = 0;
  for (int i = 0; i < d; i++) ss += x[i] * x[i];
  double r = 1.0 / sqrt(ss / d + eps);
  for (int i = 0; i < d; i++) y[i] = x[i] * r * w[i];
}

// Logits of the last token of `toks` (full recompute, causal attention over all of them).
static std::vector<double> ref_logits(const ref_model *m, const std::vector<int> &toks) {
  const lj_model_config &c = m->c;
  int n = (int)toks.size(), d = c.dim, hd = c.head_dim, q = lj_q_dim(&c), kv = lj_kv_dim(&c), H = c.hidden_dim;
  int G = c.n_heads / c.n_kv_heads, half = hd / 2;
  std::vector<double> x((size_t)n * d), xn(d), Q((size_t)n * q), K((size_t)n * kv), V((size_t)n * kv);
  for (int t = 0; t < n; t++)
    for (int i = 0; i < d; i++) x[(size_t)t * d + i] = m->embed[(size_t)toks[t] * d + i];
  auto rope = [&](double *v, int pos) {
    for (int i = 0; i < half; i++) {
      double a = (double)pos * m->inv_freq[i], x1 = v[i], x2 = v[i + half];
      v[i] = x1 * cos(a) - x2 * sin(a);
      v[i + half] = x2 * cos(a) + x1 * sin(a);
    }
  };
  std::vector<double> att(q), o(d), g(H), u(H), dn(d), s(n);
  for (int l = 0; l < c.n_layers; l++) {
    for (int t = 0; t < n; t++) {
      rmsnorm(xn.data(), &x[(size_t)t * d], m->attn_norm[l].data(), d, c.norm_eps);
      matvec(&Q[(size_t)t * q], m->wq[l].data(), xn.data(), q, d);
      matvec(&K[(size_t)t * kv], m->wk[l].data(), xn.data(), kv, d);
      matvec(&V[(size_t)t * kv], m->wv[l].data(), xn.data(), kv, d);
      for (int h = 0; h < c.n_heads; h++) rope(&Q[(size_t)t * q + h * hd], t);
      for (int h = 0; h < c.n_kv_heads; h++) rope(&K[(size_t)t * kv + h * hd], t);
    }
    for (int t = 0; t < n; t++) {
      for (int h = 0; h < c.n_heads; h++) {
        int kh = h / G;
        double mx = -INFINITY, z = 0;
        for (int j = 0; j <= t; j++) {
          double a = 0;
          for (int i = 0; i < hd; i++) a += Q[(size_t)t * q + h * hd + i] * K[(size_t)j * kv + kh * hd + i];
          s[j] = a / sqrt((double)hd);
          mx = fmax(mx, s[j]);
        }
        for (int j = 0; j <= t; j++) z += (s[j] = exp(s[j] - mx));
        for (int i = 0; i < hd; i++) {
          double a = 0;
          for (int j = 0; j <= t; j++) a += s[j] / z * V[(size_t)j * kv + kh * hd + i];
          att[h * hd + i] = a;
        }
      }
      matvec(o.data(), m->wo[l].data(), att.data(), d, q);
      for (int i = 0; i < d; i++) x[(size_t)t * d + i] += o[i];
      rmsnorm(xn.data(), &x[(size_t)t * d], m->ffn_norm[l].data(), d, c.norm_eps);
      matvec(g.data(), m->wg[l].data(), xn.data(), H, d);
      matvec(u.data(), m->wu[l].data(), xn.data(), H, d);
      for (int i = 0; i < H; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
      matvec(dn.data(), m->wd[l].data(), g.data(), d, H);
      for (int i = 0; i < d; i++) x[(size_t)t * d + i] += dn[i];
    }
  }
  rmsnorm(xn.data(), &x[(size_t)(n - 1) * d], m->final_norm.data(), d, c.norm_eps);
  std::vector<double> logits(c.vocab_size);
  matvec(logits.data(), c.tie_embeddings ? m->embed.data() : m->lm_head.data(), xn.data(), c.vocab_size, d);
  return logits;
}

static std::vector<int> random_tokens(int n, uint64_t seed) {
  std::vector<int> t(n);
  for (int i = 0; i < n; i++) t[i] = (int)(lj_splitmix64(seed + i) % 128256);
  return t;
}

static void check_logits(const float *got, const std::vector<double> &ref, const char *what, int s) {
  double e = rel_err(got, ref.data(), ref.size());
  printf("  %s, sequence %d: logits rel err %.3g\n", what, s, e);
  if (e > TOL_LOGITS) fail_msg("%s, sequence %d: logits rel err %.3g > %.0e", what, s, e, TOL_LOGITS);
}

// ---------------------------------------------------------------- tests
// gen_out: the graph's greedy tokens (steps x 3); logits_out: every eager step's logits
// (steps x 3 x vocab), both may be NULL.
static void run_model(const char *preset, int use_gemv, int fusion = LJ_FUSION_NONE,
                      std::vector<int> *gen_out = NULL, std::vector<float> *logits_out = NULL,
                      int attn_decode = LJ_ATTN_DECODE_DEFAULT) {
  ref_model m;
  ref_build(&m, preset);
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 3, opt.max_ctx = 160, opt.max_tokens = 256, opt.use_gemv = use_gemv, opt.print_plan = 0;
  lj_cuda_engine *e = NULL;
  int rc = lj_cuda_engine_create_random(&e, &m.c, SEED, &opt);
  if (rc < 0) fail_msg("create: %s", lj_error_message());
  assert_int_equal(lj_cuda_set_fusion(e, fusion), 0);
  assert_int_equal(lj_cuda_fusion(e), fusion);
  assert_int_equal(lj_cuda_set_attn_decode(e, attn_decode), 0);
  assert_int_equal(lj_cuda_attn_decode(e), attn_decode);
  int V = m.c.vocab_size;

  // Prefill three prompts of different lengths (one longer than a 64-row tile).
  int lens[3] = {5, 70, 1};
  std::vector<std::vector<int>> prompts;
  std::vector<int> packed;
  for (int s = 0; s < 3; s++) {
    prompts.push_back(random_tokens(lens[s], 100 * s + 7));
    packed.insert(packed.end(), prompts[s].begin(), prompts[s].end());
  }
  assert_int_equal(lj_cuda_prefill(e, 3, packed.data(), lens), 0);
  std::vector<float> logits((size_t)3 * V);
  assert_int_equal(lj_cuda_get_logits(e, logits.data(), 3), 0);
  for (int s = 0; s < 3; s++) check_logits(&logits[(size_t)s * V], ref_logits(&m, prompts[s]), "prefill", s);

  // Greedy generation through the decode graph.
  lj_cuda_sampling greedy = {0.0f, 1.0f, 1, 0};
  int steps = 8;
  std::vector<int> gen((size_t)steps * 3);
  assert_int_equal(lj_cuda_generate(e, 3, steps, &greedy, gen.data()), 0);
  for (int s = 0; s < 3; s++) assert_int_equal(lj_cuda_seq_len(e, s), lens[s] + steps - 1);

  // The same from the same prefill, eagerly (same kernels, so the same tokens), with
  // host argmax; the first decode steps' logits also against the host reference.
  lj_cuda_reset(e);
  assert_int_equal(lj_cuda_prefill(e, 3, packed.data(), lens), 0);
  for (int st = 0; st < steps; st++) {
    assert_int_equal(lj_cuda_get_logits(e, logits.data(), 3), 0);
    if (logits_out) logits_out->insert(logits_out->end(), logits.begin(), logits.end());
    if (st > 0 && st <= 2)
      for (int s = 0; s < 3; s++) check_logits(&logits[(size_t)s * V], ref_logits(&m, prompts[s]), "decode", s);
    std::vector<int> tok(3);
    for (int s = 0; s < 3; s++) {
      int best = 0;
      for (int i = 1; i < V; i++)
        if (logits[(size_t)s * V + i] > logits[(size_t)s * V + best]) best = i;
      tok[s] = best;
      if (gen[(size_t)st * 3 + s] != best)
        fail_msg("step %d sequence %d: graph generated %d, eager argmax %d", st, s, gen[(size_t)st * 3 + s], best);
      prompts[s].push_back(best);
    }
    if (st + 1 < steps) assert_int_equal(lj_cuda_decode(e, 3, tok.data()), 0);
  }
  if (gen_out) *gen_out = gen;
  lj_cuda_engine_free(e);
}

static void test_tiny(void **state) {
  (void)state;
  run_model("tiny", 1);
}
static void test_tiny_untied(void **state) {
  (void)state;
  run_model("tiny-untied", 1);
}
static void test_tiny_cublaslt_only(void **state) {
  (void)state;
  run_model("tiny", 0);
}

// The stages of one graphed decode step (step 2 of 4 after a 6-token prompt) on a fresh engine
// of `preset` in a fusion mode and with a decode attention variant: count[stage] marks. Marks are
// off again on return; the caller frees the engine.
static lj_cuda_engine *graphed_step_marks(const char *preset, int fusion, int attn_decode,
                                          int count[LJ_STAGE_ALL_COUNT], std::vector<int> *prompt_out) {
  lj_model_config c;
  assert_int_equal(lj_config_preset(preset, &c), 0);
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 1, opt.max_ctx = 64, opt.max_tokens = 64, opt.print_plan = 0;
  lj_cuda_engine *en = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&en, &c, SEED, &opt), 0);
  assert_int_equal(lj_cuda_set_fusion(en, fusion), 0);
  assert_int_equal(lj_cuda_set_attn_decode(en, attn_decode), 0);
  assert_int_equal(lj_cuda_marks_enable(en, 8), 0);
  std::vector<int> prompt = random_tokens(6, 11);
  int n = (int)prompt.size();
  assert_int_equal(lj_cuda_prefill(en, 1, prompt.data(), &n), 0);
  lj_cuda_sampling greedy = {0.0f, 1.0f, 1, 0};
  assert_int_equal(lj_cuda_generate(en, 1, 4, &greedy, NULL), 0);
  std::vector<lj_cuda_mark_interval> iv(256);
  int got = 0;
  assert_int_equal(lj_cuda_marks_read(en, 2, 1, iv.data(), (int)iv.size(), &got), 0);
  for (int i = 0; i < LJ_STAGE_ALL_COUNT; i++) count[i] = 0;
  for (int i = 0; i < got; i++)
    if ((unsigned)iv[(size_t)i].stage < LJ_STAGE_ALL_COUNT) count[iv[(size_t)i].stage]++;
  printf("  %s decode step (fusion %s, attention %s): %d stage marks\n", preset, lj_cuda_fusion_name(fusion),
         lj_attn_decode_name(attn_decode), got);
  lj_cuda_marks_disable(en);
  if (prompt_out) *prompt_out = prompt;
  return en;
}

// Fusion on and off: each run passes run_model's checks (prefill and decode logits within
// 2e-2 of the float64 reference, graph tokens equal eager tokens); the greedy tokens of both
// modes are equal, and their decode logits close (bit-identical expected: the fused kernels
// round like the unfused ones; printed). Then the fused decode step's stage marks show the
// composites in place of their parts, and a composite replays on its own.
static void check_fusion(const char *preset, int mode) {
  std::vector<int> gen0, gen1;
  std::vector<float> lg0, lg1;
  const char *mname = lj_cuda_fusion_name(mode);
  run_model(preset, 1, LJ_FUSION_NONE, &gen0, &lg0);
  run_model(preset, 1, mode, &gen1, &lg1);
  assert_int_equal(gen0.size(), gen1.size());
  for (size_t i = 0; i < gen0.size(); i++)
    if (gen0[i] != gen1[i]) fail_msg("%s: greedy token %zu: unfused %d, %s %d", preset, i, gen0[i], mname, gen1[i]);
  assert_int_equal(lg0.size(), lg1.size());
  std::vector<double> ref(lg0.begin(), lg0.end());
  size_t differ = 0;
  for (size_t i = 0; i < lg0.size(); i++) differ += lg0[i] != lg1[i];
  double e = rel_err(lg1.data(), ref.data(), ref.size());
  printf("  %s: fusion %s vs unfused decode logits: rel err %.3g, %zu of %zu differ; %zu greedy tokens equal\n",
         preset, mname, e, differ, lg0.size(), gen0.size());
  if (e > TOL_LOGITS) fail_msg("%s: fusion %s logits rel err %.3g from the unfused ones", preset, mname, e);

  // Stage marks of one graphed decode step in the fused mode.
  lj_model_config c;
  assert_int_equal(lj_config_preset(preset, &c), 0);
  int count[LJ_STAGE_ALL_COUNT];
  std::vector<int> prompt;
  lj_cuda_engine *en = graphed_step_marks(preset, mode, LJ_ATTN_DECODE_DEFAULT, count, &prompt);
  int L = c.n_layers, once = mode == LJ_FUSION_NORM_ONCE;
  assert_int_equal(count[LJ_STAGE_ATTN_NORM_QKV], L);
  assert_int_equal(count[LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU], once ? 0 : L);
  assert_int_equal(count[LJ_STAGE_O_PROJ_FFN_NORM], once ? L : 0);
  assert_int_equal(count[LJ_STAGE_GATE_UP_SWIGLU], once ? L : 0);
  assert_int_equal(count[LJ_STAGE_O_PROJ], once ? 0 : L);
  assert_int_equal(count[LJ_STAGE_ROPE], L);
  assert_int_equal(count[LJ_STAGE_DOWN], L);
  assert_int_equal(count[LJ_STAGE_ATTN_NORM] + count[LJ_STAGE_QKV] + count[LJ_STAGE_FFN_NORM] +
                       count[LJ_STAGE_GATE_UP] + count[LJ_STAGE_SWIGLU],
                   0);
  // The prefill (6 tokens, within the GEMV's 8) ran fused too; a composite replays on its own.
  lj_cuda_batch b;
  int one = 1, tok = prompt[0];
  lj_cuda_reset(en);
  assert_int_equal(lj_cuda_prepare_batch(en, 1, &tok, &one, &b), 0);
  lj_stage comps[2] = {once ? LJ_STAGE_O_PROJ_FFN_NORM : LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU,
                       once ? LJ_STAGE_GATE_UP_SWIGLU : LJ_STAGE_ATTN_NORM_QKV};
  for (lj_stage st : comps) {
    lj_cuda_replay *r = NULL;
    assert_int_equal(lj_cuda_replay_create(en, st, &b, 2 * L, &r), 0);
    assert_int_equal(lj_cuda_replay_launch(r, 2), 0);
    assert_int_equal(lj_cuda_synchronize(en), 0);
    lj_cuda_replay_free(r);
  }
  lj_cuda_engine_free(en);
}

static void test_fusion_tiny(void **state) {
  (void)state;
  check_fusion("tiny", LJ_FUSION_PRODUCTION);
}
static void test_fusion_tiny_untied(void **state) {
  (void)state;
  check_fusion("tiny-untied", LJ_FUSION_PRODUCTION);
}
// Norm once (v9): the same checks; its o_proj+ffn_norm and gate_up+swiglu replace o_proj,
// ffn_norm+gate_up+swiglu. With an odd intermediate size and q_dim != dim (tiny-untied) too.
static void test_fusion_norm_once(void **state) {
  (void)state;
  check_fusion("tiny", LJ_FUSION_NORM_ONCE);
  check_fusion("tiny-untied", LJ_FUSION_NORM_ONCE);
}

static void test_refuses_what_does_not_fit(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &c), 0);
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 100000, opt.max_ctx = 131072, opt.print_plan = 0;
  lj_cuda_engine *e = NULL;
  int rc = lj_cuda_engine_create_random(&e, &c, 1, &opt);
  assert_int_equal(rc, LJ_ENOMEM);
  assert_null(e);
  printf("  refused: %s\n", lj_error_message());
  assert_non_null(strstr(lj_error_message(), "largest batch"));
}

static void test_bad_tokens(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 1, opt.max_ctx = 16, opt.print_plan = 0;
  lj_cuda_engine *e = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&e, &c, 1, &opt), 0);
  int bad[2] = {5, 200000}, n = 2;
  assert_int_equal(lj_cuda_prefill(e, 1, bad, &n), LJ_EINVAL);
  int many[20] = {0}, n20 = 20;
  assert_int_equal(lj_cuda_prefill(e, 1, many, &n20), LJ_EINVAL);  // past the context
  lj_cuda_engine_free(e);
}

// ---------------------------------------------------------------- checkpoint dtypes
// One host tensor in three dtypes. `exact` is the bf16 value the device must end with.
struct host_copies {
  std::vector<float> f32;
  std::vector<uint16_t> f16, bf16, f16_as_bf16;
};

static void make_copies(const lj_tensor *t, host_copies *h) {
  size_t n = (size_t)lj_tensor_numel(t);
  assert_int_equal(t->dtype, LJ_DTYPE_BF16);
  const uint16_t *src = (const uint16_t *)t->data;
  h->f32.resize(n), h->f16.resize(n), h->bf16.assign(src, src + n), h->f16_as_bf16.resize(n);
  for (size_t i = 0; i < n; i++) {
    h->f32[i] = lj_bf16_to_f32(src[i]);
    h->f16[i] = lj_f32_to_f16(h->f32[i]);
    h->f16_as_bf16[i] = lj_f32_to_bf16(lj_f16_to_f32(h->f16[i]));
  }
}

static lj_cuda_host_tensor pick(const host_copies *h, lj_dtype dt, int f16_values) {
  lj_cuda_host_tensor t;
  t.dtype = dt;
  if (dt == LJ_DTYPE_F32) t.data = h->f32.data();
  else if (dt == LJ_DTYPE_F16) t.data = h->f16.data();
  else t.data = f16_values ? h->f16_as_bf16.data() : h->bf16.data();
  return t;
}

static std::vector<float> prefill_logits(const lj_model_config *c, std::vector<host_copies> &hc, lj_dtype dt,
                                         int f16_values, const std::vector<int> &prompt) {
  int L = c->n_layers;
  std::vector<lj_cuda_host_layer> layers((size_t)L);
  for (int l = 0; l < L; l++) {
    host_copies *b = &hc[3 + (size_t)9 * l];
    lj_cuda_host_layer *o = &layers[(size_t)l];
    lj_cuda_host_tensor *t[9] = {&o->attn_norm, &o->wq, &o->wk, &o->wv, &o->wo, &o->ffn_norm, &o->w_gate, &o->w_up, &o->w_down};
    for (int i = 0; i < 9; i++) *t[i] = pick(&b[i], dt, f16_values);
  }
  lj_cuda_host_weights hw;
  memset(&hw, 0, sizeof hw);
  hw.embed = pick(&hc[0], dt, f16_values);
  hw.final_norm = pick(&hc[1], dt, f16_values);
  if (!c->tie_embeddings) hw.lm_head = pick(&hc[2], dt, f16_values);
  hw.layers = layers.data();
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_ctx = 128, opt.max_tokens = 128, opt.print_plan = 0;
  lj_cuda_engine *e = NULL;
  if (lj_cuda_engine_create(&e, c, &hw, &opt) < 0) fail_msg("create (%s): %s", lj_dtype_name(dt), lj_error_message());
  int n = (int)prompt.size();
  assert_int_equal(lj_cuda_prefill(e, 1, prompt.data(), &n), 0);
  std::vector<float> logits((size_t)c->vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, logits.data(), 1), 0);
  lj_cuda_engine_free(e);
  return logits;
}

// F32, F16 and BF16 host weights of the same values give bit-identical logits, and equal
// the device-generated random weights. The embedding (128256 x dim, 32 MB in F32) is far
// larger than a copy that a pageable cudaMemcpy completes before returning: an upload that
// is not ordered with the engine's stream converts bytes that have not arrived yet.
static void check_upload_dtypes(const char *preset) {
  lj_model_config c;
  assert_int_equal(lj_config_preset(preset, &c), 0);
  lj_weights w;
  if (lj_weights_random(&c, SEED, 2, &w) < 0) fail_msg("random weights: %s", lj_error_message());
  std::vector<host_copies> hc(3 + (size_t)9 * c.n_layers);
  make_copies(&w.embed, &hc[0]);
  make_copies(&w.final_norm, &hc[1]);
  if (!c.tie_embeddings) make_copies(&w.lm_head, &hc[2]);
  for (int l = 0; l < c.n_layers; l++) {
    const lj_layer_weights *s = &w.layers[l];
    const lj_tensor *t[9] = {&s->attn_norm, &s->wq, &s->wk, &s->wv, &s->wo, &s->ffn_norm, &s->w_gate, &s->w_up, &s->w_down};
    for (int i = 0; i < 9; i++) make_copies(t[i], &hc[3 + (size_t)9 * l + i]);
  }
  lj_weights_free(&w);
  std::vector<int> prompt = random_tokens(40, 99);

  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_ctx = 128, opt.max_tokens = 128, opt.print_plan = 0;
  lj_cuda_engine *e = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&e, &c, SEED, &opt), 0);
  int n = (int)prompt.size();
  assert_int_equal(lj_cuda_prefill(e, 1, prompt.data(), &n), 0);
  std::vector<float> rnd((size_t)c.vocab_size);
  assert_int_equal(lj_cuda_get_logits(e, rnd.data(), 1), 0);
  lj_cuda_engine_free(e);

  std::vector<float> bf = prefill_logits(&c, hc, LJ_DTYPE_BF16, 0, prompt);
  std::vector<float> f32 = prefill_logits(&c, hc, LJ_DTYPE_F32, 0, prompt);
  std::vector<float> f16 = prefill_logits(&c, hc, LJ_DTYPE_F16, 0, prompt);
  std::vector<float> bf_of_f16 = prefill_logits(&c, hc, LJ_DTYPE_BF16, 1, prompt);
  size_t bytes = 4 * (size_t)c.vocab_size;
  if (memcmp(bf.data(), rnd.data(), bytes)) fail_msg("%s: BF16 host weights differ from the random fill", preset);
  if (memcmp(f32.data(), bf.data(), bytes)) {
    size_t bad = 0;
    for (size_t i = 0; i < bf.size(); i++) bad += f32[i] != bf[i];
    fail_msg("%s: F32 host weights give other logits than BF16 (%zu of %zu differ)", preset, bad, bf.size());
  }
  if (memcmp(f16.data(), bf_of_f16.data(), bytes)) fail_msg("%s: F16 host weights differ from bf16(f16)", preset);
  printf("  %s: F32, F16, BF16 uploads give bit-identical logits\n", preset);
}

static void test_upload_dtypes(void **state) {
  (void)state;
  check_upload_dtypes("tiny");
  check_upload_dtypes("tiny-untied");
}

// lj_cuda_generate_more continues a generation exactly: n + m steps in two calls give the
// tokens of one call of n + m, greedy and sampled (top-k + top-p).
static void test_generate_more(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny-untied", &c), 0);
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 2, opt.max_ctx = 128, opt.max_tokens = 128, opt.print_plan = 0;
  lj_cuda_engine *e = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&e, &c, SEED, &opt), 0);
  int lens[2] = {7, 3};
  std::vector<int> packed = random_tokens(10, 5);
  lj_cuda_sampling modes[2];
  modes[0].temperature = 0.0f, modes[0].top_p = 1.0f, modes[0].seed = 3, modes[0].top_k = 0;
  modes[1].temperature = 0.9f, modes[1].top_p = 0.9f, modes[1].seed = 3, modes[1].top_k = 40;
  for (int m = 0; m < 2; m++) {
    const int n1 = 9, n2 = 21;
    std::vector<int> one((size_t)(n1 + n2) * 2), two((size_t)(n1 + n2) * 2);
    lj_cuda_reset(e);
    assert_int_equal(lj_cuda_prefill(e, 2, packed.data(), lens), 0);
    assert_int_equal(lj_cuda_generate(e, 2, n1 + n2, &modes[m], one.data()), 0);
    lj_cuda_reset(e);
    assert_int_equal(lj_cuda_prefill(e, 2, packed.data(), lens), 0);
    assert_int_equal(lj_cuda_generate(e, 2, n1, &modes[m], two.data()), 0);
    assert_int_equal(lj_cuda_generate_more(e, 2, n2, two.data() + (size_t)n1 * 2), 0);
    for (size_t i = 0; i < one.size(); i++)
      if (one[i] != two[i]) fail_msg("mode %d: token %zu: one call %d, continued %d", m, i, one[i], two[i]);
    for (int s = 0; s < 2; s++) assert_int_equal(lj_cuda_seq_len(e, s), lens[s] + n1 + n2 - 1);
  }
  // Nothing to continue after a new prefill.
  lj_cuda_reset(e);
  assert_int_equal(lj_cuda_prefill(e, 2, packed.data(), lens), 0);
  assert_int_equal(lj_cuda_generate_more(e, 2, 4, NULL), LJ_EINVAL);
  lj_cuda_engine_free(e);
}

// ---------------------------------------------------------------- prefill attention variants
// The engine's prefill logits with each mma attention variant against the wmma variant on the
// same engine (2-layer models with the heads of 1B: head_dim 64, 32/8; and of 3B: 128, 24/8):
// two prompts of 300 and 45 tokens, then 40 and 130 more tokens appended to the caches (the
// second call's tiles start off the diagonal). The kernels differ only in summation order and
// where P is rounded to bf16, so the logits stay within bf16 rounding through two layers: rel err
// <= 1e-2 (the kernels' own bound against float64); the difference is printed.
static void check_attn_prefill_variants(const char *preset) {
  lj_model_config c;
  assert_int_equal(lj_config_preset(preset, &c), 0);
  c.n_layers = 2;
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 2, opt.max_ctx = 512, opt.print_plan = 0;
  opt.max_tokens = 1024;  // both prompts in one forward call: the engine refuses rounds that leave a sequence behind
  lj_cuda_engine *e = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&e, &c, SEED, &opt), 0);
  int lens1[2] = {300, 45}, lens2[2] = {40, 130};
  std::vector<int> p1 = random_tokens(lens1[0] + lens1[1], 31), p2 = random_tokens(lens2[0] + lens2[1], 77);
  size_t nl = 2 * (size_t)c.vocab_size;
  std::vector<std::vector<float>> logits(2 * LJ_ATTN_PREFILL_COUNT, std::vector<float>(nl));
  for (int v = 0; v < LJ_ATTN_PREFILL_COUNT; v++) {
    assert_int_equal(lj_cuda_set_attn_prefill(e, v), 0);
    assert_int_equal(lj_cuda_attn_prefill(e), v);
    lj_cuda_reset(e);
    assert_int_equal(lj_cuda_prefill(e, 2, p1.data(), lens1), 0);
    assert_int_equal(lj_cuda_get_logits(e, logits[2 * v].data(), 2), 0);
    assert_int_equal(lj_cuda_prefill(e, 2, p2.data(), lens2), 0);
    assert_int_equal(lj_cuda_get_logits(e, logits[2 * v + 1].data(), 2), 0);
  }
  for (int v = 1; v < LJ_ATTN_PREFILL_COUNT; v++)
    for (int call = 0; call < 2; call++) {
      const std::vector<float> &w = logits[call], &got = logits[2 * v + call];
      std::vector<double> ref(w.begin(), w.end());
      double err = rel_err(got.data(), ref.data(), nl);
      printf("  %s, prefill call %d: %s (runs %s) against wmma: rel err %.3g\n", preset, call + 1,
             lj_attn_prefill_name(v), lj_attn_prefill_name(lj_attn_prefill_runs(v, c.head_dim)), err);
      if (err > 1e-2) fail_msg("%s: prefill attention %s: logits rel err %.3g from wmma", preset, lj_attn_prefill_name(v), err);
    }
  assert_int_equal(lj_cuda_set_attn_prefill(e, LJ_ATTN_PREFILL_COUNT), LJ_EINVAL);
  lj_cuda_engine_free(e);
}

// ---------------------------------------------------------------- decode attention variants
// Tokens and logits of a variant against split's: greedy tokens equal, logits within 1e-3
// (the variants sum in the same order and round RoPE alike: 0 differing values expected, printed).
static void compare_to_split(const char *what, int v, const std::vector<int> &gen0, const std::vector<int> &gen,
                             const std::vector<float> &lg0, const std::vector<float> &lg) {
  assert_int_equal(gen0.size(), gen.size());
  for (size_t i = 0; i < gen0.size(); i++)
    if (gen0[i] != gen[i])
      fail_msg("%s: greedy token %zu: split %d, %s %d", what, i, gen0[i], lj_attn_decode_name(v), gen[i]);
  assert_int_equal(lg0.size(), lg.size());
  std::vector<double> ref(lg0.begin(), lg0.end());
  size_t differ = 0;
  for (size_t i = 0; i < lg0.size(); i++) differ += lg0[i] != lg[i];
  double e = rel_err(lg.data(), ref.data(), ref.size());
  printf("  %s: decode attention %s against split: logits rel err %.3g, %zu of %zu differ; %zu greedy tokens equal\n",
         what, lj_attn_decode_name(v), e, differ, lg0.size(), gen0.size());
  if (e > 1e-3) fail_msg("%s: decode attention %s: logits rel err %.3g from split", what, lj_attn_decode_name(v), e);
}

// The tiny models (head_dim 24 and 12, groups 2 and 4) through run_model with each variant, then the
// marks of one graphed one_rope decode step: rope+attn once per layer, rope and attn alone never.
static void check_attn_decode_tiny(const char *preset) {
  std::vector<int> gen0, gen;
  std::vector<float> lg0, lg;
  run_model(preset, 1, LJ_FUSION_NONE, &gen0, &lg0, LJ_ATTN_DECODE_SPLIT);
  for (int v = 1; v < LJ_ATTN_DECODE_COUNT; v++) {
    gen.clear(), lg.clear();
    run_model(preset, 1, LJ_FUSION_NONE, &gen, &lg, v);
    compare_to_split(preset, v, gen0, gen, lg0, lg);
  }
  lj_model_config c;
  assert_int_equal(lj_config_preset(preset, &c), 0);
  int count[LJ_STAGE_ALL_COUNT];
  lj_cuda_engine *en = graphed_step_marks(preset, LJ_FUSION_NONE, LJ_ATTN_DECODE_ONE_ROPE, count, NULL);
  printf("  %s one_rope decode step: %d rope+attn\n", preset, count[LJ_STAGE_ROPE_ATTN]);
  assert_int_equal(count[LJ_STAGE_ROPE_ATTN], c.n_layers);
  assert_int_equal(count[LJ_STAGE_ROPE] + count[LJ_STAGE_ATTN], 0);
  assert_int_equal(count[LJ_STAGE_O_PROJ], c.n_layers);
  assert_int_equal(lj_cuda_set_attn_decode(en, LJ_ATTN_DECODE_COUNT), LJ_EINVAL);
  lj_cuda_engine_free(en);
}

// A 2-layer engine of a preset's layer shape (random weights), 2 sequences of up to 512 positions.
static lj_cuda_engine *two_layer_engine(const char *preset, int weights, lj_model_config *c) {
  assert_int_equal(lj_config_preset(preset, c), 0);
  c->n_layers = 2;
  lj_cuda_options opt;
  lj_cuda_options_default(&opt);
  opt.max_batch = 2, opt.max_ctx = 512, opt.max_tokens = 1024, opt.print_plan = 0, opt.weights = weights;
  lj_cuda_engine *e = NULL;
  assert_int_equal(lj_cuda_engine_create_random(&e, c, SEED, &opt), 0);
  return e;
}

// 2-layer models with the heads of 1B (head_dim 64, 32/8) and 3B (128, 24/8): two prompts of 130
// and 45 tokens (9 and 3 of 17 splits with keys), then 16 greedy steps by graph replay and 3 eager
// decode steps' logits per variant.
static void check_attn_decode_heads(const char *preset) {
  lj_model_config c;
  lj_cuda_engine *e = two_layer_engine(preset, LJ_WEIGHTS_BF16, &c);
  int lens[2] = {130, 45}, steps = 16;
  std::vector<int> p = random_tokens(lens[0] + lens[1], 31);
  size_t V = (size_t)c.vocab_size;
  lj_cuda_sampling greedy = {0.0f, 1.0f, 1, 0};
  std::vector<int> gen0;
  std::vector<float> lg0;
  for (int v = 0; v < LJ_ATTN_DECODE_COUNT; v++) {
    assert_int_equal(lj_cuda_set_attn_decode(e, v), 0);
    std::vector<int> gen((size_t)steps * 2);
    lj_cuda_reset(e);
    assert_int_equal(lj_cuda_prefill(e, 2, p.data(), lens), 0);
    assert_int_equal(lj_cuda_generate(e, 2, steps, &greedy, gen.data()), 0);
    std::vector<float> lg, one(2 * V);
    lj_cuda_reset(e);
    assert_int_equal(lj_cuda_prefill(e, 2, p.data(), lens), 0);
    for (int st = 0; st < 3; st++) {
      int tok[2] = {gen[(size_t)st * 2], gen[(size_t)st * 2 + 1]};
      assert_int_equal(lj_cuda_decode(e, 2, tok), 0);
      assert_int_equal(lj_cuda_get_logits(e, one.data(), 2), 0);
      lg.insert(lg.end(), one.begin(), one.end());
    }
    if (v == LJ_ATTN_DECODE_SPLIT) gen0 = gen, lg0 = lg;
    else compare_to_split(preset, v, gen0, gen, lg0, lg);
  }
  lj_cuda_engine_free(e);
}

static void test_attn_decode_variants(void **state) {
  (void)state;
  check_attn_decode_tiny("tiny");
  check_attn_decode_tiny("tiny-untied");
  check_attn_decode_heads("llama-3.2-1b");
  check_attn_decode_heads("llama-3.2-3b");
}

// The decode knobs of bench_engine --tune through the engine: a 2-layer model with 1B's heads, two
// sequences (130 and 45 cached tokens), 3 eager decode steps fed the default's greedy tokens (one
// and two tokens per call: batch 1 runs the configurations, batch 2 as well), and a graphed
// generation. Every GEMV configuration (bf16, and FP8's pipe) must give the default's logits and
// tokens bit for bit; other decode attention split counts (1: no combine kernel) change the fp32
// sums' order: logits within 1e-2 of the default's (printed).
static void decode_logits(lj_cuda_engine *e, size_t V, int n_seqs, const int *lens, const std::vector<int> &p,
                          const std::vector<int> &feed, std::vector<float> *lg, std::vector<int> *gen, int steps) {
  lj_cuda_sampling greedy = {0.0f, 1.0f, 1, 0};
  gen->assign((size_t)steps * n_seqs, 0);
  lj_cuda_reset(e);
  assert_int_equal(lj_cuda_prefill(e, n_seqs, p.data(), lens), 0);
  assert_int_equal(lj_cuda_generate(e, n_seqs, steps, &greedy, gen->data()), 0);
  lj_cuda_reset(e);
  assert_int_equal(lj_cuda_prefill(e, n_seqs, p.data(), lens), 0);
  std::vector<float> one((size_t)n_seqs * V);
  lg->clear();
  for (int st = 0; st < 3; st++) {
    const std::vector<int> &src = feed.empty() ? *gen : feed;
    assert_int_equal(lj_cuda_decode(e, n_seqs, &src[(size_t)st * n_seqs]), 0);
    assert_int_equal(lj_cuda_get_logits(e, one.data(), n_seqs), 0);
    lg->insert(lg->end(), one.begin(), one.end());
  }
}

static void check_decode_knobs(int weights) {
  lj_model_config c;
  lj_cuda_engine *e = two_layer_engine("llama-3.2-1b", weights, &c);
  int fp8 = weights == LJ_WEIGHTS_FP8, steps = 8;
  const char *wn = fp8 ? "fp8" : "bf16";
  int lens[2] = {130, 45};
  std::vector<int> p = random_tokens(lens[0] + lens[1], 37);
  for (int n_seqs = 1; n_seqs <= 2; n_seqs++) {
    std::vector<float> lg0, lg;
    std::vector<int> gen0, gen, none;
    decode_logits(e, (size_t)c.vocab_size, n_seqs, lens, p, none, &lg0, &gen0, steps);
    int count = fp8 ? LJ_FP8_PIPE_CONFIG_COUNT : LJ_GEMV_CONFIG_COUNT;
    for (int v = 0; v <= count; v++) {  // v == count: a different configuration per class
      int cfg[LJ_GEMV_CLASS_COUNT];
      for (int k = 0; k < LJ_GEMV_CLASS_COUNT; k++) cfg[k] = v < count ? v : (k * 5 + 1) % count;
      assert_int_equal(lj_cuda_set_gemv_configs(e, fp8 ? NULL : cfg, fp8 ? cfg : NULL), 0);
      decode_logits(e, (size_t)c.vocab_size, n_seqs, lens, p, gen0, &lg, &gen, steps);
      char spec[160];
      lj_gemv_spec_format(cfg, fp8, spec, sizeof spec);
      size_t differ = 0, tok_differ = 0;
      for (size_t i = 0; i < lg0.size(); i++) differ += memcmp(&lg0[i], &lg[i], 4) != 0;
      for (size_t i = 0; i < gen0.size(); i++) tok_differ += gen0[i] != gen[i];
      printf("  %s batch %d, GEMV %s: %zu of %zu decode logits and %zu of %zu greedy tokens differ from the default\n",
             wn, n_seqs, spec, differ, lg0.size(), tok_differ, gen0.size());
      if (differ || tok_differ)
        fail_msg("%s batch %d, GEMV %s: %zu logits, %zu tokens differ from the default", wn, n_seqs, spec, differ,
                 tok_differ);
    }
    int dflt[LJ_GEMV_CLASS_COUNT];
    lj_gemv_model_defaults(&c, fp8, dflt);
    assert_int_equal(lj_cuda_set_gemv_configs(e, fp8 ? NULL : dflt, fp8 ? dflt : NULL), 0);
    for (int sp : {1, 2, 8}) {
      assert_int_equal(lj_cuda_set_attn_splits(e, sp), 0);
      assert_int_equal(lj_cuda_attn_splits(e), sp);
      decode_logits(e, (size_t)c.vocab_size, n_seqs, lens, p, gen0, &lg, &gen, steps);
      std::vector<double> ref(lg0.begin(), lg0.end());
      double err = rel_err(lg.data(), ref.data(), ref.size());
      size_t tok_equal = 0;
      for (size_t i = 0; i < gen0.size(); i++) tok_equal += gen0[i] == gen[i];
      printf("  %s batch %d, decode attention %d splits: logits rel err %.3g from the rule's; %zu of %zu greedy "
             "tokens equal\n", wn, n_seqs, sp, err, tok_equal, gen0.size());
      if (err > 1e-2) fail_msg("%s batch %d, %d splits: logits rel err %.3g (bound 1e-2)", wn, n_seqs, sp, err);
    }
    assert_int_equal(lj_cuda_set_attn_splits(e, 0), 0);
  }
  // refusals: a split count beyond the scratch, an unknown configuration (nothing changed)
  assert_int_equal(lj_cuda_set_attn_splits(e, 100000), LJ_EINVAL);
  assert_int_equal(lj_cuda_set_attn_splits(e, -1), LJ_EINVAL);
  int bad[LJ_GEMV_CLASS_COUNT] = {0, 0, LJ_GEMV_CONFIG_COUNT, 0, 0}, got[LJ_GEMV_CLASS_COUNT];
  assert_int_equal(lj_cuda_set_gemv_configs(e, bad, NULL), LJ_EINVAL);
  lj_cuda_gemv_configs(e, got, NULL);
  int want[LJ_GEMV_CLASS_COUNT];  // the shape's default, set again above
  lj_gemv_model_defaults(&c, 0, want);
  assert_int_equal(got[LJ_GEMV_CLASS_GATE_UP], want[LJ_GEMV_CLASS_GATE_UP]);
  lj_cuda_engine_free(e);
}

static void test_decode_knobs(void **state) {
  (void)state;
  check_decode_knobs(LJ_WEIGHTS_BF16);
  check_decode_knobs(LJ_WEIGHTS_FP8);
}

static void test_attn_prefill_variants(void **state) {
  (void)state;
  check_attn_prefill_variants("llama-3.2-1b");
  check_attn_prefill_variants("llama-3.2-3b");
}

// Norm once on 1B's layer shape (2 layers, random weights) at batch 1 and 2: the greedy tokens
// and decode logits of the unfused mode (bit-identical expected, printed; within 1e-2), with the
// shape's default GEMV configurations.
static void test_norm_once_1b_shape(void **state) {
  (void)state;
  lj_model_config c;
  lj_cuda_engine *e = two_layer_engine("llama-3.2-1b", LJ_WEIGHTS_BF16, &c);
  int lens[2] = {100, 37};
  std::vector<int> p = random_tokens(lens[0] + lens[1], 41), none;
  for (int n_seqs = 1; n_seqs <= 2; n_seqs++) {
    std::vector<float> lg0, lg1;
    std::vector<int> gen0, gen1;
    assert_int_equal(lj_cuda_set_fusion(e, LJ_FUSION_NONE), 0);
    decode_logits(e, (size_t)c.vocab_size, n_seqs, lens, p, none, &lg0, &gen0, 8);
    assert_int_equal(lj_cuda_set_fusion(e, LJ_FUSION_NORM_ONCE), 0);
    decode_logits(e, (size_t)c.vocab_size, n_seqs, lens, p, gen0, &lg1, &gen1, 8);
    size_t differ = 0, tok_differ = 0;
    for (size_t i = 0; i < lg0.size(); i++) differ += memcmp(&lg0[i], &lg1[i], 4) != 0;
    for (size_t i = 0; i < gen0.size(); i++) tok_differ += gen0[i] != gen1[i];
    std::vector<double> ref(lg0.begin(), lg0.end());
    double err = rel_err(lg1.data(), ref.data(), ref.size());
    printf("  1B shape, batch %d, norm-once: %zu of %zu decode logits differ from none (rel err %.3g), %zu of %zu "
           "greedy tokens\n", n_seqs, differ, lg0.size(), err, tok_differ, gen0.size());
    if (err > 1e-2 || tok_differ) fail_msg("1B shape batch %d: norm-once rel err %.3g, %zu tokens differ", n_seqs, err,
                                           tok_differ);
  }
  lj_cuda_engine_free(e);
}

int main(void) {
  gpu_test_require_device();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiny),       cmocka_unit_test(test_tiny_untied),
      cmocka_unit_test(test_tiny_cublaslt_only), cmocka_unit_test(test_refuses_what_does_not_fit),
      cmocka_unit_test(test_bad_tokens),         cmocka_unit_test(test_upload_dtypes),
      cmocka_unit_test(test_generate_more),      cmocka_unit_test(test_fusion_tiny),
      cmocka_unit_test(test_fusion_tiny_untied), cmocka_unit_test(test_fusion_norm_once),
      cmocka_unit_test(test_norm_once_1b_shape), cmocka_unit_test(test_attn_prefill_variants),
      cmocka_unit_test(test_attn_decode_variants), cmocka_unit_test(test_decode_knobs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
