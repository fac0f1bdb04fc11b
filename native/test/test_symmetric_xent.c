/*
 * test_symmetric_xent.c - checks jnce_ssyrk against a double A Aᵀ (lower triangle written, upper
 * left alone) and jnce_symmetric_xent_fwd_bwd against a plain double cross-entropy over the mirrored
 * matrix: every offset kind, exclude_self, decoupled, the three reductions, in place and not,
 * sizes around the 64-wide tiles, NaN in the unread upper triangle, and a non-finite logit; and
 * jnce_symmetric_xent_grad / _labels_grad against the same kernel's full G + Gᵀ: the same loss
 * and the same H bit for bit where the gradient entry points keep it (below the diagonal and in
 * the 1024-row blocks along it), and df = alpha H f against a double product over that full H,
 * at sizes of one, two and three blocks (one of them a single row) and with a NaN row.
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

static void syrk_case(int64_t N, int64_t K) {
    float *A = random_floats(N * K), *C = malloc(sizeof(float) * N * N);
    for (int64_t k = 0; k < N * N; k++) C[k] = NAN;
    CHECK(jnce_ssyrk(N, K, 0.5f, A, K, C, N) == JNCE_OK, "ssyrk status");
    double worst = 0;
    int upper_touched = 0;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) {
            if (j > i) {
                upper_touched |= !isnan(C[i * N + j]);
                continue;
            }
            double s = 0;
            for (int64_t p = 0; p < K; p++) s += (double)A[i * K + p] * A[j * K + p];
            double e = fabs(C[i * N + j] - 0.5 * s);
            worst = worse(worst, e);
        }
    CHECK(worst <= 1e-5 * sqrt((double)K), "ssyrk N=%lld K=%lld error %g", (long long)N, (long long)K, worst);
    CHECK(!upper_touched, "ssyrk N=%lld wrote above the diagonal", (long long)N);
    free(A), free(C);
}

/* The reference: loss per row and H = g + gᵀ, from the full symmetric matrix X. */
static void reference(const double *X, int64_t N, int64_t offset, int exclude_self, int decoupled, int reduction,
                      double *loss_rows, double *H) {
    double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    double *g = calloc((size_t)(N * N), sizeof(double));
    for (int64_t i = 0; i < N; i++) {
        int64_t p = (i + offset) % N;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < N; j++)
            if (!(exclude_self && j == i) && !(decoupled && j == p)) m = fmax(m, X[i * N + j]);
        for (int64_t j = 0; j < N; j++)
            if (!(exclude_self && j == i) && !(decoupled && j == p)) s += exp(X[i * N + j] - m);
        double lse = m + log(s);
        loss_rows[i] = lse - X[i * N + p];
        for (int64_t j = 0; j < N; j++) {
            int cand = !(exclude_self && j == i) && !(decoupled && j == p);
            g[i * N + j] = w * ((cand ? exp(X[i * N + j] - lse) : 0.0) - (j == p ? 1.0 : 0.0));
        }
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) H[i * N + j] = g[i * N + j] + g[j * N + i];
    free(g);
}

/*
 * The lower triangle of S (row stride ld) and all of X, its mirrored double copy: scale * U(-1, 1)
 * with gram = 0; with gram = D, the Gram matrix scale * f fᵀ of N unit rows f of D features, as
 * the one-tensor forms give (S = f fᵀ / tau), whose entries lie within its diagonal's.
 */
static void fill_lower(float *S, int64_t ld, double *X, int64_t N, int64_t gram, float scale) {
    double *f = malloc(sizeof(double) * (size_t)(N * (gram > 0 ? gram : 1)));
    for (int64_t i = 0; gram > 0 && i < N; i++) {
        double norm = 0;
        for (int64_t p = 0; p < gram; p++) f[i * gram + p] = uniform_pm1(), norm += f[i * gram + p] * f[i * gram + p];
        for (int64_t p = 0; p < gram; p++) f[i * gram + p] /= sqrt(norm);
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double dot = 0;
            for (int64_t p = 0; p < gram; p++) dot += f[i * gram + p] * f[j * gram + p];
            float v = gram > 0 ? (float)(scale * dot) : scale * uniform_pm1();
            S[i * ld + j] = v;
            X[i * N + j] = X[j * N + i] = v;
        }
    free(f);
}

