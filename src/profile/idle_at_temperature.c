// Idle at each window's temperature (idle_at_temperature.h).
#include "profile/idle_at_temperature.h"

#include <math.h>
#include <string.h>

#include "common/error.h"

double lj_window_temperature(const lj_sample *readings, size_t n, int dev, int64_t begin_ns, int64_t end_ns) {
  double sum = 0;
  int k = 0;
  for (size_t i = 0; i < n; i++) {
    const lj_sample *x = &readings[i];
    if (x->device == dev && x->reading == LJ_READING_TEMPERATURE && x->t_ns >= begin_ns && x->t_ns <= end_ns &&
        isfinite(x->value))
      sum += x->value, k++;
  }
  return k ? sum / k : NAN;
}

int lj_idle_curve_from_cooldown(const lj_sample *s, size_t n, int dev, int64_t cool_begin_ns, int64_t cool_end_ns,
                                double t0_c, double level, lj_profile_idle_curve *out) {
  memset(out, 0, sizeof *out);
  out->cooldown_s = (double)(cool_end_ns - cool_begin_ns) * 1e-9;
  int64_t second = 1000000000LL;
  out->cool_start_c = lj_window_temperature(s, n, dev, cool_begin_ns, cool_begin_ns + second);
  out->cool_end_c = lj_window_temperature(s, n, dev, cool_end_ns - second, cool_end_ns);
  return lj_idle_curve_fit(s, n, dev, t0_c, level, &out->fit);
}

void lj_window_rebase_idle(lj_window_result *w, double idle_w) {
  if (!isfinite(idle_w)) return;
  double d = (w->idle_power_w - idle_w) * w->duration_s;
  w->counter_above_idle_j += d;
  w->sample_above_idle_j += d;
  w->idle_power_w = idle_w;
}

void lj_profile_idle_curve_note(lj_profile_result *r) {
  if (!r->idle_curve_valid || r->idle_curve.fit.usable) return;
  lj_profile_note(r, "Idle against temperature not used: %s; the flat idle measured before the run is subtracted "
                     "from every window.", r->idle_curve.fit.why);
}
