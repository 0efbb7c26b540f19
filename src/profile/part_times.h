// Wall time of each part of a profile (the phases, each method's replays, the ablations, the
// cool-down, the analysis): where a profile's minutes go, so that its time budget can be kept
// and a user can see what each option costs. Noted in the run's notes at the end.
#ifndef LJ_PROFILE_PART_TIMES_H
#define LJ_PROFILE_PART_TIMES_H

#include <stddef.h>
#include <stdint.h>

#define LJ_PART_MAX 16

typedef struct {
  const char *name[LJ_PART_MAX];  // static strings, in first-run order
  double s[LJ_PART_MAX];
  int n;
  int64_t begin_ns;  // of the whole run (lj_part_times_init)
  int64_t t0_ns;     // of the part running now (lj_part_start)
} lj_part_times;

void lj_part_times_init(lj_part_times *p, int64_t now_ns);
void lj_part_start(lj_part_times *p, int64_t now_ns);
// Adds the time since lj_part_start (or since the last lj_part_end) to part `name` (parts of one
// name add up; the last of LJ_PART_MAX slots, once every slot is taken, becomes "more" and takes
// every later part).
void lj_part_end(lj_part_times *p, const char *name, int64_t now_ns);
// "load 0.2 s, phase windows 26.6 s, ..., other 3.1 s (of 492.2 s)": the parts in
// the order they first ran; "other" is the run's wall time that no part holds. Returns the length
// as snprintf does.
int lj_part_times_format(const lj_part_times *p, int64_t now_ns, char *buf, size_t size);

#endif