static void xent_case(int64_t N, int64_t ld, int64_t offset, int exclude_self, int decoupled, int reduction,
                      int in_place, float scale, int64_t gram) {
    float *S = malloc(sizeof(float) * N * ld), *Gsep = malloc(sizeof(float) * N * ld);
    double *X = malloc(sizeof(double) * N * N), *H = malloc(sizeof(double) * N * N), *rows = malloc(sizeof(double) * N);
    for (int64_t k = 0; k < N * ld; k++) S[k] = NAN, Gsep[k] = NAN; /* upper triangle and padding: never read */
    fill_lower(S, ld, X, N, gram, scale);
    reference(X, N, offset, exclude_self, decoupled, reduction, rows, H);
    float loss[N];
    float *G = in_place ? S : Gsep;
    int32_t rc = jnce_symmetric_xent_fwd_bwd(S, N, ld, offset, exclude_self, decoupled, reduction, loss, G);
    CHECK(rc == JNCE_OK, "xent_symmetric status %d", rc);
    double worst_loss = 0, worst_grad = 0;
    if (reduction == JNCE_REDUCTION_NONE) {
        worst_loss = max_rel_error(loss, rows, N);
    } else {
        double t = 0;
        for (int64_t i = 0; i < N; i++) t += rows[i];
        if (reduction == JNCE_REDUCTION_MEAN) t /= (double)N;
        worst_loss = fabs(loss[0] - t) / fmax(1.0, fabs(t));
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) {
            double e = fabs(G[i * ld + j] - H[i * N + j]);
            worst_grad = worse(worst_grad, e);
        }
    double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)N : 1.0;
    CHECK(worst_loss <= 2e-6, "xent_symmetric N=%lld offset=%lld self=%d dec=%d red=%d loss error %g", (long long)N,
          (long long)offset, exclude_self, decoupled, reduction, worst_loss);
    CHECK(worst_grad <= 2e-6 * w, "xent_symmetric N=%lld offset=%lld self=%d dec=%d red=%d inplace=%d grad error %g",
          (long long)N, (long long)offset, exclude_self, decoupled, reduction, in_place, worst_grad);

    /* forward only gives the same loss */
    float loss2[N];
    if (!in_place) {
        CHECK(jnce_symmetric_xent_fwd_bwd(S, N, ld, offset, exclude_self, decoupled, reduction, loss2, NULL) == JNCE_OK,
              "forward-only status");
        CHECK(memcmp(loss, loss2, sizeof(float) * (reduction == JNCE_REDUCTION_NONE ? N : 1)) == 0,
              "forward-only loss differs");
    }
    free(S), free(Gsep), free(X), free(H), free(rows);
}

/* A 64-byte-aligned 256 x 256 matrix: whole aligned tile rows, the streaming-store path. */
static void aligned_case(void) {
    const int64_t N = 256;
    float *S = aligned_alloc(64, sizeof(float) * N * N), loss;
    double *X = malloc(sizeof(double) * N * N), *H = malloc(sizeof(double) * N * N), *rows = malloc(sizeof(double) * N);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) S[i * N + j] = S[j * N + i] = 10.0f * uniform_pm1();
    for (int64_t k = 0; k < N * N; k++) X[k] = S[k];
    reference(X, N, N / 2, 1, 0, JNCE_REDUCTION_MEAN, rows, H);
    CHECK(jnce_symmetric_xent_fwd_bwd(S, N, N, N / 2, 1, 0, JNCE_REDUCTION_MEAN, &loss, S) == JNCE_OK, "aligned status");
    double worst = 0;
    for (int64_t k = 0; k < N * N; k++) worst = worse(worst, fabs(S[k] - H[k]));
    CHECK(worst <= 2e-6 / (double)N, "aligned grad error %g", worst);
    free(S), free(X), free(H), free(rows);
}

