// A checkpoint's tensors that its configuration does not use: the tiny checkpoint (2 layers) with
// num_hidden_layers set to 1 loaded and ran 1 layer, silently. Now the first such tensor is an
// error naming it and the field; the ones published Llama checkpoints carry unread (RoPE's
// inv_freq, a tied lm_head, FP8 activation and KV-cache scales) still load. The same checks
// refuse a checkpoint before a profile stores anything (lj_weights_check_checkpoint).
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "model/weights.h"

static char tmp_root[256], good[512], bad[512];

// The tiny preset with a small vocabulary, untied (it has lm_head.weight), written once.
static int setup(void **state) {
  (void)state;
  const char *dir = getenv("TMPDIR");
  snprintf(tmp_root, sizeof tmp_root, "%s/lj_test_unused_XXXXXX", dir && *dir ? dir : P_tmpdir);
  if (!mkdtemp(tmp_root)) return -1;
  snprintf(good, sizeof good, "%s/good", tmp_root);
  snprintf(bad, sizeof bad, "%s/bad", tmp_root);
  lj_model_config c;
  if (lj_config_preset("tiny", &c) < 0) return -1;
  c.vocab_size = 300, c.bos_id = 1, c.eos_id = 2, c.tie_embeddings = 0;
  lj_weights w;
  if (lj_weights_random(&c, 1, 1, &w) < 0) return -1;
  int rc = lj_checkpoint_write(good, &w, LJ_DTYPE_BF16);
  lj_weights_free(&w);
  return rc < 0 ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
  return system(cmd) == 0 ? 0 : -1;
}

static void fresh_copy(void) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", bad, good, bad);
  assert_int_equal(system(cmd), 0);
}

static void edit_config(const char *from, const char *to) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "sed -i 's/%s/%s/' '%s/config.json'", from, to, bad);
  assert_int_equal(system(cmd), 0);
}

// Appends a zero-filled tensor `name` of `dtype` and `shape` (n dims) to bad/model.safetensors:
// a header entry after the others, its data at the end of the data section (8-byte aligned).
static void add_tensor(const char *name, const char *dtype, const int64_t *shape, int n, size_t elem) {
  char path[600];
  snprintf(path, sizeof path, "%s/model.safetensors", bad);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  size_t size = (size_t)ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *buf = malloc(size);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, size, fp), size);
  fclose(fp);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
  json_t *root = json_loadb((const char *)buf + 8, hlen, 0, NULL);
  assert_non_null(root);
  size_t data_size = size - 8 - hlen, begin = (data_size + 7) / 8 * 8, numel = 1;
  json_t *dims = json_array();
  for (int d = 0; d < n; d++) json_array_append_new(dims, json_integer(shape[d])), numel *= (size_t)shape[d];
  json_t *offs = json_array();
  json_array_append_new(offs, json_integer((json_int_t)begin));
  json_array_append_new(offs, json_integer((json_int_t)(begin + numel * elem)));
  json_object_set_new(root, name, json_pack("{s:s, s:o, s:o}", "dtype", dtype, "shape", dims, "data_offsets", offs));
  char *text = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  size_t tlen = strlen(text), padded = (tlen + 7) / 8 * 8;
  fp = fopen(path, "wb");
  assert_non_null(fp);
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
  fwrite(le, 1, 8, fp);
  fwrite(text, 1, tlen, fp);
  for (size_t i = tlen; i < padded; i++) fputc(' ', fp);
  fwrite(buf + 8 + hlen, 1, data_size, fp);
  for (size_t i = data_size; i < begin + numel * elem; i++) fputc(0, fp);
  fclose(fp);
  free(text);
  free(buf);
}

static void expect_loads(void) {
  lj_weights w;
  if (lj_weights_load(bad, &w) < 0) fail_msg("%s", lj_error_message());
  lj_weights_free(&w);
  if (lj_weights_check_checkpoint(bad) < 0) fail_msg("%s", lj_error_message());
}

static void expect_refused(const char *part1, const char *part2) {
  lj_weights w;
  assert_int_equal(lj_weights_load(bad, &w), LJ_EINVAL);
  if (!strstr(lj_error_message(), part1) || !strstr(lj_error_message(), part2))
    fail_msg("error '%s' does not say '%s' and '%s'", lj_error_message(), part1, part2);
  assert_int_equal(lj_weights_check_checkpoint(bad), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), part1));
}

static void test_more_layers_than_the_config(void **state) {
  (void)state;
  fresh_copy();
  expect_loads();
  edit_config("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1");
  expect_refused("tensor 'model.layers.1.input_layernorm.weight' belongs to layer 1",
                 "config.json's num_hidden_layers is 1");
}

// Accepted and unread: each a tensor that published Llama checkpoints carry.
static void test_accepted_extras(void **state) {
  (void)state;
  const int64_t rope[1] = {12}, scalar[1] = {1};
  fresh_copy();
  add_tensor("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", rope, 1, 4);  // transformers < 4.31
  add_tensor("model.layers.1.mlp.down_proj.input_scale", "F32", scalar, 0, 4);     // static FP8 activations
  add_tensor("model.layers.1.self_attn.k_scale", "F32", scalar, 0, 4);             // FP8 KV cache
  expect_loads();
  // lm_head.weight saved beside tied embeddings: transformers ties it to them after loading
  edit_config("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true");
  expect_loads();
}

static void test_tensors_never_read(void **state) {
  (void)state;
  const int64_t bias[1] = {64}, head[2] = {300, 64};
  fresh_copy();
  add_tensor("model.layers.0.self_attn.o_proj.bias", "BF16", bias, 1, 2);
  expect_refused("tensor 'model.layers.0.self_attn.o_proj.bias' is a bias", "attention_bias is false");
  fresh_copy();
  add_tensor("model.layers.1.mlp.down_proj.bias", "BF16", bias, 1, 2);
  expect_refused("'model.layers.1.mlp.down_proj.bias' is a bias", "mlp_bias is false");
  fresh_copy();
  add_tensor("score.weight", "BF16", head, 2, 2);  // a classification head: not a causal LM's
  expect_refused("tensor 'score.weight' is not one a Llama model of this configuration uses", "2 layers");
  // rotary_emb.inv_freq of a layer the configuration does not have is an extra layer
  fresh_copy();
  add_tensor("model.layers.2.self_attn.rotary_emb.inv_freq", "F32", bias, 1, 4);
  expect_refused("belongs to layer 2", "num_hidden_layers is 2");
}

// The header checks before a profile stores anything: those of the loader, no weights read.
static void test_check_checkpoint(void **state) {
  (void)state;
  char path[600];
  fresh_copy();
  assert_int_equal(lj_weights_check_checkpoint(bad), 0);
  edit_config("\"intermediate_size\": 160", "\"intermediate_size\": 128");
  assert_int_equal(lj_weights_check_checkpoint(bad), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "'model.layers.0.mlp.gate_proj.weight' has shape [160, 64]"));
  fresh_copy();
  snprintf(path, sizeof path, "%s/model.safetensors", bad);
  assert_int_equal(truncate(path, 100000), 0);
  assert_int_equal(lj_weights_check_checkpoint(bad), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "outside the data section"));
  assert_int_equal(unlink(path), 0);
  assert_int_equal(lj_weights_check_checkpoint(bad), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "no model.safetensors"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_more_layers_than_the_config),
      cmocka_unit_test(test_accepted_extras),
      cmocka_unit_test(test_tensors_never_read),
      cmocka_unit_test(test_check_checkpoint),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
