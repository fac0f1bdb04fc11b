/*
 * test_xent_rows.c - checks jnce_xent_rows_grad: its losses bit for bit those of
 * jnce_cross_entropy_strided_fwd_bwd (reduction NONE), and its products against a double
 * definition, G_ij = softmax_i(j) - [j = t_i], dA = alpha G B, dB = alpha Gᵀ A + beta dB0:
 * sizes that cut the 256 x 256 tiles and the 16-float vectors unevenly, row stride padding,
 * blocks of rows (targets off the diagonal, dB added into), S left as it was where the tiles run
 * (tiles_run; a block of fewer rows than threads x D takes the pass and two GEMMs), G's own
 * precision at a dominant column, a NaN row, and the argument errors.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

static void grad_case(int64_t N, int64_t M, int64_t ld, int64_t first_target, int64_t D, float beta) {
    const float alpha = 0.61f;
    float *S = malloc(sizeof(float) * N * ld), *S0 = malloc(sizeof(float) * N * ld), *A = random_floats(N * D),
          *B = random_floats(M * D), *dA = malloc(sizeof(float) * N * D), *dB = random_floats(M * D),
          *dB0 = malloc(sizeof(float) * M * D), *lse = malloc(sizeof(float) * N), *loss = malloc(sizeof(float) * N);
    int64_t *t = malloc(sizeof(int64_t) * N);
    double *G = malloc(sizeof(double) * N * M);
    for (int64_t k = 0; k < N * ld; k++) S[k] = NAN; /* padding: never read */
    for (int64_t i = 0; i < N; i++) {
        t[i] = (first_target + i) % M;
        for (int64_t j = 0; j < M; j++) S[i * ld + j] = 14.0f * uniform_pm1();
    }
    for (int64_t k = 0; k < N * D; k++) dA[k] = NAN; /* overwritten */
    if (beta == 0.0f)
        for (int64_t k = 0; k < M * D; k++) dB[k] = NAN; /* not read */
    memcpy(dB0, dB, sizeof(float) * M * D);
    memcpy(S0, S, sizeof(float) * N * ld);
    CHECK(jnce_cross_entropy_strided_fwd_bwd(N, M, ld, S, t, JNCE_DTYPE_INT64, NULL, NULL, NULL, -100, 0.0f, 0.0f,
                                             JNCE_REDUCTION_NONE, 0, lse, NULL, NULL) == JNCE_OK, "N=%lld: cross-entropy status",
          (long long)N); /* lse: here the cross-entropy's own losses */
    for (int64_t i = 0; i < N; i++) {
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < M; j++) mx = fmax(mx, S[i * ld + j]);
        for (int64_t j = 0; j < M; j++) sum += exp(S[i * ld + j] - mx);
        const double l = mx + log(sum);
        for (int64_t j = 0; j < M; j++) G[i * M + j] = exp(S[i * ld + j] - l) - (j == t[i] ? 1.0 : 0.0);
    }
    CHECK(jnce_xent_rows_grad(S, N, M, ld, t, loss, A, B, D, alpha, beta, dA, dB) == JNCE_OK, "N=%lld: status", (long long)N);
    CHECK(memcmp(loss, lse, sizeof(float) * N) == 0, "N=%lld M=%lld: the losses differ from the cross-entropy's", (long long)N,
          (long long)M);
    if (tiles_run(N, D)) {
        int kept = 1;
        for (int64_t k = 0; k < N * ld; k++) kept &= memcmp(&S[k], &S0[k], sizeof(float)) == 0;
        CHECK(kept, "N=%lld M=%lld: S changed on the AVX-512 path", (long long)N, (long long)M);
    }
    double worst = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t d = 0; d < D; d++) {
            double v = 0, size = 0;
            for (int64_t j = 0; j < M; j++) v += G[i * M + j] * B[j * D + d], size += fabs(G[i * M + j] * B[j * D + d]);
            worst = worse(worst, fabs(dA[i * D + d] - alpha * v) / (alpha * size + 1e-30));
        }
    for (int64_t j = 0; j < M; j++)
        for (int64_t d = 0; d < D; d++) {
            double v = 0, size = 0;
            for (int64_t i = 0; i < N; i++) v += G[i * M + j] * A[i * D + d], size += fabs(G[i * M + j] * A[i * D + d]);
            const double want = alpha * v + (beta == 0.0f ? 0.0 : (double)beta * dB0[j * D + d]);
            worst = worse(worst, fabs(dB[j * D + d] - want) / (alpha * size + fabs(want) + 1e-30));
        }
    CHECK(worst <= 2e-6, "N=%lld M=%lld ld=%lld first target %lld D=%lld beta=%g: relative error %g", (long long)N, (long long)M,
          (long long)ld, (long long)first_target, (long long)D, beta, worst);
    free(S), free(S0), free(A), free(B), free(dA), free(dB), free(dB0), free(lse), free(loss), free(t), free(G);
}

