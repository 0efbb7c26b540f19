#include "meter/clock_map.h"

#include "common/clock.h"

void lj_clock_map_from_pair(lj_clock_map *m, int64_t mono_before, int64_t wall, int64_t mono_after) {
  int64_t mid = mono_before + (mono_after - mono_before) / 2;
  m->offset_ns = wall - mid;
  m->uncertainty_ns = (mono_after - mono_before + 1) / 2;
  m->updated_ns = mono_after;
  m->valid = 1;
}

void lj_clock_map_update(lj_clock_map *m, int pairs) {
  lj_clock_map best = {0};
  for (int i = 0; i < (pairs > 0 ? pairs : 1); i++) {
    int64_t a = lj_mono_ns(), w = lj_wall_ns(), b = lj_mono_ns();
    lj_clock_map c;
    lj_clock_map_from_pair(&c, a, w, b);
    if (!best.valid || c.uncertainty_ns < best.uncertainty_ns) best = c;
  }
  *m = best;
}

int64_t lj_clock_map_wall_us_to_mono_ns(const lj_clock_map *m, int64_t wall_us) {
  return wall_us * 1000 - m->offset_ns;
}
