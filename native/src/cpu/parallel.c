/*
 * parallel.c - a small persistent pthread pool for row-parallel kernels.
 *
 * jnce does not use OpenMP so that the shared library needs nothing beyond libc, libm,
 * pthreads and OpenBLAS. One job runs at a time; a caller that finds the pool busy runs its
 * work serially, which also makes nested calls safe.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define MAX_WORKERS (JNCE_MAX_THREADS - 1) /* the caller is the other thread */

/*
 * Hand-off. The caller and the workers claim a job's slices from one counter (ticket below), so
 * the caller runs whatever no worker has taken: a call never waits for a sleeping thread to wake,
 * only for slices already started. A worker that finds no job, and the caller waiting for
 * started slices, first spin for up to spin_ns() (JNCE_SPIN_US microseconds, default 100; 0
 * never spins), then sleep on a condition variable. Waking a sleeping thread costs 20-50 us on a
 * virtual machine, more than a small kernel's whole work; back-to-back calls find the workers
 * still spinning and start them in well under a microsecond. OpenMP runtimes do the same
 * (GOMP_SPINCOUNT, KMP_BLOCKTIME). With more threads than usable CPUs nothing spins.
 *
 * A thread about to sleep counts itself under state_lock and checks its condition again there;
 * the other side, after changing the condition, reads that count and signals under the same
 * lock, so no wake-up is lost. Each side's write and then read go through handshake_fence():
 * sequentially consistent stores and loads alone already order them in C11 and on hardware,
 * but qemu-user 7.2 runs an aarch64 STLR followed by an LDAR on an x86-64 host with no barrier
 * between them, so the load could pass the store, both sides read the old value, and a caller
 * slept forever on job_done (test_parallel under qemu-aarch64: about one run in 300; a
 * store-buffering litmus of two seq_cst stores and loads gave the forbidden 0, 0 in 36 of 10^6
 * tries there, none with the fence).
 */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;   /* held by the running job */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER; /* guards workers_started; the sleeps */
static pthread_cond_t job_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static int32_t workers_started;
static int32_t workers_asleep;  /* atomic: workers waiting on job_ready */
static int32_t caller_asleep;   /* atomic: 1 while the caller waits on job_done */
static int32_t unfinished;      /* atomic: claimed-or-not slices of the running job not yet done */
/* atomic: job generation << 32 | the next unclaimed slice. A thread claims slice i of job g by
 * moving the ticket from (g, i) to (g, i + 1); a job's descriptor is jobs[g & 1], so the caller
 * writes job g + 1's while a late thread may still read job g's, and a claim succeeds only while
 * its job is current. */
static uint64_t ticket;
static int64_t last_job_end; /* atomic: now_ns() when the last job through the pool ended */
typedef struct {
    jnce_range_fn fn;
    void *ctx;
    int64_t n;
    int32_t slices; /* atomic */
} job_desc;
static job_desc jobs[2];

/* A full barrier between a handshake's store and its load (dmb ish): see above. On x86-64 the
 * seq_cst store (xchg) and read-modify-write (lock) before it are full barriers already, and an
 * mfence more cost two-slice jobs of 1.2-1.3 us 1-18% (ad-hoc), so none is added there. */
