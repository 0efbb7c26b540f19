// The CSV trace format (docs/meter.md), version 1:
//
//   # any comment line
//   #device,<index>,<uuid>,<pci_bus_id>,<power_limit_w>,<name: rest of the line>
//   t_ns,device,reading,value                                        (short header)
//   t_ns,device,reading,value,read_ns,read_dur_ns,source_us,flags    (full header)
//   1000000000,0,energy,123.456
//
// The parser is strict: every error names the file, line and column.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/output_file.h"
#include "llamajoule/meter.h"
#include "meter/csv_field.h"

#define MAX_LINE 4096
#define LJ_TRACE_MAX_T (INT64_C(1) << 62)
#define LJ_TRACE_MAX_DEVICES 256  // a trace of more GPUs than any host has is a corrupt trace
#define MAX_FIELDS 16

static const char *const short_header[] = {"t_ns", "device", "reading", "value"};
static const char *const full_header[] = {"t_ns", "device", "reading", "value", "read_ns", "read_dur_ns", "source_us", "flags"};

typedef struct {
  const char *name;
  int line;
  int n_cols;  // 0 until the header was read, then 4 or 8
  int declared_devices;
  lj_trace *out;
} parse_state;

#define BAD(st, col, ...) bad_input((st), (col), __FILE__, __LINE__, __VA_ARGS__)
static int bad_input(const parse_state *st, int col, const char *src, int src_line, const char *fmt, ...)
    LJ_PRINTF(5, 6);
static int bad_input(const parse_state *st, int col, const char *src, int src_line, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return lj_fail(LJ_EINVAL, src, src_line, "%s:%d:%d: %s", st->name, st->line, col, what);
}

static int check_text(const parse_state *st, const char *p, size_t len, int col) {
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
      return BAD(st, col + (int)i, "control byte 0x%02x in a text field", (unsigned char)p[i]);
  return 0;
}

static int copy_text(const parse_state *st, const lj_csv_field *f, char *dst, size_t cap, const char *what,
                     int allow_empty) {
  if (!allow_empty && f->len == 0) return BAD(st, f->col, "empty %s", what);
  if (f->len >= cap) return BAD(st, f->col, "%s longer than %zu bytes", what, cap - 1);
  LJ_TRY(check_text(st, f->p, f->len, f->col));
  memcpy(dst, f->p, f->len);
  dst[f->len] = '\0';
  return 0;
}

// "#device,<index>,<uuid>,<pci_bus_id>,<power_limit_w>,<name>"
static int parse_device_line(parse_state *st, const char *line, size_t len) {
  lj_csv_field f[6];
  // split the first five commas only: the name may contain commas
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len && n < 6; i++) {
    if (n < 5 && i < len && line[i] != ',') continue;
    if (n == 5) i = len;
    f[n].p = line + start;
    f[n].len = i - start;
    f[n].col = (int)start + 1;
    n++;
    start = i + 1;
  }
  if (n != 6) return BAD(st, (int)len + 1, "a #device line needs 6 fields (#device,index,uuid,pci_bus_id,power_limit_w,name), found %d", n);
  if (st->n_cols) return BAD(st, 1, "#device lines must come before the header line");
  int64_t index;
  if (lj_parse_i64(f[1].p, f[1].len, &index) != 0) return BAD(st, f[1].col, "device index is not an integer");
  if (index != st->declared_devices)
    return BAD(st, f[1].col, "device index %lld out of order: expected %d", (long long)index, st->declared_devices);
  if (index >= LJ_TRACE_MAX_DEVICES) return BAD(st, f[1].col, "more than %d devices", LJ_TRACE_MAX_DEVICES);
  lj_device_info info;
  memset(&info, 0, sizeof info);
  info.nvml_index = info.cuda_index = -1;
  LJ_TRY(copy_text(st, &f[2], info.uuid, sizeof info.uuid, "uuid", 0));
  LJ_TRY(copy_text(st, &f[3], info.pci_bus_id, sizeof info.pci_bus_id, "pci_bus_id", 1));
  if (lj_parse_f64(f[4].p, f[4].len, &info.power_limit_w) != 0 || info.power_limit_w < 0)
    return BAD(st, f[4].col, "power_limit_w is not a non-negative number");
  LJ_TRY(copy_text(st, &f[5], info.name, sizeof info.name, "name", 1));
  snprintf(info.source, sizeof info.source, "replay");
  LJ_TRY(lj_trace_add_device(st->out, &info));
  st->declared_devices++;
  return 0;
}

