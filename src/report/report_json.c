// The profile result as one JSON document (layout: docs/profile-json.md).
// Non-finite numbers become null; intervals are objects with mean, lo, hi and
// their spread, so a reader never has to know which figures a run lacked.
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "report/report.h"
#include "report/report_derived.h"
#include "store/profile_result.h"
#include "store/record_desc.h"
#include "store/store.h"

#define FORMAT_VERSION 1

// Builder state: jansson reports allocation failures by NULL or -1; one flag
// collects them so that the tree is built straight and checked once.
typedef struct {
  int bad;
} jb;

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void put(jb *b, json_t *o, const char *key, json_t *v) {
  if (!v || json_object_set_new(o, key, v)) b->bad = 1;
}
static void push(jb *b, json_t *a, json_t *v) {
  if (!v || json_array_append_new(a, v)) b->bad = 1;
}
static void put_num(jb *b, json_t *o, const char *key, double v) { put(b, o, key, num(v)); }
static void put_int(jb *b, json_t *o, const char *key, long long v) { put(b, o, key, json_integer(v)); }
// Text from the run (paths, device names, notes) need not be UTF-8, which
// jansson refuses: bytes outside ASCII then become '?' rather than losing the key.
static json_t *text(const char *s) {
  json_t *v = json_string(s);
  if (v) return v;
  char buf[2048];
  size_t i = 0;
  for (; s[i] && i + 1 < sizeof buf; i++) buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
  buf[i] = '\0';
  return json_string(buf);
}
static void put_str(jb *b, json_t *o, const char *key, const char *s) { put(b, o, key, text(s)); }
static void put_bool(jb *b, json_t *o, const char *key, int v) { put(b, o, key, json_boolean(v)); }

static json_t *object(jb *b) {
  json_t *o = json_object();
  if (!o) b->bad = 1;
  return o;
}
static json_t *array(jb *b) {
  json_t *a = json_array();
  if (!a) b->bad = 1;
  return a;
}

// A mean over n values: {"mean", "lo", "hi", "n", "sd", "cv"}; n = 0: all null.
static json_t *mean_ci(jb *b, const lj_mean_ci *m) {
  json_t *o = object(b);
  if (!o) return NULL;
  int known = m->n > 0;
  put_num(b, o, "mean", known ? m->mean : NAN);
  put_num(b, o, "lo", known ? m->lo : NAN);
  put_num(b, o, "hi", known ? m->hi : NAN);
  put_int(b, o, "n", known ? m->n : 0);
  put_num(b, o, "sd", known ? m->stddev : NAN);
  put_num(b, o, "cv", known ? m->cv : NAN);
  return o;
}

// A derived estimate: {"mean", "lo", "hi", "se", "df"} (df null when infinite: exact).
static json_t *interval(jb *b, const lj_interval *i) {
  json_t *o = object(b);
  if (!o) return NULL;
  put_num(b, o, "mean", i->estimate);
  put_num(b, o, "lo", i->lo);
  put_num(b, o, "hi", i->hi);
  put_num(b, o, "se", i->se);
  put_num(b, o, "df", i->df);
  return o;
}

static json_t *flag_words(jb *b, uint32_t flags) {
  char text[256];
  lj_window_flags_text(flags, text, sizeof text);
  return json_string(text);
}

static void put_flags(jb *b, json_t *o, const char *mask_key, const char *text_key, uint32_t flags) {
  put_int(b, o, mask_key, (long long)flags);
  put(b, o, text_key, flag_words(b, flags));
}

// ---------------------------------------------------------------- described records

// The report's figures that are no field of a record (shares, pass or fail), by key:
// the value for the record at rec, or NULL when the key is not this table's.
typedef json_t *(*derived_fn)(const char *key, const void *rec, const lj_profile_result *r);

