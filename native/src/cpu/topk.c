/*
 * topk.c - per row of a score matrix, the K highest-scoring columns, leaving out the row's
 * excluded columns (a recommender's training items): the selection behind Recall@K and NDCG@K.
 *
 *   scores           (N,M) float32
 *   exclude_offsets  (N+1) int64 or NULL; exclude_items int32: row i leaves out
 *                    exclude_items[exclude_offsets[i] .. exclude_offsets[i+1]), each in [0,M)
 *   indices          (N,K) int64, by decreasing score, ties by lower column index
 *   values           (N,K) float32 or NULL: the scores of those columns
 *
 * Per row a min-heap of the K best kept so far (root: the worst); once it is full, a column
 * enters only if its score exceeds the root's, so nearly every score costs one compare (8 at a
 * time with AVX2) and the (N,M) row is never sorted: O(M + K log K log M) per row. Exclusions
 * are marked in a byte map of M per thread, set and cleared per row, and looked up only for
 * the few columns that pass the compare. A row with fewer than K columns left pads with index
 * -1 and score -Inf. NaN among a row's columns is reported (nan_row), not ranked. Rows run in
 * parallel. Checked by native/test/test_topk.c.
 */
#include "x86_simd.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    const float *scores;
    int64_t M, K;
    const int64_t *offsets;
    const int32_t *items;
    int64_t *indices;
    float *values;
    int64_t *nan_row;    /* [slices] first NaN row seen by each slice, INT64_MAX when none */
    int64_t *heap_keys;  /* [slices][K] */
    float *heap_values;  /* [slices][K] */
    unsigned char *mark; /* [slices][M] zero between rows */
} topk_job;

/* Column (a, va) ranks below (b, vb): lower score, or equal and higher index. */
static inline int worse(float va, int64_t a, float vb, int64_t b) {
    return va < vb || (va == vb && a > b);
}

/* Restores the heap (worst at the root) below position at. */
static void sift_down(int64_t *key, float *val, int64_t size, int64_t at) {
    for (;;) {
        int64_t child = 2 * at + 1;
        if (child >= size) return;
        if (child + 1 < size && worse(val[child + 1], key[child + 1], val[child], key[child])) child++;
        if (!worse(val[child], key[child], val[at], key[at])) return;
        int64_t k = key[at];
        float v = val[at];
        key[at] = key[child], val[at] = val[child];
        key[child] = k, val[child] = v;
        at = child;
    }
}

static void sift_up(int64_t *key, float *val, int64_t at) {
    while (at > 0) {
        int64_t parent = (at - 1) / 2;
        if (!worse(val[at], key[at], val[parent], key[parent])) return;
        int64_t k = key[at];
        float v = val[at];
        key[at] = key[parent], val[at] = val[parent];
        key[parent] = k, val[parent] = v;
        at = parent;
    }
}

/* The first column at or after j whose score exceeds thr or is NaN (M when none). */
static int64_t next_candidate_scalar(const float *s, int64_t j, int64_t M, float thr) {
    for (; j < M; j++)
        if (!(s[j] <= thr)) return j;
    return M;
}

JNCE_TARGET_AVX2 static int64_t next_candidate_avx2(const float *s, int64_t j, int64_t M, float thr) {
    const __m256 t = _mm256_set1_ps(thr);
    for (; j + 32 <= M; j += 32) { /* four vectors a step: one branch per 32 scores */
        __m256 a = _mm256_cmp_ps(_mm256_loadu_ps(s + j), t, _CMP_NLE_UQ); /* > thr, or NaN */
        __m256 b = _mm256_cmp_ps(_mm256_loadu_ps(s + j + 8), t, _CMP_NLE_UQ);
        __m256 c = _mm256_cmp_ps(_mm256_loadu_ps(s + j + 16), t, _CMP_NLE_UQ);
        __m256 d = _mm256_cmp_ps(_mm256_loadu_ps(s + j + 24), t, _CMP_NLE_UQ);
        if (_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(a, b), _mm256_or_ps(c, d))) != 0) break;
    }
    for (; j + 8 <= M; j += 8) {
        int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), t, _CMP_NLE_UQ));
        if (bits != 0) return j + __builtin_ctz((unsigned)bits);
    }
    return next_candidate_scalar(s, j, M, thr);
}

