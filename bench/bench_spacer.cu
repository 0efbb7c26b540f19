// bench_spacer: does a stage of the decoder layer cost what its removal saves?
//
//   bench_spacer [--model PRESET] [--prompt-len N] [--seconds S] [--rounds R] [--stages a,b,...] [--seed N]
//                [--pdl on|off]
//
// On a default 1B prefill, leaving a light stage (a norm, RoPE, the attention kernel) out of the
// layer raises the energy of the layer (docs/findings.md §6). Two readings are possible: the
// stage's absence changes the others' data (ruled out: every stage replays on its recorded
// inputs), or the others, packed closer in time, draw more than the time they save. This program
// separates time from work. On the prefill state of a random model, with every stage on its
// recorded inputs, it replays, per stage X:
//   whole           the layer's nine stages in the run's order;
//   without X       the same without X;
//   without X + gap the same with a spacer (one warp idling on the global timer, no memory
//                   traffic) where X was, its length set so that a layer call takes as long as
//                   the whole layer's;
//   X alone         X alone, cycling the layers (isolation).
// in rounds (each a new random order of all windows; each window after a 0.1 s pre-roll of its
// own work), energies from the driver's power samples above idle (measured before and after the
// rounds, 3 s each, and taken at each window's time by a straight line between them: the card
// warms during the rounds and idle rises with it; the gap variant, time-matched, does not depend
// on it). It prints,
// per stage and per layer call, what removing X saves, what removing X's work but not its time
// saves, and X alone, with 95% intervals over the rounds (paired within a round). If the gap
// puts back what the removal added, the layer's energy depends on the spacing of its stages.
// --pdl off captures every graph without programmatic dependent launch (engine/cuda/pdl.h): the
// light kernels let the next one start early, so which kernel follows which changes what runs
// side by side; if the removal's excess goes with it, the launch overlap is the cause.
// Exit codes: 0 measured, 1 failed, 2 bad command line, 4 no GPU or driver.
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "common/error.h"
#include "common/stats.h"
#include "llamajoule/meter.h"
#include "model/config.h"
}
#include "engine/cuda/cuda_engine.h"
#include "engine/cuda/pdl.h"

static const lj_stage RUN[9] = {LJ_STAGE_ATTN_NORM, LJ_STAGE_QKV,      LJ_STAGE_ROPE,
                                LJ_STAGE_ATTN,      LJ_STAGE_O_PROJ,   LJ_STAGE_FFN_NORM,
                                LJ_STAGE_GATE_UP,   LJ_STAGE_SWIGLU,   LJ_STAGE_DOWN};

struct variant {
  std::string name;
  std::vector<lj_stage> order;
  int64_t spacer_ns = 0;
  double us_per_call = NAN;  // event-timed
  lj_cuda_replay *rp = nullptr;
  int matched = 1;           // gap variants: a layer call as long as the whole layer's (within 0.2 us)
  std::vector<double> gross_j, mid_s, dur_s, watts, us;  // per round: the window's energy, midpoint, length
  double per_call = 0;                                   // 1 / layer calls of a window
  std::vector<double> dyn_mj, gross_mj;                  // per round, per layer call (after the rounds)
};

// A usable window of the driver's power samples: ended, samples inside, none lost, both edges inside.
static int window_ok(const lj_window_result *r, const char *name) {
  uint32_t bad = LJ_WINDOW_PENDING | LJ_WINDOW_NO_SAMPLES | LJ_WINDOW_GAP | LJ_WINDOW_EXTRAPOLATED;
  if (r->n_samples >= 2 && !(r->flags & bad)) return 1;
  fprintf(stderr, "bench_spacer: window %s: %d power samples, flags 0x%x (pending 0x2, no samples 0x10, gap 0x40, "
                  "extrapolated 0x80): no figure\n", name, r->n_samples, r->flags);
  return 0;
}

static int usage(FILE *f, int code) {
  fprintf(f,
          "usage: bench_spacer [--model PRESET] [--prompt-len N] [--seconds S] [--rounds R] [--stages a,b,...] "
          "[--seed N] [--pdl on|off]\n"
          "  defaults: llama-3.2-1b, 128 tokens, 0.3 s windows, 8 rounds, attn_norm,rope,attn,swiglu, pdl on "
          "(the engine's)\n");
  return code;
}

static int fail(const char *what) {
  fprintf(stderr, "bench_spacer: %s: %s\n", what, lj_error_message());
  return 1;
}

// Mean and 95% half width of v (Student t, common/stats.h).
static void ci(const std::vector<double> &v, double *mean, double *half) {
  lj_mean_ci c;
  if (lj_stats_mean_ci(v.data(), v.size(), 0.95, &c) < 0) c.mean = c.half_width = NAN;
  *mean = c.mean;
  *half = c.half_width;
}

