// Appends one sample to a trace the meter tests replay. Include after <cmocka.h>.
#pragma once
#include <string.h>

#include "llamajoule/meter.h"

static inline void trace_add(lj_trace *t, int dev, lj_reading r, int64_t t_ns, double v) {
  lj_sample s;
  memset(&s, 0, sizeof s);
  s.t_ns = t_ns;
  s.device = (uint16_t)dev;
  s.reading = (uint8_t)r;
  s.value = v;
  assert_int_equal(lj_trace_append(t, &s, 1), 0);
}