/* Row i into its (K) indices and values; returns 1 when the row holds NaN (nothing written). */
static int topk_row(const topk_job *job, int64_t i, int64_t *key, float *val, unsigned char *mark) {
    const float *s = job->scores + i * job->M;
    const int64_t M = job->M, K = job->K;
    const int avx2 = jnce_use_avx2();
    int64_t from = 0, to = 0;
    if (job->offsets != NULL) {
        from = job->offsets[i], to = job->offsets[i + 1];
        for (int64_t e = from; e < to; e++) mark[job->items[e]] = 1;
    }
    int64_t size = 0, j = 0;
    int nan = 0;
    for (; j < M && size < K; j++) { /* every column until K are kept */
        if (mark[j]) continue;
        if (isnan(s[j])) { nan = 1; break; }
        key[size] = j, val[size] = s[j];
        sift_up(key, val, size++);
    }
    while (!nan && size == K && j < M) { /* then only those above the worst kept (ties lose: higher index) */
        j = avx2 ? next_candidate_avx2(s, j, M, val[0]) : next_candidate_scalar(s, j, M, val[0]);
        if (j == M) break;
        if (!mark[j]) {
            if (isnan(s[j])) { nan = 1; break; }
            key[0] = j, val[0] = s[j];
            sift_down(key, val, K, 0);
        }
        j++;
    }
    for (int64_t e = from; e < to; e++) mark[job->items[e]] = 0;
    if (nan) return 1;
    for (int64_t end = size - 1; end > 0; end--) { /* heap sort: the worst goes to the end, best first */
        int64_t k = key[0];
        float v = val[0];
        key[0] = key[end], val[0] = val[end];
        key[end] = k, val[end] = v;
        sift_down(key, val, end, 0);
    }
    int64_t *out = job->indices + i * K;
    float *out_values = job->values == NULL ? NULL : job->values + i * K;
    for (int64_t k = 0; k < K; k++) {
        out[k] = k < size ? key[k] : -1;
        if (out_values != NULL) out_values[k] = k < size ? val[k] : -INFINITY;
    }
    return 0;
}

static void topk_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    const topk_job *job = ctx;
    int64_t *key = job->heap_keys + (int64_t)slice * job->K;
    float *val = job->heap_values + (int64_t)slice * job->K;
    unsigned char *mark = job->mark + (int64_t)slice * job->M;
    for (int64_t i = begin; i < end; i++) {
        if (topk_row(job, i, key, val, mark)) {
            job->nan_row[slice] = i; /* slices are contiguous ranges: the first one seen is this slice's first */
            return;
        }
    }
}

int32_t jnce_topk(const float *scores, int64_t N, int64_t M, int64_t K, const int64_t *exclude_offsets,
                  const int32_t *exclude_items, int64_t *indices, float *values, int64_t *nan_row) {
    if (scores == NULL || nan_row == NULL || (indices == NULL && K > 0))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "topk: scores, indices and nan_row must be non-null");
    if (N < 0 || M <= 0 || K < 0)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "topk: N=%lld, M=%lld, K=%lld: need N >= 0, M >= 1 and K >= 0",
                         (long long)N, (long long)M, (long long)K);
    if (exclude_offsets != NULL && exclude_items == NULL && exclude_offsets[N] > exclude_offsets[0])
        return jnce_fail(JNCE_ERR_INVALID_ARG, "topk: exclude_offsets given without exclude_items");
    *nan_row = -1;
    if (K == 0 || N == 0) return JNCE_OK;

    const int32_t slices = jnce_threads();
    int64_t *heap_keys = malloc((size_t)slices * (size_t)K * sizeof(int64_t));
    float *heap_values = malloc((size_t)slices * (size_t)K * sizeof(float));
    unsigned char *mark = calloc((size_t)slices * (size_t)M, 1);
    int64_t first_nan[JNCE_MAX_THREADS];
    if (heap_keys == NULL || heap_values == NULL || mark == NULL) {
        free(heap_keys), free(heap_values), free(mark);
        return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "topk: no memory for K=%lld, M=%lld", (long long)K, (long long)M);
    }
    for (int32_t s = 0; s < slices; s++) first_nan[s] = INT64_MAX;
    topk_job job = {scores, M, K, exclude_offsets, exclude_items, indices, values, first_nan, heap_keys, heap_values, mark};
    jnce_parallel_for_at_most(N, M >= 16384 ? 1 : 16384 / M, slices, topk_rows, &job);
    for (int32_t s = 0; s < slices; s++)
        if (first_nan[s] != INT64_MAX && (*nan_row < 0 || first_nan[s] < *nan_row)) *nan_row = first_nan[s];
    free(heap_keys), free(heap_values), free(mark);
    return JNCE_OK;
}
