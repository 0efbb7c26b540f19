// The host memory a new allocation can get without swapping (MemAvailable).
#pragma once
#include <stdint.h>

// MemAvailable of /proc/meminfo in bytes; 0 when unknown.
uint64_t lj_mem_available(void);
