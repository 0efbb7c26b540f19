#include "common/clock.h"

#include <errno.h>
#include <time.h>

static int64_t read_clock(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t lj_mono_ns(void) { return read_clock(CLOCK_MONOTONIC); }
int64_t lj_wall_ns(void) { return read_clock(CLOCK_REALTIME); }

void lj_sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
