/*
 * gather_rows.c - rows of a matrix picked by index (explicit negatives from mined indices,
 * keys[indices] in PyTorch), and its gradient, a scatter-add (index_add_ on dim 0).
 *
 *   src      (M,D) float32
 *   indices  (R) int32|int64, every one in [0,M)  (R = N*K for mined indices (N,K))
 *   out      (R,D) float32:  out[r] = src[indices[r]]
 *   grad     (R,D) float32;  dst (M,D) float32:  dst[indices[r]] += grad[r], r in increasing order
 *
 * Every index is checked before anything is written. The forward copies rows in parallel; the
 * backward splits the columns among threads, so that each element still receives its additions
 * in increasing r (float32 sums in a fixed order: the same result on any thread count).
 * Checked by native/test/test_gather_rows.c.
 */
#include <string.h>

#include "internal.h"

/* The first r whose index is outside [0,M), or -1. */
static int64_t first_outside(const void *indices, int32_t dtype, int64_t R, int64_t M) {
    for (int64_t r = 0; r < R; r++) {
        int64_t key = jnce_target_at(indices, dtype, r);
        if (key < 0 || key >= M) return r;
    }
    return -1;
}

static int32_t check_args(const char *op, const float *a, const void *indices, int32_t dtype, int64_t R, int64_t M,
                          int64_t D, const float *b) {
    if (R < 0 || M <= 0 || D <= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: R=%lld, M=%lld, D=%lld: need R >= 0 and M, D >= 1", op, (long long)R,
                         (long long)M, (long long)D);
    if (dtype != JNCE_DTYPE_INT32 && dtype != JNCE_DTYPE_INT64)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: index type must be int32 or int64, got %d", op, dtype);
    if (R > 0 && (a == NULL || indices == NULL || b == NULL))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: buffers must be non-null", op);
    int64_t bad = R > 0 ? first_outside(indices, dtype, R, M) : -1;
    if (bad >= 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: indices[%lld] = %lld is outside [0, %lld)", op, (long long)bad,
                         (long long)jnce_target_at(indices, dtype, bad), (long long)M);
    return JNCE_OK;
}

typedef struct {
    const float *src;
    const void *indices;
    int32_t dtype;
    int64_t D;
    float *out;
} gather_job;

static void gather_range(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const gather_job *job = ctx;
    const int64_t D = job->D;
    for (int64_t r = begin; r < end; r++)
        memcpy(job->out + r * D, job->src + jnce_target_at(job->indices, job->dtype, r) * D, (size_t)D * sizeof(float));
}

int32_t jnce_gather_rows_fwd(const float *src, int64_t M, int64_t D, const void *indices, int32_t index_dtype,
                             int64_t R, float *out) {
    int32_t rc = check_args("gather_rows_fwd", src, indices, index_dtype, R, M, D, out);
    if (rc != JNCE_OK || R == 0) return rc;
    gather_job job = {src, indices, index_dtype, D, out};
    jnce_parallel_for(R, D >= 32768 ? 1 : 32768 / D, gather_range, &job);
    return JNCE_OK;
}

typedef struct {
    const float *grad;
    const void *indices;
    int32_t dtype;
    int64_t R, D;
    float *dst;
} scatter_job;

/* Columns [begin, end) of every row, rows in increasing r. */
static void scatter_columns(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const scatter_job *job = ctx;
    const int64_t D = job->D;
    for (int64_t r = 0; r < job->R; r++) {
        const float *g = job->grad + r * D;
        float *d = job->dst + jnce_target_at(job->indices, job->dtype, r) * D;
        for (int64_t j = begin; j < end; j++) d[j] += g[j];
    }
}

int32_t jnce_gather_rows_bwd(const float *grad, const void *indices, int32_t index_dtype, int64_t R, int64_t M,
                             int64_t D, float *dst) {
    int32_t rc = check_args("gather_rows_bwd", grad, indices, index_dtype, R, M, D, dst);
    if (rc != JNCE_OK || R == 0) return rc;
    scatter_job job = {grad, indices, index_dtype, R, D, dst};
    /* a slice of at least 16 columns (whole cache lines) and some 32k additions */
    int64_t columns = 32768 / R;
    jnce_parallel_for(D, columns < 16 ? 16 : columns, scatter_columns, &job);
    return JNCE_OK;
}
