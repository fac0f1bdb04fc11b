/*
 * test_clip_xent.c - checks jnce_clip_xent_fwd_bwd against a plain double definition (softmax over each
 * row and over each column of the same matrix, the pairs on the diagonal): the three reductions,
 * in place and not, row stride padding, sizes around the 64-wide tiles and the 8- and 16-row chunks,
 * wide logit ranges (the two-exp tile form), a 64-byte-aligned matrix (streaming stores),
 * NaN/+Inf in a row and a column, and the argument errors.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

/* loss per pair and g = d loss / d X (of the sum for NONE, of the mean for MEAN). */
static void reference(const double *X, int64_t N, int reduction, double *pairs, double *g) {
    const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    double *rlse = malloc(sizeof(double) * N), *clse = malloc(sizeof(double) * N);
    for (int64_t i = 0; i < N; i++) {
        double mr = -INFINITY, mc = -INFINITY, sr = 0, sc = 0;
        for (int64_t j = 0; j < N; j++) mr = fmax(mr, X[i * N + j]), mc = fmax(mc, X[j * N + i]);
        for (int64_t j = 0; j < N; j++) sr += exp(X[i * N + j] - mr), sc += exp(X[j * N + i] - mc);
        rlse[i] = mr + log(sr), clse[i] = mc + log(sc);
        pairs[i] = 0.5 * (rlse[i] + clse[i]) - X[i * N + i];
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            g[i * N + j] = 0.5 * w * (exp(X[i * N + j] - rlse[i]) + exp(X[i * N + j] - clse[j])) - (i == j ? w : 0.0);
    free(rlse), free(clse);
}

static void clip_case(int64_t N, int64_t ld, int reduction, int in_place, float scale, float *S) {
    int own = S == NULL;
    if (own) {
        S = malloc(sizeof(float) * N * ld);
        for (int64_t k = 0; k < N * ld; k++) S[k] = NAN; /* padding: never read */
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < N; j++) S[i * ld + j] = scale * uniform_pm1();
    }
    float *Gsep = malloc(sizeof(float) * N * ld), *loss = malloc(sizeof(float) * N), *loss2 = malloc(sizeof(float) * N);
    double *X = malloc(sizeof(double) * N * N), *g = malloc(sizeof(double) * N * N), *pairs = malloc(sizeof(double) * N);
    for (int64_t k = 0; k < N * ld; k++) Gsep[k] = -7.0f; /* padding must stay as it was */
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) X[i * N + j] = S[i * ld + j];
    reference(X, N, reduction, pairs, g);
    if (!in_place) { /* forward only first: S is unchanged by it */
        CHECK(jnce_clip_xent_fwd_bwd(S, N, ld, reduction, loss2, NULL) == JNCE_OK, "forward-only status");
    }
    float *G = in_place ? S : Gsep;
    int32_t rc = jnce_clip_xent_fwd_bwd(S, N, ld, reduction, loss, G);
    CHECK(rc == JNCE_OK, "xent_clip status %d", rc);
    double worst_loss, worst_grad = 0, w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    if (reduction == JNCE_REDUCTION_NONE) {
        worst_loss = max_rel_error(loss, pairs, N);
    } else {
        double t = 0;
        for (int64_t i = 0; i < N; i++) t += pairs[i];
        if (reduction == JNCE_REDUCTION_MEAN) t /= (double)N;
        worst_loss = fabs(loss[0] - t) / fmax(1.0, fabs(t));
    }
    int padding_kept = 1;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < N; j++) worst_grad = worse(worst_grad, fabs(G[i * ld + j] - g[i * N + j]));
        for (int64_t j = N; j < ld; j++) padding_kept &= in_place ? isnan(G[i * ld + j]) : G[i * ld + j] == -7.0f;
    }
    CHECK(worst_loss <= 2e-6, "xent_clip N=%lld ld=%lld red=%d scale=%g loss error %g", (long long)N, (long long)ld,
          reduction, scale, worst_loss);
    CHECK(worst_grad <= 2e-6 * w, "xent_clip N=%lld ld=%lld red=%d inplace=%d scale=%g grad error %g (w %g)", (long long)N,
          (long long)ld, reduction, in_place, scale, worst_grad, w);
    CHECK(padding_kept, "xent_clip N=%lld ld=%lld wrote past column N", (long long)N, (long long)ld);
    if (!in_place)
        CHECK(memcmp(loss, loss2, sizeof(float) * (reduction == JNCE_REDUCTION_NONE ? N : 1)) == 0,
              "forward-only loss differs");
    if (own) free(S);
    free(Gsep), free(loss), free(loss2), free(X), free(g), free(pairs);
}

