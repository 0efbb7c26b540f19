// The store: one SQLite file per run or study (schema in docs/store.md).
//
// A store holds runs; each run has its devices, the samples the sampler
// streamed, measurement windows, metrics (sampler CPU cost...), and, for
// `idle` and `devices --characterize`, idle baselines and characterisations;
// for `profile`, everything in an lj_profile_result; for `sweep`, the study
// and its points (store_study.h) (schema version 6).
// The file is in WAL mode and every batch of samples is one transaction, so a
// killed process leaves a consistent file holding every batch committed
// before it died; such a run keeps status "incomplete".
//
// Errors (negative lj_status) always name the file: an unwritable path or a
// full disk is LJ_EIO, another schema version or a file that is not a store
// is LJ_EINVAL, other SQLite failures LJ_ESTORE.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "llamajoule/meter.h"
#include "store/profile_result.h"

#define LJ_STORE_SCHEMA_VERSION 22

typedef struct lj_store lj_store;

// Opens `path`, creating the file and the schema when it does not exist.
// Fails, naming the path, when it cannot be written (checked here, before any
// measurement starts). A file of version 1 to 5 is upgraded in place
// (version 2 added the profile tables, version 3 the context method's
// columns, version 4 the study tables, version 5 the head fit's and the
// ablation's energy-source columns, version 6 the Shapley, known-answer and
// ablation checks and the trials' variant); other versions are refused.
int lj_store_open(const char *path, lj_store **out);
// Opens an existing store for reading only (re-analysis); never creates it.
// An older file is read as it is (version 1 holds no profiles, versions 1-3 no studies).
int lj_store_open_readonly(const char *path, lj_store **out);
// The same, strictly read-only (SQLITE_OPEN_READONLY): the file's bytes stay
// as they are, a -wal beside it is read, not checkpointed. For reports.
int lj_store_open_untouched(const char *path, lj_store **out);
void lj_store_close(lj_store *st);
// Removes the file at `path` and the -wal, -shm and -journal beside it when it holds
// no run (a zero-length file, or no row in runs): for a store a command created and
// then failed to start its run in. A file holding a run, or one that cannot be read,
// is kept.
void lj_store_remove_unused(const char *path);
const char *lj_store_path(const lj_store *st);

// ---------------------------------------------------------------- runs

enum { LJ_RUN_INCOMPLETE = 0, LJ_RUN_COMPLETE = 1, LJ_RUN_FAILED = 2 };
const char *lj_run_status_name(int status);  // "incomplete", "complete", "failed"

typedef struct {
  const char *kind;          // "meter", "idle", "characterize", ...
  const char *command_line;  // the llamajoule command line as typed (arguments joined by spaces)
  const char *source;        // "nvml", "nvidia-smi", "replay:FILE"
  const char *notes;         // free text, may be NULL
} lj_run_info;

// Inserts a run with status "incomplete" (so a run whose writer dies stays
// marked incomplete), host name, tool version and the start time.
int lj_store_begin_run(lj_store *st, const lj_run_info *info, int64_t *run_id);
// Sets status, exit code and the end time.
int lj_store_end_run(lj_store *st, int64_t run_id, int status, int exit_code);
// A named number about a run ("sampler_cpu_percent", "program_wall_s"...).
int lj_store_add_metric(lj_store *st, int64_t run_id, const char *name, double value, const char *unit);
// The newest run (largest id), optionally of one kind (NULL = any): 1 found, 0 none.
int lj_store_latest_run(lj_store *st, const char *kind, int64_t *run_id);

typedef struct {
  int64_t id;
  char kind[32];
  char command_line[1024];
  char source[512];
  char host[256];
  char tool_version[64];
  int64_t started_wall_ns, ended_wall_ns;  // ended 0 when the run never ended
  int status;                              // LJ_RUN_*
  int exit_code;                           // -1 when unknown
} lj_run_record;
int lj_store_get_run(lj_store *st, int64_t run_id, lj_run_record *out);

// ---------------------------------------------------------------- devices, samples

int lj_store_add_device(lj_store *st, int64_t run_id, const lj_device_info *d);
// One transaction for the whole batch.
int lj_store_add_samples(lj_store *st, int64_t run_id, const lj_sample *s, size_t n);
int64_t lj_store_count_samples(lj_store *st, int64_t run_id);  // negative on error
// A run's devices and samples (in time order) into `out` (lj_trace_init'ed by
// the caller), ready for the replay source: any recorded run can be analysed
// again without a GPU.
int lj_store_load_trace(lj_store *st, int64_t run_id, lj_trace *out);

// ---------------------------------------------------------------- windows

// `parent_id` 0 = none; *window_id may be NULL.
int lj_store_add_window(lj_store *st, int64_t run_id, const lj_window_result *w, int64_t parent_id,
                        int64_t *window_id);
// "short,no_counter,..." for LJ_WINDOW_* flags ("" when none).
void lj_window_flags_text(uint32_t flags, char *buf, size_t cap);

// ---------------------------------------------------------------- profiles

