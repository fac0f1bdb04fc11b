/*
 * negatives.c - the logits of InfoNCE with explicit per-query negatives, and their gradients:
 * batched row dot products where the in-batch forms have a GEMM (each query meets only its own
 * K negatives).
 *
 *   Q, P   (N,D) float32: queries and their positives       Nk  (N,K,D) float32: the negatives
 *   L      (N,K+1) float32: L[i][0] = alpha q_i . p_i, L[i][1+j] = alpha q_i . n_ij
 *   G      (N,K+1) float32: d loss / d L
 *   dQ, dP (N,D), dN (N,K,D), all overwritten:
 *          dq_i = alpha (G_i0 p_i + sum_j G_ij n_ij),  dp_i = alpha G_i0 q_i,  dn_ij = alpha G_ij q_i
 * Dots are summed in double (jnce_dot_row's bits; a row's taken side by side, jnce_dot_query), dq
 * in float along K. Rows of queries are spread over
 * threads in slices of at least 64K values of Nk (a small call, such as N = 32, K = 4, D = 128,
 * stays on the calling thread: handing half of it to another core took longer than the rows); the
 * work is memory-bound (Nk is read once a pass, dN written once).
 *
 * Build and check alone: see native/CMakeLists.txt; native/test/test_negatives.c is the check.
 */
#include <stddef.h>

#include "internal.h"
#include "similarity.h"

/* Rows a slice: about 64K values of (K + 1) D each, at least 1. */
static int64_t grain(int64_t K, int64_t D) {
    int64_t per_row = (K + 1) * D;
    return per_row >= 65536 ? 1 : 65536 / per_row;
}

/* A row's dots taken together: its query against up to this many of its positive and negatives
 * (jnce_dot_query: the query read once for several sums, the same bits as one at a time). */
#define NEG_DOTS 64

typedef struct {
    const float *Q, *P, *Nk, *G;
    int64_t K, D;
    float alpha;
    float *L, *dQ, *dP, *dN;
} negatives_job;

static void logits_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const negatives_job *j = ctx;
    const int64_t K = j->K, D = j->D;
    const float *rs[NEG_DOTS];
    double dots[NEG_DOTS];
    for (int64_t i = begin; i < end; i++) {
        const float *q = j->Q + i * D;
        float *l = j->L + i * (K + 1);
        for (int64_t e0 = 0; e0 < K + 1; e0 += NEG_DOTS) { /* column e: the positive (0), else negative e - 1 */
            const int64_t m = K + 1 - e0 < NEG_DOTS ? K + 1 - e0 : NEG_DOTS;
            for (int64_t u = 0; u < m; u++) rs[u] = e0 + u == 0 ? j->P + i * D : j->Nk + (i * K + e0 + u - 1) * D;
            jnce_dot_query(q, rs, m, D, dots);
            for (int64_t u = 0; u < m; u++) l[e0 + u] = (float)(j->alpha * dots[u]);
        }
    }
}

static void backward_rows(void *ctx, int64_t begin, int64_t end, int32_t slice) {
    (void)slice;
    const negatives_job *j = ctx;
    const int64_t K = j->K, D = j->D;
    for (int64_t i = begin; i < end; i++) {
        const float *q = j->Q + i * D, *p = j->P + i * D, *g = j->G + i * (K + 1);
        float *dq = j->dQ + i * D, *dp = j->dP + i * D;
        const float g0 = j->alpha * g[0];
        for (int64_t c = 0; c < D; c++) dq[c] = g0 * p[c], dp[c] = g0 * q[c];
        for (int64_t k = 0; k < K; k++) {
            const float gk = j->alpha * g[1 + k];
            const float *n = j->Nk + (i * K + k) * D;
            float *dn = j->dN + (i * K + k) * D;
            for (int64_t c = 0; c < D; c++) {
                dq[c] += gk * n[c];
                dn[c] = gk * q[c];
            }
        }
    }
}

static int32_t check(const char *op, const float *Q, const float *P, const float *Nk, int64_t N, int64_t K, int64_t D) {
    if (Q == NULL || P == NULL || Nk == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: null Q, P or Nk", op);
    if (N < 1 || K < 1 || D < 1)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "%s: N=%lld K=%lld D=%lld, each must be >= 1", op, (long long)N, (long long)K,
                         (long long)D);
    return JNCE_OK;
}

int32_t jnce_negatives_logits_fwd(const float *Q, const float *P, const float *Nk, int64_t N, int64_t K, int64_t D, float alpha,
                              float *L) {
    int32_t status = check("negatives_logits", Q, P, Nk, N, K, D);
    if (status != JNCE_OK) return status;
    if (L == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "negatives_logits: null L");
    negatives_job job = {.Q = Q, .P = P, .Nk = Nk, .K = K, .D = D, .alpha = alpha, .L = L};
    jnce_parallel_for(N, grain(K, D), logits_rows, &job);
    return JNCE_OK;
}

int32_t jnce_negatives_logits_bwd(const float *G, const float *Q, const float *P, const float *Nk, int64_t N, int64_t K,
                                  int64_t D, float alpha, float *dQ, float *dP, float *dN) {
    int32_t status = check("negatives_logits_bwd", Q, P, Nk, N, K, D);
    if (status != JNCE_OK) return status;
    if (G == NULL || dQ == NULL || dP == NULL || dN == NULL)
        return jnce_fail(JNCE_ERR_INVALID_ARG, "negatives_logits_bwd: null G, dQ, dP or dN");
    negatives_job job = {.Q = Q, .P = P, .Nk = Nk, .G = G, .K = K, .D = D, .alpha = alpha, .dQ = dQ, .dP = dP, .dN = dN};
    jnce_parallel_for(N, grain(K, D), backward_rows, &job);
    return JNCE_OK;
}
