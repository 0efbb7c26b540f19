// prefill_context: does a prefill cost what its stages cost when each is replayed
// alone? Measures, on one GPU with random weights, the dynamic energy (above the
// idle baseline, energy counter, T windows of S seconds each) per prefill of:
//   unit        the profile's prefill unit: rewind, graph launch, synchronise
//   graph       the prefill's CUDA graph launched back to back (no host gaps)
//   graph-duty  the same in ~2 ms bursts with equal idle gaps (gaps taken off at idle power)
//   graph-nopdl the graph captured without programmatic dependent launch
//   tick        a tiny kernel every 100 us: the power of a GPU waiting between units
//   loo:STAGE   the graph with STAGE left out (the difference is STAGE's energy in context)
//   iso:STAGE   STAGE alone, cycling all layers (the profile's isolation replay, back to back)
//   seq:STAGE   the layer's stages from attn_norm up to STAGE in the run's order, cycling all
//               layers (the sequence replay; seq:down is the whole layer), back to back
//   seq-duty:down  the whole layer in ~2 ms bursts with equal idle gaps
// and prints them side by side: sum of isolated stages, sum of leave-one-out
// differences, the whole graph, the unit.
//
//   prefill_context [--model llama-3.2-1b] [--prompt-len 128] [--seconds 1.5] [--trials 3] [--no-loo]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"

#ifndef LLAMAJOULE_HAVE_CUDA
int main(void) {
  fprintf(stderr, "prefill_context: this build has no CUDA; it needs a GPU\n");
  return 77;
}
#else
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/pdl.h"
#include "common/stage.h"
#include "model/config.h"
#include "profile/profile_meter.h"
#include "profile/profile_run.h"

