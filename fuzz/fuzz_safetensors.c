// libFuzzer target: the safetensors header parser on arbitrary file contents.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // An 8-aligned copy, as mmap would give.
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  lj_st_file f;
  if (lj_st_parse(buf, size, "fuzz.safetensors", &f) == 0) {
    for (int i = 0; i < f.n_tensors; i++) {
      // Touch every tensor's first and last byte: the offsets must be inside the buffer.
      const lj_st_tensor *t = &f.tensors[i];
      if (t->end > t->begin) {
        volatile uint8_t a = ((const uint8_t *)t->data)[0];
        volatile uint8_t b = ((const uint8_t *)t->data)[t->end - t->begin - 1];
        (void)a;
        (void)b;
      }
    }
    lj_st_close(&f);  // no map: frees the tensor list only
  }
  free(buf);
  return 0;
}
