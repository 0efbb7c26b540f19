// Phase windows on the GPU (docs/attribution.md §1): energy-counter deltas
// around whole phases, each window >= --phase-seconds of the phase's units and,
// for prefill and decode, after a pre-roll of the same work so that both ends
// of the window see the same power. This is the measured whole every other
// method is closed against. What proves it wrong: the counter and the driver
// buffer disagree on a window (counter/buffer ratio away from 1; the H200
// pre-roll study in bench/results/profile/ moved it from 0.957 to 0.998), or
// the meter flags the window (LJ_WINDOW_SHORT, LJ_WINDOW_PENDING).
#include <stdio.h>
#include <stdlib.h>

#include "profile/gpu_run.h"
#include "profile/profile_window_units.h"

typedef struct {
  gpu_unit_fn fn;
  gpu_run *g;
} unit_call;

static int call_unit(void *ctx) {
  unit_call *c = ctx;
  return c->fn(c->g);
}

int lj_gpu_timed_window(gpu_run *g, const char *name, gpu_unit_fn fn, int max_units, double preroll_s, int *handle,
                        int64_t *units, double *host_s) {
  *units = 0;
  if (preroll_s > 0) LJ_TRY(lj_gpu_preroll_units(g, fn, preroll_s));
  int h = lj_profile_meter_begin(&g->m, name);
  if (h < 0) return h;
  *handle = h;
  unit_call ctx = {fn, g};
  int64_t t0 = 0, t1 = 0;
  int rc = lj_profile_units_for(call_unit, &ctx, g->o->phase_seconds, max_units, g->o->interrupted, units, &t0, &t1);
  int erc = lj_profile_meter_end(&g->m, h);
  *host_s = (double)(t1 - t0) * 1e-9;
  return rc < 0 ? rc : erc;
}

int lj_gpu_bracket_window(gpu_run *g, int pi, const char *name, int *handle, int64_t *units) {
  gpu_unit_fn fn = pi ? lj_gpu_unit_decode : lj_gpu_unit_prefill;
  LJ_TRY(fn(g));
  double host_s = 0;
  return lj_gpu_timed_window(g, name, fn, 1 << 20, LJ_GPU_SHORT_PREROLL_S, handle, units, &host_s);
}

// GPU phases (prefill, decode) are pre-rolled; load is not repeatable that way, and
// tokenize and detokenize leave the GPU idle before and inside their windows alike.
int lj_gpu_phase_window(gpu_run *g, lj_phase ph, int repeat, int64_t tokens_per_unit, gpu_unit_fn fn,
                        int max_units) {
  lj_phase_window w;
  lj_profile_window_init(&w, ph, repeat, tokens_per_unit);
  char name[64];
  snprintf(name, sizeof name, "%s", w.w.name);
  int handle = -1;
  double preroll_s = ph == LJ_PHASE_PREFILL || ph == LJ_PHASE_DECODE ? LJ_GPU_PREROLL_S : 0;
  int rc = lj_gpu_timed_window(g, name, fn, max_units, preroll_s, &handle, &w.units, &w.host_s);
  if (handle >= 0 && w.units > 0) {
    int *hs = realloc(g->window_handles, sizeof(int) * (g->r->n_windows + 1));
    if (!hs) return LJ_FAIL(LJ_ENOMEM, "profile: out of memory");
    g->window_handles = hs;
    hs[g->r->n_windows] = handle;
    // Stored now as it stands (flagged pending), replaced by its final values at the end: the run's
    // own figure, which over several GPUs is their sum (device -1, tp_rank -1), not the first GPU's.
    int dev = g->m.n_devs > 1 ? -1 : g->m.dev;
    if (lj_windows_result(lj_sampler_windows(g->m.sampler), handle, dev, &w.w) < 0) {
      snprintf(w.w.name, sizeof w.w.name, "%s", name);
      w.w.device = dev, w.w.flags = LJ_WINDOW_PENDING;
      lj_clear_error();
    }
    LJ_TRY(lj_profile_keep_window(g->o, g->r, &w, &g->store_warned));
  }
  lj_gpu_step_done(g);
  return rc;
}

int lj_gpu_phase_rounds(gpu_run *g, gpu_unit_fn prefill, gpu_unit_fn decode) {
  const lj_profile_options *o = g->o;
  int B = o->batch;
  LJ_TRY(prefill(g));  // warm-up
  LJ_TRY(decode(g));
  lj_gpu_keep_generated(g);
  int64_t prompt_tokens = (int64_t)B * o->prompt_len, gen_tokens = (int64_t)B * o->gen_len;
  for (int rep = 0; rep < o->repeats; rep++) {
    STOP_IF_INTERRUPTED(g);
    if (g->prompt.tok)
      LJ_TRY(lj_gpu_phase_window(g, LJ_PHASE_TOKENIZE, rep, (int64_t)B * g->prompt.text_tokens, lj_gpu_unit_tokenize,
                                 1 << 30));
    else
      lj_gpu_step_done(g);
    LJ_TRY(lj_gpu_phase_window(g, LJ_PHASE_PREFILL, rep, prompt_tokens, prefill, 1 << 30));
    STOP_IF_INTERRUPTED(g);
    LJ_TRY(lj_gpu_phase_window(g, LJ_PHASE_DECODE, rep, gen_tokens, decode, 1 << 30));
    lj_gpu_keep_generated(g);
    if (g->prompt.tok)
      LJ_TRY(lj_gpu_phase_window(g, LJ_PHASE_DETOKENIZE, rep, gen_tokens, lj_gpu_unit_detokenize, 1 << 30));
    else
      lj_gpu_step_done(g);
  }
  return 0;
}
