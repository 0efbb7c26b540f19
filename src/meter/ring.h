// A bounded single-producer single-consumer ring of samples. The producer
// (a sampler thread) never blocks: when the ring is full, new samples are
// dropped and counted.
#pragma once
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"

typedef struct {
  lj_sample *buf;  // (cap), cap a power of two
  size_t cap;
  _Atomic size_t head;  // next slot to write (producer)
  _Atomic size_t tail;  // next slot to read (consumer)
  _Atomic uint64_t dropped;
} lj_ring;

int lj_ring_init(lj_ring *r, size_t min_capacity);
void lj_ring_free(lj_ring *r);
size_t lj_ring_push(lj_ring *r, const lj_sample *s, size_t n);  // returns how many fit
size_t lj_ring_pop(lj_ring *r, lj_sample *out, size_t max);