static int parse_header(parse_state *st, const lj_csv_field *f, int n) {
  const char *const *want = n == 4 ? short_header : full_header;
  if (n != 4 && n != 8)
    return BAD(st, 1, "header must be 't_ns,device,reading,value' optionally followed by ',read_ns,read_dur_ns,source_us,flags' (%d columns found)", n);
  for (int i = 0; i < n; i++)
    if (!lj_field_is(&f[i], want[i])) return BAD(st, f[i].col, "header column %d must be '%s'", i + 1, want[i]);
  st->n_cols = n;
  return 0;
}

static int ensure_device(parse_state *st, int dev) {
  while (st->out->n_devices <= dev) {
    lj_device_info info;
    memset(&info, 0, sizeof info);
    info.nvml_index = info.cuda_index = -1;
    snprintf(info.name, sizeof info.name, "replayed device %d", st->out->n_devices);
    snprintf(info.source, sizeof info.source, "replay");
    LJ_TRY(lj_trace_add_device(st->out, &info));
  }
  return 0;
}

static int parse_row(parse_state *st, const lj_csv_field *f, int n) {
  if (n != st->n_cols) return BAD(st, f[n - 1].col, "expected %d columns, found %d", st->n_cols, n);
  lj_sample s;
  memset(&s, 0, sizeof s);
  int64_t dev, v;
  // |t_ns| <= 2^62 ns (146 years): differences of two times never overflow
  if (lj_parse_i64(f[0].p, f[0].len, &s.t_ns) != 0 || s.t_ns > LJ_TRACE_MAX_T || s.t_ns < -LJ_TRACE_MAX_T)
    return BAD(st, f[0].col, "t_ns is not an integer in -2^62..2^62");
  if (lj_parse_i64(f[1].p, f[1].len, &dev) != 0 || dev < 0 || dev >= LJ_TRACE_MAX_DEVICES)
    return BAD(st, f[1].col, "device is not an integer in 0..%d", LJ_TRACE_MAX_DEVICES - 1);
  if (st->declared_devices && dev >= st->declared_devices)
    return BAD(st, f[1].col, "device %lld was not declared by a #device line", (long long)dev);
  int r = -1;
  for (int k = 0; k < LJ_READING_COUNT; k++)
    if (lj_field_is(&f[2], lj_reading_name((lj_reading)k))) r = k;
  if (r < 0) return BAD(st, f[2].col, "unknown reading (expected energy, power_sample, power_instant, ...)");
  if (lj_parse_f64(f[3].p, f[3].len, &s.value) != 0) return BAD(st, f[3].col, "value is not a finite decimal number");
  if (st->n_cols == 8) {
    if (lj_parse_i64(f[4].p, f[4].len, &s.read_ns) != 0) return BAD(st, f[4].col, "read_ns is not a 64-bit integer");
    if (lj_parse_i64(f[5].p, f[5].len, &v) != 0 || v < 0 || v > INT32_MAX)
      return BAD(st, f[5].col, "read_dur_ns is not an integer in 0..2147483647");
    s.read_dur_ns = (int32_t)v;
    if (lj_parse_i64(f[6].p, f[6].len, &s.source_us) != 0) return BAD(st, f[6].col, "source_us is not a 64-bit integer");
    if (lj_parse_i64(f[7].p, f[7].len, &v) != 0 || v < 0 || v > 255)
      return BAD(st, f[7].col, "flags is not an integer in 0..255");
    s.flags = (uint8_t)v;
  }
  s.device = (uint16_t)dev;
  s.reading = (uint8_t)r;
  LJ_TRY(ensure_device(st, (int)dev));
  st->out->devices[dev].supported |= LJ_READING_BIT(r);
  st->out->devices[dev].streamed |= LJ_READING_BIT(r);
  return lj_trace_append(st->out, &s, 1);
}

