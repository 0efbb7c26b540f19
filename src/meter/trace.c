// In-memory traces: growable arrays of samples and devices.
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "llamajoule/meter.h"

void lj_trace_init(lj_trace *t) { memset(t, 0, sizeof *t); }

void lj_trace_free(lj_trace *t) {
  free(t->samples);
  free(t->devices);
  lj_trace_init(t);
}

int lj_trace_add_device(lj_trace *t, const lj_device_info *info) {
  if (t->n_devices == t->cap_devices) {
    int cap = t->cap_devices ? 2 * t->cap_devices : 4;
    lj_device_info *d = realloc(t->devices, (size_t)cap * sizeof *d);
    if (!d) return LJ_FAIL(LJ_ENOMEM, "out of memory growing a trace to %d devices", cap);
    t->devices = d;
    t->cap_devices = cap;
  }
  t->devices[t->n_devices] = *info;
  t->devices[t->n_devices].index = t->n_devices;
  t->n_devices++;
  return 0;
}

int lj_trace_append(lj_trace *t, const lj_sample *s, size_t n) {
  if (t->n_samples + n > t->cap_samples) {
    size_t cap = t->cap_samples ? t->cap_samples : 1024;
    while (cap < t->n_samples + n) cap *= 2;
    lj_sample *p = realloc(t->samples, cap * sizeof *p);
    if (!p) return LJ_FAIL(LJ_ENOMEM, "out of memory growing a trace to %zu samples", cap);
    t->samples = p;
    t->cap_samples = cap;
  }
  memcpy(t->samples + t->n_samples, s, n * sizeof *s);
  t->n_samples += n;
  return 0;
}

// Stable merge sort by t_ns (qsort is not stable, and equal times keep
// their recorded order: a duplicate stays after its original).
static void merge_sort(lj_sample *a, lj_sample *tmp, size_t n) {
  if (n < 2) return;
  size_t h = n / 2;
  merge_sort(a, tmp, h);
  merge_sort(a + h, tmp, n - h);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = (a[j].t_ns < a[i].t_ns) ? a[j++] : a[i++];
  while (i < h) tmp[k++] = a[i++];
  while (j < n) tmp[k++] = a[j++];
  memcpy(a, tmp, n * sizeof *a);
}

void lj_trace_sort(lj_trace *t) {
  size_t n = t->n_samples;
  int sorted = 1;
  for (size_t i = 1; i < n && sorted; i++) sorted = t->samples[i - 1].t_ns <= t->samples[i].t_ns;
  if (sorted) return;
  lj_sample *tmp = malloc(n * sizeof *tmp);
  if (!tmp) {  // fall back to insertion sort: slow but stable and allocation-free
    for (size_t i = 1; i < n; i++) {
      lj_sample x = t->samples[i];
      size_t j = i;
      while (j > 0 && t->samples[j - 1].t_ns > x.t_ns) { t->samples[j] = t->samples[j - 1]; j--; }
      t->samples[j] = x;
    }
    return;
  }
  merge_sort(t->samples, tmp, n);
  free(tmp);
}
