/// @file
/// @brief Status codes and the last error message: the public half of
/// src/common/error.h, so that a program using only include/ can tell what
/// went wrong.
///
/// A function of the public API that can fail returns `int`: 0 (or a
/// non-negative value such as a handle) on success, a negative ::lj_status on
/// failure. Before returning a failure it records one line saying what went
/// wrong and where in the input; lj_error_message() returns it. The record is
/// thread-local: a sampler thread never overwrites the calling thread's message.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes. Every failure of the API is one of these, negative.
typedef enum {
  LJ_OK = 0,            ///< success
  LJ_EINVAL = -1,       ///< bad input: file, field, value, argument
  LJ_EIO = -2,          ///< read/write failed, disk full, unwritable path
  LJ_ENOMEM = -3,       ///< host or device allocation failed
  LJ_ENODEV = -4,       ///< no NVIDIA driver, no GPU, no CUDA build
  LJ_EUNSUPPORTED = -5, ///< the driver/GPU cannot give this reading (not worth stopping for)
  LJ_EINTERRUPTED = -6, ///< Ctrl-C / SIGTERM
  LJ_ECUDA = -7,        ///< CUDA / cuBLAS runtime error
  LJ_ESTORE = -8,       ///< SQLite error
  LJ_EPERM = -9,        ///< permission denied (NVML: insufficient permissions)
} lj_status;

/// The message of the calling thread's last failure, one line without a
/// trailing newline (`"run.csv:12:9: device is not an integer in 0..255"`);
/// "" when none was recorded. Valid until the thread's next failure.
const char *lj_error_message(void);

/// The source location (`"src/meter/trace_csv.c:120"`) of the library code that
/// recorded the last failure; "" when none. For bug reports.
const char *lj_error_where(void);

/// A short English name of a status code: "invalid input", "no device", ...;
/// "error" for a code outside ::lj_status.
/// @param code an ::lj_status value (or any int)
const char *lj_status_name(int code);

/// Forgets the calling thread's last message (lj_error_message() returns "").
void lj_clear_error(void);

#ifdef __cplusplus
}
#endif
