// In-situ timeline on the GPU: the real prefill and decode with a %globaltimer
// stamp around every stage call (also inside the CUDA graphs), the stage
// intervals kept with their phase, layer and decode step; the driver's power
// samples are integrated over them afterwards (analyze_timeline.c). The same
// decode units timed with and without the stamps give the stamps' overhead.
// What proves it wrong: intervals that leave much of a phase's span
// unattributed (gap_s, gap_j) or overlap (overlap_s), and a stamp overhead
// above its target (the "timeline" overhead row).
#include "common/clock.h"
#include "profile/gpu_run.h"

static int add_marks(gpu_run *g, lj_phase ph, int step, int decode) {
  enum { kCap = 4096 };
  static lj_cuda_mark_interval iv[kCap];
  int n = 0;
  LJ_TRY(lj_cuda_marks_read(g->e, step, decode, iv, kCap, &n));
  for (int i = 0; i < n; i++) {
    lj_stage_interval s = {iv[i].begin_ns, iv[i].end_ns, ph, iv[i].stage, iv[i].layer};
    LJ_TRY(lj_profile_add_interval(g->r, &s, step));
  }
  return 0;
}

int lj_gpu_run_timeline(gpu_run *g) {
  const lj_profile_options *o = g->o;
  LJ_TRY(lj_cuda_marks_enable(g->e, o->gen_len + 1));
  int rc = lj_gpu_unit_prefill(g);  // captures the prefill graph with the stamps
  // Prefill units for >= phase_seconds (as the phase window), each read before the
  // next overwrites its slot: the driver's power samples, ~10 ms apart, need many
  // units to say anything about a 1-6 ms phase.
  int64_t p0 = lj_mono_ns();
  for (int k = 0; k < 1000 && rc == 0 && !lj_gpu_interrupted(g); k++) {
    rc = lj_cuda_marks_set_step(g->e, 0);
    if (rc == 0) rc = lj_gpu_unit_prefill(g);
    if (rc == 0) rc = add_marks(g, LJ_PHASE_PREFILL, 0, 0);
    if ((double)(lj_mono_ns() - p0) >= o->phase_seconds * 1e9) break;
  }
  // Decode with marks: warm-up (the graph is captured again with the stamps), then timed units.
  if (rc == 0) rc = lj_gpu_unit_decode(g);
  int64_t t0 = lj_mono_ns();
  for (int u = 0; rc == 0 && u < LJ_PROFILE_MAX_PAIRS && !lj_gpu_interrupted(g); u++) {
    int64_t a = lj_mono_ns();
    rc = lj_gpu_unit_decode(g);
    int64_t b = lj_mono_ns();
    if (rc == 0) g->raw.marks_on_s[g->raw.n_marks_on++] = (double)(b - a) * 1e-9 / o->gen_len;
    for (int s = 1; rc == 0 && s < o->gen_len; s++) rc = add_marks(g, LJ_PHASE_DECODE, s, 1);
    if ((double)(lj_mono_ns() - t0) >= o->phase_seconds * 1e9) break;
  }
  lj_cuda_marks_disable(g->e);
  lj_gpu_step_done(g);
  // The same units without marks, right after, for the overhead of the marks.
  if (rc == 0) rc = lj_gpu_unit_decode(g);  // recapture without stamps
  for (int u = 0; rc == 0 && u < g->raw.n_marks_on; u++) {
    int64_t a = lj_mono_ns();
    rc = lj_gpu_unit_decode(g);
    int64_t b = lj_mono_ns();
    if (rc == 0) g->raw.marks_off_s[g->raw.n_marks_off++] = (double)(b - a) * 1e-9 / o->gen_len;
  }
  return rc;
}
