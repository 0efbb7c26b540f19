// Measurement overhead on the GPU: decode steps per second with the meter's
// sampler off and with a second sampler on the same source, in pairs, after
// the run's sampler has stopped. It bounds what sampling costs the workload.
// What proves the measurement disturbed the run: an overhead interval above
// its target (LJ_REPORT_OVERHEAD_TARGET_PCT; the report marks it FAIL).
#include "common/clock.h"
#include "profile/gpu_run.h"

// Decode units for >= 0.5 s; seconds per decode step.
static int decode_rate(gpu_run *g, double *s_per_step) {
  int64_t t0 = lj_mono_ns(), t1 = t0, units = 0;
  do {
    LJ_TRY(lj_gpu_unit_decode(g));
    units++;
    t1 = lj_mono_ns();
  } while (t1 - t0 < 500000000);
  *s_per_step = (double)(t1 - t0) * 1e-9 / ((double)units * g->o->gen_len);
  return 0;
}

// The meter's sampler is off here; a second sampler on the same source stands in for it.
int lj_gpu_run_overhead(gpu_run *g) {
  LJ_TRY(lj_gpu_unit_decode(g));
  for (int pair = 0; pair < 3 && !lj_gpu_interrupted(g); pair++) {
    double off = 0, on = 0;
    LJ_TRY(decode_rate(g, &off));
    lj_sampler_config cfg;
    lj_sampler_config_default(&cfg);
    lj_sampler *s = NULL;
    LJ_TRY(lj_sampler_create(&s, g->m.src, &cfg));
    int rc = lj_sampler_start(s);
    if (rc == 0) rc = decode_rate(g, &on);
    lj_sampler_free(s);
    LJ_TRY(rc);
    g->raw.sampler_off_s[g->raw.n_sampler_off++] = off;
    g->raw.sampler_on_s[g->raw.n_sampler_on++] = on;
  }
  lj_gpu_step_done(g);
  return 0;
}
