/*
 * positives_xent.c - cross-entropy with several positives per row over a logit matrix S (N,M),
 * forward and backward: InfoNCE with positives given by labels or by a mask (supervised
 * contrastive style), without an (N,M) target matrix.
 *
 * Row i's positives P(i) are the keys j with key_labels[j] == query_labels[i], or mask[i][j] != 0;
 * with self_offset >= 0, column i + self_offset is row i's own and takes no part in it at all
 * (neither candidate nor positive: the one-tensor form, swept a block of rows at a time). With lse_i over the row's candidates,
 *   loss_i = lse_i - (1/|P(i)|) sum_{j in P(i)} S_ij
 *   G_ij   = w (softmax_i(j) - [j in P(i)] / |P(i)|),   w = 1 / (rows counted) for MEAN, else 1.
 *
 *   counts  |P(i)| for every row first (labels: keys sorted by label once, each query's positives
 *           are one run of that order; mask: a read of the mask), so that a row without positive
 *           fails before anything is written, and w is known.
 *   rows    each row in one visit while it is in cache: softmax statistics (jnce_softmax_row_stats,
 *           around the excluded column), the positives' sum, then exp(S_ij - m_i) w / s_i into G
 *           (which may be S) and the positives' share subtracted.
 * A row that meets a NaN or +Inf logit gets loss NaN and a NaN gradient row; rows left out
 * (no positive, skip_empty) get loss 0 and a zero gradient row. Row losses are summed in order,
 * in double: the result does not depend on the thread count.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    const float *S;
    float *G;
    int64_t N, M, ld;
    const int32_t *mask;
    int64_t self_offset;    /* row i's own column is i + self_offset; -1: none */
    const int64_t *order;   /* labels: key indices ordered by label (then index) */
    const int64_t *from;    /* labels: row i's positives are order[from[i] .. to[i]) */
    const int64_t *to;
    const int64_t *count;   /* |P(i)| */
    double w;
    double *rows;           /* loss_i */
} pos_job;

/* Row i's own column, left out of it, or -1. */
static inline int64_t self_of(const pos_job *j, int64_t i) {
    return j->self_offset >= 0 && i + j->self_offset < j->M ? i + j->self_offset : -1;
}

static inline int excluded(const pos_job *j, int64_t i, int64_t key) {
    return key == self_of(j, i);
}

static void count_mask_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    pos_job *j = ctx;
    int64_t *count = (int64_t *)j->count;
    for (int64_t i = begin; i < end; i++) {
        const int32_t *m = j->mask + i * j->M;
        int64_t c = 0;
        for (int64_t k = 0; k < j->M; k++) c += m[k] != 0;
        if (self_of(j, i) >= 0 && m[self_of(j, i)] != 0) c--;
        count[i] = c;
    }
}

/* Softmax statistics of row x over its candidates: all M, less column self when self >= 0. */
static jnce_row_stats candidate_stats(const float *x, int64_t M, int64_t self) {
    if (self < 0) return jnce_softmax_row_stats(x, M);
    jnce_row_stats a = {-FLT_MAX, 0.0, 0}, b = {-FLT_MAX, 0.0, 0};
    if (self > 0) a = jnce_softmax_row_stats(x, self);
    if (self + 1 < M) b = jnce_softmax_row_stats(x + self + 1, M - self - 1);
    jnce_row_stats r = {a.max > b.max ? a.max : b.max, 0.0, a.bad | b.bad};
    if (a.sum > 0.0) r.sum += a.sum * exp((double)a.max - r.max);
    if (b.sum > 0.0) r.sum += b.sum * exp((double)b.max - r.max);
    return r;
}

/* sum of S_ij over row i's positives (read before G, which may be S, is written). */
static double positive_sum(const pos_job *j, int64_t i, const float *x) {
    double s = 0.0;
    if (j->mask != NULL) {
        const int32_t *m = j->mask + i * j->M;
        for (int64_t k = 0; k < j->M; k++)
            if (m[k] != 0 && !excluded(j, i, k)) s += x[k];
    } else {
        for (int64_t a = j->from[i]; a < j->to[i]; a++)
            if (!excluded(j, i, j->order[a])) s += x[j->order[a]];
    }
    return s;
}

static void subtract_share(const pos_job *j, int64_t i, float *g, float share) {
    if (j->mask != NULL) {
        const int32_t *m = j->mask + i * j->M;
        for (int64_t k = 0; k < j->M; k++)
            if (m[k] != 0 && !excluded(j, i, k)) g[k] -= share;
    } else {
        for (int64_t a = j->from[i]; a < j->to[i]; a++)
            if (!excluded(j, i, j->order[a])) g[j->order[a]] -= share;
    }
}

static void run_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    pos_job *j = ctx;
    const int64_t M = j->M;
    for (int64_t i = begin; i < end; i++) {
        const float *x = j->S + i * j->ld;
        float *g = j->G != NULL ? j->G + i * j->ld : NULL;
        const int64_t count = j->count[i];
        if (count == 0) {
            j->rows[i] = 0.0;
            if (g != NULL) memset(g, 0, sizeof(float) * (size_t)M);
            continue;
        }
        const int64_t self = self_of(j, i);
        jnce_row_stats st = candidate_stats(x, M, self);
        double positive = positive_sum(j, i, x) / (double)count;
        j->rows[i] = st.bad ? NAN : (double)st.max + log(st.sum) - positive;
        if (g == NULL) continue;
        if (st.bad) {
            for (int64_t k = 0; k < M; k++) g[k] = NAN;
            continue;
        }
        jnce_softmax_row_exp(x, g, M, st.max, (float)(j->w / st.sum));
        if (self >= 0) g[self] = 0.0f;
        subtract_share(j, i, g, (float)(j->w / (double)count));
    }
}

