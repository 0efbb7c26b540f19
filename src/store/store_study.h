// A study (`llamajoule sweep`, schema version 4): many profile runs in one
// file, one per point (model, batch, prompt length, generated length), and
// each point's status, so that a re-run with the same arguments resumes it.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

// pending: not started; incomplete: started and cut short (Ctrl-C, killed);
// done: its profile is stored whole; skipped: it cannot run here (reason);
// failed: its run failed (reason). A resumed study runs every point but the done ones.
enum { LJ_POINT_PENDING, LJ_POINT_INCOMPLETE, LJ_POINT_DONE, LJ_POINT_SKIPPED, LJ_POINT_FAILED, LJ_POINT_STATUS_COUNT };
const char *lj_point_status_name(int status);
int lj_point_status_parse(const char *name);  // -1 for an unknown name

typedef struct {
  char model[512];     // preset or checkpoint directory, as given
  int batch, prompt_len, gen_len;
  int stages;          // 1: per-stage attribution at this point
  int status;          // LJ_POINT_*
  char reason[512];    // why skipped or failed ("" otherwise)
  int64_t run_id;      // the point's profile run (0: none yet)
  int attempts;        // runs started for it
  double seconds;      // wall time of its last run (NAN: none)
  double estimate_s;   // time estimated before its last run (NAN: none)
} lj_study_point;

typedef struct {
  int64_t id;
  char name[256];
  char arguments[4096];  // canonical arguments: equal arguments are the same study
  char engine[16];       // "cuda" or "cpu"
  char command_line[2048];
  int64_t created_wall_ns;
} lj_study;

// Finds the study of s->arguments, or makes it with `points` (each pending),
// in one transaction. Found (*resumed = 1): s->id and name are set and each
// point's status, reason, run, attempts and times are read back (the same
// arguments give the same points in the same order). A file that holds a
// study of other arguments is refused (LJ_EINVAL naming the file and both).
int lj_store_study_begin(lj_store *st, lj_study *s, lj_study_point *points, size_t n, int *resumed);
// Writes point `index` of the study as it stands (its own transaction).
int lj_store_study_set_point(lj_store *st, int64_t study_id, size_t index, const lj_study_point *p);
// The file's study and its points (malloc'd, free() them): 1 found, 0 none
// (a file of version 1-3, or without a study).
int lj_store_study_read(lj_store *st, lj_study *s, lj_study_point **points, size_t *n);
