// Splitting one text line into fields, and strict number parsing, for the
// trace CSV and nvidia-smi parsers. Fields point into the line (no copies);
// columns are 1-based byte positions for error messages.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *p;
  size_t len;
  int col;  // 1-based column of the field's first byte
} lj_csv_field;

// Splits at `sep`; with trim=1 spaces around each field are skipped (the
// column then points at the first non-space byte). Returns the number of
// fields, or -1 when there are more than `max`.
int lj_csv_split(const char *line, size_t len, char sep, int trim, lj_csv_field *fields, int max);

// Whole field must be the number: no spaces, no trailing bytes. 0 or -1.
int lj_parse_i64(const char *p, size_t len, int64_t *out);
int lj_parse_f64(const char *p, size_t len, double *out);  // finite only
int lj_field_is(const lj_csv_field *f, const char *s);     // exact match
