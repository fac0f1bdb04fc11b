/*
 * test_siglip.c - checks jnce_siglip_fwd_bwd against a plain double definition (-log sigmoid(label z)
 * with z = S + bias in float, label +1 at j = i + offset and -1 elsewhere, and its derivative):
 * sizes around the 8-lane vectors, row stride padding, blocks of rows (offset, positives past the
 * last column), in place and not, the sums alone, large logits of both signs, a NaN logit, and
 * the argument errors; and jnce_siglip_grad (the sums and both towers' gradients) against it.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

static void siglip_case(int64_t N, int64_t M, int64_t ld, int64_t offset, float scale, float bias, int in_place) {
    float *S = malloc(sizeof(float) * N * ld), *Gsep = malloc(sizeof(float) * N * ld);
    double *g = malloc(sizeof(double) * N * M), want_loss = 0, want_grad = 0, sums[2], alone[2];
    for (int64_t k = 0; k < N * ld; k++) S[k] = NAN, Gsep[k] = -7.0f; /* padding: never read, never written */
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < M; j++) {
            S[i * ld + j] = scale * uniform_pm1();
            double z = (double)(S[i * ld + j] + bias), y = j == i + offset ? 1.0 : -1.0;
            want_loss += log1p(exp(-fabs(y * z))) + fmax(-y * z, 0.0); /* -log sigmoid(y z) */
            g[i * M + j] = 1.0 / (1.0 + exp(-z)) - (j == i + offset ? 1.0 : 0.0);
            want_grad += g[i * M + j];
        }
    CHECK(jnce_siglip_fwd_bwd(S, N, M, ld, offset, bias, alone, NULL) == JNCE_OK, "sums-alone status");
    float *G = in_place ? S : Gsep;
    CHECK(jnce_siglip_fwd_bwd(S, N, M, ld, offset, bias, sums, G) == JNCE_OK, "siglip status");
    CHECK(fabs(sums[0] - want_loss) <= 1e-6 * fmax(1.0, fabs(want_loss)), "siglip N=%lld scale=%g bias=%g loss %.9g want %.9g",
          (long long)N, scale, bias, sums[0], want_loss);
    CHECK(fabs(sums[1] - want_grad) <= 1e-6 * fmax(1.0, fabs(want_grad)) + 1e-7 * (double)(N * M),
          "siglip N=%lld grad sum %.9g want %.9g", (long long)N, sums[1], want_grad);
    CHECK(alone[0] == sums[0] && alone[1] == sums[1], "siglip N=%lld: the sums alone differ", (long long)N);
    double worst = 0;
    int padding_kept = 1;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < M; j++) worst = worse(worst, fabs(G[i * ld + j] - g[i * M + j]));
        for (int64_t j = M; j < ld; j++) padding_kept &= in_place ? isnan(G[i * ld + j]) : G[i * ld + j] == -7.0f;
    }
    CHECK(worst <= 2e-7, "siglip N=%lld M=%lld ld=%lld offset=%lld scale=%g bias=%g inplace=%d grad error %g", (long long)N,
          (long long)M, (long long)ld, (long long)offset, scale, bias, in_place, worst);
    CHECK(padding_kept, "siglip N=%lld ld=%lld wrote past column M", (long long)N, (long long)ld);
    free(S), free(Gsep), free(g);
}

/*
 * jnce_siglip_grad against jnce_siglip_fwd_bwd's G multiplied in double: dA = alpha G B,
 * dB = alpha Gᵀ A + beta dB0, the sums bit for bit those of jnce_siglip_fwd_bwd. Sizes cut the
 * fused path's 256 x 256 tiles and 128-column groups unevenly; where the tiles run (tiles_run) S must
 * be left as it was.
 */