// Every JSON field of a described record (record_desc.h) into o, in the description's order;
// fields of a group go into the nested object of that name.
static void put_record(jb *b, json_t *o, const lj_record_desc *d, const void *rec, derived_fn derived,
                       const lj_profile_result *r) {
  for (size_t i = 0; i < d->n_fields; i++) {
    const lj_field *f = &d->fields[i];
    const void *p = (const char *)rec + f->off;
    if (!f->json) continue;
    json_t *to = o;
    if (f->group) {
      to = json_object_get(o, f->group);
      if (!to) {
        to = object(b);
        put(b, o, f->group, to);
        if (!to) continue;
      }
    }
    const char *k = f->json;
    switch (f->type) {
      case LJ_FIELD_INT: put_int(b, to, k, *(const int *)p); break;
      case LJ_FIELD_I64: put_int(b, to, k, *(const int64_t *)p); break;
      case LJ_FIELD_BOOL: put_bool(b, to, k, *(const int *)p); break;
      case LJ_FIELD_REAL:
      case LJ_FIELD_FINITE:
      case LJ_FIELD_LEVEL: put_num(b, to, k, *(const double *)p); break;
      case LJ_FIELD_TEXT: put_str(b, to, k, (const char *)p); break;
      case LJ_FIELD_PHASE: put_str(b, to, k, lj_phase_name(*(const lj_phase *)p)); break;
      case LJ_FIELD_STAGE:
      case LJ_FIELD_STAGE_OR_NONE: {
        lj_stage st = *(const lj_stage *)p;
        put_str(b, to, k, st == LJ_STAGE_NONE ? "none" : lj_stage_name(st));
        break;
      }
      case LJ_FIELD_GROUP: {  // a trial of no one stage (the whole layer, the copy alone): group null
        lj_stage st = *(const lj_stage *)p;
        put(b, to, k, st == LJ_STAGE_NONE ? json_null() : json_string(lj_stage_group_name(lj_stage_group_of(st))));
        break;
      }
      case LJ_FIELD_METHOD: put_str(b, to, k, lj_profile_method_name(*(const lj_profile_method *)p)); break;
      case LJ_FIELD_FLAGS: {
        char text_key[64];
        snprintf(text_key, sizeof text_key, "%s_text", k);
        put_flags(b, to, k, text_key, *(const uint32_t *)p);
        break;
      }
      case LJ_FIELD_CI: put(b, to, k, mean_ci(b, (const lj_mean_ci *)p)); break;
      case LJ_FIELD_IV: put(b, to, k, interval(b, (const lj_interval *)p)); break;
      case LJ_FIELD_TP_RANK: put_int(b, to, k, r ? lj_profile_main_rank(&r->plan) : 0); break;
      case LJ_FIELD_DERIVED: {
        json_t *v = derived ? derived(k, rec, r) : NULL;
        put(b, to, k, v ? v : json_null());
        break;
      }
    }
  }
}

static json_t *record_json(jb *b, const lj_record_desc *d, const void *rec, derived_fn derived,
                           const lj_profile_result *r) {
  json_t *o = object(b);
  if (o) put_record(b, o, d, rec, derived, r);
  return o;
}

json_t *lj_report_record_json(const lj_record_desc *d, const void *rec, const lj_profile_result *r) {
  jb b = {0};
  json_t *o = record_json(&b, d, rec, NULL, r);
  if (o && !b.bad) return o;
  json_decref(o);
  LJ_FAIL(LJ_ENOMEM, "report: out of memory building a record's JSON");
  return NULL;
}

static json_t *pass_json(int pass) { return pass < 0 ? json_null() : json_boolean(pass); }

static json_t *phase_derived(const char *key, const void *rec, const lj_profile_result *r) {
  lj_phase p = ((const lj_phase_summary *)rec)->phase;
  if (!strcmp(key, "share_gross")) return num(lj_report_phase_share(r, p, 0));
  if (!strcmp(key, "share_dynamic")) return num(lj_report_phase_share(r, p, 1));
  if (!strcmp(key, "gpu_idle")) return json_boolean(lj_report_phase_gpu_idle(p));
  return NULL;
}

static json_t *stage_derived(const char *key, const void *rec, const lj_profile_result *r) {
  const lj_profile_stage *s = rec;
  const lj_replay_estimate *e = &s->est;
  if (!strcmp(key, "dynamic_j_per_unit"))
    return num(s->calls_per_unit * (e->dynamic_j.n > 0 ? e->dynamic_j.mean : NAN));
  if (!strcmp(key, "gross_j_per_unit")) return num(s->calls_per_unit * (e->gross_j.n > 0 ? e->gross_j.mean : NAN));
  if (!strcmp(key, "share_dynamic")) return num(lj_profile_stage_share(r, s, 1));
  if (!strcmp(key, "share_gross")) return num(lj_profile_stage_share(r, s, 0));
  if (!strcmp(key, "flops_per_byte")) return num(s->cost.bytes > 0 ? s->cost.flops_per_byte : NAN);
  if (!strcmp(key, "bound")) {
    const char *bound = lj_report_bound(&s->cost);
    return bound ? json_string(bound) : json_null();
  }
  return NULL;
}

