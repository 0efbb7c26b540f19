// The terminal summary of `llamajoule profile`: conditions, phases, stages,
// closures, timeline, ablation, head fit, overhead and notes, in fixed-width
// tables that fit 120 columns. Unmeasured values print as "-".
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "report/ablation_windows_text.h"
#include "report/report_derived.h"
#include "store/profile_result.h"
#include "store/store.h"

#define WIDTH 120

// ---------------------------------------------------------------- cells

typedef char cell[64];

static const char *dash(cell c) {
  strcpy(c, "-");
  return c;
}

// Decimals that keep four significant digits for a value in [1, 1000).
static int decimals_for(double scaled) {
  return scaled < 9.9995 ? 3 : scaled < 99.995 ? 2 : scaled < 999.95 ? 1 : 0;
}

// v (and the half width hw, NAN: none) scaled to the prefix that keeps the larger
// of the two in [1, 1000): "12.34 mJ", "1.234+-0.021 J", "-0.07+-49.19 uJ" (not
// "-72.80+-49187.52 nJ"). ASCII only, so widths are bytes.
static const char *qty(cell c, double v, double hw, const char *unit) {
  if (!isfinite(v)) return dash(c);
  static const char *const prefix[] = {"", "m", "u", "n", "p"};
  double a = isfinite(hw) && fabs(hw) > fabs(v) ? fabs(hw) : fabs(v), scale = 1;
  int k = 0;
  while (k < 4 && a != 0 && a < scale * 0.9995) scale *= 1e-3, k++;
  int d = decimals_for(a / scale);
  if (isfinite(hw))
    snprintf(c, sizeof(cell), "%.*f+-%.*f %s%s", d, v / scale, d, fabs(hw) / scale, prefix[k], unit);
  else
    snprintf(c, sizeof(cell), "%.*f %s%s", d, v / scale, prefix[k], unit);
  return c;
}

static const char *energy(cell c, double v) { return qty(c, v, NAN, "J"); }
static const char *seconds(cell c, double v) { return qty(c, v, NAN, "s"); }
static const char *energy_ci(cell c, const lj_mean_ci *m) {
  return qty(c, m->n > 0 ? m->mean : NAN, m->half_width, "J");
}

static const char *interval_j(cell c, const lj_interval *i) {
  return qty(c, i->estimate, (i->hi - i->lo) / 2, "J");
}

// A fraction (0.25) as a percentage ("25.0%").
static const char *share(cell c, double fraction) {
  if (!isfinite(fraction)) return dash(c);
  snprintf(c, sizeof(cell), "%.1f%%", fraction * 100);
  return c;
}

// A coefficient of variation as a percentage, ">999%" beyond (a light stage's mean
// near zero): the column stays five wide.
static const char *cv_pct(cell c, double cv) {
  if (isfinite(cv) && fabs(cv) > 9.99) {
    strcpy(c, ">999%");
    return c;
  }
  return share(c, cv);
}

// A signed percentage ("-1.2%").
static const char *pct(cell c, double v, int decimals) {
  if (!isfinite(v)) return dash(c);
  snprintf(c, sizeof(cell), "%+.*f%%", decimals, v);
  return c;
}

static const char *pct_range(cell c, double lo, double hi) {
  if (!isfinite(lo) || !isfinite(hi)) return dash(c);
  snprintf(c, sizeof(cell), "[%+.1f%%, %+.1f%%]", lo, hi);
  return c;
}

static const char *fixed(cell c, double v, int decimals) {
  if (!isfinite(v)) return dash(c);
  snprintf(c, sizeof(cell), "%.*f", decimals, v);
  return c;
}

// Three significant digits, without an exponent below 10^7 (keeps columns narrow and readable).
static const char *sig3(cell c, double v) {
  if (!isfinite(v)) return dash(c);
  if (fabs(v) >= 1000 && fabs(v) < 1e7)
    snprintf(c, sizeof(cell), "%.0f", v);
  else
    snprintf(c, sizeof(cell), "%.3g", v);
  return c;
}

// "35-52" or "35" (min == max); "-" when no reading came (min > max or not finite).
static const char *range(cell c, double lo, double hi) {
  if (!isfinite(lo) || !isfinite(hi) || lo > hi) return dash(c);
  if (lo == hi)
    snprintf(c, sizeof(cell), "%.0f", lo);
  else
    snprintf(c, sizeof(cell), "%.0f-%.0f", lo, hi);
  return c;
}

static const char *flags_text(cell c, uint32_t flags) {
  if (!flags) return dash(c);
  lj_window_flags_text(flags, c, sizeof(cell));
  return c;
}

// Text wrapped at WIDTH, continuation lines indented to the prefix's width.
static void wrapped(FILE *f, const char *prefix, const char *text) {
  size_t indent = strlen(prefix), col = indent;
  fputs(prefix, f);
  const char *p = text;
  while (*p) {
    while (*p == ' ') p++;
    size_t len = strcspn(p, " ");
    if (!len) break;
    if (col > indent && col + 1 + len > WIDTH) {
      fprintf(f, "\n%*s", (int)indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', f);
      col++;
    }
    fwrite(p, 1, len, f);
    col += len;
    p += len;
  }
  fputc('\n', f);
}

static void section(FILE *f, const char *title) { fprintf(f, "\n== %s\n", title); }

// ---------------------------------------------------------------- header


// "idle: 121.3 W at 38 C, +1.4 W/C [1.1, 1.7] (cool-down 6 s, 44->39 C)", and whether it is used;
// label "idle:      " for the run's, "idle GPU 1:" for a tensor-parallel GPU's own.
static void idle_curve_line(FILE *f, const char *label, const lj_profile_idle_curve *c) {
  const lj_idle_curve *k = &c->fit;
  fprintf(f, "  %s %.1f W at %.0f C, %+.1f W/C [%.1f, %.1f] (cool-down %.0f s, %.0f->%.0f C)", label, k->a_w,
          k->t0_c, k->slope_w_per_c, k->slope_lo, k->slope_hi, c->cooldown_s, c->cool_start_c, c->cool_end_c);
  if (k->usable) fprintf(f, ": idle at each window's temperature\n");
  else fprintf(f, ": not used (%s), flat idle kept\n", k->why);
}

static void print_header(FILE *f, const lj_profile_result *r) {
  const lj_profile_plan *pl = &r->plan;
  const lj_profile_conditions *c = &r->cond;
  cell a, b, d;
  fprintf(f, "llamajoule profile: %s%s, engine %s, %s weights", pl->model_name[0] ? pl->model_name : pl->model,
          pl->weights_random ? " (random weights)" : "", pl->engine[0] ? pl->engine : "-",
          pl->weights[0] ? pl->weights : "bf16");
  if (!strcmp(pl->engine, "cuda"))
    fprintf(f, ", device %d, fusion %s, gemv %s", pl->device, lj_plan_fusion(pl), lj_plan_gemv(pl));
  fputc('\n', f);
  if (!r->complete)
    fprintf(f, "*** INCOMPLETE: the run was cut short (Ctrl-C, an error or a kill); what follows is only what was "
               "measured\n");
  if (pl->model[0] && strcmp(pl->model, pl->model_name)) fprintf(f, "  model:     %s\n", pl->model);
  fprintf(f, "  work:      batch %d, prompt %d tokens (%s), generate %d tokens per sequence\n", pl->batch,
          pl->prompt_len, pl->prompt_source[0] ? pl->prompt_source : "-", pl->gen_len);
  fprintf(f, "  phases:    %d repeats", pl->repeats);
  if (pl->phase_seconds > 0)
    fprintf(f, ", each window >= %s (short phases repeated inside)", seconds(a, pl->phase_seconds));
  fputc('\n', f);
  if (!pl->timing_only) {
    fprintf(f, "  replay:    %d trials per stage, each >= %s, %d layers cycled; decode at KV", pl->trials,
            seconds(a, pl->replay_seconds), pl->layers_replayed);
    for (int i = 0; i < pl->n_decode_kv && i < LJ_PROFILE_MAX_KV; i++) fprintf(f, " %lld", (long long)pl->decode_kv[i]);
    if (pl->n_decode_kv <= 0) fprintf(f, " -");
    fprintf(f, "; duty %.2f\n", pl->replay_duty);
    if (pl->sequence)
      fprintf(f, "  sequence:  the layer's 9 stage prefixes in order, %d rounds, back to back (prefill; decode at KV %lld)\n",
              pl->trials, pl->n_decode_kv > 0 ? (long long)pl->decode_kv[pl->n_decode_kv / 2] : 0LL);
    if (pl->shapley)
      fprintf(f, "  shapley:   in the same rounds, the whole layer, the layer without each stage and 2 other stage "
                 "orders\n");
    if (pl->known_answer_bytes > 0)
      fprintf(f, "  known:     a %lld MiB calibration copy after each o_proj (known-answer check)\n",
              (long long)(pl->known_answer_bytes >> 20));
    fprintf(f, "  checks:    ablation %s, attention-head fit %s\n",
            pl->ablation == 3   ? "attn and mlp, prefill and decode"
            : pl->ablation == 2 ? "mlp (gate_up, swiglu, down)"
            : pl->ablation      ? "attn"
                                : "none",
            pl->head_fit ? "yes" : "no");
  }
  fprintf(f, "  intervals: %.0f%% Student t, shown as mean+-half width; seed %llu\n", pl->level * 100,
          (unsigned long long)pl->seed);
  if (pl->timing_only) {
    fprintf(f, "  TIMING ONLY, no energy was measured: %s\n", lj_report_timing_reason(r));
    return;
  }
  fprintf(f, "  GPU:       %s, driver %s, CUDA %s, power limit %s W, source %s\n",
          c->device.name[0] ? c->device.name : "-", c->device.driver_version[0] ? c->device.driver_version : "-",
          c->cuda_driver[0] ? c->cuda_driver : "-", fixed(a, lj_report_power_limit_w(r), 0),
          c->device.source[0] ? c->device.source : "-");
  fprintf(f, "  idle:      %s W (sd %s W), %s\n", fixed(a, c->idle_w, 2), fixed(b, c->idle_sd_w, 2),
          c->idle_method[0] ? c->idle_method : "origin unknown");
  if (r->idle_curve_valid) idle_curve_line(f, "idle:     ", &r->idle_curve);
  for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++) {  // each GPU's own curve (tensor parallelism)
    char label[16];
    snprintf(label, sizeof label, "idle GPU %d:", k % 100);
    if (r->ranks[k].idle_curve_valid) idle_curve_line(f, label, &r->ranks[k].idle_curve);
  }
  fprintf(f, "  range:     temperature %s C, SM clock %s MHz, memory clock %s MHz\n",
          range(a, c->temperature_min_c, c->temperature_max_c), range(b, c->sm_clock_min_mhz, c->sm_clock_max_mhz),
          range(d, c->mem_clock_min_mhz, c->mem_clock_max_mhz));
  if (c->throttle_text[0])
    fprintf(f, "  throttle:  %s\n", c->throttle_text);
  else if (c->throttle_seen)
    fprintf(f, "  throttle:  reasons 0x%llx\n", (unsigned long long)c->throttle_seen);
  else
    fprintf(f, "  throttle:  none seen\n");
  fprintf(f, "  sampler:   %s%% of one core, %lld samples, %llu driver-buffer gaps",
          fixed(a, c->sampler_cpu_percent, 2), (long long)c->n_samples, (unsigned long long)c->buffer_gaps);
  if (c->end_wall_ns > c->begin_wall_ns && c->begin_wall_ns > 0)
    fprintf(f, ", run %s", seconds(b, (double)(c->end_wall_ns - c->begin_wall_ns) * 1e-9));
  fputc('\n', f);
}

