// The known answer's copy sized to the model when --known-answer names no size (profile_plan.c):
// an eighth of one layer's bf16 linear weights, at least 16 MiB, at most 2 GiB of buffers over all
// layers. Expected sizes worked by hand from the presets' shapes (params of one layer's q, k, v, o,
// gate, up and down, x 2 bytes / 8):
//   1B  60,817,408 params -> 14 MiB -> 16 (the floor)
//   3B 100,663,296 params -> 24 MiB
//   8B 218,103,808 params -> 52 MiB -> 32 (2 GiB / 32 layers / 2 buffers)
//   70B 855,638,016 params -> 204 MiB -> 12 (2 GiB / 80 / 2) -> 16 (the floor)
// and a size given with --known-answer-mb is kept as given.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model/config.h"
#include "profile/profile_plan.h"

static void test_sizes_by_model(void **state) {
  (void)state;
  const struct { const char *preset; int mb; } want[] = {
      {"llama-3.2-1b", 16}, {"llama-3.2-3b", 24}, {"llama-3.1-8b", 32}, {"llama-3.3-70b", 16}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    lj_model_config c;
    assert_int_equal(lj_config_preset(want[i].preset, &c), 0);
    assert_int_equal(lj_known_answer_mb(&c), want[i].mb);
  }
}

static void test_plan_resolves_the_size(void **state) {
  (void)state;
  lj_profile_options o;
  lj_profile_options_default(&o);
  o.model = "llama-3.2-3b";
  lj_profile_plan p;
  const char *ckpt = NULL;
  o.known_answer_mb = LJ_KNOWN_ANSWER_AUTO;
  assert_int_equal(lj_profile_plan_make(&o, &p, &ckpt), 0);
  assert_int_equal(p.known_answer_bytes, (int64_t)24 << 20);
  o.known_answer_mb = 8;
  assert_int_equal(lj_profile_plan_make(&o, &p, &ckpt), 0);
  assert_int_equal(p.known_answer_bytes, (int64_t)8 << 20);
  o.known_answer_mb = 0;
  assert_int_equal(lj_profile_plan_make(&o, &p, &ckpt), 0);
  assert_int_equal(p.known_answer_bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes_by_model),
      cmocka_unit_test(test_plan_resolves_the_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
