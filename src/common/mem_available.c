// MemAvailable, read where a size is checked before anything large is built.
#include "common/mem_available.h"

#include <stdio.h>

uint64_t lj_mem_available(void) {
  FILE *fp = fopen("/proc/meminfo", "r");
  if (!fp) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (fgets(line, sizeof line, fp))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  fclose(fp);
  return (uint64_t)kb * 1024;
}