static json_t *closure_derived(const char *key, const void *rec, const lj_profile_result *r) {
  if (!strcmp(key, "target_pct")) return num(LJ_REPORT_CLOSURE_TARGET_PCT);
  const lj_closure_row *row = rec;
  const lj_closure *c = &row->c;
  if (!strcmp(key, "pass")) return pass_json(lj_report_closure_pass(r, c, row->method));
  double lo, hi;
  lj_report_closure_range(r, c, row->method, &lo, &hi);
  if (!strcmp(key, "judged_lo_pct")) return num(lo);
  if (!strcmp(key, "judged_hi_pct")) return num(hi);
  if (!strcmp(key, "verdict")) {
    const char *v = lj_verdict_name(lj_report_closure_verdict(r, c, row->method));
    return v ? json_string(v) : json_null();
  }
  return NULL;
}

static json_t *timeline_stage_derived(const char *key, const void *rec, const lj_profile_result *r) {
  const lj_timeline_stage_row *ts = rec;
  if (!strcmp(key, "replay_share_dynamic")) return num(lj_report_replay_share(r, ts->phase, ts->stage));
  return NULL;
}

static json_t *overhead_derived(const char *key, const void *rec, const lj_profile_result *r) {
  if (!strcmp(key, "target_pct")) return num(LJ_REPORT_OVERHEAD_TARGET_PCT);
  if (!strcmp(key, "pass")) return pass_json(lj_report_overhead_pass(rec));
  return NULL;
}

// ---------------------------------------------------------------- plan and conditions

static json_t *plan_json(jb *b, const lj_profile_result *r) {
  const lj_profile_plan *p = &r->plan;
  json_t *o = object(b), *cfg = object(b), *kv = array(b);
  if (!o || !cfg || !kv) return json_decref(o), json_decref(cfg), json_decref(kv), NULL;
  put_str(b, o, "model", p->model);
  put_str(b, o, "model_name", p->model_name);
  put_bool(b, o, "weights_random", p->weights_random);
  put_str(b, o, "weights", p->weights[0] ? p->weights : "bf16");
  put_str(b, o, "fusion", lj_plan_fusion(p));
  put_str(b, o, "gemv", lj_plan_gemv(p));
  put_str(b, cfg, "name", p->config.name);
  put_int(b, cfg, "dim", p->config.dim);
  put_int(b, cfg, "hidden_dim", p->config.hidden_dim);
  put_int(b, cfg, "n_layers", p->config.n_layers);
  put_int(b, cfg, "n_heads", p->config.n_heads);
  put_int(b, cfg, "n_kv_heads", p->config.n_kv_heads);
  put_int(b, cfg, "head_dim", p->config.head_dim);
  put_int(b, cfg, "vocab_size", p->config.vocab_size);
  put_int(b, cfg, "max_seq_len", p->config.max_seq_len);
  put(b, o, "config", cfg);
  put_str(b, o, "engine", p->engine);
  put_bool(b, o, "timing_only", p->timing_only);
  if (p->timing_only) put_str(b, o, "timing_only_reason", lj_report_timing_reason(r));
  put_int(b, o, "device", p->device);
  put_int(b, o, "batch", p->batch);
  put_int(b, o, "tp_degree", p->tp_degree > 1 ? p->tp_degree : 1);
  put_int(b, o, "prompt_len", p->prompt_len);
  put_int(b, o, "gen_len", p->gen_len);
  put_int(b, o, "repeats", p->repeats);
  put_int(b, o, "trials", p->trials);
  put_num(b, o, "replay_seconds", p->replay_seconds);
  put_num(b, o, "replay_duty", p->replay_duty);
  put_num(b, o, "phase_seconds", p->phase_seconds);
  put_num(b, o, "level", p->level);
  put_int(b, o, "layers_replayed", p->layers_replayed);
  for (int i = 0; i < p->n_decode_kv && i < LJ_PROFILE_MAX_KV; i++) push(b, kv, json_integer(p->decode_kv[i]));
  put(b, o, "decode_kv", kv);
  put_str(b, o, "ablation", p->ablation == 3 ? "both" : p->ablation == 2 ? "mlp" : p->ablation ? "attn" : "none");
  put_bool(b, o, "head_fit", p->head_fit);
  put_bool(b, o, "sequence", p->sequence);
  put_bool(b, o, "shapley", p->shapley);
  put_int(b, o, "known_answer_bytes", (long long)p->known_answer_bytes);
  // JSON readers hold 64-bit integers only up to INT64_MAX: larger seeds travel as text.
  if (p->seed <= (uint64_t)INT64_MAX) {
    put_int(b, o, "seed", (long long)p->seed);
  } else {
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    put_str(b, o, "seed", seed);
  }
  put_str(b, o, "prompt_source", p->prompt_source);
  return o;
}

