#include "meter/smi_parse.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "meter/csv_field.h"

#define COL(q, k, r) {q, k, r}

static lj_smi_layout build(const char *const *q, const int *k, const int *r, int n) {
  lj_smi_layout l;
  memset(&l, 0, sizeof l);
  l.n = n;
  for (int i = 0; i < n; i++) {
    l.query[i] = q[i];
    l.kind[i] = k[i];
    l.reading[i] = r[i];
  }
  return l;
}

const lj_smi_layout *lj_smi_layout_default(void) {
  static const char *const q[] = {"timestamp", "index", "uuid", "pci.bus_id", "power.draw", "power.draw.average",
                                  "power.draw.instant", "enforced.power.limit", "clocks.sm", "clocks.mem",
                                  "temperature.gpu", "utilization.gpu", "utilization.memory", "clocks_event_reasons.active"};
  static const int k[] = {LJ_SMI_TIMESTAMP, LJ_SMI_INDEX, LJ_SMI_UUID, LJ_SMI_PCI_BUS_ID, LJ_SMI_READING,
                          LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING,
                          LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING};
  // power.draw is the 1 s average on Ampere and newer; power.draw.average, when given, wins (later column)
  static const int r[] = {-1, -1, -1, -1, LJ_READING_POWER_AVG, LJ_READING_POWER_AVG, LJ_READING_POWER_INSTANT,
                          LJ_READING_POWER_LIMIT, LJ_READING_CLOCK_SM, LJ_READING_CLOCK_MEM, LJ_READING_TEMPERATURE,
                          LJ_READING_UTIL_GPU, LJ_READING_UTIL_MEM, LJ_READING_THROTTLE};
  static lj_smi_layout l;
  static int init;
  if (!init) {
    l = build(q, k, r, (int)(sizeof q / sizeof q[0]));
    init = 1;
  }
  return &l;
}

const lj_smi_layout *lj_smi_layout_legacy(void) {
  static const char *const q[] = {"timestamp", "index", "uuid", "pci.bus_id", "power.draw", "enforced.power.limit",
                                  "clocks.sm", "clocks.mem", "temperature.gpu", "utilization.gpu",
                                  "utilization.memory", "clocks_throttle_reasons.active"};
  static const int k[] = {LJ_SMI_TIMESTAMP, LJ_SMI_INDEX, LJ_SMI_UUID, LJ_SMI_PCI_BUS_ID, LJ_SMI_READING,
                          LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING, LJ_SMI_READING,
                          LJ_SMI_READING, LJ_SMI_READING};
  // older GPUs: power.draw is an instant reading
  static const int r[] = {-1, -1, -1, -1, LJ_READING_POWER_INSTANT, LJ_READING_POWER_LIMIT, LJ_READING_CLOCK_SM,
                          LJ_READING_CLOCK_MEM, LJ_READING_TEMPERATURE, LJ_READING_UTIL_GPU, LJ_READING_UTIL_MEM,
                          LJ_READING_THROTTLE};
  static lj_smi_layout l;
  static int init;
  if (!init) {
    l = build(q, k, r, (int)(sizeof q / sizeof q[0]));
    init = 1;
  }
  return &l;
}

void lj_smi_query_string(const lj_smi_layout *l, char *out, size_t cap) {
  size_t pos = 0;
  out[0] = '\0';
  for (int i = 0; i < l->n && pos < cap; i++) {
    int w = snprintf(out + pos, cap - pos, "%s%s", i ? "," : "", l->query[i]);
    if (w < 0) break;
    pos += (size_t)w;
  }
}

#define BAD(col, ...) bad((name), line_no, (col), __FILE__, __LINE__, __VA_ARGS__)
static int bad(const char *name, int line_no, int col, const char *src, int src_line, const char *fmt, ...)
    LJ_PRINTF(6, 7);
static int bad(const char *name, int line_no, int col, const char *src, int src_line, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return lj_fail(LJ_EINVAL, src, src_line, "%s:%d:%d: %s", name, line_no, col, what);
}

