/*
 * internal.h - helpers shared by jnce's CPU sources; not part of the API (jnce.h is).
 */
#ifndef JNCE_INTERNAL_H
#define JNCE_INTERNAL_H

#include <stdint.h>
#include "jnce.h"

/*
 * The address `floats` floats past p, for a prefetch: formed in integers, because it may lie
 * past the end of p's buffer, which a prefetch may name (it never faults) but C pointer
 * arithmetic may not reach.
 */
static inline const char *jnce_ahead(const void *p, int64_t floats) {
    return (const char *)((uintptr_t)p + (uintptr_t)floats * sizeof(float));
}

/* Records a printf-style message for jnce_last_error() and returns status. */
int32_t jnce_fail(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The sum of N rows' losses in double, in row order (the same on any thread count). */
static inline double jnce_rows_total(const float *rows, int64_t N) {
    double total = 0.0;
    for (int64_t i = 0; i < N; i++) total += rows[i];
    return total;
}

/* Writes v as Java's Float.toString does ("-1.0", "1.5E-4", "NaN", "Infinity"), so that a value
 * named in a message reads the same from the C kernels and their Java twins. */
void jnce_format_float(char *buf, int64_t cap, float v);

/* The most threads jnce's own kernels use: the caller and 63 pool workers. */
#define JNCE_MAX_THREADS 64

/* Threads the kernels may use, 1 .. JNCE_MAX_THREADS. Another thread may change it at any time:
 * a kernel that sizes per-slice state reads it once and passes that as max_slices. */
int32_t jnce_threads(void);

/*
 * Runs fn over [0,n) split into contiguous slices, one per thread, which the caller and the
 * pool's workers claim (any thread may run any slice; each runs once).
 * Work smaller than min_per_thread items per thread runs on fewer threads. Calls that find
 * the pool busy (another thread's op, or a nested call) run serially in the caller.
 */
typedef void (*jnce_range_fn)(void *ctx, int64_t begin, int64_t end, int32_t slice);
void jnce_parallel_for(int64_t n, int64_t min_per_thread, jnce_range_fn fn, void *ctx);

/* The same with at most max_slices slices: every slice index is < max_slices, whatever the pool's
 * size and whatever the thread count is by then, for work that keeps per-slice state sized
 * before the call. */
void jnce_parallel_for_at_most(int64_t n, int64_t min_per_thread, int32_t max_slices, jnce_range_fn fn, void *ctx);

/* For kernels whose work is small enough that waking a sleeping thread costs more than it saves:
 * as jnce_parallel_for with min_per_thread, and where that would run on one thread, slices of at
 * least min_per_spinning_thread items when the pool's workers are still spinning from a recent
 * job (parallel.c). Calls that come back to back (within 1 ms) wake the workers after their
 * work, so that the next finds them spinning. */
void jnce_parallel_for_small(int64_t n, int64_t min_per_thread, int64_t min_per_spinning_thread, jnce_range_fn fn,
                             void *ctx);

/* The CPUs this process may run on (its affinity mask), asked once. */
int32_t jnce_usable_cpus(void);

/* For kernels that call BLAS from several of jnce's threads at once (small GEMMs a slice, as
 * attention.c's tiles): single = 1 makes OpenBLAS single-threaded, so that concurrent calls
 * neither queue on its thread server nor oversubscribe the cores; single = 0 gives it back the
 * count jnce_set_num_threads chose. OpenBLAS's count is global: another op running meanwhile
 * gets one BLAS thread, slower but right. */
void jnce_blas_single_threaded(int single);

/* 1 when the CPU has AVX2 and FMA and JNCE_SIMD is not "scalar". */
int jnce_use_avx2(void);
/* 1 on x86-64 CPUs with AVX-512F when the AVX2 paths run and JNCE_SIMD is not "avx2" (the 16-lane
 * tiles of attention.c). */
int jnce_use_avx512(void);

/* Results of at least this many bytes are written by streaming stores where an op offers them:
 * beyond the last-level cache of the machines measured, so that the op reading them next would
 * not find them there anyway, while their lines are not read for ownership first. */
#define JNCE_STREAM_BYTES (32.0 * 1024 * 1024)

/* An on/off switch from the environment, read once into *cache (which starts at -2): 1 when
 * the variable is "1", 0 when it holds anything else, -1 when it is unset or empty. */
int jnce_env_switch(const char *name, int *cache);

/* Softmax statistics of one row of C floats, read once (online max and sum). */
typedef struct {
    float max;    /* row maximum; -FLT_MAX for a row of only -inf */
    double sum;   /* sum of exp(x - max), accumulated in double */
    int bad;      /* the row holds NaN or +Inf */
} jnce_row_stats;
jnce_row_stats jnce_softmax_row_stats(const float *x, int64_t C);

/* jnce_cross_entropy_strided_fwd_bwd with int64 targets, no options, reduction NONE and no
 * gradient (the same code, so the same losses), giving each row's log-sum-exp in double
 * (cross_entropy.c; for xent_rows.c, whose G needs it to better than a float's rounding). */
int32_t jnce_xent_rows_lse(int64_t N, int64_t C, int64_t ld, const float *logits, const int64_t *targets, float *loss, double *lse);

/* out[j] = exp(x[j] - max) * scale for one row (AVX2 when available); out may alias x. */
void jnce_softmax_row_exp(const float *x, float *out, int64_t C, float max, float scale);

/* Element i of an index tensor (targets, labels, keys, a mask) whose type is JNCE_DTYPE_INT32 or JNCE_DTYPE_INT64. */
static inline int64_t jnce_target_at(const void *targets, int32_t dtype, int64_t i) {
    return dtype == JNCE_DTYPE_INT32 ? ((const int32_t *)targets)[i] : ((const int64_t *)targets)[i];
}

/* An index and its label, ordered by label, then by index, with qsort(..., jnce_by_label). */
typedef struct {
    int64_t label, index;
} jnce_labelled;

static inline int jnce_by_label(const void *a, const void *b) {
    const jnce_labelled *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

#endif