/*
 * Label targets (SupCon): the float64 definition over the mirrored matrix, in place and not, and
 * the same results from int32 labels.
 * With skip, rows 0 and N-1 get labels no other row has and are left out.
 */
static void labels_case(int64_t N, int64_t classes, int reduction, int in_place, int skip, int64_t gram) {
    float *S = malloc(sizeof(float) * N * N), *Gsep = malloc(sizeof(float) * N * N);
    double *X = malloc(sizeof(double) * N * N), *H = malloc(sizeof(double) * N * N), *g = calloc(N * N, sizeof(double));
    double *rows = malloc(sizeof(double) * N);
    int64_t *labels = malloc(sizeof(int64_t) * N);
    for (int64_t i = 0; i < N; i++) labels[i] = (i * 7) % classes; /* every class on >= 2 rows when N >= 2 classes */
    if (skip) labels[0] = 1000, labels[N - 1] = 1001;
    for (int64_t k = 0; k < N * N; k++) S[k] = NAN, Gsep[k] = NAN;
    fill_lower(S, N, X, N, gram, 12.0f);
    const int64_t counted = N - 2 * skip;
    double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)counted : 1.0, total = 0;
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, sum = 0, pos = 0;
        int64_t count = 0;
        if (skip && (i == 0 || i == N - 1)) {
            rows[i] = 0.0; /* and g's row stays 0 */
            continue;
        }
        for (int64_t j = 0; j < N; j++)
            if (j != i) m = fmax(m, X[i * N + j]);
        for (int64_t j = 0; j < N; j++)
            if (j != i) sum += exp(X[i * N + j] - m);
        for (int64_t j = 0; j < N; j++)
            if (j != i && labels[j] == labels[i]) pos += X[i * N + j], count++;
        double lse = m + log(sum);
        rows[i] = lse - pos / (double)count;
        total += rows[i];
        for (int64_t j = 0; j < N; j++)
            g[i * N + j] = j == i ? 0.0 : w * (exp(X[i * N + j] - lse) - (labels[j] == labels[i] ? 1.0 / (double)count : 0.0));
    }
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) H[i * N + j] = g[i * N + j] + g[j * N + i];
    float loss[N];
    float *G = in_place ? S : Gsep;
    CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, N, N, labels, JNCE_DTYPE_INT64, skip, reduction, loss, G) == JNCE_OK, "labels status");
    double want = reduction == JNCE_REDUCTION_MEAN ? total / (double)counted : total;
    double worst_loss = reduction == JNCE_REDUCTION_NONE ? max_rel_error(loss, rows, N) : fabs(loss[0] - want) / fmax(1.0, fabs(want));
    double worst = 0;
    for (int64_t k = 0; k < N * N; k++) worst = worse(worst, fabs(G[k] - H[k]));
    CHECK(worst_loss <= 2e-6, "labels N=%lld classes=%lld red=%d loss error %g", (long long)N, (long long)classes, reduction,
          worst_loss);
    CHECK(worst <= 2e-6 * w, "labels N=%lld classes=%lld red=%d inplace=%d skip=%d grad error %g", (long long)N,
          (long long)classes, reduction, in_place, skip, worst);
    if (!in_place) { /* int32 labels give the same loss and gradient */
        int32_t *labels32 = malloc(sizeof(int32_t) * N);
        float *again = malloc(sizeof(float) * N), *G2 = malloc(sizeof(float) * N * N);
        for (int64_t i = 0; i < N; i++) labels32[i] = (int32_t)labels[i];
        CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, N, N, labels32, JNCE_DTYPE_INT32, skip, reduction, again, G2) == JNCE_OK,
              "int32 labels status");
        CHECK(memcmp(loss, again, sizeof(float) * (reduction == JNCE_REDUCTION_NONE ? N : 1)) == 0, "int32 labels: loss differs");
        CHECK(memcmp(G, G2, sizeof(float) * N * N) == 0, "int32 labels: gradient differs");
        CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, N, N, labels32, 9, skip, reduction, again, NULL) == JNCE_ERR_INVALID_ARG,
              "an unknown label dtype is rejected");
        free(labels32), free(again), free(G2);
    }
    labels[N - 1] = 1000 + N; /* a label on one row only */
    CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, N, N, labels, JNCE_DTYPE_INT64, 0, reduction, loss, NULL) == JNCE_ERR_INVALID_ARG,
          "a row without positive is rejected");
    free(S), free(Gsep), free(X), free(H), free(g), free(rows), free(labels);
}