/* A 64-byte-aligned 256 x 256 matrix: whole aligned tile rows, the streaming-store path. */
static void aligned_case(void) {
    const int64_t N = 256;
    float *S = aligned_alloc(64, sizeof(float) * N * N);
    for (int64_t k = 0; k < N * N; k++) S[k] = 14.0f * uniform_pm1();
    clip_case(N, N, JNCE_REDUCTION_MEAN, 1, 0.0f, S);
    free(S);
}

/*
 * Row i shifted by step * i, noise of 2 on top. step 3 (N = 100): no tile has all its maxima
 * within the factored form's range, so the two-exp form runs, and row and column softmaxes differ
 * widely. step 0.1 (N = 200): the maxima spread over 20, so one shift cannot serve the whole
 * matrix and the gradient goes by tiles, factored where a tile's maxima lie close (the lower
 * rows' tiles, near the columns' maxima) and by two exps elsewhere; the row pass is not taken.
 */
static void shifted_rows_case(int64_t N, float step, int reduction, int in_place) {
    float *S = malloc(sizeof(float) * N * N);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) S[i * N + j] = step * (float)i + 2.0f * uniform_pm1();
    clip_case(N, N, reduction, in_place, 0.0f, S);
    free(S);
}

/*
 * A rise of the one-shift pass's shift: entries on the diagonal near 30 (every row's and
 * column's maximum), the rest near 0, and one row at 70 from column 100 on, 40 above the shift
 * its chunk started with (more than SHIFT_MARGIN): the sums so far are scaled to the new shift
 * partway through the chunk, and every row and column stays within reach of it.
 */
static void rising_case(int64_t N, int64_t row, float spike) {
    float *S = malloc(sizeof(float) * N * N);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            S[i * N + j] = (i == j ? 30.0f : (i == row && j >= 100 ? spike : 0.0f)) + 0.5f * uniform_pm1();
    clip_case(N, N, JNCE_REDUCTION_MEAN, 0, 0.0f, S);
    free(S);
}

/*
 * Rows or a column far below the others: odd rows 100 below the even ones in each chunk
 * (far): their exp(x - C) at the chunk's shift C underflows, so the one-shift pass (AVX-512)
 * must fail over to the two-exp pass; column 5 110 below every other entry (low column): its
 * sum at the shift underflows, the same.
 */
static void far_case(int low_column) {
    const int64_t N = 80;
    float *S = malloc(sizeof(float) * N * N);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            S[i * N + j] = low_column ? (j == 5 ? -80.0f : 30.0f) + 2.0f * uniform_pm1()
                                      : (i % 2 ? -70.0f : 30.0f) + 2.0f * uniform_pm1();
    clip_case(N, N, JNCE_REDUCTION_MEAN, 0, 0.0f, S);
    free(S);
}

static void nonfinite_case(void) {
    const int64_t N = 150;
    float *S = malloc(sizeof(float) * N * N), loss[150];
    for (int64_t k = 0; k < N * N; k++) S[k] = uniform_pm1();
    S[100 * N + 7] = NAN;      /* row 100, column 7 */
    S[20 * N + 9] = INFINITY;  /* row 20, column 9: an earlier chunk, the same 8 columns as 7 */
    CHECK(jnce_clip_xent_fwd_bwd(S, N, N, JNCE_REDUCTION_NONE, loss, S) == JNCE_OK, "nonfinite status");
    int ok_loss = 1;
    for (int64_t i = 0; i < N; i++) {
        int spoilt = i == 100 || i == 7 || i == 20 || i == 9;
        ok_loss &= spoilt ? isnan(loss[i]) : isfinite(loss[i]);
    }
    CHECK(ok_loss, "nonfinite: loss NaN for pairs 7, 9, 20 and 100 only");
    CHECK(isnan(S[100 * N + 140]) && isnan(S[20 * N + 0]) && isnan(S[140 * N + 7]) && isnan(S[3 * N + 9]) &&
          isfinite(S[3 * N + 8]) && isfinite(S[140 * N + 141]), "nonfinite: NaN in rows 20, 100 and columns 7, 9 only");
    free(S);
}

