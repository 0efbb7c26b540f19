// The study's points: lists of the command line, the points they span, which
// points get the per-stage attribution, and the study's identity.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "engine/cuda/gemv_choice.h"
#include "engine/weight_format.h"
#include "profile/sweep.h"

int lj_sweep_parse_ints(const char *opt, const char *s, int lo, int hi, int *out, int cap, int *n) {
  *n = 0;
  const char *c = s;
  for (;;) {
    char *end;
    errno = 0;
    long v = strtol(c, &end, 10);
    if (end == c || errno || v < lo || v > hi || (*end && *end != ','))
      return LJ_FAIL(LJ_EINVAL, "%s '%s': expected integers in [%d, %d], comma-separated", opt, s, lo, hi);
    for (int i = 0; i < *n; i++)
      if (out[i] == (int)v) return LJ_FAIL(LJ_EINVAL, "%s '%s': %ld is listed twice", opt, s, v);
    if (*n >= cap) return LJ_FAIL(LJ_EINVAL, "%s '%s': at most %d values", opt, s, cap);
    out[(*n)++] = (int)v;
    if (!*end) return 0;
    c = end + 1;
  }
}

int lj_sweep_parse_names(const char *opt, const char *s, char (*out)[512], int cap, int *n) {
  *n = 0;
  const char *c = s;
  for (;;) {
    size_t len = strcspn(c, ",");
    if (len == 0) return LJ_FAIL(LJ_EINVAL, "%s '%s': an empty name", opt, s);
    if (len >= 512) return LJ_FAIL(LJ_EINVAL, "%s: a name of %zu bytes (at most 511)", opt, len);
    if (*n >= cap) return LJ_FAIL(LJ_EINVAL, "%s '%s': at most %d names", opt, s, cap);
    memcpy(out[*n], c, len);
    out[*n][len] = '\0';
    for (int i = 0; i < *n; i++)
      if (!strcmp(out[i], out[*n])) return LJ_FAIL(LJ_EINVAL, "%s '%s': '%s' is listed twice", opt, s, out[i]);
    (*n)++;
    if (!c[len]) return 0;
    c += len + 1;
  }
}

int lj_sweep_points_make(char (*models)[512], int n_models, const int *batches, int n_batches, const int *prompts,
                         int n_prompts, const int *gens, int n_gens, lj_study_point **out, size_t *n) {
  size_t total = (size_t)n_models * n_batches * n_prompts * n_gens;
  *out = NULL, *n = 0;
  if (total == 0) return LJ_FAIL(LJ_EINVAL, "sweep: no points (every list needs a value)");
  lj_study_point *p = calloc(total, sizeof *p);
  if (!p) return LJ_FAIL(LJ_ENOMEM, "sweep: out of memory");
  size_t k = 0;
  for (int m = 0; m < n_models; m++)
    for (int pr = 0; pr < n_prompts; pr++)
      for (int g = 0; g < n_gens; g++)
        for (int b = 0; b < n_batches; b++, k++) {
          snprintf(p[k].model, sizeof p[k].model, "%s", models[m]);
          p[k].batch = batches[b], p[k].prompt_len = prompts[pr], p[k].gen_len = gens[g];
          p[k].status = LJ_POINT_PENDING;
          p[k].seconds = p[k].estimate_s = NAN;
        }
  *out = p, *n = total;
  return 0;
}

// "MODEL:B:P[:G]": the model is everything before the last two or three numbers.
static int parse_point(const char *item, char *model, size_t cap, int *b, int *p, int *g) {
  long nums[3];
  int k = 0;
  size_t len = strlen(item);
  while (k < 3) {
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
      if (item[i - 1] == ':') {
        colon = item + i - 1;
        break;
      }
    if (!colon) break;
    char *end;
    errno = 0;
    long v = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || end != item + len || errno || v < 1 || v > 1 << 20) break;
    nums[k++] = v;
    len = (size_t)(colon - item);
  }
  if (k < 2 || len == 0 || len >= cap) return -1;
  memcpy(model, item, len);
  model[len] = '\0';
  // nums are right to left: with three numbers, the last is the generated length
  *g = k == 3 ? (int)nums[0] : 0;
  *p = (int)nums[k == 3 ? 1 : 0];
  *b = (int)nums[k == 3 ? 2 : 1];
  return 0;
}

