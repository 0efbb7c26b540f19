// Every decode attention variant (attn_decode_variant.h: split, one, one_rope) against a float64
// reference of RoPE + attention on the same inputs, and against each other:
//   - head_dim 64 and 128 at GQA groups 1, 3, 4 and 8 (and the tiny models' 24 and 12);
//   - one batch of 8 sequences with kv_len 1, 2, 63, 64, 65, 511, 512 and 2048 (each token's
//     new key at position kv_len - 1, the cache before it random, the row at kv_len - 1
//     poisoned with NaN so a missing append fails), slots permuted; and one sequence of 512
//     (the bench shape: the most splits per head);
//   - split and one get the rope_kv kernel first (the engine's ROPE stage), one_rope does it
//     itself; each variant's attention runs twice on the same inputs (the second launch checks
//     that the block counters were left at 0: a stale count would skip or repeat the combine).
//   - target split counts 1, 2, 8, 32 (test_decode_split_counts), and one split (no combine
//     kernel) against two combined, bit for bit;
// Bounds: output rel err <= 1e-2 from float64 (bf16 output and rotated q/k, as the other
// attention tests); the appended cache rows <= 1e-2 from float64 RoPE; the variants against
// split <= 1e-3 (the same sums in the same order: 0 differing outputs expected, printed).
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
#include "engine/cuda/attention_decode.h"
#include "engine/cuda/rope.h"
#include "gpu_test_util.h"
extern "C" {
#include "model/config.h"
}

typedef __nv_bfloat16 bf16;
static uint64_t g_seed = 0xdec0de;
static uint64_t next_seed(void) { return g_seed = lj_splitmix64(g_seed); }

struct dec_case {
  int hd, group, n_kv;
};
static const dec_case g_cases[] = {{64, 1, 2},  {64, 3, 2},  {64, 4, 8},  {64, 8, 2},  {128, 1, 2},
                                   {128, 3, 8}, {128, 4, 8}, {128, 8, 8}, {24, 2, 2},  {12, 4, 2}};

// Host RoPE of one head row (float64 angles, HF's half-split rotation).
static void ref_rope(double *out, const bf16 *x, int hd, int pos, const float *inv) {
  int half = hd / 2;
  for (int i = 0; i < hd; i++) {
    int j = i < half ? i : i - half;
    double ang = (double)pos * inv[j], c = cos(ang), s = sin(ang);
    double a = __bfloat162float(x[i]), p = __bfloat162float(x[i < half ? i + half : i - half]);
    out[i] = i < half ? a * c - p * s : a * c + p * s;
  }
}

