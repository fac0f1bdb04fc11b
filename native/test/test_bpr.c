/*
 * test_bpr.c - checks jnce_bpr_fwd_bwd against plain double loops: every reduction, sizes around
 * the thread split (N = 1, 17, 300, 3000), K = 1, 4, 16, 17 (a masked lane tail) and 300 (two
 * chunks of negatives), odd D and D = 1, scores up to +-100 (softplus of a large x is x, of a very
 * negative x tiny), outputs that start as garbage, and the argument errors.
 */
#include <math.h>

#include "jnce.h"
#include "check.h"

static double softplus(double x) { return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

static void bpr_case(int64_t N, int64_t K, int64_t D, float spread, int32_t reduction) {
    float *Q = random_floats(N * D), *P = random_floats(N * D), *Nk = random_floats(N * K * D);
    for (int64_t k = 0; k < N * D; k++) Q[k] *= spread;
    /* garbage in every output: the kernel overwrites them */
    float *loss = random_floats(N), *dQ = random_floats(N * D), *dP = random_floats(N * D), *dN = random_floats(N * K * D);
    double *rows = malloc(sizeof(double) * N), *wq = calloc(N * D, sizeof(double)), *wp = malloc(sizeof(double) * N * D);
    double *wn = malloc(sizeof(double) * N * K * D), total = 0.0;
    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    for (int64_t i = 0; i < N; i++) {
        const float *q = Q + i * D, *p = P + i * D;
        double s0 = 0.0, row = 0.0, g0 = 0.0;
        for (int64_t c = 0; c < D; c++) s0 += (double)q[c] * p[c];
        for (int64_t k = 0; k < K; k++) {
            const float *n = Nk + (i * K + k) * D;
            double s = 0.0;
            for (int64_t c = 0; c < D; c++) s += (double)q[c] * n[c];
            const double x = s - s0, g = w * sigmoid(x) / (double)K;
            row += softplus(x);
            g0 -= g;
            for (int64_t c = 0; c < D; c++) wq[i * D + c] += g * n[c], wn[(i * K + k) * D + c] = g * q[c];
        }
        for (int64_t c = 0; c < D; c++) wq[i * D + c] += g0 * p[c], wp[i * D + c] = g0 * q[c];
        rows[i] = row / (double)K;
        total += rows[i];
    }
    CHECK(jnce_bpr_fwd_bwd(Q, P, Nk, N, K, D, reduction, loss, dQ, dP, dN) == JNCE_OK, "status");
    /* the scores are rounded to float before their difference: an error of about 2^-24 |s| in x */
    const double x_err = 2e-7 * spread * sqrt((double)D);
    if (reduction == JNCE_REDUCTION_NONE) {
        CHECK(max_rel_error(loss, rows, N) <= 2e-6 + x_err, "rows N=%lld K=%lld D=%lld error %g", (long long)N, (long long)K,
              (long long)D, max_rel_error(loss, rows, N));
    } else {
        const double want = reduction == JNCE_REDUCTION_MEAN ? total / (double)N : total;
        const double e = fabs(loss[0] - want) / fmax(1.0, fabs(want));
        CHECK(e <= 2e-6 + x_err, "loss N=%lld K=%lld D=%lld reduction %d: %.9g against %.9g", (long long)N, (long long)K,
              (long long)D, (int)reduction, (double)loss[0], want);
    }
    const double g_err = w * (2e-7 + x_err) * spread;
    CHECK(max_error(dQ, wq, N * D) <= 4 * g_err, "dQ N=%lld K=%lld D=%lld error %g", (long long)N, (long long)K, (long long)D,
          max_error(dQ, wq, N * D));
    CHECK(max_error(dP, wp, N * D) <= 2 * g_err, "dP N=%lld K=%lld D=%lld error %g", (long long)N, (long long)K, (long long)D,
          max_error(dP, wp, N * D));
    CHECK(max_error(dN, wn, N * K * D) <= g_err / (double)K + 1e-12, "dN N=%lld K=%lld D=%lld error %g", (long long)N,
          (long long)K, (long long)D, max_error(dN, wn, N * K * D));
    free(Q), free(P), free(Nk), free(loss), free(dQ), free(dP), free(dN), free(rows), free(wq), free(wp), free(wn);
}

static void errors_case(void) {
    float x[8] = {0}, l[4];
    CHECK(jnce_bpr_fwd_bwd(NULL, x, x, 1, 1, 1, JNCE_REDUCTION_MEAN, l, x, x, x) == JNCE_ERR_INVALID_ARG, "null Q");
    CHECK(jnce_bpr_fwd_bwd(x, x, x, 1, 1, 1, JNCE_REDUCTION_MEAN, NULL, x, x, x) == JNCE_ERR_INVALID_ARG, "null loss");
    CHECK(jnce_bpr_fwd_bwd(x, x, x, 1, 1, 1, JNCE_REDUCTION_MEAN, l, x, x, NULL) == JNCE_ERR_INVALID_ARG, "null dN");
    CHECK(jnce_bpr_fwd_bwd(x, x, x, 0, 1, 1, JNCE_REDUCTION_MEAN, l, x, x, x) == JNCE_ERR_INVALID_ARG, "N = 0");
    CHECK(jnce_bpr_fwd_bwd(x, x, x, 1, 0, 1, JNCE_REDUCTION_MEAN, l, x, x, x) == JNCE_ERR_INVALID_ARG, "K = 0");
    CHECK(jnce_bpr_fwd_bwd(x, x, x, 1, 1, 0, JNCE_REDUCTION_MEAN, l, x, x, x) == JNCE_ERR_INVALID_ARG, "D = 0");
    CHECK(jnce_bpr_fwd_bwd(x, x, x, 1, 1, 1, 7, l, x, x, x) == JNCE_ERR_INVALID_ARG, "reduction 7");
}

int main(void) {
    srand(43);
    const int32_t reductions[3] = {JNCE_REDUCTION_MEAN, JNCE_REDUCTION_SUM, JNCE_REDUCTION_NONE};
    for (int r = 0; r < 3; r++) {
        bpr_case(1, 1, 1, 1.0f, reductions[r]);
        bpr_case(32, 4, 128, 1.0f, reductions[r]);
        bpr_case(17, 17, 33, 3.0f, reductions[r]);
        bpr_case(300, 16, 64, 1.0f, reductions[r]);
    }
    bpr_case(17, 300, 5, 30.0f, JNCE_REDUCTION_MEAN);  /* two chunks; |x| up to about 100 */
    bpr_case(3000, 4, 128, 1.0f, JNCE_REDUCTION_MEAN); /* several slices */
    bpr_case(3000, 4, 128, 1.0f, JNCE_REDUCTION_NONE);
    errors_case();
    return finish("test_bpr");
}