static void grad_case(int64_t N, int64_t M, int64_t ld, int64_t offset, int64_t D, float bias, float beta) {
    const float alpha = 0.37f;
    float *S = malloc(sizeof(float) * N * ld), *G = malloc(sizeof(float) * N * ld), *A = random_floats(N * D),
          *B = random_floats(M * D), *dA = malloc(sizeof(float) * N * D), *dB = random_floats(M * D),
          *dB0 = malloc(sizeof(float) * M * D);
    double want_sums[2], sums[2];
    for (int64_t k = 0; k < N * ld; k++) S[k] = NAN;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < M; j++) S[i * ld + j] = 10.0f * uniform_pm1();
    for (int64_t k = 0; k < N * D; k++) dA[k] = NAN; /* overwritten */
    if (beta == 0.0f)
        for (int64_t k = 0; k < M * D; k++) dB[k] = NAN; /* not read */
    memcpy(dB0, dB, sizeof(float) * M * D);
    memcpy(G, S, sizeof(float) * N * ld);
    CHECK(jnce_siglip_fwd_bwd(G, N, M, ld, offset, bias, want_sums, G) == JNCE_OK, "grad N=%lld: fwd_bwd status", (long long)N);
    float *S0 = malloc(sizeof(float) * N * ld);
    memcpy(S0, S, sizeof(float) * N * ld);
    CHECK(jnce_siglip_grad(S, N, M, ld, offset, bias, sums, A, B, D, alpha, beta, dA, dB) == JNCE_OK, "grad N=%lld: status",
          (long long)N);
    CHECK(sums[0] == want_sums[0] && sums[1] == want_sums[1], "grad N=%lld M=%lld: sums %.17g %.17g, fwd_bwd's %.17g %.17g",
          (long long)N, (long long)M, sums[0], sums[1], want_sums[0], want_sums[1]);
    if (tiles_run(N, D)) {
        int kept = 1;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < M; j++) kept &= S[i * ld + j] == S0[i * ld + j];
        CHECK(kept, "grad N=%lld M=%lld: S changed on the fused path", (long long)N, (long long)M);
    }
    double worst = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t d = 0; d < D; d++) {
            double v = 0, size = 0;
            for (int64_t j = 0; j < M; j++) v += (double)G[i * ld + j] * B[j * D + d], size += fabs((double)G[i * ld + j] * B[j * D + d]);
            worst = worse(worst, fabs(dA[i * D + d] - alpha * v) / (alpha * size + 1e-30));
        }
    for (int64_t j = 0; j < M; j++)
        for (int64_t d = 0; d < D; d++) {
            double v = 0, size = 0;
            for (int64_t i = 0; i < N; i++) v += (double)G[i * ld + j] * A[i * D + d], size += fabs((double)G[i * ld + j] * A[i * D + d]);
            const double want = alpha * v + (beta == 0.0f ? 0.0 : (double)beta * dB0[j * D + d]);
            worst = worse(worst, fabs(dB[j * D + d] - want) / (alpha * size + fabs(want) + 1e-30));
        }
    CHECK(worst <= 2e-6, "grad N=%lld M=%lld ld=%lld offset=%lld D=%lld beta=%g: relative error %g", (long long)N, (long long)M,
          (long long)ld, (long long)offset, (long long)D, beta, worst);
    free(S), free(S0), free(G), free(A), free(B), free(dA), free(dB), free(dB0);
}

static void nan_case(void) {
    const int64_t N = 20;
    float *S = malloc(sizeof(float) * N * N);
    double sums[2];
    for (int64_t k = 0; k < N * N; k++) S[k] = uniform_pm1();
    S[3 * N + 11] = NAN;
    CHECK(jnce_siglip_fwd_bwd(S, N, N, N, 0, -1.0f, sums, S) == JNCE_OK, "nan status");
    CHECK(isnan(sums[0]) && isnan(sums[1]), "nan: the sums are NaN");
    CHECK(isnan(S[3 * N + 11]) && isfinite(S[3 * N + 12]) && isfinite(S[4 * N + 11]), "nan: only its entry of G is NaN");
    free(S);
}