/*
 * jnce_clip_xent_grad against jnce_clip_xent_fwd_bwd's G multiplied in double: dA = alpha G B,
 * dB = alpha Gᵀ A, the loss bit for bit fwd_bwd's; sizes that cut the 256 x 256 tiles and the
 * vectors unevenly, padded rows; where the tiles run (tiles_run, logits within one shift) S left
 * as it was.
 */
static void grad_case(int64_t N, int64_t ld, int64_t D, int reduction, float scale) {
    const float alpha = 0.83f;
    const int64_t nl = reduction == JNCE_REDUCTION_NONE ? N : 1;
    float *S = malloc(sizeof(float) * N * ld), *S0 = malloc(sizeof(float) * N * ld), *G = malloc(sizeof(float) * N * ld),
          *A = random_floats(N * D), *B = random_floats(N * D), *dA = malloc(sizeof(float) * N * D), *dB = malloc(sizeof(float) * N * D),
          *loss = malloc(sizeof(float) * nl), *want = malloc(sizeof(float) * nl);
    for (int64_t k = 0; k < N * ld; k++) S[k] = NAN;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) S[i * ld + j] = scale * uniform_pm1();
    for (int64_t k = 0; k < N * D; k++) dA[k] = NAN, dB[k] = NAN; /* overwritten */
    memcpy(S0, S, sizeof(float) * N * ld);
    CHECK(jnce_clip_xent_fwd_bwd(S, N, ld, reduction, want, G) == JNCE_OK, "grad N=%lld: fwd_bwd status", (long long)N);
    CHECK(jnce_clip_xent_grad(S, N, ld, reduction, loss, A, B, D, alpha, dA, dB) == JNCE_OK, "grad N=%lld: status", (long long)N);
    CHECK(memcmp(loss, want, sizeof(float) * nl) == 0, "grad N=%lld: the loss differs from fwd_bwd's", (long long)N);
    if (tiles_run(N, D)) {
        int kept = 1;
        for (int64_t k = 0; k < N * ld; k++) kept &= memcmp(&S[k], &S0[k], sizeof(float)) == 0;
        CHECK(kept, "grad N=%lld: S changed on the tiles' path", (long long)N);
    }
    double worst = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t d = 0; d < D; d++) {
            double a = 0, as = 0, b = 0, bs = 0;
            for (int64_t j = 0; j < N; j++) {
                a += (double)G[i * ld + j] * B[j * D + d], as += fabs((double)G[i * ld + j] * B[j * D + d]);
                b += (double)G[j * ld + i] * A[j * D + d], bs += fabs((double)G[j * ld + i] * A[j * D + d]);
            }
            worst = worse(worst, fabs(dA[i * D + d] - alpha * a) / (alpha * as + 1e-30));
            worst = worse(worst, fabs(dB[i * D + d] - alpha * b) / (alpha * bs + 1e-30));
        }
    CHECK(worst <= 2e-6, "grad N=%lld ld=%lld D=%lld reduction=%d: relative error %g", (long long)N, (long long)ld, (long long)D,
          reduction, worst);
    free(S), free(S0), free(G), free(A), free(B), free(dA), free(dB), free(loss), free(want);
}

