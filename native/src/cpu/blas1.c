/*
 * blas1.c - BLAS level-1 operations over whole float32 tensors, for the steps around the fused
 * kernels (d loss / d tau as a dot product, the MEAN scale of a gradient, sums and copies of
 * gradient blocks).
 *
 *   x, y (n) float32, contiguous; n >= 0 (0: nothing to do; the dot product is 0)
 *   dsdot:  *out = sum_i x_i y_i, in double: fixed slices of 32768 values each summed with 16
 *           partial sums (jnce_dot_row, the same order on every SIMD path), the slices' sums added in order, so the result does not
 *           depend on the thread count
 *   sscal:  x = alpha x        saxpy: y = y + alpha x        scopy: y = x        sfill: x = value
 *           (x and y of saxpy and scopy do not overlap); plain loops the compiler vectorises,
 *           spread over threads in slices of at least 32768 values: they are memory-bound, and
 *           unlike OpenBLAS's sscal, alpha = 0 keeps a NaN NaN.
 * Checked by native/test/test_blas1.c.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "similarity.h"

#define SLICE 32768

typedef struct {
    const float *x, *y;
    int64_t n;
    double *partial;
} dot_job;

static void dot_slices(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const dot_job *j = ctx;
    for (int64_t s = begin; s < end; s++) {
        int64_t from = s * SLICE, len = j->n - from < SLICE ? j->n - from : SLICE;
        j->partial[s] = jnce_dot_row(j->x + from, j->y + from, len);
    }
}

int32_t jnce_dsdot(const float *x, const float *y, int64_t n, double *out) {
    if (out == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "dsdot: null out");
    *out = 0.0;
    if (n < 0 || (n > 0 && (x == NULL || y == NULL)))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "dsdot: n=%lld with x=%p y=%p", (long long)n, (const void *)x, (const void *)y);
    if (n == 0) return JNCE_OK;
    int64_t slices = (n + SLICE - 1) / SLICE;
    double one, *partial = slices == 1 ? &one : malloc(sizeof(double) * (size_t)slices);
    if (partial == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "dsdot: out of memory for n=%lld", (long long)n);
    dot_job job = {x, y, n, partial};
    jnce_parallel_for(slices, 4, dot_slices, &job);
    double sum = 0.0;
    for (int64_t s = 0; s < slices; s++) sum += partial[s];
    if (partial != &one) free(partial);
    *out = sum;
    return JNCE_OK;
}

static int32_t check(const char *op, const void *x, const void *y, int64_t n) {
    if (n < 0 || (n > 0 && (x == NULL || y == NULL)))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: n=%lld with x=%p y=%p", op, (long long)n, x, y);
    return JNCE_OK;
}

typedef struct {
    const float *x;
    float *y;
    float alpha;
} map_job;

static void scal_range(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const map_job *j = ctx;
    float *restrict y = j->y;
    for (int64_t i = begin; i < end; i++) y[i] *= j->alpha;
}

static void axpy_range(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const map_job *j = ctx;
    const float *restrict x = j->x;
    float *restrict y = j->y;
    for (int64_t i = begin; i < end; i++) y[i] += j->alpha * x[i];
}

static void copy_range(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const map_job *j = ctx;
    memcpy(j->y + begin, j->x + begin, sizeof(float) * (size_t)(end - begin));
}

static void fill_range(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const map_job *j = ctx;
    for (int64_t i = begin; i < end; i++) j->y[i] = j->alpha;
}

int32_t jnce_sscal(int64_t n, float alpha, float *x) {
    int32_t s = check("sscal", x, x, n);
    map_job job = {NULL, x, alpha};
    if (s == JNCE_OK) jnce_parallel_for(n, SLICE, scal_range, &job);
    return s;
}

int32_t jnce_saxpy(int64_t n, float alpha, const float *x, float *y) {
    int32_t s = check("saxpy", x, y, n);
    map_job job = {x, y, alpha};
    if (s == JNCE_OK) jnce_parallel_for(n, SLICE, axpy_range, &job);
    return s;
}

int32_t jnce_scopy(int64_t n, const float *x, float *y) {
    int32_t s = check("scopy", x, y, n);
    map_job job = {x, y, 0.0f};
    if (s == JNCE_OK) jnce_parallel_for(n, SLICE, copy_range, &job);
    return s;
}

int32_t jnce_sfill(int64_t n, float value, float *x) {
    int32_t s = check("sfill", x, x, n);
    map_job job = {NULL, x, value};
    if (s == JNCE_OK) jnce_parallel_for(n, SLICE, fill_range, &job);
    return s;
}