static void nonfinite_case(void) {
    const int64_t N = 70;
    float *S = malloc(sizeof(float) * N * N), loss[70];
    for (int64_t k = 0; k < N * N; k++) S[k] = uniform_pm1();
    S[66 * N + 3] = INFINITY; /* rows 66 and 3 */
    CHECK(jnce_symmetric_xent_fwd_bwd(S, N, N, 1, 0, 0, JNCE_REDUCTION_NONE, loss, S) == JNCE_OK, "nonfinite status");
    CHECK(isnan(loss[66]) && isnan(loss[3]) && !isnan(loss[5]), "nonfinite: loss NaN only in rows 3 and 66");
    CHECK(isnan(S[66 * N + 10]) && isnan(S[10 * N + 66]) && isnan(S[3 * N + 3]) && !isnan(S[10 * N + 11]),
          "nonfinite: NaN in the rows and columns 3 and 66 only");
    free(S);

    /* the same on a Gram matrix, where the one-shift pass 1 meets the NaN or +Inf and gives way */
    for (int bad = 0; bad < 3; bad++) {
        float *P = malloc(sizeof(float) * N * N), lossP[70];
        double *X = malloc(sizeof(double) * N * N);
        fill_lower(P, N, X, N, 16, 1.0f / 0.07f);
        P[66 * N + 3] = bad == 0 ? INFINITY : NAN;
        if (bad == 2) P[66 * N + 3] = P[66 * N + 66], P[40 * N + 40] = NAN; /* a NaN on the diagonal, row 40 */
        CHECK(jnce_symmetric_xent_fwd_bwd(P, N, N, 1, 0, 0, JNCE_REDUCTION_NONE, lossP, P) == JNCE_OK, "gram nonfinite status");
        if (bad < 2)
            CHECK(isnan(lossP[66]) && isnan(lossP[3]) && !isnan(lossP[5]) && isnan(P[66 * N + 10]) && isnan(P[10 * N + 3]) &&
                      !isnan(P[10 * N + 11]), "gram nonfinite %d: NaN in the rows and columns 3 and 66 only", bad);
        else
            CHECK(isnan(lossP[40]) && !isnan(lossP[66]) && isnan(P[40 * N + 10]) && isnan(P[10 * N + 40]) && !isnan(P[10 * N + 11]),
                  "gram nonfinite: a NaN diagonal makes row and column 40 NaN only");
        free(P), free(X);
    }

    /* a NaN early in a column that later row chunks still pass over: the flag must stay */
    const int64_t M = 200;
    float *U = malloc(sizeof(float) * M * M), lossU[200];
    for (int64_t k = 0; k < M * M; k++) U[k] = uniform_pm1();
    U[20 * M + 3] = NAN;      /* rows 20 and 3 */
    U[40 * M + 5] = INFINITY; /* rows 40 and 5: a later chunk, the same 8 columns */
    CHECK(jnce_symmetric_xent_fwd_bwd(U, M, M, M / 2, 1, 0, JNCE_REDUCTION_NONE, lossU, NULL) == JNCE_OK, "nonfinite status");
    CHECK(isnan(lossU[3]) && isnan(lossU[20]) && isnan(lossU[5]) && isnan(lossU[40]) && !isnan(lossU[4]) &&
          !isnan(lossU[199]), "nonfinite: loss NaN in rows 3, 5, 20 and 40 only");
    free(U);
}