// A range that saw no reading (min > max, the init's +-inf) is null on both ends.
static void put_range(jb *b, json_t *o, const char *min_key, const char *max_key, double lo, double hi) {
  int known = isfinite(lo) && isfinite(hi) && lo <= hi;
  put_num(b, o, min_key, known ? lo : NAN);
  put_num(b, o, max_key, known ? hi : NAN);
}

static json_t *conditions_json(jb *b, const lj_profile_result *r) {
  const lj_profile_conditions *c = &r->cond;
  json_t *o = object(b), *gpu = object(b);
  if (!o || !gpu) return json_decref(o), json_decref(gpu), NULL;
  put_str(b, gpu, "name", c->device.name);
  put_str(b, gpu, "uuid", c->device.uuid);
  put_str(b, gpu, "pci_bus_id", c->device.pci_bus_id);
  put_str(b, gpu, "driver_version", c->device.driver_version);
  put_str(b, gpu, "source", c->device.source);
  put(b, o, "gpu", gpu);
  put_str(b, o, "cuda_driver", c->cuda_driver);
  put_num(b, o, "power_limit_w", lj_report_power_limit_w(r));
  put_num(b, o, "idle_w", c->idle_w);
  put_num(b, o, "idle_sd_w", c->idle_sd_w);
  put_str(b, o, "idle_method", c->idle_method);
  put_range(b, o, "temperature_min_c", "temperature_max_c", c->temperature_min_c, c->temperature_max_c);
  put_range(b, o, "sm_clock_min_mhz", "sm_clock_max_mhz", c->sm_clock_min_mhz, c->sm_clock_max_mhz);
  put_range(b, o, "mem_clock_min_mhz", "mem_clock_max_mhz", c->mem_clock_min_mhz, c->mem_clock_max_mhz);
  put_int(b, o, "throttle_mask", (long long)c->throttle_seen);
  put_str(b, o, "throttle", c->throttle_text);
  put_int(b, o, "n_samples", c->n_samples);
  put_int(b, o, "buffer_gaps", (long long)c->buffer_gaps);
  put_num(b, o, "sampler_cpu_percent", c->sampler_cpu_percent);
  put_int(b, o, "begin_wall_ns", c->begin_wall_ns);
  put_int(b, o, "end_wall_ns", c->end_wall_ns);
  return o;
}

// ---------------------------------------------------------------- phases and windows

static json_t *phase_json(jb *b, const lj_profile_result *r, lj_phase p) {
  lj_phase_summary s;
  lj_report_phase_view(r, p, &s);
  return record_json(b, &lj_desc_phase_summary, &s, phase_derived, r);
}

static json_t *window_json(jb *b, const lj_phase_window *w) {
  json_t *o = object(b);
  if (!o) return NULL;
  int counter = !(w->w.flags & LJ_WINDOW_NO_COUNTER), samples = !(w->w.flags & LJ_WINDOW_NO_SAMPLES);
  put_str(b, o, "phase", lj_phase_name(w->phase));
  put_int(b, o, "repeat", w->repeat);
  put_int(b, o, "units", w->units);
  put_int(b, o, "tokens_per_unit", w->tokens_per_unit);
  put_num(b, o, "host_s", w->host_s);
  put_num(b, o, "duration_s", w->w.duration_s);
  put_num(b, o, "counter_energy_j", counter ? w->w.counter_energy_j : NAN);
  put_num(b, o, "counter_above_idle_j", counter ? w->w.counter_above_idle_j : NAN);
  put_num(b, o, "sample_energy_j", samples ? w->w.sample_energy_j : NAN);
  put_num(b, o, "mean_power_w", w->w.mean_power_w);
  put_num(b, o, "peak_power_w", samples ? w->w.peak_power_w : NAN);
  put_num(b, o, "idle_w", w->w.idle_power_w);
  put_int(b, o, "begin_ns", w->w.begin_ns);
  put_int(b, o, "end_ns", w->w.end_ns);
  put_flags(b, o, "flags", "flags_text", w->w.flags);
  return o;
}

// ---------------------------------------------------------------- stages and trials