// ---------------------------------------------------------------- phases

static void measured_by(cell c, const lj_profile_result *r, const lj_phase_summary *s) {
  if (s->n <= 0)
    dash(c);
  else if (r->plan.timing_only || s->gross_j.n <= 0)
    snprintf(c, sizeof(cell), "host clock, %d repeat%s", s->n, s->n == 1 ? "" : "s");
  else if (s->window_flags & LJ_WINDOW_SAMPLE_ENERGY)  // under 10 s: the counter's edges spread it
    snprintf(c, sizeof(cell), "power samples, %d repeat%s", s->n, s->n == 1 ? "" : "s");
  else if (s->gross_j.n < s->n)
    snprintf(c, sizeof(cell), "counter window, %d of %d", s->gross_j.n, s->n);
  else
    snprintf(c, sizeof(cell), "counter window, %d repeat%s", s->n, s->n == 1 ? "" : "s");
}

static void print_phases(FILE *f, const lj_profile_result *r) {
  cell a, b, c, d, e, g, h, m;
  section(f, r->plan.timing_only ? "Phases (per unit: host time)"
                                 : "Phases (per unit; share of one run = the sum of the phases)");
  if (r->plan.timing_only) {
    fprintf(f, "%-10s %3s %8s %18s  %s\n", "phase", "n", "tokens", "time/unit", "measured");
    for (int p = 0; p < LJ_PHASE_COUNT; p++) {
      const lj_phase_summary *s = &r->phases[p];
      measured_by(m, r, s);
      fprintf(f, "%-10s %3d %8lld %18s  %s\n", lj_phase_name((lj_phase)p), s->n, (long long)s->tokens_per_unit,
              qty(a, s->time_s.mean, s->time_s.half_width, "s"), m);
    }
    return;
  }
  fprintf(f, "%-10s %3s %16s %18s %18s %7s %7s  %s\n", "phase", "n", "time/unit", "gross/unit", "dynamic/unit",
          "share g", "share d", "measured");
  int idle_phase = 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    lj_phase_summary view;
    lj_report_phase_view(r, (lj_phase)p, &view);
    const lj_phase_summary *s = &view;
    idle_phase |= s->n > 0 && lj_report_phase_gpu_idle((lj_phase)p);
    measured_by(m, r, s);
    fprintf(f, "%-10s %3d %16s %18s %18s %7s %7s  %s\n", lj_phase_name((lj_phase)p), s->n,
            qty(a, s->time_s.mean, s->time_s.half_width, "s"), energy_ci(b, &s->gross_j), energy_ci(c, &s->dynamic_j),
            share(d, lj_report_phase_share(r, (lj_phase)p, 0)), share(e, lj_report_phase_share(r, (lj_phase)p, 1)), m);
  }
  fprintf(f, "%-10s %3s %16s %18s %18s\n", "run", "", "", energy(a, lj_report_phase_total_j(r, 0)),
          energy(b, lj_report_phase_total_j(r, 1)));
  fprintf(f, "\n%-10s %8s %11s %11s %9s %9s %14s %8s  %s\n", "phase", "tokens", "gross/tok", "dyn/tok", "tok/J g",
          "tok/J d", "buffer gross", "cnt-buf", "window flags");
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    lj_phase_summary view;
    lj_report_phase_view(r, (lj_phase)p, &view);
    const lj_phase_summary *s = &view;
    double counter = lj_report_phase_counter_gross_j(r, (lj_phase)p);
    double diff = isfinite(counter) && s->sample_gross_j.n > 0 && s->sample_gross_j.mean != 0
                      ? (counter - s->sample_gross_j.mean) / s->sample_gross_j.mean * 100
                      : NAN;
    fprintf(f, "%-10s %8lld %11s %11s %9s %9s %14s %8s  %s\n", lj_phase_name((lj_phase)p),
            (long long)s->tokens_per_unit, energy(a, s->gross_j_per_token), energy(b, s->dynamic_j_per_token),
            sig3(c, s->tokens_per_gross_j), sig3(d, s->tokens_per_dynamic_j), energy_ci(e, &s->sample_gross_j),
            pct(g, diff, 2), flags_text(h, s->window_flags));
  }
  if (idle_phase)
    fprintf(f, "dynamic -: tokenize and detokenize run on the CPU while the GPU idles; above idle is noise there\n");
}

// Each GPU's phases (tensor-parallel degree > 1: rank r on device r) beside their sum, the run's
// figure above; share = the GPU's gross energy over the sum's.
static void print_ranks(FILE *f, const lj_profile_result *r) {
  if (r->n_ranks < 2 || r->plan.timing_only) return;
  cell a, b, c, d, e;
  char title[96];
  snprintf(title, sizeof title, "Per GPU (tensor-parallel degree %d; per unit)", r->plan.tp_degree);
  section(f, title);
  fprintf(f, "%-10s %4s %18s %18s %11s %11s %8s\n", "phase", "GPU", "gross/unit", "dynamic/unit", "gross/tok",
          "dyn/tok", "share g");
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int k = 0; k <= r->n_ranks; k++) {
      double sh;
      const lj_phase_summary *s = lj_report_rank_row(r, k, (lj_phase)p, &sh);
      if (!s) continue;
      char gpu[8];
      snprintf(gpu, sizeof gpu, k < r->n_ranks ? "%d" : "sum", k);
      fprintf(f, "%-10s %4s %18s %18s %11s %11s %8s\n", lj_phase_name((lj_phase)p), gpu, energy_ci(a, &s->gross_j),
              energy_ci(b, &s->dynamic_j), energy(c, s->gross_j_per_token), energy(d, s->dynamic_j_per_token),
              share(e, sh));
    }
  // each GPU's dynamic figures are above its own idle; the sum's above their sum (the conditions' idle)
  if (!isfinite(r->ranks[0].idle_w)) return;
  fprintf(f, "idle per GPU:");
  for (int k = 0; k < r->n_ranks; k++)
    fprintf(f, " %d: %s W%s", k, fixed(a, r->ranks[k].idle_w, 1), k + 1 < r->n_ranks ? "," : "");
  fprintf(f, "; sum %s W\n", fixed(a, r->cond.idle_w, 1));
}

// ---------------------------------------------------------------- stages

