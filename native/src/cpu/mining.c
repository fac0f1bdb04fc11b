/*
 * mining.c - hard-negative mining: per query, the K most similar keys that are not positives.
 *
 *   sim           (N,M) float32 similarities (query i, key j)
 *   query_labels  (N), key_labels (M) int32|int64: same label = positive; or
 *   mask          (N,M) int32|int64: nonzero = positive; or neither: key i is query i's positive
 *   indices       (N,K) int64, by decreasing similarity, ties by lower key index
 *
 * Per row a binary min-heap of the K best candidates so far (root: the worst kept), then a
 * heap sort of those K: O(M log K). NaN in sim, or a row with fewer than K negatives, fails
 * the call naming the row. Rows run in parallel. Checked by native/test/test_mining.c.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

typedef struct {
    const float *sim;
    int64_t M, K;
    const void *ql, *kl, *mask;
    int32_t q_dtype, k_dtype, mask_dtype;
    int64_t *indices;
} mining_job;

static int64_t load_index(const void *base, int32_t dtype, int64_t i) {
    return dtype == JNCE_DTYPE_INT32 ? ((const int32_t *)base)[i] : ((const int64_t *)base)[i];
}

static int is_positive(const mining_job *job, int64_t i, int64_t j) {
    if (job->ql != NULL) return load_index(job->ql, job->q_dtype, i) == load_index(job->kl, job->k_dtype, j);
    if (job->mask != NULL) return load_index(job->mask, job->mask_dtype, i * job->M + j) != 0;
    return i == j;
}

/* Key j ranks above key k in row s: higher similarity, or equal and lower index. */
static int better(const float *s, int64_t j, int64_t k) {
    return s[j] > s[k] || (s[j] == s[k] && j < k);
}

/* Restores the min-heap (worst at the root) below position at. */
static void sift_down(int64_t *heap, int64_t size, int64_t at, const float *s) {
    for (;;) {
        int64_t child = 2 * at + 1;
        if (child >= size) return;
        if (child + 1 < size && better(s, heap[child], heap[child + 1])) child++;
        if (!better(s, heap[at], heap[child])) return;
        int64_t t = heap[at];
        heap[at] = heap[child];
        heap[child] = t;
        at = child;
    }
}

/* Returns 0, or -1 - (number of negatives) when the row has fewer than K, or -2^62 on NaN. */
static int64_t mine_row(const mining_job *job, int64_t i) {
    const float *s = job->sim + i * job->M;
    int64_t *heap = job->indices + i * job->K, size = 0, negatives = 0;
    for (int64_t j = 0; j < job->M; j++) {
        if (isnan(s[j])) return INT64_MIN / 2;
        if (is_positive(job, i, j)) continue;
        negatives++;
        if (size < job->K) {
            heap[size] = j;
            for (int64_t at = size++; at > 0 && better(s, heap[(at - 1) / 2], heap[at]); at = (at - 1) / 2) {
                int64_t t = heap[at];
                heap[at] = heap[(at - 1) / 2];
                heap[(at - 1) / 2] = t;
            }
        } else if (better(s, j, heap[0])) {
            heap[0] = j;
            sift_down(heap, size, 0, s);
        }
    }
    if (negatives < job->K) return -1 - negatives;
    /* Heap sort: moving the worst to the end leaves the best first. */
    for (int64_t end = size - 1; end > 0; end--) {
        int64_t t = heap[0];
        heap[0] = heap[end];
        heap[end] = t;
        sift_down(heap, end, 0, s);
    }
    return 0;
}

typedef struct {
    const mining_job *job;
    int64_t *row_status; /* (N) */
} mining_ctx;

static void mining_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const mining_ctx *c = ctx;
    for (int64_t i = begin; i < end; i++) c->row_status[i] = mine_row(c->job, i);
}

static int valid_dtype(int32_t d) {
    return d == JNCE_DTYPE_INT32 || d == JNCE_DTYPE_INT64;
}

int32_t jnce_hard_negatives(const float *sim, int64_t N, int64_t M, int64_t K, const void *query_labels,
                            int32_t query_dtype, const void *key_labels, int32_t key_dtype, const void *mask,
                            int32_t mask_dtype, int64_t *indices) {
    if (sim == NULL || (indices == NULL && K > 0))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: sim and indices must be non-null");
    if (N <= 0 || M <= 0 || K < 0 || K > M)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: N=%lld, M=%lld, K=%lld: need N, M >= 1 and 0 <= K <= M",
                         (long long)N, (long long)M, (long long)K);
    if ((query_labels == NULL) != (key_labels == NULL))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: give both query and key labels, or neither");
    if ((query_labels != NULL && (!valid_dtype(query_dtype) || !valid_dtype(key_dtype))) ||
        (mask != NULL && !valid_dtype(mask_dtype)))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: label and mask types must be int32 or int64");
    if (K == 0) return JNCE_OK;

    int64_t *row_status = malloc((size_t)N * sizeof(int64_t));
    if (row_status == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "hard_negatives: no memory for %lld rows", (long long)N);
    mining_job job = {sim, M, K, query_labels, key_labels, mask, query_dtype, key_dtype, mask_dtype, indices};
    mining_ctx ctx = {&job, row_status};
    jnce_parallel_for(N, M >= 16384 ? 1 : 16384 / M, mining_rows, &ctx);
    int32_t rc = JNCE_OK;
    for (int64_t i = 0; i < N && rc == JNCE_OK; i++) {
        if (row_status[i] == INT64_MIN / 2)
            rc = jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: sim row %lld holds NaN", (long long)i);
        else if (row_status[i] < 0)
            rc = jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: row %lld has %lld negatives, fewer than K=%lld",
                           (long long)i, (long long)(-1 - row_status[i]), (long long)K);
    }
    free(row_status);
    return rc;
}