static json_t *groups_json(jb *b, const lj_profile_result *r, int *rc) {
  json_t *a = array(b);
  if (!a) return NULL;
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int g = 0; g < LJ_GROUP_COUNT; g++) {
      lj_report_group sum;
      int err = lj_report_group_sum(r, (lj_phase)p, (lj_stage_group)g, &sum);
      if (err < 0) *rc = err;
      if (err < 0 || !sum.n_estimates) continue;
      json_t *o = object(b);
      if (!o) continue;
      put_str(b, o, "phase", lj_phase_name((lj_phase)p));
      put_str(b, o, "group", lj_stage_group_name((lj_stage_group)g));
      put_str(b, o, "method", lj_profile_method_name(lj_profile_reported_method(r, (lj_phase)p)));
      put_int(b, o, "n_estimates", sum.n_estimates);
      put(b, o, "dynamic_j_per_unit", interval(b, &sum.dynamic_j));
      put(b, o, "gross_j_per_unit", interval(b, &sum.gross_j));
      put_num(b, o, "share_dynamic", sum.share_dynamic);
      put_num(b, o, "share_gross", sum.share_gross);
      lj_interval jt;
      double st;
      if (g == LJ_GROUP_COMM && lj_report_comm_per_token(r, (lj_phase)p, &jt, &st) == 1) {  // issue 18's figure
        put(b, o, "dynamic_j_per_token", interval(b, &jt));
        put_num(b, o, "time_s_per_token", st);
      }
      push(b, a, o);
    }
  return a;
}

// ---------------------------------------------------------------- closure, timeline, ablation, heads, overhead

static json_t *doubles_json(jb *b, const double *v, int n) {
  if (!v || n <= 0) return json_null();
  json_t *a = array(b);
  if (!a) return NULL;
  for (int i = 0; i < n; i++) push(b, a, num(v[i]));
  return a;
}

static json_t *timeline_json(jb *b, const lj_profile_result *r) {
  if (!r->timeline_valid) return json_null();
  const lj_timeline_result *t = &r->timeline;
  json_t *o = object(b), *phases = array(b);
  if (!o || !phases) return json_decref(o), json_decref(phases), NULL;
  put_num(b, o, "idle_w", t->idle_w);
  put_int(b, o, "n_samples", t->n_samples);
  put_flags(b, o, "flags", "flags_text", t->flags);
  put_int(b, o, "n_intervals", (long long)r->n_intervals);
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    if (t->phase[p].n_intervals <= 0) continue;
    lj_timeline_phase_row ph = {(lj_phase)p, t->device, t->idle_w, t->n_samples, t->flags, t->phase[p]};
    json_t *po = record_json(b, &lj_desc_timeline_phase, &ph, NULL, r), *stages = array(b);
    if (!po || !stages) {
      json_decref(po), json_decref(stages);
      continue;
    }
    for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++) {
      if (t->stage[p][s].calls <= 0) continue;
      lj_timeline_stage_row ts = {(lj_phase)p, (lj_stage)s, t->stage[p][s]};
      push(b, stages, record_json(b, &lj_desc_timeline_stage, &ts, timeline_stage_derived, r));
    }
    put(b, po, "stages", stages);
    put(b, po, "layer_energy_j", doubles_json(b, r->layer_energy_j[p], r->plan.config.n_layers));
    put(b, po, "layer_time_s", doubles_json(b, r->layer_time_s[p], r->plan.config.n_layers));
    push(b, phases, po);
  }
  put(b, o, "phases", phases);
  return o;
}

static json_t *ablation_json(jb *b, const lj_profile_result *r) {
  if (!r->ablation_valid) return json_null();
  return record_json(b, &lj_desc_ablation, &r->ablation, NULL, r);
}

static json_t *shapley_derived(const char *key, const void *rec, const lj_profile_result *r) {
  if (!strcmp(key, "target_pct")) return num(LJ_REPORT_CLOSURE_TARGET_PCT);
  if (!strcmp(key, "verdict")) {
    const char *v = lj_verdict_name(lj_report_shapley_verdict(r, (const lj_shapley_check *)rec));
    return v ? json_string(v) : json_null();
  }
  return NULL;
}

static json_t *verdict_json(lj_verdict v) {
  const char *name = lj_verdict_name(v);
  return name ? json_string(name) : json_null();
}

static json_t *known_derived(const char *key, const void *rec, const lj_profile_result *r) {
  if (!strcmp(key, "target_pct")) return num(LJ_REPORT_CHECK_TARGET_PCT);
  if (!strcmp(key, "verdict")) return verdict_json(lj_report_known_verdict(r, rec));
  return NULL;
}