// By stage, KV length and layer; a sequence estimate right under its isolation one.
static int stage_order(const void *pa, const void *pb) {
  const lj_profile_stage *sa = *(const lj_profile_stage *const *)pa, *sb = *(const lj_profile_stage *const *)pb;
  const lj_stage_key *a = &sa->est.key, *b = &sb->est.key;
  if (a->stage != b->stage) return a->stage < b->stage ? -1 : 1;
  if (a->kv_len != b->kv_len) return a->kv_len < b->kv_len ? -1 : 1;
  if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
  return (sa->method > sb->method) - (sa->method < sb->method);
}

// The communication's line under the group table (tensor parallelism; nothing at degree 1).
static int print_comm(FILE *f, const lj_profile_result *r, lj_phase p) {
  lj_interval j;
  double s;
  cell a, b;
  int has = lj_report_comm_per_token(r, p, &j, &s);
  if (has < 0) return has;
  if (has && r->plan.timing_only)
    fprintf(f, "communication (attn_allreduce + mlp_allreduce): %s per token\n", qty(a, s, NAN, "s"));
  else if (has)
    fprintf(f, "communication (attn_allreduce + mlp_allreduce): %s per token dynamic, %s per token\n",
            interval_j(a, &j), qty(b, s, NAN, "s"));
  return 0;
}

// The group column's width: 10, or "communication"'s where that group has rows.
static int group_col(const lj_profile_result *r, lj_phase p) {
  lj_report_group comm;
  int rc = lj_report_group_sum(r, p, LJ_GROUP_COMM, &comm);
  return rc == 0 && comm.n_estimates ? (int)strlen(lj_stage_group_name(LJ_GROUP_COMM)) : 10;
}

// A timing-only run's groups: the engine's own clock per unit, and each group's share of the stages' sum.
static int print_groups_time(FILE *f, const lj_profile_result *r, lj_phase p) {
  lj_report_group sum[LJ_GROUP_COUNT];
  double total = 0;
  for (int g = 0; g < LJ_GROUP_COUNT; g++) {
    LJ_TRY(lj_report_group_sum(r, p, (lj_stage_group)g, &sum[g]));
    if (sum[g].n_estimates) total += sum[g].time_s;
  }
  int w = group_col(r, p);
  cell a, b;
  fprintf(f, "%-*s %10s %8s %5s\n", w, "group", "time/unit", "share", "rows");
  for (int g = 0; g < LJ_GROUP_COUNT; g++)
    if (sum[g].n_estimates)
      fprintf(f, "%-*s %10s %8s %5d\n", w, lj_stage_group_name((lj_stage_group)g), qty(a, sum[g].time_s, NAN, "s"),
              share(b, total > 0 ? sum[g].time_s / total : NAN), sum[g].n_estimates);
  return print_comm(f, r, p);
}

static int print_groups(FILE *f, const lj_profile_result *r, lj_phase p) {
  cell a, b, c, d;
  int w = group_col(r, p);
  fprintf(f, "%-*s %18s %18s %8s %8s %5s\n", w, "group", "dynamic/unit", "gross/unit", "share d", "share g", "rows");
  for (int g = 0; g < LJ_GROUP_COUNT; g++) {
    lj_report_group sum;
    LJ_TRY(lj_report_group_sum(r, p, (lj_stage_group)g, &sum));
    if (!sum.n_estimates) continue;
    fprintf(f, "%-*s %18s %18s %8s %8s %5d\n", w, lj_stage_group_name((lj_stage_group)g),
            interval_j(a, &sum.dynamic_j), interval_j(b, &sum.gross_j), share(c, sum.share_dynamic),
            share(d, sum.share_gross), sum.n_estimates);
  }
  LJ_TRY(print_comm(f, r, p));
  // The shares are of the replayed stages; say how much of the measured phase they leave out.
  const lj_closure *cl = lj_profile_closure_of(r, p, lj_profile_reported_method(r, p));
  if (cl->n_terms > 0 && cl->measured_dynamic_j > 0 && isfinite(cl->predicted_dynamic_j.estimate)) {
    double left = cl->measured_dynamic_j - cl->predicted_dynamic_j.estimate;
    fprintf(f, "shares are of the replayed stages, %s of the measured %s dynamic; %s (%s) %s\n",
            energy(a, cl->predicted_dynamic_j.estimate), energy(b, cl->measured_dynamic_j), energy(c, fabs(left)),
            share(d, fabs(left) / cl->measured_dynamic_j), left >= 0 ? "is in no replayed stage" : "more than measured");
  }
  return 0;
}

// A sequence row under its stage's isolation row reads "  seq"; with no such row above it, it
// names its stage.
static const char *stage_label(cell c, const lj_profile_stage *s, const lj_profile_stage *above) {
  const char *name = lj_stage_name(s->est.key.stage);
  int under = above && above->est.key.stage == s->est.key.stage;
  if (s->method == LJ_METHOD_SEQUENCE)
    under ? snprintf(c, sizeof(cell), "  seq") : snprintf(c, sizeof(cell), "%s seq", name);
  else if (s->method == LJ_METHOD_SHAPLEY)
    under ? snprintf(c, sizeof(cell), "  shap") : snprintf(c, sizeof(cell), "%s shap", name);
  else if (s->method == LJ_METHOD_SHAPLEY_LAYER)
    under ? snprintf(c, sizeof(cell), "  shL") : snprintf(c, sizeof(cell), "%s shL", name);
  else
    snprintf(c, sizeof(cell), "%s", name);
  return c;
}

// The stage column's width: 10, or the longest label a composite or all-reduce stage's name needs
// ("ffn_norm+gate_up+swiglu shap", "attn_allreduce"), so the columns after it stay aligned.
static int stage_col(const lj_profile_result *r) {
  int w = 10;
  for (size_t i = 0; i < r->n_stages; i++) {
    int n = (int)strlen(lj_stage_name(r->stages[i].est.key.stage)) + 5;  // + " shap" / " seq"
    lj_stage st = r->stages[i].est.key.stage;
    if ((lj_stage_is_composite(st) || lj_stage_is_allreduce(st)) && n > w) w = n;
  }
  for (int p = 0; r->timeline_valid && p < LJ_PHASE_COUNT; p++)
    for (int st = 0; st < LJ_STAGE_ALL_COUNT; st++) {
      int n = (int)strlen(lj_stage_name((lj_stage)st));
      if (r->timeline.stage[p][st].calls > 0 && n > w) w = n;
    }
  return w;
}

// "mem", "comp", "link" or "-" (lj_report_bound).
static const char *bound_abbrev(const char *bound) {
  return !bound ? "-" : bound[0] == 'm' ? "mem" : bound[0] == 'c' ? "comp" : bound;
}

static void print_stage_row(FILE *f, const lj_profile_result *r, const lj_profile_stage *s, const char *label,
                            int timing_only, int w) {
  const lj_replay_estimate *e = &s->est;
  cell kv, calls, dyn, unit, sh, t, situ, ratio, jf, jb, fb, cv;
  snprintf(kv, sizeof kv, "%lld", (long long)e->key.kv_len);
  fixed(calls, s->calls_per_unit, s->calls_per_unit == floor(s->calls_per_unit) ? 0 : 2);
  qty(t, e->time_per_call_s.n > 0 ? e->time_per_call_s.mean : NAN, NAN, "s");
  seconds(situ, e->insitu_time_per_call_s);
  fixed(ratio, e->time_ratio, 2);
  if (lj_report_time_ratio_off(e->time_ratio)) strcat(ratio, "*");
  sig3(fb, s->cost.bytes > 0 ? s->cost.flops_per_byte : NAN);
  const char *bound = lj_report_bound(&s->cost);
  if (timing_only) {
    qty(unit, s->calls_per_unit * e->time_per_call_s.mean, NAN, "s");
    cv_pct(cv, e->time_per_call_s.cv);
    fprintf(f, "%-*s %5s %8s %10s %10s %6s %10s %6s %-4s %6s\n", w, label, kv, calls, t, situ, ratio, unit, fb,
            bound_abbrev(bound), cv);
    return;
  }
  double per_call = e->dynamic_j.n > 0 ? e->dynamic_j.mean : NAN;
  qty(dyn, per_call, e->dynamic_j.half_width, "J");
  energy(unit, s->calls_per_unit * per_call);
  share(sh, lj_profile_stage_share(r, s, 1));
  lj_stage_efficiency eff;
  lj_report_stage_efficiency(s, &eff);
  sig3(jf, eff.j_per_flop * 1e12);
  sig3(jb, eff.j_per_byte * 1e12);
  cv_pct(cv, e->dynamic_j.cv);
  if (e->window_flags & LJ_WINDOW_SOURCES_DISAGREE) strcat(cv, "!");
  fprintf(f, "%-*s %5s %8s %16s %9s %6s %8s %8s %5s %7s %6s %6s %-4s %5s\n", w, label, kv, calls, dyn, unit, sh, t,
          situ, ratio, jf, jb, fb, bound_abbrev(bound), cv);
}

