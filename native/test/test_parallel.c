/*
 * test_parallel.c - the thread pool of parallel.c (internal.h): every item runs once, slice indices
 * stay below max_slices and below the thread count in force although the pool keeps every worker
 * it ever started, and jnce_set_num_threads may change the count while other threads run jobs.
 * Linked with the library's objects, not libjnce.so (which exports none of internal.h).
 *
 *   ./test_parallel   (returns the number of failed checks != 0)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "internal.h"

/* A job as kernels with per-slice state see it: per_slice sized by max_slices before the call. */
typedef struct {
    int32_t max_slices;
    int64_t *per_slice;     /* (max_slices) items each slice ran */
    atomic_int worst;       /* highest slice index seen */
    atomic_int *hits;       /* (n) times each item ran */
} job;

static void record(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    job *j = ctx;
    int w = atomic_load(&j->worst);
    while (slice > w && !atomic_compare_exchange_weak(&j->worst, &w, slice)) {
    }
    if (slice >= 0 && slice < j->max_slices) j->per_slice[slice] += end - begin; /* the check is on worst */
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(&j->hits[i], 1);
}

/* Runs [0,n) in at most max_slices slices (max_slices < 1: jnce_parallel_for); returns the number
 * of slices used, or -1 after a wrong one: a slice index >= max_slices, an item run twice or never. */
static int run_small(int64_t n, int64_t min_per_thread, int32_t max_slices, int64_t min_spinning) {
    int32_t cap = max_slices < 1 ? JNCE_MAX_THREADS : max_slices;
    job j = {cap, calloc((size_t)cap, sizeof(int64_t)), -1, calloc((size_t)n, sizeof(atomic_int))};
    if (min_spinning > 0) jnce_parallel_for_small(n, min_per_thread, min_spinning, record, &j);
    else if (max_slices < 1) jnce_parallel_for(n, min_per_thread, record, &j);
    else jnce_parallel_for_at_most(n, min_per_thread, max_slices, record, &j);
    int ok = atomic_load(&j.worst) < cap;
    int64_t total = 0;
    for (int32_t s = 0; s < cap; s++) total += j.per_slice[s];
    for (int64_t i = 0; i < n; i++) ok &= atomic_load(&j.hits[i]) == 1;
    ok &= total == n;
    free(j.per_slice), free(j.hits);
    return ok ? atomic_load(&j.worst) + 1 : -1;
}

static int run(int64_t n, int64_t min_per_thread, int32_t max_slices) {
    return run_small(n, min_per_thread, max_slices, 0);
}

static int32_t threads(void) {
    int32_t t = -1;
    jnce_get_num_threads(&t);
    return t;
}

/* The pool grows to 8 workers' worth, then the count drops: slices follow the count and max_slices. */
static void test_pool_that_grew(void) {
    jnce_set_num_threads(8);
    int used = run(4096, 1, 0);
    CHECK(used == 8, "8 threads, 4096 items: %d slices (want 8; -1 is a wrong slice or item)", used);
    jnce_set_num_threads(2);
    used = run(4096, 1, threads());
    CHECK(used == 2, "after 8, 2 threads with max_slices 2: %d slices (want 2)", used);
    used = run(4096, 1, 0);
    CHECK(used == 2, "after 8, 2 threads without max_slices: %d slices (want 2)", used);
    jnce_set_num_threads(3);
    used = run(4096, 1, 0);
    CHECK(used == 3, "after 8, 3 threads: %d slices (want 3)", used);
    jnce_set_num_threads(8);
    used = run(4096, 1, 3);
    CHECK(used == 3, "8 threads, max_slices 3: %d slices (want 3)", used);
    used = run(10, 4, 0);
    CHECK(used == 2, "8 threads, 10 items of at least 4 per slice: %d slices (want 2)", used);
    used = run(1, 1, 0);
    CHECK(used == 1, "one item: %d slices (want 1)", used);
}

/* Counts above the pool's size are capped; below 1 mean every usable CPU. */
static void test_thread_counts(void) {
    jnce_set_num_threads(1000);
    CHECK(threads() == JNCE_MAX_THREADS, "set 1000: %d threads (want %d)", threads(), JNCE_MAX_THREADS);
    int used = run(1 << 14, 1, 0);
    CHECK(used == JNCE_MAX_THREADS, "%d threads: %d slices", JNCE_MAX_THREADS, used);
    jnce_set_num_threads(INT32_MAX);
    CHECK(threads() == JNCE_MAX_THREADS, "set INT32_MAX: %d threads (want %d)", threads(), JNCE_MAX_THREADS);
    jnce_set_num_threads(0);
    int32_t all = threads();
    CHECK(all >= 1 && all <= JNCE_MAX_THREADS, "set 0: %d threads", all);
    jnce_set_num_threads(-5);
    CHECK(threads() == all, "set -5: %d threads (want %d, as for 0)", threads(), all);
    jnce_set_num_threads(INT32_MIN);
    CHECK(threads() == all, "set INT32_MIN: %d threads (want %d)", threads(), all);
    CHECK(jnce_get_num_threads(NULL) == JNCE_ERR_INVALID_ARG, "get into NULL");
}