/* Row 2 holds a NaN: its loss is NaN, so are its entries of G, dA's row 2 and every row of dB; the other rows stay finite. */
static void nan_case(void) {
    const int64_t N = 20, M = 300, D = 5;
    float *S = malloc(sizeof(float) * N * M), *A = random_floats(N * D), *B = random_floats(M * D), *dA = malloc(sizeof(float) * N * D),
          *dB = malloc(sizeof(float) * M * D), loss[20];
    int64_t t[20];
    for (int64_t k = 0; k < N * M; k++) S[k] = uniform_pm1();
    for (int64_t i = 0; i < N; i++) t[i] = i;
    S[2 * M + 77] = NAN;
    CHECK(jnce_xent_rows_grad(S, N, M, M, t, loss, A, B, D, 1.0f, 0.0f, dA, dB) == JNCE_OK, "nan: status");
    int ok = 1;
    for (int64_t i = 0; i < N; i++) {
        ok &= i == 2 ? isnan(loss[i]) : isfinite(loss[i]);
        for (int64_t d = 0; d < D; d++) ok &= i == 2 ? isnan(dA[i * D + d]) : isfinite(dA[i * D + d]);
    }
    for (int64_t k = 0; k < M * D; k++) ok &= isnan(dB[k]);
    CHECK(ok, "nan: row 2's loss, row 2 of dA and all of dB NaN, the rest finite");
    free(S), free(A), free(B), free(dA), free(dB);
}

/*
 * G's own precision: with D = 1 and B the unit vector at column c, dA_i = G_ic exactly (every
 * other product is by zero), here the probability of a column that dominates every row (logit
 * 12 among logits in [-1, 1]): within 4.5e-7 of it relative (3.5e-7 on the AVX-512 path),
 * where rounding lse to one float before the subtraction left 6.3e-7.
 */
static void precision_case(void) {
    const int64_t N = 64, M = 300, c = 5;
    float *S = malloc(sizeof(float) * N * M), *A = random_floats(N), *B = calloc((size_t)M, sizeof(float)), *dA = malloc(sizeof(float) * N),
          *dB = malloc(sizeof(float) * M), loss[64];
    int64_t t[64];
    B[c] = 1.0f;
    for (int64_t i = 0; i < N; i++) {
        t[i] = i + 10; /* never c */
        for (int64_t j = 0; j < M; j++) S[i * M + j] = j == c ? 12.0f + 0.01f * uniform_pm1() : uniform_pm1();
    }
    double worst = 0, p[64];
    for (int64_t i = 0; i < N; i++) { /* before the call: elsewhere than AVX-512 it writes G into S */
        double sum = 0;
        for (int64_t j = 0; j < M; j++) sum += exp((double)S[i * M + j] - (double)S[i * M + c]);
        p[i] = 1.0 / sum; /* exp(S_ic - lse_i) */
    }
    CHECK(jnce_xent_rows_grad(S, N, M, M, t, loss, A, B, 1, 1.0f, 0.0f, dA, dB) == JNCE_OK, "precision: status");
    for (int64_t i = 0; i < N; i++) worst = worse(worst, fabs(dA[i] - p[i]) / p[i]);
    CHECK(worst <= 4.5e-7, "precision: G at the dominant column off by %g relative", worst);
    free(S), free(A), free(B), free(dA), free(dB);
}

static void errors_case(void) {
    float S[4] = {0, 1, 2, 3}, loss[2], A[2] = {1, 2}, dA[2], dB[2];
    int64_t t[2] = {0, 1}, bad[2] = {0, 2};
    CHECK(jnce_xent_rows_grad(NULL, 2, 2, 2, t, loss, A, A, 1, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "null S");
    CHECK(jnce_xent_rows_grad(S, 2, 2, 2, t, NULL, A, A, 1, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "null loss");
    CHECK(jnce_xent_rows_grad(S, 2, 2, 2, t, loss, A, A, 1, 1.0f, 0.0f, dA, NULL) == JNCE_ERR_INVALID_ARG, "null dB");
    CHECK(jnce_xent_rows_grad(S, 2, 2, 1, t, loss, A, A, 1, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "ld < M");
    CHECK(jnce_xent_rows_grad(S, 2, 2, 2, t, loss, A, A, 0, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "D = 0");
    CHECK(jnce_xent_rows_grad(S, 2, 2, 2, bad, loss, A, A, 1, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "target = M");
}

int main(void) {
    srand(41);
    grad_case(1, 1, 1, 0, 1, 0.0f);
    grad_case(32, 32, 32, 0, 128, 0.0f);
    /* the tiles' path where N >= 8 threads D (tiles_run), else the pass and two GEMMs */
    grad_case(300, 300, 304, 0, 17, 0.0f);    /* two bands, two tiles, a 44-column last tile */
    grad_case(257, 700, 700, 400, 129, 1.0f); /* a block of rows 400..656 of 700, added into dB (few rows: no tiles) */
    grad_case(1100, 700, 700, 400, 65, 1.0f); /* the same with tiles: D past one 64-column chunk */
    grad_case(200, 530, 536, 420, 12, 1.0f);  /* the last block: targets wrap past M */
    grad_case(520, 513, 513, 0, 20, 0.0f);    /* bands of 130, three tiles, one column past 512 */
    grad_case(40, 1000, 1000, 7, 2, 0.0f);    /* a tile row of 232 = 14.5 vectors */
    precision_case();
    nan_case();
    errors_case();
    return finish("test_xent_rows");
}