static int print_stages(FILE *f, const lj_profile_result *r, lj_phase p) {
  size_t n = lj_report_stage_count(r, p);
  if (!n) return 0;
  const lj_profile_stage **rows = malloc(n * sizeof *rows);
  if (!rows) return LJ_FAIL(LJ_ENOMEM, "report: out of memory sorting %zu stages", n);
  size_t k = 0;
  for (size_t i = 0; i < r->n_stages; i++)
    if (r->stages[i].est.key.phase == p) rows[k++] = &r->stages[i];
  qsort(rows, n, sizeof *rows, stage_order);

  int timing_only = r->plan.timing_only;
  char title[160], trials[32] = "";
  if (r->plan.trials > 0) snprintf(trials, sizeof trials, ", %d trials per row", r->plan.trials);
  snprintf(title, sizeof title, "%s stages (%s%s; one call = one stage, one layer, the whole batch)",
           p == LJ_PHASE_PREFILL ? "Prefill" : p == LJ_PHASE_DECODE ? "Decode" : lj_phase_name(p),
           timing_only ? "the CPU engine's stage clocks" : "isolation replay", timing_only ? "" : trials);
  section(f, title);
  int rc = 0;
  if (timing_only && group_col(r, p) > 10) {  // the groups by time where the run has an all-reduce (degree > 1)
    rc = print_groups_time(f, r, p);
    fputc('\n', f);
  } else if (!timing_only) {
    rc = print_groups(f, r, p);
    lj_profile_method m = lj_profile_reported_method(r, p);
    if (m != LJ_METHOD_ISOLATION)
      fprintf(f, "%s groups and shares: %s method (isolation for the stages it did not measure)\n", lj_phase_name(p),
              lj_profile_method_name(m));
    fputc('\n', f);
  }
  if (rc == 0) {
    int w = stage_col(r);
    if (timing_only)
      fprintf(f, "%-*s %5s %8s %10s %10s %6s %10s %6s %-4s %6s\n", w, "stage", "kv", "calls/u", "t/call", "in situ",
              "ratio", "time/unit", "FLOP/B", "bnd", "CV");
    else
      fprintf(f, "%-*s %5s %8s %16s %9s %6s %8s %8s %5s %7s %6s %6s %-4s %5s\n", w, "stage", "kv", "calls/u",
              "dyn/call", "dyn/unit", "share", "t/call", "in situ", "ratio", "pJ/FLOP", "pJ/B", "FLOP/B", "bnd", "CV");
    int off = 0, seq = 0, shap = 0, shl = 0, nonpositive = 0, from_samples = 0, disagree = 0;
    for (size_t i = 0; i < n; i++) {
      from_samples += !!(rows[i]->est.window_flags & LJ_WINDOW_SAMPLE_ENERGY);
      disagree += !!(rows[i]->est.window_flags & LJ_WINDOW_SOURCES_DISAGREE);
      const lj_mean_ci *d = &rows[i]->est.dynamic_j;
      nonpositive |= d->n > 0 && !(d->mean > 0) && (rows[i]->cost.flops > 0 || rows[i]->cost.bytes > 0);
      cell label;
      print_stage_row(f, r, rows[i], stage_label(label, rows[i], i ? rows[i - 1] : NULL), timing_only, w);
      off |= lj_report_time_ratio_off(rows[i]->est.time_ratio);
      seq |= rows[i]->method == LJ_METHOD_SEQUENCE;
      shap |= rows[i]->method == LJ_METHOD_SHAPLEY;
      shl |= rows[i]->method == LJ_METHOD_SHAPLEY_LAYER;
    }
    if (timing_only)
      fprintf(f, "kv: positions in the cache; t/call: the engine's own clock per call, averaged over the run\n");
    else
      fprintf(f, "kv: positions in the cache when replayed; t/call replayed vs in situ (timeline), "
                 "ratio = replayed / in situ\n");
    if (seq)
      fprintf(f, "seq: sequence replay, the layer's stages up to this one in order, back to back, "
                 "minus those before it\n");
    if (shap)
      fprintf(f, "shap: Shapley value, (isolation + (whole layer - layer without the stage)) / 2; exact with "
                 "pairwise interactions (its check: Shapley split below)\n");
    if (shl)
      fprintf(f, "shL: Shapley value of the layer's own game (stage costs + a cost per GEMM->GEMM junction) fitted "
                 "to every window of the rounds (its check: Shapley split below)\n");
    if (!timing_only) {
      lj_profile_method m = lj_profile_reported_method(r, p);
      fprintf(f, "share: of the %s method's sum (its closure's prediction): its rows add to 100%%%s\n",
              lj_profile_method_name(m), m == LJ_METHOD_ISOLATION ? "" : "; - = a row it replaced");
    }
    if (!timing_only) fprintf(f, "pJ/FLOP, pJ/B: dynamic energy over the analytic work; ");
    fprintf(f, "bnd: FLOP/B below the ridge (%.0f) = memory-bound", LJ_REPORT_RIDGE_FLOP_PER_BYTE);
    fprintf(f, group_col(r, p) > 10 ? "; link: an all-reduce, its bytes cross NVLink, not HBM (no FLOP/B, pJ/B)\n"
                                    : "\n");
    if (nonpositive && !timing_only)
      fprintf(f, "pJ/FLOP, pJ/B -: a dynamic estimate <= 0 is noise (a stage's work costs energy), "
                 "so it has no energy per work\n");
    if (off)
      fprintf(f, "* replayed time per call off the in-situ time by > %.0f%%: that row's figures are suspect\n",
              LJ_REPORT_TIME_RATIO_TOLERANCE * 100);
    if (from_samples && !timing_only)
      fprintf(f, "energies of %d of %zu rows from the driver's power samples (windows < %.0f s), the rest from "
                 "the energy counter\n",
              from_samples, n, LJ_SAMPLE_WINDOW_MAX_S);
    if (disagree && !timing_only)
      fprintf(f, "!: %d rows whose figure by the other source (counter or samples) lies outside their interval\n",
              disagree);
    for (size_t i = 0; i < n; i++) {
      const lj_replay_estimate *e = &rows[i]->est;
      cell fl;
      // the energy source is told above; a row lists the flags of its windows
      uint32_t shown = e->window_flags & ~(uint32_t)(LJ_WINDOW_SAMPLE_ENERGY | LJ_WINDOW_SOURCES_DISAGREE);
      if (shown)
        fprintf(f, "flags: %s%s kv %lld: %s\n", lj_stage_name(e->key.stage),
                rows[i]->method == LJ_METHOD_SEQUENCE  ? " seq"
                : rows[i]->method == LJ_METHOD_SHAPLEY ? " shap"
                : rows[i]->method == LJ_METHOD_SHAPLEY_LAYER ? " shL"
                                                       : "",
                (long long)e->key.kv_len, flags_text(fl, shown));
    }
  }
  free(rows);
  return rc;
}

// ---------------------------------------------------------------- closure

static void print_closure(FILE *f, const lj_profile_result *r, lj_phase p, const lj_closure *c, lj_profile_method m) {
  if (c->n_terms <= 0) return;
  cell a, b, d, e, g, h, i;
  const char *verdict = lj_verdict_name(lj_report_closure_verdict(r, c, m));
  // the predicted gross without its interval (the JSON has it): room for INCONCLUSIVE in 120 columns
  fprintf(f, "%-8s %-9s %5d %9s %10s %7s %9s %16s %7s %17s %s\n", lj_phase_name(p), lj_profile_method_name(m),
          c->n_terms, energy(a, c->measured_gross_j), energy(b, c->predicted_gross_j.estimate),
          pct(d, c->error_gross_pct, 1), energy(e, c->measured_dynamic_j), interval_j(g, &c->predicted_dynamic_j),
          pct(h, c->error_dynamic_pct, 1), pct_range(i, c->error_dynamic_lo_pct, c->error_dynamic_hi_pct),
          verdict ? verdict : "-");
}

static void print_closures(FILE *f, const lj_profile_result *r) {
  int any = 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++)
      any |= lj_profile_closure_of(r, (lj_phase)p, (lj_profile_method)m)->n_terms > 0;
  if (!any) return;
  section(f, "Closure: sum over replayed stages (calls x per call) vs the measured phase window");
  fprintf(f, "%-8s %-9s %5s %9s %10s %7s %9s %16s %7s %17s %s\n", "phase", "method", "terms", "meas gross",
          "pred gross", "error", "meas dyn", "pred dyn", "error", "dyn error 95%", "verdict");
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    for (int m = 0; m < LJ_METHOD_COUNT; m++)
      print_closure(f, r, (lj_phase)p, lj_profile_closure_of(r, (lj_phase)p, (lj_profile_method)m), (lj_profile_method)m);
  }
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int m = 0; m < LJ_METHOD_COUNT; m++) {
      const lj_closure *c = lj_profile_closure_of(r, (lj_phase)p, (lj_profile_method)m);
      if (c->n_terms <= 0 || !lj_profile_budget_of(r, "closure", (lj_phase)p, (lj_profile_method)m, LJ_STAGE_NONE))
        continue;
      double lo, hi;
      cell a;
      lj_report_closure_range(r, c, (lj_profile_method)m, &lo, &hi);
      fprintf(f, "%-8s %-9s with the uncertainty budget: %s\n", lj_phase_name((lj_phase)p),
              lj_profile_method_name((lj_profile_method)m), pct_range(a, lo, hi));
    }
  fprintf(f, "gross misses the idle energy of the gaps between stages\n");
  fprintf(f, "PASS: the whole %.0f%% interval of the dyn error within +-%.0f%%; MISS: the whole interval outside;\n"
             "  INCONCLUSIVE: the interval across the bound (or none). The interval: the error +- the uncertainty\n"
             "  budget's total where the run has one (below), else the trials' alone\n",
          r->plan.level * 100, LJ_REPORT_CLOSURE_TARGET_PCT);
}

