#include "common/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "common/clock.h"

void lj_progress_begin(lj_progress *p, const char *label, int64_t total) {
  p->label = label;
  p->total = total;
  p->last_draw_ns = 0;
  p->enabled = isatty(STDERR_FILENO);
}

void lj_progress_update(lj_progress *p, int64_t done) {
  if (!p->enabled) return;
  int64_t now = lj_mono_ns();
  if (now - p->last_draw_ns < 100000000 && done != p->total) return;
  p->last_draw_ns = now;
  if (p->total > 0)
    fprintf(stderr, "\r%s: %lld/%lld (%.0f%%)\033[K", p->label, (long long)done, (long long)p->total,
            100.0 * (double)done / (double)p->total);
  else
    fprintf(stderr, "\r%s: %lld\033[K", p->label, (long long)done);
  fflush(stderr);
}

void lj_progress_end(lj_progress *p) {
  if (!p->enabled) return;
  fprintf(stderr, "\r\033[K");
  fflush(stderr);
}
