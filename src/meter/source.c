// The power-source interface: dispatch to the implementation.
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "meter/source_impl.h"

int lj_source_alloc(lj_source **out, const lj_source_ops *ops, int n_devices) {
  *out = NULL;
  lj_source *src = calloc(1, sizeof *src);
  lj_device_info *devices = calloc(n_devices > 0 ? (size_t)n_devices : 1, sizeof *devices);
  if (!src || !devices) {
    free(src);
    free(devices);
    return LJ_FAIL(LJ_ENOMEM, "out of memory opening the %s power source", ops->kind);
  }
  src->ops = ops;
  src->n_devices = n_devices;
  src->devices = devices;
  *out = src;
  return 0;
}

void lj_source_close(lj_source *src) {
  if (!src) return;
  if (src->ops->close) src->ops->close(src);
  free(src->devices);
  free(src);
}

const char *lj_source_kind(const lj_source *src) { return src->ops->kind; }
int lj_source_device_count(const lj_source *src) { return src->n_devices; }

static int check_device(const lj_source *src, int dev) {
  if (dev < 0 || dev >= src->n_devices)
    return LJ_FAIL(LJ_EINVAL, "%s source: device %d out of range (0..%d)", src->ops->kind, dev, src->n_devices - 1);
  return 0;
}

int lj_source_device_info(const lj_source *src, int dev, lj_device_info *out) {
  LJ_TRY(check_device(src, dev));
  *out = src->devices[dev];
  return 0;
}

int64_t lj_source_now_ns(lj_source *src) { return src->ops->now ? src->ops->now(src) : lj_mono_ns(); }

int lj_source_set_now(lj_source *src, int64_t now_ns) {
  if (!src->ops->set_now) return LJ_FAIL(LJ_EUNSUPPORTED, "%s source follows the host clock", src->ops->kind);
  return src->ops->set_now(src, now_ns);
}

int lj_source_read(lj_source *src, int dev, lj_reading r, lj_sample *out) {
  LJ_TRY(check_device(src, dev));
  if ((unsigned)r >= LJ_READING_COUNT) return LJ_FAIL(LJ_EINVAL, "unknown reading %d", (int)r);
  if (!(src->devices[dev].supported & LJ_READING_BIT(r)))
    return LJ_FAIL(LJ_EUNSUPPORTED, "%s source: device %d does not give %s", src->ops->kind, dev, lj_reading_name(r));
  if (!src->ops->read) return LJ_FAIL(LJ_EUNSUPPORTED, "%s source has no polled readings", src->ops->kind);
  return src->ops->read(src, dev, r, out);
}

int lj_source_drain(lj_source *src, int dev, lj_sample *out, size_t cap, size_t *n_out) {
  *n_out = 0;
  LJ_TRY(check_device(src, dev));
  if (!src->ops->drain) return 0;
  return src->ops->drain(src, dev, out, cap, n_out);
}

int lj_source_stats_get(lj_source *src, int dev, lj_source_stats *out) {
  memset(out, 0, sizeof *out);
  LJ_TRY(check_device(src, dev));
  return src->ops->stats ? src->ops->stats(src, dev, out) : 0;
}