// ---------------------------------------------------------------- timeline

static void print_layers(FILE *f, const lj_profile_result *r, lj_phase p) {
  const double *e = r->layer_energy_j[p];
  int n = r->plan.config.n_layers;
  if (!e || n <= 0) return;
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  int lo_i = -1, hi_i = -1, k = 0;
  for (int l = 0; l < n; l++) {
    if (!isfinite(e[l])) continue;
    sum += e[l], k++;
    if (e[l] < lo) lo = e[l], lo_i = l;
    if (e[l] > hi) hi = e[l], hi_i = l;
  }
  if (!k) return;
  cell a, b, c, d;
  fprintf(f, "  layers (gross, %d of %d): min %s (layer %d), mean %s, max %s (layer %d), max/min %s\n", k, n,
          energy(a, lo), lo_i, energy(b, sum / k), energy(c, hi), hi_i, fixed(d, lo > 0 ? hi / lo : NAN, 3));
}

static void print_timeline(FILE *f, const lj_profile_result *r) {
  if (!r->timeline_valid) return;
  const lj_timeline_result *t = &r->timeline;
  cell a, b, c, d, e;
  section(f, "In-situ timeline (CUDA events x driver power samples: a cross-check of the replay shares)");
  fprintf(f, "%d power samples, idle %s W%s%s\n", t->n_samples, fixed(a, t->idle_w, 2), t->flags ? "; flags: " : "",
          t->flags ? flags_text(b, t->flags) : "");
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    const lj_timeline_phase *ph = &t->phase[p];
    if (ph->n_intervals <= 0) continue;
    fprintf(f, "%s: %d intervals over %s, span %s gross, %s dynamic\n", lj_phase_name((lj_phase)p), ph->n_intervals,
            seconds(a, ph->span_s), energy(b, ph->energy_j), energy(c, ph->dynamic_j));
    fprintf(f, "  gaps %s (%s of the span), %s gross, %s dynamic unattributed; overlap %s\n", seconds(a, ph->gap_s),
            share(b, ph->span_s > 0 ? ph->gap_s / ph->span_s : NAN), energy(c, ph->gap_j),
            energy(d, ph->gap_dynamic_j), seconds(e, ph->overlap_s));
    int w = stage_col(r);
    fprintf(f, "  %-*s %8s %10s %10s %11s %12s %8s\n", w, "stage", "calls", "time", "dynamic", "share situ",
            "share replay", "diff");
    for (int s = 0; s < LJ_STAGE_ALL_COUNT; s++) {
      const lj_timeline_stage *ts = &t->stage[p][s];
      if (ts->calls <= 0) continue;
      double replay = lj_report_replay_share(r, (lj_phase)p, (lj_stage)s);
      double diff = isfinite(replay) && isfinite(ts->share_dynamic) ? (ts->share_dynamic - replay) * 100 : NAN;
      char pp[64];
      if (isfinite(diff))
        snprintf(pp, sizeof pp, "%+.1f pp", diff);
      else
        strcpy(pp, "-");
      fprintf(f, "  %-*s %8lld %10s %10s %11s %12s %8s\n", w, lj_stage_name((lj_stage)s), (long long)ts->calls,
              seconds(a, ts->time_s), energy(b, ts->dynamic_j), share(c, ts->share_dynamic), share(d, replay), pp);
    }
    print_layers(f, r, (lj_phase)p);
  }
  fprintf(f, "share situ: of the span's dynamic energy (gaps included); share replay: of the closure's prediction\n");
}

// ---------------------------------------------------------------- ablation, head fit, overhead

// Which source a figure came from, the counter's beside it, and whether they disagree.
static void print_source(FILE *f, uint32_t flags, const char *what, const char *counter) {
  if (!(flags & LJ_WINDOW_SAMPLE_ENERGY)) return;
  fprintf(f, "from the power samples (windows < %.0f s); by the counter %s %s%s\n", LJ_SAMPLE_WINDOW_MAX_S, what,
          counter, flags & LJ_WINDOW_SOURCES_DISAGREE ? ": outside the interval!" : "");
}

static void print_ablation(FILE *f, const lj_profile_result *r) {
  if (!r->ablation_valid) return;
  const lj_ablation *ab = &r->ablation;
  cell a, b, c, d, e, g, h;
  section(f, "Ablation (runs without one stage; dynamic energy per run)");
  fprintf(f, "%s skipped, %lld calls per run: full %s (n %d), ablated %s (n %d)\n",
          ab->stage == LJ_STAGE_GATE_UP ? "mlp (gate_up, swiglu, down)" : lj_stage_name(ab->stage),
          (long long)ab->calls, energy_ci(a, &ab->full_j), ab->full_j.n, energy_ci(b, &ab->ablated_j), ab->ablated_j.n);
  fprintf(f, "saved %s (%s per call) vs replay %s: agreement %s, ratio %s [%s, %s]\n", interval_j(a, &ab->saved_j),
          energy(b, ab->saved_per_call_j.estimate), interval_j(c, &ab->replay_j), pct(d, ab->agreement_pct, 1),
          fixed(e, ab->ratio.estimate, 3), fixed(g, ab->ratio.lo, 3), fixed(h, ab->ratio.hi, 3));
  print_source(f, ab->flags, "saved", energy(a, ab->counter_saved_j));
}

// ---------------------------------------------------------------- Shapley split, known answer, ablations

static void print_shapley(FILE *f, const lj_profile_result *r) {
  int any = 0;
  for (int p = 0; p < LJ_PHASE_COUNT; p++) any |= r->shapley[p].n_rounds > 0;
  if (!any) return;
  section(f, "Shapley split of the layer (dynamic energy per layer call; three independent measurements)");
  fprintf(f, "%-8s %-34s %16s %9s\n", "phase", "row", "J per layer call", "of layer");
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    const lj_shapley_check *c = &r->shapley[p];
    if (c->n_rounds <= 0) continue;
    double full = c->full_j.mean;
    struct {
      const char *name;
      lj_interval iv;
    } rows[5] = {{"sum of isolation", c->sum_isolation_j},
                 {"interaction = layer - sum isolation", c->interaction_j},
                 {"sum of (layer - layer without i)", c->sum_marginal_j},
                 {"sum of Shapley values", c->sum_shapley_j},
                 {"residual = sum Shapley - layer", c->residual_j}};
    cell a, b;
    fprintf(f, "%-8s %-34s %16s %9s\n", lj_phase_name((lj_phase)p), "whole layer", energy_ci(a, &c->full_j), "100%");
    for (int i = 0; i < 5; i++)
      fprintf(f, "%-8s %-34s %16s %9s\n", "", rows[i].name, interval_j(a, &rows[i].iv),
              pct(b, rows[i].iv.estimate / full * 100, 1));
    cell d, e, g;
    const char *verdict = lj_verdict_name(lj_report_shapley_verdict(r, c));
    fprintf(f, "%-8s additive check: residual %s %s, %s; %d rounds; stage orders: %d others, largest change %s\n", "",
            pct(d, c->residual_pct, 1), pct_range(e, c->residual_lo_pct, c->residual_hi_pct), verdict ? verdict : "-",
            c->n_rounds, c->n_orders, pct(g, c->order_spread_pct, 1));
    if (c->flags & LJ_WINDOW_SAMPLE_ENERGY) {
      fprintf(f, "%-8s ", "");
      print_source(f, c->flags, "residual", pct(d, c->counter_residual_pct, 1));
    }
    if (c->layer_windows > 0) {
      cell h, k;
      fprintf(f, "%-8s layer's own game: %d windows fitted; sum shL (other windows) - layer %s %s; worst window %s %s %s: %s; "
                 "GEMM->GEMM junction %s\n", "", c->layer_windows, pct(d, c->layer_residual_pct, 1),
              pct_range(e, c->layer_residual_lo_pct, c->layer_residual_hi_pct), c->layer_worst,
              pct(g, c->layer_worst_pct, 1), pct_range(h, c->layer_worst_lo_pct, c->layer_worst_hi_pct),
              c->layer_verdict[0] ? c->layer_verdict : "-", interval_j(k, &c->layer_junction_j));
    }
    lj_profile_method m = lj_profile_reported_method(r, (lj_phase)p);
    fprintf(f, "%-8s headline: %s%s\n", "", lj_profile_method_name(m),
            m == LJ_METHOD_SHAPLEY_LAYER ? " (the layer's own game fits every window)"
            : c->pass                    ? " (the additive check passed)"
                      : " (no Shapley check passed: the Shapley values stay beside the others)");
  }
  int layer_game = 0;  // the layer game's legend only where a phase has its fit (older stores do not)
  for (int p = 0; p < LJ_PHASE_COUNT; p++) layer_game |= r->shapley[p].layer_windows > 0;
  fprintf(f, "shap assumes interactions between at most two stages; a k-stage interaction c adds (k/2 - 1) c to "
             "the residual\n");
  if (layer_game)
    fprintf(f, "shL assumes v(S) = sum of stage costs + J per GEMM->GEMM junction of S replayed as a cycle; its "
               "check: every window as the fit to the other windows predicts it (deleted residual, model - "
               "measured;\n  a window no other predicts is not judged, and then no PASS)\n");
  fprintf(f, "PASS: the residual's whole 95%% interval within +-%.0f%% of the layer; MISS: the whole interval "
             "outside; INCONCLUSIVE: the interval across the bound\nheadline: %s\n",
          LJ_REPORT_CLOSURE_TARGET_PCT,
          layer_game ? "shL where its check passes, else shap where its check passes, else sequence"
                     : "shap where its check passes, else sequence");
}

