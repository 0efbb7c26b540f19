// What a power source implements (NVML, nvidia-smi, replay). Internal: users
// go through the lj_source_* functions of llamajoule/meter.h.
#pragma once
#include "llamajoule/meter.h"

typedef struct {
  const char *kind;
  int64_t (*now)(lj_source *src);                                   // NULL = lj_mono_ns
  int (*set_now)(lj_source *src, int64_t now_ns);                   // NULL = unsupported
  int (*read)(lj_source *src, int dev, lj_reading r, lj_sample *out);
  // Optional: several polled readings (LJ_READING_BIT mask) with fewer calls;
  // fills out[] (room for LJ_READING_COUNT) with those that succeeded.
  int (*read_many)(lj_source *src, int dev, uint32_t mask, lj_sample *out, int *n_out);
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

// read_many when the source has it, else one lj_source_read per reading;
// unsupported readings are skipped, *errors counts the other failures.
void lj_source_read_many(lj_source *src, int dev, uint32_t mask, lj_sample *out, int *n_out, int *errors);

// Allocates the common part; the caller fills devices[] and impl.
int lj_source_alloc(lj_source **out, const lj_source_ops *ops, int n_devices);
