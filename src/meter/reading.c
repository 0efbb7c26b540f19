// Names and units of the readings (stable strings: the CSV trace format and
// the store use them).
#include <string.h>

#include "llamajoule/meter.h"

static const char *const reading_names[LJ_READING_COUNT] = {
    "energy",   "power_avg", "power_instant", "power_memory", "power_sample", "clock_sm",
    "clock_mem", "temperature", "throttle", "util_gpu", "util_mem", "power_limit"};

static const char *const reading_units[LJ_READING_COUNT] = {"J", "W", "W", "W", "W", "MHz",
                                                            "MHz", "C", "mask", "%", "%", "W"};

const char *lj_reading_name(lj_reading r) { return (unsigned)r < LJ_READING_COUNT ? reading_names[r] : "?"; }
const char *lj_reading_unit(lj_reading r) { return (unsigned)r < LJ_READING_COUNT ? reading_units[r] : "?"; }

int lj_reading_from_name(const char *name) {
  for (int r = 0; r < LJ_READING_COUNT; r++)
    if (strcmp(name, reading_names[r]) == 0) return r;
  return -1;
}
