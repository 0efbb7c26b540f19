// A one-line progress indicator on stderr, drawn only when stderr is a
// terminal (so logs and CI output stay clean).
#pragma once
#include <stdint.h>

typedef struct {
  const char *label;
  int64_t total;      // units of work; 0 = unknown
  int64_t last_draw_ns;
  int enabled;
} lj_progress;

void lj_progress_begin(lj_progress *p, const char *label, int64_t total);
void lj_progress_update(lj_progress *p, int64_t done);  // redraws at most 10x/s
void lj_progress_end(lj_progress *p);
