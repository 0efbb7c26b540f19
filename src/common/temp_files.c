#include "common/temp_files.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
enum { kNumSignals = sizeof kSignals / sizeof kSignals[0] };

// A slot's path is complete before `used` is set, and `used` cleared before it changes.
static char g_paths[LJ_TEMP_FILES_MAX][PATH_MAX];
static volatile sig_atomic_t g_used[LJ_TEMP_FILES_MAX];
static int g_installed;

static void on_signal(int sig) {
  for (int i = 0; i < LJ_TEMP_FILES_MAX; i++)
    if (g_used[i]) unlink(g_paths[i]);
  // The default action now: the process ends by the signal, its exit status says which.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  raise(sig);
}

static void install(void) {
  if (g_installed) return;
  g_installed = 1;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  for (int i = 0; i < kNumSignals; i++)
    if (sigaction(kSignals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL) sigaction(kSignals[i], &sa, NULL);
}

int lj_temp_create(char *tmpl, int *slot) {
  *slot = -1;
  install();
  sigset_t block, old;
  sigemptyset(&block);
  for (int i = 0; i < kNumSignals; i++) sigaddset(&block, kSignals[i]);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int fd = -1, i = 0;
  while (i < LJ_TEMP_FILES_MAX && g_used[i]) i++;
  if (i == LJ_TEMP_FILES_MAX) {
    errno = ENOSPC;
  } else if (strlen(tmpl) >= sizeof g_paths[i]) {
    errno = ENAMETOOLONG;
  } else if ((fd = mkstemp(tmpl)) >= 0) {
    memcpy(g_paths[i], tmpl, strlen(tmpl) + 1);
    g_used[i] = 1;
    *slot = i;
  }
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = e;
  return fd;
}

void lj_temp_forget(int slot) {
  if (slot >= 0 && slot < LJ_TEMP_FILES_MAX) g_used[slot] = 0;
}