static json_t *ablation_check_derived(const char *key, const void *rec, const lj_profile_result *r) {
  lj_verdict v = lj_report_ablation_verdict(r, rec);
  if (!strcmp(key, "target_pct")) return num(LJ_REPORT_CHECK_TARGET_PCT);
  if (!strcmp(key, "pass")) return v == LJ_VERDICT_NONE ? json_null() : json_boolean(v == LJ_VERDICT_PASS);
  if (!strcmp(key, "verdict")) return verdict_json(v);
  return NULL;
}

static json_t *budget_derived(const char *key, const void *rec, const lj_profile_result *r) {
  (void)r;
  const lj_budget *b = rec;
  if (!strcmp(key, "total_pct")) return num(lj_budget_total_pct(b));
  if (!strcmp(key, "largest_term")) {
    double h;
    const char *t = lj_report_budget_largest(b, &h);
    return t ? json_string(t) : json_null();
  }
  return NULL;
}

// The Shapley split per phase, with its headline method and why.
static json_t *shapley_json(jb *b, const lj_profile_result *r) {
  json_t *a = array(b);
  for (int p = 0; a && p < LJ_PHASE_COUNT; p++) {
    const lj_shapley_check *c = &r->shapley[p];
    if (c->n_rounds <= 0) continue;
    json_t *o = record_json(b, &lj_desc_shapley_check, c, shapley_derived, r);
    if (o) {
      put_str(b, o, "headline_method", lj_profile_method_name(lj_profile_reported_method(r, (lj_phase)p)));
      put_str(b, o, "assumption", "interactions between at most two stages: phi_i = (isolation_i + (layer - layer "
                                  "without i)) / 2; a k-stage interaction c adds (k/2 - 1) c to the residual");
      put_str(b, o, "layer_assumption", "the layer's own game: v(S) = sum of stage costs + J per GEMM->GEMM junction "
                                        "of S replayed back to back as a cycle, fitted to every window of the rounds; "
                                        "layer_verdict judges every window as the fit to the other windows "
                                        "predicts it (deleted residual)");
    }
    push(b, a, o);
  }
  return a;
}

// The head grid fit's verdict on its lack-of-fit test.
static json_t *head_grid_derived(const char *key, const void *rec, const lj_profile_result *r) {
  (void)r;
  const lj_head_grid_fit *h = rec;
  if (strcmp(key, "verdict")) return NULL;
  return json_string(h->holds > 0 ? "holds" : h->holds == 0 ? "does not hold" : "not testable");
}

static json_t *checks_json(jb *b, const lj_record_desc *d, const void *base, size_t stride, int n, derived_fn fn,
                           const lj_profile_result *r) {
  json_t *a = array(b);
  for (int i = 0; a && i < n; i++) push(b, a, record_json(b, d, (const char *)base + (size_t)i * stride, fn, r));
  return a;
}

// Each rank's phase summaries (tensor-parallel degree > 1); "phases" holds their sum.
static json_t *per_gpu_json(jb *b, const lj_profile_result *r) {
  json_t *a = array(b);
  for (int k = 0; k < r->n_ranks && a; k++) {
    json_t *o = object(b), *phases = array(b);
    if (!o) break;
    put_int(b, o, "rank", k);
    for (int p = 0; p < LJ_PHASE_COUNT && phases; p++) {
      if (r->rank_phases[k][p].n <= 0) continue;
      json_t *x = record_json(b, &lj_desc_phase_summary, &r->rank_phases[k][p], NULL, r);
      if (x) put_int(b, x, "tp_rank", k);
      push(b, phases, x);
    }
    put(b, o, "phases", phases);
    put_num(b, o, "idle_w", r->ranks[k].idle_w);
    // its GPU's own idle against temperature (null: no cool-down measured on it)
    const lj_profile_rank *rk = &r->ranks[k];
    json_t *curve = rk->idle_curve_valid ? record_json(b, &lj_desc_idle_curve, &rk->idle_curve, NULL, r) : json_null();
    if (curve && rk->idle_curve_valid) put_int(b, curve, "tp_rank", k);
    put(b, o, "idle_curve", curve);
    json_t *checks = array(b);  // the GPU's own Shapley split's additive check, per phase, judged with its budget
    for (int p = 0; p < LJ_PHASE_COUNT && checks; p++) {
      lj_report_gpu_check g;
      lj_report_gpu_check_of(r, k, (lj_phase)p, &g);
      if (g.c->n_rounds <= 0) continue;
      json_t *x = record_json(b, &lj_desc_shapley_check, g.c, NULL, r);
      if (x) {
        put_int(b, x, "tp_rank", k);
        put_num(b, x, "budget_pct", g.budget_pct);
        put_num(b, x, "judged_lo_pct", g.judged_lo_pct);
        put_num(b, x, "judged_hi_pct", g.judged_hi_pct);
        put_str(b, x, "verdict", lj_verdict_name(g.verdict));
      }
      push(b, checks, x);
    }
    put(b, o, "shapley", checks);
    json_t *budgets = array(b);  // its own uncertainty budgets, as the document's "budgets" holds the run's
    for (size_t i = 0; budgets && i < r->ranks[k].n_budgets; i++) {
      json_t *x = record_json(b, &lj_desc_budget, &r->ranks[k].budgets[i], budget_derived, r);
      if (x) put_int(b, x, "tp_rank", k);
      push(b, budgets, x);
    }
    put(b, o, "budgets", budgets);
    push(b, a, o);
  }
  return a;
}