// The variants on n tokens: token t of slot seq[t] attends to kv_len[t] positions of caches of ctx,
// with `target` splits per (token, KV head) (0: the rule). Returns split's output.
static std::vector<float> check_case(const dec_case &dc, const std::vector<int> &kv_len, const char *what,
                                     int ctx = 2048 + 16, int target = 0) {
  int n = (int)kv_len.size(), hd = dc.hd, n_kv = dc.n_kv, n_heads = dc.group * n_kv;
  int qd = n_heads * hd, kvd = n_kv * hd, stride = qd + 2 * kvd;
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &c), 0);  // llama3 RoPE scaling
  c.head_dim = hd;
  std::vector<float> inv(hd / 2);
  lj_rope_inv_freq(&c, inv.data());
  std::vector<int> seq(n), pos(n);
  for (int t = 0; t < n; t++) seq[t] = (t * 5 + 3) % n, pos[t] = kv_len[t] - 1;  // 5 is coprime to 8 and 1
  size_t cache_n = (size_t)n * n_kv * ctx * hd;
  std::vector<bf16> kc(cache_n), vc(cache_n), qkv((size_t)n * stride);
  random_bf16(kc.data(), cache_n, next_seed(), 2.0f);
  random_bf16(vc.data(), cache_n, next_seed(), 1.0f);
  random_bf16(qkv.data(), qkv.size(), next_seed(), 2.0f);
  for (int t = 0; t < n; t++)  // the new position: written by the append or NaN
    for (int h = 0; h < n_kv; h++)
      for (int i = 0; i < hd; i++) {
        size_t at = (((size_t)seq[t] * n_kv + h) * ctx + pos[t]) * hd + i;
        kc[at] = vc[at] = __float2bfloat16(NAN);
      }

  // float64 reference: q and the new k rotated, the new v appended, softmax(q K^T / sqrt(hd)) V.
  std::vector<double> ref((size_t)n * qd), ref_k((size_t)n * kvd);
  std::vector<double> qr(hd), kr(hd);
  for (int t = 0; t < n; t++) {
    const bf16 *row = qkv.data() + (size_t)t * stride;
    for (int h = 0; h < n_kv; h++) ref_rope(&ref_k[(size_t)t * kvd + h * hd], row + qd + h * hd, hd, pos[t], inv.data());
    for (int h = 0; h < n_heads; h++) {
      int kvh = h / dc.group;
      ref_rope(qr.data(), row + h * hd, hd, pos[t], inv.data());
      std::vector<double> sc(kv_len[t]);
      double mx = -INFINITY, z = 0;
      for (int j = 0; j < kv_len[t]; j++) {
        size_t at = (((size_t)seq[t] * n_kv + kvh) * ctx + j) * hd;
        double d = 0;
        for (int i = 0; i < hd; i++)
          d += qr[i] * (j == pos[t] ? ref_k[(size_t)t * kvd + kvh * hd + i] : (double)__bfloat162float(kc[at + i]));
        sc[j] = d / sqrt((double)hd);
        mx = fmax(mx, sc[j]);
      }
      for (int j = 0; j < kv_len[t]; j++) z += (sc[j] = exp(sc[j] - mx));
      double *o = &ref[(size_t)t * qd + h * hd];
      for (int i = 0; i < hd; i++) o[i] = 0;
      for (int j = 0; j < kv_len[t]; j++) {
        const bf16 *vr = j == pos[t] ? row + qd + kvd + kvh * hd : vc.data() + (((size_t)seq[t] * n_kv + kvh) * ctx + j) * hd;
        for (int i = 0; i < hd; i++) o[i] += sc[j] / z * __bfloat162float(vr[i]);
      }
    }
  }

  lj_attn_decode_shape sh = lj_attn_decode_plan(n_heads, n_kv, hd, ctx, n, 132, target);
  void *d_seq = dev_copy(seq.data(), 4 * n), *d_pos = dev_copy(pos.data(), 4 * n);
  void *d_len = dev_copy(kv_len.data(), 4 * n), *d_inv = dev_copy(inv.data(), inv.size() * 4);
  std::vector<float> split_out;
  for (int v = 0; v < LJ_ATTN_DECODE_COUNT; v++) {
    void *d_k = dev_copy(kc.data(), cache_n * 2), *d_v = dev_copy(vc.data(), cache_n * 2);
    void *d_qkv = dev_copy(qkv.data(), qkv.size() * 2), *d_out = dev_poisoned((size_t)n * qd * 2);
    void *d_scratch = dev_poisoned(lj_attn_decode_scratch_bytes(&sh, n));
    size_t cb = lj_attn_decode_counter_bytes(&sh, n);
    void *d_ctr = NULL;
    GPU_OK(cudaMalloc(&d_ctr, cb));
    GPU_OK(cudaMemset(d_ctr, 0, cb));
    if (!lj_attn_decode_fuses_rope(v))
      assert_int_equal(lj_cuda_rope_kv((bf16 *)d_qkv, (bf16 *)d_k, (bf16 *)d_v, (int *)d_seq, (int *)d_pos,
                                       (float *)d_inv, n, n_heads, n_kv, hd, ctx, 0), 0);
    for (int rep = 0; rep < 2; rep++) {
      if (rep == 1) GPU_OK(cudaMemset(d_out, 0xFF, (size_t)n * qd * 2));
      assert_int_equal(lj_cuda_attention_decode_variant(v, (bf16 *)d_out, (bf16 *)d_qkv, (bf16 *)d_k, (bf16 *)d_v,
                                                        (int *)d_seq, (int *)d_pos, (int *)d_len, (float *)d_inv, n,
                                                        &sh, (float *)d_scratch, (unsigned *)d_ctr, 0),
                       0);
    }
    float *out = dev_to_float_bf16(d_out, (size_t)n * qd);
    float *k_after = dev_to_float_bf16(d_k, cache_n), *v_after = dev_to_float_bf16(d_v, cache_n);
    std::vector<unsigned> ctr(cb / 4);
    GPU_OK(cudaMemcpy(ctr.data(), d_ctr, cb, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < ctr.size(); i++)
      if (ctr[i] != 0) fail_msg("%s: counter %zu left at %u", lj_attn_decode_name(v), i, ctr[i]);
    std::vector<float> got_kv;
    std::vector<double> ref_kv;
    for (int t = 0; t < n; t++)
      for (int h = 0; h < n_kv; h++)
        for (int i = 0; i < hd; i++) {
          size_t at = (((size_t)seq[t] * n_kv + h) * ctx + pos[t]) * hd + i;
          got_kv.push_back(k_after[at]), ref_kv.push_back(ref_k[(size_t)t * kvd + h * hd + i]);
          got_kv.push_back(v_after[at]), ref_kv.push_back(__bfloat162float(qkv[(size_t)t * stride + qd + kvd + h * hd + i]));
        }
    double e = rel_err(out, ref.data(), ref.size()), e_kv = rel_err(got_kv.data(), ref_kv.data(), ref_kv.size());
    double e_split = 0;
    size_t differ = 0;
    if (v == LJ_ATTN_DECODE_SPLIT) {
      split_out.assign(out, out + (size_t)n * qd);
    } else {
      std::vector<double> s(split_out.begin(), split_out.end());
      e_split = rel_err(out, s.data(), s.size());
      for (size_t i = 0; i < s.size(); i++) differ += out[i] != split_out[i];
    }
    printf("decode attention %s hd %d group %d kv_heads %d %s (target %d: %d splits of <= %d keys): rel err %.3g, "
           "appended k/v %.3g, against split %.3g (%zu of %d outputs differ)\n",
           lj_attn_decode_name(v), hd, dc.group, n_kv, what, target, sh.n_splits, sh.split_keys, e, e_kv, e_split, differ,
           n * qd);
    if (e > 1e-2 || e_kv > 1e-2 || e_split > 1e-3)
      fail_msg("decode attention %s hd %d group %d %s: rel err %.3g (<= 1e-2), k/v %.3g (<= 1e-2), against split "
               "%.3g (<= 1e-3)",
               lj_attn_decode_name(v), hd, dc.group, what, e, e_kv, e_split);
    free(out), free(k_after), free(v_after);
    cudaFree(d_k), cudaFree(d_v), cudaFree(d_qkv), cudaFree(d_out), cudaFree(d_scratch), cudaFree(d_ctr);
  }
  cudaFree(d_seq), cudaFree(d_pos), cudaFree(d_len), cudaFree(d_inv);
  return split_out;
}

