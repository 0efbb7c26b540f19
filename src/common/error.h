// Errors and warnings.
//
// A function that can fail returns int: 0 on success, a negative lj_status on
// failure. Before returning it records one line saying what went wrong and
// where in the input (file, tensor, field, byte offset); LJ_FAIL also keeps
// the source file and line that raised it. The record is thread-local, so a
// sampler thread never overwrites the main thread's message.
#pragma once
#include <stdarg.h>

// lj_status, lj_error_message, lj_error_where, lj_status_name and
// lj_clear_error are public: include/llamajoule/error.h.
#include "llamajoule/error.h"

#if defined(__GNUC__)
#define LJ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LJ_PRINTF(a, b)
#endif

// Record an error and return `code` (so `return LJ_FAIL(...)` reads naturally).
int lj_fail(int code, const char *src_file, int src_line, const char *fmt, ...) LJ_PRINTF(4, 5);
#define LJ_FAIL(code, ...) lj_fail((code), __FILE__, __LINE__, __VA_ARGS__)

// Prefix the current message with more context: "loading model: <old message>".
int lj_fail_context(int code, const char *fmt, ...) LJ_PRINTF(2, 3);

// Propagate a failure unchanged.
#define LJ_TRY(expr)                 \
  do {                               \
    int lj_try_rc_ = (expr);         \
    if (lj_try_rc_ < 0) return lj_try_rc_; \
  } while (0)

// Print "llamajoule: error: <message>" to stderr (with the source location
// when LLAMAJOULE_DEBUG is set) and return the process exit code for `code`.
int lj_report_error(int code);
int lj_exit_code(int code);

void lj_warn(const char *fmt, ...) LJ_PRINTF(1, 2);  // "llamajoule: warning: ..."
void lj_info(const char *fmt, ...) LJ_PRINTF(1, 2);  // "llamajoule: ..." unless quiet
void lj_set_quiet(int quiet);

// Process exit codes (documented in docs/cli.md).
enum {
  LJ_EXIT_OK = 0,
  LJ_EXIT_FAILURE = 1,      // runtime failure (I/O, CUDA, store)
  LJ_EXIT_USAGE = 2,        // bad command line
  LJ_EXIT_BAD_INPUT = 3,    // bad input file or value
  LJ_EXIT_NO_DEVICE = 4,    // no NVIDIA driver / GPU / CUDA build where one is needed
  LJ_EXIT_UNFINISHED = 75,  // sweep: stopped by its time budget; run it again to resume (sysexits' TEMPFAIL)
  LJ_EXIT_INTERRUPTED = 130 // Ctrl-C; what was measured is kept, marked incomplete
};
