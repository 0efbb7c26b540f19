#include "meter/csv_field.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int lj_csv_split(const char *line, size_t len, char sep, int trim, lj_csv_field *fields, int max) {
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && line[i] != sep) continue;
    if (n == max) return -1;
    size_t a = start, b = i;
    if (trim) {
      while (a < b && line[a] == ' ') a++;
      while (b > a && line[b - 1] == ' ') b--;
    }
    fields[n].p = line + a;
    fields[n].len = b - a;
    fields[n].col = (int)a + 1;
    n++;
    start = i + 1;
  }
  return n;
}

int lj_parse_i64(const char *p, size_t len, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (i < len && p[i] == '-') { neg = 1; i++; }
  if (i == len) return -1;
  uint64_t v = 0;
  const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < len; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    unsigned d = (unsigned)(p[i] - '0');
    if (v > (limit - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

int lj_parse_f64(const char *p, size_t len, double *out) {
  char buf[64];
  if (len == 0 || len >= sizeof buf) return -1;
  // strtod accepts leading spaces, hex, "inf" and "nan": allow only a plain decimal form
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return -1;
  }
  memcpy(buf, p, len);
  buf[len] = '\0';
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + len || errno == ERANGE || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int lj_field_is(const lj_csv_field *f, const char *s) {
  size_t n = strlen(s);
  return f->len == n && memcmp(f->p, s, n) == 0;
}
