#include "profile/part_times.h"

#include <stdio.h>
#include <string.h>

void lj_part_times_init(lj_part_times *p, int64_t now_ns) {
  memset(p, 0, sizeof *p);
  p->begin_ns = p->t0_ns = now_ns;
}

void lj_part_start(lj_part_times *p, int64_t now_ns) { p->t0_ns = now_ns; }

void lj_part_end(lj_part_times *p, const char *name, int64_t now_ns) {
  double s = (double)(now_ns - p->t0_ns) * 1e-9;
  p->t0_ns = now_ns;
  int i = 0;
  while (i < p->n && strcmp(p->name[i], name) != 0) i++;
  if (i == p->n) {
    if (p->n == LJ_PART_MAX) {
      i = LJ_PART_MAX - 1;
      p->name[i] = "more";  // this slot's first part and every later one
    } else {
      p->name[p->n++] = name;
    }
  }
  p->s[i] += s;
}

int lj_part_times_format(const lj_part_times *p, int64_t now_ns, char *buf, size_t size) {
  double total = (double)(now_ns - p->begin_ns) * 1e-9, held = 0;
  size_t len = 0;
  if (size) buf[0] = '\0';
  for (int i = 0; i < p->n; i++) {
    held += p->s[i];
    int k = snprintf(buf + (len < size ? len : size), len < size ? size - len : 0, "%s%s %.1f s", i ? ", " : "",
                     p->name[i], p->s[i]);
    if (k < 0) return k;
    len += (size_t)k;
  }
  int k = snprintf(buf + (len < size ? len : size), len < size ? size - len : 0, "%sother %.1f s (of %.1f s)",
                   p->n ? ", " : "", total - held, total);
  return k < 0 ? k : (int)(len + (size_t)k);
}