// Tensor-parallel degree > 1: each GPU's own Shapley split checked against its own whole layer, and
// the run's (the sum over the GPUs) below them.
static void print_rank_shapley(FILE *f, const lj_profile_result *r) {
  int any = 0;
  for (int k = 0; k < r->n_ranks && r->n_ranks > 1; k++)
    for (int p = 0; p < LJ_PHASE_COUNT; p++) any |= r->ranks[k].shapley[p].n_rounds > 0;
  if (!any) return;
  char title[96];
  snprintf(title, sizeof title, "Shapley additive check per GPU (tensor-parallel degree %d; per layer call)",
           r->plan.tp_degree);
  section(f, title);
  fprintf(f, "%-8s %4s %16s %16s %8s %17s %7s %17s  %s\n", "phase", "GPU", "whole layer", "sum of Shapley", "residual",
          "95% (trials)", "budget", "judged", "verdict");
  for (int p = 0; p < LJ_PHASE_COUNT; p++)
    for (int k = 0; k <= r->n_ranks; k++) {
      lj_report_gpu_check g;
      lj_report_gpu_check_of(r, k, (lj_phase)p, &g);
      const lj_shapley_check *c = g.c;
      if (c->n_rounds <= 0) continue;
      cell a, b, d, e, h, j;
      char gpu[8];
      snprintf(gpu, sizeof gpu, k < r->n_ranks ? "%d" : "sum", k);
      if (isfinite(g.budget_pct)) snprintf(h, sizeof h, "+-%.1f%%", g.budget_pct);
      else dash(h);
      fprintf(f, "%-8s %4s %16s %16s %8s %17s %7s %17s  %s\n", lj_phase_name((lj_phase)p), gpu,
              energy_ci(a, &c->full_j), interval_j(b, &c->sum_shapley_j), pct(d, c->residual_pct, 1),
              pct_range(e, c->residual_lo_pct, c->residual_hi_pct), h, pct_range(j, g.judged_lo_pct, g.judged_hi_pct),
              g.verdict == LJ_VERDICT_NONE ? "-" : lj_verdict_name(g.verdict));
    }
  fprintf(f, "each GPU's split from its own meter's reading of every round and its own idle; budget: the total of "
             "that GPU's own uncertainty budget (the sum's: the run's), in %% of its layer; PASS: the residual +- "
             "its budget (judged) within +-%.0f%% of the layer\n", LJ_REPORT_CLOSURE_TARGET_PCT);
}

// PASS and INCONCLUSIVE on the budget's total interval; a miss marks the method unreliable.
static const char *known_verdict(const lj_profile_result *r, const lj_known_answer *k) {
  lj_verdict v = lj_report_known_verdict(r, k);
  return v == LJ_VERDICT_MISS ? "MISS: unreliable at this size" : v == LJ_VERDICT_NONE ? "-" : lj_verdict_name(v);
}

static void print_known_answer(FILE *f, const lj_profile_result *r) {
  if (r->n_known <= 0) return;
  cell a;
  section(f, "Known answer (a calibration copy after each o_proj; each method's estimate vs the copy alone)");
  fprintf(f, "%-8s %-9s %9s %16s %16s %8s %17s  %s\n", "phase", "method", "copy", "alone (truth)", "estimate",
          "error", "95%", "within 10%");
  for (int i = 0; i < r->n_known; i++) {
    const lj_known_answer *k = &r->known[i];
    cell b, c, d, e;
    snprintf(a, sizeof a, "%lld MiB", (long long)(k->bytes >> 20));
    fprintf(f, "%-8s %-9s %9s %16s %16s %8s %17s  %s\n", lj_phase_name(k->phase), lj_profile_method_name(k->method), a,
            energy_ci(b, &k->truth_j), interval_j(c, &k->estimate_j), pct(d, k->error_pct, 1),
            pct_range(e, k->error_lo_pct, k->error_hi_pct), known_verdict(r, k));
    if (k->flags & LJ_WINDOW_SAMPLE_ENERGY) {
      fprintf(f, "%-8s %-9s ", "", "");
      print_source(f, k->flags, "estimate", energy(b, k->counter_estimate_j));
    }
  }
}

static void print_ablation_checks(FILE *f, const lj_profile_result *r) {
  if (r->n_ablation_checks <= 0) return;
  section(f, "Ablations (runs without a stage group) vs each method's estimate of it, dynamic J per unit");
  fprintf(f, "%-8s %-5s %-9s %7s %16s %16s %8s %21s  %s\n", "phase", "skip", "method", "calls", "saved", "estimate",
          "agree", "ratio 95%", "within 10%");
  for (int i = 0; i < r->n_ablation_checks; i++) {
    const lj_ablation_check *c = &r->ablation_checks[i];
    const lj_ablation *ab = &c->a;
    cell a, b, d, e, g, h;
    const char *verdict = lj_verdict_name(lj_report_ablation_verdict(r, c));
    fprintf(f, "%-8s %-5s %-9s %7lld %16s %16s %8s %7s [%s, %s]  %s\n", lj_phase_name(c->phase),
            ab->stage == LJ_STAGE_ATTN ? "attn" : "mlp", lj_profile_method_name(c->method), (long long)ab->calls,
            interval_j(a, &ab->saved_j), interval_j(b, &ab->replay_j), pct(d, ab->agreement_pct, 1),
            fixed(e, ab->ratio.estimate, 3), fixed(g, ab->ratio.lo, 3), fixed(h, ab->ratio.hi, 3), verdict ? verdict : "-");
  }
  fprintf(f, "attn: the attention kernel; mlp: gate_up, swiglu and down; agree: (saved - estimate) / estimate\n");
  int pairs = 0;
  for (int i = 0; i < r->n_ablation_checks; i++)
    if (r->ablation_checks[i].a.full_j.n > pairs) pairs = r->ablation_checks[i].a.full_j.n;
  fprintf(f, "saved: per ablated window, the mean of the full windows before and after it less it, over the pairs "
             "(Student t; up to %d pairs a row, JSON full_j.n; more rounds decide: --ablation-rounds)\n", pairs);
  int from_samples = 0, disagree = 0;
  for (int i = 0; i < r->n_ablation_checks; i++) {
    from_samples += !!(r->ablation_checks[i].a.flags & LJ_WINDOW_SAMPLE_ENERGY);
    disagree += !!(r->ablation_checks[i].a.flags & LJ_WINDOW_SOURCES_DISAGREE);
  }
  if (from_samples)
    fprintf(f, "saved energy of %d of %d rows from the driver's power samples (windows < %.0f s), the rest from the "
               "energy counter%s\n",
            from_samples, r->n_ablation_checks, LJ_SAMPLE_WINDOW_MAX_S,
            disagree ? "; the counter's figure outside the interval in some rows (JSON: counter_saved_j)" : "");
  int capped = 0;
  for (int i = 0; i < r->n_ablation_checks; i++) capped += !!(r->ablation_checks[i].a.flags & LJ_WINDOW_POWER_CAP);
  if (capped)
    fprintf(f, "power cap: %d rows have a window of their pairs at the power limit (mean >= 98%% of it, or a "
               "power-cap reason; JSON flags_text power_cap; docs/attribution.md 5)\n", capped);
  lj_report_ablation_windows_text(f, r);
}