/* A job started from inside a slice runs serially in that slice's thread. */
static void nested(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    atomic_int *wrong = ctx;
    for (int64_t i = begin; i < end; i++)
        if (run(64, 1, 0) != 1) atomic_fetch_add(wrong, 1);
}

static void test_nested(void) {
    jnce_set_num_threads(4);
    atomic_int wrong = 0;
    jnce_parallel_for(16, 1, nested, &wrong);
    CHECK(atomic_load(&wrong) == 0, "%d nested jobs used more than one slice or ran an item wrongly", atomic_load(&wrong));
}

/* Callers size per-slice state by one read of the count while another thread keeps changing it. */
static atomic_int stop;

static void *change_threads(void *arg) {
    (void)arg;
    static const int32_t counts[] = {1, 2, 3, 5, 8, 64, 2, 1000, 0, -1, 4};
    for (int k = 0; !atomic_load(&stop); k++) jnce_set_num_threads(counts[k % (int)(sizeof counts / sizeof counts[0])]);
    return NULL;
}

static void *call_jobs(void *arg) {
    intptr_t wrong = 0;
    unsigned seed = (unsigned)(intptr_t)arg;
    for (int k = 0; k < 3000; k++) {
        int64_t n = 1 + rand_r(&seed) % 3000;
        int64_t min = 1 + rand_r(&seed) % 8;
        /* every third job through the small-job path: cold threshold above n, warm one 1 + min */
        if ((k % 3 == 0 ? run_small(n, 4096, 0, min) : run(n, min, threads())) < 0) wrong++;
    }
    return (void *)wrong;
}

static void test_count_changed_while_jobs_run(void) {
    pthread_t changer, callers[3];
    atomic_store(&stop, 0);
    pthread_create(&changer, NULL, change_threads, NULL);
    for (int c = 0; c < 3; c++) pthread_create(&callers[c], NULL, call_jobs, (void *)(intptr_t)(c + 1));
    intptr_t wrong = 0;
    for (int c = 0; c < 3; c++) {
        void *w;
        pthread_join(callers[c], &w);
        wrong += (intptr_t)w;
    }
    atomic_store(&stop, 1);
    pthread_join(changer, NULL);
    CHECK(wrong == 0, "%ld of 9000 jobs used a slice index >= max_slices or ran an item wrongly", (long)wrong);
}

/*
 * Small jobs: on one thread while the workers sleep; back to back, they wake the workers after
 * their work and then split across the still-spinning pool (unless JNCE_SPIN_US=0). Every item
 * runs once either way.
 */
static void test_small_jobs(void) {
    jnce_set_num_threads(2);
    const char *spin = getenv("JNCE_SPIN_US");
    int spinning = spin == NULL || atoi(spin) > 0;
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL); /* the workers are asleep after 100 us without a job */
    int used = run_small(4096, 1 << 20, 0, 16);
    CHECK(used == 1, "a small job after 20 ms idle: %d slices (want 1: no thread is woken for it)", used);
    int split = 0, wrong = 0;
    for (int k = 0; k < 2000; k++) {
        used = run_small(4096, 1 << 20, 0, 16);
        if (used < 0) wrong++;
        if (used == 2) split++;
    }
    CHECK(wrong == 0, "%d of 2000 back-to-back small jobs ran an item wrongly", wrong);
    if (spinning) CHECK(split > 0, "none of 2000 back-to-back small jobs split across the spinning workers");
    else CHECK(split == 0, "JNCE_SPIN_US=%s: %d small jobs split (want none)", spin, split);
    used = run_small(4096, 1 << 20, 0, 4096);
    CHECK(used == 1, "4096 items, at least 4096 a spinning thread: %d slices (want 1)", used);
    used = run_small(1 << 16, 1024, 0, 16);
    CHECK(used == 2, "65536 items, 1024 a thread on the cold path: %d slices (want 2)", used);
}

int main(void) {
    test_small_jobs();
    test_pool_that_grew();
    test_thread_counts();
    test_nested();
    test_count_changed_while_jobs_run();
    return finish("test_parallel");
}
