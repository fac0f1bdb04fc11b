/*
 * infonce_breakdown.c - where the one-tensor InfoNCE step's time goes on the native path, phase by
 * phase, calling libjnce directly (no JVM): normalize + SYRK, the symmetric cross-entropy forward
 * only (pass 1), the same forward and backward (passes 1 and 2, G + Gᵀ in full), the gradient
 * GEMM + normalize backward; and the library's backward as the one-tensor forms run it,
 * jnce_symmetric_xent_grad (passes 1 and 2 keeping G + Gᵀ's lower part, the product by blocks)
 * + normalize backward. NT-Xent targets (i + N/2), tau 0.07, MEAN; best of REPS per phase.
 *
 *   bench/native/run.sh N D REPS            (builds this against the Maven build's libjnce.so)
 *
 * Prints two lines: N, D and the best seconds of each phase; the steps of both backward forms
 * against normalize + SYRK + GEMM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "jnce.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void keep_min(double *best, double v) {
    if (v < *best) *best = v;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: infonce_breakdown N D REPS\n");
        return 2;
    }
    const long n = atol(argv[1]), d = atol(argv[2]);
    const int reps = atoi(argv[3]);
    const char *threads = getenv("JNCE_NUM_THREADS"); /* jnce's kernels and its OpenBLAS */
    jnce_set_num_threads(threads != NULL ? atoi(threads) : 0);
    const float inv_tau = 1.0f / 0.07f;
    float *x = malloc(sizeof(float) * n * d), *f = malloc(sizeof(float) * n * d), *g = malloc(sizeof(float) * n * d);
    float *s = aligned_alloc(64, sizeof(float) * n * n), loss;
    if (x == NULL || f == NULL || g == NULL || s == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    srand(1);
    for (long k = 0; k < n * d; k++) x[k] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (long k = 0; k < n * n; k++) s[k] = 0.0f;
    double syrk = 1e9, fwd = 1e9, fwd_bwd = 1e9, gemm = 1e9, grad = 1e9, blas = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        jnce_l2_normalize_fwd(x, n, d, 1e-12f, f);
        jnce_ssyrk(n, d, inv_tau, f, d, s, n);
        double t1 = now();
        jnce_symmetric_xent_fwd_bwd(s, n, n, n / 2, 1, 0, JNCE_REDUCTION_MEAN, &loss, NULL);
        double t2 = now();
        jnce_symmetric_xent_fwd_bwd(s, n, n, n / 2, 1, 0, JNCE_REDUCTION_MEAN, &loss, s);
        double t3 = now();
        jnce_sgemm(0, 0, n, d, n, inv_tau, s, n, f, d, 0.0f, g, d);
        jnce_l2_normalize_bwd(x, g, n, d, 1e-12f, g);
        double t4 = now();
        keep_min(&syrk, t1 - t0), keep_min(&fwd, t2 - t1), keep_min(&fwd_bwd, t3 - t2), keep_min(&gemm, t4 - t3);
        jnce_ssyrk(n, d, inv_tau, f, d, s, n);
        double t5 = now();
        jnce_symmetric_xent_grad(s, n, n, n / 2, 1, 0, JNCE_REDUCTION_MEAN, &loss, inv_tau, f, d, g);
        jnce_l2_normalize_bwd(x, g, n, d, 1e-12f, g);
        double t6 = now();
        jnce_l2_normalize_fwd(x, n, d, 1e-12f, f); /* the BLAS calls alone, as the step makes them */
        jnce_ssyrk(n, d, inv_tau, f, d, s, n);
        jnce_sgemm(0, 0, n, d, n, inv_tau, s, n, f, d, 0.0f, g, d);
        double t7 = now();
        keep_min(&grad, t6 - t5), keep_min(&blas, t7 - t6);
    }
    printf("N=%ld D=%ld best of %d: normalize+syrk %.3f s, xent forward %.3f s, xent forward+backward %.3f s, "
           "gemm+normalize backward %.3f s, step %.3f s\n",
           n, d, reps, syrk, fwd, fwd_bwd, gemm, syrk + fwd_bwd + gemm);
    printf("N=%ld D=%ld best of %d: xent_grad (blocks) + normalize backward %.3f s; normalize + SYRK + GEMM %.3f s; "
           "step / those: %.3f (G + Gᵀ in full, one GEMM), %.3f (xent_grad)\n",
           n, d, reps, grad, blas, (syrk + fwd_bwd + gemm) / blas, (syrk + grad) / blas);
    free(x), free(f), free(g), free(s);
    return 0;
}