static json_t *layer_skip_derived(const char *key, const void *rec, const lj_profile_result *r) {
  const lj_layer_skip *s = rec;
  if (!strcmp(key, "target_pct")) return num(LJ_LAYER_SKIP_TARGET_PCT);
  double lo, hi;
  lj_report_layer_skip_range(s, &lo, &hi);
  if (!strcmp(key, "agreement_lo_pct")) return num(lo);
  if (!strcmp(key, "agreement_hi_pct")) return num(hi);
  if (!strcmp(key, "verdict")) {
    const char *v = lj_verdict_name(lj_report_layer_skip_verdict(r, s));
    return v ? json_string(v) : json_null();
  }
  if (!strcmp(key, "includes_head_change")) return json_boolean(lj_report_layer_skip_head_change(r, s));
  return NULL;
}

// The agreement test of each phase's per-layer estimates (docs/attribution.md §2f).
static json_t *layer_agreement_json(jb *b, const lj_profile_result *r) {
  json_t *a = array(b);
  for (int p = 0; a && p < LJ_PHASE_COUNT; p++) {
    int worst = -1, v = lj_profile_layer_agreement(r, (lj_phase)p, &worst);
    if (v < 0) continue;
    json_t *o = object(b);
    if (o) {
      put_str(b, o, "phase", lj_phase_name((lj_phase)p));
      put_str(b, o, "verdict", v ? "PASS" : "MISS");
      put_int(b, o, "worst_layer", worst);
      put_str(b, o, "test", "t = (layer - mean of the other layers) / se from the variance pooled over the layers; "
                            "a layer agrees when |t| is within the two-sided Bonferroni critical value at level / "
                            "layers, or when the difference's whole interval lies within +-5% of the others' mean");
    }
    push(b, a, o);
  }
  return a;
}

static json_t *head_fit_json(jb *b, const lj_profile_result *r) {
  if (!r->head_fit_valid) return json_null();
  lj_head_fit_row h = {r->head_fit_kv, r->head_fit};
  return record_json(b, &lj_desc_head_fit, &h, NULL, r);
}

static json_t *overhead_json(jb *b, const lj_profile_result *r) {
  json_t *a = array(b);
  if (!a) return NULL;
  for (int i = 0; i < r->n_overhead && i < 2; i++)
    push(b, a, record_json(b, &lj_desc_overhead, &r->overhead[i], overhead_derived, r));
  return a;
}

// ---------------------------------------------------------------- the document

