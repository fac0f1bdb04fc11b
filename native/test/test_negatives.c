/*
 * test_negatives.c - checks jnce_negatives_logits_fwd and jnce_negatives_logits_bwd against plain
 * double loops: sizes around the thread split (N = 1, 17, 300), K = 1 and 64, odd D, and the
 * argument errors.
 */
#include <math.h>

#include "jnce.h"
#include "check.h"

static void negatives_case(int64_t N, int64_t K, int64_t D, float alpha) {
    float *Q = random_floats(N * D), *P = random_floats(N * D), *Nk = random_floats(N * K * D), *G = random_floats(N * (K + 1));
    float *L = malloc(sizeof(float) * N * (K + 1)), *dQ = random_floats(N * D), *dP = random_floats(N * D);
    float *dN = random_floats(N * K * D); /* overwritten: start from garbage */
    double *wl = malloc(sizeof(double) * N * (K + 1)), *wq = calloc(N * D, sizeof(double)), *wp = malloc(sizeof(double) * N * D);
    double *wn = malloc(sizeof(double) * N * K * D);
    for (int64_t i = 0; i < N; i++) {
        const float *q = Q + i * D;
        double s = 0;
        for (int64_t c = 0; c < D; c++) s += (double)q[c] * P[i * D + c];
        wl[i * (K + 1)] = alpha * s;
        for (int64_t c = 0; c < D; c++) wq[i * D + c] = alpha * (double)G[i * (K + 1)] * P[i * D + c], wp[i * D + c] = alpha * (double)G[i * (K + 1)] * q[c];
        for (int64_t k = 0; k < K; k++) {
            const float *n = Nk + (i * K + k) * D;
            double t = 0, g = alpha * (double)G[i * (K + 1) + 1 + k];
            for (int64_t c = 0; c < D; c++) t += (double)q[c] * n[c];
            wl[i * (K + 1) + 1 + k] = alpha * t;
            for (int64_t c = 0; c < D; c++) wq[i * D + c] += g * n[c], wn[(i * K + k) * D + c] = g * q[c];
        }
    }
    CHECK(jnce_negatives_logits_fwd(Q, P, Nk, N, K, D, alpha, L) == JNCE_OK, "logits status");
    CHECK(jnce_negatives_logits_bwd(G, Q, P, Nk, N, K, D, alpha, dQ, dP, dN) == JNCE_OK, "bwd status");
    double scale = fabs(alpha) * sqrt((double)D);
    CHECK(max_error(L, wl, N * (K + 1)) <= 1e-6 * scale, "logits N=%lld K=%lld D=%lld error %g", (long long)N, (long long)K,
          (long long)D, max_error(L, wl, N * (K + 1)));
    CHECK(max_error(dQ, wq, N * D) <= 2e-6 * scale * sqrt((double)K), "dQ N=%lld K=%lld D=%lld error %g", (long long)N,
          (long long)K, (long long)D, max_error(dQ, wq, N * D));
    CHECK(max_error(dP, wp, N * D) <= 1e-6 * fabs(alpha), "dP error %g", max_error(dP, wp, N * D));
    CHECK(max_error(dN, wn, N * K * D) <= 1e-6 * fabs(alpha), "dN error %g", max_error(dN, wn, N * K * D));
    free(Q), free(P), free(Nk), free(G), free(L), free(dQ), free(dP), free(dN), free(wl), free(wq), free(wp), free(wn);
}

static void errors_case(void) {
    float x[8] = {0}, l[4];
    CHECK(jnce_negatives_logits_fwd(NULL, x, x, 1, 1, 1, 1.0f, l) == JNCE_ERR_INVALID_ARG, "null Q");
    CHECK(jnce_negatives_logits_fwd(x, x, x, 1, 0, 1, 1.0f, l) == JNCE_ERR_INVALID_ARG, "K = 0");
    CHECK(jnce_negatives_logits_fwd(x, x, x, 1, 1, 1, 1.0f, NULL) == JNCE_ERR_INVALID_ARG, "null L");
    CHECK(jnce_negatives_logits_bwd(x, x, x, x, 0, 1, 1, 1.0f, x, x, x) == JNCE_ERR_INVALID_ARG, "N = 0");
    CHECK(jnce_negatives_logits_bwd(x, x, x, x, 1, 1, 1, 1.0f, x, NULL, x) == JNCE_ERR_INVALID_ARG, "null dP");
}

int main(void) {
    srand(41);
    negatives_case(1, 1, 1, 1.0f);
    negatives_case(17, 1, 5, 1 / 0.07f);
    negatives_case(17, 64, 33, 1 / 0.07f);
    negatives_case(300, 7, 64, -2.0f);
    errors_case();
    return finish("test_negatives");
}
