// config.json: the fixtures' configurations (both HF forms) read back to
// what make_fixtures.py asked for; every kind of bad field fails naming the
// file and the field; presets validate.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "common/error.h"
#include "model/config.h"

static void fixture_config(const char *name, lj_model_config *c) {
  const char *src = getenv("LLAMAJOULE_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/models/%s/config.json", src ? src : ".", name);
  if (lj_config_from_json(path, c) < 0) fail_msg("%s", lj_error_message());
}

static void test_fixture_configs(void **state) {
  (void)state;
  lj_model_config c;
  fixture_config("gqa4-tied-llama3", &c);  // legacy form: rope_theta + rope_scaling
  assert_string_equal(c.name, "gqa4-tied-llama3");
  assert_int_equal(c.dim, 64);
  assert_int_equal(c.n_heads, 8);
  assert_int_equal(c.n_kv_heads, 2);
  assert_int_equal(c.head_dim, 16);  // != 64 / 8
  assert_int_equal(c.tie_embeddings, 1);
  assert_int_equal(c.rope_type, LJ_ROPE_LLAMA3);
  assert_true(c.rope_theta == 500000.0 && c.rope_factor == 8.0 && c.rope_high_freq_factor == 4.0);
  assert_int_equal(c.rope_original_max_pos, 64);
  assert_int_equal(c.max_seq_len, 128);
  fixture_config("gqa2-headdim24-v5config", &c);  // transformers 5 form: rope_parameters
  assert_int_equal(c.head_dim, 24);
  assert_int_equal(c.rope_type, LJ_ROPE_LLAMA3);
  assert_true(c.rope_theta == 500000.0 && c.rope_factor == 32.0);
  assert_int_equal(c.tie_embeddings, 0);
  fixture_config("mha-untied-norope", &c);  // rope_scaling: null, head_dim from hidden / heads
  assert_int_equal(c.rope_type, LJ_ROPE_DEFAULT);
  assert_int_equal(c.head_dim, 12);
  assert_true(c.norm_eps == 1e-6);
  fixture_config("mqa-tied-sharded", &c);  // eos as a list: the first
  assert_int_equal(c.n_kv_heads, 1);
  assert_int_equal(c.eos_id, 2);
}

static const char *base =
    "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
    "\"vocab_size\": 100, \"rms_norm_eps\": 1e-5";

// Parses the base fields with those of `extra` replacing them (or `whole` when given).
static int parse(const char *extra, const char *whole, lj_model_config *c) {
  char text[2048];
  if (whole) {
    snprintf(text, sizeof text, "%s", whole);
  } else {
    char a[1024], b[1024];
    snprintf(a, sizeof a, "{%s}", base);
    snprintf(b, sizeof b, "{%s}", extra);
    json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
    assert_non_null(ja);
    assert_non_null(jb);
    json_object_update(ja, jb);
    char *dumped = json_dumps(ja, 0);
    snprintf(text, sizeof text, "%s", dumped);
    free(dumped);
    json_decref(ja);
    json_decref(jb);
  }
  return lj_config_from_json_text(text, strlen(text), "dir/config.json", c);
}

static void expect_error(const char *extra, const char *whole, const char *needle) {
  lj_model_config c;
  int rc = parse(extra, whole, &c);
  if (rc != LJ_EINVAL) fail_msg("accepted: %s", whole ? whole : extra);
  if (!strstr(lj_error_message(), needle) || !strstr(lj_error_message(), "dir/config.json"))
    fail_msg("error '%s' does not mention '%s' and the file", lj_error_message(), needle);
}

static void test_good_variants(void **state) {
  (void)state;
  lj_model_config c;
  assert_int_equal(parse("", NULL, &c), 0);
  assert_int_equal(c.head_dim, 16);
  assert_int_equal(c.rope_type, LJ_ROPE_DEFAULT);
  assert_true(c.rope_theta == 10000.0);  // HF default
  assert_int_equal(c.max_seq_len, 2048);
  assert_int_equal(parse("\"head_dim\": 40", NULL, &c), 0);  // hidden != heads * head_dim is fine when given
  assert_int_equal(c.head_dim, 40);
  assert_int_equal(parse("\"rope_scaling\": {\"type\": \"default\"}, \"torch_dtype\": \"bfloat16\"", NULL, &c), 0);
  assert_int_equal(parse("\"bos_token_id\": 1, \"eos_token_id\": [7, 9]", NULL, &c), 0);
  assert_int_equal(c.eos_id, 7);
  assert_int_equal(parse("\"rope_parameters\": {\"rope_theta\": 123.0}", NULL, &c), 0);
  assert_true(c.rope_theta == 123.0);
}

static void test_bad_fields(void **state) {
  (void)state;
  expect_error("", "{\"hidden_size\": 64}", "intermediate_size");  // missing
  expect_error("", "[1, 2]", "JSON object");
  expect_error("", "{\"hidden_size\": ", "line 1");  // truncated JSON
  expect_error("\"head_dim\": \"8\"", NULL, "'head_dim' must be an integer");
  expect_error("\"tie_word_embeddings\": 1", NULL, "tie_word_embeddings");
  expect_error("\"rms_norm_eps\": \"x\"", NULL, "rms_norm_eps");
  expect_error("", "{\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
               "\"num_attention_heads\": 5, \"vocab_size\": 100}", "not divisible");  // head_dim missing, 64 % 5
  expect_error("\"num_key_value_heads\": 3", NULL, "not a multiple of num_key_value_heads 3");
  expect_error("\"num_hidden_layers\": 0", NULL, "num_hidden_layers");
  expect_error("\"head_dim\": 7", NULL, "must be even");
  expect_error("\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}", NULL, "'yarn'");
  expect_error("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}", NULL, "low_freq_factor");
  expect_error("\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, "
               "\"high_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192}", NULL, "high_freq_factor");
  expect_error("\"rope_scaling\": 3", NULL, "rope_scaling");
  expect_error("\"model_type\": \"mistral\"", NULL, "model_type");
  expect_error("\"attention_bias\": true", NULL, "attention_bias");
  expect_error("\"hidden_act\": \"gelu\"", NULL, "hidden_act");
  expect_error("\"eos_token_id\": [1, \"x\"]", NULL, "eos_token_id[1]");
  expect_error("\"eos_token_id\": 100", NULL, "outside vocab_size");
  expect_error("\"vocab_size\": 1e3", NULL, "'vocab_size' must be an integer");  // a real
  expect_error("\"num_hidden_layers\": 99999999999", NULL, "out of range");
  // Duplicate keys are refused rather than silently taking one.
  expect_error("", "{\"hidden_size\": 32, \"hidden_size\": 64}", "duplicate");
}

static void test_presets_validate(void **state) {
  (void)state;
  for (const char *const *n = lj_config_preset_names(); *n; n++) {
    lj_model_config c;
    assert_int_equal(lj_config_preset(*n, &c), 0);
    if (lj_config_validate(&c, *n) < 0) fail_msg("%s", lj_error_message());
  }
  lj_model_config c;
  assert_int_equal(lj_config_preset("llama-3.2-1b", &c), 0);
  assert_true(lj_config_n_params(&c) == 1235814400);  // published parameter count of Llama 3.2 1B
  lj_model_config missing;
  char path[] = "/nonexistent/config.json";
  assert_int_equal(lj_config_from_json(path, &missing), LJ_EINVAL);
  assert_non_null(strstr(lj_error_message(), path));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture_configs),
      cmocka_unit_test(test_good_variants),
      cmocka_unit_test(test_bad_fields),
      cmocka_unit_test(test_presets_validate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
