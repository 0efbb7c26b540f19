// Perfetto export: Chrome trace-event JSON (opens in ui.perfetto.dev and
// chrome://tracing). Track "phases": the phase windows; track "stages": every
// stage call of the in-situ timeline (name = stage, args: phase, layer, J);
// counter tracks: power, SM clock, temperature of the profiled GPU. Times in
// microseconds from the run's first sample (or window).
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "report/report_run.h"

static void meta(FILE *f, const char *what, int tid, const char *name) {
  json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", what, "ph", "M", "pid", 1, "tid", tid, "args", "name",
                        name);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  if (s) fprintf(f, "%s,\n", s);
  free(s);
  json_decref(o);
}

int lj_report_perfetto(FILE *f, const lj_report_run *r) {
  const lj_profile_result *p = &r->prof;
  const lj_trace *t = &r->trace;
  int64_t t0 = INT64_MAX;
  if (t->n_samples) t0 = t->samples[0].t_ns;
  for (size_t i = 0; i < p->n_windows; i++)
    if (p->windows[i].w.begin_ns > 0 && p->windows[i].w.begin_ns < t0) t0 = p->windows[i].w.begin_ns;
  if (t0 == INT64_MAX) t0 = 0;
  fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
  char process[700];
  snprintf(process, sizeof process, "llamajoule %s on %s (run %lld)", p->plan.model_name,
           p->cond.device.name[0] ? p->cond.device.name : p->plan.engine, (long long)r->run.id);
  meta(f, "process_name", 0, process);
  meta(f, "thread_name", 1, "phases");
  meta(f, "thread_name", 2, "stages");
  for (size_t i = 0; i < p->n_windows; i++) {
    const lj_phase_window *w = &p->windows[i];
    if (w->w.end_ns <= w->w.begin_ns) continue;
    fprintf(f, "{\"name\":\"%s\",\"cat\":\"phase\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":%.3f,\"dur\":%.3f,"
               "\"args\":{\"repeat\":%d,\"units\":%lld,\"counter_j\":",
            lj_phase_name(w->phase), (double)(w->w.begin_ns - t0) / 1e3, (double)(w->w.end_ns - w->w.begin_ns) / 1e3,
            w->repeat, (long long)w->units);
    if (isfinite(w->w.counter_energy_j)) fprintf(f, "%.6g}},\n", w->w.counter_energy_j);
    else fputs("null}},\n", f);
  }
  for (size_t i = 0; i < p->n_intervals; i++) {
    const lj_stage_interval *iv = &p->intervals[i];
    double e = p->interval_energy_j ? p->interval_energy_j[i] : NAN;
    fprintf(f, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":2,\"ts\":%.3f,\"dur\":%.3f,"
               "\"args\":{\"layer\":%d,\"step\":%d,\"energy_j\":",
            lj_stage_name(iv->stage), lj_phase_name(iv->phase), (double)(iv->begin_ns - t0) / 1e3,
            (double)(iv->end_ns - iv->begin_ns) / 1e3, iv->layer, p->interval_step ? p->interval_step[i] : 0);
    if (isfinite(e)) fprintf(f, "%.6g}},\n", e);
    else fputs("null}},\n", f);
  }
  static const struct {
    lj_reading reading;
    const char *name, *arg;
  } kCounters[] = {{LJ_READING_POWER_SAMPLE, "power (W)", "W"},
                   {LJ_READING_POWER_INSTANT, "instant power (W)", "W"},
                   {LJ_READING_CLOCK_SM, "SM clock (MHz)", "MHz"},
                   {LJ_READING_CLOCK_MEM, "memory clock (MHz)", "MHz"},
                   {LJ_READING_TEMPERATURE, "temperature (C)", "C"}};
  int dev = p->cond.device.index >= 0 && p->cond.device.index < t->n_devices ? p->cond.device.index : 0;
  for (size_t i = 0; i < t->n_samples; i++) {
    const lj_sample *s = &t->samples[i];
    if (s->device != dev || !isfinite(s->value)) continue;
    for (size_t k = 0; k < sizeof kCounters / sizeof kCounters[0]; k++)
      if (s->reading == kCounters[k].reading)
        fprintf(f, "{\"name\":\"%s\",\"ph\":\"C\",\"pid\":1,\"ts\":%.3f,\"args\":{\"%s\":%.6g}},\n", kCounters[k].name,
                (double)(s->t_ns - t0) / 1e3, kCounters[k].arg, s->value);
  }
  // The last event has no comma after it: a metadata event closes the list.
  fputs("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":1,\"args\":{\"sort_index\":0}}\n]}\n", f);
  return ferror(f) ? LJ_FAIL(LJ_EIO, "report: writing the trace failed") : 0;
}