static void errors_case(void) {
    float S[4] = {0, 1, 2, 3};
    double sums[2];
    CHECK(jnce_siglip_fwd_bwd(NULL, 2, 2, 2, 0, 0.0f, sums, NULL) == JNCE_ERR_INVALID_ARG, "null S");
    CHECK(jnce_siglip_fwd_bwd(S, 2, 2, 2, 0, 0.0f, NULL, NULL) == JNCE_ERR_INVALID_ARG, "null sums");
    CHECK(jnce_siglip_fwd_bwd(S, 2, 2, 1, 0, 0.0f, sums, NULL) == JNCE_ERR_INVALID_ARG, "ld < M");
    CHECK(jnce_siglip_fwd_bwd(S, 0, 2, 2, 0, 0.0f, sums, NULL) == JNCE_ERR_INVALID_ARG, "N = 0");
    CHECK(jnce_siglip_fwd_bwd(S, 2, 0, 2, 0, 0.0f, sums, NULL) == JNCE_ERR_INVALID_ARG, "M = 0");
    CHECK(jnce_siglip_fwd_bwd(S, 2, 2, 2, -1, 0.0f, sums, NULL) == JNCE_ERR_INVALID_ARG, "offset < 0");
    CHECK(jnce_siglip_fwd_bwd(S, 2, 2, 2, 0, INFINITY, sums, NULL) == JNCE_ERR_INVALID_ARG, "infinite bias");
    float A[2] = {1, 2}, dA[2], dB[2];
    CHECK(jnce_siglip_grad(S, 2, 2, 2, 0, 0.0f, sums, NULL, A, 1, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "grad: null A");
    CHECK(jnce_siglip_grad(S, 2, 2, 2, 0, 0.0f, sums, A, A, 1, 1.0f, 0.0f, dA, NULL) == JNCE_ERR_INVALID_ARG, "grad: null dB");
    CHECK(jnce_siglip_grad(S, 2, 2, 2, 0, 0.0f, sums, A, A, 0, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "grad: D = 0");
    CHECK(jnce_siglip_grad(S, 2, 2, 1, 0, 0.0f, sums, A, A, 1, 1.0f, 0.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "grad: ld < M");
}

int main(void) {
    srand(37);
    const int64_t sizes[] = {1, 2, 7, 8, 9, 17, 64, 130};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int in_place = 0; in_place < 2; in_place++)
            siglip_case(sizes[s], sizes[s], sizes[s], 0, 10.0f, -10.0f, in_place);
    siglip_case(33, 33, 41, 0, 10.0f, -10.0f, 0);
    siglip_case(33, 33, 41, 0, 3.0f, 0.5f, 1);
    siglip_case(50, 50, 50, 0, 60.0f, 5.0f, 0); /* |z| up to 65: sigmoid saturates on both sides */
    siglip_case(16, 100, 100, 40, 10.0f, -10.0f, 0); /* a block of rows 40..55 of a batch of 100 */
    siglip_case(16, 100, 104, 90, 10.0f, -10.0f, 1); /* the last block: rows 90..99 have positives, 100..105 none */
    grad_case(1, 1, 1, 0, 1, 0.5f, 0.0f);
    grad_case(32, 32, 32, 0, 128, -10.0f, 0.0f);
    /* the tiles' path where N >= 8 threads D (tiles_run), else the pass and two GEMMs */
    grad_case(300, 300, 304, 0, 17, -10.0f, 0.0f);    /* two bands, two tiles, a 44-column last tile */
    grad_case(257, 700, 700, 400, 129, 2.0f, 1.0f);   /* a block of rows 400..656 of 700, added into dB (few rows: no tiles) */
    grad_case(1100, 700, 700, 400, 65, 2.0f, 1.0f);   /* the same with tiles: D past one 64-column chunk */
    grad_case(200, 530, 536, 420, 12, -5.0f, 1.0f);   /* the last block: rows 530..619 have no positive */
    grad_case(520, 513, 513, 0, 20, -10.0f, 0.0f);    /* bands of 130, three tiles, one column past 512 */
    nan_case();
    errors_case();
    return finish("test_siglip");
}