/*
 * The gradient entry points against jnce_symmetric_xent_fwd_bwd's full H = g + gᵀ (itself checked
 * against float64 above): the same loss bits; wherever the entry point keeps H (j <= i, or i and
 * j in one 1024-row block), the same H bits within the diagonal blocks, and left of them within
 * 1e-5 relative (one shift for every row there, the tiles' own shifts in the full H) or the same
 * bits where the row maxima spread too far for one shift (spread: every fifth row scaled to 1/20,
 * its largest logit near 0 where the others' are near 1/0.07) or a row is NaN; and df = alpha H f
 * within float rounding of a double product over the full H. Where the CPU has AVX-512 and one
 * shift serves every row, H left of the diagonal blocks is formed in tiles and multiplied in
 * the cache, never stored: there S still holds the logits, and df alone checks it. labels != 0: SupCon label targets
 * over that many classes (rows 0 and N - 1 without positive when skip). bad >= 0 puts +Inf at
 * (bad, 3): rows bad and 3 are NaN and so is every row of df.
 */

static void grad_case(int64_t N, int64_t ld, int64_t D, int64_t offset, int self, int dec, int reduction, int64_t classes,
                      int skip, int64_t bad, int spread) {
    const int64_t block = 1024;
    const float alpha = 1.0f / 0.07f;
    float *f = random_floats(N * D), *S = malloc(sizeof(float) * N * ld), *G = malloc(sizeof(float) * N * ld);
    float *df = malloc(sizeof(float) * N * D), *loss = malloc(sizeof(float) * N), *loss_full = malloc(sizeof(float) * N);
    int64_t *labels = malloc(sizeof(int64_t) * N);
    for (int64_t i = 0; i < N; i++) {
        double norm = 0;
        for (int64_t p = 0; p < D; p++) norm += (double)f[i * D + p] * f[i * D + p];
        const double scale = spread && i % 5 == 0 ? 0.05 : 1.0;
        for (int64_t p = 0; p < D; p++) f[i * D + p] = (float)(f[i * D + p] * scale / sqrt(norm));
        labels[i] = (i * 7) % (classes > 0 ? classes : 1);
    }
    if (skip) labels[0] = 1000, labels[N - 1] = 1001;
    for (int64_t k = 0; k < N * ld; k++) S[k] = NAN; /* above the diagonal and the padding: never read */
    CHECK(jnce_ssyrk(N, D, alpha, f, D, S, ld) == JNCE_OK, "grad: ssyrk status");
    if (bad >= 0) S[bad * ld + 3] = INFINITY;
    memcpy(G, S, sizeof(float) * N * ld);
    float *S0 = malloc(sizeof(float) * N * ld);
    memcpy(S0, S, sizeof(float) * N * ld);
    int32_t full, rc;
    if (classes > 0) {
        full = jnce_symmetric_xent_labels_fwd_bwd(G, N, ld, labels, JNCE_DTYPE_INT64, skip, reduction, loss_full, G);
        rc = jnce_symmetric_xent_labels_grad(S, N, ld, labels, JNCE_DTYPE_INT64, skip, reduction, loss, alpha, f, D, df);
    } else {
        full = jnce_symmetric_xent_fwd_bwd(G, N, ld, offset, self, dec, reduction, loss_full, G);
        rc = jnce_symmetric_xent_grad(S, N, ld, offset, self, dec, reduction, loss, alpha, f, D, df);
    }
    CHECK(full == JNCE_OK && rc == JNCE_OK, "grad N=%lld: status %d / %d", (long long)N, full, rc);
    CHECK(memcmp(loss, loss_full, sizeof(float) * (reduction == JNCE_REDUCTION_NONE ? N : 1)) == 0,
          "grad N=%lld classes=%lld red=%d: loss differs from jnce_symmetric_xent_fwd_bwd's", (long long)N, (long long)classes,
          reduction);
    int64_t kept_differs = 0, kept_far = 0, df_nan = 0;
    const int exact = spread || bad >= 0; /* the tiles' own shifts everywhere */
    /* the fused tiles (N past one block): S left of the blocks keeps its logits (S = alpha f fᵀ) */
    const int fused = !exact && N > block && avx512_kernels();
    /* label targets: a pair of one label holds w (p_ij + p_ji) - w / |P(i)| - w / |P(j)|, which can
       cancel to far below its terms; its error is judged against the targets' size as well */
    double *target = calloc((size_t)N, sizeof(double));
    if (classes > 0) {
        int64_t counted = 0;
        for (int64_t i = 0; i < N; i++) {
            int64_t positives = 0;
            for (int64_t j = 0; j < N; j++) positives += j != i && labels[j] == labels[i];
            target[i] = positives > 0 ? 1.0 / (double)positives : 0.0;
            counted += positives > 0 || !skip;
        }
        const double w = reduction == JNCE_REDUCTION_MEAN ? 1.0 / (double)counted : 1.0;
        for (int64_t i = 0; i < N; i++) target[i] *= w;
    }
    double worst = 0;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < N; j++) {
            const float h = S[i * ld + j], want = G[i * ld + j];
            if (i / block == j / block || (exact && j <= i)) {
                if (memcmp(&h, &want, sizeof(float)) != 0) kept_differs++;
            } else if (j < i && fused) {
                const float logit = S0[i * ld + j];
                if (memcmp(&h, &logit, sizeof(float)) != 0) kept_far++; /* the fused tiles write nothing there */
            } else if (j < i && !(fabsf(h - want) <= 1e-5 * (fabsf(want) + (classes > 0 && labels[i] == labels[j]
                                                                                ? target[i] + target[j] : 0.0)) + 1e-35)) {
                kept_far++;
            }
        }
        for (int64_t p = 0; p < D; p++) {
            double want = 0, scale = 0;
            for (int64_t j = 0; j < N; j++) {
                want += (double)G[i * ld + j] * f[j * D + p];
                scale += fabs((double)G[i * ld + j] * f[j * D + p]);
            }
            want *= alpha, scale *= alpha;
            if (isnan(want)) {
                df_nan += isnan(df[i * D + p]) ? 1 : 0;
                continue;
            }
            double e = fabs(df[i * D + p] - want) / fmax(scale, 1e-30);
            worst = worse(worst, e);
        }
    }
    CHECK(kept_differs == 0, "grad N=%lld classes=%lld spread=%d: %lld kept entries of H differ from the full H", (long long)N,
          (long long)classes, spread, (long long)kept_differs);
    CHECK(kept_far == 0, "grad N=%lld classes=%lld fused=%d: %lld entries left of the diagonal blocks beyond 1e-5 of the full H"
          " (fused: not the logits they held)", (long long)N, (long long)classes, fused, (long long)kept_far);
    CHECK(worst <= 1e-5, "grad N=%lld ld=%lld D=%lld offset=%lld self=%d dec=%d red=%d classes=%lld: df error %g of its scale",
          (long long)N, (long long)ld, (long long)D, (long long)offset, self, dec, reduction, (long long)classes, worst);
    if (bad >= 0)
        CHECK(df_nan == N * D && isnan(loss_full[bad]) && isnan(loss_full[3]), "grad: a +Inf logit makes every row of df NaN (%lld of %lld)",
              (long long)df_nan, (long long)(N * D));
    free(f), free(S), free(S0), free(G), free(df), free(loss), free(loss_full), free(labels), free(target);
}

