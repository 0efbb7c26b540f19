// safetensors and checkpoints: the writer and reader agree bit for bit,
// random weights are deterministic (any thread count) and follow the
// documented distribution, and every kind of bad file fails with a message
// naming the file and the tensor, never a crash.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "model/random_init.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "model/weights_layout.h"

static lj_model_config small_config(void) {
  lj_model_config c;
  assert_int_equal(lj_config_preset("tiny", &c), 0);
  c.vocab_size = 300;  // keep the files small
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

static char tmp_root[256];

static int setup(void **state) {
  (void)state;
  snprintf(tmp_root, sizeof tmp_root, "/tmp/lj_test_st_XXXXXX");
  return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
  return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

static void expect_tensors_equal(const lj_weights *a, const lj_weights *b, int exact_dtype) {
  int n = lj_weight_slot_count(&a->config);
  lj_weight_slot *sa = calloc((size_t)n, sizeof *sa), *sb = calloc((size_t)n, sizeof *sb);
  lj_weights ca = *a, cb = *b;
  lj_weight_slots(&ca, sa);
  lj_weight_slots(&cb, sb);
  for (int i = 0; i < n; i++) {
    const lj_tensor *x = sa[i].t, *y = sb[i].t;
    assert_int_equal(lj_tensor_numel(x), lj_tensor_numel(y));
    if (exact_dtype) assert_int_equal(x->dtype, y->dtype);
    for (int64_t k = 0; k < lj_tensor_numel(x); k++)
      if (lj_load_f32(x->data, x->dtype, (size_t)k) != lj_load_f32(y->data, y->dtype, (size_t)k))
        fail_msg("%s element %lld differs", sa[i].name, (long long)k);
  }
  free(sa);
  free(sb);
}

static void test_random_weights(void **state) {
  (void)state;
  lj_model_config c = small_config();
  lj_weights one, three;
  assert_int_equal(lj_weights_random(&c, 7, 1, &one), 0);
  assert_int_equal(lj_weights_random(&c, 7, 3, &three), 0);
  expect_tensors_equal(&one, &three, 1);
  // Values are the bf16 rounding of model/random_init.h's functions of (seed, tensor id, index).
  const lj_tensor *wq = &one.layers[1].wq, *norm = &one.layers[0].attn_norm;
  for (uint64_t k = 0; k < 100; k++) {
    assert_true(lj_load_f32(wq->data, wq->dtype, k) ==
                lj_round_bf16(lj_random_matrix_weight(7, lj_layer_tensor_id(1, LJ_TENSOR_WQ), k)));
    assert_true(lj_load_f32(norm->data, norm->dtype, k % 64) ==
                lj_round_bf16(lj_random_norm_weight(7, lj_layer_tensor_id(0, LJ_TENSOR_ATTN_NORM), k % 64)));
  }
  // Distribution: matrices uniform with std 0.02, norms within 1 +- 0.1.
  double s = 0, s2 = 0;
  int64_t n = lj_tensor_numel(&one.embed);
  for (int64_t k = 0; k < n; k++) {
    double v = lj_load_f32(one.embed.data, one.embed.dtype, (size_t)k);
    s += v;
    s2 += v * v;
    assert_true(fabs(v) <= 0.0347);
  }
  double mean = s / n, sd = sqrt(s2 / n - mean * mean);
  assert_true(fabs(mean) < 3e-4);
  assert_true(fabs(sd - 0.02) < 3e-4);
  for (int64_t k = 0; k < 64; k++) {
    float v = lj_load_f32(norm->data, norm->dtype, (size_t)k);
    assert_true(v >= 0.899f && v <= 1.101f);
  }
  assert_true(one.lm_head.data == one.embed.data);  // tied
  lj_weights other;
  assert_int_equal(lj_weights_random(&c, 8, 1, &other), 0);
  assert_true(memcmp(other.embed.data, one.embed.data, 64) != 0);  // the seed matters
  lj_weights_free(&other);
  lj_weights_free(&one);
  lj_weights_free(&three);
}

static void test_checkpoint_roundtrip(void **state) {
  (void)state;
  lj_model_config configs[2] = {small_config(), small_config()};
  configs[1].tie_embeddings = 0;
  configs[1].rope_type = LJ_ROPE_DEFAULT;  // and no llama3 parameters (config.json has none then)
  configs[1].rope_factor = configs[1].rope_low_freq_factor = configs[1].rope_high_freq_factor = 0;
  configs[1].rope_original_max_pos = 0;
  lj_dtype types[2] = {LJ_DTYPE_BF16, LJ_DTYPE_F32};
  for (int ci = 0; ci < 2; ci++)
    for (int d = 0; d < 2; d++) {
      lj_weights w, back;
      assert_int_equal(lj_weights_random(&configs[ci], 3, 2, &w), 0);
      char dir[512];
      snprintf(dir, sizeof dir, "%s/ck%d%d", tmp_root, ci, d);
      if (lj_checkpoint_write(dir, &w, types[d]) < 0) fail_msg("%s", lj_error_message());
      if (lj_weights_load(dir, &back) < 0) fail_msg("%s", lj_error_message());
      lj_model_config a = w.config, b = back.config;
      memset(a.name, 0, sizeof a.name);
      memset(b.name, 0, sizeof b.name);
      assert_memory_equal(&a, &b, sizeof a);  // every configuration field survives config.json
      assert_int_equal(back.embed.dtype, types[d]);
      expect_tensors_equal(&w, &back, 0);
      if (configs[ci].tie_embeddings) assert_true(back.lm_head.data == back.embed.data);
      lj_weights_free(&back);
      lj_weights_free(&w);
    }
}

// Builds "<8-byte length><header><data>" and parses it.
static int parse_st(const char *header, size_t data_size, lj_st_file *f) {
  static uint8_t buf[4096] __attribute__((aligned(16)));
  size_t len = strlen(header), h = (len + 7) / 8 * 8;  // padded with spaces like HF's writer
  assert_true(8 + h + data_size <= sizeof buf);
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
  memcpy(buf + 8, header, len);
  memset(buf + 8 + len, ' ', h - len);
  memset(buf + 8 + h, 0, data_size);
  return lj_st_parse(buf, 8 + h + data_size, "bad.safetensors", f);
}

static void expect_parse_error(const char *header, size_t data_size, const char *needle) {
  lj_st_file f;
  int rc = parse_st(header, data_size, &f);
  if (rc != LJ_EINVAL) fail_msg("accepted: %s", header);
  if (!strstr(lj_error_message(), needle) || !strstr(lj_error_message(), "bad.safetensors"))
    fail_msg("error '%s' does not mention '%s' and the file", lj_error_message(), needle);
}

static void test_bad_headers(void **state) {
  (void)state;
  lj_st_file f;
  // A good one first (8-byte padded header, as HF writes it).
  assert_int_equal(parse_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}      ", 8, &f), 0);
  assert_int_equal(f.n_tensors, 1);
  lj_st_close(&f);
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "outside the data");
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16, "overlap");
  expect_parse_error("{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 8, "dtype 'I8'");
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12");
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "begin <= end");
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 8, "shape[0]");
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8, "aligned");
  expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 8, "data_offsets");
  expect_parse_error("{\"a\":[1]}", 8, "not an object");
  expect_parse_error("{\"__metadata__\":3}", 0, "__metadata__");
  expect_parse_error("[]", 0, "not a JSON object");
  expect_parse_error("{\"a\":", 0, "header JSON");
  // Length field beyond the file; file shorter than the length field.
  uint8_t small[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
  assert_int_equal(lj_st_parse(small, sizeof small, "short.safetensors", &f), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "header length 200 goes beyond the end of the file"));
  assert_int_equal(lj_st_parse(small, 5, "short.safetensors", &f), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), "too short"));
}

