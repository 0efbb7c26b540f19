// libFuzzer target: the config.json reader (and lj_config_validate) on arbitrary text,
// and the safetensors index reader on the same bytes.
#include <stdint.h>

#include "model/config.h"
#include "model/safetensors.h"

static int count_entry(void *ctx, const char *tensor, const char *shard) {
  (void)tensor;
  (void)shard;
  ++*(int *)ctx;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lj_model_config c;
  if (lj_config_from_json_text((const char *)data, size, "fuzz/config.json", &c) == 0) {
    // A valid configuration must give sane derived sizes.
    if (lj_q_dim(&c) <= 0 || lj_kv_dim(&c) <= 0 || lj_config_n_params(&c) <= 0) __builtin_trap();
  }
  int n = 0;
  lj_st_index_parse((const char *)data, size, "fuzz/model.safetensors.index.json", count_entry, &n);
  return 0;
}
