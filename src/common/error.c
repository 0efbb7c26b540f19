#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_message[1024];
static _Thread_local char g_where[160];
static int g_quiet;

int lj_fail(int code, const char *src_file, int src_line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_message, sizeof g_message, fmt, ap);
  va_end(ap);
  snprintf(g_where, sizeof g_where, "%s:%d", src_file, src_line);
  return code;
}

int lj_fail_context(int code, const char *fmt, ...) {
  char prefix[512];
  char old[sizeof g_message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, g_message, sizeof old);
  // prefix, then as much of the old message as fits (truncation is fine here)
  size_t n = strlen(prefix);
  if (n > sizeof g_message - 3) n = sizeof g_message - 3;
  memcpy(g_message, prefix, n);
  memcpy(g_message + n, ": ", 2);
  size_t room = sizeof g_message - n - 3, len = strlen(old);
  if (len > room) len = room;
  memcpy(g_message + n + 2, old, len);
  g_message[n + 2 + len] = '\0';
  return code;
}

const char *lj_error_message(void) { return g_message; }
const char *lj_error_where(void) { return g_where; }
void lj_clear_error(void) { g_message[0] = '\0'; g_where[0] = '\0'; }

const char *lj_status_name(int code) {
  switch (code) {
    case LJ_OK: return "ok";
    case LJ_EINVAL: return "invalid input";
    case LJ_EIO: return "I/O error";
    case LJ_ENOMEM: return "out of memory";
    case LJ_ENODEV: return "no device";
    case LJ_EUNSUPPORTED: return "not supported";
    case LJ_EINTERRUPTED: return "interrupted";
    case LJ_ECUDA: return "CUDA error";
    case LJ_ESTORE: return "store error";
    case LJ_EPERM: return "permission denied";
    default: return "error";
  }
}

int lj_exit_code(int code) {
  switch (code) {
    case LJ_OK: return LJ_EXIT_OK;
    case LJ_EINVAL: return LJ_EXIT_BAD_INPUT;
    case LJ_ENODEV: return LJ_EXIT_NO_DEVICE;
    case LJ_EINTERRUPTED: return LJ_EXIT_INTERRUPTED;
    default: return LJ_EXIT_FAILURE;
  }
}

int lj_report_error(int code) {
  if (code >= 0) return LJ_EXIT_OK;
  const char *msg = g_message[0] ? g_message : lj_status_name(code);
  if (getenv("LLAMAJOULE_DEBUG") && g_where[0])
    fprintf(stderr, "llamajoule: error: %s [%s]\n", msg, g_where);
  else
    fprintf(stderr, "llamajoule: error: %s\n", msg);
  return lj_exit_code(code);
}

void lj_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("llamajoule: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void lj_info(const char *fmt, ...) {
  if (g_quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("llamajoule: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void lj_set_quiet(int quiet) { g_quiet = quiet; }
