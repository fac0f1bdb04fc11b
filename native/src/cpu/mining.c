/*
 * mining.c - hard-negative mining: per query, the K most similar keys that are not positives.
 *
 *   sim           (N,M) float32 similarities (query i, key j)
 *   query_labels  (N), key_labels (M) int32|int64: same label = positive; or
 *   mask          (N,M) int32|int64: nonzero = positive; or neither: key i is query i's positive
 *   indices       (N,K) int64, by decreasing similarity, ties by lower key index
 *
 * Per row, candidates collect in a buffer of 2K: every negative at first, then only keys above
 * the K-th best kept so far, which is nearly none of them (one compare each, 8 at a time with
 * AVX2); each time the buffer fills, a quickselect keeps the best K. The K are then heap-sorted:
 * O(M + K log K) for most rows. NaN in sim fails the call naming the row. A row with fewer
 * than K negatives is found on the way (it never fills the buffer, so every negative was
 * counted): reported in short_row, or a failure naming the row when short_row is NULL; the
 * caller needs no counting pass of its own. Rows run in parallel. Checked by
 * native/test/test_mining.c.
 */
#include "x86_simd.h"
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

static int is_positive(const mining_job *job, int64_t i, int64_t j) {
    if (job->ql != NULL) return jnce_target_at(job->ql, job->q_dtype, i) == jnce_target_at(job->kl, job->k_dtype, j);
    if (job->mask != NULL) return jnce_target_at(job->mask, job->mask_dtype, i * job->M + j) != 0;
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

/*
 * After K are kept, the first key at or after j whose similarity exceeds thr or is NaN (M when
 * none): scanned in increasing j, a key that only ties the worst kept one never beats it (its
 * index is higher), so "exceeds" is the whole test.
 */
static int64_t next_candidate_scalar(const float *s, int64_t j, int64_t M, float thr) {
    for (; j < M; j++)
        if (!(s[j] <= thr)) return j;
    return M;
}

JNCE_TARGET_AVX2 static int64_t next_candidate_avx2(const float *s, int64_t j, int64_t M, float thr) {
    const __m256 t = _mm256_set1_ps(thr);
    for (; j + 8 <= M; j += 8) {
        int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), t, _CMP_NLE_UQ)); /* > thr, or NaN */
        if (bits != 0) return j + __builtin_ctz((unsigned)bits);
    }
    return next_candidate_scalar(s, j, M, thr);
}

/* Candidates: keys and their similarities side by side, so that selection reads no row. */
typedef struct {
    int64_t *key;
    float *value;
} candidates;

static inline int ahead(const candidates *c, int64_t x, int64_t y) { /* better(), on the copies */
    return c->value[x] > c->value[y] || (c->value[x] == c->value[y] && c->key[x] < c->key[y]);
}

static inline void swap_candidates(const candidates *c, int64_t x, int64_t y) {
    int64_t k = c->key[x];
    float v = c->value[x];
    c->key[x] = c->key[y], c->value[x] = c->value[y];
    c->key[y] = k, c->value[y] = v;
}

/* Reorders c[0..n) so that c[K-1] is the K-th best candidate and c[0..K-1) the better ones: quickselect. */
static void select_best(const candidates *c, int64_t n, int64_t K) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2; /* median of three as pivot, moved to hi */
        if (ahead(c, mid, lo)) swap_candidates(c, mid, lo);
        if (ahead(c, hi, lo)) swap_candidates(c, hi, lo);
        if (ahead(c, mid, hi)) swap_candidates(c, mid, hi);
        int64_t store = lo;
        for (int64_t x = lo; x < hi; x++)
            if (ahead(c, x, hi)) swap_candidates(c, x, store++);
        swap_candidates(c, store, hi);
        if (store == K - 1) return;
        if (store > K - 1) hi = store - 1;
        else lo = store + 1;
    }
}

/*
 * Row i's K best negatives into out, best first. Candidates collect in cand (2K): every negative
 * until 2K are held, then only keys above the K-th best kept so far; each time cand fills, a
 * quickselect keeps the best K. Returns 0, or -1 - (number of negatives) when the row has fewer
 * than K, or -2^62 on NaN.
 */
