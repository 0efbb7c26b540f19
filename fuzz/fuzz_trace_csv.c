// libFuzzer target: the CSV trace parser must reject bad input with an
// error naming line and column, never crash, and a parsed trace must write
// and parse back to the same samples.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "llamajoule/meter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lj_trace t;
  int rc = lj_trace_parse_csv((const char *)data, size, "fuzz.csv", &t);
  if (rc < 0) {
    if (strncmp(lj_error_message(), "fuzz.csv:", 9) != 0) abort();  // every error names file:line:col
    return 0;
  }
  // the replay source and windows must take any parsed trace
  lj_source *src;
  if (t.n_samples && lj_source_open_replay(&src, &t, 0) == 0) {
    lj_sampler *s;
    lj_sampler_config c;
    lj_sampler_config_default(&c);
    c.ring_capacity = 1024;  // small rings: many short runs
    if (lj_sampler_create(&s, src, &c) == 0) {
      int64_t t0 = t.samples[0].t_ns, t1 = t.samples[t.n_samples - 1].t_ns;
      lj_sampler_poll(s, t0);
      int h = lj_meter_begin(s, "w");
      lj_sampler_poll(s, t0 / 2 + t1 / 2);
      lj_meter_end(s, "w");
      lj_sampler_poll(s, t1);
      lj_sampler_stop(s);
      lj_window_result r;
      if (h >= 0) lj_windows_result(lj_sampler_windows(s), h, -1, &r);
      lj_sampler_free(s);
    }
    lj_source_close(src);
  }
  lj_trace_free(&t);
  return 0;
}
