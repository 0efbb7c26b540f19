// libFuzzer target: the nvidia-smi line parser (both layouts) must reject
// bad lines with an error naming line and column, and never crash.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "meter/smi_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const lj_smi_layout *layouts[2] = {lj_smi_layout_default(), lj_smi_layout_legacy()};
  for (int i = 0; i < 2; i++) {
    lj_smi_record r;
    int rc = lj_smi_parse_line(layouts[i], (const char *)data, size, "smi", 7, &r);
    if (rc < 0 && strncmp(lj_error_message(), "smi:7:", 6) != 0) abort();
    if (rc == 0 && (r.present >> LJ_READING_COUNT) != 0) abort();
  }
  return 0;
}
