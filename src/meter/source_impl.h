// What a power source implements (NVML, nvidia-smi, replay). Internal: users
// go through the lj_source_* functions of llamajoule/meter.h.
#pragma once
#include "llamajoule/meter.h"

typedef struct {
  const char *kind;
  int64_t (*now)(lj_source *src);                                   // NULL = lj_mono_ns
  int (*set_now)(lj_source *src, int64_t now_ns);                   // NULL = unsupported
  int (*read)(lj_source *src, int dev, lj_reading r, lj_sample *out);
  int (*drain)(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out);
  int (*stats)(lj_source *src, int dev, lj_source_stats *out);      // NULL = zeros
  void (*close)(lj_source *src);                                    // frees impl
} lj_source_ops;

struct lj_source {
  const lj_source_ops *ops;
  int n_devices;
  lj_device_info *devices;  // (n_devices), owned
  void *impl;
};

// Allocates the common part; the caller fills devices[] and impl.
int lj_source_alloc(lj_source **out, const lj_source_ops *ops, int n_devices);