static inline void handshake_fence(void) {
#if !defined(__x86_64__) && !defined(__i386__)
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* How long to spin before sleeping, in ns: JNCE_SPIN_US once read, 0 with more threads than CPUs. */
static int64_t spin_ns(void) {
    static int64_t cached = -1;
    int64_t ns = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (ns < 0) {
        const char *env = getenv("JNCE_SPIN_US");
        long us = 100;
        if (env != NULL && *env != '\0') {
            char *end;
            long v = strtol(env, &end, 10);
            if (*end == '\0' && v >= 0 && v <= 1000000) us = v;
        }
        ns = (int64_t)us * 1000;
        __atomic_store_n(&cached, ns, __ATOMIC_RELAXED);
    }
    return jnce_threads() <= jnce_usable_cpus() ? ns : 0;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/*
 * One step of a spin of budget ns (*deadline 0 at its start): a pause for the first 256 steps
 * (a few microseconds), then sched_yield, so that a spinning thread gives its core to any other
 * thread that wants it (OpenBLAS's, the JVM's) instead of holding it for the whole budget.
 * Returns 0 once the budget has passed.
 */
static inline int spin_step(uint32_t i, int64_t budget, int64_t *deadline) {
    if (i < 256) cpu_relax();
    else sched_yield();
    if ((i & 15) == 15) {
        int64_t t = now_ns();
        if (*deadline == 0) *deadline = t + budget;
        else if (t >= *deadline) return 0;
    }
    return 1;
}

/* Spins until the ticket's generation differs from gen (returns 1) or spin_ns() passes (0). */
static int spin_until_gen_changed(uint32_t gen) {
    const int64_t budget = spin_ns();
    if (budget <= 0) return 0;
    int64_t deadline = 0;
    for (uint32_t i = 0;; i++) {
        if ((uint32_t)(__atomic_load_n(&ticket, __ATOMIC_ACQUIRE) >> 32) != gen) return 1;
        if (!spin_step(i, budget, &deadline)) return 0;
    }
}

/* Spins until *word is 0 (returns 1) or spin_ns() passes (0). */
static int spin_until_zero32(const int32_t *word) {
    const int64_t budget = spin_ns();
    if (budget <= 0) return 0;
    int64_t deadline = 0;
    for (uint32_t i = 0;; i++) {
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0) return 1;
        if (!spin_step(i, budget, &deadline)) return 0;
    }
}

/* Claims and runs slices of the job whose ticket t was read, until none is left or another
 * job is current. The last slice done wakes a sleeping caller. */
static void run_claims(uint64_t t) {
    const uint32_t gen = (uint32_t)(t >> 32);
    const job_desc *d = &jobs[gen & 1];
    for (;;) {
        uint32_t slice = (uint32_t)t;
        if ((int64_t)slice >= (int64_t)__atomic_load_n(&d->slices, __ATOMIC_RELAXED)) return;
        if (!__atomic_compare_exchange_n(&ticket, &t, t + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            if ((uint32_t)(t >> 32) != gen) return;
            continue;
        }
        int64_t begin = d->n * slice / d->slices, end = d->n * (slice + 1) / d->slices;
        if (begin < end) d->fn(d->ctx, begin, end, (int32_t)slice);
        if (__atomic_sub_fetch(&unfinished, 1, __ATOMIC_SEQ_CST) == 0) {
            handshake_fence();
            if (__atomic_load_n(&caller_asleep, __ATOMIC_SEQ_CST)) {
                pthread_mutex_lock(&state_lock);
                pthread_cond_signal(&job_done);
                pthread_mutex_unlock(&state_lock);
            }
        }
        t++;
    }
}

static int ticket_gen_is(uint32_t gen) {
    return (uint32_t)(__atomic_load_n(&ticket, __ATOMIC_SEQ_CST) >> 32) == gen;
}

static void *worker_main(void *arg) {
    (void)arg;
    uint32_t seen = 0;
    for (;;) {
        if (!spin_until_gen_changed(seen)) {
            pthread_mutex_lock(&state_lock);
            __atomic_add_fetch(&workers_asleep, 1, __ATOMIC_SEQ_CST);
            handshake_fence();
            while (ticket_gen_is(seen)) pthread_cond_wait(&job_ready, &state_lock);
            __atomic_sub_fetch(&workers_asleep, 1, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&state_lock);
        }
        uint64_t t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
        seen = (uint32_t)(t >> 32);
        run_claims(t);
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

/* Runs fn over [0, n) in slices across the caller and the pool (job_lock held by the caller).
 * wake: whether to wake sleeping workers for it. */
static void run_job(int64_t n, int32_t want, int wake, jnce_range_fn fn, void *ctx) {
    pthread_mutex_lock(&state_lock);
    /* up to slices-1 workers take part; those a larger count once started stay idle */
    int32_t workers = ensure_workers(want - 1);
    pthread_mutex_unlock(&state_lock);
    int32_t slices = workers < want - 1 ? 1 + workers : want;
    /* the caller claims slices as the workers do: a worker still asleep when the caller has run
     * them all finds none left, so a call never waits for a thread to wake */
    const uint32_t gen = (uint32_t)(__atomic_load_n(&ticket, __ATOMIC_RELAXED) >> 32) + 1;
    job_desc *d = &jobs[gen & 1];
    d->fn = fn;
    d->ctx = ctx;
    d->n = n;
    __atomic_store_n(&d->slices, slices, __ATOMIC_RELAXED);
    __atomic_store_n(&unfinished, slices, __ATOMIC_SEQ_CST);
    const uint64_t t = (uint64_t)gen << 32;
    __atomic_store_n(&ticket, t, __ATOMIC_SEQ_CST);
    handshake_fence();
    if (wake && __atomic_load_n(&workers_asleep, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&state_lock);
        pthread_cond_broadcast(&job_ready);
        pthread_mutex_unlock(&state_lock);
    }

    run_claims(t);

    if (!spin_until_zero32(&unfinished)) {
        pthread_mutex_lock(&state_lock);
        __atomic_store_n(&caller_asleep, 1, __ATOMIC_SEQ_CST);
        handshake_fence();
        while (__atomic_load_n(&unfinished, __ATOMIC_SEQ_CST) > 0) pthread_cond_wait(&job_done, &state_lock);
        __atomic_store_n(&caller_asleep, 0, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&state_lock);
    }
}

static int32_t wanted(int64_t n, int64_t min_per_thread, int32_t max_slices) {
    int64_t by_work = min_per_thread > 0 ? n / min_per_thread : n;
    int64_t want = jnce_threads();
    if (by_work < want) want = by_work;
    if (max_slices < want) want = max_slices;
    return (int32_t)want;
}

void jnce_parallel_for_at_most(int64_t n, int64_t min_per_thread, int32_t max_slices, jnce_range_fn fn, void *ctx) {
    if (n <= 0) return;
    int32_t want = wanted(n, min_per_thread, max_slices);
    if (want <= 1 || pthread_mutex_trylock(&job_lock) != 0) {
        fn(ctx, 0, n, 0);
        return;
    }
    run_job(n, want, 1, fn, ctx);
    __atomic_store_n(&last_job_end, now_ns(), __ATOMIC_RELAXED);
    pthread_mutex_unlock(&job_lock);
}

void jnce_parallel_for_small(int64_t n, int64_t min_per_thread, int64_t min_per_spinning_thread, jnce_range_fn fn,
                             void *ctx) {
    if (n <= 0) return;
    if (wanted(n, min_per_thread, INT32_MAX) > 1) {
        jnce_parallel_for_at_most(n, min_per_thread, INT32_MAX, fn, ctx);
        return;
    }
    int32_t want = wanted(n, min_per_spinning_thread, INT32_MAX);
    if (want <= 1 || spin_ns() <= 0 || pthread_mutex_trylock(&job_lock) != 0) {
        fn(ctx, 0, n, 0);
        return;
    }
    const int64_t start = now_ns();
    if (__atomic_load_n(&workers_asleep, __ATOMIC_SEQ_CST) == 0 && __atomic_load_n(&workers_started, __ATOMIC_RELAXED) > 0) {
        run_job(n, want, 0, fn, ctx); /* a worker that fell asleep meanwhile leaves its slices to the caller */
    } else {
        fn(ctx, 0, n, 0);
        /* calls coming back to back: wake the workers now, after this call's work, so that the
         * next finds them spinning */
        if (start - __atomic_load_n(&last_job_end, __ATOMIC_RELAXED) < 1000000) {
            pthread_mutex_lock(&state_lock);
            ensure_workers(want - 1);
            pthread_mutex_unlock(&state_lock);
            const uint32_t gen = (uint32_t)(__atomic_load_n(&ticket, __ATOMIC_RELAXED) >> 32) + 1;
            __atomic_store_n(&jobs[gen & 1].slices, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&ticket, (uint64_t)gen << 32, __ATOMIC_SEQ_CST);
            pthread_mutex_lock(&state_lock);
            pthread_cond_broadcast(&job_ready);
            pthread_mutex_unlock(&state_lock);
        }
    }
    __atomic_store_n(&last_job_end, now_ns(), __ATOMIC_RELAXED);
    pthread_mutex_unlock(&job_lock);
}