// Writes everything `llamajoule profile` measured for run `run_id` (plan,
// conditions, phase windows with their `windows` rows, summaries, stage
// estimates, trials, closures, timeline, ablation, head fit, overheads) in
// one transaction: on failure nothing of it is in the file, and the error
// names the file and the table. Safe while the sampler's writer streams to the
// same store (each transaction holds the connection). A run holds at most one
// profile.
int lj_store_add_profile(lj_store *st, int64_t run_id, const lj_profile_result *r);
// The plan of run `run_id` (its profile_plans row, complete as r says) as the run starts, in its
// own transaction, so that a run killed part-way reads back with the windows it kept (a profile
// is read by its plan). lj_store_add_profile replaces the row with the final one.
int lj_store_add_profile_plan(lj_store *st, int64_t run_id, const lj_profile_result *r);
// One phase window of run `run_id` as it closes, in its own transaction (safe
// while the sampler's writer streams to the same store), so that a run killed
// part-way keeps its finished windows. A window of the same phase and repeat
// already stored is replaced (a GPU window is written pending, then final);
// lj_store_add_profile replaces them all with the result's values. tp_rank: the rank of the run's
// own figures (lj_profile_main_rank: -1, the sum over the GPUs, at tensor-parallel degree > 1),
// the rank the final write keys them by; another would outlive the run as a stale row.
int lj_store_add_phase_window(lj_store *st, int64_t run_id, const lj_phase_window *w, int tp_rank);
// Reads the profile of run `run_id` back (every table lj_store_add_profile
// writes; a version-2 file's rows read as isolation replays). `out` is
// initialised here; free it with lj_profile_result_free. LJ_EINVAL naming the
// file when the run holds no profile or a row names an unknown phase, stage
// or method. Stored NULLs read as NAN; a mean's sem, cv and half width are
// derived from its sd, n and interval.
int lj_store_read_profile(lj_store *st, int64_t run_id, lj_profile_result *out);
// Rows of the profile table `table` ("stage_intervals", "closures", ...;
// docs/store.md) that belong to run_id. LJ_EINVAL for a name that is not a
// profile table; 0 rows in a version-1 store.
int lj_store_profile_count(lj_store *st, int64_t run_id, const char *table, int64_t *n);

// ---------------------------------------------------------------- idle baselines

typedef struct {
  int64_t run_id;           // the run that measured it (0 when copied from elsewhere)
  char device_uuid[96];
  char device_name[96];
  int64_t measured_wall_ns; // when it was measured (CLOCK_REALTIME ns)
  double seconds;
  double mean_w, stddev_w;  // the baseline (counter-based when known)
  double counter_mean_w, counter_stddev_w;
  double sample_mean_w, sample_stddev_w;
  int n_counter_updates, n_samples;
  double temperature_c;     // 0 when unknown
  double sm_clock_mhz, mem_clock_mhz;  // mean over the measurement, 0 when unknown
  char method[32];          // "counter" or "samples": which mean is the baseline
  char context[32];         // "cuda-context" or "no-context"
  // Where it was measured, "FILE, run N": filled by the finder. On insert, an
  // origin marks a copy of a baseline from another store (kept as copied_from);
  // leave it empty for a baseline measured into this store.
  char origin[1100];
} lj_idle_baseline;

int lj_store_add_idle_baseline(lj_store *st, const lj_idle_baseline *b);
// The newest baseline for `uuid`: 1 found (out filled, origin = "PATH, run N"), 0 none.
int lj_store_find_idle_baseline(lj_store *st, const char *uuid, lj_idle_baseline *out);

// ---------------------------------------------------------------- characterisations

// One measured property of a device ("counter_update_period", 100.2, "ms").
int lj_store_add_characterization(lj_store *st, int64_t run_id, int device_index, const char *device_uuid,
                                  const char *quantity, double value, const char *unit, const char *detail);

// ---------------------------------------------------------------- streaming writer

// An lj_sample_sink that writes each batch in one transaction. When a write
// fails (disk full, file removed), the batch and every later one are kept in
// memory and the error is reported once (lj_warn naming the path); the
// sampler keeps running. lj_sample_writer_finish() retries them.
typedef struct lj_sample_writer lj_sample_writer;
int lj_sample_writer_create(lj_store *st, int64_t run_id, lj_sample_writer **out);
int lj_sample_writer_sink(void *writer, const lj_sample *s, size_t n);  // lj_sample_sink
// Writes what is still held in memory. 0 when every sample is in the store;
// otherwise the error, with lj_sample_writer_pending() samples still in memory.
int lj_sample_writer_finish(lj_sample_writer *w);
size_t lj_sample_writer_pending(const lj_sample_writer *w);
uint64_t lj_sample_writer_written(const lj_sample_writer *w);
// The samples not written (for a fallback CSV); valid until free.
const lj_sample *lj_sample_writer_pending_samples(const lj_sample_writer *w);
void lj_sample_writer_free(lj_sample_writer *w);

// ---------------------------------------------------------------- where baselines live

// The default store: $LLAMAJOULE_STORE, else
// ${XDG_DATA_HOME:-$HOME/.local/share}/llamajoule/llamajoule.db (with
// create_dirs, its directories are made).
int lj_store_default_path(char *buf, size_t cap, int create_dirs);
// The newest idle baseline for `uuid`: first in `run_store` (may be NULL),
// then in `baseline_file` (NULL = the default store; a missing file is not an
// error). 1 found, 0 none, negative on a real error.
int lj_find_idle_baseline(lj_store *run_store, const char *baseline_file, const char *uuid, lj_idle_baseline *out);