int main(void) {
    srand(7);
    syrk_case(1, 3);
    syrk_case(70, 17);
    syrk_case(3, 20); /* C rows narrower than a 4-column tile */
    syrk_case(129, 64);
    CHECK(jnce_ssyrk(0, 3, 1.0f, NULL, 3, NULL, 0) == JNCE_ERR_INVALID_ARG, "ssyrk rejects N=0");

    const int64_t sizes[] = {2, 5, 63, 64, 65, 130, 200};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int64_t N = sizes[s];
        int64_t offsets[] = {0, 1, N / 2, N - 1};
        for (int o = 0; o < 4; o++)
            for (int self = 0; self <= 1; self++)
                for (int dec = 0; dec <= 1; dec++) {
                    if (self && offsets[o] == 0) continue;
                                    if (N - self - dec < 1) continue;
                    for (int red = 0; red <= 2; red++) {
                        xent_case(N, N + (s % 2) * 3, offsets[o], self, dec, red, red == 1, 1.0f / 0.07f, 0);
                        /* Gram matrices: where the CPU has AVX-512, pass 1 with one shift for all rows */
                        xent_case(N, N + (s % 2) * 3, offsets[o], self, dec, red, red != 1, 1.0f / 0.07f, 16);
                    }
                }
    }
    xent_case(300, 300, 150, 1, 0, JNCE_REDUCTION_MEAN, 1, 50.0f, 0); /* a wide range of logits */
    xent_case(300, 300, 150, 1, 0, JNCE_REDUCTION_MEAN, 0, 1.0f / 0.07f, 4); /* few features: close rows */
    /* tau = 0.005: a row's largest candidate lies further than 50 below the diagonal, so the
     * one-shift pass does not hold and the general one runs after it */
    xent_case(300, 300, 150, 1, 0, JNCE_REDUCTION_NONE, 0, 200.0f, 64);
    xent_case(130, 133, 65, 1, 0, JNCE_REDUCTION_SUM, 1, 200.0f, 64);
    aligned_case();
    for (int red = 0; red <= 2; red++) {
        for (int64_t gram = 0; gram <= 16; gram += 16) {
            labels_case(6, 2, red, red == 1, 0, gram);
            labels_case(150, 5, red, red != 1, 0, gram);
            labels_case(130, 65, red, 0, 0, gram); /* pairs: NT-Xent-like */
            labels_case(70, 1, red, 1, 0, gram);   /* one class: every other row is a positive */
            labels_case(7, 2, red, red == 1, 1, gram);
            labels_case(150, 5, red, red != 1, 1, gram);
        }
    }
    { /* every row skipped: NONE and SUM give 0, MEAN NaN; the gradient is 0 */
        float S[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, loss3[3], sum, mean;
        const int64_t distinct[3] = {1, 2, 3};
        CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, 3, 3, distinct, JNCE_DTYPE_INT64, 1, JNCE_REDUCTION_NONE, loss3, NULL) == JNCE_OK &&
                  loss3[0] == 0 && loss3[1] == 0 && loss3[2] == 0, "all skipped: NONE gives 0");
        CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, 3, 3, distinct, JNCE_DTYPE_INT64, 1, JNCE_REDUCTION_SUM, &sum, NULL) == JNCE_OK && sum == 0,
              "all skipped: SUM gives 0");
        CHECK(jnce_symmetric_xent_labels_fwd_bwd(S, 3, 3, distinct, JNCE_DTYPE_INT64, 1, JNCE_REDUCTION_MEAN, &mean, S) == JNCE_OK && isnan(mean),
              "all skipped: MEAN gives NaN");
        for (int k = 0; k < 9; k++) CHECK(S[k] == 0.0f, "all skipped: gradient 0 at %d, got %g", k, S[k]);
    }
    nonfinite_case();
    grad_case(5, 5, 3, 1, 0, 0, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);            /* one block, one GEMM */
    grad_case(1025, 1025, 1, 1, 0, 0, JNCE_REDUCTION_SUM, 0, 0, -1, 0);       /* a last block of one row, D = 1 */
    grad_case(1100, 1103, 16, 550, 1, 0, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);   /* NT-Xent */
    grad_case(1100, 1100, 16, 0, 0, 0, JNCE_REDUCTION_NONE, 0, 0, -1, 0);     /* the diagonal form */
    grad_case(1100, 1100, 16, 7, 1, 1, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);     /* decoupled */
    grad_case(2300, 2300, 8, 1150, 1, 0, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);   /* three blocks */
    grad_case(1100, 1100, 16, 0, 1, 0, JNCE_REDUCTION_MEAN, 40, 0, -1, 0);    /* SupCon */
    grad_case(1100, 1101, 16, 0, 1, 0, JNCE_REDUCTION_SUM, 40, 1, -1, 0);     /* rows without positive, skipped */
    grad_case(1100, 1100, 16, 550, 1, 0, JNCE_REDUCTION_NONE, 0, 0, 1050, 0); /* a +Inf logit */
    grad_case(2300, 2301, 8, 2295, 1, 1, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);   /* decoupled, (i, p(i)) left of the blocks */
    grad_case(2300, 2300, 8, 1150, 1, 0, JNCE_REDUCTION_SUM, 0, 0, -1, 1);    /* maxima too far apart for one shift */
    grad_case(2300, 2300, 16, 0, 1, 0, JNCE_REDUCTION_MEAN, 40, 0, -1, 1);    /* the same, SupCon */
    grad_case(2048, 2064, 8, 1024, 1, 0, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);   /* the row stride the Java side pads 2048 to */
    grad_case(2048, 2064, 16, 0, 1, 0, JNCE_REDUCTION_MEAN, 40, 0, -1, 0);    /* the same, SupCon */
    /* the fused tiles (AVX-512): D past one 64-column step and not a multiple of 16, row blocks
     * cut by N, tiles cut by the width, label groups that span several tiles (2 classes) */
    grad_case(2900, 2903, 70, 1450, 1, 0, JNCE_REDUCTION_MEAN, 0, 0, -1, 0);
    grad_case(3400, 3400, 129, 0, 0, 0, JNCE_REDUCTION_NONE, 0, 0, -1, 0);
    grad_case(2900, 2900, 33, 0, 1, 0, JNCE_REDUCTION_SUM, 2, 0, -1, 0);
    grad_case(2900, 2916, 20, 0, 1, 0, JNCE_REDUCTION_MEAN, 300, 1, -1, 0);
    {
        float S4[4] = {0}, f2[2] = {1, 1}, d2[2], l;
        CHECK(jnce_symmetric_xent_grad(S4, 2, 2, 1, 0, 0, JNCE_REDUCTION_MEAN, &l, 1.0f, NULL, 1, d2) == JNCE_ERR_INVALID_ARG,
              "grad: null f rejected");
        CHECK(jnce_symmetric_xent_grad(S4, 2, 2, 1, 0, 0, JNCE_REDUCTION_MEAN, &l, 1.0f, f2, 0, d2) == JNCE_ERR_INVALID_ARG,
              "grad: D = 0 rejected");
        CHECK(jnce_symmetric_xent_grad(S4, 2, 2, 0, 1, 0, JNCE_REDUCTION_MEAN, &l, 1.0f, f2, 1, d2) == JNCE_ERR_INVALID_ARG,
              "grad: the targets' checks apply");
        CHECK(jnce_symmetric_xent_labels_grad(S4, 2, 2, NULL, JNCE_DTYPE_INT64, 0, JNCE_REDUCTION_MEAN, &l, 1.0f, f2, 1, d2) ==
                  JNCE_ERR_INVALID_ARG, "grad: null labels rejected");
    }
    float loss;
    CHECK(jnce_symmetric_xent_fwd_bwd(&loss, 1, 1, 0, 1, 0, JNCE_REDUCTION_MEAN, &loss, NULL) == JNCE_ERR_INVALID_ARG,
          "exclude_self with offset 0 rejected");
    float two[4] = {0};
    CHECK(jnce_symmetric_xent_fwd_bwd(two, 2, 2, 1, 1, 1, JNCE_REDUCTION_MEAN, &loss, NULL) == JNCE_ERR_INVALID_ARG,
          "a row with no candidate rejected");
    return finish("test_symmetric_xent");
}
