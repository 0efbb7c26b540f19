#include "model/map_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

enum { MAX_MAPS = 1024, PATH_CAP = 512 };

// An entry is published by storing `begin` last (release); the handler reads
// `begin` first (acquire), so it never sees a half-written path.
static struct {
  _Atomic uintptr_t begin;
  size_t size;
  char path[PATH_CAP];
} g_maps[MAX_MAPS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void put(const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w, n -= (size_t)w;
  }
}

static void put_str(const char *s) { put(s, strlen(s)); }

static void put_uint(uint64_t v) {
  char buf[24];
  size_t i = sizeof buf;
  do buf[--i] = (char)('0' + v % 10); while ((v /= 10) && i > 0);
  put(buf + i, sizeof buf - i);
}

// Async-signal-safe: reads the table, write(2), _exit(2).
static void on_sigbus(int sig, siginfo_t *info, void *uctx) {
  (void)uctx;
  uintptr_t a = (uintptr_t)info->si_addr;
  for (int i = 0; i < MAX_MAPS; i++) {
    uintptr_t b = atomic_load_explicit(&g_maps[i].begin, memory_order_acquire);
    if (b && a >= b && a - b < g_maps[i].size) {
      put_str("llamajoule: error: ");
      put_str(g_maps[i].path);
      put_str(": the file shrank while it was in use (a read at byte ");
      put_uint((uint64_t)(a - b));
      put_str(" failed: was it truncated or rewritten during the run?)\n");
      _exit(LJ_EXIT_BAD_INPUT);
    }
  }
  signal(sig, SIG_DFL);  // not a checkpoint: the default action (core dump) on return
}

int lj_map_guard_add(const void *addr, size_t size, const char *path) {
  pthread_mutex_lock(&g_lock);
  // Installed on every add, not once: a test harness may have replaced it since.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, NULL);
  int slot = -1;
  for (int i = 0; i < MAX_MAPS && slot < 0; i++)
    if (!atomic_load_explicit(&g_maps[i].begin, memory_order_relaxed)) slot = i;
  if (slot >= 0) {
    g_maps[slot].size = size;
    strncpy(g_maps[slot].path, path, PATH_CAP - 1);
    g_maps[slot].path[PATH_CAP - 1] = 0;
    atomic_store_explicit(&g_maps[slot].begin, (uintptr_t)addr, memory_order_release);
  }
  pthread_mutex_unlock(&g_lock);
  if (slot < 0) return LJ_FAIL(LJ_ENOMEM, "%s: more than %d checkpoint files mapped at once", path, MAX_MAPS);
  return 0;
}

void lj_map_guard_remove(const void *addr) {
  pthread_mutex_lock(&g_lock);
  for (int i = 0; i < MAX_MAPS; i++)
    if (atomic_load_explicit(&g_maps[i].begin, memory_order_relaxed) == (uintptr_t)addr)
      atomic_store_explicit(&g_maps[i].begin, 0, memory_order_release);
  pthread_mutex_unlock(&g_lock);
}
