/*
 * parallel.c - a small persistent pthread pool for row-parallel kernels.
 *
 * jnce does not use OpenMP so that the shared library needs nothing beyond libc, libm,
 * pthreads and OpenBLAS. One job runs at a time; a caller that finds the pool busy runs its
 * work serially, which also makes nested calls safe.
 */
#include <pthread.h>
#include <stdint.h>

#include "internal.h"

#define MAX_WORKERS (JNCE_MAX_THREADS - 1) /* the caller runs slice 0 */

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;   /* held by the running job */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the fields below */
static pthread_cond_t job_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static int32_t workers_started;
static uint64_t generation;
static int32_t pending;
static struct {
    jnce_range_fn fn;
    void *ctx;
    int64_t n;
    int32_t slices;
} job;

static void run_slice(int32_t slice) {
    int64_t begin = job.n * slice / job.slices;
    int64_t end = job.n * (slice + 1) / job.slices;
    if (begin < end) job.fn(job.ctx, begin, end, slice);
}

static void *worker_main(void *arg) {
    int32_t slice = (int32_t)(intptr_t)arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&state_lock);
    for (;;) {
        while (generation == seen) pthread_cond_wait(&job_ready, &state_lock);
        seen = generation;
        if (slice >= job.slices) continue;
        pthread_mutex_unlock(&state_lock);
        run_slice(slice);
        pthread_mutex_lock(&state_lock);
        if (--pending == 0) pthread_cond_signal(&job_done);
    }
    return NULL;
}

/* Starts workers up to count; returns how many exist, which may be more than count (the pool
 * never shrinks) or fewer (a thread could not be started). Called with state_lock held. */
static int32_t ensure_workers(int32_t count) {
    while (workers_started < count && workers_started < MAX_WORKERS) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attr, worker_main, (void *)(intptr_t)(workers_started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;
        workers_started++;
    }
    return workers_started;
}

void jnce_parallel_for(int64_t n, int64_t min_per_thread, jnce_range_fn fn, void *ctx) {
    jnce_parallel_for_at_most(n, min_per_thread, INT32_MAX, fn, ctx);
}

void jnce_parallel_for_at_most(int64_t n, int64_t min_per_thread, int32_t max_slices, jnce_range_fn fn, void *ctx) {
    if (n <= 0) return;
    int64_t by_work = min_per_thread > 0 ? n / min_per_thread : n;
    int64_t want = jnce_threads();
    if (by_work < want) want = by_work;
    if (max_slices < want) want = max_slices;
    if (want <= 1 || pthread_mutex_trylock(&job_lock) != 0) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&state_lock);
    /* workers 1 .. slices-1 take part; those a larger count once started stay idle */
    int32_t workers = ensure_workers((int32_t)want - 1);
    int32_t slices = workers < want - 1 ? 1 + workers : (int32_t)want;
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.slices = slices;
    pending = slices - 1;
    generation++;
    pthread_cond_broadcast(&job_ready);
    pthread_mutex_unlock(&state_lock);

    run_slice(0);

    pthread_mutex_lock(&state_lock);
    while (pending > 0) pthread_cond_wait(&job_done, &state_lock);
    pthread_mutex_unlock(&state_lock);
    pthread_mutex_unlock(&job_lock);
}