// Each layer replayed alone (--per-layer), its agreement test, and the layer-skip checks.
static void print_layer_replays(FILE *f, const lj_profile_result *r) {
  if (r->n_layers == 0 && r->n_layer_skips <= 0) return;
  section(f, "Per layer (each decoder layer replayed alone; dynamic and gross J per layer call, 95%)");
  fprintf(f, "%-8s %5s %6s %18s %18s %12s %4s %7s  %s\n", "phase", "layer", "trials", "dynamic", "gross",
          "time/call", "rank", "t", "agrees");
  for (size_t i = 0; i < r->n_layers; i++) {
    const lj_layer_estimate *l = &r->layers[i];
    cell a, b, c, d;
    fprintf(f, "%-8s %5d %6d %18s %18s %12s %4d %7s  %s\n", lj_phase_name(l->phase), l->layer, l->n_trials,
            energy_ci(a, &l->dynamic_j), energy_ci(b, &l->gross_j),
            qty(c, l->time_s.n > 0 ? l->time_s.mean : NAN, l->time_s.half_width, "s"), l->rank, fixed(d, l->t, 2),
            l->agrees ? "yes" : "NO");
  }
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    int worst = -1, v = lj_profile_layer_agreement(r, (lj_phase)p, &worst);
    if (v < 0) continue;
    double crit = NAN;
    for (size_t i = 0; i < r->n_layers; i++)
      if (r->layers[i].phase == (lj_phase)p && r->layers[i].layer == worst) crit = r->layers[i].critical;
    cell a;
    fprintf(f, "%-8s agreement across layers: %s (largest |t| at layer %d, critical %s)\n", lj_phase_name((lj_phase)p),
            v ? "PASS" : "MISS", worst, fixed(a, crit, 2));
  }
  if (r->n_layers)
    fprintf(f, "t: (layer - mean of the other layers) / se of the variance pooled over the layers; agrees: |t| within "
               "t at 1 - 0.05/(2 x layers) (Bonferroni), or the difference's whole interval within +-5%% of the others. "
               "With random weights every layer is the same computation: a MISS says the measurement differs, not "
               "the model\n");
  if (r->n_layer_skips <= 0) return;
  fprintf(f, "%-8s %5s %7s %16s %16s %8s %20s  %-12s  %s\n", "phase", "skip", "calls", "saved", "estimate", "agree",
          "agree 95%", "verdict", "note");
  int head = 0;
  for (int i = 0; i < r->n_layer_skips; i++) {
    const lj_layer_skip *s = &r->layer_skips[i];
    const char *verdict = lj_verdict_name(lj_report_layer_skip_verdict(r, s));
    int h = lj_report_layer_skip_head_change(r, s);
    head |= h;
    cell a, b, d, e;
    double lo, hi;
    lj_report_layer_skip_range(s, &lo, &hi);
    cell hc;
    int with = h && isfinite(s->head_change_j.estimate);
    fprintf(f, "%-8s %5d %7lld %16s %16s %8s %20s  %-*s%s%s\n", lj_phase_name(s->phase), s->layer,
            (long long)s->a.calls, interval_j(a, &s->a.saved_j), interval_j(b, &s->a.replay_j),
            pct(d, s->a.agreement_pct, 1), pct_range(e, lo, hi), h ? 12 : 0, verdict ? verdict : "-",
            !h ? "" : with ? "  head " : "  head", with ? interval_j(hc, &s->head_change_j) : "");
  }
  fprintf(f, "skip: the real run with that layer a no-op (the residual passes through), dynamic J per phase unit; "
             "saved: per skipped window, the mean of the full windows before and after it less it, over the pairs "
             "(Student t); estimate: calls x the layer's replay; agree: saved / estimate - 1\n"
             "PASS: the whole 95%% interval of agree within +-%.0f%%; MISS: the whole interval outside; "
             "INCONCLUSIVE: the interval across the bound (more rounds decide: --skip-rounds)\n",
          LJ_LAYER_SKIP_TARGET_PCT);
  if (head)
    fprintf(f, "head: the last layer; skipping it also changes the input of the final norm and the LM head, whose "
               "power depends on its operands, so its saving is not that layer's energy alone: its estimate adds "
               "the head's change (J per unit, beside it: the final norm + LM head replayed on that layer's input "
               "less on their own); without it (not measured) the row never passes\n");
}

// Layers x stages (--per-layer): each stage of each layer alone, dynamic J per call, a row per layer;
// beside it the stages' sum against the whole layer replayed alone (their gap: what no stage has alone).
static void print_layer_stages(FILE *f, const lj_profile_result *r) {
  if (r->n_layer_stages == 0) return;
  section(f, "Layers x stages (each stage of each layer replayed alone on that layer's input; dynamic J per call)");
  for (int p = 0; p < LJ_PHASE_COUNT; p++) {
    int any = 0;
    for (size_t i = 0; i < r->n_layer_stages && !any; i++) any = r->layer_stages[i].phase == (lj_phase)p;
    if (!any) continue;
    fprintf(f, "%-8s %5s", lj_phase_name((lj_phase)p), "layer");
    for (int k = 0; k < LJ_LAYER_STAGES; k++) fprintf(f, " %9s", lj_stage_name(lj_layer_order_stage(0, k)));
    fprintf(f, " %9s %9s %8s\n", "sum", "layer", "sum/lay");
    for (int L = 0; L < r->plan.config.n_layers; L++) {
      double sum = 0;
      int n = 0;
      cell c;
      char row[512];
      int used = snprintf(row, sizeof row, "%-8s %5d", lj_phase_name((lj_phase)p), L);
      for (int k = 0; k < LJ_LAYER_STAGES; k++) {
        const lj_layer_stage_estimate *x = NULL;
        for (size_t i = 0; i < r->n_layer_stages; i++) {
          const lj_layer_stage_estimate *y = &r->layer_stages[i];
          if (y->phase == (lj_phase)p && y->layer == L && y->stage == lj_layer_order_stage(0, k)) x = y;
        }
        double v = x && x->dynamic_j.n > 0 ? x->dynamic_j.mean : NAN;
        if (isfinite(v)) sum += v, n++;
        used += snprintf(row + used, sizeof row - (size_t)used, " %9s", energy(c, v));
      }
      if (!n) continue;
      double layer = NAN;
      for (size_t i = 0; i < r->n_layers; i++)
        if (r->layers[i].phase == (lj_phase)p && r->layers[i].layer == L) layer = r->layers[i].dynamic_j.mean;
      cell a, b, d;
      fprintf(f, "%s %9s %9s %8s\n", row, energy(a, n == LJ_LAYER_STAGES ? sum : NAN), energy(b, layer),
              pct(d, layer > 0 && n == LJ_LAYER_STAGES ? (sum / layer - 1) * 100 : NAN, 1));
    }
  }
  int low = 0;
  for (size_t i = 0; i < r->n_layer_stages; i++) low += r->layer_stages[i].time_ratio < LJ_LAYER_STAGE_LOW_RATIO;
  fprintf(f, "sum/lay: the stages' sum against the whole layer replayed alone, - 1 (isolation misses the transitions "
             "between stages, docs/attribution.md §2c); one trial per cell: no interval\n");
  if (low)
    fprintf(f, "cells replayed faster than in the run: %d of %zu (replayed time / in-situ time < %.1f; JSON: "
               "time_ratio): their energy per call may be low\n", low, r->n_layer_stages, LJ_LAYER_STAGE_LOW_RATIO);
}

static void print_head_fit(FILE *f, const lj_profile_result *r) {
  if (!r->head_fit_valid) return;
  const lj_head_fit *h = &r->head_fit;
  cell a, b, c, d, e, g;
  section(f, "Attention heads (attn energy per call = fixed + per KV group x groups active)");
  fprintf(f, "decode attn at kv %lld, %d points: fixed %s [%s, %s], per KV group %s [%s, %s]\n",
          (long long)r->head_fit_kv, h->fit.n, energy(a, h->fixed_j), energy(b, h->fit.a_lo), energy(c, h->fit.a_hi),
          energy(d, h->per_group_j), energy(e, h->fit.b_lo), energy(g, h->fit.b_hi));
  fprintf(f, "per query head %s, all groups %s, fixed share %s, r2 %s, residual sd %s\n", energy(a, h->per_head_j),
          energy(b, h->all_groups_j), share(c, h->fixed_share), fixed(d, h->fit.r2, 4), energy(e, h->fit.resid_sd));
  snprintf(g, sizeof g, "%s, r2 %.2f", energy(a, h->counter_per_group_j), h->counter_r2);
  print_source(f, h->flags, "per KV group", g);
}

