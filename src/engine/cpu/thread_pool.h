// A fixed set of worker threads that run one parallel-for at a time.
// The CPU engine splits matmuls over output rows and attention over heads.
#pragma once

typedef struct lj_thread_pool lj_thread_pool;

// n_threads <= 1 gives a pool that runs everything on the calling thread.
int lj_thread_pool_create(int n_threads, lj_thread_pool **out);
void lj_thread_pool_free(lj_thread_pool *p);
int lj_thread_pool_size(const lj_thread_pool *p);  // 1 for NULL

// Calls fn(ctx, begin, end) over [0, n) split into contiguous chunks, one per
// thread, and returns when all are done. `pool` may be NULL (runs inline).
typedef void (*lj_range_fn)(void *ctx, int begin, int end);
void lj_parallel_for(lj_thread_pool *pool, int n, lj_range_fn fn, void *ctx);

// Threads to use by default: the online CPUs.
int lj_default_threads(void);
