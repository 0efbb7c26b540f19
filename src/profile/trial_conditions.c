// Conditions of a replay trial's window (trial_conditions.h).
#include "profile/trial_conditions.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void widen(double v, double *lo, double *hi) {
  if (!isfinite(v)) return;
  if (!(v >= *lo)) *lo = v;
  if (!(v <= *hi)) *hi = v;
}

int lj_trial_conditions_from_readings(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                                      double power_w, double fallback_limit_w, lj_trial_conditions *out) {
  memset(out, 0, sizeof *out);
  out->sm_clock_min_mhz = out->sm_clock_max_mhz = NAN;
  out->mem_clock_min_mhz = out->mem_clock_max_mhz = NAN;
  out->temperature_c = NAN;
  out->power_w = power_w;
  out->power_limit_w = fallback_limit_w;
  double temp_sum = 0;
  int n_temp = 0, seen = 0;
  int64_t limit_t = INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    const lj_sample *x = &s[i];
    if (x->device != dev) continue;
    // the limit in force: the latest reading at or before the window's end
    if (x->reading == LJ_READING_POWER_LIMIT && x->t_ns <= end_ns && x->t_ns >= limit_t && x->value > 0)
      out->power_limit_w = x->value, limit_t = x->t_ns;
    if (x->t_ns < begin_ns || x->t_ns > end_ns) continue;
    switch ((lj_reading)x->reading) {
      case LJ_READING_CLOCK_SM: widen(x->value, &out->sm_clock_min_mhz, &out->sm_clock_max_mhz), seen = 1; break;
      case LJ_READING_CLOCK_MEM: widen(x->value, &out->mem_clock_min_mhz, &out->mem_clock_max_mhz), seen = 1; break;
      case LJ_READING_THROTTLE: out->throttle_mask |= (int64_t)x->value, seen = 1; break;
      case LJ_READING_TEMPERATURE:
        if (isfinite(x->value)) temp_sum += x->value, n_temp++, seen = 1;
        break;
      default: break;
    }
  }
  if (n_temp) out->temperature_c = temp_sum / n_temp;
  int by_reason = (out->throttle_mask & (int64_t)LJ_THROTTLE_POWER_CAP_MASK) != 0;
  int by_power = isfinite(power_w) && out->power_limit_w > 0 && power_w >= LJ_POWER_CAP_FRACTION * out->power_limit_w;
  out->at_cap = by_reason || by_power;
  return seen;
}

void lj_temperature_first_last(const lj_sample *s, size_t n, int dev, int64_t begin_ns, int64_t end_ns,
                               double *first_c, double *last_c) {
  int64_t first = INT64_MAX, last = INT64_MIN;
  *first_c = *last_c = NAN;
  for (size_t i = 0; i < n; i++) {
    const lj_sample *x = &s[i];
    if (x->device != dev || x->reading != LJ_READING_TEMPERATURE || x->t_ns < begin_ns || x->t_ns > end_ns ||
        !isfinite(x->value))
      continue;
    if (x->t_ns < first) first = x->t_ns, *first_c = x->value;
    if (x->t_ns >= last) last = x->t_ns, *last_c = x->value;
  }
}

void lj_throttle_names(uint64_t mask, char *buf, size_t cap) {
  static const char *const names[] = {"gpu_idle", "applications_clocks", "sw_power_cap", "hw_slowdown",
                                      "sync_boost", "sw_thermal", "hw_thermal", "hw_power_brake", "display_clock"};
  buf[0] = '\0';
  size_t used = 0;
  for (unsigned b = 0; b < sizeof names / sizeof *names; b++)
    if (mask & (1ull << b)) used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s", used ? "," : "", names[b]);
  if (!used) snprintf(buf, cap, "none");
}
