#include "report/finding_sink.h"

#include <stdarg.h>
#include <stdio.h>

void lj_finding_say(lj_finding_sink *s, const char *rule, int level, const char *fmt, ...) {
  if (s->n >= s->max) return;
  lj_finding *f = &s->out[s->n++];
  snprintf(f->rule, sizeof f->rule, "%s", rule);
  f->level = level;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->text, sizeof f->text, fmt, ap);
  va_end(ap);
}
