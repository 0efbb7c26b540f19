// Analytic FLOPs and bytes per stage, against values computed by hand from
// the formulas in docs/attribution.md (tiny preset: dim 64, hidden 160,
// 4 heads, 2 KV heads, head_dim 24, vocab 128256) and against published
// sizes of Llama 3.2 1B: one layer's QKV weights are 12.6 MB, the KV cache
// holds 32 KiB per token, and one decode step reads all 1.24 B parameters
// (2.47 GB: ~0.82 ms at 3.0 TB/s). Integer counts: exact. The all-reduce stages (tensor
// parallelism, per rank): a ring's 2 (N-1)/N x N_tok x dim bf16 elements sent and as many
// received, (N-1)/N x N_tok x dim adds, all on the link (NVLink), none in HBM; nothing at degree 1.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "model/config.h"
#include "profile/stage_cost.h"
#include "report/report_derived.h"

typedef struct {
  lj_stage stage;
  int64_t flops, weight, act_read, act_write, kv_read, kv_write;
} expect;

// Per-layer stages are computed for `layer`, the others for layer -1.
static void check(const lj_model_config *c, const lj_stage_shape *sh, int layer, const expect *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    lj_stage_cost k;
    assert_int_equal(lj_stage_cost_compute(c, e[i].stage, lj_stage_is_per_layer(e[i].stage) ? layer : -1, sh, &k), 0);
    const char *name = lj_stage_name(e[i].stage);
    if (k.flops != e[i].flops || k.weight_bytes != e[i].weight || k.act_read_bytes != e[i].act_read ||
        k.act_write_bytes != e[i].act_write || k.kv_read_bytes != e[i].kv_read || k.kv_write_bytes != e[i].kv_write)
      fail_msg("%s: got flops %lld weight %lld read %lld write %lld kv_read %lld kv_write %lld", name,
               (long long)k.flops, (long long)k.weight_bytes, (long long)k.act_read_bytes,
               (long long)k.act_write_bytes, (long long)k.kv_read_bytes, (long long)k.kv_write_bytes);
    assert_int_equal(k.bytes, e[i].weight + e[i].act_read + e[i].act_write + e[i].kv_read + e[i].kv_write);
  }
}

static void test_tiny_decode(void **state) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  sh.kv_past = 9;  // the 10th token
  // q_dim 96, kv_dim 48; attention sees 10 positions
  const expect e[] = {
      {LJ_STAGE_EMBED, 0, 128, 4, 128, 0, 0},
      {LJ_STAGE_ATTN_NORM, 320, 128, 256, 256, 0, 0},        // x += delta, norm: 5*64; reads x, delta; writes x, xn
      {LJ_STAGE_QKV, 24576, 24576, 128, 384, 0, 0},          // 2*64*192; 64*192*2 bytes
      {LJ_STAGE_ROPE, 432, 0, 384, 192, 0, 192},             // 3*(96+48); k, v: 2*48*2
      {LJ_STAGE_ATTN, 4136, 0, 192, 192, 1920, 0},           // 4*(10*(4*24+5) + 24); 10*2*48*2
      {LJ_STAGE_O_PROJ, 12288, 12288, 192, 128, 0, 0},       // 2*96*64
      {LJ_STAGE_FFN_NORM, 320, 128, 256, 256, 0, 0},
      {LJ_STAGE_GATE_UP, 40960, 40960, 128, 640, 0, 0},      // 2*64*320
      {LJ_STAGE_SWIGLU, 800, 0, 640, 320, 0, 0},             // 5*160
      {LJ_STAGE_DOWN, 20480, 20480, 320, 128, 0, 0},         // 2*160*64
      {LJ_STAGE_FINAL_NORM, 320, 128, 256, 256, 0, 0},
      {LJ_STAGE_LM_HEAD, 16416768, 16416768, 128, 513024, 0, 0},  // 2*64*128256; fp32 logits
      {LJ_STAGE_SAMPLE, 128256, 0, 513024, 4, 0, 0},
  };
  check(&c, &sh, 1, e, sizeof e / sizeof e[0]);
  // layer 0's attention norm has no delta to add, but still writes x back
  const expect first[] = {{LJ_STAGE_ATTN_NORM, 256, 128, 128, 256, 0, 0}};
  check(&c, &sh, 0, first, 1);
  // composite stages (fused mode) do their parts' work: the sums of the rows above
  const expect fused[] = {
      {LJ_STAGE_ATTN_NORM_QKV, 320 + 24576, 128 + 24576, 256 + 128, 256 + 384, 0, 0},
      {LJ_STAGE_FFN_NORM_GATE_UP_SWIGLU, 320 + 40960 + 800, 128 + 40960, 256 + 128 + 640, 256 + 640 + 320, 0, 0},
      {LJ_STAGE_ROPE_ATTN, 432 + 4136, 0, 384 + 192, 192 + 192, 1920, 192},
  };
  check(&c, &sh, 1, fused, sizeof fused / sizeof fused[0]);
  lj_stage_cost k;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_ATTN_NORM_QKV, 2, &sh, &k), LJ_EINVAL);  // its parts' layer check
}

