// Why no GPU can be used: without a driver at all the reason says so, instead
// of the CUDA runtime's "driver version is insufficient".
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engine/cuda/no_device_reason.h"

enum { CUDA_ERROR_INSUFFICIENT_DRIVER = 35 };

static void test_reason(void **state) {
  (void)state;
  const char *runtime = "CUDA driver version is insufficient for CUDA runtime version";
  void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!driver) {
    assert_string_equal(lj_cuda_no_device_reason(CUDA_ERROR_INSUFFICIENT_DRIVER, runtime),
                        "no NVIDIA driver (libcuda.so.1 not found)");
    assert_string_equal(lj_cuda_no_device_reason(0, NULL), "no NVIDIA driver (libcuda.so.1 not found)");
  } else {
    dlclose(driver);
    assert_string_equal(lj_cuda_no_device_reason(CUDA_ERROR_INSUFFICIENT_DRIVER, runtime), runtime);
    assert_string_equal(lj_cuda_no_device_reason(0, NULL), "no NVIDIA GPU found");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reason)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