#define CHECK(call)                                                                              \
  do {                                                                                           \
    int r_ = (call);                                                                             \
    if (r_ < 0) {                                                                                \
      fprintf(stderr, "prefill_context: %s:%d: %s: %s\n", __FILE__, __LINE__, #call, lj_error_message()); \
      exit(1);                                                                                   \
    }                                                                                            \
  } while (0)

enum { MAX_MEAS = 64, MAX_TRIALS = 8 };

typedef struct {
  char name[40];
  int handle[MAX_TRIALS];
  double units[MAX_TRIALS];  // prefills (or stage calls / layers for iso)
  double gap_s[MAX_TRIALS];
  int n;
} measurement;

static lj_profile_meter g_meter;
static measurement g_meas[MAX_MEAS];
static int g_n_meas;
static lj_cuda_engine *g_e;
static lj_model_config g_cfg;
static int g_tokens[4096], g_len, g_zero;
static double g_seconds = 1.5;
static int g_trials = 3;

static measurement *new_meas(const char *name) {
  if (g_n_meas == MAX_MEAS) {
    fprintf(stderr, "prefill_context: too many measurements\n");
    exit(1);
  }
  measurement *m = &g_meas[g_n_meas++];
  snprintf(m->name, sizeof m->name, "%s", name);
  return m;
}

static void unit(void) {
  CHECK(lj_cuda_rewind(g_e, 1, &g_zero));
  CHECK(lj_cuda_prefill_graphed(g_e, 1, g_tokens, &g_len));
  CHECK(lj_cuda_synchronize(g_e));
}

// Captures the prefill graph for the current skip mask and PDL setting.
static void capture(void) {
  unit();  // eager, then capture
  unit();  // the graph
}

static double graph_seconds_per_launch(void) {
  CHECK(lj_cuda_synchronize(g_e));
  int64_t t0 = lj_mono_ns();
  CHECK(lj_cuda_prefill_graph_launch(g_e, 20));
  CHECK(lj_cuda_synchronize(g_e));
  return (double)(lj_mono_ns() - t0) * 1e-9 / 20;
}

static void random_offset(void) { lj_sleep_ns((int64_t)(rand() % 100) * 1000000); }

static void measure_units(const char *name) {
  measurement *m = new_meas(name);
  for (int k = 0; k < g_trials; k++) {
    random_offset();
    m->handle[k] = lj_profile_meter_begin(&g_meter, name);
    int64_t t0 = lj_mono_ns();
    double n = 0;
    while ((double)(lj_mono_ns() - t0) < g_seconds * 1e9) unit(), n++;
    CHECK(lj_profile_meter_end(&g_meter, m->handle[k]));
    m->units[k] = n;
    m->n++;
  }
}

// duty 1: back to back; below 1: ~2 ms bursts and idle gaps.
static void measure_graph(const char *name, double duty) {
  measurement *m = new_meas(name);
  double per = graph_seconds_per_launch();
  int burst = (int)ceil(2e-3 / per);
  if (duty >= 1) burst = (int)ceil(20e-3 / per);
  int64_t gap_ns = duty < 1 ? (int64_t)(burst * per * (1 - duty) / duty * 1e9) : 0;
  for (int k = 0; k < g_trials; k++) {
    random_offset();
    CHECK(lj_cuda_synchronize(g_e));
    m->handle[k] = lj_profile_meter_begin(&g_meter, name);
    int64_t t0 = lj_mono_ns(), gaps = 0;
    double n = 0;
    while ((double)(lj_mono_ns() - t0) < g_seconds * 1e9) {
      CHECK(lj_cuda_prefill_graph_launch(g_e, burst));
      n += burst;
      if (gap_ns) {
        CHECK(lj_cuda_synchronize(g_e));
        int64_t a = lj_mono_ns();
        lj_sleep_ns(gap_ns);
        gaps += lj_mono_ns() - a;
      }
    }
    CHECK(lj_cuda_synchronize(g_e));
    CHECK(lj_profile_meter_end(&g_meter, m->handle[k]));
    m->units[k] = n;
    m->gap_s[k] = (double)gaps * 1e-9;
    m->n++;
  }
}

static void measure_tick(void) {
  measurement *m = new_meas("tick");
  lj_cuda_batch b;
  CHECK(lj_cuda_rewind(g_e, 1, &g_zero));
  CHECK(lj_cuda_prepare_batch(g_e, 1, g_tokens, &g_len, &b));
  for (int k = 0; k < g_trials; k++) {
    random_offset();
    m->handle[k] = lj_profile_meter_begin(&g_meter, "tick");
    int64_t t0 = lj_mono_ns();
    double n = 0;
    while ((double)(lj_mono_ns() - t0) < g_seconds * 1e9) {
      CHECK(lj_cuda_run_stage(g_e, LJ_STAGE_EMBED, -1, &b, NULL));
      CHECK(lj_cuda_synchronize(g_e));
      lj_sleep_ns(100000);
      n++;
    }
    CHECK(lj_profile_meter_end(&g_meter, m->handle[k]));
    m->units[k] = n;
    m->n++;
  }
}

// Replay of the stages first .. last (one stage: isolation; a span of the layer: the
// sequence replay), all layers in turn; units = prefills' worth of calls (n_layers
// calls of a per-layer span, one of the others). duty 1: back to back in ~20 ms
// launches; below 1: ~2 ms bursts with idle gaps (taken off at idle power).
static void measure_span(const char *name, lj_stage first, lj_stage last, double duty) {
  measurement *m = new_meas(name);
  unit();  // the run's activations in the buffers
  lj_cuda_batch b;
  CHECK(lj_cuda_rewind(g_e, 1, &g_zero));
  CHECK(lj_cuda_prepare_batch(g_e, 1, g_tokens, &g_len, &b));
  int L = g_cfg.n_layers, per_unit = lj_stage_is_per_layer(first) ? L : 1;
  lj_cuda_replay *rp = NULL;
  CHECK(lj_cuda_replay_create_span(g_e, first, last, &b, per_unit, &rp));
  CHECK(lj_cuda_synchronize(g_e));
  int64_t t0 = lj_mono_ns();
  CHECK(lj_cuda_replay_launch(rp, 10));
  CHECK(lj_cuda_synchronize(g_e));
  double per = (double)(lj_mono_ns() - t0) * 1e-9 / 10;
  lj_cuda_replay_free(rp);
  int reps = (int)ceil(2e-3 / per);  // a graph of >= 2 ms
  if (reps * per_unit > 4096) reps = 4096 / per_unit;
  if (reps < 1) reps = 1;
  CHECK(lj_cuda_replay_create_span(g_e, first, last, &b, reps * per_unit, &rp));
  int burst = duty < 1 ? 1 : (int)ceil(20e-3 / (per * reps));
  int64_t gap_ns = duty < 1 ? (int64_t)(burst * per * reps * (1 - duty) / duty * 1e9) : 0;
  for (int k = 0; k < g_trials; k++) {
    random_offset();
    CHECK(lj_cuda_synchronize(g_e));
    m->handle[k] = lj_profile_meter_begin(&g_meter, name);
    int64_t a = lj_mono_ns(), gaps = 0;
    double n = 0;
    while ((double)(lj_mono_ns() - a) < g_seconds * 1e9) {
      CHECK(lj_cuda_replay_launch(rp, burst));
      CHECK(lj_cuda_synchronize(g_e));
      n += (double)burst * reps;
      if (gap_ns) {
        int64_t c = lj_mono_ns();
        lj_sleep_ns(gap_ns);
        gaps += lj_mono_ns() - c;
      }
    }
    CHECK(lj_profile_meter_end(&g_meter, m->handle[k]));
    m->units[k] = n;
    m->gap_s[k] = (double)gaps * 1e-9;
    m->n++;
  }
  lj_cuda_replay_free(rp);
}

static void measure_iso(lj_stage st) {
  char name[40];
  snprintf(name, sizeof name, "iso:%s", lj_stage_name(st));
  measure_span(name, st, st, 1);
}

typedef struct {
  double mean, sd, time_us, watts;
} figure;

// Dynamic energy per unit (J), its spread over trials, time per unit, mean power.
static figure summarise(const measurement *m) {
  lj_windows *w = lj_sampler_windows(g_meter.sampler);
  double v[MAX_TRIALS], t = 0, p = 0;
  int n = 0;
  for (int k = 0; k < m->n; k++) {
    lj_window_result r;
    if (lj_windows_result(w, m->handle[k], g_meter.dev, &r) < 0 || (r.flags & LJ_WINDOW_NO_COUNTER)) continue;
    double busy = r.duration_s - m->gap_s[k];
    double dyn = r.counter_energy_j - g_meter.idle_w * r.duration_s;
    v[n++] = dyn / m->units[k];
    t += busy / m->units[k];
    p += (r.counter_energy_j - g_meter.idle_w * m->gap_s[k]) / busy;
  }
  figure f = {NAN, NAN, NAN, NAN};
  if (n == 0) return f;
  double s = 0, ss = 0;
  for (int i = 0; i < n; i++) s += v[i];
  f.mean = s / n;
  for (int i = 0; i < n; i++) ss += (v[i] - f.mean) * (v[i] - f.mean);
  f.sd = n > 1 ? sqrt(ss / (n - 1)) : NAN;
  f.time_us = t / n * 1e6;
  f.watts = p / n;
  return f;
}

static const measurement *find(const char *name) {
  for (int i = 0; i < g_n_meas; i++)
    if (!strcmp(g_meas[i].name, name)) return &g_meas[i];
  return NULL;
}

int main(int argc, char **argv) {
  const char *model = "llama-3.2-1b";
  int prompt_len = 128, with_loo = 1;
  for (int i = 1; i < argc; i += 2) {
    if (!strcmp(argv[i], "--no-loo")) with_loo = 0, i--;
    else if (i + 1 < argc && !strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (i + 1 < argc && !strcmp(argv[i], "--prompt-len")) prompt_len = atoi(argv[i + 1]);
    else if (i + 1 < argc && !strcmp(argv[i], "--seconds")) g_seconds = atof(argv[i + 1]);
    else if (i + 1 < argc && !strcmp(argv[i], "--trials")) g_trials = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: prefill_context [--model M] [--prompt-len P] [--seconds S] [--trials T] [--no-loo]\n");
      return 2;
    }
  }
  if (prompt_len < 1 || prompt_len > 4096 || g_trials < 2 || g_trials > MAX_TRIALS || !(g_seconds > 0)) {
    fprintf(stderr, "prefill_context: prompt length 1..4096, trials 2..%d, seconds > 0\n", MAX_TRIALS);
    return 2;
  }
  CHECK(lj_config_preset(model, &g_cfg));
  lj_profile_options o;
  lj_profile_options_default(&o);
  static lj_profile_result r;
  lj_profile_result_init(&r);
  CHECK(lj_profile_meter_open(&g_meter, &o, &r));
  lj_cuda_options co;
  lj_cuda_options_default(&co);
  co.max_ctx = prompt_len + 8;
  co.max_tokens = prompt_len;
  CHECK(lj_cuda_engine_create_random(&g_e, &g_cfg, 0, &co));
  g_len = prompt_len;
  for (int i = 0; i < prompt_len; i++) g_tokens[i] = (int)((1000003u * (unsigned)i + 12345u) % (unsigned)g_cfg.vocab_size);
  srand(7);
  CHECK(lj_profile_meter_start(&g_meter));
  capture();
  fprintf(stderr, "prefill_context: %s, %d tokens, idle %.1f W, %d x %.1f s per figure\n", model, prompt_len,
          g_meter.idle_w, g_trials, g_seconds);
  measure_units("unit");
  measure_graph("graph", 1);
  measure_graph("graph-duty", 0.5);
  measure_tick();
  static const lj_stage stages[] = {LJ_STAGE_ATTN_NORM, LJ_STAGE_QKV,    LJ_STAGE_ROPE,  LJ_STAGE_ATTN,
                                    LJ_STAGE_O_PROJ,    LJ_STAGE_FFN_NORM, LJ_STAGE_GATE_UP, LJ_STAGE_SWIGLU,
                                    LJ_STAGE_DOWN,      LJ_STAGE_LM_HEAD};
  enum { NS = sizeof stages / sizeof *stages };
  for (int i = 0; with_loo && i < NS; i++) {
    char name[40];
    snprintf(name, sizeof name, "loo:%s", lj_stage_name(stages[i]));
    lj_cuda_set_skip_mask(g_e, 1u << stages[i]);
    capture();
    measure_graph(name, 1);
    fprintf(stderr, "  %s\n", name);
  }
  lj_cuda_set_skip_mask(g_e, 0);
  for (int i = 0; i < NS; i++) measure_iso(stages[i]), fprintf(stderr, "  iso:%s\n", lj_stage_name(stages[i]));
  for (int st = LJ_STAGE_QKV; st <= LJ_STAGE_DOWN; st++) {
    if (!lj_stage_runs_at_degree((lj_stage)st, 1)) continue;  // one GPU: no all-reduce
    char name[40];
    snprintf(name, sizeof name, "seq:%s", lj_stage_name((lj_stage)st));
    measure_span(name, LJ_STAGE_ATTN_NORM, (lj_stage)st, 1);
    fprintf(stderr, "  %s\n", name);
  }
  measure_span("seq-duty:down", LJ_STAGE_ATTN_NORM, LJ_STAGE_DOWN, 0.5);
  measure_span("iso-duty:gate_up", LJ_STAGE_GATE_UP, LJ_STAGE_GATE_UP, 0.5);
  measure_span("iso-duty:attn_norm", LJ_STAGE_ATTN_NORM, LJ_STAGE_ATTN_NORM, 0.5);
  lj_cuda_set_pdl(0);
  lj_cuda_set_skip_mask(g_e, 0);  // drops the graph: the next capture is without PDL
  capture();
  measure_graph("graph-nopdl", 1);
  lj_cuda_set_pdl(1);
  CHECK(lj_profile_meter_stop(&g_meter, &r));

  printf("prefill_context: %s, batch 1, %d prompt tokens, random weights; idle %.1f W (subtracted)\n", model,
         prompt_len, g_meter.idle_w);
  printf("dynamic energy per prefill, energy counter, %d windows of %.1f s each (mean, sd over windows)\n",
         g_trials, g_seconds);
  printf("%-16s %12s %10s %12s %10s\n", "what", "mJ/prefill", "sd", "us/prefill", "W(busy)");
  for (int i = 0; i < g_n_meas; i++) {
    figure f = summarise(&g_meas[i]);
    printf("%-16s %12.3f %10.3f %12.2f %10.1f\n", g_meas[i].name, f.mean * 1e3, f.sd * 1e3, f.time_us, f.watts);
  }
  figure graph = summarise(find("graph")), un = summarise(find("unit"));
  double sum_iso = 0, sum_loo = 0;
  printf("\n%-12s %12s %12s %8s\n", "stage", "iso mJ", "loo mJ", "loo/iso");
  for (int i = 0; i < NS; i++) {
    char a[40], b[40];
    snprintf(a, sizeof a, "iso:%s", lj_stage_name(stages[i]));
    snprintf(b, sizeof b, "loo:%s", lj_stage_name(stages[i]));
    figure fi = summarise(find(a)), fl = with_loo ? summarise(find(b)) : (figure){NAN, NAN, NAN, NAN};
    double loo = graph.mean - fl.mean;
    sum_iso += fi.mean, sum_loo += loo;
    printf("%-12s %12.3f %12.3f %8.2f\n", lj_stage_name(stages[i]), fi.mean * 1e3, loo * 1e3, loo / fi.mean);
  }
  printf("%-12s %12.3f %12.3f\n", "sum", sum_iso * 1e3, sum_loo * 1e3);
  printf("whole graph %.3f mJ, unit %.3f mJ: isolated sum %+.1f%% of the graph, leave-one-out sum %+.1f%%, "
         "graph %+.1f%% of the unit\n",
         graph.mean * 1e3, un.mean * 1e3, (sum_iso / graph.mean - 1) * 100, (sum_loo / graph.mean - 1) * 100,
         (graph.mean / un.mean - 1) * 100);
  // The sequence replay: each prefix of the layer against the one before it, in the run's order.
  printf("\n%-12s %12s %12s %12s %8s\n", "prefix to", "seq mJ", "step mJ", "iso mJ", "step/iso");
  double prev = 0;
  for (int st = LJ_STAGE_ATTN_NORM; st <= LJ_STAGE_DOWN; st++) {
    if (!lj_stage_runs_at_degree((lj_stage)st, 1)) continue;
    char a[40], q[40];
    snprintf(a, sizeof a, "iso:%s", lj_stage_name((lj_stage)st));
    snprintf(q, sizeof q, "seq:%s", lj_stage_name((lj_stage)st));
    figure fi = summarise(find(a)), fq = st == LJ_STAGE_ATTN_NORM ? fi : summarise(find(q));
    printf("%-12s %12.3f %12.3f %12.3f %8.2f\n", lj_stage_name((lj_stage)st), fq.mean * 1e3, (fq.mean - prev) * 1e3,
           fi.mean * 1e3, (fq.mean - prev) / fi.mean);
    prev = fq.mean;
  }
  figure head = summarise(find("iso:lm_head")), seqd = summarise(find("seq-duty:down"));
  double off = ((prev + head.mean) / un.mean - 1) * 100;
  printf("whole layer x %d + lm_head (isolated): %.3f mJ = %+.1f%% of the graph, %+.1f%% of the unit; "
         "at duty 0.5: %.3f mJ = %+.1f%% of the unit\n",
         g_cfg.n_layers, (prev + head.mean) * 1e3, ((prev + head.mean) / graph.mean - 1) * 100, off,
         (seqd.mean + head.mean) * 1e3, ((seqd.mean + head.mean) / un.mean - 1) * 100);
  // The profile's sequence closure rests on this: the whole layer in order must be the prefill.
  printf("sequence vs unit: %+.1f%% against a floor of +-5%%: %s\n", off, fabs(off) <= 5 ? "PASS" : "MISS");
  lj_cuda_engine_free(g_e);
  lj_profile_meter_close(&g_meter);
  lj_profile_result_free(&r);
  return 0;
}
#endif
