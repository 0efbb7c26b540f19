// Context replay on the GPU (docs/attribution.md §2b, --context): the real
// prefill unit run plain and amplified, where in an amplified unit every call
// of one stage is followed by `copies` more calls on shadow buffers; per call
// in context = (amplified - plain) / extra calls. It measures a light stage
// between the GEMMs that keep the chip busy, as in the run. What proves it
// wrong: the context closure against the measured prefill (it holds only when
// the stages' marginal costs add up), and a GPU test that the amplified run
// computes bit for bit what the plain one does.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "profile/gpu_run.h"

// The stages measured in context: every per-layer stage and the LM head (embed and the
// final norm run once per prefill for ~2 us: their difference would drown in the noise).
static const lj_stage k_context_stages[] = {LJ_STAGE_ATTN_NORM, LJ_STAGE_QKV,     LJ_STAGE_ROPE,   LJ_STAGE_ATTN,
                                            LJ_STAGE_O_PROJ,    LJ_STAGE_FFN_NORM, LJ_STAGE_GATE_UP, LJ_STAGE_SWIGLU,
                                            LJ_STAGE_DOWN,      LJ_STAGE_LM_HEAD};
#define N_CONTEXT_STAGES ((int)(sizeof k_context_stages / sizeof *k_context_stages))

// Seconds per prefill unit, over >= 20 ms of units (after one to capture the graph).
static int unit_seconds(gpu_run *g, double *s) {
  LJ_TRY(lj_gpu_unit_prefill(g));
  LJ_TRY(lj_gpu_unit_prefill(g));
  int64_t t0 = lj_mono_ns(), n = 0;
  do {
    LJ_TRY(lj_gpu_unit_prefill(g));
    n++;
  } while (lj_mono_ns() - t0 < 20000000);
  *s = (double)(lj_mono_ns() - t0) * 1e-9 / (double)n;
  return 0;
}

// Copies per call of st: enough that the extra calls add ~30% to the unit's time (a
// difference well above the windows' noise), at most 16, and at most ~25 us of copies in
// a row (no longer than the heaviest single stage call), so the GPU around them stays
// as busy as in the run.
static int context_copies(gpu_run *g, lj_stage st, double plain_s, int *copies) {
  LJ_TRY(lj_cuda_set_stage_copies(g->e, st, 1));
  double one = 0;
  LJ_TRY(unit_seconds(g, &one));
  double calls = lj_profile_calls_per_unit(&g->r->plan, LJ_PHASE_PREFILL, st, 0);
  double per_call = (one - plain_s) / calls;
  int k = 1;
  if (per_call > 0) {
    double by_share = 0.3 * plain_s / (per_call * calls), by_run = 25e-6 / per_call;
    double want = by_share < by_run ? by_share : by_run;
    k = want < 1 ? 1 : want > 16 ? 16 : (int)want;
  }
  *copies = k;
  return 0;
}

// One context window: prefill units with st copied `copies` times (st LJ_STAGE_COUNT:
// the plain unit) for replay_seconds, after a pre-roll of random length.
static int context_window(gpu_run *g, lj_stage st, int copies, int trial) {
  LJ_TRY(lj_cuda_set_stage_copies(g->e, st == LJ_STAGE_COUNT ? LJ_STAGE_EMBED : st, copies));
  LJ_TRY(lj_gpu_unit_prefill(g));  // eager, and the graph captured with the copies
  LJ_TRY(lj_gpu_preroll_units(g, lj_gpu_unit_prefill, LJ_GPU_PREROLL_S + lj_gpu_uniform01(g) * 0.1));
  char name[64];
  snprintf(name, sizeof name, "context:prefill:%s:x%d#%d", st == LJ_STAGE_COUNT ? "none" : lj_stage_name(st),
           copies, trial);
  int h = lj_profile_meter_begin(&g->m, name);
  if (h < 0) return h;
  int64_t t0 = lj_mono_ns(), units = 0;
  int rc = 0;
  do {
    rc = lj_gpu_unit_prefill(g);
    units++;
  } while (rc == 0 && (double)(lj_mono_ns() - t0) < g->o->replay_seconds * 1e9 && !lj_gpu_interrupted(g));
  int erc = lj_profile_meter_end(&g->m, h);
  LJ_TRY(rc);
  LJ_TRY(erc);
  lj_profile_trial tr;
  memset(&tr, 0, sizeof tr);
  tr.key.phase = LJ_PHASE_PREFILL, tr.key.stage = st, tr.key.layer = -1, tr.key.kv_len = 0;
  tr.trial = trial, tr.method = LJ_METHOD_CONTEXT, tr.copies = copies, tr.units = units;
  double calls = st == LJ_STAGE_COUNT ? 1 : lj_profile_calls_per_unit(&g->r->plan, LJ_PHASE_PREFILL, st, 0);
  tr.t.calls = st == LJ_STAGE_COUNT ? units : (int64_t)llround((double)units * calls * copies);
  tr.t.temperature_c = lj_profile_meter_temperature(&g->m);
  tr.t.idle_w = g->m.idle_w;
  return lj_gpu_keep_trial(g, h, &tr);
}

// Each trial round: the plain unit, then every context stage amplified; rounds alternate
// so that drift (temperature) spreads over all of them.
int lj_gpu_context_prefill(gpu_run *g) {
  double plain_s = 0;
  LJ_TRY(lj_cuda_set_stage_copies(g->e, LJ_STAGE_EMBED, 0));
  LJ_TRY(unit_seconds(g, &plain_s));
  int copies[N_CONTEXT_STAGES];
  for (int i = 0; i < N_CONTEXT_STAGES; i++) LJ_TRY(context_copies(g, k_context_stages[i], plain_s, &copies[i]));
  for (int k = 0; k < g->o->trials; k++) {
    STOP_IF_INTERRUPTED(g);
    LJ_TRY(context_window(g, LJ_STAGE_COUNT, 0, k));
    for (int i = 0; i < N_CONTEXT_STAGES; i++) {
      STOP_IF_INTERRUPTED(g);
      LJ_TRY(context_window(g, k_context_stages[i], copies[i], k));
    }
    lj_gpu_step_done(g);
  }
  return lj_cuda_set_stage_copies(g->e, LJ_STAGE_EMBED, 0);
}