static int parse_line(parse_state *st, const char *line, size_t len) {
  if (len > MAX_LINE) return BAD(st, MAX_LINE + 1, "line longer than %d bytes", MAX_LINE);
  if (len == 0) return 0;
  if (len >= 8 && memcmp(line, "#device,", 8) == 0) return parse_device_line(st, line, len);
  if (line[0] == '#') return 0;
  const char *nul = memchr(line, '\0', len);
  if (nul) return BAD(st, (int)(nul - line) + 1, "NUL byte");
  lj_csv_field f[MAX_FIELDS];
  int n = lj_csv_split(line, len, ',', 0, f, MAX_FIELDS);
  if (n < 0) return BAD(st, 1, "more than %d columns", MAX_FIELDS);
  if (!st->n_cols) return parse_header(st, f, n);
  return parse_row(st, f, n);
}

int lj_trace_parse_csv(const char *text, size_t len, const char *name, lj_trace *out) {
  parse_state st = {.name = name ? name : "<trace>", .line = 0, .n_cols = 0, .declared_devices = 0, .out = out};
  lj_trace_init(out);
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t line_len = end - pos;
    if (line_len && text[pos + line_len - 1] == '\r') line_len--;
    st.line++;
    int rc = parse_line(&st, text + pos, line_len);
    if (rc < 0) {
      lj_trace_free(out);
      return rc;
    }
    pos = end + 1;
  }
  if (!st.n_cols) {
    st.line++;
    lj_trace_free(out);
    return BAD(&st, 1, "no header line (expected 't_ns,device,reading,value'): empty or truncated trace");
  }
  lj_trace_sort(out);
  return 0;
}

int lj_trace_read_csv(const char *path, lj_trace *out) {
  lj_trace_init(out);
  FILE *f = fopen(path, "rb");
  if (!f) return LJ_FAIL(errno == EACCES ? LJ_EPERM : LJ_EIO, "cannot open trace %s: %s", path, strerror(errno));
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (len < cap) break;
    char *bigger = realloc(buf, cap * 2);
    if (!bigger) { free(buf); buf = NULL; break; }
    buf = bigger;
    cap *= 2;
  }
  int read_error = ferror(f);
  fclose(f);
  if (!buf) return LJ_FAIL(LJ_ENOMEM, "out of memory reading trace %s", path);
  if (read_error) {
    free(buf);
    return LJ_FAIL(LJ_EIO, "read error in trace %s", path);
  }
  int rc = lj_trace_parse_csv(buf, len, path, out);
  free(buf);
  return rc;
}

int lj_trace_write_csv(const lj_trace *t, const char *path) {
  // Complete or not at all (output_file.h): a trace cut short by a full disk would read as a
  // shorter run.
  lj_output o;
  int orc = lj_output_open(&o, path);
  if (orc < 0) return lj_fail_context(orc, "cannot write trace");
  FILE *f = o.f;
  fprintf(f, "# llamajoule trace v1\n");
  for (int d = 0; d < t->n_devices; d++) {
    const lj_device_info *i = &t->devices[d];
    fprintf(f, "#device,%d,%s,%s,%.17g,%s\n", d, i->uuid[0] ? i->uuid : "-", i->pci_bus_id, i->power_limit_w,
            i->name);
  }
  fprintf(f, "t_ns,device,reading,value,read_ns,read_dur_ns,source_us,flags\n");
  for (size_t k = 0; k < t->n_samples; k++) {
    const lj_sample *s = &t->samples[k];
    fprintf(f, "%lld,%u,%s,%.17g,%lld,%d,%lld,%u\n", (long long)s->t_ns, s->device,
            lj_reading_name((lj_reading)s->reading), s->value, (long long)s->read_ns, s->read_dur_ns,
            (long long)s->source_us, s->flags);
  }
  int rc = ferror(f) ? LJ_FAIL(LJ_EIO, "write error in trace %s (disk full?)", path) : 0;
  return lj_output_close(&o, rc);
}