// The attention-head grid: its points (how many, which were skipped and why) and each fit with its
// lack-of-fit verdict; the per-head cost only where the fit holds.
static void print_head_grid(FILE *f, const lj_profile_result *r) {
  if (r->n_head_points == 0) return;
  section(f, "Attention heads (decode attention alone: per call = fixed + per KV group x groups + per byte x K,V read)");
  int skipped = 0, trials = 0;
  for (size_t i = 0; i < r->n_head_points; i++) skipped += !!r->head_points[i].skipped[0], trials += r->head_points[i].n_trials;
  fprintf(f, "grid: %zu points (batch x KV length x active KV groups), %d skipped, %d trials\n", r->n_head_points, skipped,
          trials);
  for (size_t i = 0; i < r->n_head_points; i++) {
    const lj_head_grid_point *p = &r->head_points[i];
    if (p->skipped[0])
      fprintf(f, "  skipped: batch %d, KV %lld, %d groups: %s\n", p->batch, (long long)p->kv_len, p->groups, p->skipped);
  }
  for (size_t i = 0; i < r->n_head_fits; i++) {
    const lj_head_grid_fit *h = &r->head_fits[i];
    const char *u = strcmp(h->quantity, "time_s") ? "J" : "s";
    cell a, b, c, d, e;
    char scope[32];
    if (h->batch > 0) snprintf(scope, sizeof scope, "batch %d", h->batch);
    else snprintf(scope, sizeof scope, "all batches");
    fprintf(f, "%s, %s per call (%d trials, %d points): fixed %s, per KV group %s, per byte %.3g %s/B [%.3g, %.3g], "
               "r2 %s\n", scope, *u == 'J' ? "energy" : "time", h->n_obs, h->n_points,
            qty(a, h->fixed.estimate, (h->fixed.hi - h->fixed.lo) / 2, u),
            qty(b, h->per_group.estimate, (h->per_group.hi - h->per_group.lo) / 2, u), h->per_byte.estimate, u,
            h->per_byte.lo, h->per_byte.hi, fixed(c, h->r2, 4));
    if (h->holds < 0) {
      fprintf(f, "  lack of fit: not testable (no replicates, or no more points than the 3 coefficients): no per-head cost\n");
      continue;
    }
    fprintf(f, "  lack of fit: F %.3g (%g, %g df), p %.3g: %s\n", h->lof_f, h->lof_df_lack, h->lof_df_pure, h->lof_p,
            h->holds ? "the fit holds" : "the fit does not hold (no per-head cost)");
    if (h->holds)
      fprintf(f, "  per query head: %s at batch %d x KV %lld, %s at batch %d x KV %lld\n",
              qty(d, h->per_head_small.estimate, (h->per_head_small.hi - h->per_head_small.lo) / 2, u), h->small_batch,
              (long long)h->small_kv,
              qty(e, h->per_head_large.estimate, (h->per_head_large.hi - h->per_head_large.lo) / 2, u), h->large_batch,
              (long long)h->large_kv);
    if (*u == 'J') {
      snprintf(a, sizeof a, "%.3g J/B, lack-of-fit p %.3g", h->counter_per_byte, h->counter_lof_p);
      print_source(f, h->flags, "per byte", a);
    }
  }
  fprintf(f, "+- are 95%% intervals; the fit holds while the lack-of-fit p-value is >= %.2f (docs/attribution.md)\n",
          LJ_HEAD_GRID_ALPHA);
}

static void print_overhead(FILE *f, const lj_profile_result *r) {
  if (r->n_overhead <= 0) return;
  section(f, "Measurement overhead (the same decode work, instrumentation off vs on)");
  fprintf(f, "%-10s %5s %18s %18s %9s %17s  %s\n", "what", "pairs", "off s/step", "on s/step", "overhead",
          "95% interval", "target 3%");
  for (int i = 0; i < r->n_overhead && i < 2; i++) {
    const lj_profile_overhead *o = &r->overhead[i];
    cell a, b, c, d;
    int pass = lj_report_overhead_pass(o);
    fprintf(f, "%-10s %5d %18s %18s %9s %17s  %s\n", o->what[0] ? o->what : "-", o->n,
            qty(a, o->off_s.n > 0 ? o->off_s.mean : NAN, o->off_s.half_width, "s"),
            qty(b, o->on_s.n > 0 ? o->on_s.mean : NAN, o->on_s.half_width, "s"), pct(c, o->overhead_pct, 2),
            pct_range(d, o->overhead_pct_ci.lo, o->overhead_pct_ci.hi), pass < 0 ? "-" : pass ? "PASS" : "MISS");
  }
}

// ---------------------------------------------------------------- uncertainty budget

// One term: half-width in J and in % of the reference, and its basis (m measured, b bound).
static const char *budget_term(cell c, double half_j, const char *basis, double ref_j) {
  if (!lj_budget_basis_counted(basis) || !isfinite(half_j)) return "not measured";
  cell a;
  snprintf(c, sizeof(cell), "%s %.2f%% %s", energy(a, half_j), half_j / fabs(ref_j) * 100,
           !strcmp(basis, LJ_BUDGET_MEASURED) ? "m" : "b");
  return c;
}

static const char *budget_name(cell c, const lj_budget *b) {
  if (!strcmp(b->kind, "phase")) return "phase (per unit)";
  if (!strcmp(b->kind, "j_per_token")) return "J/token";
  if (!strcmp(b->kind, "shapley")) return "Shapley residual";
  if (!strcmp(b->kind, "ablation"))
    snprintf(c, sizeof(cell), "ablation %s, %s", b->stage == LJ_STAGE_ATTN ? "attn" : "mlp",
             lj_profile_method_name(b->method));
  else if (!strcmp(b->kind, "known_answer"))
    snprintf(c, sizeof(cell), "known answer, %s", lj_profile_method_name(b->method));
  else
    snprintf(c, sizeof(cell), "%s %s", b->kind, lj_profile_method_name(b->method));
  return c;
}

static int budget_in_table(const lj_budget *b, lj_phase p) {
  return b->phase == p && strcmp(b->kind, "stage") && strcmp(b->kind, "layer");
}

// The phase's budgets of its figure and its checks (the stages' and layers' are in the JSON and the store).
static void print_budgets(FILE *f, const lj_profile_result *r, lj_phase p) {
  int any = 0;
  for (size_t i = 0; i < r->n_budgets; i++) any |= budget_in_table(&r->budgets[i], p);
  if (!any) return;
  char t[128];
  snprintf(t, sizeof t, "Uncertainty budget, %s (95%% half-widths: J, %% of the estimate; m measured, b bound)",
           lj_phase_name(p));
  section(f, t);
  fprintf(f, "%-24s %10s %24s %24s %24s %12s %24s %20s  %s\n", "estimate", "value", "trial", "idle", "edge", "card",
          "source", "total", "largest");
  const lj_budget *phase = NULL;
  for (size_t i = 0; i < r->n_budgets; i++) {
    const lj_budget *b = &r->budgets[i];
    if (!budget_in_table(b, p)) continue;
    cell n, v, a, c, d, e, s, g, h;
    double half;
    const char *big = lj_report_budget_largest(b, &half);
    snprintf(g, sizeof g, "%s %.2f%%", energy(h, b->total_j), lj_budget_total_pct(b));
    fprintf(f, "%-24s %10s %24s %24s %24s %12s %24s %20s  %s\n", budget_name(n, b), energy(v, b->value_j),
            budget_term(a, b->trial_j, b->trial_basis, b->reference_j),
            budget_term(c, b->idle_j, b->idle_basis, b->reference_j),
            budget_term(d, b->edge_j, b->edge_basis, b->reference_j),
            budget_term(e, b->card_j, b->card_basis, b->reference_j),
            budget_term(s, b->source_j, b->source_basis, b->reference_j), g, big ? big : "-");
    if (!strcmp(b->kind, "phase")) phase = b;
  }
  if (phase) {
    double half;
    const char *big = lj_report_budget_largest(phase, &half);
    fprintf(f, "largest term of the %s figure: %s (%.2f%% of it)\n", lj_phase_name(p), big ? big : "-",
            half / fabs(phase->reference_j) * 100);
  }
  fprintf(f, "source: the energy counter's offset from the power samples over the phase's windows (neither is\n"
             "  the truth; a closure's only where its phase and stages took different sources, see the notes);\n"
             "  total: the measured and bound terms in quadrature; card to card is not measured in one\n"
             "  run and stays out of every verdict; a check's verdict judges its error +- the total\n"
             "  (docs/attribution.md 3b)\n");
}

// ---------------------------------------------------------------- the report

int lj_profile_report_text(FILE *f, const lj_profile_result *r) {
  print_header(f, r);
  print_phases(f, r);
  print_ranks(f, r);
  LJ_TRY(print_stages(f, r, LJ_PHASE_PREFILL));
  LJ_TRY(print_stages(f, r, LJ_PHASE_DECODE));
  if (!r->plan.timing_only) {
    print_closures(f, r);
    print_timeline(f, r);
    print_shapley(f, r);
    print_rank_shapley(f, r);
    print_known_answer(f, r);
    print_ablation(f, r);
    print_ablation_checks(f, r);
    print_layer_replays(f, r);
    print_layer_stages(f, r);
    print_head_fit(f, r);
    print_budgets(f, r, LJ_PHASE_PREFILL);
    print_budgets(f, r, LJ_PHASE_DECODE);
  }
  print_head_grid(f, r);
  print_overhead(f, r);
  if (r->notes[0]) {
    fputc('\n', f);
    wrapped(f, "notes: ", r->notes);
  }
  fputc('\n', f);
  if (r->plan.timing_only) {
    fprintf(f, "times are host wall-clock seconds; no energy was measured (timing only: see the header)\n");
  } else {
    cell a;
    fprintf(f, "gross includes idle power; dynamic = above the idle baseline (%s W)\n", fixed(a, r->cond.idle_w, 2));
  }
  if (!r->complete) fprintf(f, "INCOMPLETE run: the figures above cover only what was measured before it stopped\n");
  if (fflush(f) != 0 || ferror(f)) return LJ_FAIL(LJ_EIO, "writing the profile report failed");
  return 0;
}