static void test_tiny_prefill_batch(void **state) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  sh.batch = 2;
  sh.n_tokens = 5;  // 10 tokens in all; each sequence's 5 queries see 1+2+3+4+5 = 15 keys
  const expect e[] = {
      {LJ_STAGE_EMBED, 0, 1280, 40, 1280, 0, 0},
      {LJ_STAGE_QKV, 245760, 24576, 1280, 3840, 0, 0},
      {LJ_STAGE_ROPE, 4320, 0, 3840, 1920, 0, 1920},
      {LJ_STAGE_ATTN, 13080, 0, 1920, 1920, 1920, 0},        // 2*4*(15*101 + 5*24); 2*5*2*48*2
      {LJ_STAGE_SWIGLU, 8000, 0, 6400, 3200, 0, 0},
      {LJ_STAGE_FINAL_NORM, 640, 128, 512, 512, 0, 0},       // last token of each of 2 sequences
      {LJ_STAGE_LM_HEAD, 32833536, 16416768, 256, 1026048, 0, 0},
      {LJ_STAGE_SAMPLE, 256512, 0, 1026048, 8, 0, 0},
  };
  check(&c, &sh, 1, e, sizeof e / sizeof e[0]);
  // a second chunk of 3 tokens after 4: queries see 5, 6, 7 keys = 18
  sh.batch = 1;
  sh.n_tokens = 3;
  sh.kv_past = 4;
  const expect chunk[] = {{LJ_STAGE_ATTN, 4 * (18 * 101 + 3 * 24), 0, 576, 576, 7 * 2 * 48 * 2, 0}};
  check(&c, &sh, 1, chunk, 1);
  // every token to the LM head
  sh.logits_all_tokens = 1;
  const expect all[] = {{LJ_STAGE_LM_HEAD, 3 * 16416768LL, 16416768, 384, 3 * 513024, 0, 0}};
  check(&c, &sh, 1, all, 1);
}

static void test_llama_1b(void **state) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &c), 0);
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  sh.kv_past = 127;
  lj_stage_cost k;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_QKV, 3, &sh, &k), 0);
  assert_int_equal(k.weight_bytes, 12582912);  // 2048 x 3072 bf16: the 12.6 MB of measurement-facts
  assert_int_equal(k.flops, 12582912);
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_ATTN, 3, &sh, &k), 0);
  assert_int_equal(k.flops, 32 * (128 * (4 * 64 + 5) + 64));   // 1,071,104
  assert_int_equal(k.kv_read_bytes * c.n_layers, 128 * 32768);  // 32 KiB of K and V per token
  // one decode step reads every parameter once, plus the one embedding row it gathers
  lj_stage_cost f;
  assert_int_equal(lj_stage_cost_forward(&c, &sh, &f), 0);
  assert_int_equal(f.weight_bytes, 2471632896LL);
  assert_int_equal(f.weight_bytes, 2 * lj_config_n_params(&c) + 2048 * 2);
  // matmul FLOPs are 2 per weight of every matrix (the norm weights are not matrices),
  // plus the norms with their residual adds (none before layer 0), rope, attention, swiglu, sampling
  int64_t matrix_params = lj_config_n_params(&c) - c.dim - (int64_t)c.n_layers * 2 * c.dim;
  int64_t rest = 16 * (2 * 5 * 2048 + 3 * (2048 + 512) + 1071104 + 5 * 8192) - 2048 + 5 * 2048 + 128256;
  assert_int_equal(f.flops, 2 * matrix_params + rest);
  // prefill of 128 tokens: causal attention sees 128*129/2 keys
  sh.kv_past = 0;
  sh.n_tokens = 128;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_ATTN, 3, &sh, &k), 0);
  assert_int_equal(k.flops, 69216256);
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_QKV, 3, &sh, &k), 0);
  assert_int_equal(k.flops, 1610612736LL);
  assert_true(k.flops_per_byte > 100);  // prefill GEMMs are compute-bound ...
  sh.n_tokens = 1;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_QKV, 3, &sh, &k), 0);
  assert_true(k.flops_per_byte < 1.01);  // ... decode GEMMs read ~1 byte per FLOP
}

static void test_untied_weights(void **state) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny-untied", &c), 0);
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  lj_stage_cost f;
  assert_int_equal(lj_stage_cost_forward(&c, &sh, &f), 0);
  // the untied embedding table is not read, except the gathered row
  int64_t table = (int64_t)c.vocab_size * c.dim;
  assert_int_equal(f.weight_bytes, 2 * (lj_config_n_params(&c) - table) + 2 * c.dim);
}

