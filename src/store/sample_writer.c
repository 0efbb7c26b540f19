// Streams the sampler's batches into the store, one transaction per batch.
// A failed write (disk full, file gone) must not lose what was measured: the
// samples stay in memory, the failure is reported once, and later batches
// retry at most once a second; lj_sample_writer_finish() tries a last time.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/store_internal.h"

struct lj_sample_writer {
  lj_store *st;
  int64_t run_id;
  pthread_mutex_t lock;
  lj_sample *pending;  // not yet in the store, in arrival order
  size_t n_pending, cap_pending;
  uint64_t written;
  int64_t last_retry_ns;
  int warned;
  int error;           // the last write error (0 once everything is written)
};

int lj_sample_writer_create(lj_store *st, int64_t run_id, lj_sample_writer **out) {
  lj_sample_writer *w = calloc(1, sizeof *w);
  if (!w) return LJ_FAIL(LJ_ENOMEM, "store '%s': out of memory", st->path);
  w->st = st;
  w->run_id = run_id;
  pthread_mutex_init(&w->lock, NULL);
  *out = w;
  return 0;
}

static int keep(lj_sample_writer *w, const lj_sample *s, size_t n) {
  if (w->n_pending + n > w->cap_pending) {
    size_t cap = w->cap_pending ? w->cap_pending : 4096;
    while (cap < w->n_pending + n) cap *= 2;
    lj_sample *grown = realloc(w->pending, cap * sizeof *grown);
    if (!grown) return LJ_FAIL(LJ_ENOMEM, "store '%s': out of memory keeping %zu unwritten samples", w->st->path,
                               w->n_pending + n);
    w->pending = grown;
    w->cap_pending = cap;
  }
  memcpy(w->pending + w->n_pending, s, n * sizeof *s);
  w->n_pending += n;
  return 0;
}

// Writes the pending samples in transactions of bounded size; stops at the first failure.
static int flush_pending(lj_sample_writer *w) {
  const size_t chunk = 50000;
  size_t done = 0;
  int rc = 0;
  while (done < w->n_pending) {
    size_t n = w->n_pending - done < chunk ? w->n_pending - done : chunk;
    if ((rc = lj_store_add_samples(w->st, w->run_id, w->pending + done, n)) < 0) break;
    done += n;
    w->written += n;
  }
  memmove(w->pending, w->pending + done, (w->n_pending - done) * sizeof *w->pending);
  w->n_pending -= done;
  return rc;
}

int lj_sample_writer_sink(void *user, const lj_sample *s, size_t n) {
  lj_sample_writer *w = user;
  pthread_mutex_lock(&w->lock);
  int failed = w->n_pending > 0;  // already failing: queue behind what is pending, keeping the order
  if (!failed) {
    int rc = lj_store_add_samples(w->st, w->run_id, s, n);
    if (rc == 0) w->written += n;
    failed = rc < 0;
    if (failed) w->error = rc;
  }
  if (failed) {
    if (!w->warned) {
      w->warned = 1;
      w->last_retry_ns = lj_mono_ns();
      lj_warn("%s; keeping samples in memory and retrying", lj_error_message());
    }
    int kept = keep(w, s, n);
    if (kept < 0) {
      // Out of memory too: nothing left to do but stop the deliveries.
      pthread_mutex_unlock(&w->lock);
      return kept;
    }
    if (lj_mono_ns() - w->last_retry_ns > 1000000000) {
      w->last_retry_ns = lj_mono_ns();
      int retry = flush_pending(w);
      w->error = retry < 0 ? retry : 0;
    }
  }
  pthread_mutex_unlock(&w->lock);
  return 0;
}

int lj_sample_writer_finish(lj_sample_writer *w) {
  pthread_mutex_lock(&w->lock);
  int rc = w->n_pending ? flush_pending(w) : 0;
  if (rc < 0) {
    rc = lj_fail_context(rc, "%zu samples could not be written and are only in memory", w->n_pending);
  }
  w->error = rc;
  pthread_mutex_unlock(&w->lock);
  return rc;
}

size_t lj_sample_writer_pending(const lj_sample_writer *w) { return w->n_pending; }
uint64_t lj_sample_writer_written(const lj_sample_writer *w) { return w->written; }
const lj_sample *lj_sample_writer_pending_samples(const lj_sample_writer *w) { return w->pending; }

void lj_sample_writer_free(lj_sample_writer *w) {
  if (!w) return;
  pthread_mutex_destroy(&w->lock);
  free(w->pending);
  free(w);
}