// Fixed-width decimal digits; -1 when not digits.
static int digits(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "YYYY/MM/DD HH:MM:SS.mmm" (the fraction optional, 1..6 digits)
static int parse_timestamp(const char *p, size_t len, int64_t *us) {
  if (len < 19 || p[4] != '/' || p[7] != '/' || p[10] != ' ' || p[13] != ':' || p[16] != ':') return -1;
  int y = digits(p, 4), mo = digits(p + 5, 2), d = digits(p + 8, 2);
  int h = digits(p + 11, 2), mi = digits(p + 14, 2), s = digits(p + 17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
    return -1;
  int64_t frac = 0;
  if (len > 19) {
    if (p[19] != '.' || len == 20 || len > 26) return -1;
    int n = (int)len - 20;
    int f = digits(p + 20, n);
    if (f < 0) return -1;
    frac = f;
    for (int i = n; i < 6; i++) frac *= 10;
  }
  *us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000) + frac;
  return 0;
}

static int parse_hex(const char *p, size_t len, double *out) {
  if (len < 3 || len > 18 || p[0] != '0' || (p[1] != 'x' && p[1] != 'X')) return -1;
  uint64_t v = 0;
  for (size_t i = 2; i < len; i++) {
    char c = p[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
    else return -1;
    v = v * 16 + d;
  }
  *out = (double)v;
  return 0;
}

static int is_no_value(const lj_csv_field *f) {
  return (f->len >= 2 && f->p[0] == '[' && f->p[f->len - 1] == ']') || lj_field_is(f, "N/A");
}

static int copy_id(const lj_csv_field *f, char *dst, size_t cap) {
  if (f->len == 0 || f->len >= cap) return -1;
  for (size_t i = 0; i < f->len; i++)
    if ((unsigned char)f->p[i] <= 0x20 || (unsigned char)f->p[i] >= 0x7f || f->p[i] == ',') return -1;
  memcpy(dst, f->p, f->len);
  dst[f->len] = '\0';
  return 0;
}

int lj_smi_parse_line(const lj_smi_layout *l, const char *line, size_t len, const char *name, int line_no,
                      lj_smi_record *out) {
  if (!name) name = "nvidia-smi";
  memset(out, 0, sizeof *out);
  out->index = -1;
  if (len && line[len - 1] == '\r') len--;
  if (memchr(line, '\0', len)) return BAD((int)((const char *)memchr(line, '\0', len) - line) + 1, "NUL byte");
  lj_csv_field f[LJ_SMI_MAX_COLUMNS];
  int n = lj_csv_split(line, len, ',', 1, f, LJ_SMI_MAX_COLUMNS);
  if (n != l->n) return BAD(1, "expected %d comma-separated columns (%s, ...), found %d", l->n, l->query[0], n < 0 ? LJ_SMI_MAX_COLUMNS + 1 : n);
  for (int i = 0; i < n; i++) {
    const lj_csv_field *c = &f[i];
    switch (l->kind[i]) {
      case LJ_SMI_TIMESTAMP:
        if (parse_timestamp(c->p, c->len, &out->local_us) != 0)
          return BAD(c->col, "%s: expected YYYY/MM/DD HH:MM:SS.mmm", l->query[i]);
        break;
      case LJ_SMI_INDEX: {
        int64_t v;
        if (lj_parse_i64(c->p, c->len, &v) != 0 || v < 0 || v > 65535)
          return BAD(c->col, "%s: expected a GPU index 0..65535", l->query[i]);
        out->index = (int)v;
        break;
      }
      case LJ_SMI_UUID:
        if (copy_id(c, out->uuid, sizeof out->uuid) != 0) return BAD(c->col, "%s: expected a GPU UUID", l->query[i]);
        break;
      case LJ_SMI_PCI_BUS_ID:
        if (copy_id(c, out->pci_bus_id, sizeof out->pci_bus_id) != 0)
          return BAD(c->col, "%s: expected a PCI bus id", l->query[i]);
        break;
      default: {
        int r = l->reading[i];
        if (is_no_value(c)) break;
        double v;
        int ok = r == LJ_READING_THROTTLE ? parse_hex(c->p, c->len, &v) : lj_parse_f64(c->p, c->len, &v);
        if (ok != 0 || (r != LJ_READING_THROTTLE && v < 0))
          return BAD(c->col, "%s: expected %s, [N/A] or [Not Supported]", l->query[i],
                     r == LJ_READING_THROTTLE ? "a hex mask 0x..." : "a non-negative number");
        out->value[r] = v;
        out->present |= LJ_READING_BIT(r);
      }
    }
  }
  return 0;
}
