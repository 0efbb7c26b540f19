#include "engine/cpu/thread_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"

struct lj_thread_pool {
  int n_threads;  // workers + the calling thread
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  // the current job
  lj_range_fn fn;
  void *ctx;
  int n;
  unsigned generation;  // bumped for each job; workers wait for a new one
  int pending;          // workers still running the current job
  int stop;
};

typedef struct {
  lj_thread_pool *pool;
  int index;  // 1..n_threads-1; the caller is 0
} worker_arg;

static void run_chunk(lj_thread_pool *p, int index) {
  int chunk = (p->n + p->n_threads - 1) / p->n_threads;
  int begin = index * chunk, end = begin + chunk;
  if (end > p->n) end = p->n;
  if (begin < end) p->fn(p->ctx, begin, end);
}

static void *worker_main(void *arg) {
  worker_arg *wa = arg;
  lj_thread_pool *p = wa->pool;
  int index = wa->index;
  free(wa);
  unsigned seen = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->generation == seen) pthread_cond_wait(&p->work_cv, &p->mu);
    if (p->stop) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    seen = p->generation;
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, index);
    pthread_mutex_lock(&p->mu);
    if (--p->pending == 0) pthread_cond_signal(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
  }
}

int lj_thread_pool_create(int n_threads, lj_thread_pool **out) {
  *out = NULL;
  lj_thread_pool *p = calloc(1, sizeof *p);
  if (!p) return LJ_FAIL(LJ_ENOMEM, "thread pool: out of memory");
  p->n_threads = n_threads < 1 ? 1 : n_threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work_cv, NULL);
  pthread_cond_init(&p->done_cv, NULL);
  if (p->n_threads > 1) {
    p->workers = calloc((size_t)p->n_threads - 1, sizeof *p->workers);
    if (!p->workers) {
      lj_thread_pool_free(p);
      return LJ_FAIL(LJ_ENOMEM, "thread pool: out of memory");
    }
    for (int i = 1; i < p->n_threads; i++) {
      worker_arg *wa = malloc(sizeof *wa);
      if (wa) *wa = (worker_arg){p, i};
      if (!wa || pthread_create(&p->workers[i - 1], NULL, worker_main, wa) != 0) {
        free(wa);
        p->n_threads = i;  // only the started workers are joined
        lj_thread_pool_free(p);
        return LJ_FAIL(LJ_ENOMEM, "thread pool: cannot start thread %d of %d", i + 1, n_threads);
      }
    }
  }
  *out = p;
  return LJ_OK;
}

void lj_thread_pool_free(lj_thread_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->work_cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n_threads && p->workers; i++) pthread_join(p->workers[i - 1], NULL);
  pthread_cond_destroy(&p->work_cv);
  pthread_cond_destroy(&p->done_cv);
  pthread_mutex_destroy(&p->mu);
  free(p->workers);
  free(p);
}

int lj_thread_pool_size(const lj_thread_pool *p) { return p ? p->n_threads : 1; }

void lj_parallel_for(lj_thread_pool *p, int n, lj_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (!p || p->n_threads == 1 || n == 1) {
    fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  p->pending = p->n_threads - 1;
  p->generation++;
  pthread_cond_broadcast(&p->work_cv);
  pthread_mutex_unlock(&p->mu);
  run_chunk(p, 0);
  pthread_mutex_lock(&p->mu);
  while (p->pending > 0) pthread_cond_wait(&p->done_cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

int lj_default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}