static void errors_case(void) {
    float S[4] = {0, 1, 2, 3}, loss[2];
    float A[2] = {1, 2}, dA[2], dB[2];
    CHECK(jnce_clip_xent_grad(S, 2, 2, JNCE_REDUCTION_MEAN, loss, NULL, A, 1, 1.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "grad: null A");
    CHECK(jnce_clip_xent_grad(S, 2, 2, JNCE_REDUCTION_MEAN, loss, A, A, 1, 1.0f, dA, NULL) == JNCE_ERR_INVALID_ARG, "grad: null dB");
    CHECK(jnce_clip_xent_grad(S, 2, 2, JNCE_REDUCTION_MEAN, loss, A, A, 0, 1.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "grad: D = 0");
    CHECK(jnce_clip_xent_grad(S, 2, 1, JNCE_REDUCTION_MEAN, loss, A, A, 1, 1.0f, dA, dB) == JNCE_ERR_INVALID_ARG, "grad: ld < N");
    CHECK(jnce_clip_xent_fwd_bwd(NULL, 2, 2, JNCE_REDUCTION_MEAN, loss, NULL) == JNCE_ERR_INVALID_ARG, "null S");
    CHECK(jnce_clip_xent_fwd_bwd(S, 2, 2, JNCE_REDUCTION_MEAN, NULL, NULL) == JNCE_ERR_INVALID_ARG, "null loss");
    CHECK(jnce_clip_xent_fwd_bwd(S, 2, 1, JNCE_REDUCTION_MEAN, loss, NULL) == JNCE_ERR_INVALID_ARG, "ld < N");
    CHECK(jnce_clip_xent_fwd_bwd(S, 0, 2, JNCE_REDUCTION_MEAN, loss, NULL) == JNCE_ERR_INVALID_ARG, "N = 0");
    CHECK(jnce_clip_xent_fwd_bwd(S, 2, 2, 7, loss, NULL) == JNCE_ERR_INVALID_ARG, "bad reduction");
}

int main(void) {
    srand(31);
    const int reductions[] = {JNCE_REDUCTION_NONE, JNCE_REDUCTION_MEAN, JNCE_REDUCTION_SUM};
    const int64_t sizes[] = {1, 2, 15, 16, 17, 63, 64, 65, 130, 200};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int r = 0; r < 3; r++)
            for (int in_place = 0; in_place < 2; in_place++) clip_case(sizes[s], sizes[s], reductions[r], in_place, 8.0f, NULL);
    clip_case(70, 83, JNCE_REDUCTION_MEAN, 0, 8.0f, NULL);
    clip_case(70, 83, JNCE_REDUCTION_NONE, 1, 8.0f, NULL);
    clip_case(129, 129, JNCE_REDUCTION_MEAN, 0, 100.0f, NULL); /* CLIP's largest logit scale */
    aligned_case();
    shifted_rows_case(100, 3.0f, JNCE_REDUCTION_SUM, 0);  /* maxima far apart: the two-exp tiles */
    shifted_rows_case(200, 0.1f, JNCE_REDUCTION_MEAN, 1); /* too far for one shift, close within tiles */
    rising_case(160, 3, 70.0f);   /* a rise past SHIFT_MARGIN partway through the first chunk */
    rising_case(160, 3, 55.0f);   /* entries up to 25 above the shift, within SHIFT_MARGIN: exp(S - C) > 1 */
    rising_case(3000, 2000, 70.0f); /* a rise in a later slice, after its shift started near 0 */
    far_case(0);
    far_case(1);
    nonfinite_case();
    grad_case(1, 1, 1, JNCE_REDUCTION_MEAN, 5.0f);
    grad_case(32, 32, 128, JNCE_REDUCTION_MEAN, 10.0f);
    /* the tiles' path where N >= 8 threads D (tiles_run), else pass 2 and two GEMMs */
    grad_case(300, 304, 17, JNCE_REDUCTION_MEAN, 10.0f);  /* two bands, two tiles, a 44-column last tile */
    grad_case(530, 530, 33, JNCE_REDUCTION_SUM, 14.0f);   /* bands of 133, a tile of 18 columns */
    grad_case(257, 272, 129, JNCE_REDUCTION_NONE, 3.0f);  /* few rows for D: no tiles */
    grad_case(1100, 1104, 65, JNCE_REDUCTION_MEAN, 8.0f); /* D past one 64-column chunk */
    errors_case();
    return finish("test_clip_xent");
}