static void test_allreduce(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);  // dim 64, 2 layers
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  sh.batch = 2, sh.n_tokens = 8;  // a prefill of 16 tokens: the update is 16 x 64 = 1024 elements
  // degree, adds, link bytes (sent + received): 2 (N-1)/N x 1024 x 2 bytes each way
  const struct {
    int degree;
    int64_t adds, link;
  } e[] = {{1, 0, 0}, {2, 512, 2 * 2048}, {4, 768, 2 * 3072}, {8, 896, 2 * 3584}};
  for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
    for (int k = 0; k < 2; k++) {
      lj_stage st = k ? LJ_STAGE_MLP_ALLREDUCE : LJ_STAGE_ATTN_ALLREDUCE;
      sh.tp_degree = e[i].degree;
      lj_stage_cost o;
      assert_int_equal(lj_stage_cost_compute(&c, st, 1, &sh, &o), 0);
      if (o.flops != e[i].adds || o.link_bytes != e[i].link)
        fail_msg("%s at degree %d: adds %lld link %lld, expected %lld %lld", lj_stage_name(st), e[i].degree,
                 (long long)o.flops, (long long)o.link_bytes, (long long)e[i].adds, (long long)e[i].link);
      assert_int_equal(o.bytes, 0);  // no HBM bytes: the roofline keeps them apart
      assert_int_equal(o.weight_bytes + o.act_read_bytes + o.act_write_bytes + o.kv_read_bytes + o.kv_write_bytes, 0);
      assert_int_equal(lj_stage_cost_link_bytes_of(st, o.flops), o.link_bytes);  // what the store reader derives
      const char *bound = lj_report_bound(&o);
      if (e[i].degree > 1) assert_string_equal(bound, "link");
      else assert_null(bound);
    }
  // every other stage has no link bytes, at any degree; o_proj's decode GEMV stays memory-bound
  sh.tp_degree = 4, sh.batch = 1, sh.n_tokens = 1;
  lj_stage_cost o;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_O_PROJ, 1, &sh, &o), 0);
  assert_int_equal(o.link_bytes, 0);
  assert_int_equal(lj_stage_cost_link_bytes_of(LJ_STAGE_O_PROJ, o.flops), 0);
  assert_string_equal(lj_report_bound(&o), "memory");
  // one decode step of 70B at degree 8 (dim 8192): 28 KiB each way per all-reduce
  lj_model_config b;
  assert_int_equal(lj_config_preset("llama-3.3-70b", &b), 0);
  sh.tp_degree = 8;
  assert_int_equal(lj_stage_cost_compute(&b, LJ_STAGE_ATTN_ALLREDUCE, 0, &sh, &o), 0);
  assert_int_equal(o.link_bytes, 2 * 28672);
  assert_int_equal(o.flops, 7168);
  // the forward pass: two all-reduces per layer; degree 1 adds none
  lj_stage_cost f1, f8;
  sh.tp_degree = 1;
  assert_int_equal(lj_stage_cost_forward(&b, &sh, &f1), 0);
  sh.tp_degree = 8;
  assert_int_equal(lj_stage_cost_forward(&b, &sh, &f8), 0);
  assert_int_equal(f1.link_bytes, 0);
  assert_int_equal(f8.link_bytes, 2LL * b.n_layers * 2 * 28672);
  assert_int_equal(f8.bytes, f1.bytes);
  assert_int_equal(f8.flops - f1.flops, 2LL * b.n_layers * 7168);
  sh.tp_degree = 0;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_ATTN_ALLREDUCE, 0, &sh, &o), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "tensor-parallel degree 0"));
}

static void test_bad_shapes(void **state) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  lj_stage_shape sh;
  lj_stage_shape_default(&sh);
  lj_stage_cost k;
  sh.n_tokens = 0;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_QKV, 0, &sh, &k), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "n_tokens 0"));
  sh.n_tokens = 1;
  sh.kv_past = c.max_seq_len;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_QKV, 0, &sh, &k), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "max_seq_len"));
  sh.kv_past = 0;
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_NONE, -1, &sh, &k), LJ_EINVAL);
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_DOWN, 2, &sh, &k), LJ_EINVAL);  // tiny has 2 layers
  assert_non_null(strstr(lj_error_message(), "down needs a layer in [0, 2), got 2"));
  assert_int_equal(lj_stage_cost_compute(&c, LJ_STAGE_LM_HEAD, 7, &sh, &k), 0);  // not a layer stage: ignored
  sh.batch = 0;
  assert_int_equal(lj_stage_cost_forward(&c, &sh, &k), LJ_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tiny_decode),
      cmocka_unit_test(test_tiny_prefill_batch),
      cmocka_unit_test(test_llama_1b),
      cmocka_unit_test(test_untied_weights),
      cmocka_unit_test(test_allreduce),
      cmocka_unit_test(test_bad_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
