#include "meter/visible_devices.h"

#include <stdio.h>
#include <string.h>

int lj_visible_split(const char *env, char tokens[][LJ_VISIBLE_TOKEN], int max) {
  if (!env) return -1;
  int n = 0;
  const char *p = env;
  while (*p && n < max) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *a = p, *b = p + len;
    while (a < b && *a == ' ') a++;
    while (b > a && b[-1] == ' ') b--;
    if (b > a) {
      size_t k = (size_t)(b - a) < LJ_VISIBLE_TOKEN - 1 ? (size_t)(b - a) : LJ_VISIBLE_TOKEN - 1;
      memcpy(tokens[n], a, k);
      tokens[n][k] = '\0';
      n++;
    }
    if (!comma) break;
    p = comma + 1;
  }
  return n;
}

int lj_visible_match(const char *token, const char *const *uuids, int n) {
  if (strncmp(token, "MIG-", 4) == 0) return -3;
  if (token[0] >= '0' && token[0] <= '9') {
    int v = 0;
    for (const char *c = token; *c; c++) {
      if (*c < '0' || *c > '9' || v > 100000) return -1;
      v = v * 10 + (*c - '0');
    }
    return v < n ? v : -1;
  }
  const char *want = token;
  if (strncmp(want, "GPU-", 4) != 0) return -1;
  size_t len = strlen(want);
  int found = -1;
  for (int i = 0; i < n; i++)
    if (strncmp(uuids[i], want, len) == 0) {
      if (found >= 0) return -2;
      found = i;
    }
  return found;
}