/* labels: the keys in label order, and each query's run [from, to) of keys with its label. */
static int32_t label_runs(const void *query_labels, int32_t query_dtype, const void *key_labels, int32_t key_dtype,
                          int64_t N, int64_t M, int64_t *order, int64_t *from, int64_t *to) {
    jnce_labelled *keys = malloc(sizeof(jnce_labelled) * (size_t)M);
    if (keys == NULL) return jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "xent_positives: out of memory for M=%lld", (long long)M);
    for (int64_t k = 0; k < M; k++) keys[k] = (jnce_labelled){jnce_target_at(key_labels, key_dtype, k), k};
    qsort(keys, (size_t)M, sizeof(jnce_labelled), jnce_by_label);
    for (int64_t k = 0; k < M; k++) order[k] = keys[k].index;
    for (int64_t i = 0; i < N; i++) {
        const int64_t l = jnce_target_at(query_labels, query_dtype, i);
        int64_t lo = 0, hi = M; /* first key with label >= l */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (keys[mid].label < l) lo = mid + 1;
            else hi = mid;
        }
        int64_t end = lo;
        while (end < M && keys[end].label == l) end++;
        from[i] = lo, to[i] = end;
    }
    free(keys);
    return JNCE_OK;
}

int32_t jnce_positives_xent_fwd_bwd(const float *S, int64_t N, int64_t M, int64_t ld, const void *query_labels,
                            int32_t query_dtype, const void *key_labels, int32_t key_dtype, const int32_t *mask,
                            int64_t self_offset, int32_t skip_empty, int32_t reduction, float *loss, float *G,
                            int64_t *empty_row, int64_t *counted_rows) {
    if (empty_row != NULL) *empty_row = -1;
    if (counted_rows != NULL) *counted_rows = 0;
    if (S == NULL || loss == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: null S or loss");
    if (N < 1 || M < 1 || ld < M)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: N=%lld M=%lld ld=%lld, need N, M >= 1 and ld >= M",
                         (long long)N, (long long)M, (long long)ld);
    if ((mask == NULL) == (query_labels == NULL || key_labels == NULL))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: give both label arrays or the mask, not both or neither");
    if (mask == NULL && ((query_dtype != JNCE_DTYPE_INT32 && query_dtype != JNCE_DTYPE_INT64)
                         || (key_dtype != JNCE_DTYPE_INT32 && key_dtype != JNCE_DTYPE_INT64)))
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: label dtypes %d and %d, need int32 or int64", query_dtype,
                         key_dtype);
    if (self_offset >= 0 && M < 2)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: a self column with M=%lld leaves row 0 no candidate",
                         (long long)M);
    if (self_offset < -1)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: self_offset %lld, need -1 (none) or >= 0",
                         (long long)self_offset);
    if (reduction != JNCE_REDUCTION_NONE && reduction != JNCE_REDUCTION_MEAN && reduction != JNCE_REDUCTION_SUM)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: reduction %d", reduction);

    int64_t *count = malloc(sizeof(int64_t) * (size_t)N);
    double *rows = malloc(sizeof(double) * (size_t)N);
    int64_t *order = NULL, *from = NULL, *to = NULL;
    if (mask == NULL) {
        order = malloc(sizeof(int64_t) * (size_t)M);
        from = malloc(sizeof(int64_t) * (size_t)N);
        to = malloc(sizeof(int64_t) * (size_t)N);
    }
    pos_job job = {.S = S, .G = G, .N = N, .M = M, .ld = ld, .mask = mask,
                   .self_offset = self_offset, .order = order, .from = from, .to = to, .count = count,
                   .rows = rows};
    int32_t status = JNCE_OK;
    if (count == NULL || rows == NULL || (mask == NULL && (order == NULL || from == NULL || to == NULL))) {
        status = jnce_fail(JNCE_ERR_OUT_OF_MEMORY, "xent_positives: out of memory for N=%lld", (long long)N);
        goto done;
    }
    if (mask != NULL) {
        jnce_parallel_for(N, 16, count_mask_rows, &job);
    } else {
        status = label_runs(query_labels, query_dtype, key_labels, key_dtype, N, M, order, from, to);
        if (status != JNCE_OK) goto done;
        for (int64_t i = 0; i < N; i++) {
            const int64_t self = self_of(&job, i);
            count[i] = to[i] - from[i]
                       - (self >= 0 && jnce_target_at(key_labels, key_dtype, self) == jnce_target_at(query_labels, query_dtype, i));
        }
    }
    int64_t counted = 0;
    for (int64_t i = 0; i < N; i++) {
        if (count[i] > 0) {
            counted++;
        } else if (!skip_empty) {
            if (empty_row != NULL) *empty_row = i;
            status = jnce_fail(JNCE_ERR_INVALID_ARG, "xent_positives: row %lld has no positive", (long long)i);
            goto done;
        }
    }
    if (counted_rows != NULL) *counted_rows = counted;
    job.w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)(counted > 0 ? counted : 1) : 1.0;
    jnce_parallel_for(N, 4, run_rows, &job);

    double total = 0.0;
    for (int64_t i = 0; i < N; i++) {
        if (reduction == JNCE_REDUCTION_NONE) loss[i] = (float)rows[i];
        total += rows[i];
    }
    if (reduction == JNCE_REDUCTION_SUM) loss[0] = (float)total;
    if (reduction == JNCE_REDUCTION_MEAN) loss[0] = counted > 0 ? (float)(total / (double)counted) : NAN;
done:
    free(count), free(rows), free(order), free(from), free(to);
    return status;
}
