/*
 * test_similarity.c - checks jnce_sgemm (every transpose combination, odd sizes), the L2
 * normalisation and the row cosine similarity, forward and backward, against plain double
 * references (backward also against finite differences of the double forward).
 */
#include <math.h>
#include <string.h>

#include "jnce.h"
#include "check.h"

static void gemm_case_beta(int ta, int tb, int64_t M, int64_t N, int64_t K, float beta) {
    float *A = random_floats(M * K), *B = random_floats(K * N), *C = random_floats(M * N);
    double *want = malloc(sizeof(double) * M * N);
    const float alpha = 0.75f;
    if (beta == 0.0f)
        for (int64_t i = 0; i < M * N; i++) C[i] = NAN; /* beta = 0 must not read C */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t p = 0; p < K; p++)
                s += (double)(ta ? A[p * M + i] : A[i * K + p]) * (tb ? B[j * K + p] : B[p * N + j]);
            want[i * N + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)C[i * N + j]);
        }
    int32_t rc = jnce_sgemm(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
    CHECK(rc == JNCE_OK, "sgemm status %d", rc);
    CHECK(max_error(C, want, M * N) <= 1e-5 * sqrt((double)K) + 1e-6, "sgemm ta=%d tb=%d %lldx%lldx%lld error %g", ta,
          tb, (long long)M, (long long)N, (long long)K, max_error(C, want, M * N));
    free(A); free(B); free(C); free(want);
}

static void gemm_case(int ta, int tb, int64_t M, int64_t N, int64_t K) {
    gemm_case_beta(ta, tb, M, N, K, -0.5f);
}

static double norm_ref(const float *x, int64_t D, double eps) {
    double s = 0;
    for (int64_t j = 0; j < D; j++) s += (double)x[j] * x[j];
    return fmax(sqrt(s), eps);
}

static void normalize_case(int64_t N, int64_t D, float eps) {
    float *x = random_floats(N * D), *dy = random_floats(N * D), *y = malloc(sizeof(float) * N * D);
    for (int64_t j = 0; j < D; j++) x[j] = 0.0f;           /* a zero row */
    if (N > 1) for (int64_t j = 0; j < D; j++) x[D + j] *= 1e-14f; /* a row below eps */
    double *want = malloc(sizeof(double) * N * D), *want_dx = malloc(sizeof(double) * N * D);
    for (int64_t i = 0; i < N; i++) {
        const float *r = x + i * D;
        double c = norm_ref(r, D, eps), dot = 0;
        for (int64_t j = 0; j < D; j++) want[i * D + j] = r[j] / c, dot += r[j] * (double)dy[i * D + j];
        for (int64_t j = 0; j < D; j++)
            want_dx[i * D + j] = norm_ref(r, D, 0) < eps ? dy[i * D + j] / (double)eps
                                                        : dy[i * D + j] / c - r[j] * dot / (c * c * c);
    }
    CHECK(jnce_l2_normalize_fwd(x, N, D, eps, y) == JNCE_OK, "normalize status");
    CHECK(max_error(y, want, N * D) <= 1e-6, "normalize N=%lld D=%lld error %g", (long long)N, (long long)D,
          max_error(y, want, N * D));
    CHECK(jnce_l2_normalize_bwd(x, dy, N, D, eps, y) == JNCE_OK, "normalize_bwd status");
    CHECK(max_rel_error(y, want_dx, N * D) <= 1e-5, "normalize_bwd N=%lld D=%lld error %g", (long long)N,
          (long long)D, max_rel_error(y, want_dx, N * D));
    free(x); free(dy); free(y); free(want); free(want_dx);
}

/* A result of at least 32 MiB, 64-byte aligned, is written by streaming stores on AVX-512: the
 * same bits as the same rows normalised in calls small enough for plain stores. */
static void streamed_matches_plain(void) {
    const int64_t N = 32768, D = 256, chunk = 1024;
    const size_t bytes = sizeof(float) * (size_t)(N * D);
    float *x = aligned_alloc(64, bytes), *dy = aligned_alloc(64, bytes), *big = aligned_alloc(64, bytes),
          *small = aligned_alloc(64, bytes);
    for (int64_t k = 0; k < N * D; k++) x[k] = uniform_pm1(), dy[k] = uniform_pm1();
    for (int64_t j = 0; j < D; j++) x[5 * D + j] = 0.0f, x[9 * D + j] *= 1e-14f; /* a zero row, a row below eps */
    CHECK(jnce_l2_normalize_fwd(x, N, D, 1e-12f, big) == JNCE_OK, "normalize status");
    for (int64_t i = 0; i < N; i += chunk)
        CHECK(jnce_l2_normalize_fwd(x + i * D, chunk, D, 1e-12f, small + i * D) == JNCE_OK, "normalize status");
    CHECK(memcmp(big, small, bytes) == 0, "normalize (%lld, %lld) in one call differs from its rows in calls of %lld",
          (long long)N, (long long)D, (long long)chunk);
    CHECK(jnce_l2_normalize_bwd(x, dy, N, D, 1e-12f, big) == JNCE_OK, "normalize_bwd status");
    for (int64_t i = 0; i < N; i += chunk)
        CHECK(jnce_l2_normalize_bwd(x + i * D, dy + i * D, chunk, D, 1e-12f, small + i * D) == JNCE_OK, "normalize_bwd status");
    CHECK(memcmp(big, small, bytes) == 0, "normalize_bwd (%lld, %lld) in one call differs from its rows in calls of %lld",
          (long long)N, (long long)D, (long long)chunk);
    free(x); free(dy); free(big); free(small);
}