static void test_decode_variants(void **state) {
  (void)state;
  for (const dec_case &dc : g_cases) {
    check_case(dc, {1, 2, 63, 64, 65, 511, 512, 2048}, "8 sequences, kv_len 1..2048");
    check_case(dc, {512}, "1 sequence, kv_len 512");
  }
}

// A target split count (lj_cuda_set_attn_splits, bench_engine --tune): every variant at 1, 2, 8 and
// 32 splits against float64 and split, on caches of 2048 (one split of 2048 keys: 64 KB of scores
// at a group of 8, above the 48 KB a launch gets without asking) and 1024 (the tune's engine).
// One split runs no combine kernel: its output must equal, bit for bit, that of two splits of
// which only the first has keys (kv_len <= 16: one share of 16 keys either way), combined.
static void test_decode_split_counts(void **state) {
  (void)state;
  for (const dec_case &dc : g_cases)
    for (int target : {1, 2, 8, 32}) {
      check_case(dc, {1, 2, 63, 64, 65, 511, 512, 2048}, "8 sequences, kv_len 1..2048, cache 2048", 2048, target);
      check_case(dc, {512}, "1 sequence, kv_len 512, cache 1024", 1024, target);
    }
  // Exactly 48 KiB of scores (a group of 8 x 1536 keys a split: a cache of 3072 in 2 splits) beside the
  // kernel's static arrays: past the default limit, which failed to launch when only the scores
  // were counted against it.
  for (const dec_case &dc : g_cases)
    if (dc.group == 8) check_case(dc, {3072, 1500, 1}, "3 sequences, cache 3072 in 2 splits of 1536 keys", 3072, 2);
  for (const dec_case &dc : g_cases) {
    uint64_t seed = g_seed;
    std::vector<float> one = check_case(dc, {1, 7, 16, 16}, "kv_len <= 16, one split", 1024, 1);
    g_seed = seed;  // the same inputs
    std::vector<float> two = check_case(dc, {1, 7, 16, 16}, "kv_len <= 16, two splits", 1024, 2);
    size_t differ = 0;
    for (size_t i = 0; i < one.size(); i++) differ += memcmp(&one[i], &two[i], 4) != 0;
    printf("decode attention hd %d group %d: one split without the combine against two combined: %zu of %zu "
           "outputs differ\n", dc.hd, dc.group, differ, one.size());
    if (differ) fail_msg("hd %d group %d: one split differs from the combine in %zu outputs", dc.hd, dc.group, differ);
  }
}

// Unknown variants and one-kernel launches without counters are refused, naming what is missing.
static void test_decode_variant_refusals(void **state) {
  (void)state;
  lj_attn_decode_shape sh = lj_attn_decode_plan(32, 8, 64, 512, 1, 132, 0);
  assert_int_equal(lj_cuda_attention_decode_variant(LJ_ATTN_DECODE_COUNT, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                    NULL, 1, &sh, NULL, NULL, 0),
                   LJ_EINVAL);
  assert_int_equal(lj_cuda_attention_decode_variant(LJ_ATTN_DECODE_ONE, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                    NULL, 1, &sh, NULL, NULL, 0),
                   LJ_EINVAL);
  unsigned dummy = 0;
  assert_int_equal(lj_cuda_attention_decode_variant(LJ_ATTN_DECODE_ONE_ROPE, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                    NULL, 1, &sh, NULL, &dummy, 0),
                   LJ_EINVAL);
}

int main(void) {
  gpu_test_require_device();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_variants),
      cmocka_unit_test(test_decode_split_counts),
      cmocka_unit_test(test_decode_variant_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
