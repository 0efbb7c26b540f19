// Models for the tensor-parallel tests: a preset by name, and tiny-untied with 4 KV heads
// (8 query heads in groups of 2, intermediate size 200), the tiny model that splits 4 ways.
#pragma once
#include <stdio.h>

#include "common/error.h"
#include "model/config.h"

static inline lj_model_config tp_test_preset(const char *name) {
  lj_model_config c;
  if (lj_config_preset(name, &c) < 0) fail_msg("%s", lj_error_message());
  return c;
}

static inline lj_model_config tp_test_tiny_kv4(void) {
  lj_model_config c = tp_test_preset("tiny-untied");
  c.n_kv_heads = 4;
  snprintf(c.name, sizeof c.name, "tiny-kv4");
  return c;
}
