// One study point: one profile run in the study's store, and the point's row
// saying how far it got (written before the run starts, so a point cut short,
// even by SIGKILL, reads `incomplete` and is redone on resume).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "profile/sweep.h"

int lj_sweep_run_point(lj_store *st, int64_t study_id, size_t index, lj_study_point *p, const lj_profile_options *o,
                       int on_gpu, const char *command_line, lj_profile_result *r) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s [point %zu: %s batch %d prompt %d gen %d%s]", command_line, index + 1, p->model,
           p->batch, p->prompt_len, p->gen_len, p->stages ? ", stages" : "");
  char notes[64];
  snprintf(notes, sizeof notes, "study %lld, point %zu", (long long)study_id, index + 1);
  lj_run_info info = {.kind = "profile", .command_line = cmd, .source = on_gpu ? "nvml" : "none (timing only)",
                      .notes = notes};
  int64_t run_id = 0;
  LJ_TRY(lj_store_begin_run(st, &info, &run_id));
  p->status = LJ_POINT_INCOMPLETE, p->run_id = run_id, p->attempts++, p->reason[0] = '\0', p->seconds = NAN;
  LJ_TRY(lj_store_study_set_point(st, study_id, index, p));

  lj_profile_options po = *o;
  po.store = st, po.run_id = run_id;
  int64_t t0 = lj_mono_ns();
  int rc = on_gpu ? lj_profile_run_gpu(&po, r) : lj_profile_run_cpu(&po, r);
  char msg[512];
  snprintf(msg, sizeof msg, "%s", rc < 0 ? lj_error_message() : "");
  int interrupted = rc == LJ_EINTERRUPTED || (o->interrupted && *o->interrupted);
  int src = lj_store_add_profile(st, run_id, r);
  if (src < 0 && rc == 0) rc = src, snprintf(msg, sizeof msg, "%s", lj_error_message());
  int status = rc == 0 ? LJ_RUN_COMPLETE : interrupted ? LJ_RUN_INCOMPLETE : LJ_RUN_FAILED;
  int exit_code = rc == 0 ? LJ_EXIT_OK : interrupted ? LJ_EXIT_INTERRUPTED : lj_exit_code(rc);
  int erc = lj_store_end_run(st, run_id, status, exit_code);
  if (erc < 0 && rc == 0) rc = erc, snprintf(msg, sizeof msg, "%s", lj_error_message());

  p->seconds = (double)(lj_mono_ns() - t0) * 1e-9;
  p->status = rc == 0 ? LJ_POINT_DONE : interrupted ? LJ_POINT_INCOMPLETE : LJ_POINT_FAILED;
  if (rc < 0 && !interrupted) snprintf(p->reason, sizeof p->reason, "%s", msg);
  int wrc = lj_store_study_set_point(st, study_id, index, p);
  if (rc < 0) return LJ_FAIL(interrupted ? LJ_EINTERRUPTED : rc, "%s", msg);
  return wrc;
}