static double cosine_ref(const float *a, const float *b, int64_t D, double eps) {
    double s = 0;
    for (int64_t j = 0; j < D; j++) s += (double)a[j] * b[j];
    return s / (norm_ref(a, D, eps) * norm_ref(b, D, eps));
}

static void cosine_case(int64_t N, int64_t D) {
    const float eps = 1e-8f;
    float *x1 = random_floats(N * D), *x2 = random_floats(N * D), *dout = random_floats(N);
    float *out = malloc(sizeof(float) * N), *dx1 = malloc(sizeof(float) * N * D), *dx2 = malloc(sizeof(float) * N * D);
    double *want = malloc(sizeof(double) * N), *g1 = malloc(sizeof(double) * N * D), *g2 = malloc(sizeof(double) * N * D);
    for (int64_t i = 0; i < N; i++) {
        want[i] = cosine_ref(x1 + i * D, x2 + i * D, D, eps);
        /* central differences of dout * cos in double; the inputs stay float */
        for (int64_t j = 0; j < D; j++) {
            float *xs[2] = {x1 + i * D, x2 + i * D};
            double *gs[2] = {g1, g2};
            for (int w = 0; w < 2; w++) {
                float saved = xs[w][j];
                double h = 1e-3 * fmax(1.0, fabs(saved));
                xs[w][j] = (float)(saved + h);
                double hp = xs[w][j] - (double)saved, up = cosine_ref(x1 + i * D, x2 + i * D, D, eps);
                xs[w][j] = (float)(saved - h);
                double hm = (double)saved - xs[w][j], down = cosine_ref(x1 + i * D, x2 + i * D, D, eps);
                xs[w][j] = saved;
                gs[w][i * D + j] = dout[i] * (up - down) / (hp + hm);
            }
        }
    }
    CHECK(jnce_cosine_similarity_fwd(x1, x2, N, D, eps, out) == JNCE_OK, "cosine status");
    CHECK(max_error(out, want, N) <= 1e-6, "cosine N=%lld D=%lld error %g", (long long)N, (long long)D, max_error(out, want, N));
    CHECK(jnce_cosine_similarity_bwd(x1, x2, dout, N, D, eps, dx1, dx2) == JNCE_OK, "cosine_bwd status");
    CHECK(max_error(dx1, g1, N * D) <= 1e-4 && max_error(dx2, g2, N * D) <= 1e-4, "cosine_bwd N=%lld D=%lld errors %g %g",
          (long long)N, (long long)D, max_error(dx1, g1, N * D), max_error(dx2, g2, N * D));
    free(x1); free(x2); free(dout); free(out); free(dx1); free(dx2); free(want); free(g1); free(g2);
}

static void rejects_bad_arguments(void) {
    float x[4] = {1, 2, 3, 4}, y[4];
    CHECK(jnce_l2_normalize_fwd(x, 2, 2, -1.0f, y) == JNCE_ERR_INVALID_ARG, "negative eps must fail");
    CHECK(jnce_l2_normalize_fwd(x, 0, 2, 1e-12f, y) == JNCE_ERR_INVALID_ARG, "N=0 must fail");
    CHECK(jnce_cosine_similarity_fwd(x, NULL, 2, 2, 1e-8f, y) == JNCE_ERR_INVALID_ARG, "null x2 must fail");
    CHECK(jnce_sgemm(0, 0, 0, 1, 1, 1.0f, x, 1, x, 1, 0.0f, y, 1) == JNCE_ERR_INVALID_ARG, "M=0 must fail");
    char msg[256];
    jnce_last_error(msg, sizeof msg);
    CHECK(strstr(msg, "M=0") != NULL, "message names M: %s", msg);
}

int main(void) {
    srand(11);
    int64_t sizes[] = {1, 7, 33, 257};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int k = 0; k < 4; k++) gemm_case(ta, tb, sizes[k], sizes[(k + 1) % 4], sizes[(k + 2) % 4]);
    /* the direct paths: K = 1 (an outer product, over threads) and M = 1 (sgemv), with beta 0 and not */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int b = 0; b < 2; b++) {
                float beta = b ? 0.25f : 0.0f;
                gemm_case_beta(ta, tb, 600, 3000, 1, beta);
                gemm_case_beta(ta, tb, 1, 3000, 600, beta);
                gemm_case_beta(ta, tb, 1, 1, 1, beta);
                /* products small enough for the direct AVX-512 path: beta 0 over NaN, edges past 64 columns */
                gemm_case_beta(ta, tb, 20, 40, 30, beta);
                gemm_case_beta(ta, tb, 33, 70, 50, beta);
                gemm_case_beta(ta, tb, 64, 128, 64, beta);
                gemm_case_beta(ta, tb, 7, 3, 20, beta); /* C rows narrower than a 4-column tile */
            }
    int64_t dims[] = {1, 3, 8, 65, 1000};
    for (int k = 0; k < 5; k++) {
        normalize_case(6, dims[k], 1e-12f);
        cosine_case(5, dims[k]);
    }
    normalize_case(4000, 64, 1e-12f); /* enough rows for the thread pool */
    streamed_matches_plain();
    rejects_bad_arguments();
    return finish("test_similarity");
}