// Event-timed microseconds per layer call of r (calls layer calls a launch).
static int time_replay(lj_cuda_engine *e, lj_cuda_replay *r, int calls, double *us) {
  cudaStream_t st = (cudaStream_t)lj_cuda_engine_stream(e);
  cudaEvent_t a, b;
  if (cudaEventCreate(&a) != cudaSuccess || cudaEventCreate(&b) != cudaSuccess)
    return LJ_FAIL(LJ_ECUDA, "cudaEventCreate failed");
  int rc = lj_cuda_replay_launch(r, 3);
  if (rc == 0) cudaEventRecord(a, st);
  if (rc == 0) rc = lj_cuda_replay_launch(r, 20);
  if (rc == 0) cudaEventRecord(b, st);
  if (rc == 0) rc = lj_cuda_synchronize(e);
  float ms = 0;
  if (rc == 0) cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  *us = ms * 1e3 / (20.0 * calls);
  return rc;
}

static int make(lj_cuda_engine *e, variant *v, const lj_cuda_batch *b, int calls) {
  if (v->rp) lj_cuda_replay_free(v->rp), v->rp = nullptr;
  LJ_TRY(lj_cuda_set_spacer(e, v->spacer_ns));
  LJ_TRY(lj_cuda_replay_create_order(e, v->order.data(), (int)v->order.size(), b, calls, &v->rp));
  return time_replay(e, v->rp, calls, &v->us_per_call);
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, nullptr);
}