static void copy_checkpoint(const char *from, const char *to) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", to, from, to);
  assert_int_equal(system(cmd), 0);
}

static void edit_config(const char *dir, const char *from, const char *to) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "sed -i 's/%s/%s/' '%s/config.json'", from, to, dir);
  assert_int_equal(system(cmd), 0);
}

static void expect_load_error(const char *dir, const char *needle1, const char *needle2) {
  lj_weights w;
  int rc = lj_weights_load(dir, &w);
  if (rc >= 0) fail_msg("%s loaded", dir);
  if (!strstr(lj_error_message(), needle1) || (needle2 && !strstr(lj_error_message(), needle2)))
    fail_msg("error '%s' does not mention '%s' / '%s'", lj_error_message(), needle1, needle2 ? needle2 : "");
}

static void test_bad_checkpoints(void **state) {
  (void)state;
  lj_model_config c = small_config();
  c.tie_embeddings = 0;
  lj_weights w;
  assert_int_equal(lj_weights_random(&c, 1, 1, &w), 0);
  char good[512], bad[512], path[600];
  snprintf(good, sizeof good, "%s/good", tmp_root);
  snprintf(bad, sizeof bad, "%s/bad", tmp_root);
  assert_int_equal(lj_checkpoint_write(good, &w, LJ_DTYPE_BF16), 0);
  lj_weights_free(&w);
  // A missing tensor: the configuration asks for a third layer.
  copy_checkpoint(good, bad);
  edit_config(bad, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
  expect_load_error(bad, "tensor 'model.layers.2.input_layernorm.weight' is missing", "expected shape [64]");
  // A wrong shape: intermediate_size disagrees with the MLP matrices.
  copy_checkpoint(good, bad);
  edit_config(bad, "\"intermediate_size\": 160", "\"intermediate_size\": 128");
  expect_load_error(bad, "'model.layers.0.mlp.gate_proj.weight' has shape [160, 64]", "needs [128, 64]");
  // Truncated file: the last tensor's data is cut off.
  copy_checkpoint(good, bad);
  snprintf(path, sizeof path, "%s/model.safetensors", bad);
  assert_int_equal(truncate(path, 100000), 0);
  expect_load_error(bad, "outside the data section", "model.safetensors");
  assert_int_equal(truncate(path, 4), 0);
  expect_load_error(bad, "too short", NULL);
  // No weights at all.
  snprintf(path, sizeof path, "%s/model.safetensors", bad);
  unlink(path);
  expect_load_error(bad, "no model.safetensors", NULL);
  // An index naming a shard that does not exist, one outside the directory, a tensor not in its shard.
  snprintf(path, sizeof path, "%s/model.safetensors.index.json", bad);
  const char *idx1 = "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}";
  write_file(path, idx1, strlen(idx1));
  expect_load_error(bad, "model-00001-of-00002.safetensors", "cannot open");
  const char *idx2 = "{\"weight_map\": {\"model.norm.weight\": \"../good/model.safetensors\"}}";
  write_file(path, idx2, strlen(idx2));
  expect_load_error(bad, "not a file name in the checkpoint directory", NULL);
  char shard[2048];
  snprintf(shard, sizeof shard, "cp '%s/model.safetensors' '%s/shard.safetensors'", good, bad);
  assert_int_equal(system(shard), 0);
  const char *idx3 = "{\"weight_map\": {\"no.such.tensor\": \"shard.safetensors\"}}";
  write_file(path, idx3, strlen(idx3));
  expect_load_error(bad, "no.such.tensor", "does not hold it");
  // A config.json that is not JSON.
  copy_checkpoint(good, bad);
  snprintf(path, sizeof path, "%s/config.json", bad);
  write_file(path, "{\"hidden_size\": 64,", 19);
  expect_load_error(bad, "config.json", "line");
}

// Not regular files: a FIFO once blocked open() until a writer came (so the
// test runs in a child that an alarm ends); a directory as config.json read as a
// JSON syntax error.
static void test_not_regular_files(void **state) {
  (void)state;
  lj_model_config c = small_config();
  lj_weights w;
  assert_int_equal(lj_weights_random(&c, 1, 1, &w), 0);
  char good[512], bad[512], path[600];
  snprintf(good, sizeof good, "%s/good_nr", tmp_root);
  snprintf(bad, sizeof bad, "%s/bad_nr", tmp_root);
  assert_int_equal(lj_checkpoint_write(good, &w, LJ_DTYPE_BF16), 0);
  lj_weights_free(&w);
  copy_checkpoint(good, bad);
  snprintf(path, sizeof path, "%s/model.safetensors", bad);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mkfifo(path, 0600), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(10);
    lj_weights back;
    int rc = lj_weights_load(bad, &back);
    _exit(rc == LJ_EINVAL && strstr(lj_error_message(), "model.safetensors: is not a regular file") ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("a FIFO as model.safetensors: %s", WIFSIGNALED(status) ? "hung (killed by the alarm)" : "wrong error");
  // A FIFO as a shard, named by the index.
  char shard[700];
  snprintf(shard, sizeof shard, "%s/model-00001-of-00001.safetensors", bad);
  assert_int_equal(rename(path, shard), 0);
  snprintf(path, sizeof path, "%s/model.safetensors.index.json", bad);
  const char *idx = "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00001.safetensors\"}}";
  write_file(path, idx, strlen(idx));
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(10);
    lj_weights back;
    int rc = lj_weights_load(bad, &back);
    _exit(rc == LJ_EINVAL && strstr(lj_error_message(), "model-00001-of-00001.safetensors: is not a regular file") ? 0
                                                                                                               : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("a FIFO as a shard: %s", WIFSIGNALED(status) ? "hung (killed by the alarm)" : "wrong error");
  // A directory as config.json.
  copy_checkpoint(good, bad);
  snprintf(path, sizeof path, "%s/config.json", bad);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(mkdir(path, 0700), 0);
  expect_load_error(bad, "config.json: is a directory, not a file", NULL);
}

// A checkpoint that shrinks after it was opened: reading the lost pages raised
// SIGBUS; now the process ends with one line naming the file, exit 3.
static void test_truncated_while_mapped(void **state) {
  (void)state;
  lj_model_config c = small_config();
  lj_weights w;
  assert_int_equal(lj_weights_random(&c, 1, 1, &w), 0);
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/shrinks", tmp_root);
  assert_int_equal(lj_checkpoint_write(dir, &w, LJ_DTYPE_BF16), 0);
  lj_weights_free(&w);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  int err[2];
  assert_int_equal(pipe(err), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    close(err[0]);
    lj_weights back;
    if (lj_weights_load(dir, &back) < 0) _exit(10);
    if (truncate(path, 4096) != 0) _exit(11);
    const lj_tensor *t = &back.layers[1].w_down;  // far past the first page
    volatile const uint8_t *p = t->data;
    uint8_t sum = 0;
    for (int64_t i = 0; i < t->shape[0] * t->shape[1] * 2; i++) sum += p[i];
    _exit(sum == 255 ? 12 : 13);  // not reached: the read raises SIGBUS
  }
  close(err[1]);
  char msg[1024] = {0};
  size_t got = 0;
  ssize_t r;
  while (got < sizeof msg - 1 && (r = read(err[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
  close(err[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status))
    fail_msg("killed by signal %d (stderr: %s)", WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg);
  assert_int_equal(WEXITSTATUS(status), LJ_EXIT_BAD_INPUT);
  assert_non_null(strstr(msg, "llamajoule: error: "));
  assert_non_null(strstr(msg, path));
  assert_non_null(strstr(msg, "shrank while it was in use"));
  int lines = 0;
  for (size_t i = 0; i < got; i++) lines += msg[i] == '\n';
  assert_int_equal(lines, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_weights),
      cmocka_unit_test(test_checkpoint_roundtrip),
      cmocka_unit_test(test_bad_headers),
      cmocka_unit_test(test_bad_checkpoints),
      cmocka_unit_test(test_not_regular_files),
      cmocka_unit_test(test_truncated_while_mapped),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