static int64_t mine_row(const mining_job *job, int64_t i, const candidates *c) {
    const float *s = job->sim + i * job->M;
    const int64_t M = job->M, K = job->K;
    const int avx2 = jnce_use_avx2();
    int64_t size = 0;
    int selected = 0;
    float kth = 0.0f; /* the K-th best similarity kept, once a selection ran */
    for (int64_t j = 0; j < M; j++) {
        if (selected) { /* most keys fall at or below the K-th best and cost one compare (8 at a time with AVX2) */
            j = avx2 ? next_candidate_avx2(s, j, M, kth) : next_candidate_scalar(s, j, M, kth);
            if (j == M) break;
        }
        if (isnan(s[j])) return INT64_MIN / 2;
        if (is_positive(job, i, j)) continue;
        c->key[size] = j, c->value[size++] = s[j];
        if (size == 2 * K) {
            select_best(c, size, K);
            size = K, selected = 1, kth = c->value[K - 1];
        }
    }
    if (size < K) return -1 - size; /* no selection ran: c holds every negative */
    select_best(c, size, K);
    int64_t *cand = c->key;
    /* heap sort of the K: a heap with the worst at the root, the worst moved to the end each step */
    for (int64_t at = K / 2 - 1; at >= 0; at--) sift_down(cand, K, at, s);
    for (int64_t end = K - 1; end > 0; end--) {
        int64_t t = cand[0];
        cand[0] = cand[end];
        cand[end] = t;
        sift_down(cand, end, 0, s);
    }
    for (int64_t k = 0; k < K; k++) job->indices[i * K + k] = cand[k];
    return 0;
}

typedef struct {
    const mining_job *job;
    int64_t *row_status; /* (N) */
    int64_t *keys;       /* [slices][2K] candidate keys */
    float *values;       /* [slices][2K] their similarities */
} mining_ctx;

static void mining_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    const mining_ctx *m = ctx;
    const candidates c = {m->keys + (int64_t)slice * 2 * m->job->K, m->values + (int64_t)slice * 2 * m->job->K};
    for (int64_t i = begin; i < end; i++) m->row_status[i] = mine_row(m->job, i, &c);
}

static int valid_dtype(int32_t d) {
    return d == JNCE_DTYPE_INT32 || d == JNCE_DTYPE_INT64;
}

int32_t jnce_hard_negatives(const float *sim, int64_t N, int64_t M, int64_t K, const void *query_labels,
                            int32_t query_dtype, const void *key_labels, int32_t key_dtype, const void *mask,
                            int32_t mask_dtype, int64_t *indices, int64_t *short_row) {
    if (sim == NULL || (indices == NULL && K > 0))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: sim and indices must be non-null");
    if (N <= 0 || M <= 0 || K < 0) /* K > M leaves every row short of negatives: reported below */
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: N=%lld, M=%lld, K=%lld: need N, M >= 1 and K >= 0",
                         (long long)N, (long long)M, (long long)K);
    if ((query_labels == NULL) != (key_labels == NULL))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: give both query and key labels, or neither");
    if ((query_labels != NULL && (!valid_dtype(query_dtype) || !valid_dtype(key_dtype))) ||
        (mask != NULL && !valid_dtype(mask_dtype)))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: label and mask types must be int32 or int64");
    if (short_row != NULL) short_row[0] = -1, short_row[1] = 0;
    if (K == 0) return JNCE_OK;

    const int32_t slices = jnce_threads();
    int64_t *row_status = malloc((size_t)N * sizeof(int64_t)), *keys = malloc((size_t)slices * 2 * (size_t)K * sizeof(int64_t));
    float *values = malloc((size_t)slices * 2 * (size_t)K * sizeof(float));
    if (row_status == NULL || keys == NULL || values == NULL) {
        free(row_status), free(keys), free(values);
        return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "hard_negatives: no memory for %lld rows", (long long)N);
    }
    mining_job job = {sim, M, K, query_labels, key_labels, mask, query_dtype, key_dtype, mask_dtype, indices};
    mining_ctx ctx = {&job, row_status, keys, values};
    jnce_parallel_for_at_most(N, M >= 16384 ? 1 : 16384 / M, slices, mining_rows, &ctx);
    int32_t rc = JNCE_OK;
    int64_t first_short = -1;
    for (int64_t i = 0; i < N && rc == JNCE_OK; i++) {
        if (row_status[i] == INT64_MIN / 2)
            rc = jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: sim row %lld holds NaN", (long long)i);
        else if (row_status[i] < 0 && first_short < 0)
            first_short = i;
    }
    if (rc == JNCE_OK && first_short >= 0) {
        int64_t negatives = -1 - row_status[first_short];
        if (short_row != NULL)
            short_row[0] = first_short, short_row[1] = negatives;
        else
            rc = jnce_fail(JNCE_ERR_INVALID_ARG, "hard_negatives: row %lld has %lld negatives, fewer than K=%lld",
                           (long long)first_short, (long long)negatives, (long long)K);
    }
    free(row_status), free(keys), free(values);
    return rc;
}