int main(int argc, char **argv) {
  const char *model = "llama-3.2-1b", *stages = "attn_norm,rope,attn,swiglu";
  int prompt_len = 128, rounds = 8;
  double seconds = 0.3;
  unsigned seed = 1;
  int pdl = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout, 0);
    if (!val) return fprintf(stderr, "bench_spacer: %s needs a value\n", a), usage(stderr, 2);
    if (!strcmp(a, "--model")) model = val;
    else if (!strcmp(a, "--stages")) stages = val;
    else if (!strcmp(a, "--prompt-len")) prompt_len = atoi(val);
    else if (!strcmp(a, "--rounds")) rounds = atoi(val);
    else if (!strcmp(a, "--seconds")) seconds = atof(val);
    else if (!strcmp(a, "--seed")) seed = (unsigned)strtoul(val, nullptr, 10);
    else if (!strcmp(a, "--pdl") && (!strcmp(val, "on") || !strcmp(val, "off"))) pdl = !strcmp(val, "on");
    else return fprintf(stderr, "bench_spacer: unknown option '%s'\n", a), usage(stderr, 2);
    i++;
  }
  if (prompt_len < 9 || prompt_len > 4096 || rounds < 2 || rounds > 100 || !(seconds >= 0.2 && seconds <= 10))
    return fprintf(stderr, "bench_spacer: --prompt-len 9..4096, --rounds 2..100, --seconds 0.2..10 (>= 10 power samples)\n"), 2;
  std::vector<lj_stage> xs;
  for (const char *p = stages; *p;) {
    const char *c = strchr(p, ',');
    std::string nm(p, c ? (size_t)(c - p) : strlen(p));
    lj_stage st = LJ_STAGE_NONE;
    for (lj_stage s : RUN)
      if (nm == lj_stage_name(s)) st = s;
    if (st == LJ_STAGE_NONE) return fprintf(stderr, "bench_spacer: '%s' is not a stage of the layer\n", nm.c_str()), 2;
    xs.push_back(st);
    p = c ? c + 1 : p + strlen(p);
  }
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
    fprintf(stderr, "bench_spacer: no CUDA device\n");
    return 4;
  }
  lj_cuda_set_pdl(pdl);  // before any graph is captured: graphs keep the setting they were captured with
  lj_model_config c;
  if (lj_config_preset(model, &c) < 0) return fail("model");
  lj_cuda_options o;
  lj_cuda_options_default(&o);
  o.max_ctx = prompt_len + 8, o.max_tokens = prompt_len, o.print_plan = 0;
  lj_cuda_engine *e = nullptr;
  if (lj_cuda_engine_create_random(&e, &c, 77, &o) < 0) return fail("engine");
  // The prefill state: a prefill of the prompt, rewound; its batch; every stage's recorded inputs.
  std::vector<int> ids(prompt_len);
  for (int i = 0; i < prompt_len; i++) ids[i] = (i * 7919 + 13) % 32000;
  int m = prompt_len, zero = 0;
  lj_cuda_batch b;
  lj_cuda_stage_inputs *in = nullptr;
  if (lj_cuda_prefill(e, 1, ids.data(), &m) < 0 || lj_cuda_rewind(e, 1, &zero) < 0 ||
      lj_cuda_prepare_batch(e, 1, ids.data(), &m, &b) < 0 || lj_cuda_stage_inputs_capture(e, &b, 0, &in) < 0)
    return fail("prefill state");
  lj_cuda_set_stage_inputs(e, in);
  const int calls = c.n_layers * 8;  // a launch: every layer 8 times
  std::vector<variant> v;
  v.push_back({"whole", std::vector<lj_stage>(RUN, RUN + 9)});
  if (make(e, &v[0], &b, calls) < 0) return fail("whole layer");
  for (lj_stage x : xs) {
    variant w, g, alone;
    w.name = std::string("without ") + lj_stage_name(x);
    for (lj_stage s : RUN)
      if (s != x) w.order.push_back(s);
    if (make(e, &w, &b, calls) < 0) return fail(w.name.c_str());
    // The gap: where x was, as long as x took; one correction for the spacer's own launch.
    g.name = w.name + " + gap";
    for (lj_stage s : RUN) g.order.push_back(s == x ? LJ_CUDA_SPACER : s);
    double dt_us = v[0].us_per_call - w.us_per_call;
    g.spacer_ns = std::max<int64_t>(1, (int64_t)(dt_us * 1e3));
    // A spacer cannot be shorter than its own launch: a stage briefer than that leaves the gap
    // variant longer than the whole layer, said below and in its RESULT line (matched=0).
    for (int it = 0;; it++) {
      if (make(e, &g, &b, calls) < 0) return fail(g.name.c_str());
      double over_us = g.us_per_call - v[0].us_per_call;
      if (fabs(over_us) < 0.2) break;
      int64_t next = std::max<int64_t>(1, g.spacer_ns - (int64_t)(over_us * 1e3));
      if (it == 4 || next == g.spacer_ns) {
        g.matched = 0;
        fprintf(stderr, "bench_spacer: %s: a layer call takes %.2f us against the whole layer's %.2f (spacer %lld ns): "
                        "not time-matched\n", g.name.c_str(), g.us_per_call, v[0].us_per_call, (long long)g.spacer_ns);
        break;
      }
      g.spacer_ns = next;
    }
    alone.name = std::string(lj_stage_name(x)) + " alone";
    alone.order = {x};
    if (make(e, &alone, &b, calls) < 0) return fail(alone.name.c_str());
    v.push_back(w), v.push_back(g), v.push_back(alone);
  }
  if (lj_cuda_set_spacer(e, 0) < 0) return fail("spacer");
  printf("bench_spacer: %s (random weights), prefill of %d tokens, every stage on its recorded inputs; "
         "%d layer calls a launch, %.2f s windows after a 0.1 s pre-roll, %d rounds, pdl %s\n",
         model, prompt_len, calls, seconds, rounds, pdl ? "on" : "off");
  for (auto &x : v)
    printf("  %-24s %7.2f us a layer call (event-timed)%s\n", x.name.c_str(), x.us_per_call,
           x.spacer_ns > 0 ? (" spacer " + std::to_string(x.spacer_ns) + " ns").c_str() : "");
  // The meter: NVML, idle with the context open, then the rounds.
  lj_source *src = nullptr;
  lj_sampler *s = nullptr;
  int rc = lj_source_open_nvml(&src, nullptr);
  if (rc == LJ_ENODEV) return fprintf(stderr, "bench_spacer: %s\n", lj_error_message()), 4;
  if (rc < 0 || lj_sampler_create(&s, src, nullptr) < 0 || lj_sampler_start(s) < 0) return fail("meter");
  int dev = 0;  // the NVML device of CUDA device 0
  for (int d = 0; d < lj_source_device_count(src); d++) {
    lj_device_info info;
    if (lj_source_device_info(src, d, &info) == 0 && info.cuda_index == 0) dev = d;
  }
  lj_window_result r;
  double idle_w[2], idle_mid_s[2];
  int64_t origin_ns = -1;
  auto idle = [&](int k) -> int {
    sleep_s(0.5);
    int h = lj_meter_begin(s, k ? "idle after" : "idle before");
    sleep_s(3.0);
    if (h < 0 || lj_meter_end_handle(s, h) < 0 || lj_meter_result(s, h, dev, &r, 3000000000LL) < 0) return -1;
    if (!window_ok(&r, k ? "idle after" : "idle before")) return -1;
    if (origin_ns < 0) origin_ns = r.begin_ns;
    idle_w[k] = r.sample_energy_j / r.duration_s;
    idle_mid_s[k] = (double)((r.begin_ns + r.end_ns) / 2 - origin_ns) * 1e-9;
    return 0;
  };
  if (idle(0) < 0) return fail("idle before");
  std::mt19937 rng(seed);
  std::vector<int> idx(v.size());
  for (int k = 0; k < rounds; k++) {
    for (size_t i = 0; i < idx.size(); i++) idx[i] = (int)i;
    std::shuffle(idx.begin(), idx.end(), rng);
    for (int i : idx) {
      variant &x = v[i];
      double launch_s = x.us_per_call * calls * 1e-6;
      int pre = (int)ceil(0.1 / launch_s), n = (int)ceil(seconds / launch_s);
      if (lj_cuda_replay_launch(x.rp, pre) < 0 || lj_cuda_synchronize(e) < 0) return fail("pre-roll");
      int h = lj_meter_begin(s, x.name.c_str());
      if (h < 0 || lj_cuda_replay_launch(x.rp, n) < 0 || lj_cuda_synchronize(e) < 0 || lj_meter_end_handle(s, h) < 0 ||
          lj_meter_result(s, h, dev, &r, 3000000000LL) < 0)
        return fail(x.name.c_str());
      if (!window_ok(&r, x.name.c_str())) return 1;
      x.per_call = 1.0 / ((double)n * calls);
      x.gross_j.push_back(r.sample_energy_j);
      x.dur_s.push_back(r.duration_s);
      x.mid_s.push_back((double)((r.begin_ns + r.end_ns) / 2 - origin_ns) * 1e-9);
      x.watts.push_back(r.sample_energy_j / r.duration_s);
      x.us.push_back(r.duration_s * x.per_call * 1e6);
    }
  }
  if (idle(1) < 0) return fail("idle after");
  lj_sampler_stop(s);
  printf("idle: %.1f W before, %.1f W after the rounds (3 s each, CUDA context open, driver's power samples; NVML "
         "device %d), taken at each window's midpoint on the line between them\n", idle_w[0], idle_w[1], dev);
  double slope = (idle_w[1] - idle_w[0]) / (idle_mid_s[1] - idle_mid_s[0]);
  for (auto &x : v)
    for (size_t k = 0; k < x.gross_j.size(); k++) {
      double iw = idle_w[0] + slope * (x.mid_s[k] - idle_mid_s[0]);
      x.gross_mj.push_back(x.gross_j[k] * x.per_call * 1e3);
      x.dyn_mj.push_back((x.gross_j[k] - iw * x.dur_s[k]) * x.per_call * 1e3);
    }
  printf("\nper layer call (mean +- 95%% half width over %d rounds; energy from the driver's power samples)\n", rounds);
  printf("%-24s %10s %9s %16s %16s\n", "window", "us", "W", "gross mJ", "above idle mJ");
  for (auto &x : v) {
    double mu, hu, mw, hw, mg, hg, md, hd;
    ci(x.us, &mu, &hu), ci(x.watts, &mw, &hw), ci(x.gross_mj, &mg, &hg), ci(x.dyn_mj, &md, &hd);
    printf("%-24s %10.2f %9.1f %9.4f+-%.4f %9.4f+-%.4f\n", x.name.c_str(), mu, mw, mg, hg, md, hd);
  }
  printf("\nper stage X, above idle, mJ a layer call (paired by round):\n"
         "  removal saves   = whole - without X (its work and its time gone)\n"
         "  work saves      = whole - (without X + gap) (its work gone, its time kept idle)\n"
         "  alone           = X alone\n");
  for (size_t j = 0; j < xs.size(); j++) {
    const variant &w = v[1 + 3 * j], &g = v[2 + 3 * j], &a = v[3 + 3 * j];
    std::vector<double> rem, wrk;
    for (int k = 0; k < rounds; k++) {
      rem.push_back(v[0].dyn_mj[k] - w.dyn_mj[k]);
      wrk.push_back(v[0].dyn_mj[k] - g.dyn_mj[k]);
    }
    double mr, hr, mk, hk, ma, ha;
    ci(rem, &mr, &hr), ci(wrk, &mk, &hk), ci(a.dyn_mj, &ma, &ha);
    printf("RESULT kind=spacer stage=%s removal_mj=%.4f removal_ci=%.4f work_mj=%.4f work_ci=%.4f alone_mj=%.4f "
           "alone_ci=%.4f dt_us=%.2f gap_us=%.2f matched=%d pdl=%d\n",
           lj_stage_name(xs[j]), mr, hr, mk, hk, ma, ha, v[0].us_per_call - w.us_per_call,
           g.us_per_call - w.us_per_call, g.matched, pdl);
  }
  for (auto &x : v) lj_cuda_replay_free(x.rp);
  lj_sampler_free(s);
  lj_source_close(src);
  lj_cuda_set_stage_inputs(e, nullptr);
  lj_cuda_stage_inputs_free(in);
  lj_cuda_engine_free(e);
  return 0;
}