int lj_sweep_parse_stages(const char *spec, lj_study_point *points, size_t n) {
  int all = !strcmp(spec, "all");
  if (all || !strcmp(spec, "none")) {
    for (size_t i = 0; i < n; i++) points[i].stages = all;
    return 0;
  }
  for (size_t i = 0; i < n; i++) points[i].stages = 0;
  const char *c = spec;
  for (;;) {
    size_t len = strcspn(c, ",");
    char item[600], model[512];
    int b = 0, p = 0, g = 0;
    if (len == 0 || len >= sizeof item)
      return LJ_FAIL(LJ_EINVAL, "--stages '%s': expected all, none or MODEL:BATCH:PROMPT[:GEN],...", spec);
    memcpy(item, c, len);
    item[len] = '\0';
    if (parse_point(item, model, sizeof model, &b, &p, &g) < 0)
      return LJ_FAIL(LJ_EINVAL, "--stages '%s': expected MODEL:BATCH:PROMPT[:GEN], e.g. llama-3.2-1b:1:128", item);
    int hits = 0;
    for (size_t i = 0; i < n; i++)
      if (!strcmp(points[i].model, model) && points[i].batch == b && points[i].prompt_len == p &&
          (g == 0 || points[i].gen_len == g))
        points[i].stages = 1, hits++;
    if (!hits) return LJ_FAIL(LJ_EINVAL, "--stages: '%s' is not a point of the study", item);
    if (!c[len]) return 0;
    c += len + 1;
  }
}

void lj_sweep_settings_default(lj_sweep_settings *s) {
  memset(s, 0, sizeof *s);
  s->engine = "cuda";
  s->repeats = 3;
  s->phase_seconds = 2.0;
  s->idle_seconds = 2.0;
}

// Appends to buf at *used, never past cap.
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...) LJ_PRINTF(4, 5);
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...) {
  if (*used >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *used, cap - *used, fmt, ap);
  va_end(ap);
  if (k > 0) *used += (size_t)k;
}

// A list of the distinct values of one field, in first-seen order.
static void append_distinct(char *buf, size_t cap, size_t *used, const lj_study_point *p, size_t n, int field) {
  for (size_t i = 0; i < n; i++) {
    int v = field == 0 ? p[i].batch : field == 1 ? p[i].prompt_len : p[i].gen_len;
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++)
      seen = v == (field == 0 ? p[j].batch : field == 1 ? p[j].prompt_len : p[j].gen_len);
    if (!seen) append(buf, cap, used, "%s%d", buf[*used - 1] == '=' ? "" : ",", v);
  }
}

void lj_sweep_arguments(const lj_sweep_settings *s, const lj_study_point *p, size_t n, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  append(buf, cap, &used, "engine=%s models=", s->engine);
  for (size_t i = 0; i < n; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(p[i].model, p[j].model);
    if (!seen) append(buf, cap, &used, "%s%s", buf[used - 1] == '=' ? "" : ",", p[i].model);
  }
  append(buf, cap, &used, " batch=");
  append_distinct(buf, cap, &used, p, n, 0);
  append(buf, cap, &used, " prompt_len=");
  append_distinct(buf, cap, &used, p, n, 1);
  append(buf, cap, &used, " gen_len=");
  append_distinct(buf, cap, &used, p, n, 2);
  size_t with = 0;
  for (size_t i = 0; i < n; i++) with += p[i].stages != 0;
  append(buf, cap, &used, " stages=%s", with == 0 ? "none" : with == n ? "all" : "");
  for (size_t i = 0, k = 0; with > 0 && with < n && i < n; i++)
    if (p[i].stages)
      append(buf, cap, &used, "%s%s:%d:%d:%d", k++ ? "," : "", p[i].model, p[i].batch, p[i].prompt_len, p[i].gen_len);
  append(buf, cap, &used, " repeats=%d phase_seconds=%g idle_seconds=%g seed=%llu", s->repeats, s->phase_seconds,
         s->idle_seconds, (unsigned long long)s->seed);
  // Only FP8 is spelled out: the identity of bf16 studies stays what it was before the option.
  if (s->weights == LJ_WEIGHTS_FP8) append(buf, cap, &used, " weights=fp8");
  if (s->weights == LJ_WEIGHTS_FP8 && s->fp8_scale == LJ_FP8_SCALE_TENSOR) append(buf, cap, &used, " fp8_scale=tensor");
  // Likewise the GEMV setting: the defaults' studies keep their identity.
  if (s->gemv != LJ_GEMV_CHOICE_DEFAULTS) append(buf, cap, &used, " gemv=%s", lj_gemv_choice_name(s->gemv));
}

int lj_sweep_point_pending(const lj_study_point *p) { return p->status != LJ_POINT_DONE; }

int lj_sweep_budget_allows(double elapsed_s, double predicted_s, double max_seconds) {
  return !(max_seconds > 0) || elapsed_s + predicted_s <= max_seconds;
}