static json_t *document(jb *b, const lj_profile_result *r, int *rc) {
  json_t *doc = object(b);
  if (!doc) return NULL;
  put_str(b, doc, "format", "llamajoule-profile");
  put_int(b, doc, "version", FORMAT_VERSION);
  put_bool(b, doc, "complete", r->complete);
  put_num(b, doc, "level", r->plan.level);
  put(b, doc, "plan", plan_json(b, r));
  put(b, doc, "conditions", conditions_json(b, r));

  json_t *phases = array(b), *windows = array(b), *stages = array(b), *trials = array(b), *closures = array(b);
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    if (phases) push(b, phases, phase_json(b, r, (lj_phase)p));
  put(b, doc, "phases", phases);
  if (r->n_ranks > 1) put(b, doc, "per_gpu", per_gpu_json(b, r));
  json_t *run = object(b);
  if (run) {
    put_num(b, run, "gross_j", lj_report_phase_total_j(r, 0));
    put_num(b, run, "dynamic_j", lj_report_phase_total_j(r, 1));
  }
  put(b, doc, "run", run);
  for (size_t i = 0; i < r->n_windows && windows; i++) push(b, windows, window_json(b, &r->windows[i]));
  put(b, doc, "windows", windows);
  put(b, doc, "stage_groups", groups_json(b, r, rc));
  for (size_t i = 0; i < r->n_stages && stages; i++) {
    lj_profile_stage s = r->stages[i];
    lj_report_stage_efficiency(&r->stages[i], &s.eff);
    push(b, stages, record_json(b, &lj_desc_stage, &s, stage_derived, r));
  }
  put(b, doc, "stages", stages);
  for (size_t i = 0; i < r->n_trials && trials; i++) push(b, trials, record_json(b, &lj_desc_trial, &r->trials[i], NULL, r));
  put(b, doc, "trials", trials);
  put(b, doc, "idle_curve", r->idle_curve_valid ? record_json(b, &lj_desc_idle_curve, &r->idle_curve, NULL, r) : json_null());
  put(b, doc, "trial_conditions", checks_json(b, &lj_desc_trial_conditions, r->trial_conds, sizeof *r->trial_conds,
                                              (int)r->n_trial_conds, NULL, r));
  for (int p = 0; p < LJ_PHASE_COUNT && closures; p++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++) {
      lj_closure_row c = {*lj_profile_closure_of(r, (lj_phase)p, (lj_profile_method)m), (lj_profile_method)m};
      if (c.c.n_terms > 0) push(b, closures, record_json(b, &lj_desc_closure, &c, closure_derived, r));
    }
  put(b, doc, "closures", closures);
  put(b, doc, "timeline", timeline_json(b, r));
  put(b, doc, "ablation", ablation_json(b, r));
  put(b, doc, "shapley", shapley_json(b, r));
  put(b, doc, "known_answer", checks_json(b, &lj_desc_known_answer, r->known, sizeof *r->known, r->n_known,
                                          known_derived, r));
  put(b, doc, "ablations", checks_json(b, &lj_desc_ablation_check, r->ablation_checks, sizeof *r->ablation_checks,
                                       r->n_ablation_checks, ablation_check_derived, r));
  put(b, doc, "ablation_windows", checks_json(b, &lj_desc_ablation_window, r->abl_windows, sizeof *r->abl_windows,
                                              (int)r->n_abl_windows, NULL, r));
  put(b, doc, "layers", checks_json(b, &lj_desc_layer_estimate, r->layers, sizeof *r->layers, (int)r->n_layers,
                                     NULL, r));
  put(b, doc, "layer_agreement", layer_agreement_json(b, r));
  put(b, doc, "layer_skips", checks_json(b, &lj_desc_layer_skip, r->layer_skips, sizeof *r->layer_skips,
                                         r->n_layer_skips, layer_skip_derived, r));
  put(b, doc, "layer_stages", checks_json(b, &lj_desc_layer_stage_estimate, r->layer_stages, sizeof *r->layer_stages,
                                          (int)r->n_layer_stages, NULL, r));
  put(b, doc, "budgets", checks_json(b, &lj_desc_budget, r->budgets, sizeof *r->budgets, (int)r->n_budgets,
                                     budget_derived, r));
  put(b, doc, "head_fit", head_fit_json(b, r));
  json_t *grid = json_object();
  put(b, grid, "points", checks_json(b, &lj_desc_head_grid_point, r->head_points, sizeof *r->head_points,
                                     (int)r->n_head_points, NULL, r));
  put(b, grid, "fits", checks_json(b, &lj_desc_head_grid_fit, r->head_fits, sizeof *r->head_fits,
                                   (int)r->n_head_fits, head_grid_derived, r));
  put(b, doc, "head_grid", grid);
  put(b, doc, "overhead", overhead_json(b, r));
  put_str(b, doc, "notes", r->notes);
  put_str(b, doc, "energy_note",
          r->plan.timing_only ? "timing only: no energy was measured"
                              : "gross includes idle power; dynamic = above the idle baseline (conditions.idle_w)");
  return doc;
}

int lj_profile_report_json(FILE *f, const lj_profile_result *r) {
  jb b = {0};
  int rc = 0;
  json_t *doc = document(&b, r, &rc);
  if (rc < 0) {
    json_decref(doc);
    return rc;
  }
  if (!doc || b.bad) {
    json_decref(doc);
    return LJ_FAIL(LJ_ENOMEM, "report: out of memory building the profile JSON");
  }
  // Default real precision (17 digits): every double reads back exactly.
  int err = json_dumpf(doc, f, JSON_INDENT(2));
  json_decref(doc);
  if (err != 0 || fputc('\n', f) == EOF || fflush(f) != 0)
    return LJ_FAIL(LJ_EIO, "writing the profile JSON failed");
  return 0;
}
