// Window boundaries shared by several threads, one per GPU of a
// tensor-parallel run: each thread arrives once its GPU's stream is
// synchronised, and the last to arrive begins or ends the window at its
// arrival time. Every device's window then covers the same work, bounded by
// one timestamp, and the sum over devices is the run's energy.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "llamajoule/meter.h"

struct lj_meter_barrier {
  lj_sampler *s;
  int n;
  pthread_mutex_t lock;
  pthread_cond_t done;
  int arrived;           // threads waiting in this round
  unsigned generation;   // rounds completed
  int result;            // the last arrival's handle or status, for every thread of its round
  int64_t t_ns;          // the round's timestamp
  char message[256];     // the last arrival's error message
};

int lj_meter_barrier_create(lj_meter_barrier **out, lj_sampler *s, int n_threads) {
  *out = NULL;
  if (n_threads < 1) return LJ_FAIL(LJ_EINVAL, "meter barrier: %d threads (at least 1)", n_threads);
  lj_meter_barrier *b = calloc(1, sizeof *b);
  if (!b) return LJ_FAIL(LJ_ENOMEM, "out of memory creating a meter barrier");
  b->s = s;
  b->n = n_threads;
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->done, NULL);
  *out = b;
  return 0;
}

void lj_meter_barrier_free(lj_meter_barrier *b) {
  if (!b) return;
  pthread_cond_destroy(&b->done);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

// One round: the last of n threads runs the boundary at its arrival time
// (handle < 0: begin `name`; else end `handle`); everyone gets its result.
static int arrive(lj_meter_barrier *b, const char *name, int handle, int64_t *t_ns) {
  pthread_mutex_lock(&b->lock);
  unsigned gen = b->generation;
  if (++b->arrived == b->n) {
    // the boundary runs under the barrier's lock: no thread of the next round can slip in
    int64_t t = lj_sampler_now(b->s);
    lj_windows *w = lj_sampler_windows(b->s);
    int rc = handle < 0 ? lj_windows_begin(w, name, t) : lj_windows_end(w, handle, t);
    b->result = rc;
    b->t_ns = t;
    snprintf(b->message, sizeof b->message, "%s", rc < 0 ? lj_error_message() : "");
    b->arrived = 0;
    b->generation++;
    pthread_cond_broadcast(&b->done);
  } else {
    while (gen == b->generation) pthread_cond_wait(&b->done, &b->lock);
  }
  int rc = b->result;
  if (t_ns) *t_ns = b->t_ns;
  char message[sizeof b->message];
  snprintf(message, sizeof message, "%s", b->message);
  pthread_mutex_unlock(&b->lock);
  // the message is thread-local: every thread of the round records it
  if (rc < 0) return LJ_FAIL(rc, "%s", message);
  return rc;
}

int lj_meter_barrier_begin(lj_meter_barrier *b, const char *name, int64_t *t_ns) { return arrive(b, name, -1, t_ns); }

int lj_meter_barrier_end(lj_meter_barrier *b, int handle, int64_t *t_ns) {
  if (handle < 0) return LJ_FAIL(LJ_EINVAL, "meter barrier: no window with handle %d", handle);
  return arrive(b, NULL, handle, t_ns);
}
